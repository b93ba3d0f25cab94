"""The variance chain (C.7)–(C.16) and the bias chain (C.17)–(C.24), term by term, on scalar LQRs.

Instances: ``lqr-contracting`` (L_f̂, L_π < 1) and ``lqr-lipschitz>1`` (L_f̂, L_π > 1) of
``verify.instances``, θ = K. Their certified constants (``LQR.lipschitz``: L_r, L_Q, L_Q̂, L_θ on
the invariant domain) enter the bounds. Per-trajectory pathwise derivatives dŝ_i/dθ, dâ_i/dθ are
exact (``trainers.estimators.trajectory_jacobians``); the gradients of r and Q̂ are the closed forms
of the quadratic reward and critic. The scalar case makes every spectral norm an absolute value.

Variance chain (proof of Prop 5.4). N model trajectories from ζ; x̄ = the sampled trajectory whose
gradient g maximises ‖g − E ĝ‖ (the proof's maximiser, over the sample); expectations are sample
means. Each line is checked as printed (with K̂ of (C.13)), corrected (with K̂_c) and, where the
paper's right side has measured quantities only, in its explicit form.

Bias chain (proof of Prop 5.8). The model Â = A + ε (so ε_f = ε exactly under both readings of
(4.7)) and the critic Q^π perturbed by δ (``LQR.critic_with_error``); N start states from ν, the
true trajectory under f and the model trajectory under f̂ from the same start state and noise
(the coupled reading, which is the estimator RP-DP's own coupling); ε_v is measured under the same
coupling. b_t is the Monte Carlo bias of RP-DP with μ = ζ (β = 0), so κ' = κ.
"""
from __future__ import annotations

import dataclasses
import math
from functools import lru_cache

import numpy as np
import torch

from bounds import bias as BB
from bounds import variance as BV
from toy_mdps.lqr import LQR
from trainers.estimators import trajectory_jacobians
from verify import instances, measure, stats
from verify.appendix_c.derivatives_c9_c13 import bound_at
from verify.verdict import CheckResult

LEVEL = stats.LEVEL
INSTANCES = ("lqr-contracting", "lqr-lipschitz>1")
H_VAR = (1, 3, 10)
H_BIAS = (1, 3)
EPS_MODEL = 0.1
DELTA_CRITIC = 0.5


class _Inst:
    """Wrapper giving ``bound_at`` the ``consts()`` it expects."""

    def __init__(self, params: dict):
        self.params = params

    def consts(self):
        return {k: self.params[k] for k in ("L_f", "L_pi", "L_theta")}


def _bound(key, fn, params, steps, **extra):
    return bound_at(key, fn, _Inst(params), np.asarray(steps, float),
                    **{k: params[k] for k in ("e",) if k in params}, **extra)


@lru_cache(maxsize=None)
def paths(problem_key: tuple, horizon: int, n: int, seed: int, start: str, model: str) -> dict:
    """``sample_paths`` of the named problem (``problem(*problem_key)``), cached."""
    return sample_paths(problem(*problem_key), horizon, n, seed, start, model)


def sample_paths(p: LQR, horizon: int, n: int, seed: int, start: str, model: str) -> dict:
    """States, actions, dŝ_i/dθ, dâ_i/dθ (scalars, shape (N, H+1)) of N trajectories of π under the
    model (``model="hat"``) or the true dynamics (``"true"``); start states from ζ or ν. The same
    ``seed`` draws the same start states and noise for both models (the coupled reading)."""
    g = torch.Generator().manual_seed(seed)
    s0 = p.sample_zeta(n, g) if start == "zeta" else p.sample_nu(n, g)
    noise = p.sample_noise(horizon, n, g)
    return rollout_paths(p, p.model if model == "hat" else p.true_model, s0, noise, horizon)


def rollout_paths(p: LQR, f, s0, noise, horizon: int) -> dict:
    """States, actions and exact pathwise derivatives (``trajectory_jacobians``) of π under ``f``
    from ``s0`` with ``noise``, as arrays (N, H+1)."""
    ds, da = trajectory_jacobians(p.policy, f, s0, noise, horizon)
    S, Act = p.rollout(s0, noise, f)
    sq = lambda x: x.reshape(x.shape[0], x.shape[1]).T.numpy()  # (H+1, N, 1[, 1]) -> (N, H+1)
    return {"s": sq(S), "a": sq(Act), "ds": sq(ds), "da": sq(da)}


@lru_cache(maxsize=None)
def problem(name: str, eps_model: float = 0.0, delta_critic: float = 0.0) -> LQR:
    """The named LQR with Â = A + ``eps_model`` and Q̂ = Q^π perturbed by ``delta_critic``."""
    _, kwargs, _ = instances.SPECS[name]
    return LQR.with_errors(**kwargs, model_error=eps_model, critic_error=delta_critic)


def params(name: str, eps_model: float = 0.0, delta_critic: float = 0.0) -> dict:
    return constants(problem(name, eps_model, delta_critic))


def constants(p: LQR) -> dict:
    """The bound parameters of the chains on ``p``: its certified constants, L_Q of Q^π, L_Q̂ of its
    critic and ε_f exact."""
    lip = p.lipschitz(p.critic)
    return instances.bound_params(p, L_Q=p.lipschitz().L_Q, L_Qhat=lip.L_Qhat, eps_f=p.eps_f())


def grad_r(p: LQR, s, a):
    """(∂r/∂s, ∂r/∂a) of r = −(R_s s² + R_a a²), scalar."""
    return -2 * float(p.Rs[0, 0]) * s, -2 * float(p.Ra[0, 0]) * a


def grad_q(critic, s, a):
    gs, ga = critic.grad(torch.as_tensor(s)[..., None], torch.as_tensor(a)[..., None])
    return gs[..., 0].numpy(), ga[..., 0].numpy()


def _row(claim, form, line, name, left, ci, right, note="", **more) -> CheckResult:
    return CheckResult(claim, form, {"mdp": name, **instances.SPECS[name][1], "line": line, **more},
                       float(left), (float(ci[0]), float(ci[1])), float(right), level=LEVEL, note=note)


#: relative slack on the right side of exact rows: steps that can be equalities (Jensen on a
#: one-signed sample) must not turn on float rounding
EXACT_SLACK = 1e-12


def _exact(claim, form, line, name, left, right, note="", **more) -> CheckResult:
    return _row(claim, form, line, name, left, (left, left), right * (1 + EXACT_SLACK), note=note, **more)


def k_hat(c: dict, steps: np.ndarray, corrected: bool) -> np.ndarray:
    """K̂(i) of (C.13), or K̂_c(i) where ``corrected``, at ``steps`` for the constants ``c``."""
    if corrected:
        return _bound("K_hat_corrected", BV.K_hat_corrected, c, steps)
    return _bound("K_hat", BV.K_hat, c, steps)


def _dev(t: dict) -> np.ndarray:
    """dev_i = E‖dŝ_i/dθ − ds̄_i/dθ‖ + E‖dâ_i/dθ − dā_i/dθ‖ (x̄ the maximiser, or the true trajectory in the
    bias chain): the deviation in every K̂ line of both chains."""
    return t["dev_s"] + t["dev_a"]


def _worst(left: np.ndarray, right: np.ndarray, first: int = 0) -> tuple[float, float, int]:
    """(left_i, right_i, i) at the step i with the largest left_i / right_i; both arrays start at step ``first``."""
    k = int(np.argmax(left / right))
    return left[k], right[k], k + first


# --- variance chain ------------------------------------------------------------------------------

VAR_N = {True: 2000, False: 20000}


@lru_cache(maxsize=None)
def variance_terms(name: str, h: int, quick: bool) -> dict:
    """Every quantity of (C.7)–(C.16) at expansion step h, from N model trajectories from ζ.

    g_n = Σ_{i<h} γ^i ∇r(x̂_i)·dx̂_i/dθ + γ^h ∇Q̂(x̂_h)·dx̂_h/dθ (the per-sample (4.2));
    ``dev_s[i]``, ``dev_a[i]`` = E‖dŝ_i/dθ − ds̄_i/dθ‖, E‖dâ_i/dθ − dā_i/dθ‖ against the maximiser x̄;
    ``r_term[i]`` = E‖∇_θ r(x̂_i) − ∇_θ r(x̄_i)‖, ``q_term`` = E‖∇Q̂ dx̂_h − ∇Q̂(x̄_h) dx̄_h‖.
    """
    return chain_terms(problem(name), paths((name, 0.0, 0.0), h, VAR_N[quick], 31 + h, "zeta", "hat"), h)


def chain_terms(p: LQR, t: dict, h: int) -> dict:
    """The quantities of ``variance_terms`` from the model paths ``t`` (``rollout_paths``) of ``p``."""
    rs, ra = grad_r(p, t["s"], t["a"])
    qs, qa = grad_q(p.critic, t["s"][:, h], t["a"][:, h])
    disc = p.gamma ** np.arange(h)
    r_theta = rs * t["ds"] + ra * t["da"]  # ∇_θ r(x̂_i), (N, H+1)
    q_theta = qs * t["ds"][:, h] + qa * t["da"][:, h]
    g = (disc * r_theta[:, :h]).sum(1) + p.gamma ** h * q_theta
    k = int(np.argmax(np.abs(g - g.mean())))
    return {"g": g, "k": k, "r_theta": r_theta, "q_theta": q_theta,
            "dev_s": np.abs(t["ds"] - t["ds"][k]).mean(0), "dev_a": np.abs(t["da"] - t["da"][k]).mean(0),
            "r_term": np.abs(r_theta - r_theta[k]).mean(0), "q_term": float(np.abs(q_theta - q_theta[k]).mean()),
            "x_norm": np.sqrt(t["ds"] ** 2 + t["da"] ** 2).max(0), "a_norm": np.abs(t["da"]).max(0), "gamma": p.gamma}


# The lines that can fail, from the terms ``t`` of ``chain_terms`` (variance) or ``bias_chain_terms``
# (bias), the constants ``c`` and K = K̂, K̂_c or the measured max_n‖dx̂_i/dθ‖ at steps 0..h; the search's
# ``lqr-chain`` family (``verify.search_families``) reads the same functions on its instances.

def c14(c: dict, t: dict, K: np.ndarray, h: int) -> tuple[float, float]:
    """Eq. (C.14): (E‖∇Q̂ dx̂_h − ∇Q̂(x̄_h) dx̄_h‖, L_Q̂(dev_h + 2K(h)))."""
    return t["q_term"], c["L_Qhat"] * (_dev(t)[h] + 2 * K[h])


def c15(c: dict, t: dict, K: np.ndarray, h: int) -> tuple[float, float, int]:
    """Eq. (C.15) at its worst i < h: (E‖∇_θr(x̂_i) − ∇_θr(x̄_i)‖, L_r dev_i + 2L_r K(i), i)."""
    return _worst(t["r_term"][:h], (c["L_r"] * _dev(t) + 2 * c["L_r"] * K)[:h])


def c16(c: dict, t: dict, K: np.ndarray, h: int) -> float:
    """Eq. (C.16), first line: the bound ((h L_r + γ^h L_Q̂)(dev_h + 2K(h)))² on v."""
    return ((h * c["L_r"] + t["gamma"] ** h * c["L_Qhat"]) * (_dev(t)[h] + 2 * K[h])) ** 2


def c16_collapse(c: dict, t: dict, K: np.ndarray, h: int) -> tuple[float, float]:
    """(Σ_{i<h} γ^i L_r(dev_i + 2K_i) + γ^h L_Q̂(dev_h + 2K_h), (h L_r + γ^h L_Q̂)(dev_h + 2K_h)): the two sides
    of the step from (C.14)–(C.15) to the first line of (C.16)."""
    dev, gam = _dev(t), t["gamma"]
    summed = float((gam ** np.arange(h) * (c["L_r"] * dev[:h] + 2 * c["L_r"] * K[:h])).sum()
                   + gam ** h * c["L_Qhat"] * (dev[h] + 2 * K[h]))
    return summed, (h * c["L_r"] + gam ** h * c["L_Qhat"]) * float(dev[h] + 2 * K[h])


def c17(c: dict, t: dict) -> tuple[float, float, int]:
    """Eq. (C.17), Lemma C.1's recursion with the measured inputs at i − 1, at its worst i of 1..h:
    (E‖dâ_i − dā_i‖, 4L_fL_π max‖dâ_{i−1}‖ + L_πL_f E‖dâ_{i−1} − dā_{i−1}‖ + 2L_θ, i)."""
    rhs = 4 * c["L_f"] * c["L_pi"] * t["a_norm"][:-1] + c["L_pi"] * c["L_f"] * t["dev_a"][:-1] + 2 * c["L_theta"]
    return _worst(t["dev_a"][1:], rhs, 1)


def variance_results(quick: bool) -> list[CheckResult]:
    out = []
    for name in INSTANCES:
        c = params(name)
        for h in H_VAR:
            t = variance_terms(name, h, quick)
            g, k, gam = t["g"], t["k"], t["gamma"]
            n = len(g)
            v, v_lo, v_hi, _ = stats.variance_ci(g, LEVEL)
            mx = float((g[k] - g.mean()) ** 2)
            jensen_l, jensen_r = float((g[k] - g).mean() ** 2), float(np.abs(g[k] - g).mean() ** 2)
            c8_r = float((gam ** np.arange(h) * t["r_term"][:h]).sum() + gam ** h * t["q_term"])
            steps = np.arange(h + 1, dtype=float)
            K_p, K_c = k_hat(c, steps, False), k_hat(c, steps, True)
            extra = dict(h=h, N=n)
            note = f"{n} model trajectories from ζ; x̄ = sampled maximiser of ‖g − E ĝ‖ (trajectory {k})"
            out += [
                _row("C.7", "explicit", "v ≤ max_{g'} ‖g' − E ĝ‖² (max over the sample)", name, v, (v_lo, v_hi), mx,
                     note=note, **extra),
                _exact("C.7", "explicit", "‖E[g − ĝ]‖² ≤ (E‖g − ĝ‖)² (C.6)", name, jensen_l, jensen_r, note=note, **extra),
                _exact("C.8", "explicit", "E‖g − ĝ‖ ≤ Σ_{i<h} γ^i E‖∇_θr(x̂_i) − ∇_θr(x̄_i)‖ + γ^h E‖∇Q̂ dx̂_h − ∇Q̂(x̄_h) dx̄_h‖",
                       name, float(np.abs(g[k] - g).mean()), c8_r, note=note, **extra),
            ]
            for form, K, tag in (("printed", K_p, "K̂(i) of (C.13)"), ("corrected", K_c, "K̂_c(i)"),
                                 ("explicit", t["x_norm"], "max_n ‖dx̂_i/dθ‖ (measured)")):
                left, right, i15 = c15(c, t, K, h)
                out.append(_exact("C.15", form, f"E‖∇_θr(x̂_i) − ∇_θr(x̄_i)‖ ≤ L_r(E‖dŝ_i − ds̄_i‖ + E‖dâ_i − dā_i‖) + 2L_r·{tag}",
                                  name, left, right, note=note + f"; worst i of 0..{h - 1}", i=i15, **extra))
                out.append(_exact("C.14", form, f"E‖∇Q̂ dx̂_h − ∇Q̂(x̄_h) dx̄_h‖ ≤ 2L_Q̂·{tag}(h) + L_Q̂(E‖dŝ_h − ds̄_h‖ + E‖dâ_h − dā_h‖)",
                                  name, *c14(c, t, K, h), note=note, **extra))
                out.append(_row("C.16", form, f"v ≤ ((h L_r + γ^h L_Q̂)(E‖dŝ_h − ds̄_h‖ + E‖dâ_h − dā_h‖ + 2·{tag}(h)))² (first line)",
                                name, v, (v_lo, v_hi), c16(c, t, K, h), note=note, **extra))
            left, right, i17 = c17(c, t)
            out.append(_exact("C.17", "printed", "E‖dâ_i − dā_i‖ ≤ 4L_fL_π max‖dâ_{i−1}‖ + L_πL_f E‖dâ_{i−1} − dā_{i−1}‖ + 2L_θ",
                              name, left, right, note=note, i=i17, **extra))
            # the collapse Σ_{i<h} γ^i (C.15)_i + γ^h (C.14) ≤ (h L_r + γ^h L_Q̂)(dev_h + 2K̂(h)) with the
            # paper's K̂(i) of (C.13) (increasing in i) and with K̂_c; dev_i measured, as the first line has them
            for form, K, tag in (("printed", K_p, "K̂ of (C.13)"), ("corrected", K_c, "K̂_c")):
                out.append(_exact("C.16", form, f"Σ_{{i<h}} γ^i(C.15)_i + γ^h(C.14) ≤ (h L_r + γ^h L_Q̂)(dev_h + 2{tag}(h)) (collapse to step h)",
                                  name, *c16_collapse(c, t, K, h), note=note, **extra))
    return out


# --- bias chain ----------------------------------------------------------------------------------

BIAS_N = {True: 2000, False: 20000}


@lru_cache(maxsize=None)
def bias_terms(name: str, h: int, quick: bool, eps_model: float = EPS_MODEL, delta: float = DELTA_CRITIC) -> dict:
    """The quantities of (C.19)–(C.24): model and true trajectories from the same s_0 ∼ ν and noise.

    ``dev_a[i]``, ``dev_s[i]`` = E‖dâ_i/dθ − da_i/dθ‖, E‖dŝ_i/dθ − ds_i/dθ‖ (per trajectory in
    ``dev_a_n``, ``dev_s_n``, for intervals); ``ahat_max[i]`` =
    max_n ‖dâ_{i,n}/dθ‖; ``r_term[i]`` = E‖dr(x̂_i)/dθ − dr(x_i)/dθ‖; ``q_term`` = E‖∇Q(x_h)dx_h −
    ∇Q̂(x̂_h)dx̂_h‖; ``eps_v`` = E[‖∂Q/∂s − ∂Q̂/∂ŝ‖ + ‖∂Q/∂a − ∂Q̂/∂â‖] at step h (coupled)."""
    key, n = (name, eps_model, delta), BIAS_N[quick]
    return bias_chain_terms(problem(name, eps_model, delta), paths(key, h, n, 57 + h, "nu", "hat"),
                            paths(key, h, n, 57 + h, "nu", "true"), h)


def bias_chain_terms(p: LQR, hat: dict, tru: dict, h: int) -> dict:
    """The quantities of ``bias_terms`` from coupled model and true paths (``rollout_paths``) of ``p``."""
    rs_h, ra_h = grad_r(p, hat["s"], hat["a"])
    rs, ra = grad_r(p, tru["s"], tru["a"])
    r_term = np.abs(rs_h * hat["ds"] + ra_h * hat["da"] - rs * tru["ds"] - ra * tru["da"]).mean(0)
    Qs, Qa = p.dQ(torch.as_tensor(tru["s"][:, h])[:, None], torch.as_tensor(tru["a"][:, h])[:, None])
    Qs, Qa = Qs[:, 0].numpy(), Qa[:, 0].numpy()
    qs, qa = grad_q(p.critic, hat["s"][:, h], hat["a"][:, h])
    q_term = float(np.abs(Qs * tru["ds"][:, h] + Qa * tru["da"][:, h] - qs * hat["ds"][:, h] - qa * hat["da"][:, h]).mean())
    eps_v = float((np.abs(Qs - qs) + np.abs(Qa - qa)).mean())
    dev_a_n, dev_s_n = np.abs(hat["da"] - tru["da"]), np.abs(hat["ds"] - tru["ds"])
    return {"dev_a": dev_a_n.mean(0), "dev_s": dev_s_n.mean(0), "dev_a_n": dev_a_n, "dev_s_n": dev_s_n,
            "ahat_max": np.abs(hat["da"]).max(0), "x_norm": np.sqrt(hat["ds"] ** 2 + hat["da"] ** 2).max(0),
            "r_term": r_term, "q_term": q_term, "eps_v": eps_v, "gamma": p.gamma, "n": len(hat["s"])}


def c19(c: dict, t: dict) -> tuple[float, float, int]:
    """Eq. (C.19), the recursion with the measured inputs at i − 1, at its worst i of 1..h:
    (E‖dâ_i − da_i‖, L_π(2L_f + ε_f) max‖dâ_{i−1}‖ + L_πL_f E‖dâ_{i−1} − da_{i−1}‖ + 2L_θ, i)."""
    rhs = (c["L_pi"] * (2 * c["L_f"] + c["eps_f"]) * t["ahat_max"][:-1] + c["L_pi"] * c["L_f"] * t["dev_a"][:-1]
           + 2 * c["L_theta"])
    return _worst(t["dev_a"][1:], rhs, 1)


#: (claim, corrected) -> the right side of (C.20) (actions) or (C.21) (states), as printed or corrected
C20_C21 = {("C.20", False): BB.c20, ("C.20", True): BB.c20_corrected,
           ("C.21", False): BB.c21, ("C.21", True): BB.c21_corrected}


def c20_c21(claim: str, c: dict, h: int, corrected: bool) -> float:
    """Eq. (C.20) or (C.21) at step h: a right side of constants only (its left side is a mean over
    trajectories, ``dev_a_n``, ``dev_s_n``, with its CLT interval)."""
    fn = C20_C21[claim, corrected]
    return _bound(fn.__name__, fn, c, np.arange(h + 1, dtype=float), eps_f=c["eps_f"])[h]


def c22(c: dict, t: dict, K: np.ndarray, h: int) -> tuple[float, float, int]:
    """Eq. (C.22) at its worst i < h: (E‖dr(x̂_i)/dθ − dr(x_i)/dθ‖, 2L_r K(i) + L_r dev_i, i)."""
    return _worst(t["r_term"][:h], (2 * c["L_r"] * K + c["L_r"] * _dev(t))[:h])


def c23(c: dict, t: dict, K: np.ndarray, h: int) -> tuple[float, float]:
    """Eq. (C.23): (γ^h E‖∇Q dx_h − ∇Q̂ dx̂_h‖, γ^h (L_Q dev_h + K(h) ε_v))."""
    g = t["gamma"] ** h
    return g * t["q_term"], g * (c["L_Q"] * _dev(t)[h] + K[h] * t["eps_v"])


def c24(c: dict, t: dict, K: np.ndarray, h: int) -> float:
    """Eq. (C.24), first line with β = 0 and κ = κ' = (1 − γ)^{-1/2}: the bound
    κκ' h (L_r dev_h + 2L_r K(h)) + κ' γ^h (L_Q dev_h + K(h) ε_v) on b_t."""
    kappa, dev = 1 / math.sqrt(1 - c["gamma"]), _dev(t)
    return (kappa ** 2 * h * (c["L_r"] * dev[h] + 2 * c["L_r"] * K[h])
            + kappa * t["gamma"] ** h * (c["L_Q"] * dev[h] + K[h] * t["eps_v"]))


@lru_cache(maxsize=None)
def bias_mc(name: str, h: int, quick: bool, eps_model: float = EPS_MODEL, delta: float = DELTA_CRITIC):
    """(b, low, high) of RP-DP (4.2) with μ = ζ on the perturbed problem (CI at LEVEL)."""
    p = problem(name, eps_model, delta)
    g = measure.sample_gradients(p, h, 0.0, BIAS_N[quick], "dp", seed=71 + h).numpy()
    return stats.norm_of_mean_ci(g, p.true_grad().numpy(), LEVEL)


def bias_results(quick: bool) -> list[CheckResult]:
    out = []
    for name in INSTANCES:
        c = params(name, EPS_MODEL, DELTA_CRITIC)
        for h in H_BIAS:
            t = bias_terms(name, h, quick)
            steps = np.arange(h + 1, dtype=float)
            extra = dict(h=h, eps_f=round(c["eps_f"], 6), eps_v=round(t["eps_v"], 6), delta_critic=DELTA_CRITIC)
            note = f"{t['n']} start states from ν; model and true trajectory coupled (same s_0, same noise)"
            left, right, i19 = c19(c, t)
            out.append(_exact("C.19", "printed", "E‖dâ_i − da_i‖ ≤ L_π(2L_f + ε_f) max‖dâ_{i−1}‖ + L_πL_f E‖dâ_{i−1} − da_{i−1}‖ + 2L_θ",
                              name, left, right, note=note, i=i19, **extra))
            kappa = 1 / math.sqrt(1 - c["gamma"])
            for form in ("printed", "corrected"):
                corrected = form == "corrected"
                K = k_hat(c, steps, corrected)
                for claim, what, dev in (("C.20", "E‖dâ_h − da_h‖ ≤ (C.20)(h)", t["dev_a_n"][:, h]),
                                         ("C.21", "E‖dŝ_h − ds_h‖ ≤ (C.21)(h)", t["dev_s_n"][:, h])):
                    mean, lo, hi = stats.mean_ci(dev, LEVEL)
                    out.append(_row(claim, form, what, name, mean, (lo, hi), c20_c21(claim, c, h, corrected), note=note,
                                    **extra))
                left, right, i22 = c22(c, t, K, h)
                out.append(_exact("C.22", form, "E‖dr(x̂_i)/dθ − dr(x_i)/dθ‖ ≤ 2L_r K̂(i) + L_r(E‖dŝ_i − ds_i‖ + E‖dâ_i − da_i‖)",
                                  name, left, right, note=note + f"; worst i of 0..{h - 1}", i=i22, **extra))
                out.append(_exact("C.23", form, "γ^h E‖∇Q dx_h − ∇Q̂ dx̂_h‖ ≤ γ^h L_Q(E‖dŝ_h − ds_h‖ + E‖dâ_h − da_h‖) + γ^h K̂(h) ε_v",
                                  name, *c23(c, t, K, h), note=note, **extra))
                b, lo, hi = bias_mc(name, h, quick)
                out.append(_row("C.24", form, "b_t ≤ κκ' h (L_r dev_h + 2L_r K̂(h)) + κ' γ^h (L_Q dev_h + K̂(h) ε_v) (first line, β = 0)",
                                name, b, (lo, hi), c24(c, t, K, h),
                                note=note + f"; κ = κ' = (1 − γ)^{{-1/2}} = {kappa:.4g}", **extra))
    return out


#: lines of the variance chain that are algebraic truths of the sample they are evaluated on: the
#: maximum of a sample bounds its mean (C.7), Jensen's inequality (C.6) on sample means, the
#: triangle inequality (C.8). They cannot fail, so they are identities, not measurements.
IDENTITY_LINES = ("v ≤ max_{g'} ‖g' − E ĝ‖² (max over the sample)", "‖E[g − ĝ]‖² ≤ (E‖g − ĝ‖)² (C.6)",
                  "E‖g − ĝ‖ ≤ Σ_{i<h} γ^i E‖∇_θr(x̂_i) − ∇_θr(x̄_i)‖")


def as_identity(r: CheckResult) -> CheckResult:
    """``r`` with form "identity" if its line is one of ``IDENTITY_LINES``."""
    if str(r.instance.get("line", "")).startswith(IDENTITY_LINES):
        return dataclasses.replace(r, form="identity")
    return r


def results(quick: bool) -> list[CheckResult]:
    """The variance and bias chains, the algebraic truths among them marked as identities."""
    return [as_identity(r) for r in variance_results(quick) + bias_results(quick)]


def controls(quick: bool) -> list[CheckResult]:
    """Negative controls: (C.7) with the minimum over the sample in place of the maximum; the (C.16)
    collapse with the measured, non-increasing max_n‖dx̂_i/dθ‖ in place of K̂(i); (C.23) with both of
    its terms' constants removed (right side 0); all must fail on ``lqr-contracting``."""
    name, out = "lqr-contracting", []
    c = params(name)
    t = variance_terms(name, 10, quick)
    g = t["g"]
    v, lo, hi, _ = stats.variance_ci(g, LEVEL)
    out.append(_row("C.7", "explicit", "control: v ≤ min_{g'} ‖g' − E ĝ‖²", name, v, (lo, hi),
                    float(((g - g.mean()) ** 2).min()), h=10))
    # the collapse needs dev_i + 2K(i) to grow in i: with the measured max_n‖dx̂_i/dθ‖ (which falls on a
    # contracting instance) in place of the paper's increasing K̂(i) it fails (the former erratum E15)
    summed, collapsed = c16_collapse(c, t, t["x_norm"], 10)
    out.append(_exact("C.16", "printed", "control: collapse with max_n‖dx̂_i/dθ‖ (measured) in place of K̂(i)", name,
                      summed, collapsed, h=10))
    b = bias_terms(name, 3, quick)
    out.append(_exact("C.23", "printed", "control: right side without L_Q and ε_v terms (= 0)", name,
                      b["gamma"] ** 3 * b["q_term"], 0.0, h=3))
    return out
