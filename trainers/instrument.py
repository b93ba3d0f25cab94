"""Measurements of an RP policy gradient at one iterate: gradient variance (Figs 2, 5) and the loss
landscape (Fig 3) of Section 7.2 of the paper.

Both act on the h-step model value expansion (4.1) through the shared estimator
(``trainers.estimators``); nothing here unrolls a model itself. An agent describes its objective
with a ``ValueExpansion``; the trainer loop calls ``log_gradient_variance`` and ``save_landscape``.

Gradient variance (Figs 2 and 5). From the per-sample gradients ĝ_n = ∇_θ V̂(ŝ_{0,n}) of (4.2)
(their exact squared norms without forming them, or ``per_sample_grads`` where that does not
apply; see ``gradient_variance``) we report the variance of a *single-sample* gradient,
v(1) = E‖ĝ_n − E ĝ‖² = tr Cov(ĝ_n) ("total"), and v(1) / P ("mean per parameter", P = number of
policy parameters); the batch-N estimator has v(N) = v(1) / N (docs/conventions.md). All h share
the same start states and noise (common random numbers), so their variances compare directly.

Loss landscape (Fig 3). −mean_n V̂_h(ŝ_{0,n}; θ + a d₁ + b d₂) on a grid of (a, b), with d₁, d₂
random directions filter-normalised as in Li et al. (2018), "Visualizing the loss landscape of
neural nets", and the start states and noise held fixed over the grid.
"""
from __future__ import annotations

import contextlib
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils import parametrize

from trainers import estimators
from trainers.agents import frozen
from trainers.estimators import Noise, flatten_grads, mve_value, per_sample_grads

GRADVAR_FIELDS = ("step", "h", "total", "mean_per_param", "n_samples", "n_params")


@dataclass
class ValueExpansion:
    """The pieces of an agent's h-step MVE objective (4.1), in the form ``mve_value`` takes.

    ``policy`` is an nn.Module with ``forward(s, varsigma) -> (a, logp)`` (θ are its parameters);
    ``model(s, a, xi) -> s'``, ``reward(s, a) -> r``, ``critic(s, a) -> Q``, ``terminal(s) -> bool``
    are plain callables (not differentiated with respect to their own parameters here).
    ``action_noise_dim`` and ``model_noise_dim`` are the sizes of ς and ξ; ``alpha`` is the entropy
    weight (a float, the temperature's current value).
    """

    policy: nn.Module
    model: Callable
    reward: Callable
    critic: Optional[Callable]
    gamma: float
    action_noise_dim: int
    model_noise_dim: int
    alpha: float = 0.0
    terminal: Optional[Callable] = None
    modules: Sequence[nn.Module] = ()  # every module whose train/eval mode the measurement pins
    done_prob: Optional[Callable] = None  # learned termination probability (estimators.mve_value)
    model_noise: bool = True  # False: the model is unrolled deterministically (ξ = 0)

    def value_fn(self, h: int) -> Callable:
        """``(policy_callable, s0, noise) -> V̂_h`` per trajectory, the form per_sample_grads takes."""
        return lambda pol, s0, noise: mve_value(pol, self.model, self.reward, self.critic, s0, noise,
                                                h, self.gamma, self.alpha, self.terminal, self.done_prob)

    def sample_noise(self, horizon: int, n: int, generator: torch.Generator,
                     dtype: torch.dtype = torch.float32) -> Noise:
        """Standard normal ς (horizon + 1 steps) and ξ (horizon steps, zero without ``model_noise``)
        for n trajectories (RP-DP)."""
        vs = torch.randn(horizon + 1, n, self.action_noise_dim, generator=generator, dtype=dtype)
        xi = torch.randn(horizon, n, self.model_noise_dim, generator=generator, dtype=dtype)
        if not self.model_noise:
            xi = torch.zeros_like(xi)
        return Noise(vs, xi)


def value_expansion(agent) -> ValueExpansion:
    """The RP-DP objective of a ``trainers.agents.Agent`` at its current iterate: its policy, learned
    model and reward, critic (min of the twin heads), termination (as the agent's update uses it),
    γ, temperature α and model noise. Agents without a model (RP(0), DDPG) only admit h = 0."""
    model = agent.model
    term = agent.termination()
    return ValueExpansion(
        policy=agent.policy, model=model, reward=model.reward if model is not None else None,
        critic=agent.critic, gamma=agent.cfg.gamma, action_noise_dim=agent.act_dim,
        model_noise_dim=agent.obs_dim, alpha=agent.alpha, terminal=term.get("terminal"),
        modules=[m for m in (model, agent.critic) if m is not None], done_prob=term.get("done_prob"),
        model_noise=agent.cfg.model_noise)


@contextlib.contextmanager
def measuring(vx: ValueExpansion) -> Iterator[None]:
    """Eval mode for the policy and ``vx.modules``, and no weight gradients for ``vx.modules``,
    while measuring; both restored afterwards.

    Why eval mode: in train mode a spectral-normalised layer runs a power-iteration step on every
    forward pass, which would both move the agent's state and differ between the h being compared.
    """
    modules = [vx.policy, *vx.modules]
    flags = [[m.training for m in mod.modules()] for mod in modules]
    for mod in modules:
        mod.eval()
    try:
        with frozen(*vx.modules):
            yield
    finally:
        for mod, fl in zip(modules, flags):
            for m, f in zip(mod.modules(), fl):
                m.train(f)


def _has_parametrizations(module: nn.Module) -> bool:
    return any(parametrize.is_parametrized(m) for m in module.modules())


def _per_sample_matrix(vx: ValueExpansion, s0: Tensor, noise: Noise, h: int, chunk: int) -> Tensor:
    """All per-sample gradients of V̂_h as one (N, P) float64 matrix, built ``chunk`` samples at a time."""
    value_fn = vx.value_fn(h)
    blocks = [flatten_grads(per_sample_grads(vx.policy, value_fn, s0[i:i + chunk], noise.select(slice(i, i + chunk))))
              for i in range(0, s0.shape[0], chunk)]
    return torch.cat(blocks).detach().double()


@dataclass(frozen=True)
class GradVariance:
    """Single-sample variance of the RP gradient at one iterate for one h (Figs 2, 5)."""

    h: int
    total: float            # v(1) = tr Cov(ĝ_n) = E‖ĝ_n − E ĝ‖², unbiased over the N samples
    mean_per_param: float   # total / P
    n_samples: int
    n_params: int


def gradient_variance(vx: ValueExpansion, s0: Tensor, hs: Sequence[int], noise: Optional[Noise] = None,
                      generator: Optional[torch.Generator] = None) -> list[GradVariance]:
    """Variance of the per-sample RP gradient for every h in ``hs`` at the current θ.

    ``s0`` (N, d_s) are the start states (replay-buffer states for RP-DP); ``noise`` covers at least
    max(hs) model steps and defaults to fresh standard normal noise from ``generator``. For RP-DR
    pass the noise inferred from real transitions (``infer_dr_noise``).

    Uses the shared estimator's exact per-sample squared norms ("fast") when the policy has no
    parametrized layers. With spectral norm that method differentiates with respect to the
    normalised weight W/σ(W), not the trained parameter W, so there the per-sample gradients are
    formed with vmap instead.
    """
    if s0.shape[0] < 2:
        raise ValueError("a variance needs at least 2 samples")
    if noise is None:
        noise = vx.sample_noise(max(hs), s0.shape[0], generator or torch.Generator().manual_seed(0), s0.dtype)
    method = "vmap" if _has_parametrizations(vx.policy) else "fast"
    n_params = sum(p.numel() for p in vx.policy.parameters())
    out = []
    with measuring(vx):
        for h in hs:
            v = max(estimators.gradient_variance(vx.policy, vx.value_fn(int(h)), s0, noise, method).item(), 0.0)
            out.append(GradVariance(int(h), v, v / n_params, s0.shape[0], n_params))
    return out


def gradient_gram(vx: ValueExpansion, s0: Tensor, h: int, noise: Noise, chunk: int = 64) -> Tensor:
    """The Gram matrix G_nm = ĝ_n · ĝ_m (float64, N × N) of the per-sample gradients of V̂_h.

    Everything a bootstrap over samples needs: with resampling counts w, the resampled total
    variance is (Σ w_n G_nn − wᵀGw / N) / (N − 1) (``variance_from_gram``).
    """
    with measuring(vx):
        g = _per_sample_matrix(vx, s0, noise, int(h), chunk)
    return g @ g.T


def variance_from_gram(gram: Tensor, counts: Optional[Tensor] = None) -> Tensor:
    """Total variance tr Cov(ĝ_n) from a Gram matrix; with ``counts`` (B, N) of bootstrap
    resamples (each row summing to N), one value per resample."""
    n = gram.shape[0]
    if counts is None:
        counts = torch.ones(1, n, dtype=gram.dtype)
    counts = counts.to(gram.dtype)
    sq = counts @ torch.diagonal(gram)
    quad = torch.einsum("bn,nm,bm->b", counts, gram, counts) / n
    return ((sq - quad) / (n - 1)).squeeze(0)


def log_gradient_variance(vx: ValueExpansion, s0: Tensor, hs: Sequence[int], current_h: int,
                          step: int, run_dir: Optional[Path] = None, seed: int = 0) -> dict[str, float]:
    """The trainer hook for Figs 2 and 5: measure the variance for ``current_h`` and every h in
    ``hs`` at the current iterate, append one row per h to ``run_dir/gradvar.csv`` (when given), and
    return ``{"gradvar_total": …, "gradvar_mean": …}`` for the current h, to log with the metrics.

    ``seed`` and ``step`` fix the noise, so a resumed run measures what an uninterrupted one would.
    """
    all_h = sorted({int(current_h), *map(int, hs)})
    gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
    stats = gradient_variance(vx, s0, all_h, generator=gen)
    if run_dir is not None:
        path = Path(run_dir) / "gradvar.csv"
        new = not path.exists()
        with path.open("a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(GRADVAR_FIELDS)
            for st in stats:
                w.writerow([step, st.h, st.total, st.mean_per_param, st.n_samples, st.n_params])
    cur = next(st for st in stats if st.h == int(current_h))
    return {"gradvar_total": cur.total, "gradvar_mean": cur.mean_per_param}


def drop_after(run_dir: Path, step: int) -> None:
    """On resume from a checkpoint at ``step``: forget the measurements of the replaced steps
    (gradvar.csv rows and landscapes after ``step``), as the trainer does with metrics.csv."""
    path = Path(run_dir) / "gradvar.csv"
    if path.exists():
        with path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, GRADVAR_FIELDS)
            w.writeheader()
            w.writerows(rows)
    for p in (Path(run_dir) / "landscapes").glob("step*_h*.npz"):
        if int(p.name[4:].split("_")[0]) > step:
            p.unlink()
            p.with_suffix(".png").unlink(missing_ok=True)


def filter_normalised_direction(params: dict[str, Tensor], generator: torch.Generator) -> dict[str, Tensor]:
    """A Gaussian direction with every filter (row of a weight matrix) rescaled to the norm of the
    same row of θ (Li et al. 2018). Biases and other 1-D parameters get 0, as there: their scale
    is not comparable across units and they are not what the landscape is about."""
    out = {}
    for name, p in params.items():
        if p.dim() < 2:
            out[name] = torch.zeros_like(p)
            continue
        d = torch.randn(p.shape, generator=generator, dtype=p.dtype)
        rows_d = d.reshape(d.shape[0], -1)
        rows_p = p.reshape(p.shape[0], -1)
        scale = rows_p.norm(dim=1, keepdim=True) / rows_d.norm(dim=1, keepdim=True).clamp_min(1e-12)
        out[name] = (rows_d * scale).reshape(p.shape)
    return out


@torch.no_grad()
def loss_landscape(vx: ValueExpansion, s0: Tensor, h: int, noise: Optional[Noise] = None,
                   n_grid: int = 21, span: float = 1.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Fig 3: the negative h-step value estimate −mean_n V̂_h on an n_grid × n_grid grid of
    θ + a d₁ + b d₂, a, b ∈ [−span, span], with fixed start states and noise.

    Returns arrays ``a`` (n_grid,), ``b`` (n_grid,), ``loss`` (n_grid, n_grid) indexed [i_b, i_a],
    and ``h``. Non-finite values (an unroll that overflowed) are kept as inf/nan, not clipped.
    """
    gen = torch.Generator().manual_seed(seed)
    if noise is None:
        noise = vx.sample_noise(h, s0.shape[0], gen, s0.dtype)
    theta = {k: v.detach() for k, v in vx.policy.named_parameters()}
    d1 = filter_normalised_direction(theta, gen)
    d2 = filter_normalised_direction(theta, gen)
    grid = np.linspace(-span, span, n_grid)
    loss = np.empty((n_grid, n_grid))
    value_fn = vx.value_fn(h)
    with measuring(vx):
        for i, b in enumerate(grid):
            for j, a in enumerate(grid):
                p = {k: theta[k] + a * d1[k] + b * d2[k] for k in theta}
                pol = lambda s, vs, p=p: functional_call(vx.policy, p, (s, vs))
                loss[i, j] = -float(value_fn(pol, s0, noise).mean())
    return {"a": grid, "b": grid.copy(), "loss": loss, "h": np.array(h)}


def plot_landscape(data: dict[str, np.ndarray], png: Path, title: str = "") -> None:
    """Contour (left) and surface (right) of a landscape from ``loss_landscape``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    A, B = np.meshgrid(data["a"], data["b"])
    z = np.where(np.isfinite(data["loss"]), data["loss"], np.nan)
    fig = plt.figure(figsize=(10, 4.2))
    ax = fig.add_subplot(1, 2, 1)
    cs = ax.contourf(A, B, z, levels=30, cmap="viridis")
    fig.colorbar(cs, ax=ax, label="−V̂_h")
    ax.plot(0, 0, "r+", ms=10)
    ax.set_xlabel("d₁")
    ax.set_ylabel("d₂")
    ax3 = fig.add_subplot(1, 2, 2, projection="3d")
    ax3.plot_surface(A, B, z, cmap="viridis", linewidth=0)
    ax3.set_xlabel("d₁")
    ax3.set_ylabel("d₂")
    fig.suptitle(title or f"loss landscape, h = {int(data['h'])}")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def save_landscape(vx: ValueExpansion, s0: Tensor, path: Path, h: int, step: int = 0,
                   n_grid: int = 21, span: float = 1.0, seed: int = 0) -> Path:
    """The trainer hook for Fig 3: compute the landscape at the current θ and write
    ``path`` (.npz with a, b, loss, h, step) and the same name with .png. Returns the .npz path."""
    path = Path(path).with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    data = loss_landscape(vx, s0, h, n_grid=n_grid, span=span, seed=seed)
    np.savez(path, step=np.array(step), **data)
    plot_landscape(data, path.with_suffix(".png"), f"−V̂_h, h = {h}, step {step}")
    return path


def landscape_path(run_dir: Path, step: int, h: int) -> Path:
    """Where a run keeps its landscapes; ``trainers.figures`` reads them from here."""
    return Path(run_dir) / "landscapes" / f"step{step:09d}_h{h}.npz"
