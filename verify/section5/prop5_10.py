"""Proposition 5.10 (optimal model expansion step h*) and Remark 5.11 (h* grows with ε_v/ε_f).

Instance: the contracting LQR of ``verify.section5.prop5_8`` (its ``problem``) with both errors switched on:
Â = A + ε_f and the critic Q^π perturbed by δ_v, on a ladder ``RUNGS`` of (ε_f, δ_v). The realised ε_v
of (4.8) (coupled reading) depends on h; the rung's ε_v is its mean over h = 1..20 (``eps_v``).
RP-DP (4.2), β = 0, batch N = ``N``; the bounds take the perturbed problem's own constants.

g(h) of (C.28) is computed from *measured* b_t(h), v_t(h) = v_t(1)/N for h = 0..20:
g(h) = c (δ b + η/2 v) + b² + v with the stated η = 0.1 (= 1/√T at T = 100), L = 1 (LQR's
smoothness in K is not certified: L is a stated choice, c = 1/(η − Lη²) = 11.1) and δ = 1.

No argmin is bootstrapped. Every h is measured on the same start states and noise (common random
numbers: one draw for 20 steps, the first h steps used at h), and the differences g(h) − g(h') get
paired CLT intervals (delta method: g is a smooth function of the mean and variance of ĝ_h, its
influence values are differenced sample by sample and given ``stats.mean_ci``). The confidence set of the
argmin is A = {h : no h' has g(h') < g(h) significantly}, each comparison one-sided at (1 − LEVEL)/20,
so A holds the true argmin with probability ≥ LEVEL (only the 20 comparisons of the true argmin can
exclude it). A row's interval is the hull [min A, max A] around the empirical best ĥ.

Checks (``CheckResult`` rows; a real interval [lo, hi] (or a real root) of the theory is compared as
"the argmin lies in {⌊lo⌋, …, ⌈hi⌉}" (the integers the minimiser of a g with stationary points in
[lo, hi] can take), i.e. against the real interval [⌊lo⌋ − 0.5, ⌈hi⌉ + 0.5]: holds when A lies inside,
violated when A lies outside; the row is the deciding side, ``registry.worst``):
- printed: argmin ≤ Prop 5.10's O(·) argument with C_h = 1 (``h_star_paper_np``; a reading: the O(·)
  states no constant);
- explicit: argmin in (C.39) as printed; at the root of (C.29)-(C.30); at the integer argmin over
  0..20 of (C.28) built from the bounds (C.16), (C.24) at the instance's constants;
- corrected: argmin in [min(h1, h2), max(h1, h2)] of (C.37), (C.38); at the argmin of the corrected g;
- Remark 5.11: the argmin at the largest ε_v/ε_f exceeds the argmin at the smallest (both sets at
  level 1 − (1 − LEVEL)/2, so the comparison holds at LEVEL); its "h* is positive" is an identity of
  the formula (W > 0), one row per rung of form "identity".

Structural controls (``structural_controls``, on the rows that hold): each change of
``verify.mutations`` applied to g of (C.28) (explicit and corrected: the changed integer argmin over
0..20) and to ∂g_1/∂h, ∂g_2/∂h of (C.30) (the changed roots h1, h2 give the changed corrected (C.39)
interval, and the changed root of (C.29)–(C.30)); a change that leaves a root where it was (one power of
h dropped from every term of (C.30)) does not apply. Remark 5.11's: the ratio inverted, ε_f/ε_v for
ε_v/ε_f (the rungs swapped: "h* decreases with ε_v/ε_f").
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import sympy as sp
import torch
from scipy.optimize import brentq

from bounds import hstar
from bounds.numeric import Evaluator
from bounds.symbols import BY_NAME
from bounds.symbols import h as H_SYMBOL
from toy_mdps.noise import Noise
from trainers.estimators import flatten_grads, per_sample_grads
from verify import instances, measure, stats
from verify.mutations import changes
from verify.registry import controls, figure, section, worst
from verify.section5 import prop5_8
from verify.stats import LEVEL
from verify.verdict import CheckResult, Control

HS = tuple(range(21))
ETA, L_SMOOTH, DELTA, N = 0.1, 1.0, 1.0, 16
C = 1 / (ETA - L_SMOOTH * ETA ** 2)
BETA, EST = 0.0, "dp"
SAMPLES = {True: 4000, False: 10000}


@dataclass(frozen=True)
class Config:
    rungs: tuple[tuple[float, float], ...]  # (ε_f, δ_v), both > 0


QUICK = Config(rungs=((0.2, 0.5), (0.1, 1.0), (0.05, 2.0), (0.02, 1.0)))
FULL = Config(rungs=((0.2, 0.5), (0.2, 2.0), (0.1, 1.0), (0.05, 1.0), (0.05, 2.0), (0.02, 1.0), (0.02, 2.0)))


def config(quick: bool) -> Config:
    return QUICK if quick else FULL


def g_of(b: np.ndarray, v1: np.ndarray) -> np.ndarray:
    """(C.28) from measured b_t and v_t(1): c (δ b + η/2 v) + b² + v with v = v(1)/N."""
    v = v1 / N
    return C * (DELTA * b + ETA / 2 * v) + b ** 2 + v


@lru_cache(maxsize=None)
def crn_grads(eps_f: float, delta_v: float, quick: bool) -> np.ndarray:
    """Per-sample gradients (M, len(HS)) of RP-DP from ζ at every h, on common start states and noise."""
    p = prop5_8.problem(eps_f, delta_v)
    gen = torch.Generator().manual_seed(zlib.crc32(f"prop510/{eps_f}/{delta_v}".encode()))
    m = SAMPLES[quick]
    s0 = p.sample_zeta(m, gen)
    noise = p.sample_noise(HS[-1], m, gen)
    cols = [flatten_grads(per_sample_grads(p.policy, measure.value_fn(p, h), s0,
                                           Noise(noise.varsigma[:h + 1], noise.xi[:h])))[:, 0] for h in HS]
    return torch.stack(cols, 1).numpy()


@dataclass(frozen=True)
class Rung:
    eps_f: float
    delta_v: float
    eps_v: float  # realised, mean over h = 1..20
    b: np.ndarray  # over HS
    v1: np.ndarray
    influence: np.ndarray  # (M, len(HS)): influence values of g(h) per sample
    h_best: int

    @property
    def ratio(self) -> float:
        return self.eps_v / self.eps_f

    @property
    def g(self) -> np.ndarray:
        return g_of(self.b, self.v1)

    def argmin_set(self, level: float = LEVEL) -> tuple[int, ...]:
        """{h : no h' with g(h') < g(h) significantly}, each comparison one-sided at (1 − level)/20."""
        k = len(HS)
        pair_level = 1 - 2 * (1 - level) / (k - 1)  # two-sided, so each one-sided limit is at (1 − level)/(k − 1)
        out = []
        for h in range(k):
            _, lo, hi = stats.mean_ci(self.influence[:, [h]] - self.influence, pair_level)
            if not np.any(self.g[h] - self.g - (hi - lo) / 2 > 0):  # lower limit of g(h) − g(h') above 0
                out.append(HS[h])
        return tuple(out)

    @property
    def ci(self) -> tuple[float, float]:
        a = self.argmin_set()
        return float(min(a)), float(max(a))


def g_measured(x: np.ndarray, grad: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(b, v(1), g, influence values) of the columns of per-sample gradients ``x`` (M, K): g of (C.28)
    = C(δ|∇J − m| + η/2 v/N) + (∇J − m)² + v/N is a smooth function of the mean m and variance v(1), and
    its influence value at sample n is ∂g/∂m (x_n − m) + ∂g/∂v ((x_n − m)² − v(1)) (delta method)."""
    mean, v1 = x.mean(0), x.var(0, ddof=1)
    b = np.abs(grad - mean)
    dg_dm = -np.sign(grad - mean) * (C * DELTA + 2 * b)
    dg_dv = (C * ETA / 2 + 1) / N
    return b, v1, g_of(b, v1), dg_dm * (x - mean) + dg_dv * ((x - mean) ** 2 - v1)


@lru_cache(maxsize=None)
def rung(eps_f: float, delta_v: float, quick: bool) -> Rung:
    """Measure b(h), v(h) over h = 0..20 on common random numbers, and the influence values of g(h)."""
    grad = float(prop5_8.problem(0.0, 0.0).true_grad().numpy().reshape(-1)[0])
    b, v1, g, influence = g_measured(crn_grads(eps_f, delta_v, quick), grad)
    eps_v = float(np.mean([prop5_8.errors(eps_f, delta_v, h)[1] for h in HS[1:]]))
    return Rung(eps_f, delta_v, eps_v, b, v1, influence, int(np.argmin(g)))


def params(r: Rung) -> dict:
    """``bounds`` parameters at the rung's realised constants and the stated c, δ, η, N."""
    p = prop5_8.problem(r.eps_f, r.delta_v)
    return instances.bound_params(p, eps_f=r.eps_f, eps_v=r.eps_v, kappa=1 / math.sqrt(1 - p.gamma), beta=BETA,
                                  N=float(N), eta=ETA, delta=DELTA, L=L_SMOOTH)


def theory(r: Rung) -> dict:
    """Every Prop 5.10 quantity of ``bounds.hstar`` at the rung's constants."""
    p = params(r)
    lo, hi = hstar.h_star_interval_np(**p)
    plo, phi = hstar.h_star_interval_paper_np(**p)
    return {"paper": float(hstar.h_star_paper_np(**p)), "h1": float(hstar.h1_np(**p)), "h2": float(hstar.h2_np(**p)),
            "interval": (float(lo), float(hi)), "interval_paper": (float(plo), float(phi)),
            "root": float(hstar.h_star_derivative_root(**p)),
            "argmin": hstar.h_star_argmin("explicit", HS[-1], **p),
            "argmin_corrected": hstar.h_star_argmin("corrected", HS[-1], **p)}


#: the printed row's reading: an O(·) with a free constant cannot be refuted by one h*
O_READING = "the O(·) constant read as 1; with a free constant the statement is not refuted"


def _inst(r: Rung, what: str, **more) -> dict:
    return {"mdp": prop5_8.INST, **instances.SPECS[prop5_8.INST][1], "eps_f": r.eps_f, "delta_v": r.delta_v,
            "eps_v": round(r.eps_v, 4), "ratio": round(r.ratio, 3), "N": N, "eta": ETA, "L": L_SMOOTH, "delta": DELTA,
            "c": round(C, 4), "beta": BETA, "estimator": EST, "compare": what, **more}


def within(r: Rung, form: str, what: str, lo: float, hi: float, note: str = "") -> CheckResult:
    """argmin ∈ [lo, hi] as two one-sided rows; the deciding one."""
    note = (f"empirical argmin ĥ of (C.28) over h = 0..20 from measured b_t, v_t; interval = hull of the argmin's "
            f"confidence set {r.argmin_set()} (paired comparisons of g)") + (f"; {note}" if note else "")
    rows = [CheckResult("prop5.10", form, _inst(r, what, lo=round(lo, 4), hi=round(hi, 4)), r.h_best, r.ci, hi,
                        level=LEVEL, note=note),
            CheckResult("prop5.10", form, _inst(r, what, lo=round(lo, 4), hi=round(hi, 4)), r.h_best, r.ci, lo,
                        direction="ge", level=LEVEL, note=note)]
    return worst(rows)


#: the theory's values compared with the argmin, by key of ``theory``: (form, what)
RANGES = {"interval_paper": ("explicit", "(C.39) interval as printed"),
          "interval": ("corrected", "[min(h1,h2), max(h1,h2)]"),
          "root": ("explicit", "root of (C.29)-(C.30)"),
          "argmin": ("explicit", "argmin of (C.28) from (C.16), (C.24)"),
          "argmin_corrected": ("corrected", "argmin of corrected g")}


def _range(t: dict, key: str) -> tuple[float, float]:
    x = t[key]
    return tuple(x) if isinstance(x, tuple) else (x, x)


def _theory_row(r: Rung, key: str, lo: float, hi: float, note: str, shift: float = 0.0) -> CheckResult:
    form, what = RANGES[key]
    return within(r, form, what, math.floor(lo + shift) - 0.5, math.ceil(hi + shift) + 0.5, note)


def checks(eps_f: float, delta_v: float, quick: bool, shift: float = 0.0) -> list[CheckResult]:
    """All comparisons on one rung; ``shift`` moves every theoretical value (negative control)."""
    r, t = rung(eps_f, delta_v, quick), theory(rung(eps_f, delta_v, quick))
    note = f"h1 = {t['h1']:.4g}, h2 = {t['h2']:.4g}" + (f"; control: theory shifted by {shift:g}" if shift else "")
    out = [CheckResult("prop5.10", "printed", _inst(r, "Prop 5.10 O(·) with C_h = 1", reading=O_READING), r.h_best, r.ci,
                       t["paper"] + shift, level=LEVEL, note=note + "; ĥ ≤ h*_paper")]
    return out + [_theory_row(r, key, *_range(t, key), note, shift) for key in RANGES]


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


def changed_theory(r: Rung, keys=tuple(RANGES)) -> dict[tuple[str, str], tuple[float, float]]:
    """(key of ``RANGES``, change) -> the theory's (lo, hi) with that change, at the rung's constants:
    the argmin over 0..20 of the changed g, and the corrected (C.39) interval and (C.29)'s root from the
    changed (C.30); for the ``keys`` asked. A change that leaves a root of (C.30) where it was is left
    out (it does not apply)."""
    p, hs, out = params(r), np.arange(HS[-1] + 1, dtype=float), {}
    for key, form, g in (("argmin", "explicit", hstar.g_of_h()), ("argmin_corrected", "corrected", hstar.g_corrected())):
        for change in changes(g, H_SYMBOL) if key in keys else ():
            a = float(np.argmin(_g_changed(form, change).log(**{**p, "h": hs})))
            out[key, change] = (a, a)
    if "interval" not in keys and "root" not in keys:
        return out
    g1, g2 = hstar.g1_prime(), hstar.g2_prime()
    c1, c2 = changes(g1, H_SYMBOL), changes(g2, H_SYMBOL)
    h1, h2, root = positive_root(g1, p), positive_root(g2, p), positive_root(g1 + g2, p)
    for change in dict.fromkeys([*c1, *c2]):
        e1, e2 = c1.get(change, g1), c2.get(change, g2)
        k1, k2, k = positive_root(e1, p), positive_root(e2, p), positive_root(e1 + e2, p)
        moved = not (math.isclose(k1, h1, rel_tol=1e-9) and math.isclose(k2, h2, rel_tol=1e-9))
        if "interval" in keys and math.isfinite(k1) and math.isfinite(k2) and moved:
            out["interval", change] = (min(k1, k2), max(k1, k2))
        if "root" in keys and math.isfinite(k) and not math.isclose(k, root, rel_tol=1e-9):
            out["root", change] = (k, k)
    return out


def growth_check(quick: bool, reverse: bool = False) -> CheckResult:
    """Remark 5.11: the argmin at the largest ε_v/ε_f exceeds the argmin at the smallest; each
    argmin's confidence set at level 1 − (1 − LEVEL)/2, so the comparison holds at LEVEL.
    ``reverse`` swaps the two rungs (negative control: "h* decreases with ε_v/ε_f")."""
    rs = sorted((rung(ef, dv, quick) for ef, dv in config(quick).rungs), key=lambda r: r.ratio)
    low, high = (rs[-1], rs[0]) if reverse else (rs[0], rs[-1])
    a_low, a_high = low.argmin_set(1 - (1 - LEVEL) / 2), high.argmin_set(1 - (1 - LEVEL) / 2)
    ladder = ", ".join(f"{r.ratio:.3g}→{r.h_best} {r.argmin_set()}" for r in rs)
    return CheckResult("remark5.11", "printed", {"mdp": prop5_8.INST, "ladder (ε_v/ε_f → ĥ, argmin set)": ladder,
                                                 "N": N, "reverse": reverse},
                       high.h_best - low.h_best, (min(a_high) - max(a_low), max(a_high) - min(a_low)), 0.0,
                       direction="ge", level=LEVEL,
                       note=f"ĥ at ratio {high.ratio:.3g} minus ĥ at ratio {low.ratio:.3g}; interval from the argmin "
                            f"confidence sets {a_high} and {a_low}" + ("; control: rungs swapped" if reverse else ""))


def positive_check(r: Rung) -> CheckResult:
    """Remark 5.11, "h* is positive": both end points h1 (C.38) and h2 (C.37) of the corrected interval
    are W(x)/(a log(1/γ)) with x > 0, so positive for γ ∈ (0, 1): an identity, evaluated at the rung."""
    t = theory(r)
    m = min(t["h1"], t["h2"])
    return CheckResult("remark5.11.positive", "identity", _inst(r, "min(h1, h2) > 0", h1=round(t["h1"], 4),
                                                                   h2=round(t["h2"], 4)),
                       m, (m, m), 0.0, direction="ge", level=LEVEL,
                       note="W > 0 on (0, ∞) and log(1/γ) > 0: cannot fail (the measured argmin is prop5.10's rows)")


def results_all(quick: bool) -> list[CheckResult]:
    rungs = config(quick).rungs
    return ([c for ef, dv in rungs for c in checks(ef, dv, quick)] + [growth_check(quick)]
            + [positive_check(rung(ef, dv, quick)) for ef, dv in rungs])


@section("prop5.10", "Proposition 5.10 and Remark 5.11: the optimal expansion step h*", order=40)
def results(quick: bool) -> list[CheckResult]:
    """Every row; the argmin sets are simultaneous per rung, and a claim's violated verdicts over the
    rungs hold at family-wise level 1 − LEVEL (Holm over the claim's rows, exact p = 0 or 1 here:
    Holm keeps a violation when its rung's set excludes the theory, at that set's level)."""
    rows = results_all(quick)
    return stats.holm_per_claim(rows)


#: Remark 5.11's structural control: W's argument with ε_f/ε_v for ε_v/ε_f, i.e. h* decreasing in ε_v/ε_f
RATIO_INVERTED = "ε_v/ε_f → ε_f/ε_v (h* decreasing in ε_v/ε_f)"


@controls("prop5.10")
def structural_controls(quick: bool) -> list[Control]:
    """Every change of ``changed_theory`` on every rung where the real row holds, against the same
    argmin set; and Remark 5.11 with the ratio inverted (the rungs swapped), where it holds."""
    out = []
    for ef, dv in config(quick).rungs:
        r = rung(ef, dv, quick)
        real = {x.instance["compare"]: x for x in checks(ef, dv, quick)}
        holding = tuple(key for key, (_, what) in RANGES.items() if real[what].holds is True)
        for (key, change), (lo, hi) in (changed_theory(r, holding) if holding else {}).items():
            out.append(Control(change, real[RANGES[key][1]],
                               _theory_row(r, key, lo, hi, f"control: {change}; theory [{lo:.4g}, {hi:.4g}]")))
    growth = growth_check(quick)
    if growth.holds is True:
        out.append(Control(RATIO_INVERTED, growth, growth_check(quick, reverse=True)))
    return out


@figure("prop5.10")
def hstar_figure(quick: bool, out: Path) -> list[Path]:
    """Left: measured g(h) per rung. Right: empirical ĥ (hull of the argmin's confidence set) and the
    theoretical h*'s against ε_v/ε_f."""
    import matplotlib.pyplot as plt

    rs = sorted((rung(ef, dv, quick) for ef, dv in config(quick).rungs), key=lambda r: r.ratio)
    ts = [theory(r) for r in rs]
    x = [r.ratio for r in rs]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in rs:
        axes[0].plot(HS, r.g, ".-", label=f"ε_f={r.eps_f}, ε_v={r.eps_v:.3g}")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("h")
    axes[0].set_ylabel("g(h) of (C.28) from measured b_t, v_t")
    axes[0].legend(fontsize=7)
    lo, hi = np.array([r.ci for r in rs]).T
    hb = np.array([r.h_best for r in rs])
    axes[1].errorbar(x, hb, yerr=[hb - lo, hi - hb], fmt="ko", capsize=3, label="empirical ĥ (99% argmin set)")
    for key, style in (("h1", ":"), ("h2", "--"), ("root", "-."), ("paper", "-"), ("argmin", "s"),
                       ("argmin_corrected", "^")):
        axes[1].plot(x, [t[key] for t in ts], style, label=key)
    axes[1].set_xscale("log")
    axes[1].set_yscale("symlog", linthresh=0.1)
    axes[1].set_xlabel("ε_v/ε_f (realised)")
    axes[1].set_ylabel("h*")
    axes[1].set_title("empirical vs theoretical h*", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    path = out / "prop510_empirical_vs_theoretical_hstar.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]
