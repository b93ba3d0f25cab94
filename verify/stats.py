"""Confidence intervals for the Monte Carlo side of every check.

All intervals are two-sided at ``level`` (each one-sided limit then holds at (1 + level) / 2) and
all randomness comes from generators seeded by the caller, so a check gives the same verdict on
every run. Normal approximations are used for means of many iid terms; statistics that are not
means (slopes of log-variance, argmins, differences of norms) use the percentile bootstrap over
trajectories.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
from scipy import stats

LEVEL = 0.99


def z(level: float = LEVEL) -> float:
    """The two-sided normal quantile of ``level``."""
    return float(stats.norm.ppf(0.5 + level / 2))


def mean_ci(x: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """Mean of iid samples ``x`` (axis 0) with its CLT interval: (mean, low, high)."""
    x = np.asarray(x, dtype=float)
    m = float(x.mean())
    half = z(level) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return m, m - half, m + half


def trace_cov_ci(g: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """v = E‖g − E g‖² from iid rows of ``g`` (M, P): the unbiased estimate and a CLT interval.

    The estimate is M/(M−1) · mean‖g_m − ḡ‖²; its standard error comes from the influence
    function ‖g_m − ḡ‖² − v̂ (the centring error is O(1/M) and ignored). The lower limit is
    clipped at 0.
    """
    g = np.asarray(g, dtype=float)
    m = g.shape[0]
    d2 = ((g - g.mean(axis=0)) ** 2).sum(axis=1)
    v = float(d2.mean()) * m / (m - 1)
    half = z(level) * float(d2.std(ddof=1)) / math.sqrt(m)
    return v, max(v - half, 0.0), v + half


def norm_of_mean_ci(g: np.ndarray, target: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """b = ‖target − E g‖ from iid rows of ``g``: (‖target − ḡ‖, low, high).

    The interval comes from a confidence ball for E g: per coordinate a CLT interval at level
    1 − (1 − level)/P (Bonferroni), so the ball of radius ‖half-widths‖ covers E g with
    probability ≥ level; the triangle inequality turns it into an interval for the norm.
    """
    g = np.asarray(g, dtype=float)
    m, p = g.shape
    d = np.asarray(target, dtype=float).reshape(-1) - g.mean(axis=0)
    half = z(1 - (1 - level) / p) * g.std(axis=0, ddof=1) / math.sqrt(m)
    r = float(np.linalg.norm(half))
    b = float(np.linalg.norm(d))
    return b, max(b - r, 0.0), b + r


def bootstrap_ci(stat: Callable[[np.ndarray], float], m: int, level: float = LEVEL, reps: int = 400,
                 seed: int = 0) -> tuple[float, float, float]:
    """Percentile bootstrap of ``stat(idx)`` over resampled trajectory indices 0..m-1.

    ``stat`` receives an index array (the identity for the point estimate) so that statistics of
    several quantities measured on the same trajectories (common random numbers) resample together.
    """
    rng = np.random.default_rng(seed)
    point = float(stat(np.arange(m)))
    reps_ = np.array([stat(rng.integers(0, m, m)) for _ in range(reps)], dtype=float)
    lo, hi = np.quantile(reps_, [0.5 - level / 2, 0.5 + level / 2])
    return point, float(lo), float(hi)


def log_slope(h: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y against h: the exponential growth rate per step."""
    return float(np.polyfit(np.asarray(h, float), np.log(np.asarray(y, float)), 1)[0])


def widen(ci: tuple[float, float], measured: float, bound_ci: tuple[float, float], bound: float) -> tuple[float, float]:
    """Fold a bound's own Monte Carlo uncertainty into the measurement's interval.

    ``measured <= bound`` with both uncertain is the verdict of measured − bound <= 0; shifting the
    measured interval by the bound's half-widths keeps the verdict against the bound's point value
    equivalent to that difference test.
    """
    return ci[0] - (bound_ci[1] - bound), ci[1] + (bound - bound_ci[0])
