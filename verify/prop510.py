"""Proposition 5.10 (optimal model expansion step h*) and Remark 5.11 (h* grows with ε_v/ε_f).

Instance: the contracting LQR of ``verify.prop58`` (its ``problem``/``grads``, shared cache) with
both errors switched on: Â = A + ε_f and the critic Q^π perturbed by δ_v, on a ladder ``RUNGS`` of
(ε_f, δ_v). The realised ε_v of (4.8) (coupled reading) depends on h; the rung's ε_v is its mean
over h = 1..20 (``eps_v``). RP-DP (4.2), β = 0, batch N = ``N``.

g(h) of (C.28) is computed from *measured* b_t(h), v_t(h) = v_t(1)/N for h = 0..20:
g(h) = c (δ b + η/2 v) + b² + v with the stated η = 0.1 (= 1/√T at T = 100), L = 1 (LQR's
smoothness in K is not certified: L is a stated choice, c = 1/(η − Lη²) = 11.1) and δ = 1.
The empirical best h, ĥ = argmin_h ĝ(h), gets a percentile-bootstrap interval (resampling each h's
per-sample gradients; the h's are measured on independent seeds).

Checks (``CheckResult`` rows; ĥ is an integer, so a real interval [lo, hi] (or a real root) is
compared as ĥ ∈ {⌊lo⌋, …, ⌈hi⌉}, the integers the minimiser of a g with stationary points in
[lo, hi] can take, and an integer argmin p as ĥ = p; an integer set {m, …, n} is checked as the real
interval [m − 0.5, n + 0.5]; the row is the deciding side, ``registry.worst``):
- printed: ĥ ≤ Prop 5.10's O(·) argument with C_h = 1 (``h_star_paper_np``);
- explicit: ĥ in (C.39) as printed; ĥ at the root of (C.29)-(C.30); ĥ at the integer argmin over
  0..20 of (C.28) built from the bounds (C.16), (C.24) at the instance's constants;
- corrected: ĥ in [min(h1, h2), max(h1, h2)] of (C.37), (C.38); ĥ at the argmin of the corrected g;
- Remark 5.11: slope of ĥ against log(ε_v/ε_f) over the ladder > 0 with confidence (bootstrap).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bounds import hstar
from verify import instances, prop58
from verify.registry import figure, section, worst
from verify.stats import LEVEL
from verify.verdict import CheckResult

HS = tuple(range(21))
ETA, L_SMOOTH, DELTA, N = 0.1, 1.0, 1.0, 16
C = 1 / (ETA - L_SMOOTH * ETA ** 2)
BETA, EST = 0.0, "dp"
REPS = 400


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


@dataclass(frozen=True)
class Rung:
    eps_f: float
    delta_v: float
    eps_v: float  # realised, mean over h = 1..20
    b: np.ndarray  # over HS
    v1: np.ndarray
    h_best: int
    boot: np.ndarray  # (REPS,) bootstrap argmins

    @property
    def ratio(self) -> float:
        return self.eps_v / self.eps_f

    @property
    def ci(self) -> tuple[float, float]:
        lo, hi = np.quantile(self.boot, [0.5 - LEVEL / 2, 0.5 + LEVEL / 2])
        return float(lo), float(hi)

    @property
    def g(self) -> np.ndarray:
        return g_of(self.b, self.v1)


@lru_cache(maxsize=None)
def rung(eps_f: float, delta_v: float, quick: bool) -> Rung:
    """Measure b(h), v(h) over h = 0..20 and bootstrap the argmin of (C.28)."""
    grad = float(prop58.problem(0.0, 0.0).true_grad().numpy().reshape(-1)[0])
    gs = [prop58.grads(eps_f, delta_v, h, BETA, EST, quick)[:, 0] for h in HS]
    rng = np.random.default_rng(zlib.crc32(f"prop510/{eps_f}/{delta_v}".encode()))
    b = np.array([abs(grad - g.mean()) for g in gs])
    v1 = np.array([g.var(ddof=1) for g in gs])
    boot_g = np.empty((REPS, len(HS)))
    for k, g in enumerate(gs):
        x = g[rng.integers(0, len(g), (REPS, len(g)))]
        boot_g[:, k] = g_of(np.abs(grad - x.mean(1)), x.var(1, ddof=1))
    eps_v = float(np.mean([prop58.errors(eps_f, delta_v, h)[1] for h in HS[1:]]))
    return Rung(eps_f, delta_v, eps_v, b, v1, int(np.argmin(g_of(b, v1))), boot_g.argmin(1))


def params(r: Rung) -> dict:
    """``bounds`` parameters at the rung's realised constants and the stated c, δ, η, N."""
    p = prop58.problem(0.0, 0.0)
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


def _inst(r: Rung, what: str, **more) -> dict:
    return {"mdp": prop58.INST, **instances.SPECS[prop58.INST][1], "eps_f": r.eps_f, "delta_v": r.delta_v,
            "eps_v": round(r.eps_v, 4), "ratio": round(r.ratio, 3), "N": N, "eta": ETA, "L": L_SMOOTH, "delta": DELTA,
            "c": round(C, 4), "beta": BETA, "estimator": EST, "compare": what, **more}


def within(r: Rung, form: str, what: str, lo: float, hi: float, note: str = "") -> CheckResult:
    """ĥ ∈ [lo, hi] as two one-sided rows; the deciding one."""
    note = f"empirical argmin of (C.28) over h = 0..20 from measured b_t, v_t; bootstrap CI ({REPS} reps)" + (
        f"; {note}" if note else "")
    rows = [CheckResult("prop5.10", form, _inst(r, what, lo=round(lo, 4), hi=round(hi, 4)), r.h_best, r.ci, hi,
                        level=LEVEL, note=note),
            CheckResult("prop5.10", form, _inst(r, what, lo=round(lo, 4), hi=round(hi, 4)), r.h_best, r.ci, lo,
                        direction="ge", level=LEVEL, note=note)]
    return worst(rows)


def checks(eps_f: float, delta_v: float, quick: bool, shift: float = 0.0) -> list[CheckResult]:
    """All comparisons on one rung; ``shift`` moves every theoretical value (negative control)."""
    r, t = rung(eps_f, delta_v, quick), theory(rung(eps_f, delta_v, quick))
    note = f"h1 = {t['h1']:.4g}, h2 = {t['h2']:.4g}" + (f"; control: theory shifted by {shift:g}" if shift else "")
    ranges = {"interval_paper": ("explicit", "(C.39) interval as printed", t["interval_paper"]),
              "interval": ("corrected", "[min(h1,h2), max(h1,h2)]", t["interval"]),
              "root": ("explicit", "root of (C.29)-(C.30)", (t["root"], t["root"])),
              "argmin": ("explicit", "argmin of (C.28) from (C.16), (C.24)", (t["argmin"],) * 2),
              "argmin_corrected": ("corrected", "argmin of corrected g", (t["argmin_corrected"],) * 2)}
    out = [CheckResult("prop5.10", "printed", _inst(r, "Prop 5.10 O(·) with C_h = 1"), r.h_best, r.ci,
                       t["paper"] + shift, level=LEVEL, note=note + "; ĥ ≤ h*_paper")]
    out += [within(r, form, what, math.floor(lo + shift) - 0.5, math.ceil(hi + shift) + 0.5, note)
            for form, what, (lo, hi) in ranges.values()]
    return out


def growth_check(quick: bool, reverse: bool = False) -> CheckResult:
    """Remark 5.11: least-squares slope of ĥ against log(ε_v/ε_f) over the ladder > 0 (bootstrap over
    each rung's resamples, which are independent across rungs). ``reverse`` negates the ratio
    (negative control: "ĥ decreases with ε_v/ε_f")."""
    rs = [rung(ef, dv, quick) for ef, dv in config(quick).rungs]
    x = np.log([r.ratio for r in rs]) * (-1 if reverse else 1)
    slope = float(np.polyfit(x, [r.h_best for r in rs], 1)[0])
    boot = np.polyfit(x, np.stack([r.boot for r in rs]), 1)[0]
    lo, hi = np.quantile(boot, [0.5 - LEVEL / 2, 0.5 + LEVEL / 2])
    ladder = ", ".join(f"{r.ratio:.3g}→{r.h_best}" for r in sorted(rs, key=lambda r: r.ratio))
    return CheckResult("remark5.11", "printed", {"mdp": prop58.INST, "ladder (ε_v/ε_f → ĥ)": ladder, "N": N,
                                                 "reverse": reverse},
                       slope, (float(lo), float(hi)), 0.0, direction="ge", level=LEVEL,
                       note="slope of ĥ in log(ε_v/ε_f), bootstrap CI" + ("; control: ratio reversed" if reverse else ""))


def results_all(quick: bool) -> list[CheckResult]:
    return [c for ef, dv in config(quick).rungs for c in checks(ef, dv, quick)] + [growth_check(quick)]


@section("prop5.10", "Proposition 5.10 and Remark 5.11: the optimal expansion step h*", order=40)
def results(quick: bool) -> list[CheckResult]:
    return results_all(quick)


@figure("prop5.10")
def hstar_figure(quick: bool, out: Path) -> list[Path]:
    """Left: measured g(h) per rung. Right: empirical ĥ (bootstrap interval) and the theoretical h*'s
    against ε_v/ε_f."""
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
    axes[1].errorbar(x, hb, yerr=[hb - lo, hi - hb], fmt="ko", capsize=3, label="empirical ĥ (99% CI)")
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
