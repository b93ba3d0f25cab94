"""Lemma C.1: the deviation of sampled trajectories' derivatives from a reference trajectory's.

Lemma C.1 compares the derivatives of sampled trajectories with those of a fixed reference
trajectory x̄ (the proof of Prop 5.4 takes x̄ to be the maximiser of ‖g' − E ĝ‖). Its left sides
are expectations over the sampled trajectory, measured by Monte Carlo with CLT intervals; the
maximum over reference trajectories is taken with a Bonferroni-adjusted level.

"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from bounds import variance as BV
from bounds.symbols import i as I_SYMBOL
from verify import stats
from verify.appendix_c.derivatives_c9_c13 import ALL_PATH_INSTANCES, bound_at, measure_derivatives
from verify.mutations import changes
from verify.verdict import CheckResult, Control

LEVEL = stats.LEVEL


@dataclass(frozen=True)
class C1Config:
    horizon: int
    n: int
    refs: int


C1_QUICK = C1Config(horizon=40, n=256, refs=8)
C1_FULL = C1Config(horizon=100, n=2048, refs=32)

#: Instances of Lemma C.1: state-dependent derivatives (on the offset-linear ones the deviations
#: vanish identically, which the lemma trivially allows).
C1_INSTANCES = ("below-tanh", "sub1-expanding-tanh", "sub1-expanding-wiggle", "above-tanh")


@lru_cache(maxsize=None)
def lemma_c1_deviations(key: str, quick: bool) -> dict:
    """E_n‖dâ_{i,n}/dθ − dā_i/dθ‖ and E_n‖dŝ_{i,n}/dθ − ds̄_i/dθ‖ for each reference trajectory.

    Returns mean, low, high of shape (refs, H+1) for "a" and "s", at the Bonferroni level
    1 − (1 − LEVEL)/refs per reference so that the maximum over references is covered at LEVEL.
    """
    cfg = C1_QUICK if quick else C1_FULL
    inst = ALL_PATH_INSTANCES[key]
    sample = measure_derivatives(inst, cfg.horizon, cfg.n, seed=11)
    ref = measure_derivatives(inst, cfg.horizon, cfg.refs, seed=12)
    level = 1 - (1 - LEVEL) / cfg.refs
    out = {}
    for name in ("a", "s"):
        x = getattr(sample, "d" + name)  # (N, H+1, 1, P)
        r = getattr(ref, "d" + name)  # (R, H+1, 1, P)
        dev = torch.linalg.matrix_norm(x[None] - r[:, None], 2).numpy()  # (R, N, H+1)
        m = dev.mean(1)
        half = stats.z(level) * dev.std(1, ddof=1) / np.sqrt(dev.shape[1])
        out[name] = (m, m - half, m + half)
    out["e"] = float(out["a"][0][:, 0].max())  # dâ_0/dθ = ∂π/∂θ = 1 for every draw: e = 0
    out["inst"] = inst
    out["cfg"] = cfg
    return out


def _judge_mc(claim, form, line, inst, mean, low, high, right, i_min=1, note="", extra=None) -> CheckResult:
    """left ≤ right at every step i ≥ i_min for the worst reference, with Monte Carlo intervals.

    The row is the step with the largest upper-limit ratio; measured/CI are the maximum over
    references of the means and of the interval ends.
    """
    m, lo, hi = (np.asarray(x)[:, i_min:].max(0) for x in (mean, low, high))
    r = np.broadcast_to(np.asarray(right, float)[i_min:], m.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(r > 0, hi / r, np.inf)
    k = int(np.argmax(ratio))
    bad = np.flatnonzero(lo > r)
    first = f"first violated (lower CI limit above the bound) at i = {bad[0] + i_min}" if len(bad) else \
        "no step violated with confidence"
    return CheckResult(claim, form, {**inst.describe(), "line": line, "i": int(k + i_min), **(extra or {})},
                       float(m[k]), (float(lo[k]), float(hi[k])), float(r[k]), level=LEVEL,
                       note="; ".join(x for x in (first, note) if x))


def _c1_action_printed():
    return BV.lemma_c1_action(printed=True)


#: the two bounds of Lemma C.1, printed and corrected: (deviation, form, line, bound, evaluator key)
C1_ROWS = (
    ("a", "printed", "E‖dâ_i/dθ − dā_i/dθ‖ ≤ L̃_π^i L̃_f^i (e + 2L_θ i + 4L̃_θ i² L̃_π^i L̃_f^i)",
     _c1_action_printed, "c1a_printed"),
    ("s", "printed", "E‖dŝ_i/dθ − ds̄_i/dθ‖ ≤ [2L_f K̂(i−1) + (C.18)]·i·L̃_f^i", BV.lemma_c1_state, "c1s_printed"),
    ("a", "corrected", "E‖dâ_i/dθ − dā_i/dθ‖ ≤ 2L_π D_i + L_π S_i + 2L_θ", BV.lemma_c1_action_corrected,
     "c1a_corrected"),
    ("s", "corrected", "E‖dŝ_i/dθ − ds̄_i/dθ‖ ≤ S_i (corrected recursion, κ_F = 2L_f)", BV.lemma_c1_state_corrected,
     "c1s_corrected"),
)


def lemma_c1_results(quick: bool, control: bool = False) -> list[CheckResult]:
    """Both bounds of Lemma C.1, printed and corrected, on the state-dependent instances.

    ``control=True`` replaces each bound by a deliberately wrong one (its polynomial factor and
    e removed: L̃^i-free 2L_θ), which must fail on the expanding wiggle instance.
    """
    out = []
    keys = ("sub1-expanding-wiggle",) if control else C1_INSTANCES
    for key in keys:
        d = lemma_c1_deviations(key, quick)
        inst, steps = d["inst"], np.arange(d["cfg"].horizon + 1, dtype=float)
        extra = {"N": d["cfg"].n, "references": d["cfg"].refs, "e": d["e"]}
        note = (f"E over {d['cfg'].n} trajectories, max over {d['cfg'].refs} reference trajectories x̄; "
                f"e = {d['e']:.3g} (exact: ∂π/∂θ = 1)")
        for which, form, line, fn, name in C1_ROWS:
            right = bound_at(name, fn, inst, steps, e=d["e"])
            if control:
                right = np.full_like(right, 2 * inst.L_theta)
                line = "negative control (bound 2L_θ, no growth) of: " + line
            out.append(_judge_mc("lemmaC.1", form, line, inst, *d[which], right, note=note, extra=extra))
    return out


def lemma_c1_structural_controls(quick: bool) -> list[Control]:
    """Both bounds of Lemma C.1 with each applicable change of ``verify.mutations``, where the
    real bound holds."""
    out = []
    for key in C1_INSTANCES:
        d = lemma_c1_deviations(key, quick)
        inst, steps = d["inst"], np.arange(d["cfg"].horizon + 1, dtype=float)
        for which, form, line, fn, name in C1_ROWS:
            real = _judge_mc("lemmaC.1", form, line, inst, *d[which], bound_at(name, fn, inst, steps, e=d["e"]))
            if real.holds is not True:
                continue
            for change in changes(fn(), I_SYMBOL):
                right = bound_at(name, fn, inst, steps, change=change, e=d["e"])
                out.append(Control(change, real, _judge_mc("lemmaC.1", form, f"control ({change}) of: {line}", inst,
                                                           *d[which], right)))
    return out
