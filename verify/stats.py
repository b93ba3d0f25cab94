"""Confidence intervals for the Monte Carlo side of every check: the one implementation of each.

Every interval is two-sided at ``level`` (each one-sided limit at (1 + level) / 2); all randomness
comes from generators seeded by the caller, so a check gives the same verdict on every run.

- ``mean_ci``: mean of iid terms, CLT (column-wise for a 2-D array).
- ``variance_ci``: v = E‖g − E g‖², BCa bootstrap (``scipy.stats.bootstrap``) over the rows of g,
  after a tail check: where a handful of samples carries the estimate (``tail``), no interval is
  given (0, ∞), so the verdict is inconclusive until more samples are taken.
- ``norm_of_mean_ci``: ‖target − E g‖, Bonferroni confidence box for E g (conservative).
- ``log_variance_slope_ci``: the growth rate of v over h (BCa, closed-form jackknife, tail check at
  every h: where one v(h) has a heavy tail the interval is (−∞, ∞)).
- ``paired_variances`` and ``variances_ci``: any function of many variances measured on jointly iid
  rows (ratios of arms, differences of rates; BCa, closed-form jackknife, tail check), for
  per-sample gradients too wide for ``scipy.stats.bootstrap``'s column-wise resampling.
- ``bootstrap_ci``: any other statistic of rows (BCa, ``scipy.stats.bootstrap``).
- ``holm``: the family-wise level of the violated verdicts of one claim (Holm's step-down).
Statistics that are argmins are not bootstrapped (the bootstrap of an argmin is inconsistent);
where the objective is known exactly its argmin is exact (``verify.section5.prop5_10``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
from scipy import stats

LEVEL = 0.99
#: a variance estimate is not trusted when one sample carries more than this share of it ...
MAX_SHARE = 0.05
#: ... or when fewer than this many samples carry it (Kish's effective size of the squared deviations)
MIN_EFFECTIVE = 100
N_RESAMPLES = 2000


def z(level: float = LEVEL) -> float:
    """The two-sided normal quantile of ``level``."""
    return float(stats.norm.ppf(0.5 + level / 2))


def mean_ci(x: np.ndarray, level: float = LEVEL):
    """Mean of iid samples ``x`` (axis 0) with its CLT interval: (mean, low, high), floats for 1-D
    ``x``, arrays over the columns of a 2-D one."""
    x = np.asarray(x, dtype=float)
    m = x.mean(0)
    half = z(level) * x.std(0, ddof=1) / math.sqrt(x.shape[0])
    if x.ndim == 1:
        return float(m), float(m - half), float(m + half)
    return m, m - half, m + half


@dataclass(frozen=True)
class Tail:
    """Heavy-tail diagnostics of nonnegative terms d (the squared deviations of a variance)."""

    max_share: float  # max d / Σ d
    effective: float  # (Σ d)² / Σ d², the number of samples that carry the mean
    kurtosis: float  # sample kurtosis of the underlying deviations (3 for a normal)

    @property
    def heavy(self) -> bool:
        return self.max_share > MAX_SHARE or self.effective < MIN_EFFECTIVE

    def describe(self) -> str:
        return (f"largest sample {self.max_share:.1%} of the estimate, effective samples {self.effective:.0f}, "
                f"kurtosis {self.kurtosis:.3g}")


def tail(g: np.ndarray) -> Tail:
    """Tail diagnostics of the variance estimate of the rows of ``g`` (M, P) or samples (M,)."""
    g = np.asarray(g, dtype=float).reshape(len(g), -1)
    d2 = ((g - g.mean(0)) ** 2).sum(1)
    s = float(d2.sum())
    if s == 0:
        return Tail(0.0, float(len(d2)), 3.0)
    return Tail(float(d2.max() / s), s ** 2 / float((d2 ** 2).sum()), float(len(d2) * (d2 ** 2).sum() / s ** 2))


def tail_note(tails: dict) -> str:
    """A row's note on the tail diagnostics of the variances it uses ({label: Tail}): the heavy ones."""
    heavy = [f"{label}: {t.describe()}" for label, t in tails.items() if t.heavy]
    return ("heavy tail, no interval (" + "; ".join(heavy) + ")") if heavy else "no heavy tail"


def _trace_cov(*cols, axis=-1):
    """Unbiased trace of the covariance of paired columns (the statistic ``variance_ci`` bootstraps)."""
    return sum(np.var(c, axis=axis, ddof=1) for c in cols)


def variance_ci(g: np.ndarray, level: float = LEVEL, seed: int = 0,
                n_resamples: int = N_RESAMPLES) -> tuple[float, float, float, Tail]:
    """v = E‖g − E g‖² from iid rows of ``g`` (M, P) or samples (M,): (v̂, low, high, tail).

    v̂ is the unbiased estimate; the interval is BCa: the bootstrap distribution of
    ``scipy.stats.bootstrap`` (paired over coordinates) with the jackknife in closed form — leaving
    row m out turns (M − 1)v̂ into (M − 1)v̂ − M/(M − 1)·‖g_m − ḡ‖² — which is what scipy's BCa
    computes in O(M²); ``test_stats`` checks the two agree. With a heavy tail (``Tail.heavy``) the
    interval is (0, ∞): no verdict rests on a few samples."""
    g = np.asarray(g, dtype=float).reshape(len(g), -1)
    m = len(g)
    v = float(_trace_cov(*g.T))
    t = tail(g)
    if t.heavy:
        return v, 0.0, math.inf, t
    if v == 0:
        return 0.0, 0.0, 0.0, t
    jack = _jackknife(g, v)
    res = stats.bootstrap(tuple(g.T), _trace_cov, paired=True, vectorized=True, confidence_level=level,
                          n_resamples=n_resamples, method="percentile", batch=max(1, 2_000_000 // m),
                          random_state=np.random.default_rng(seed))
    lo, hi = _bca(res.bootstrap_distribution, v, jack, level)
    return v, max(lo, 0.0), hi, t


def _jackknife(g: np.ndarray, v: float) -> np.ndarray:
    """The M leave-one-row-out values of the unbiased v̂ of the rows of ``g`` (M, P), in closed form:
    leaving row m out turns (M − 1)v̂ into (M − 1)v̂ − M/(M − 1)·‖g_m − ḡ‖²."""
    m = len(g)
    return ((m - 1) * v - m / (m - 1) * ((g - g.mean(0)) ** 2).sum(1)) / (m - 2)


def log_variance_slope_ci(h: Sequence[float], gs: Sequence[np.ndarray], level: float = LEVEL, seed: int = 0,
                          n_resamples: int = N_RESAMPLES) -> tuple[float, float, float]:
    """Least-squares slope of log v(h) against ``h``, v(h) = E‖g_h − E g_h‖² from the rows of
    ``gs[k]`` (M, P_k) measured at ``h[k]``: (slope, low, high). The M rows of every h resample
    jointly (draws at different h are independent, so joint rows stay iid). BCa as ``variance_ci``,
    with the same closed-form jackknife per h (O(M) instead of scipy's O(M²)). Where any v(h) has a
    heavy tail (``tail``) the interval is (−∞, ∞), as in ``variances_ci``: no slope rests on a few
    samples."""
    h = np.asarray(h, dtype=float)
    w = (h - h.mean()) / ((h - h.mean()) ** 2).sum()
    gs = [np.asarray(g, dtype=float).reshape(len(g), -1) for g in gs]
    v = np.array([_trace_cov(*g.T) for g in gs])
    point = float(w @ np.log(v))
    if any(tail(g).heavy for g in gs):
        return point, -math.inf, math.inf
    m = len(gs[0])
    edges = np.cumsum([0] + [g.shape[1] for g in gs])
    cols = tuple(c for g in gs for c in g.T)

    def slope(*columns, axis=-1):
        return sum(wk * np.log(_trace_cov(*columns[a:b], axis=axis)) for wk, a, b in zip(w, edges[:-1], edges[1:]))

    jack = w @ np.log(np.stack([_jackknife(g, vk) for g, vk in zip(gs, v)]))
    res = stats.bootstrap(cols, slope, paired=True, vectorized=True, confidence_level=level,
                          n_resamples=n_resamples, method="percentile", batch=max(1, 2_000_000 // m),
                          random_state=np.random.default_rng(seed))
    lo, hi = _bca(res.bootstrap_distribution, point, jack, level)
    return point, lo, hi


def resample_indices(m: int, seed: int = 0, n_resamples: int = N_RESAMPLES) -> np.ndarray:
    """Row indices (n_resamples, m) of the bootstrap resamples, drawn as ``scipy.stats.bootstrap``
    draws them for paired data in one batch. Every sample of m rows resampled with the same indices
    is paired with every other: rows measured on the same draws, or independent samples whose rows
    are joined into iid joint rows."""
    return np.random.default_rng(seed).integers(0, m, (n_resamples, m))


@dataclass(frozen=True)
class PairedVariance:
    """v = E‖g − E g‖² from the rows of one g: the unbiased v̂, its bootstrap replicates over given
    resamples, its M leave-one-out values, and the tail diagnostics of ``tail``."""

    v: float
    boot: np.ndarray
    jack: np.ndarray
    tail: Tail


def paired_variances(g: np.ndarray, idx: np.ndarray, batch: int = 250) -> PairedVariance:
    """``PairedVariance`` of the rows of ``g`` (M, P) over the resamples ``idx`` of ``resample_indices``.
    A resample is its row counts c: v̂* = M/(M − 1)·(c·‖g_m − ḡ‖²/M − ‖c·(g − ḡ)/M‖²), one matrix
    product per batch of resamples, so no (resamples × M × P) array is formed."""
    g = np.asarray(g, dtype=float).reshape(len(g), -1)
    m = len(g)
    gc = g - g.mean(0)
    d2 = (gc ** 2).sum(1)
    v, t = float(d2.sum() / (m - 1)), tail(g)
    if t.heavy:  # ``variances_ci`` gives no interval: skip the replicates
        return PairedVariance(v, np.empty(0), np.empty(0), t)
    boot = np.empty(len(idx))
    for a in range(0, len(idx), batch):
        b = idx[a:a + batch]
        counts = np.bincount((b + m * np.arange(len(b))[:, None]).ravel(), minlength=len(b) * m).reshape(len(b), m)
        boot[a:a + batch] = m / (m - 1) * (counts @ d2 / m - ((counts @ gc / m) ** 2).sum(1))
    return PairedVariance(v, boot, _jackknife(g, v), t)


def variances_ci(stat: Callable[[np.ndarray], np.ndarray], vs: Sequence[PairedVariance],
                 level: float = LEVEL) -> tuple[float, float, float]:
    """BCa interval of ``stat(v)``, v = (v_1, …, v_K) of ``vs`` (measured over the same resamples):
    (point, low, high). ``stat`` maps an array (..., K) to (...). Where any of the K has a heavy tail
    the interval is (−∞, ∞): no verdict rests on a few samples."""
    point = float(stat(np.array([x.v for x in vs])))
    if any(x.tail.heavy for x in vs):
        return point, -math.inf, math.inf
    boot = stat(np.stack([x.boot for x in vs], -1))
    jack = stat(np.stack([x.jack for x in vs], -1))
    return (point, *_bca(boot, point, jack, level))


def _bca(boot: np.ndarray, point: float, jack: np.ndarray, level: float) -> tuple[float, float]:
    """Efron's BCa limits from a bootstrap distribution and the jackknife values (as scipy's BCa)."""
    z0 = stats.norm.ppf(np.mean(boot < point))
    u = jack.mean() - jack
    a = (u ** 3).sum() / (6 * ((u ** 2).sum()) ** 1.5)
    za = stats.norm.ppf([(1 - level) / 2, (1 + level) / 2])
    q = stats.norm.cdf(z0 + (z0 + za) / (1 - a * (z0 + za)))
    lo, hi = np.percentile(boot, 100 * q)
    return float(lo), float(hi)


def norm_of_mean_ci(g: np.ndarray, target: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """b = ‖target − E g‖ from iid rows of ``g``: (‖target − ḡ‖, low, high).

    Per coordinate a CLT interval at level 1 − (1 − level)/P (Bonferroni): the box they form holds
    E g with probability ≥ level (union bound, no independence needed), and the nearest and
    farthest points of the box from ``target`` give the limits of the norm.
    """
    g = np.asarray(g, dtype=float).reshape(len(g), -1)
    m, p = g.shape
    d = np.abs(np.asarray(target, dtype=float).reshape(-1) - g.mean(axis=0))
    half = z(1 - (1 - level) / p) * g.std(axis=0, ddof=1) / math.sqrt(m)
    return float(np.linalg.norm(d)), float(np.linalg.norm(np.clip(d - half, 0, None))), float(np.linalg.norm(d + half))


def bootstrap_ci(stat: Callable[..., np.ndarray], data: Sequence[np.ndarray], level: float = LEVEL,
                 seed: int = 0, n_resamples: int = N_RESAMPLES) -> tuple[float, float, float]:
    """BCa interval of ``stat(*columns, axis=-1)`` (vectorised) over rows resampled jointly (paired):
    (point, low, high). Columns measured on the same trajectories resample together."""
    data = tuple(np.asarray(d, dtype=float) for d in data)
    point = float(stat(*data, axis=-1))
    res = stats.bootstrap(data, stat, paired=True, vectorized=True, confidence_level=level, n_resamples=n_resamples,
                          method="BCa", batch=max(1, 2_000_000 // len(data[0])),
                          random_state=np.random.default_rng(seed))
    lo, hi = res.confidence_interval
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


def p_violated(r) -> float:
    """One-sided p-value of "violated" for a ``CheckResult`` ``r``, read off its interval at ``r.level``:
    the normal tail of (measured − bound) in units of the half-width on the bound's side (exact rows,
    a degenerate interval, give 0 or 1)."""
    lo, hi = r.ci
    gap, half = (r.measured - r.bound, r.measured - lo) if r.direction == "le" else (r.bound - r.measured, hi - r.measured)
    if lo == hi == r.measured:  # exact (an infinite value included)
        return 0.0 if gap > 0 else 1.0
    if half <= 0 or not math.isfinite(half):
        return 0.0 if half == 0 and gap > 0 else 1.0
    return float(stats.norm.sf(gap / (half / z(r.level))))


def holm(rows: list, alpha: float = 1 - LEVEL) -> list:
    """The rows of one claim with Holm's step-down at family-wise level ``alpha`` applied to their
    violated verdicts: a violation whose p-value does not pass is inconclusive family-wise
    (``holds_fwer`` None, its note says so); ``holds`` stays the row's own verdict, and holding and
    inconclusive rows are unchanged. The family is the list passed in."""
    idx = [k for k, r in enumerate(rows) if r.holds is False]
    ps = sorted((p_violated(rows[k]), k) for k in idx)
    m, out, passing = len(rows), list(rows), True
    for rank, (p, k) in enumerate(ps):
        passing = passing and p <= alpha / (m - rank)
        if not passing:
            r = replace(rows[k], note=(rows[k].note + "; " if rows[k].note else "")
                        + f"violation not significant at family-wise level {alpha:g} (Holm over {m} rows, p = {p:.2g})")
            r.holds_fwer = None
            out[k] = r
    return out


def holm_per_claim(rows: list) -> list:
    """``holm`` applied to each claim's rows (``CheckResult.claim``) as its own family, order kept per claim."""
    return [r for claim in dict.fromkeys(r.claim for r in rows) for r in holm([x for x in rows if x.claim == claim])]
