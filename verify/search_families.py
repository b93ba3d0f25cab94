"""The instance families and objectives of ``verify.search`` beyond the LQR and linear-offset ones.

Each family is a list of search coordinates (``Var``), a map from a point to a readable instance
dict, and ``evaluate(claim, bound, instance) -> Evaluation`` (the check row, the ratio measured /
bound that the adversary maximises — bound / measured for a lower bound, relative residual / 10⁻⁹
for an identity — and the claim's hypotheses on that instance). ``verify.search``
runs the optimiser over any of them; this module imports nothing of it. Where a claim module measures a
line on its fixed instances, the family calls that module's function on the searched instance (the
perturbed LQR is ``toy_mdps.lqr.LQR.with_errors``, as there).

- ``scalar-lqr`` (Lemmas C.2, C.3): the closed forms of ``verify.appendix_c.lemmas_c2_c3.ScalarLQR``
  (A, B, K, σ, w, z, γ, h), exact (its ``c2_sides``, ``grad_J``, ``mean_ghat``). Identities are judged
  as there, a relative residual against ``IDENTITY_TOL``, but relative to the size of the terms that
  cancel (|∇J| for b_t = |∇J − E ĝ|), so float64 cancellation is not counted as a violation.
- ``offset-lq`` (Prop 5.2, Cor 5.12): the toy ``OffsetToy`` of ``verify.appendix_c.smoothness_c1_c5``
  (A, B, K, σ, w, γ, H, T, η). Algorithm 1's iterate is a Gaussian AR(1) process (ĝ_t given θ_t is
  Gaussian with mean ∇J_H(θ_t) and variance v(1)/N, N = ⌈√T⌉ as in ``verify.section5.prop5_2``), so
  E‖∇J(θ_t)‖², b_t, v_t, E[E(‖ĝ‖|θ_t) b(θ_t)] (Gauss–Hermite) and E[J(θ_T) − J(θ_·)] are exact; only
  δ = max |θ_t| over ``RUNS`` simulated runs is sampled (prop5_2's smallest Θ holding every iterate).
  Hypotheses T ≥ 4L² and 0 < η < 1/L are enforced (η = η·L / L, η·L ∈ (0, 1)); Cor 5.12 takes η = 1/√T.
- ``lqr-hstar`` (Prop 5.10): g(h) of (C.28) from the exact b_t(h), v_t(h) of ``toy_mdps.lqr_exact`` on a
  scalar LQR with model error Â = A + ε and critic error δ_v, h = 0..20, prop5_10's η, L, δ and N
  searched; L_f, L_π < 1 enforced. ε_v is the mean over h = 1..20 of its exact interval
  (``eps_v_interval``); the theory is evaluated at both ends and the verdict folds that in.
- ``path`` (Lemma C.1, (C.9)): the scalar path instances of ``verify.appendix_c.derivatives_c9_c13``
  (``PathInstance``: A, B, c, K, σ, tanh or linear policy, wiggle w, ζ's scale). Lemma C.1 is Monte
  Carlo as in ``verify.appendix_c.lemma_c1`` (CLT intervals, Bonferroni over reference trajectories),
  steps 1..i ≤ 40, with the pathwise derivatives by the scalar chain rule (``path_trace``: fast, equal
  to forward-mode autograd, test). (C.9) is exact per trajectory on 8 trajectories, steps 1..i ≤ 10,
  with the derivatives and partials of ``measure_derivatives`` (autograd: independent of the identity).
- ``lqr-chain`` ((C.19)–(C.24)): a scalar LQR with Â = A + ε and Q̂ = Q^π perturbed by δ, h = 1..10; the
  lines of ``verify.appendix_c.chains_c7_c24`` (``c19`` … ``c24``), on 1,000 coupled model/true
  trajectories from ν (sample means exact of the sample, as there; CLT intervals for the left sides of
  (C.20), (C.21), whose right sides are constants), b_t of (C.24) exact.
- ``lqr-chain`` again (the variance chain (C.14)–(C.17) and the (C.16) collapse, ``C.16-collapse``):
  the lines of ``verify.appendix_c.chains_c7_c24`` that can fail (``c14`` … ``c17``), on 1,000 model
  trajectories from ζ of the same perturbed LQR (the chain's own instances have ε = δ = 0), x̄ the
  sampled maximiser; sample means exact of the sample, v of (C.16)'s first line with its BCa interval.
  (C.7), (C.8) and Jensen's step are truths of the sample and are not searched.
- ``scalar-lqr-gaussian`` (Lemma C.3's change of measure, ``lemmaC.3-kappa``): E_ζφ ≤ κ E_νφ for the
  lemma's own φ at h = 1, by ``verify.appendix_c.lemmas_c2_c3.kappa_step`` (E_ζφ exact; E_νφ, κ Monte
  Carlo, ν drawn exactly, κ's Hoeffding upper limit), A, B, K, σ, w, z, γ ≤ 0.9.
- ``c4-g`` ((C.29), (C.39)): γ, ε_f, ε_v, N, L_f, L_π < 1, η of g(h) of (C.28) as
  ``verify.appendix_c.hstar_c28_c39`` evaluates it (``bounds.hstar``): its argmin on the grid and the root
  of (C.29)–(C.30) against both (C.39) intervals, and (C.29) read as root/argmin within a factor 2.
- ``sine`` (Prop 5.4): ``toy_mdps.chaotic.SineMDP`` (λ, b, c, k, σ, z, γ, h, estimator), v_t(1) by
  Monte Carlo of the shared estimator with the BCa interval of ``verify.stats``.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch

import bounds
from toy_mdps.lqr import LQR
from verify import instances, stats
from verify.stats import LEVEL
from verify.verdict import CheckResult

RELATIVE_TOL = 1e-9  # = lemmas_c2_c3.IDENTITY_TOL


class Infeasible(Exception):
    """The instance violates the family's standing hypotheses (uncertified, unstable)."""


@dataclass(frozen=True)
class Var:
    name: str
    low: float
    high: float
    integer: bool = False


@dataclass
class Evaluation:
    """One instance judged: the check row, the ratio measured / bound (conservative side) and which
    hypotheses of the claim the instance satisfies."""

    row: CheckResult
    ratio: float
    hypotheses: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Family:
    vars: list
    instance: Callable[[dict], dict]
    evaluate: Callable[[str, str, dict], Evaluation]
    small: Optional[str]  # the discrete coordinate to minimise when shrinking (h, i, H), if any
    seeds: tuple = ()  # hand-picked points (partial dicts) that start the search, one per start
    #: re-verification of a counterexample at a higher sample size (Monte Carlo families)
    reverify: Optional[Callable[[str, str, dict], dict]] = None


def claim_targets(claim: str) -> dict[str, tuple[str, ...]]:
    """form -> names of the bounds ``bounds`` registers for ``claim``, in their order (the first is a
    form's default)."""
    out: dict[str, tuple[str, ...]] = {}
    for b in bounds.of_claim(claim).values():
        out[b.form] = out.get(b.form, ()) + (b.name,)
    return out


def ratio(measured: float, bound: float) -> float:
    """measured / bound, read as 0 where a lower bound (``ge`` rows pass bound / measured) is ≤ 0."""
    if bound > 0:
        return max(measured / bound, 0.0)
    return math.inf if measured > 0 else 0.0


def reverified(row: CheckResult, samples: int, **more) -> dict:
    """A re-verification's record: the row measured again on fresh draws of ``samples``."""
    level = LEVEL if row.ci[0] != row.ci[1] else "exact of the sample"
    return {"samples": samples, **more, "estimate": row.measured, "ci": list(row.ci), "level": level,
            "bound": row.bound, "verdict": row.holds}


def _r(x: float) -> float:
    return round(float(x), 6)


def _residual(x: float, y: float, scale: float = 0.0) -> float:
    """|x − y| relative to the larger of |x|, |y| and ``scale`` (the size of what cancelled)."""
    return abs(x - y) / max(abs(x), abs(y), abs(scale), 1e-300)


# --- Lemmas C.2, C.3 on the scalar LQR ------------------------------------------------------------

SCALAR_VARS = [Var("A", -1.5, 1.5), Var("B", -1.5, 1.5), Var("K", -1.5, 1.5), Var("sigma", 0.01, 1.0),
               Var("w", 0.01, 1.0), Var("z", 0.01, 2.0), Var("gamma", 0.5, 0.99), Var("h", 1, 10, True)]


def scalar_instance(x: dict) -> dict:
    return {"family": "scalar-lqr", **{k: _r(x[k]) for k in ("A", "B", "K", "sigma", "w", "z", "gamma")},
            "h": int(x["h"])}


def scalar_terms(inst: dict) -> dict:
    """The sides of Lemma C.2 at step h (``lemmas_c2_c3.c2_sides``, as in ``lemma_c2_terms``) and of
    Lemma C.3 (∇J and E ĝ of RP-DP with exact model and critic, μ = ζ: ``grad_J``, ``mean_ghat``) on the
    instance's ``ScalarLQR``."""
    from verify.appendix_c import lemmas_c2_c3 as LC

    m = LC.ScalarLQR(inst["A"], inst["B"], inst["K"], inst["sigma"], inst["w"], inst["z"], inst["gamma"])
    if not m.gamma * (m.A + m.B * m.K0) ** 2 < 1:
        raise Infeasible("γ(A + BK)² ≥ 1: the value is infinite")
    h = inst["h"]
    total, rhs_step, dQ = LC.c2_sides(m, h)
    grad, Eg = LC.grad_J(m), LC.mean_ghat(m, h, m.z ** 2)
    return {"total": total, "rhs_step": rhs_step, "dQ_theta": dQ, "grad": grad, "Eg": Eg,
            "b": abs(grad - Eg), "gamma_h": m.gamma ** h}


def evaluate_scalar(claim: str, name: str, inst: dict) -> Evaluation:
    t = scalar_terms(inst)
    if name == "c2_printed":  # E[dV(s_h)/dθ] = E_P(s_h,a_h)[∂Q/∂a·da/dθ + ∂Q/∂s·ds/dθ]
        res, line = _residual(t["total"], t["rhs_step"]), "E[dV(s_h)/dθ] = E[∂Q/∂a·da/dθ + ∂Q/∂s·ds/dθ]"
    elif name == "c2_identity":
        res = _residual(t["total"], t["rhs_step"] + t["dQ_theta"], max(abs(t["rhs_step"]), abs(t["dQ_theta"])))
        line = "E[dV(s_h)/dθ] = E[∂Q/∂a·da/dθ + ∂Q/∂s·ds/dθ] + E[∂_θQ^π(s_h,a_h)]"
    elif name == "c3_printed":  # b_t ≤ Lemma C.3's right side, 0 at ε_f = ε_v = 0 (coupled reading)
        row = CheckResult("lemmaC.3", "printed", {**inst, "line": "b_t ≤ Lemma C.3 right side (0 at ε_f = ε_v = 0)"},
                          t["b"], (t["b"], t["b"]), 0.0, note="exact closed form; exact model and critic")
        return Evaluation(row, ratio(t["b"], 0.0), {"exact model and critic": True})
    else:  # c3_identity: b_t = γ^h |E ∂_θQ^π(s_h, a_h)|
        res = _residual(t["b"], t["gamma_h"] * abs(t["dQ_theta"]), max(abs(t["grad"]), abs(t["Eg"])))
        line = "b_t = γ^h |E ∂_θQ^π(s_h,a_h)|"
    form = "printed" if name.endswith("printed") else "identity"
    row = CheckResult(claim, form, {**inst, "line": line + " — relative residual"}, res, (res, res), RELATIVE_TOL,
                      note="exact closed form (ScalarLQR); " + ", ".join(f"{k} = {v:.6g}" for k, v in t.items()))
    return Evaluation(row, ratio(res, RELATIVE_TOL), {"sqrt(gamma)|A+BK| < 1": True})


# --- Prop 5.2, Cor 5.12 on the offset-LQ toy -------------------------------------------------------

OFFSET_VARS = [Var("A", -1.0, 1.0), Var("B", 0.1, 2.0), Var("K", -1.0, 1.0), Var("sigma", 0.01, 1.0),
               Var("w", 0.01, 1.0), Var("gamma", 0.5, 0.99), Var("H", 1, 60, True), Var("T", 16, 1024, True),
               Var("eta_L", 0.01, 0.99)]
RUNS = 200  # simulated runs for δ = max |θ_t|, as prop5_2's quick configuration
GH_NODES = 40
#: bound name -> (claim, form, the name in ``verify.section5.prop5_2.BOUNDS``)
#: bound name -> (claim, form, label) of the registered bounds of Prop 5.2 and Cor 5.12 (``bounds.registry``)
CONV_BOUNDS = {b.name: (b.claim, b.form, b.label) for c in ("prop5.2", "cor5.12") for b in bounds.of_claim(c).values()}


def offset_instance(x: dict) -> dict:
    return {"family": "offset-lq", **{k: _r(x[k]) for k in ("A", "B", "K", "sigma", "w", "gamma", "eta_L")},
            "H": int(x["H"]), "T": int(x["T"])}


@dataclass(frozen=True)
class ConvergenceRun:
    """Exact per-iterate quantities of Algorithm 1 on the offset-LQ toy (arrays over t = 0..T−1)."""

    L: float
    eta: float
    N: int
    sq: np.ndarray  # E‖∇J(θ_t)‖²
    b: np.ndarray
    v: np.ndarray
    G: np.ndarray  # E[E(‖ĝ‖|θ_t) b(θ_t)] / b_t
    dJ0: float
    dJ1: float
    delta: float


def convergence_run(inst: dict, cor: bool) -> ConvergenceRun:
    """θ_{t+1} = θ_t + η ĝ_t from θ_0 = 0: θ_t ~ N(m_t, s_t) with m_{t+1} = m_t + η(b_H − L_H m_t),
    s_{t+1} = (1 − ηL_H)² s_t + η² v(1)/N; the toy's J, ∇J and E ĝ are affine/quadratic in θ."""
    from verify.appendix_c.smoothness_c1_c5 import OffsetToy
    from verify.section5.prop5_2 import folded_mean

    M = inst["A"] + inst["B"] * inst["K"]
    if not (math.sqrt(inst["gamma"]) * abs(M) < 1 and abs(1 - M) > 1e-6):
        raise Infeasible("√γ|A + BK| ≥ 1: J is not finite")
    toy = OffsetToy(A=inst["A"], B=inst["B"], K=inst["K"], sigma=inst["sigma"], w=inst["w"], gamma=inst["gamma"],
                    H=inst["H"])
    with np.errstate(over="ignore", invalid="ignore"):
        b_inf, L = float(toy.grad(0.0)), toy.L
        b_H = float(toy.mean_ghat(0.0))
        L_H = b_H - float(toy.mean_ghat(1.0))
    if not all(map(math.isfinite, (b_inf, L, b_H, L_H))) or L_H <= 0:
        raise Infeasible("J overflows in float64")
    T = inst["T"]
    N = math.ceil(math.sqrt(T))
    eta = 1 / math.sqrt(T) if cor else inst["eta_L"] / L
    if T < 4 * L ** 2:
        raise Infeasible("T < 4L²")
    if not 0 < eta * L < 1:
        raise Infeasible("η ≥ 1/L")
    v = toy.var_ghat() / N
    q, t = 1 - eta * L_H, np.arange(T + 1)
    m = b_H / L_H * (1 - q ** t)  # the mean and variance recursions in closed form
    s = eta ** 2 * v * (t if abs(q) == 1 else (1 - q ** (2 * t)) / (1 - q ** 2))
    mt, st = m[:-1], s[:-1]
    sq = (b_inf - L * mt) ** 2 + L ** 2 * st
    db, dL = b_inf - b_H, L - L_H
    x, w = np.polynomial.hermite_e.hermegauss(GH_NODES)
    th = mt[:, None] + np.sqrt(st)[:, None] * x[None]  # Gauss–Hermite nodes of θ_t
    b = folded_mean(db - dL * mt, abs(dL) * np.sqrt(st))
    Gb = (folded_mean(b_H - L_H * th, math.sqrt(v)) * np.abs(db - dL * th)) @ w / w.sum()
    G = np.divide(Gb, b, out=np.zeros_like(Gb), where=b > 0)
    EJ = lambda k: b_inf * m[k] - L / 2 * (m[k] ** 2 + s[k])
    rng = np.random.default_rng(0)
    theta, delta = np.zeros(RUNS), 0.0
    for _ in range(T):
        theta = theta + eta * (b_H - L_H * theta + math.sqrt(v) * rng.standard_normal(RUNS))
        delta = max(delta, float(np.abs(theta).max()))
    return ConvergenceRun(L, eta, N, sq, b, np.full(T, v), G, EJ(T) - EJ(0), EJ(T) - EJ(1), delta)


def _convergence_bound(name: str, r: ConvergenceRun) -> float:
    from verify.section5.prop5_2 import bound_sum

    return bound_sum(CONV_BOUNDS[name][2], len(r.sq), r.eta, r.L, r.delta, r.b, r.v, r.G, r.dJ0, r.dJ1)


def evaluate_convergence(claim: str, name: str, inst: dict) -> Evaluation:
    """min_t E‖∇J(θ_t)‖² ≤ bound ``name`` (``verify.section5.prop5_2.bound_sum``: term-by-term sums)."""
    r = convergence_run(inst, name.startswith("cor"))
    bound = _convergence_bound(name, r)
    t = int(np.argmin(r.sq))
    measured = float(r.sq[t])
    hyp = {"T >= 4L^2": True, "0 < eta < 1/L": True, "L": _r(r.L), "eta": _r(r.eta), "N": r.N,
           "delta = max|theta_t| over runs": _r(r.delta), "theta_t inside Theta": "by the choice of δ (sampled runs)"}
    note = (f"exact Gaussian moments of the iterates; δ = max|θ_t| over {RUNS} simulated runs; mean b_t = "
            f"{r.b.mean():.4g}, v_t = {r.v[0]:.4g}, E[J(θ_T) − J(θ_0)] = {r.dJ0:.4g}"
            + ("; C_conv read as 1" if name == "cor512_rhs" else ""))
    row = CheckResult(CONV_BOUNDS[name][0], CONV_BOUNDS[name][1],
                      {**inst, "eta": _r(r.eta), "N": r.N, "L": _r(r.L), "delta": _r(r.delta), "t_min": t,
                       "bound": name}, measured, (measured, measured), bound, note=note)
    return Evaluation(row, ratio(measured, bound), hyp)


def reverify_convergence(claim: str, name: str, inst: dict, runs: int = 400, seed: int = 23) -> dict:
    """Algorithm 1 run ``runs`` times with the toy's own estimator (``OffsetToy.ghat``, batch N): the
    left side min_t E‖∇J(θ_t)‖² with per-t CLT intervals at 1 − (1 − LEVEL)/T (as ``prop5_2``), against
    the bound with δ = max |θ_t| over these runs and the other terms exact."""
    from verify.appendix_c.smoothness_c1_c5 import OffsetToy

    r = convergence_run(inst, name.startswith("cor"))
    toy = OffsetToy(**{k: inst[k] for k in ("A", "B", "K", "sigma", "w", "gamma", "H")})
    rng = np.random.default_rng(seed)
    T, theta, sq = len(r.sq), np.zeros(runs), []
    delta = 0.0
    for _ in range(T):
        sq.append(toy.grad(theta) ** 2)
        theta = theta + r.eta * toy.ghat(theta, r.N, rng).mean(1)
        delta = max(delta, float(np.abs(theta).max()))
    m, lo, hi = stats.mean_ci(np.stack(sq, 1), 1 - (1 - LEVEL) / T)
    exact = evaluate_convergence(claim, name, inst).row
    bound = _convergence_bound(name, dataclasses.replace(r, delta=delta))
    row = CheckResult(exact.claim, exact.form, exact.instance, float(m.min()), (float(lo.min()), float(hi.min())),
                      bound)
    return reverified(row, runs, delta=delta)


# --- Prop 5.10 on the scalar LQR -------------------------------------------------------------------

HSTAR_VARS = [Var("A", -1.0, 1.0), Var("B", -1.0, 1.0), Var("K", -1.0, 1.0), Var("sigma", 0.01, 0.5),
              Var("w", 0.01, 0.5), Var("z", 0.05, 2.0), Var("gamma", 0.5, 0.99), Var("eps_f", 0.005, 0.5),
              Var("delta_v", 0.0, 3.0), Var("N", 1, 64, True)]
HSTAR_H = tuple(range(21))
#: bound name -> (form, what, direction)
HSTAR_BOUNDS = {"hstar_paper": ("printed", "argmin ≤ Prop 5.10's O(·) argument, C_h = 1", "le"),
                "hstar_interval_upper": ("corrected", "argmin ≤ ⌈max(h1, h2)⌉ + 1/2", "le"),
                "hstar_interval_lower": ("corrected", "argmin ≥ ⌊min(h1, h2)⌋ − 1/2", "ge")}


def hstar_instance(x: dict) -> dict:
    return {"family": "lqr-hstar", **{k: _r(x[k]) for k in ("A", "B", "K", "sigma", "w", "z", "gamma", "eps_f",
                                                             "delta_v")}, "N": int(x["N"])}


def perturbed_lqr(inst: dict, eps_model: float, delta_critic: float) -> LQR:
    """The scalar LQR of ``inst`` with model Â = A + eps_model and the critic perturbed by
    delta_critic; Infeasible unless certified and stable."""
    p = LQR.with_errors(inst["A"], inst["B"], inst["K"], eps_model, delta_critic, sigma=inst["sigma"], w=inst["w"],
                        z=inst["z"], gamma=inst["gamma"], certify=False)
    if not (p.certified and p.stable):
        raise Infeasible("no certified invariant domain")
    return p


def evaluate_hstar(claim: str, name: str, inst: dict) -> Evaluation:
    """ĥ = argmin over h = 0..20 of g(h) of (C.28) from exact b_t(h), v_t(h) (prop5_10's η, L, δ)
    against the theory at the instance's constants, ε_v over its exact interval."""
    from verify.section5 import prop5_10 as P

    p = perturbed_lqr(inst, inst["eps_f"], inst["delta_v"])
    lip = instances.lipschitz(p)
    if not (lip["L_fhat"] < 1 and lip["L_pi"] < 1):
        raise Infeasible("Prop 5.10's hypothesis L_f, L_π < 1 fails")
    h_best = int(np.argmin(P.exact_g(p, inst["N"])[2]))
    ev = P.eps_v_range(p)
    ts = [P.theory(p, e, inst["N"]) for e in ev]
    form, what, direction = HSTAR_BOUNDS[name]
    if name == "hstar_paper":
        ends = [t["paper"] for t in ts]
    elif name == "hstar_interval_upper":
        ends = [P.integers_around(*t["interval"])[1] for t in ts]
    else:
        ends = [P.integers_around(*t["interval"])[0] for t in ts]
    row = P.side_row("prop5.10", form, {**inst, "compare": what, "eps_f_exact": _r(p.eps_f()),
                                        "eps_v interval (mean over h)": [_r(e) for e in ev], "bound": name},
                     h_best, ends, direction,
                     f"g(h) of (C.28) from exact b_t, v_t (h = 0..20), η = {P.ETA}, L = {P.L_SMOOTH}, δ = {P.DELTA}"
                     + ("; O(·) constant read as 1" if name == "hstar_paper" else ""))
    rat = ratio(h_best, max(ends)) if direction == "le" else ratio(min(ends), h_best)
    hyp = {"L_f < 1": True, "L_pi < 1": True, "L_f": _r(lip["L_fhat"]), "L_pi": _r(lip["L_pi"]),
           "argmin at the edge h = 20": h_best == HSTAR_H[-1]}
    return Evaluation(row, rat, hyp)


# --- Lemma C.1 and (C.9) on the scalar path instances ----------------------------------------------

PATH_VARS = [Var("A", -1.5, 1.5), Var("B", -1.5, 1.5), Var("c", 0.0, 1.0), Var("K", -1.5, 1.5),
             Var("sigma", 0.0, 1.0), Var("wiggle", -0.5, 0.5), Var("s0_scale", 0.1, 3.0),
             Var("saturate", 0, 1, True), Var("i", 1, 40, True)]
C1_N, C1_REFS = 256, 8  # lemma_c1's quick configuration
C1_VERIFY_N, C1_VERIFY_REFS = 4096, 32
C9_N = 8
C1_NAMES = {"c1a_printed", "c1s_printed", "c1a_corrected", "c1s_corrected"}


def path_instance(x: dict) -> dict:
    return {"family": "path", **{k: _r(x[k]) for k in ("A", "B", "c", "K", "sigma", "wiggle", "s0_scale")},
            "saturate": bool(x["saturate"]), "i": int(x["i"])}


def path_of(inst: dict):
    from verify.appendix_c.derivatives_c9_c13 import PathInstance

    return PathInstance("search", "searched", inst["A"], inst["B"], inst["c"], inst["K"], inst["sigma"],
                        saturate=bool(inst["saturate"]), s0_scale=inst["s0_scale"], wiggle=inst["wiggle"])


def path_trace(inst, horizon: int, n: int, seed: int):
    """``derivatives_c9_c13.DerivativeTrace`` of a scalar ``PathInstance`` by the scalar chain rule:
    â_i = Kφ(ŝ_i) + θ + σς_i, ŝ_{i+1} = Aŝ_i + w sin ŝ_i + Bâ_i + cξ_i, so ∂â/∂ŝ = Kφ'(ŝ), ∂â/∂θ = 1,
    ∂ŝ'/∂ŝ = A + w cos ŝ, ∂ŝ'/∂â = B and dâ_i = Kφ'(ŝ_i) dŝ_i + 1, dŝ_{i+1} = (A + w cos ŝ_i) dŝ_i + B dâ_i."""
    from verify.appendix_c.derivatives_c9_c13 import DerivativeTrace

    s0, noise = inst.sample(n, horizon, seed)
    s = s0[:, 0].clone()
    vs, xi = noise.varsigma[:, :, 0], noise.xi[:, :, 0]
    ds, da, Fs, Ps = (torch.zeros(n, horizon + 1, dtype=s.dtype) for _ in range(4))
    d = torch.zeros_like(s)
    for k in range(horizon + 1):
        phi, dphi = (torch.tanh(s), 1 - torch.tanh(s) ** 2) if inst.saturate else (s, torch.ones_like(s))
        a = inst.K * phi + inst.sigma * vs[k]
        Ps[:, k] = inst.K * dphi
        ds[:, k], da[:, k] = d, inst.K * dphi * d + 1
        if k < horizon:
            Fs[:, k + 1] = inst.A + inst.wiggle * torch.cos(s)
            d = Fs[:, k + 1] * d + inst.B * da[:, k]
            s = inst.A * s + inst.wiggle * torch.sin(s) + inst.B * a + inst.c * xi[k]
    Fa = torch.full_like(Fs, inst.B)
    Fa[:, 0] = 0
    four = lambda x: x[..., None, None]
    return DerivativeTrace(inst, four(ds), four(da), four(Fs), four(Fa), four(Ps), torch.ones_like(four(Ps)))


def _path_hyp(inst) -> dict:
    return {"L_f < 1": bool(inst.L_f < 1), "L_pi < 1": bool(inst.L_pi < 1), "L_f": _r(inst.L_f),
            "L_pi": _r(inst.L_pi), "closed loop at 0": _r(inst.closed_loop)}


def lemma_c1_row(inst: dict, name: str, n: int = C1_N, refs: int = C1_REFS, seed: int = 11) -> CheckResult:
    """Lemma C.1's bound ``name`` over steps 1..i: E_n‖d·_{i,n}/dθ − d·̄_i/dθ‖ for each of ``refs``
    reference trajectories, CLT intervals at the Bonferroni level (``lemma_c1.lemma_c1_deviations``);
    the row is the step with the largest point ratio, the maximum over references."""
    from verify.appendix_c.derivatives_c9_c13 import bound_at
    from verify.appendix_c.lemma_c1 import C1_ROWS

    which, form, line, fn, key = next(r for r in C1_ROWS if r[4] == name)
    pi = path_of(inst)
    horizon = inst["i"]
    x = getattr(path_trace(pi, horizon, n, seed), "d" + which)[..., 0, 0]
    r = getattr(path_trace(pi, horizon, refs, seed + 1), "d" + which)[..., 0, 0]
    dev = (x[None] - r[:, None]).abs().numpy()  # (R, N, H+1)
    m = dev.mean(1)
    half = stats.z(1 - (1 - LEVEL) / refs) * dev.std(1, ddof=1) / math.sqrt(n)
    e = 0.0  # dâ_0/dθ = ∂π/∂θ = 1 for every draw (lemma_c1's measured e)
    right = bound_at(key, fn, pi, np.arange(horizon + 1, dtype=float), e=e)[1:]
    mean, lo, hi = ((m + s * half)[:, 1:].max(0) for s in (0, -1, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        rat = np.where(right > 0, mean / right, np.inf)
    k = int(np.argmax(rat))
    return CheckResult("lemmaC.1", form, {**inst, "line": line, "step": k + 1, "N": n, "references": refs,
                                          "bound": name}, float(mean[k]), (float(lo[k]), float(hi[k])),
                       float(right[k]), note=f"Monte Carlo, {n} trajectories x {refs} references, CLT intervals "
                                             f"Bonferroni over references; e = {e:.3g}; worst step of 1..{horizon}")


def evaluate_path(claim: str, name: str, inst: dict) -> Evaluation:
    pi = path_of(inst)
    if name in C1_NAMES:
        row = lemma_c1_row(inst, name)
    else:  # (C.9) printed or corrected: relative residual of the chain-rule identity, worst trajectory and step
        from verify.appendix_c.derivatives_c9_c13 import STEPS, judge, measure_derivatives

        form = next(f for f, names in TARGETS["C.9"].items() if name in names)
        st = next(s for s in STEPS if s.claim == "C.9" and s.form == form)
        t = measure_derivatives(pi, inst["i"], C9_N, 0)  # forward-mode autograd: independent of the identity
        left, right = st.sides(t, t.norms())
        row = judge("C.9", st.form, st.line, pi, left, right, note="exact per trajectory (forward-mode autograd)",
                    extra={**inst, "bound": name})
    return Evaluation(row, ratio(row.measured, row.bound), _path_hyp(pi))


def reverify_path(claim: str, name: str, inst: dict) -> Optional[dict]:
    """A Lemma C.1 row again with fresh draws at ``C1_VERIFY_N`` trajectories and references ((C.9) is
    exact per trajectory: nothing to re-draw)."""
    if name not in C1_NAMES:
        return None
    row = lemma_c1_row(inst, name, C1_VERIFY_N, C1_VERIFY_REFS, seed=101)
    return reverified(row, C1_VERIFY_N, references=C1_VERIFY_REFS)


# --- the bias chain (C.19)–(C.24) on the scalar LQR ----------------------------------------------

CHAIN_VARS = [Var("A", -1.5, 1.5), Var("B", -1.5, 1.5), Var("K", -1.5, 1.5), Var("sigma", 0.01, 0.5),
              Var("w", 0.01, 0.5), Var("z", 0.05, 2.0), Var("gamma", 0.5, 0.99), Var("eps_model", -0.5, 0.5),
              Var("delta_critic", 0.0, 2.0), Var("h", 1, 10, True)]
CHAIN_N, CHAIN_VERIFY_N = 1000, 20000
#: bound name -> (claim, form)
CHAIN_BOUNDS = {"c19": ("C.19", "printed"), "c20": ("C.20", "printed"), "c20_corrected": ("C.20", "corrected"),
                "c21": ("C.21", "printed"), "c21_corrected": ("C.21", "corrected"), "c22": ("C.22", "printed"),
                "c22_corrected": ("C.22", "corrected"), "c23": ("C.23", "printed"),
                "c23_corrected": ("C.23", "corrected"), "c24_chain": ("C.24", "printed"),
                "c24_chain_corrected": ("C.24", "corrected")}


def chain_instance(x: dict) -> dict:
    return {"family": "lqr-chain", **{k: _r(x[k]) for k in ("A", "B", "K", "sigma", "w", "z", "gamma", "eps_model",
                                                             "delta_critic")}, "h": int(x["h"])}


def chain_sides(inst: dict, name: str, n: int = CHAIN_N, seed: Optional[int] = None) -> tuple[CheckResult, dict]:
    """One line of the bias chain as ``verify.appendix_c.chains_c7_c24.bias_results`` measures it (its
    ``c19`` … ``c24``), on the instance's LQR: n model and true trajectories from the same s_0 ∼ ν and
    noise (coupled, ``sample_paths``), sample means treated as exact of the sample (as there) except the
    left sides of (C.20), (C.21), whose right sides are constants (CLT intervals); b_t of (C.24) in closed
    form (``toy_mdps.lqr_exact``, RP-DP, μ = ζ)."""
    from toy_mdps.lqr_exact import moments
    from verify.appendix_c import chains_c7_c24 as CH

    p, h = perturbed_lqr(inst, inst["eps_model"], inst["delta_critic"]), inst["h"]
    seed = 57 + h if seed is None else seed  # chains_c7_c24's draws
    c = CH.constants(p)
    t = CH.bias_chain_terms(p, *(CH.sample_paths(p, h, n, seed, "nu", f) for f in ("hat", "true")), h)
    claim, form = CHAIN_BOUNDS[name]
    K = CH.k_hat(c, np.arange(h + 1, dtype=float), form == "corrected")
    interval, where = claim in ("C.20", "C.21"), {}
    if claim in ("C.19", "C.22"):
        left, right, i = CH.c19(c, t) if claim == "C.19" else CH.c22(c, t, K, h)
        where = {"i": i}
    elif interval:  # right side of constants only: the left's CLT interval
        left, lo, hi = stats.mean_ci(t["dev_a_n" if claim == "C.20" else "dev_s_n"][:, h], LEVEL)
        right = CH.c20_c21(claim, c, h, form == "corrected")
    elif claim == "C.23":
        left, right = CH.c23(c, t, K, h)
    else:
        left, right = moments(p, h, 0.0, "dp").bias, CH.c24(c, t, K, h)
    left, right = float(left), float(right) * (1 if interval else 1 + CH.EXACT_SLACK)
    ef, eps_v = c["eps_f"], t["eps_v"]
    row = CheckResult(claim, form, {**inst, **where, "eps_f": _r(ef), "eps_v": _r(eps_v), "N": n, "bound": name},
                      left, (float(lo), float(hi)) if interval else (left, left), right, level=LEVEL,
                      note=f"{n} start states from ν, model and true trajectory coupled; "
                           + ("CLT interval of the left side" if interval else
                              "sample means exact of the sample (as chains_c7_c24)")
                           + ("; b_t exact (lqr_exact)" if claim == "C.24" else ""))
    hyp = {"certified domain": True, "L_f < 1": bool(c["L_f"] < 1), "L_pi < 1": bool(c["L_pi"] < 1),
           "eps_f": _r(ef), "eps_v (coupled, sample)": _r(eps_v)}
    return row, hyp


def evaluate_chain(claim: str, name: str, inst: dict) -> Evaluation:
    row, hyp = chain_sides(inst, name)
    return Evaluation(row, ratio(row.measured, row.bound), hyp)


def reverify_chain(claim: str, name: str, inst: dict) -> dict:
    row, _ = chain_sides(inst, name, CHAIN_VERIFY_N, seed=91)
    return reverified(row, CHAIN_VERIFY_N)


# --- the variance chain (C.14)–(C.17) on the scalar LQR --------------------------------------------

VAR_CHAIN_N, VAR_CHAIN_VERIFY_N = 1000, 20000
#: bound name -> (claim, form, which K̂): the lines of ``chains_c7_c24.variance_results`` that can fail
VAR_BOUNDS = {"c14": ("C.14", "printed", "K_hat"), "c14_corrected": ("C.14", "corrected", "K_hat_corrected"),
              "c15": ("C.15", "printed", "K_hat"), "c15_corrected": ("C.15", "corrected", "K_hat_corrected"),
              "c16": ("C.16", "printed", "K_hat"), "c16_corrected": ("C.16", "corrected", "K_hat_corrected"),
              "c16_collapse": ("C.16-collapse", "printed", "K_hat"),
              "c16_collapse_corrected": ("C.16-collapse", "corrected", "K_hat_corrected"),
              "c16_explicit": ("C.16", "explicit", "measured"), "c17": ("C.17", "printed", None)}
VAR_CLAIMS = ("C.14", "C.15", "C.16", "C.16-collapse", "C.17")
VAR_ROW_CLAIM = {"C.16-collapse": "C.16"}  # the collapse is a line of (C.16): its rows are (C.16)'s
VAR_LINES = {"C.14": "E‖∇Q̂ dx̂_h − ∇Q̂(x̄_h) dx̄_h‖ ≤ L_Q̂(dev_h + 2K̂(h))",
             "C.15": "E‖∇_θr(x̂_i) − ∇_θr(x̄_i)‖ ≤ L_r dev_i + 2L_r K̂(i), worst i < h",
             "C.16": "v ≤ ((h L_r + γ^h L_Q̂)(dev_h + 2K̂(h)))² (first line)",
             "C.16-collapse": "Σ_{i<h} γ^i(C.15)_i + γ^h(C.14) ≤ (h L_r + γ^h L_Q̂)(dev_h + 2K̂(h))",
             "C.17": "E‖dâ_i − dā_i‖ ≤ 4L_fL_π max‖dâ_{i−1}‖ + L_πL_f E‖dâ_{i−1} − dā_{i−1}‖ + 2L_θ, worst i ≤ h"}


def variance_sides(inst: dict, name: str, n: int = VAR_CHAIN_N, seed: Optional[int] = None) -> tuple[CheckResult, dict]:
    """One line of the variance chain as ``verify.appendix_c.chains_c7_c24.variance_results`` measures
    it (its ``c14`` … ``c17`` on the quantities of ``chain_terms``), on the instance's LQR with model
    Â = A + ε and critic Q̂ perturbed by δ: n model trajectories from ζ, x̄ = the sampled maximiser of
    ‖g − E ĝ‖, sample means exact of the sample (as there) except v of (C.16)'s first line (BCa interval,
    ``stats.variance_ci``). (C.7), (C.8) and Jensen's step are truths of the sample (identities).
    """
    from verify.appendix_c import chains_c7_c24 as CH

    p, h = perturbed_lqr(inst, inst["eps_model"], inst["delta_critic"]), inst["h"]
    seed = 31 + h if seed is None else seed  # chains_c7_c24's draws
    c = CH.constants(p)
    t = CH.chain_terms(p, CH.sample_paths(p, h, n, seed, "zeta", "hat"), h)
    claim, form, which = VAR_BOUNDS[name]
    if which == "measured":  # the explicit form: max_n ‖dx̂_i/dθ‖ in place of K̂(i)
        K = t["x_norm"]
    elif which is not None:
        K = CH.k_hat(c, np.arange(h + 1, dtype=float), which == "K_hat_corrected")
    ci, where = None, {}
    if claim == "C.14":
        left, right = CH.c14(c, t, K, h)
    elif claim == "C.15":
        left, right, i = CH.c15(c, t, K, h)
        where = {"i": i}
    elif claim == "C.16-collapse":
        left, right = CH.c16_collapse(c, t, K, h)
    elif claim == "C.16":
        left, lo, hi, _ = stats.variance_ci(t["g"], LEVEL)
        right, ci = CH.c16(c, t, K, h), (lo, hi)
    else:  # (C.17), its worst i of 1..h
        left, right, i = CH.c17(c, t)
        where = {"i": i}
    left, right = float(left), float(right) * (1 if ci else 1 + CH.EXACT_SLACK)
    row = CheckResult(VAR_ROW_CLAIM.get(claim, claim), form, {**inst, **where, "line": VAR_LINES[claim], "N": n, "sampled maximiser": t["k"],
                                        "bound": name}, left,
                      ci or (left, left), right, level=LEVEL,
                      note=f"{n} model trajectories from ζ; x̄ = sampled maximiser of ‖g − E ĝ‖; "
                           + ("BCa interval of v" if ci else "sample means exact of the sample (as chains_c7_c24)")
                           + {"K_hat": "; K̂ of (C.13)", "K_hat_corrected": "; K̂_c",
                              "measured": "; max_n ‖dx̂_i/dθ‖ (measured) for K̂", None: ""}[which])
    hyp = {"certified domain": True, "L_f < 1": bool(c["L_f"] < 1), "L_pi < 1": bool(c["L_pi"] < 1),
           "eps_f": _r(c["eps_f"]), "L_Qhat": _r(c["L_Qhat"]), "N = 1 (per-sample bound)": True}
    return row, hyp


def evaluate_variance(claim: str, name: str, inst: dict) -> Evaluation:
    row, hyp = variance_sides(inst, name)
    return Evaluation(row, ratio(row.measured, row.bound), hyp)


def reverify_variance(claim: str, name: str, inst: dict) -> dict:
    row, _ = variance_sides(inst, name, VAR_CHAIN_VERIFY_N, seed=93)
    return reverified(row, VAR_CHAIN_VERIFY_N)


# --- (C.29), (C.39): the minimisation of g(h) behind Prop 5.10 -------------------------------------

C4_VARS = [Var("gamma", 0.05, 0.995), Var("log10_eps_f", -6.0, 0.0), Var("log10_eps_v", -3.0, 6.0),
           Var("log2_N", 0, 12, True), Var("L_f", 0.05, 0.999), Var("L_pi", 0.05, 0.999),
           Var("log10_eta", -4.0, -0.5)]
#: bound name -> (claim, form, measured, interval end, direction); (C.37), (C.38) solve (C.31), (C.38)'s
#: equation and the root of (C.29)–(C.30) lies in the corrected (C.39): algebraic truths, not searched
C4_BOUNDS = {"c39_argmin_upper": ("C.39", "printed", "argmin", "upper", "le"),
             "c39_argmin_lower": ("C.39", "printed", "argmin", "lower", "ge"),
             "c39_root_upper": ("C.39", "printed", "root", "upper", "le"),
             "c39_root_lower": ("C.39", "printed", "root", "lower", "ge"),
             "c39_argmin_upper_corrected": ("C.39", "corrected", "argmin", "upper", "le"),
             "c39_argmin_lower_corrected": ("C.39", "corrected", "argmin", "lower", "ge"),
             "c29_upper": ("C.29", "printed", "ratio", 0.5, "ge"),  # root ≤ 2·argmin
             "c29_lower": ("C.29", "printed", "ratio", 2.0, "le")}  # root ≥ argmin/2


def c4_instance(x: dict) -> dict:
    return {"family": "c4-g", "gamma": _r(x["gamma"]), "eps_f": float(f"{10 ** x['log10_eps_f']:.4g}"),
            "eps_v": float(f"{10 ** x['log10_eps_v']:.4g}"), "N": 2 ** int(x["log2_N"]), "L_f": _r(x["L_f"]),
            "L_pi": _r(x["L_pi"]), "eta": float(f"{10 ** x['log10_eta']:.4g}")}


def evaluate_c4(claim: str, name: str, inst: dict) -> Evaluation:
    """One line of C.4 as ``verify.appendix_c.hstar_c28_c39.c4_results`` writes it, at the instance's
    (γ, ε_f, ε_v, N, L_f, L_π, η) and the other constants of ``bounds.symbols.DEFAULTS``: the argmin of
    g of (C.28) on ``H_GRID`` (real h in [0, 200)), the root of (C.29)–(C.30) and the ends of (C.39)
    (``bounds.hstar``). An argmin at the grid's end is only a lower limit of the true one (interval to ∞)."""
    from bounds import hstar as HS
    from verify.appendix_c.hstar_c28_c39 import H_GRID

    p = {k: float(inst[k]) for k in ("gamma", "eps_f", "eps_v", "N", "L_f", "L_pi", "eta")}
    g_log = HS.g_evaluator("explicit").log(**p, h=H_GRID)
    if not np.isfinite(g_log).any():
        raise Infeasible("g overflows on the whole grid")
    k = int(np.nanargmin(g_log))
    argmin, edge = float(H_GRID[k]), k == len(H_GRID) - 1
    root = float(HS.h_star_derivative_root(**p))
    if not math.isfinite(root):
        raise Infeasible("(C.29)–(C.30) has no positive root")
    claim_, form, what, end, direction = C4_BOUNDS[name]
    ends = HS.h_star_interval_np(**p) if form == "corrected" else HS.h_star_interval_paper_np(**p)
    lo_end, hi_end = (float(x) for x in ends)
    if what == "ratio":  # (C.29) read as root / argmin within a factor 2 (hstar_c28_c39), as argmin / root (finite)
        measured = argmin / root
        ci, bound = ((measured, math.inf) if edge else (measured, measured)), end
    else:
        measured = argmin if what == "argmin" else root
        ci = (measured, math.inf) if edge and what == "argmin" else (measured, measured)
        bound = hi_end if end == "upper" else lo_end
    line = f"{'argmin / root' if what == 'ratio' else what} {'≤' if direction == 'le' else '≥'} {end}"
    row = CheckResult(claim_, form, {**inst, "line": line, "bound": name,
                                     "argmin": argmin, "root": _r(root), "interval": [_r(lo_end), _r(hi_end)]},
                      measured, ci, bound, direction=direction,
                      note=f"g of (C.28) on h = 0..200 step 0.005 (argmin {argmin:.4g}{', at the grid end' if edge else ''}); "
                           f"root of (C.29)–(C.30) {root:.4g}; (C.39) {form} [{lo_end:.4g}, {hi_end:.4g}]; exact")
    rat = ratio(measured, bound) if direction == "le" else ratio(bound, measured)
    hyp = {"L_f < 1": True, "L_pi < 1": True, "0 < eta < 1/L": True, "argmin inside the grid": not edge}
    return Evaluation(row, rat, hyp)


# --- Lemma C.3's change of measure with κ, on the Gaussian scalar LQR ------------------------------

KAPPA_VARS = [Var("A", -1.0, 1.0), Var("B", -1.0, 1.0), Var("K", -1.5, 1.5), Var("sigma", 0.01, 1.0),
              Var("w", 0.01, 1.0), Var("z", 0.05, 2.0), Var("gamma", 0.5, 0.905)]
KAPPA_N, KAPPA_VERIFY_N = 5000, 200000


def kappa_instance(x: dict) -> dict:
    return {"family": "scalar-lqr-gaussian", **{k: _r(x[k]) for k in ("A", "B", "K", "sigma", "w", "z", "gamma")},
            "h": 1}


def kappa_step_row(inst: dict, n: int = KAPPA_N, seeds: tuple = (5, 6)) -> CheckResult:
    """Lemma C.3's step E_ζ[φ] ≤ κ·E_ν[φ] for the lemma's own φ at h = 1 (exact model), measured by
    ``verify.appendix_c.lemmas_c2_c3.kappa_step`` (E_ζ φ exact, E_ν φ and κ Monte Carlo) on any scalar
    LQR with Gaussian noise. γ ≤ 0.9 keeps ν's mixture (``LQR.nu_mixture``) short."""
    from verify.appendix_c.lemmas_c2_c3 import ScalarLQR, kappa_step

    m = ScalarLQR(inst["A"], inst["B"], inst["K"], inst["sigma"], inst["w"], inst["z"], inst["gamma"])
    if not m.gamma * (m.A + m.B * m.K0) ** 2 < 1 or m.K0 == 0:
        raise Infeasible("γ(A + BK)² ≥ 1 (ν not finite) or K = 0 (φ = 0)")
    k = kappa_step(m, n, seeds)
    return CheckResult("lemmaC.3", "printed", {**inst, "line": "E_ζ[φ] ≤ κ·E_ν[φ], φ of Lemma C.3 at h = 1",
                                               "noise": "gaussian", "kappa": _r(k.kappa), "N": n},
                       k.lhs, k.ci, k.bound, level=LEVEL,
                       note=f"{k.note} ({n} draws of ν), E_ζ φ exact; stationary Var s / z² = "
                            f"{m.W / (1 - (m.A + m.B * m.K0) ** 2) / m.z ** 2 if (m.A + m.B * m.K0) ** 2 < 1 else math.inf:.4g}")


def evaluate_kappa(claim: str, name: str, inst: dict) -> Evaluation:
    row = kappa_step_row(inst)
    M = inst["A"] + inst["B"] * inst["K"]
    hyp = {"A5.7 (kappa finite)": True, "gamma (A+BK)^2 < 1": True, "closed loop |A+BK| < 1": bool(abs(M) < 1),
           "exact model and critic": True, "Gaussian noise (nu has a density)": True}
    return Evaluation(row, ratio(row.measured, row.bound), hyp)


def reverify_kappa(claim: str, name: str, inst: dict) -> dict:
    row = kappa_step_row(inst, KAPPA_VERIFY_N, seeds=(15, 16))
    return reverified(row, KAPPA_VERIFY_N)


# --- Prop 5.4 on the sine family ---------------------------------------------------------------------

SINE_VARS = [Var("lam", -3.0, 3.0), Var("b", -1.0, 1.0), Var("c", 0.01, 1.0), Var("k", -1.5, 1.5),
             Var("sigma", 0.01, 1.0), Var("z", 0.05, 1.0), Var("gamma", 0.5, 0.99), Var("h", 0, 20, True),
             Var("estimator", 0, 1, True)]
SINE_N, SINE_VERIFY_N = 500, 20000


def sine_instance(x: dict) -> dict:
    return {"family": "sine", **{k: _r(x[k]) for k in ("lam", "b", "c", "k", "sigma", "z", "gamma")},
            "h": int(x["h"]), "estimator": ("dp", "dr")[int(x["estimator"])]}


def sine_row(inst: dict, name: str, n: int = SINE_N, seed: int = 5) -> tuple[CheckResult, dict]:
    from toy_mdps.chaotic import SineMDP
    from verify import measure

    try:
        p = SineMDP(inst["lam"], k=inst["k"], b=inst["b"], c=inst["c"], sigma=inst["sigma"], z=inst["z"],
                    gamma=inst["gamma"])
    except ValueError as err:
        raise Infeasible(str(err)) from err
    g = measure.sample_gradients(p, inst["h"], 0.0, n, inst["estimator"], seed=seed)
    vb = measure.variance_bound(g, LEVEL, seed=seed)
    bound = float(bounds.evaluate(name, h=inst["h"], **instances.bound_params(p, N=1.0)).value)
    lip = instances.lipschitz(p)
    hyp = {"certified interval (|b k| < 1)": True, "L_f < 1": bool(lip["L_fhat"] < 1), "L_pi < 1": bool(lip["L_pi"] < 1),
           "L_f": _r(lip["L_fhat"]), "L_pi": _r(lip["L_pi"])}
    row = CheckResult("prop5.4", _sine_form(name), {**inst, "bound": name, "N": 1}, vb.estimate, (vb.lower, vb.upper),
                      bound, note=f"Monte Carlo v_t(1), {n} samples, {vb.method}; N = 1 (both sides scale as 1/N)")
    return row, hyp


def _sine_form(name: str) -> str:
    return {"variance_printed": "printed", "variance_explicit": "explicit"}.get(name, "corrected")


def evaluate_sine(claim: str, name: str, inst: dict) -> Evaluation:
    row, hyp = sine_row(inst, name)
    return Evaluation(row, ratio(row.measured, row.bound), hyp)


def reverify_sine(claim: str, name: str, inst: dict) -> dict:
    row, _ = sine_row(inst, name, SINE_VERIFY_N, seed=17)
    return reverified(row, SINE_VERIFY_N)


# --- registry ------------------------------------------------------------------------------------

_V = ("variance_printed",), ("variance_explicit",), ("variance_corrected", "variance_printed_corrected")
#: claim -> form -> bound names (the first is the default)
TARGETS = {
    "lemmaC.1": {"printed": ("c1a_printed", "c1s_printed"), "corrected": ("c1a_corrected", "c1s_corrected")},
    "lemmaC.2": {"printed": ("c2_printed",), "identity": ("c2_identity",)},
    "lemmaC.3": {"printed": ("c3_printed",), "identity": ("c3_identity",)},
    # the change of measure; its Cauchy–Schwarz form E_ζφ ≤ κ(E_νφ²)^{1/2} is a theorem, not searched
    "lemmaC.3-kappa": {"printed": ("kappa_step",)},
    "C.9": {"printed": ("c9_printed",), "corrected": ("c9_corrected",)},
    **{c: claim_targets(c) for c in ("prop5.2", "cor5.12")},
    "prop5.10": {"printed": ("hstar_paper",), "corrected": ("hstar_interval_upper", "hstar_interval_lower")},
    "prop5.4-sine": dict(zip(("printed", "explicit", "corrected"), _V)),
    **{c: {f: tuple(n for n, v in C4_BOUNDS.items() if v[:2] == (c, f)) for f in ("printed", "corrected")
           if any(v[:2] == (c, f) for v in C4_BOUNDS.values())} for c in ("C.29", "C.39")},
    **{c: {f: tuple(n for n, v in VAR_BOUNDS.items() if v[:2] == (c, f)) for f in ("printed", "corrected", "explicit")
           if any(v[:2] == (c, f) for v in VAR_BOUNDS.values())} for c in VAR_CLAIMS},
    **{c: {f: tuple(n for n, cf in CHAIN_BOUNDS.items() if cf == (c, f)) for f in ("printed", "corrected")
           if any(cf == (c, f) for cf in CHAIN_BOUNDS.values())} for c in sorted({c for c, _ in CHAIN_BOUNDS.values()})},
}

#: (quick, full) evaluation budgets of the report and the tests for the claims added here, sized so that
#: a report row takes about 10 s on the shared 2-core machine (``verify.search.SLOW_BUDGETS`` reads it)
#: (one evaluation: 0.04–0.1 s on the variance chain, 0.3 s with (C.16)'s bootstrap or κ, 0.08 s on C.4;
#: the collapse gets 200, the budget at which seed 0 finds its counterexample, ≈ 13 s)
BUDGETS = {**{c: (20, 120) for c in ("C.14", "C.15", "C.17")}, "C.16-collapse": (20, 200), "C.16": (10, 30),
           "C.29": (20, 80), "C.39": (20, 80), "lemmaC.3-kappa": (10, 25)}

_SCALAR = Family(SCALAR_VARS, scalar_instance, evaluate_scalar, "h",
                 ({"A": 0.8, "B": 0.5, "K": -0.3, "sigma": 0.1, "w": 0.05, "z": 0.5, "gamma": 0.9, "h": 1},))
_OFFSET = Family(OFFSET_VARS, offset_instance, evaluate_convergence, "H",
                 ({"A": 0.5, "B": 1.0, "K": -0.2, "sigma": 0.3, "w": 0.1, "gamma": 0.9, "H": 5, "T": 64,
                   "eta_L": 0.5},), reverify_convergence)
_PATH = Family(PATH_VARS, path_instance, evaluate_path, "i",
               ({"A": 0.6, "B": 0.69, "c": 0.0, "K": 0.95, "sigma": 0.1, "wiggle": 0.09, "s0_scale": 2.0,
                 "saturate": 0, "i": 40},), reverify_path)
_CHAIN_SEEDS = ({"A": 0.8, "B": 0.5, "K": -0.3, "sigma": 0.1, "w": 0.05, "z": 0.5, "gamma": 0.9, "eps_model": 0.1,
                 "delta_critic": 0.5, "h": 1},)
FAMILIES = {
    "lemmaC.1": _PATH,
    # (C.9) is one chain-rule step: i ≤ 10 shows any failure (autograd's partials cost grows with i)
    "C.9": dataclasses.replace(_PATH, vars=PATH_VARS[:-1] + [Var("i", 1, 10, True)],
                               seeds=({**_PATH.seeds[0], "i": 10},)),
    "lemmaC.2": _SCALAR, "lemmaC.3": _SCALAR,
    "lemmaC.3-kappa": Family(KAPPA_VARS, kappa_instance, evaluate_kappa, None,
                             ({"A": 0.8, "B": 0.5, "K": -0.3, "sigma": 0.1, "w": 0.05, "z": 0.5, "gamma": 0.9},),
                             reverify_kappa),
    "prop5.2": _OFFSET, "cor5.12": _OFFSET,
    **{c: Family(CHAIN_VARS, chain_instance, evaluate_chain, "h", _CHAIN_SEEDS, reverify_chain)
       for c in ("C.19", "C.20", "C.21", "C.22", "C.23", "C.24")},
    # the variance chain's own instances have exact model and critic; the search adds both errors
    **{c: Family(CHAIN_VARS, chain_instance, evaluate_variance, "h",
                 ({**_CHAIN_SEEDS[0], "eps_model": 0.0, "delta_critic": 0.0, "h": 3},), reverify_variance)
       for c in VAR_CLAIMS},
    **{c: Family(C4_VARS, c4_instance, evaluate_c4, None,
                 tuple({"gamma": s["gamma"], "log10_eps_f": math.log10(s["eps_f"]), "log10_eps_v": math.log10(s["eps_v"]),
                        "log2_N": 8, "L_f": 0.9, "L_pi": 0.9, "log10_eta": -2.0}
                       for s in ({"gamma": 0.5, "eps_f": 1e-3, "eps_v": 1e4}, {"gamma": 0.9, "eps_f": 1e-3, "eps_v": 1e2})))
       for c in ("C.29", "C.39")},
    "prop5.10": Family(HSTAR_VARS, hstar_instance, evaluate_hstar, None,
                       ({"A": 0.5, "B": 0.5, "K": -0.3, "sigma": 0.1, "w": 0.05, "z": 0.5, "gamma": 0.9,
                         "eps_f": 0.1, "delta_v": 1.0, "N": 16},)),
    "prop5.4-sine": Family(SINE_VARS, sine_instance, evaluate_sine, "h",
                           ({"lam": 2.955, "b": 0.5, "c": 0.1, "k": -0.3, "sigma": 0.1, "z": 0.5, "gamma": 0.9,
                             "h": 10},), reverify_sine),
}
