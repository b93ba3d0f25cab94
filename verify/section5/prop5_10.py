"""Proposition 5.10 (optimal model expansion step h*) and Remark 5.11 (h* grows with ε_v/ε_f).

Instance: the contracting LQR of ``verify.section5.prop5_8`` (its ``problem``) with both errors switched on:
Â = A + ε_f and the critic Q^π perturbed by δ_v, on a ladder ``RUNGS`` of (ε_f, δ_v). RP-DP (4.2), β = 0,
batch N = ``N``; the bounds take the perturbed problem's own constants.

Everything is exact (``toy_mdps.lqr_exact``). g(h) of (C.28) is computed from the exact b_t(h) and
v_t(h) = v_t(1)/N for h = 0..20: g(h) = c (δ b + η/2 v) + b² + v with the stated η = 0.1 (= 1/√T at
T = 100), L = 1 (LQR's smoothness in K is not certified: L is a stated choice, c = 1/(η − Lη²) = 11.1)
and δ = 1; its argmin ĥ is an exact integer. The realised ε_v of (4.8) (coupled reading) depends on h;
the rung's ε_v is its mean over h = 1..20, known to lie in the mean of the exact per-h intervals of
``lqr_exact.eps_v_interval`` [ε_v⁻, ε_v⁺] (``eps_v_range``). The theory is evaluated at both ends; every
quantity compared is monotone in ε_v over that interval (``test_theory_monotone_in_eps_v``), so its
values at the ends bound it.

Checks (``CheckResult`` rows, level 1: exact). A real interval [lo, hi] (or a real root) of the theory is
compared as "the argmin lies in {⌊lo⌋, …, ⌈hi⌉}" (the integers the minimiser of a g with stationary
points in [lo, hi] can take), i.e. against the real interval [⌊lo⌋ − 0.5, ⌈hi⌉ + 0.5], as two one-sided
rows (``side_row``): "ĥ ≤ upper" holds when ĥ is below the upper end's smallest value over [ε_v⁻, ε_v⁺]
and is violated when ĥ is above its largest (and mirrored for "ĥ ≥ lower"); the row is the deciding side
(``registry.worst``):
- printed: ĥ ≤ Prop 5.10's O(·) argument with C_h = 1 (``h_star_paper_np``; a reading: the O(·)
  states no constant);
- explicit: ĥ in (C.39) as printed; at the root of (C.29)-(C.30); at the integer argmin over 0..20 of
  (C.28) built from the bounds (C.16), (C.24) at the instance's constants;
- corrected: ĥ in [min(h1, h2), max(h1, h2)] of (C.37), (C.38); at the argmin of the corrected g;
- Remark 5.11: ĥ at the rung with the largest ε_v/ε_f exceeds ĥ at the smallest (their ratio intervals
  are disjoint, ``growth_check``); its "h* is positive" is an identity of the formula (W > 0), one row
  per rung of form "identity".

Structural controls (``structural_controls``, on the rows that hold): each change of
``verify.mutations`` applied to g of (C.28) (explicit and corrected: the changed integer argmin over
0..20) and to ∂g_1/∂h, ∂g_2/∂h of (C.30) (the changed roots h1, h2 give the changed corrected (C.39)
interval, and the changed root of (C.29)–(C.30)); a change that leaves a root where it was (one power of
h dropped from every term of (C.30)) does not apply. Remark 5.11's: the ratio inverted, ε_f/ε_v for
ε_v/ε_f (the rungs swapped: "h* decreases with ε_v/ε_f").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import sympy as sp
from scipy.optimize import brentq

from bounds import hstar
from bounds.numeric import Evaluator
from bounds.symbols import BY_NAME
from bounds.symbols import h as H_SYMBOL
from toy_mdps import lqr_exact
from verify import instances, stats
from verify.mutations import changes
from verify.registry import controls, figure, section, worst
from verify.section5 import prop5_8
from verify.verdict import CheckResult, Control

HS = tuple(range(21))
ETA, L_SMOOTH, DELTA, N = 0.1, 1.0, 1.0, 16
C = 1 / (ETA - L_SMOOTH * ETA ** 2)
BETA, EST = 0.0, "dp"
EXACT = 1.0  # the level of an exact row


@dataclass(frozen=True)
class Config:
    rungs: tuple[tuple[float, float], ...]  # (ε_f, δ_v), both > 0


QUICK = Config(rungs=((0.2, 0.5), (0.1, 1.0), (0.05, 2.0), (0.02, 1.0)))
FULL = Config(rungs=((0.2, 0.5), (0.2, 2.0), (0.1, 1.0), (0.05, 1.0), (0.05, 2.0), (0.02, 1.0), (0.02, 2.0)))


def config(quick: bool) -> Config:
    return QUICK if quick else FULL


def g_of(b: np.ndarray, v1: np.ndarray, n: float = N, eta: float = ETA, L: float = L_SMOOTH,
         delta: float = DELTA) -> np.ndarray:
    """(C.28) from b_t and v_t(1): c (δ b + η/2 v) + b² + v with v = v(1)/n, c = 1/(η − Lη²)."""
    v = v1 / n
    return 1 / (eta - L * eta ** 2) * (delta * b + eta / 2 * v) + b ** 2 + v


def exact_g(p, n: float = N, hs=HS, beta: float = BETA, estimator: str = EST, eta: float = ETA,
            L: float = L_SMOOTH, delta: float = DELTA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(b_t, v_t(1), g) over ``hs`` of RP-DP (or RP-DR) on the LQR ``p``, exactly (``lqr_exact.moments``)."""
    mom = [lqr_exact.moments(p, h, beta, estimator) for h in hs]
    b, v1 = np.array([m.bias for m in mom]), np.array([m.variance for m in mom])
    return b, v1, g_of(b, v1, n, eta, L, delta)


def eps_v_range(p) -> tuple[float, float]:
    """[ε_v⁻, ε_v⁺] ∋ the mean over h = 1..20 of ε_v of (4.8) (coupled reading): the mean of the exact
    per-h intervals of ``lqr_exact.eps_v_interval``."""
    lo, hi = np.mean([lqr_exact.eps_v_interval(p, h) for h in HS[1:]], axis=0)
    return float(lo), float(hi)


def params(p, eps_v: float, n: float = N) -> dict:
    """``bounds`` parameters of the LQR ``p`` at its own constants, ``eps_v`` and the stated c, δ, η, N."""
    return instances.bound_params(p, eps_f=p.eps_f(), eps_v=eps_v, kappa=1 / math.sqrt(1 - p.gamma), beta=BETA,
                                  N=float(n), eta=ETA, delta=DELTA, L=L_SMOOTH)


def theory(p, eps_v: float, n: float = N) -> dict:
    """Every Prop 5.10 quantity of ``bounds.hstar`` on the LQR ``p`` at one ``eps_v``."""
    q = params(p, eps_v, n)
    lo, hi = hstar.h_star_interval_np(**q)
    plo, phi = hstar.h_star_interval_paper_np(**q)
    return {"paper": float(hstar.h_star_paper_np(**q)), "h1": float(hstar.h1_np(**q)), "h2": float(hstar.h2_np(**q)),
            "interval": (float(lo), float(hi)), "interval_paper": (float(plo), float(phi)),
            "root": float(hstar.h_star_derivative_root(**q)),
            "argmin": hstar.h_star_argmin("explicit", HS[-1], **q),
            "argmin_corrected": hstar.h_star_argmin("corrected", HS[-1], **q)}


def side_row(claim: str, form: str, inst: dict, h_best: int, ends: list[float], direction: str,
             note: str, kind: str = "explicit") -> CheckResult:
    """ĥ ≤ bound (``le``) or ĥ ≥ bound (``ge``), ĥ exact and the bound known only to lie between its
    values ``ends`` at ε_v⁻ and ε_v⁺: holds on the bound's least favourable value, violated beyond its
    most favourable one, else inconclusive (the spread is folded into the interval, ``stats.widen``)."""
    lo, hi = min(ends), max(ends)
    if direction == "le":
        bound, ci = hi, stats.widen((h_best, h_best), h_best, (lo, hi), hi)
    else:
        bound, ci = lo, (h_best - (hi - lo), h_best)
    return CheckResult(claim, form, inst, h_best, ci, bound, direction=direction, level=EXACT, kind=kind,
                       note=f"{note}; exact; bound over the ε_v interval: [{lo:.4g}, {hi:.4g}]")


@dataclass(frozen=True)
class Rung:
    eps_f: float
    delta_v: float
    eps_v: tuple[float, float]  # [ε_v⁻, ε_v⁺] ∋ the mean over h = 1..20
    b: np.ndarray  # over HS, exact
    v1: np.ndarray
    h_best: int

    @property
    def problem(self):
        return prop5_8.problem(self.eps_f, self.delta_v)

    @property
    def ratio(self) -> tuple[float, float]:
        return self.eps_v[0] / self.eps_f, self.eps_v[1] / self.eps_f

    @property
    def g(self) -> np.ndarray:
        return g_of(self.b, self.v1)

    def theory(self) -> list[dict]:
        """``theory`` at ε_v⁻ and at ε_v⁺."""
        return [theory(self.problem, e) for e in self.eps_v]


@lru_cache(maxsize=None)
def rung(eps_f: float, delta_v: float) -> Rung:
    """The exact b(h), v(h), argmin of g over h = 0..20 and ε_v interval of one rung."""
    p = prop5_8.problem(eps_f, delta_v)
    b, v1, g = exact_g(p)
    return Rung(eps_f, delta_v, eps_v_range(p), b, v1, int(np.argmin(g)))


#: the printed row's reading: an O(·) with a free constant cannot be refuted by one h*
O_READING = "the O(·) constant read as 1: the row's number is the constant ĥ needs, not a verdict"


def _inst(r: Rung, what: str, **more) -> dict:
    return {"mdp": prop5_8.INST, **instances.SPECS[prop5_8.INST][1], "eps_f": r.eps_f, "delta_v": r.delta_v,
            "eps_v": [round(e, 4) for e in r.eps_v], "ratio": [round(x, 3) for x in r.ratio], "N": N, "eta": ETA,
            "L": L_SMOOTH, "delta": DELTA, "c": round(C, 4), "beta": BETA, "estimator": EST, "compare": what, **more}


def within(r: Rung, form: str, what: str, ends: list[tuple[float, float]], note: str = "") -> CheckResult:
    """ĥ ∈ [lo, hi] as two one-sided rows, (lo, hi) given at each end of the ε_v interval; the deciding one."""
    note = "ĥ = exact argmin of (C.28) over h = 0..20 from exact b_t, v_t" + (f"; {note}" if note else "")
    inst = _inst(r, what, lo=[round(lo, 4) for lo, _ in ends], hi=[round(hi, 4) for _, hi in ends])
    return worst([side_row("prop5.10", form, inst, r.h_best, [hi for _, hi in ends], "le", note),
                  side_row("prop5.10", form, inst, r.h_best, [lo for lo, _ in ends], "ge", note)])


#: the theory's values compared with the argmin, by key of ``theory``: (form, what)
RANGES = {"interval_paper": ("explicit", "(C.39) interval as printed"),
          "interval": ("corrected", "[min(h1,h2), max(h1,h2)]"),
          "root": ("explicit", "root of (C.29)-(C.30)"),
          "argmin": ("explicit", "argmin of (C.28) from (C.16), (C.24)"),
          "argmin_corrected": ("corrected", "argmin of corrected g")}


def _range(t: dict, key: str) -> tuple[float, float]:
    x = t[key]
    return tuple(x) if isinstance(x, tuple) else (x, x)


def integers_around(lo: float, hi: float, shift: float = 0.0) -> tuple[float, float]:
    """[⌊lo⌋ − 0.5, ⌈hi⌉ + 0.5]: the reals around the integers a minimiser in [lo, hi] can take."""
    return math.floor(lo + shift) - 0.5, math.ceil(hi + shift) + 0.5


def _theory_row(r: Rung, key: str, ends: list[tuple[float, float]], note: str, shift: float = 0.0) -> CheckResult:
    form, what = RANGES[key]
    return within(r, form, what, [integers_around(lo, hi, shift) for lo, hi in ends], note)


def checks(eps_f: float, delta_v: float, shift: float = 0.0) -> list[CheckResult]:
    """All comparisons on one rung; ``shift`` moves every theoretical value (negative control)."""
    r = rung(eps_f, delta_v)
    ts = r.theory()
    note = "; ".join(f"at ε_v = {e:.4g}: h1 = {t['h1']:.4g}, h2 = {t['h2']:.4g}" for e, t in zip(r.eps_v, ts))
    note += f"; control: theory shifted by {shift:g}" if shift else ""
    out = [side_row("prop5.10", "printed", _inst(r, "Prop 5.10 O(·) with C_h = 1", reading=O_READING), r.h_best,
                    [t["paper"] + shift for t in ts], "le", note + "; ĥ ≤ h*_paper", kind="O")]
    # no row where the theory names no h: the corrected g is +∞ at every h when γρ ≥ 1 (``hstar.h_star_argmin``)
    return out + [_theory_row(r, key, [_range(t, key) for t in ts], note, shift) for key in RANGES
                  if all(t[key] is not None for t in ts)]


def positive_root(expr: sp.Expr, p: dict) -> float:
    """The smallest positive root of ``expr``(h) where it turns from negative to positive, at the
    parameters ``p`` (a log grid 1e-6..1e4 refined by brentq); nan if there is none."""
    f = sp.lambdify(H_SYMBOL, expr.subs({BY_NAME[k]: v for k, v in p.items() if k in BY_NAME}), "numpy")
    grid = np.geomspace(1e-6, 1e4, 4000)
    with np.errstate(all="ignore"):
        vals = np.broadcast_to(np.asarray(f(grid), dtype=float), grid.shape)
    idx = np.flatnonzero((vals[:-1] < 0) & (vals[1:] >= 0))
    if idx.size == 0:
        return math.nan
    return brentq(lambda x: float(f(x)), grid[idx[0]], grid[idx[0] + 1], xtol=1e-14, rtol=1e-12)


@lru_cache(maxsize=None)
def _g_changed(form: str, change: str) -> Evaluator:
    """g of (C.28) (``explicit``) or the corrected g with one change of ``verify.mutations``."""
    g = hstar.g_of_h() if form == "explicit" else hstar.g_corrected()
    return Evaluator(changes(g, H_SYMBOL)[change], f"g_{form} {change}")


def changed_theory(p, eps_v: float, keys=tuple(RANGES)) -> dict[tuple[str, str], tuple[float, float]]:
    """(key of ``RANGES``, change) -> the theory's (lo, hi) with that change, on the LQR ``p`` at ``eps_v``:
    the argmin over 0..20 of the changed g, and the corrected (C.39) interval and (C.29)'s root from the
    changed (C.30); for the ``keys`` asked. A change that leaves a root of (C.30) where it was is left
    out (it does not apply)."""
    q, hs, out = params(p, eps_v), np.arange(HS[-1] + 1, dtype=float), {}
    for key, form, g in (("argmin", "explicit", hstar.g_of_h()), ("argmin_corrected", "corrected", hstar.g_corrected())):
        for change in changes(g, H_SYMBOL) if key in keys else ():
            a = float(np.argmin(_g_changed(form, change).log(**{**q, "h": hs})))
            out[key, change] = (a, a)
    if "interval" not in keys and "root" not in keys:
        return out
    g1, g2 = hstar.g1_prime(), hstar.g2_prime()
    c1, c2 = changes(g1, H_SYMBOL), changes(g2, H_SYMBOL)
    h1, h2, root = positive_root(g1, q), positive_root(g2, q), positive_root(g1 + g2, q)
    for change in dict.fromkeys([*c1, *c2]):
        e1, e2 = c1.get(change, g1), c2.get(change, g2)
        k1, k2, k = positive_root(e1, q), positive_root(e2, q), positive_root(e1 + e2, q)
        moved = not (math.isclose(k1, h1, rel_tol=1e-9) and math.isclose(k2, h2, rel_tol=1e-9))
        if "interval" in keys and math.isfinite(k1) and math.isfinite(k2) and moved:
            out["interval", change] = (min(k1, k2), max(k1, k2))
        if "root" in keys and math.isfinite(k) and not math.isclose(k, root, rel_tol=1e-9):
            out["root", change] = (k, k)
    return out


def growth_check(quick: bool, reverse: bool = False) -> CheckResult:
    """Remark 5.11: ĥ at the rung with the largest ε_v/ε_f exceeds ĥ at the smallest, both exact; the two
    rungs' ratio intervals must not overlap (else the order of the ratios is unknown: ValueError).
    ``reverse`` swaps the two rungs (negative control: "h* decreases with ε_v/ε_f")."""
    rs = sorted((rung(ef, dv) for ef, dv in config(quick).rungs), key=lambda r: sum(r.ratio))
    low, high = (rs[-1], rs[0]) if reverse else (rs[0], rs[-1])
    if not rs[0].ratio[1] < rs[-1].ratio[0]:
        raise ValueError(f"ratio intervals overlap: {rs[0].ratio} and {rs[-1].ratio}")
    ladder = ", ".join(f"[{r.ratio[0]:.3g}, {r.ratio[1]:.3g}]→{r.h_best}" for r in rs)
    d = high.h_best - low.h_best
    return CheckResult("remark5.11", "printed", {"mdp": prop5_8.INST, "ladder (ε_v/ε_f → ĥ)": ladder,
                                                 "N": N, "reverse": reverse},
                       d, (d, d), 0.0, direction="ge", level=EXACT, kind="qualitative",
                       note=f"exact ĥ at ratio [{high.ratio[0]:.3g}, {high.ratio[1]:.3g}] minus exact ĥ at ratio "
                            f"[{low.ratio[0]:.3g}, {low.ratio[1]:.3g}]" + ("; control: rungs swapped" if reverse else ""))


def positive_check(r: Rung) -> CheckResult:
    """Remark 5.11, "h* is positive": both end points h1 (C.38) and h2 (C.37) of the corrected interval
    are W(x)/(a log(1/γ)) with x > 0, so positive for γ ∈ (0, 1): an identity, evaluated at the rung's ε_v⁻."""
    t = r.theory()[0]
    m = min(t["h1"], t["h2"])
    return CheckResult("remark5.11.positive", "identity", _inst(r, "min(h1, h2) > 0", h1=round(t["h1"], 4),
                                                                   h2=round(t["h2"], 4)),
                       m, (m, m), 0.0, direction="ge", level=EXACT,
                       note="W > 0 on (0, ∞) and log(1/γ) > 0: cannot fail (the measured argmin is prop5.10's rows)")


def best_positive_check(r: Rung) -> CheckResult:
    """Remark 5.11, "h* is positive", of the h* Proposition 5.10 defines (the argmin of g from the true b_t,
    v_t; an integer, the number of model steps): the exact ĥ ≥ 1 on the rung. A sub-statement of its own,
    apart from the positivity of the closed forms (``positive_check``)."""
    return CheckResult("remark5.11.best-positive", "printed", _inst(r, "exact argmin ĥ ≥ 1"), r.h_best,
                       (r.h_best, r.h_best), 0.5, direction="ge", level=EXACT, kind="qualitative",
                       note="ĥ = exact integer argmin of (C.28) over h = 0..20 from exact b_t, v_t; "
                            "ĥ > 0.5 ⟺ ĥ ≥ 1 for an integer")


def results_all(quick: bool) -> list[CheckResult]:
    rungs = config(quick).rungs
    return ([c for ef, dv in rungs for c in checks(ef, dv)] + [growth_check(quick)]
            + [positive_check(rung(ef, dv)) for ef, dv in rungs] + [best_positive_check(rung(ef, dv)) for ef, dv in rungs])


@section("prop5.10", "Proposition 5.10 and Remark 5.11: the optimal expansion step h*", order=40)
def results(quick: bool) -> list[CheckResult]:
    """Every row; all exact, so Holm (applied once, by ``verify.report``) keeps every violation (p = 0)."""
    return results_all(quick)


#: Remark 5.11's structural control: W's argument with ε_f/ε_v for ε_v/ε_f, i.e. h* decreasing in ε_v/ε_f
RATIO_INVERTED = "ε_v/ε_f → ε_f/ε_v (h* decreasing in ε_v/ε_f)"


@controls("prop5.10")
def structural_controls(quick: bool) -> list[Control]:
    """Every change of ``changed_theory`` (at both ends of the ε_v interval) on every rung where the real
    row holds; and Remark 5.11 with the ratio inverted (the rungs swapped), where it holds."""
    out = []
    for ef, dv in config(quick).rungs:
        r = rung(ef, dv)
        real = {x.instance["compare"]: x for x in checks(ef, dv)}
        holding = tuple(key for key, (_, what) in RANGES.items() if what in real and real[what].holds is True)
        if not holding:
            continue
        lo_end, hi_end = (changed_theory(r.problem, e, holding) for e in r.eps_v)
        for key, change in (k for k in lo_end if k in hi_end):
            ends = [lo_end[key, change], hi_end[key, change]]
            out.append(Control(change, real[RANGES[key][1]],
                               _theory_row(r, key, ends, f"control: {change}; theory {ends}")))
    growth = growth_check(quick)
    if growth.holds is True:
        out.append(Control(RATIO_INVERTED, growth, growth_check(quick, reverse=True)))
    return out


@figure("prop5.10")
def hstar_figure(quick: bool, out: Path) -> list[Path]:
    """Left: exact g(h) per rung. Right: exact ĥ and the theoretical h*'s (band: ε_v⁻ to ε_v⁺) against
    ε_v/ε_f (the middle of its interval)."""
    import matplotlib.pyplot as plt

    rs = sorted((rung(ef, dv) for ef, dv in config(quick).rungs), key=lambda r: sum(r.ratio))
    ts = [r.theory() for r in rs]
    x = [sum(r.ratio) / 2 for r in rs]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in rs:
        axes[0].plot(HS, r.g, ".-", label=f"ε_f={r.eps_f}, ε_v∈[{r.eps_v[0]:.3g}, {r.eps_v[1]:.3g}]")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("h")
    axes[0].set_ylabel("g(h) of (C.28), exact b_t, v_t")
    axes[0].legend(fontsize=7)
    axes[1].errorbar(x, [r.h_best for r in rs], xerr=np.abs(np.array([r.ratio for r in rs]).T - x), fmt="ko",
                     capsize=3, label="exact ĥ (x: ε_v interval)")
    for key in ("h1", "h2", "root", "paper", "argmin", "argmin_corrected"):
        end = [np.array([math.nan if t[j][key] is None else t[j][key] for t in ts], dtype=float) for j in (0, 1)]
        line, = axes[1].plot(x, end[0], "-", lw=0.8, label=key)  # a gap where the theory names no h
        axes[1].fill_between(x, end[0], end[1], color=line.get_color(), alpha=0.2)
    axes[1].set_xscale("log")
    axes[1].set_yscale("symlog", linthresh=0.1)
    axes[1].set_ylim(top=2 * max(r.h_best for r in rs) + 1)
    axes[1].set_xlabel("ε_v/ε_f")
    axes[1].set_ylabel("h*")
    axes[1].set_title("exact ĥ vs theoretical h*", fontsize=9)
    axes[1].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path = out / "prop510_empirical_vs_theoretical_hstar.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]
