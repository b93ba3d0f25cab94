"""Proposition 5.8 (gradient bias, eq. 5.3) and Remark 5.9 (which μ to sample) against exact b_t.

Instance: the contracting LQR (closed-form ∇J, certified constants) with a model error of
controlled size, Â = A + ε_f (so ε_f of (4.7) is exactly that, under either reading), and the
critic Q̂ = Q^π with its quadratic form perturbed by δ_v (``LQR.critic_with_error``; the estimator
and ε_v both read it from ``p.critic``). ε_f and δ_v are varied independently, each through 0;
h ∈ {0, 1, 3, 10, ∞}, β ∈ {0, 0.5, 1}, estimators RP-DP (4.2) and RP-DR (4.5). κ is taken at its
always-valid upper bound (1 − γ)^{-1/2} (uniform noise has no closed-form ν density).

Checks:
- ``bound_checks``: b_t ≤ bound over the ε grid, one row per (estimator, form, β, h);
- ``zero_checks``: at ε_f = ε_v = 0 the printed bound is 0, so it claims b_t = 0, one row per (β, h):
  RP-DP and RP-DR have equal means with an exact model and critic;
- ``sensitivity_checks``: the dependence (5.3) claims: the bias *caused* by the model error,
  ‖E ĝ(ε_f) − E ĝ(0)‖, is at most the bound's part B(ε_f, ε_v) − B(0, 0) carried by the errors Â
  realises (ε_v > 0 at h ≥ 1 too: ŝ_h follows Â); likewise for the critic error δ_v;
- ``remark59_checks``: for h = 0, 3, ∞, whether the start distribution the remark recommends (ν, a
  mixture, ζ) gives the smallest bias, exact (closed form, exact model and critic), under both
  readings of the ν-samples (as printed, and × 1/(1 − γ), erratum E13's fix).

Every row is exact, no Monte Carlo. E ĝ of RP-DP and RP-DR, with the model error and the perturbed
critic, is ``toy_mdps.lqr_exact.moments`` (``mean_gradient``); b_t = ‖∇J − E ĝ‖ and the shifts
‖E ĝ(ε) − E ĝ(0)‖ follow from it. h = ∞ is full BPTT as the paper means it, unrolled
``HORIZON_EXACT`` steps (γ^400 < 1e-18; at ε = 0, β = 0 the closed form gives b_t ≈ 6e-17), and
the bound is evaluated at the same number of steps (at h = ∞ itself (5.3) is ∞·ε_f).

ε_f is exact. ε_v of (4.8) (coupled reading: ŝ_h follows f̂ from the same s_0 ∼ ν and noise, so
ε_v > 0 also at δ_v = 0 when ε_f > 0 and h ≥ 1) is known only to lie in the exact interval
[ε_v⁻, ε_v⁺] of ``lqr_exact.eps_v_interval`` (Hölder and Jensen on exact moments). Every bound here
is affine in ε_v with a nonnegative coefficient, so over that interval it ranges over
[B(ε_v⁻), B(ε_v⁺)] (``bound_range``). A row holds only if b_t < B(ε_v⁻), the smallest value the bound
can take, and is violated only if b_t > B(ε_v⁺), the largest; otherwise it is inconclusive. (The
lower end is the conservative one for "holds", the upper end for "violated".) In the row this is
``stats.widen``: bound = B(ε_v⁺) + ``ROUNDING``, interval [b_t, b_t + B(ε_v⁺) − B(ε_v⁻)], level 1
(nothing in it is random); a violation is certain, p = 0 in the Holm family. Every comparison adds
``ROUNDING`` to the bound: an unbiased case comes out of the closed form as b ≈ 6e-17.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import bounds
from bounds import bias as BB
from bounds.numeric import FLOAT_MAX, Evaluator
from bounds.symbols import h as H_SYMBOL
from toy_mdps import lqr_exact
from toy_mdps.lqr import LQR
from verify import instances, stats
from verify.mutations import changes
from verify.registry import controls, figure, section, worst
from verify.verdict import ZERO_BOUND, CheckResult, Control

#: label -> (form, constructor): the claim's bounds as ``bounds`` registers them
BOUNDS: dict[str, tuple[str, Callable]] = {label: (b.form, b.fn) for label, b in bounds.of_claim("prop5.8").items()}
#: "O" for the forms with a hidden constant (``bounds.kind``)
KIND = {name: bounds.kind(fn()) for name, (_, fn) in BOUNDS.items()}
INST = "lqr-contracting"
HS = (0, 1, 3, 10, math.inf)
BETAS = (0.0, 0.5, 1.0)
ESTIMATORS = ("dp", "dr")
#: the β Remark 5.9 recommends per kind of h
RECOMMENDED = {0: 1.0, 3: 0.5, math.inf: 0.0}
HORIZON_EXACT = 400  # h = ∞ unrolls 400 steps, in E ĝ and in the bound: γ^400 < 1e-18
#: the closed form's rounding: an unbiased case comes out as b ≈ 6e-17 (h = ∞, β = 0), so a row
#: compares b with bound + ROUNDING (every other b here is ≥ 2.1e-4, every other shift ≥ 1.7e-3)
ROUNDING = ZERO_BOUND
#: every row is exact: its interval is certain, not a confidence interval
EXACT = 1.0


@dataclass(frozen=True)
class Config:
    eps_f: tuple[float, ...]  # model errors, with δ_v = 0
    delta_v: tuple[float, ...]  # critic perturbations, with ε_f = 0


QUICK = Config(eps_f=(0.0, 0.05, 0.1), delta_v=(0.0, 0.5, 1.0))
FULL = Config(eps_f=(0.0, 0.05, 0.1, 0.2), delta_v=(0.0, 0.5, 1.0, 2.0))


def config(quick: bool) -> Config:
    return QUICK if quick else FULL


@lru_cache(maxsize=None)
def problem(eps_f: float, delta_v: float) -> LQR:
    """The LQR with Â = A + ε_f and Q̂ = Q^π perturbed by δ_v."""
    _, kwargs, _ = instances.SPECS[INST]
    return LQR.with_errors(**kwargs, model_error=eps_f, critic_error=delta_v)


def _key(h: float) -> str:
    return "inf" if math.isinf(h) else str(int(h))


def _steps(h: float) -> int:
    return HORIZON_EXACT if math.isinf(h) else int(h)


@lru_cache(maxsize=None)
def mean_gradient(eps_f: float, delta_v: float, h: float, beta: float, estimator: str) -> np.ndarray:
    """E ĝ of RP-DP (4.2) or RP-DR (4.5) on ``problem(eps_f, delta_v)``, exact
    (``lqr_exact.moments``: model Â, critic form ``p.critic.H``; h = ∞ unrolled ``HORIZON_EXACT`` steps)."""
    return lqr_exact.moments(problem(eps_f, delta_v), h, beta, estimator, horizon_inf=HORIZON_EXACT).mean


@lru_cache(maxsize=None)
def true_grad() -> np.ndarray:
    """∇J of the true MDP (the same for every ε: only Â and Q̂ change)."""
    return problem(0.0, 0.0).grad_J()["K.weight"].reshape(-1)


def bias(eps_f: float, delta_v: float, h: float, beta: float, estimator: str) -> float:
    """b_t = ‖∇J − E ĝ‖, exact."""
    return float(np.linalg.norm(true_grad() - mean_gradient(eps_f, delta_v, h, beta, estimator)))


def shift(eps_f: float, delta_v: float, h: float, beta: float, estimator: str) -> float:
    """‖E ĝ(ε) − E ĝ(0)‖, exact: the part of the bias the errors cause."""
    return float(np.linalg.norm(mean_gradient(eps_f, delta_v, h, beta, estimator)
                                - mean_gradient(0.0, 0.0, h, beta, estimator)))


@lru_cache(maxsize=None)
def exact_errors(eps_f: float, delta_v: float, h: float) -> tuple[float, tuple[float, float]]:
    """(ε_f, [ε_v⁻, ε_v⁺]) at step h: ε_f exact, ε_v in its exact interval (``lqr_exact.eps_v_interval``,
    coupled reading, ŝ_h by f̂); (0, 0) at h = ∞: no critic."""
    p = problem(eps_f, delta_v)
    return p.eps_f(), ((0.0, 0.0) if math.isinf(h) else lqr_exact.eps_v_interval(p, int(h)))


@lru_cache(maxsize=None)
def _evaluator(name: str, change: str = "") -> Evaluator:
    """The bound ``name``, with the structural ``change`` of ``verify.mutations`` if given."""
    expr = BOUNDS[name][1]()
    return Evaluator(changes(expr, H_SYMBOL)[change] if change else expr, f"{name} {change}".strip())


def bound_value(name: str, ef: float, dv: float, h: float, beta: float, errs: tuple[float, float],
                change: str = "") -> float:
    """The bound on the problem with Â = A + ``ef`` and critic perturbation ``dv``, at its own constants
    (L_f̂ of Â, L_Q̂ of the perturbed critic) and the errors ``errs`` = (ε_f, ε_v); h = ∞ at
    ``HORIZON_EXACT`` steps, as E ĝ."""
    p = problem(ef, dv)
    params = (instances.corrected_bias_params if BOUNDS[name][1].__name__ in BB.BOTH_DYNAMICS else instances.bound_params)(
        p, eps_f=errs[0], eps_v=errs[1], kappa=1 / math.sqrt(1 - p.gamma), beta=beta)
    return float(_evaluator(name, change)(h=_steps(h), **params).value)


def bound_range(name: str, ef: float, dv: float, h: float, beta: float, change: str = "") -> tuple[float, float]:
    """[B(ε_v⁻), B(ε_v⁺)]: the bound over the exact ε_v interval of ``exact_errors`` (the bound is affine in ε_v,
    coefficient ≥ 0: ``test_bounds_affine_and_nondecreasing_in_eps_v``)."""
    e_f, (lo, hi) = exact_errors(ef, dv, h)
    b_lo = bound_value(name, ef, dv, h, beta, (e_f, lo), change)
    return (b_lo, b_lo) if lo == hi else (b_lo, bound_value(name, ef, dv, h, beta, (e_f, hi), change))


def exact_row(claim: str, form: str, inst: dict, measured: float, bound: tuple[float, float],
              note: str, kind: str = "explicit") -> CheckResult:
    """measured ≤ bound, measured exact and the bound known to lie in [lo, hi]: holds if measured <
    lo + ROUNDING, violated if measured > hi + ROUNDING, else inconclusive (module docstring)."""
    lo, hi = bound
    ci = (measured, measured) if lo == hi else stats.widen((measured, measured), measured, (lo, hi), hi)
    return CheckResult(claim, form, inst, measured, ci, hi + ROUNDING, level=EXACT, kind=kind,
                       note=f"{note}; exact (closed form), against bound + {ROUNDING:g} (rounding)"
                       + ("" if lo == hi else f"; bound over the exact ε_v interval: [{lo:.6g}, {hi:.6g}]"))


def _grid(quick: bool):
    cfg = config(quick)
    return [(e, 0.0) for e in cfg.eps_f] + [(0.0, d) for d in cfg.delta_v if d]


def _inst(estimator, beta, h, **more) -> dict:
    return {"mdp": INST, **instances.SPECS[INST][1], "gamma": problem(0, 0).gamma, "estimator": estimator,
            "beta": beta, "h": _key(h), **more}


def _errs(ef: float, dv: float, h: float) -> dict:
    e_f, ev = exact_errors(ef, dv, h)
    return {"eps_f": round(e_f, 4), "eps_v": [round(e, 4) for e in ev]}


def _h_note(h: float) -> str:
    return f"; h = ∞: full BPTT, {HORIZON_EXACT} steps" if math.isinf(h) else ""


def bound_check(name: str, estimator: str, beta: float, h: float, quick: bool, change: str = "") -> CheckResult:
    """b_t ≤ bound(ε_f, ε_v) over the ε grid at (estimator, β, h); the deciding row. ``change``: the
    bound with one structural change of ``verify.mutations`` (a negative control). Grid points where the
    real bound is +∞ (the corrected (C.24) where γρ ≥ 1) are left out: a row there cannot fail."""
    grid = [(ef, dv) for ef, dv in _grid(quick) if bound_range(name, ef, dv, h, beta)[0] < FLOAT_MAX]
    return worst([exact_row("prop5.8", BOUNDS[name][0], _inst(estimator, beta, h, bound=name, **_errs(ef, dv, h)),
                            bias(ef, dv, h, beta, estimator), bound_range(name, ef, dv, h, beta, change),
                            "κ = (1 − γ)^{-1/2}; constants of the perturbed model and critic" + _h_note(h)
                            + f"; ε grid {grid}" + (f"; control: {change}" if change else ""), KIND[name])
                  for ef, dv in grid])


def zero_check(beta: float, h: float) -> CheckResult:
    """At ε_f = ε_v = 0 the printed (5.3) is 0: b_t ≤ 0 is what it claims."""
    inst = {**_inst("dp = dr (exact model and critic: equal means)", beta, h), "eps_f": 0, "eps_v": 0}
    return exact_row("prop5.8.zero-error", "printed", inst, bias(0.0, 0.0, h, beta, "dp"),
                     bound_range("(5.3)", 0.0, 0.0, h, beta),
                     "exact model and critic: (5.3) says the bias vanishes" + _h_note(h), KIND["(5.3)"])


def sensitivity_check(name: str, which: str, estimator: str, beta: float, h: float, quick: bool,
                      scale: float = 1.0) -> CheckResult:
    """The bias caused by ε_f (``which="f"``) or ε_v (``"v"``) against the bound's part in it:
    ‖E ĝ(ε) − E ĝ(0)‖ ≤ scale · (B(ε) − B(0)), deciding row over the grid's nonzero ε. B(ε) takes the
    errors the perturbation realises: at ε_f > 0 and h ≥ 1 that includes ε_v > 0 (ŝ_h follows Â). Grid
    points where the bound is +∞ are left out; None if every one is."""
    cfg, rows = config(quick), []
    grid = [(e, 0.0) for e in cfg.eps_f if e] if which == "f" else [(0.0, d) for d in cfg.delta_v if d]
    for ef, dv in grid:
        # both at the perturbed problem's constants: the part of its bound that its errors carry
        zero = bound_value(name, ef, dv, h, beta, (0.0, 0.0))
        if zero >= FLOAT_MAX:  # the bound is +∞ (γρ ≥ 1, outside the corrected form's hypotheses): no part to compare
            continue
        part = tuple(scale * (b - zero) for b in bound_range(name, ef, dv, h, beta))
        rows.append(exact_row(f"prop5.8.eps_{which}", BOUNDS[name][0],
                              _inst(estimator, beta, h, bound=name, **_errs(ef, dv, h)),
                              shift(ef, dv, h, beta, estimator), part,
                              f"bias caused by ε_{which} vs the bound's ε_{which} part B(ε) − B(0) at the perturbed "
                              "problem's constants" + (f" × {scale:g}" if scale != 1 else "") + _h_note(h), KIND[name]))
    return worst(rows)


#: the two readings of ν-samples: as (3.1) prints them, and rescaled by 1/(1 − γ) (erratum E13's fix)
CONVENTIONS = {"unscaled": "ν-samples as printed (no 1/(1 − γ); E13 not applied)",
               "scaled": "ν-samples × 1/(1 − γ) (E13's fix applied)"}


#: structural controls of Remark 5.9 (``remark59_controls``): the exact bias recomputed with one careless
#: change, by description; E13's convention is the third (a scaled row redone unscaled)
GAMMA_SHIFT = "γ^h → γ^{h+1} (the terminal critic discounted one step too many)"
SWAP = "β ↔ 1 − β (the weights of ν and ζ swapped)"
E13_DROPPED = "ν-samples without the 1/(1 − γ) of E13"


@lru_cache(maxsize=None)
def exact_means(h: float, gamma_shift: bool = False) -> tuple[float, float, float]:
    """(∇J, E_ζ ĝ, E_ν ĝ) in closed form on the scalar LQR with exact model and critic (RP-DP and RP-DR
    coincide in mean there); h = ∞ unrolls ``HORIZON_EXACT`` steps (γ^400 < 1e-18). ``gamma_shift``:
    the estimator's terminal critic weighted γ^{h+1} instead of γ^h (a control, ``GAMMA_SHIFT``)."""
    from verify.appendix_c.lemmas_c2_c3 import ScalarLQR, _d, grad_J

    m = ScalarLQR.from_spec(INST)
    hh = HORIZON_EXACT if math.isinf(h) else int(h)
    Kc = torch.tensor(m.K0, dtype=torch.float64)

    def mve(K, var0):
        v = m.mve(K, Kc, hh, var0)
        if gamma_shift:  # (4.1)'s γ^h Q̂(ŝ_h, â_h) → γ^{h+1} Q̂(ŝ_h, â_h)
            v = v + (m.gamma ** (hh + 1) - m.gamma ** hh) * m.EQ(Kc, K, m.var_seq(K, var0, hh)[hh])
        return v

    grad = grad_J(m)
    e_zeta, = _d(lambda K: mve(K, m.z ** 2), m.K0)
    e_nu, = _d(lambda K: mve(K, m.nu_var(m.K0)), m.K0)
    return grad, e_zeta, e_nu


def _signed_bias(h: float, beta: float, convention: str, change: str = "") -> float:
    """∇J − (β s E_ν ĝ + (1 − β) E_ζ ĝ), s = 1/(1 − γ) under the ``scaled`` convention; ``change``:
    ``GAMMA_SHIFT`` or ``SWAP`` (a control)."""
    grad, e_zeta, e_nu = exact_means(h, change == GAMMA_SHIFT)
    s = 1 / (1 - problem(0.0, 0.0).gamma) if convention == "scaled" else 1.0
    w = 1 - beta if change == SWAP else beta
    return grad - (w * s * e_nu + (1 - w) * e_zeta)


def exact_bias(h: float, beta: float, convention: str, change: str = "") -> float:
    """b(β) = |∇J − (β s E_ν ĝ + (1 − β) E_ζ ĝ)|, s = 1/(1 − γ) under the ``scaled`` convention."""
    return abs(_signed_bias(h, beta, convention, change))


def _best_beta(h: float, convention: str, change: str = "") -> float:
    """argmin over β ∈ [0, 1] of the exact b(β) (|affine in β| in the scalar case)."""
    s0, s1 = _signed_bias(h, 0.0, convention, change), _signed_bias(h, 1.0, convention, change)
    return float(np.clip(s0 / (s0 - s1), 0.0, 1.0)) if s0 != s1 else 0.0


def remark59_check(h: float, convention: str = "unscaled", change: str = "") -> CheckResult:
    """Remark 5.9 at exact model and critic, exact: sample from ν at h = 0 (β = 1 is the best β), from ζ at
    h = ∞ (β = 0 is), from a mixture at finite h > 0 (some β ∈ (0, 1) beats both β = 0 and β = 1).

    The row's measured value is b(recommended) − min_β b(β) ≤ 0 for h = 0, ∞, and
    min(b(0), b(1)) − min_β b(β) > 0 (``ge``) for the mixture; β ranges over [0, 1]. ``change``: the
    bias with ``GAMMA_SHIFT`` or ``SWAP`` (a structural control)."""
    best = _best_beta(h, convention, change)
    b = {beta: exact_bias(h, beta, convention, change) for beta in (0.0, 0.5, 1.0)}
    b_min = exact_bias(h, best, convention, change)
    measured = {f"b(beta={beta})": round(x, 5) for beta, x in b.items()}
    inst = {"mdp": INST, **instances.SPECS[INST][1], "gamma": problem(0, 0).gamma, "h": _key(h),
            "estimator": "dp = dr (exact model)", "convention": CONVENTIONS[convention], **measured,
            "best beta": round(best, 4), **({"control": change} if change else {})}
    note = "exact (closed form); model and critic exact" + (f"; control: {change}" if change else "")
    if h in RECOMMENDED and RECOMMENDED[h] in (0.0, 1.0):
        rec = RECOMMENDED[h]
        d = exact_bias(h, rec, convention, change) - b_min
        return CheckResult("remark5.9", "printed", {**inst, "recommended": f"beta = {rec:g}"}, d, (d, d), ROUNDING,
                           level=EXACT, note=note + f"; b(β = {rec:g}) − min_β b(β)")
    d = min(b[0.0], b[1.0]) - b_min
    return CheckResult("remark5.9", "printed", {**inst, "recommended": "a mixture, beta in (0, 1)"}, d, (d, d), ROUNDING,
                       direction="ge", level=EXACT, note=note + "; min(b(0), b(1)) − min_β b(β) (> 0: a mixture is best)")


def bound_checks(quick):
    return [bound_check(n, e, beta, h, quick) for n in BOUNDS for e in ESTIMATORS for beta in BETAS for h in HS]


def _present(rows):
    return [r for r in rows if r is not None]


def zero_checks(quick):
    return [zero_check(beta, h) for beta in BETAS for h in HS]


def sensitivity_checks(quick):
    # (5.3) corrected has no ε_f factor (erratum E5): it attributes no part of the bias to ε_f
    return _present([sensitivity_check(n, "f", e, beta, h, quick) for n in BOUNDS if n != "(5.3) corrected"
             for e in ESTIMATORS for beta in BETAS for h in HS if h != 0]
            + [sensitivity_check(n, "v", e, beta, h, quick) for n in BOUNDS for e in ESTIMATORS for beta in BETAS
               for h in HS if not math.isinf(h)])


def remark59_checks(quick):
    return [remark59_check(h, c) for h in RECOMMENDED for c in CONVENTIONS]


@section("prop5.8", "Proposition 5.8: gradient bias", order=30)
def results(quick: bool) -> list[CheckResult]:
    """Every row (Holm's family-wise verdicts are added once, by ``verify.report``; exact violations
    have p = 0)."""
    return bound_checks(quick) + zero_checks(quick) + sensitivity_checks(quick)


@controls("prop5.8")
def structural_controls(quick: bool) -> list[Control]:
    """Each bound with each applicable change of ``verify.mutations``, on every (estimator, β, h) where
    the real bound holds, against the same measurement."""
    out = []
    for name in BOUNDS:
        for change in changes(BOUNDS[name][1](), H_SYMBOL):
            for e in ESTIMATORS:
                for beta in BETAS:
                    for h in HS:
                        real = bound_check(name, e, beta, h, quick)
                        if real.holds is True:
                            out.append(Control(change, real, bound_check(name, e, beta, h, quick, change=change)))
    return out


@section("remark5.9", "Remark 5.9: which start distribution μ minimises the bias", order=35)
def remark59_results(quick: bool) -> list[CheckResult]:
    return remark59_checks(quick)


@controls("remark5.9")
def remark59_controls(quick: bool) -> list[Control]:
    """On every holding Remark 5.9 row: the exact bias with ``GAMMA_SHIFT`` and with ``SWAP``, and a
    scaled row redone without E13's 1/(1 − γ) (``E13_DROPPED``)."""
    out = []
    for h in RECOMMENDED:
        for convention in CONVENTIONS:
            real = remark59_check(h, convention)
            if real.holds is True:
                out += [Control(change, real, remark59_check(h, convention, change)) for change in (GAMMA_SHIFT, SWAP)]
                if convention == "scaled":
                    out.append(Control(E13_DROPPED, real, remark59_check(h, "unscaled")))
    return out


@figure("prop5.8")
def bias_figure(quick: bool, out: Path) -> list[Path]:
    """Exact b_t against ε_f (δ_v = 0) and against ε_v (ε_f = 0; the bar is its exact interval), RP-DP,
    β = 0.5, per h."""
    import matplotlib.pyplot as plt

    cfg = config(quick)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, which in zip(axes, ("f", "v")):
        grid = [(e, 0.0) for e in cfg.eps_f] if which == "f" else [(0.0, d) for d in cfg.delta_v]
        for h in HS:
            errs = [exact_errors(ef, dv, h) for ef, dv in grid]
            if which == "f":
                xs, xerr = [e_f for e_f, _ in errs], None
            else:
                xs = [(lo + hi) / 2 for _, (lo, hi) in errs]
                xerr = [[(hi - lo) / 2 for _, (lo, hi) in errs]] * 2
            ax.errorbar(xs, [bias(ef, dv, h, 0.5, "dp") for ef, dv in grid], xerr=xerr, fmt=".-", capsize=2,
                        label=f"h={_key(h)}")
        ax.set_xlabel(f"ε_{which}")
        ax.set_ylabel("exact b_t")
        ax.set_title(f"bias vs ε_{which} (RP-DP, β = 0.5, {INST})", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    path = out / "prop58_bias_vs_eps.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]
