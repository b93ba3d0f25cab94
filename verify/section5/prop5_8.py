"""Proposition 5.8 (gradient bias, eq. 5.3) and Remark 5.9 (which μ to sample) against measured b_t.

Instance: the contracting LQR (closed-form ∇J, certified constants) with a model error of
controlled size, Â = A + ε_f (so ε_f of (4.7) is exactly that, under either reading), and the
critic Q̂ = Q^π with its quadratic form perturbed by δ_v (``LQR.critic_with_error``), whose ε_v of
(4.8) is measured at step h (coupled reading). ε_f and ε_v are varied independently, each through
0; h ∈ {0, 1, 3, 10, ∞}, β ∈ {0, 0.5, 1}, estimators RP-DP (4.2) and RP-DR (4.5). κ is taken at its
always-valid upper bound (1 − γ)^{-1/2} (uniform noise has no closed-form ν density).

Checks:
- ``bound_checks``: b_t ≤ bound over the ε grid, one row per (estimator, form, β, h);
- ``zero_checks``: at ε_f = ε_v = 0 the printed bound is 0, so it claims b_t = 0; b_t there is exact
  (closed form, ``exact_bias``), one row per (β, h): RP-DP and RP-DR have equal means with an exact
  model and critic;
- ``sensitivity_checks``: the dependence (5.3) claims: the bias *caused* by the model error,
  ‖E ĝ(ε_f) − E ĝ(0)‖, measured with common random numbers, is at most the bound's ε_f part
  B(ε_f, 0) − B(0, 0); likewise for ε_v;
- ``remark59_checks``: for h = 0, 3, ∞, whether the start distribution the remark recommends (ν, a
  mixture, ζ) gives the smallest bias, exact (closed form, exact model and critic), under both
  readings of the ν-samples (as printed, and × 1/(1 − γ), erratum E13's fix).

Wherever the estimator sees no error (ε_f = 0 or h = 0, where the model is not called; and δ_v = 0
or h = ∞, where the critic is not), b_t is the closed form ``exact_bias`` (h = ∞ as the paper means
it, full BPTT, unrolled ``HORIZON_EXACT`` steps), compared with the bound + ``ROUNDING``; elsewhere
it is Monte Carlo (``HORIZON_INF`` steps at h = ∞).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from bounds import bias as BB
from bounds.numeric import Evaluator
from bounds.symbols import h as H_SYMBOL
from toy_mdps.lqr import LQR
from verify import instances, measure, stats
from verify.mutations import changes
from verify.registry import controls, figure, section, worst
from verify.stats import LEVEL
from verify.verdict import CheckResult, Control

BOUNDS: dict[str, tuple[str, Callable]] = {
    "(5.3)": ("printed", BB.bias_printed),
    "(C.24)": ("explicit", BB.bias_explicit),
    "(C.24) corrected": ("corrected", BB.bias_corrected),
    "(5.3) corrected": ("corrected", BB.bias_printed_corrected),
}
INST = "lqr-contracting"
HS = (0, 1, 3, 10, math.inf)
BETAS = (0.0, 0.5, 1.0)
ESTIMATORS = ("dp", "dr")
#: the β Remark 5.9 recommends per kind of h
RECOMMENDED = {0: 1.0, 3: 0.5, math.inf: 0.0}
HORIZON_INF = 100  # h = ∞ unrolls 100 steps: γ^100 < 3e-5
HORIZON_EXACT = 400  # h = ∞ in the closed forms
#: the closed form's rounding: an unbiased case comes out as b ≈ 6e-17 (h = ∞, β = 0), so an exact
#: row compares b with bound + ROUNDING (the smallest nonzero exact b here is 0.0117)
ROUNDING = 1e-12


@dataclass(frozen=True)
class Config:
    eps_f: tuple[float, ...]  # model errors, with δ_v = 0
    delta_v: tuple[float, ...]  # critic perturbations, with ε_f = 0
    samples: int


QUICK = Config(eps_f=(0.0, 0.05, 0.1), delta_v=(0.0, 0.5, 1.0), samples=4000)
FULL = Config(eps_f=(0.0, 0.05, 0.1, 0.2), delta_v=(0.0, 0.5, 1.0, 2.0), samples=10000)


def config(quick: bool) -> Config:
    return QUICK if quick else FULL


@lru_cache(maxsize=None)
def problem(eps_f: float, delta_v: float) -> LQR:
    """The LQR with Â = A + ε_f and Q̂ = Q^π perturbed by δ_v."""
    _, kwargs, _ = instances.SPECS[INST]
    p = LQR(**kwargs, A_hat=kwargs["A"] + eps_f)
    if delta_v:
        p.critic = p.critic_with_error(delta_v, seed=0)
    return p


def _key(h: float) -> str:
    return "inf" if math.isinf(h) else str(int(h))


@lru_cache(maxsize=None)
def grads(eps_f: float, delta_v: float, h: float, beta: float, estimator: str, quick: bool) -> np.ndarray:
    """Per-sample gradients; the seed depends on (h, β, estimator) only, so different errors share
    start states and noise (common random numbers)."""
    seed = zlib.crc32(f"{_key(h)}/{beta}/{estimator}".encode())  # not hash(): salted per process
    return measure.sample_gradients(problem(eps_f, delta_v), h, beta, config(quick).samples, estimator,
                                    seed=seed, horizon_inf=HORIZON_INF).numpy()


@lru_cache(maxsize=None)
def errors(eps_f: float, delta_v: float, h: float) -> tuple[float, float]:
    """(ε_f, ε_v) realised at step h (ε_v by Monte Carlo, coupled reading; 0 at h = ∞: no critic)."""
    p = problem(eps_f, delta_v)
    if math.isinf(h) or not delta_v:
        return p.eps_f(), 0.0
    return p.eps_f(), p.eps_v(p.critic, int(h), "coupled", n=20000, seed=0)[0]


@lru_cache(maxsize=None)
def _evaluator(name: str, change: str = "") -> Evaluator:
    """The bound ``name``, with the structural ``change`` of ``verify.mutations`` if given."""
    expr = BOUNDS[name][1]()
    return Evaluator(changes(expr, H_SYMBOL)[change] if change else expr, f"{name} {change}".strip())


def bound_value(name: str, ef: float, dv: float, h: float, beta: float, errs: tuple[float, float] | None = None,
                change: str = "") -> float:
    """The bound on the problem with Â = A + ``ef`` and critic perturbation ``dv``: its own constants
    (L_f̂ of Â, L_Q̂ of the perturbed critic) and its realised (ε_f, ε_v) at step h, or ``errs``.
    h = ∞ is evaluated at the unrolled ``HORIZON_INF`` steps (the estimator actually used; at h = ∞
    itself (5.3) is ∞·ε_f)."""
    p = problem(ef, dv)
    e_f, e_v = errors(ef, dv, h) if errs is None else errs
    h = HORIZON_INF if math.isinf(h) else h
    params = instances.bound_params(p, eps_f=e_f, eps_v=e_v, kappa=1 / math.sqrt(1 - p.gamma), beta=beta)
    return float(_evaluator(name, change)(h=h, **params).value)


def bias(eps_f: float, delta_v: float, h: float, beta: float, estimator: str, quick: bool) -> measure.Bound:
    g = torch.as_tensor(grads(eps_f, delta_v, h, beta, estimator, quick))
    return measure.bias_bound(g, problem(0.0, 0.0).true_grad(), LEVEL)


def _grid(quick: bool):
    cfg = config(quick)
    return [(e, 0.0) for e in cfg.eps_f] + [(0.0, d) for d in cfg.delta_v if d]


def _inst(estimator, beta, h, **more) -> dict:
    return {"mdp": INST, **instances.SPECS[INST][1], "gamma": problem(0, 0).gamma, "estimator": estimator,
            "beta": beta, "h": _key(h), **more}


def sees_no_error(ef: float, dv: float, h: float) -> bool:
    """The estimator uses neither error: no model error or no model call (h = 0), and no critic
    error or no critic call (h = ∞). Its mean is then that of the exact model and critic."""
    return (ef == 0 or h == 0) and (dv == 0 or math.isinf(h))


EXACT_NOTE = ("b_t exact (closed form, exact model and critic; RP-DP and RP-DR have equal means; h = ∞ is "
              f"full BPTT, {HORIZON_EXACT} steps), against bound + {ROUNDING:g} (rounding)")


def _row(claim: str, form: str, inst: dict, ef: float, dv: float, h: float, beta: float, estimator: str,
         quick: bool, bound: float, note: str) -> CheckResult:
    """b_t ≤ ``bound`` at one (ε_f, δ_v): exact where the estimator sees no error, else Monte Carlo."""
    if sees_no_error(ef, dv, h):
        x = exact_bias(h, beta, "unscaled")
        return CheckResult(claim, form, inst, x, (x, x), bound + ROUNDING, level=LEVEL, note=f"{note}; {EXACT_NOTE}")
    b = bias(ef, dv, h, beta, estimator, quick)
    return CheckResult(claim, form, inst, b.estimate, (b.lower, b.upper), bound, level=LEVEL, note=note)


def bound_check(name: str, estimator: str, beta: float, h: float, quick: bool, change: str = "") -> CheckResult:
    """b_t ≤ bound(ε_f, ε_v) over the ε grid at (estimator, β, h); the deciding row. ``change``: the
    bound with one structural change of ``verify.mutations`` (a negative control)."""
    rows = []
    for ef, dv in _grid(quick):
        e_f, e_v = errors(ef, dv, h)
        rows.append(_row("prop5.8", BOUNDS[name][0],
                         _inst(estimator, beta, h, bound=name, eps_f=round(e_f, 4), eps_v=round(e_v, 4)),
                         ef, dv, h, beta, estimator, quick, bound_value(name, ef, dv, h, beta, change=change),
                         "κ = (1 − γ)^{-1/2}; constants of the perturbed model and critic; ε grid "
                         + str(_grid(quick)) + (f"; control: {change}" if change else "")))
    # an exact violation (p = 0) is the most confident one; ``worst`` would rank it by its margin
    # relative to a bound of ROUNDING, below a Monte Carlo violation of a bound of 0
    return worst([r for r in rows if r.holds is False and r.ci[0] == r.ci[1]] or rows)


def zero_check(beta: float, h: float) -> CheckResult:
    """At ε_f = ε_v = 0 the printed (5.3) is 0: b_t ≤ 0 is what it claims. b_t exact (closed form)."""
    inst = {**_inst("dp = dr (exact model and critic: equal means)", beta, h), "eps_f": 0, "eps_v": 0}
    return _row("prop5.8.zero-error", "printed", inst, 0.0, 0.0, h, beta, "dp", True,
                bound_value("(5.3)", 0.0, 0.0, h, beta), "exact model and critic: (5.3) says the bias vanishes")


def shift(ef: float, dv: float, h: float, beta: float, estimator: str, quick: bool) -> measure.Bound:
    """‖E ĝ(ε) − E ĝ(0)‖ from paired per-sample differences (common random numbers)."""
    d = grads(ef, dv, h, beta, estimator, quick) - grads(0.0, 0.0, h, beta, estimator, quick)
    return measure.bias_bound(torch.as_tensor(d), torch.zeros(d.shape[1], dtype=torch.float64), LEVEL)


def sensitivity_check(name: str, which: str, estimator: str, beta: float, h: float, quick: bool,
                      scale: float = 1.0) -> CheckResult:
    """The bias caused by ε_f (``which="f"``) or ε_v (``"v"``) against the bound's part in it:
    ‖E ĝ(ε) − E ĝ(0)‖ ≤ scale · (B(ε) − B(0)), deciding row over the grid's nonzero ε."""
    cfg, rows = config(quick), []
    grid = [(e, 0.0) for e in cfg.eps_f if e] if which == "f" else [(0.0, d) for d in cfg.delta_v if d]
    for ef, dv in grid:
        s = shift(ef, dv, h, beta, estimator, quick)
        e_f, e_v = errors(ef, dv, h)
        # both at the perturbed problem's constants: the part of its bound that its errors carry
        part = bound_value(name, ef, dv, h, beta) - bound_value(name, ef, dv, h, beta, errs=(0.0, 0.0))
        rows.append(CheckResult(f"prop5.8.eps_{which}", BOUNDS[name][0],
                                _inst(estimator, beta, h, bound=name, eps_f=round(e_f, 4), eps_v=round(e_v, 4)),
                                s.estimate, (s.lower, s.upper), scale * part, level=LEVEL,
                                note=f"bias caused by ε_{which} (common random numbers) vs the bound's ε_{which} part "
                                     "B(ε) − B(0) at the perturbed problem's constants"
                                + (f" × {scale:g}" if scale != 1 else "")))
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
    from verify.appendix_c.lemmas_c2_c3 import ScalarLQR, _d

    m = ScalarLQR.from_spec(INST)
    hh = HORIZON_EXACT if math.isinf(h) else int(h)
    Kc = torch.tensor(m.K0, dtype=torch.float64)

    def mve(K, var0):
        v = m.mve(K, Kc, hh, var0)
        if gamma_shift:  # (4.1)'s γ^h Q̂(ŝ_h, â_h) → γ^{h+1} Q̂(ŝ_h, â_h)
            v = v + (m.gamma ** (hh + 1) - m.gamma ** hh) * m.EQ(Kc, K, m.var_seq(K, var0, hh)[hh])
        return v

    grad, = _d(m.J, m.K0)
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
                           level=LEVEL, note=note + f"; b(β = {rec:g}) − min_β b(β)")
    d = min(b[0.0], b[1.0]) - b_min
    return CheckResult("remark5.9", "printed", {**inst, "recommended": "a mixture, beta in (0, 1)"}, d, (d, d), ROUNDING,
                       direction="ge", level=LEVEL, note=note + "; min(b(0), b(1)) − min_β b(β) (> 0: a mixture is best)")


def bound_checks(quick):
    return [bound_check(n, e, beta, h, quick) for n in BOUNDS for e in ESTIMATORS for beta in BETAS for h in HS]


def zero_checks(quick):
    return [zero_check(beta, h) for beta in BETAS for h in HS]


def sensitivity_checks(quick):
    # (5.3) corrected has no ε_f factor (erratum E5): it attributes no part of the bias to ε_f
    return ([sensitivity_check(n, "f", e, beta, h, quick) for n in BOUNDS if n != "(5.3) corrected"
             for e in ESTIMATORS for beta in BETAS for h in HS if h != 0]
            + [sensitivity_check(n, "v", e, beta, h, quick) for n in BOUNDS for e in ESTIMATORS for beta in BETAS
               for h in HS if not math.isinf(h)])


def remark59_checks(quick):
    return [remark59_check(h, c) for h in RECOMMENDED for c in CONVENTIONS]


@section("prop5.8", "Proposition 5.8: gradient bias", order=30)
def results(quick: bool) -> list[CheckResult]:
    """Every row, violated verdicts at family-wise level 1 − LEVEL per claim (Holm)."""
    return stats.holm_per_claim(bound_checks(quick) + zero_checks(quick) + sensitivity_checks(quick))


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
    """Measured b_t against ε_f (ε_v = 0) and against ε_v (ε_f = 0), RP-DP, β = 0.5, per h."""
    import matplotlib.pyplot as plt

    cfg = config(quick)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, which in zip(axes, ("f", "v")):
        grid = [(e, 0.0) for e in cfg.eps_f] if which == "f" else [(0.0, d) for d in cfg.delta_v]
        for h in HS:
            xs = [errors(ef, dv, h)[0 if which == "f" else 1] for ef, dv in grid]
            bs = [bias(ef, dv, h, 0.5, "dp", quick) for ef, dv in grid]
            line, = ax.plot(xs, [b.estimate for b in bs], ".-", label=f"h={_key(h)}")
            ax.fill_between(xs, [b.lower for b in bs], [b.upper for b in bs], alpha=0.2, color=line.get_color())
        ax.set_xlabel(f"ε_{which}")
        ax.set_ylabel("measured b_t")
        ax.set_title(f"bias vs ε_{which} (RP-DP, β = 0.5, {INST})", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    path = out / "prop58_bias_vs_eps.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]
