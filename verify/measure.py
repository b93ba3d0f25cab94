"""Monte Carlo measurement of the RP gradient estimators against the truth of a toy MDP.

For a toy MDP (``toy_mdps``: policy, model f̂, critic Q̂, samplers, true ∇J) and (h, β, N), draw M
independent per-sample gradients ĝ_m of (4.2) (RP-DP) or (4.5) (RP-DR) and report

- the mean E ĝ (the same for every batch size N),
- the bias b = ‖∇J − E ĝ‖ with a two-sided interval,
- the variance v(N) = E‖ĝ − E ĝ‖² of the batch-N estimator, v(N) = v(1)/N, with bounds,
- the realised ε_f (4.7), ε_v (4.8) under both readings, and κ (5.2), where the toy defines them.

Intervals (``verify.stats``, the one implementation; each two-sided at ``level``):

- bias: ``stats.norm_of_mean_ci``, the Bonferroni box of per-coordinate CLT intervals for E ĝ; an
  error half-width of an estimated ∇J (``true_grad_error``) widens both limits by the triangle
  inequality.
- variance: ``stats.variance_ci``, BCa bootstrap of the unbiased trace-of-covariance estimator, or
  no interval (0, ∞) when the tail check finds the estimate resting on a few samples.

Everything is driven by one ``seed`` and is deterministic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import Tensor

from trainers.estimators import (Noise, flatten_grads, infer_dr_noise, mve_value, per_sample_grads,
                                 sample_start_states)
from verify import stats


@dataclass(frozen=True)
class Bound:
    """A point estimate with a two-sided interval [lower, upper] at ``level``."""

    estimate: float
    lower: float
    upper: float
    level: float
    method: str


@dataclass(frozen=True)
class Measurement:
    """The statistics of one (toy, h, β, estimator) at batch size ``batch_size``."""

    h: float
    beta: float
    estimator: str
    batch_size: int
    n_samples: int
    mean: Tensor
    true_grad: Tensor
    bias: Bound
    variance: Bound
    variance_one: Bound
    errors: dict = field(default_factory=dict)


def value_fn(problem, h: float):
    """The per-trajectory value (4.1) with the toy's model, reward and critic, in the form
    ``value(policy, s0, noise)`` that ``per_sample_grads`` and ``per_sample_sq_norms`` take."""
    critic = None if math.isinf(h) else problem.critic
    return partial(_value, model=problem.model, reward=problem.reward, critic=critic, h=h,
                   gamma=problem.gamma)


def _value(policy, s0, noise, model, reward, critic, h, gamma):
    return mve_value(policy, model, reward, critic, s0, noise, h, gamma)


def estimator_inputs(problem, h: float, beta: float, n: int, generator: torch.Generator,
                     estimator: str = "dp", horizon_inf: int = 200) -> tuple[Tensor, Noise]:
    """Start states from μ = βν + (1 − β)ζ and the noise of n estimator samples.

    "dp" (4.2): ς, ξ drawn from their distributions. "dr" (4.5): a real trajectory of the true MDP
    is drawn with that noise and the noise is re-inferred under f̂ and π, so that the model rollout
    reproduces it. h = ∞ unrolls ``horizon_inf`` steps.
    """
    steps = horizon_inf if math.isinf(h) else int(h)
    s0 = sample_start_states(beta, problem.sample_nu, problem.sample_zeta, n, generator)
    noise = problem.sample_noise(steps, n, generator)
    if estimator == "dr":
        states, actions = problem.rollout(s0, noise)
        noise = infer_dr_noise(problem.policy.infer_varsigma, problem.model.infer_xi, states, actions)
    elif estimator != "dp":
        raise ValueError(f"unknown estimator {estimator!r}")
    return s0, noise


def sample_gradients(problem, h: float, beta: float, n_samples: int, estimator: str = "dp",
                     seed: int = 0, chunk: int = 4096, horizon_inf: int = 200) -> Tensor:
    """M = ``n_samples`` independent per-sample gradients ĝ_m, shape (M, P), vectorised."""
    g = torch.Generator().manual_seed(seed)
    fn = value_fn(problem, h)
    out = []
    for start in range(0, n_samples, chunk):
        s0, noise = estimator_inputs(problem, h, beta, min(chunk, n_samples - start), g, estimator, horizon_inf)
        out.append(flatten_grads(per_sample_grads(problem.policy, fn, s0, noise)))
    return torch.cat(out)


def bias_bound(grads: Tensor, true_grad: Tensor, level: float = 0.95, true_grad_error: float = 0.0) -> Bound:
    """b = ‖∇J − E ĝ‖ from M per-sample gradients (``stats.norm_of_mean_ci``)."""
    b, lo, hi = stats.norm_of_mean_ci(grads.detach().numpy(), true_grad.detach().numpy(), level)
    return Bound(estimate=b, lower=max(0.0, lo - true_grad_error), upper=hi + true_grad_error, level=level,
                 method="Bonferroni per-coordinate normal box")


def variance_bound(grads: Tensor, level: float = 0.95, seed: int = 0, n_boot: int = stats.N_RESAMPLES) -> Bound:
    """v(1) = E‖ĝ − E ĝ‖² from M per-sample gradients (``stats.variance_ci``, ``n_boot`` resamples)."""
    v, lo, hi, tail = stats.variance_ci(grads.detach().numpy(), level, seed, n_boot)
    method = "BCa bootstrap" if math.isfinite(hi) else f"no interval: heavy tail ({tail.describe()})"
    return Bound(estimate=v, lower=lo, upper=hi, level=level, method=method)


def scale(bound: Bound, factor: float) -> Bound:
    """The bound of ``factor`` times the quantity (e.g. v(N) = v(1)/N)."""
    return Bound(bound.estimate * factor, bound.lower * factor, bound.upper * factor, bound.level, bound.method)


def realised_errors(problem, h: float, n: int = 20000, seed: int = 0) -> dict:
    """ε_f (4.7), ε_v (4.8) under the coupled and independent readings (ŝ following f̂), and κ (5.2)
    with its upper bound, where the toy defines them; absent entries are None."""
    out = {"eps_f": problem.eps_f() if hasattr(problem, "eps_f") else None,
           "eps_v_coupled": None, "eps_v_independent": None, "kappa": None, "kappa_upper": None}
    if hasattr(problem, "eps_v") and not math.isinf(h) and problem.critic is not None:
        for reading in ("coupled", "independent"):
            out[f"eps_v_{reading}"] = problem.eps_v(problem.critic, int(h), reading, n=n, seed=seed)[0]
    if getattr(problem, "noise_kind", None) == "gaussian" and hasattr(problem, "kappa"):
        out["kappa"], out["kappa_upper"] = problem.kappa(n, seed)
    else:
        out["kappa_upper"] = 1 / math.sqrt(1 - problem.gamma)
    return out


def measure(problem, h: float, beta: float, batch_size: int, n_samples: int = 20000,
            estimator: str = "dp", level: float = 0.95, seed: int = 0, horizon_inf: int = 200) -> Measurement:
    """Mean, bias and variance (with bounds) of the batch-``batch_size`` estimator, and the
    realised ε_f, ε_v, κ. ``problem.true_grad()`` is ∇J; a toy whose ∇J is itself estimated
    exposes ``true_grad_error`` (a half-width at ``level``), which widens the bias bounds."""
    grads = sample_gradients(problem, h, beta, n_samples, estimator, seed, horizon_inf=horizon_inf)
    true_grad = problem.true_grad()
    var_one = variance_bound(grads, level, seed=seed)
    return Measurement(
        h=h, beta=beta, estimator=estimator, batch_size=batch_size, n_samples=n_samples,
        mean=grads.mean(0), true_grad=true_grad,
        bias=bias_bound(grads, true_grad, level, getattr(problem, "true_grad_error", 0.0)),
        variance=scale(var_one, 1 / batch_size), variance_one=var_one,
        errors=realised_errors(problem, h, seed=seed))
