"""verify.stats: the interval implementations against scipy and, under ``-m slow``, their coverage on
quantities known exactly (the offset-LQ toy of ``verify.appendix_c.smoothness_c1_c5``: E ĝ(θ) and Var ĝ in
closed form; ``lqr-contracting``: b_t in closed form), 200 replications each, the number of misses
within the binomial tolerance of the stated level."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from verify import stats
from verify.appendix_c.smoothness_c1_c5 import OffsetToy
from verify.verdict import CheckResult

REPS = 200
TOY = OffsetToy(H=5)
THETA = 0.3


def test_variance_ci_is_scipy_bca():
    """The closed-form jackknife gives exactly scipy.stats.bootstrap's BCa interval."""
    rng = np.random.default_rng(0)
    g = rng.standard_normal((1500, 2)) * [1, 2] + rng.exponential(size=(1500, 1))
    v, lo, hi, _ = stats.variance_ci(g, seed=3)
    ref = sps.bootstrap(tuple(g.T), stats._trace_cov, paired=True, vectorized=True, confidence_level=stats.LEVEL,
                        n_resamples=stats.N_RESAMPLES, method="BCa", random_state=np.random.default_rng(3))
    assert math.isclose(lo, ref.confidence_interval.low, rel_tol=1e-9)
    assert math.isclose(hi, ref.confidence_interval.high, rel_tol=1e-9)
    assert math.isclose(v, g.var(0, ddof=1).sum())


def test_log_variance_slope_ci_is_scipy_bca():
    """The slope's closed-form jackknife gives exactly scipy.stats.bootstrap's BCa interval."""
    rng = np.random.default_rng(1)
    h = [2.0, 4.0, 7.0]
    gs = [rng.standard_normal((800, 2)) * np.exp(0.1 * hk) + rng.exponential(size=(800, 1)) for hk in h]
    slope, lo, hi = stats.log_variance_slope_ci(h, gs, seed=5)
    x = (np.array(h) - np.mean(h)) / ((np.array(h) - np.mean(h)) ** 2).sum()

    def stat(*c, axis=-1):
        return sum(xk * np.log(stats._trace_cov(*c[2 * k:2 * k + 2], axis=axis)) for k, xk in enumerate(x))

    ref = sps.bootstrap(tuple(c for g in gs for c in g.T), stat, paired=True, vectorized=True,
                        confidence_level=stats.LEVEL, n_resamples=stats.N_RESAMPLES, method="BCa",
                        random_state=np.random.default_rng(5))
    assert math.isclose(slope, stats.log_slope(h, [g.var(0, ddof=1).sum() for g in gs]), rel_tol=1e-9)
    assert math.isclose(lo, ref.confidence_interval.low, rel_tol=1e-9)
    assert math.isclose(hi, ref.confidence_interval.high, rel_tol=1e-9)


def test_log_variance_slope_ci_open_on_a_heavy_tail():
    """One h whose variance a single sample carries (a fifth of it): the slope keeps its point
    estimate and has no interval (−∞, ∞); without that sample the interval is finite."""
    rng = np.random.default_rng(1)
    h = [2.0, 4.0, 7.0]
    gs = [rng.standard_normal((4000, 1)) * np.exp(0.1 * hk) for hk in h]
    assert all(math.isfinite(x) for x in stats.log_variance_slope_ci(h, gs, n_resamples=200))
    gs[1][0] = 60.0
    assert stats.tail(gs[1]).heavy and not stats.tail(gs[0]).heavy and not stats.tail(gs[2]).heavy
    slope, lo, hi = stats.log_variance_slope_ci(h, gs, n_resamples=200)
    assert (lo, hi) == (-math.inf, math.inf)
    assert math.isclose(slope, stats.log_slope(h, [g.var(0, ddof=1).sum() for g in gs]), rel_tol=1e-9)


def test_variances_ci_is_scipy_bca():
    """Count-matrix replicates with the closed-form jackknife give scipy.stats.bootstrap's BCa interval
    of a ratio of two paired variances, resampled in one batch with the same seed."""
    rng = np.random.default_rng(2)
    g = rng.standard_normal((700, 3)) + rng.exponential(size=(700, 1))
    f = 0.5 * g[:, :2] + rng.standard_normal((700, 2))
    idx = stats.resample_indices(700, seed=7)
    ratio, lo, hi = stats.variances_ci(lambda v: v[..., 0] / v[..., 1],
                                       [stats.paired_variances(g, idx, batch=300), stats.paired_variances(f, idx)])

    def stat(*c, axis=-1):
        return stats._trace_cov(*c[:3], axis=axis) / stats._trace_cov(*c[3:], axis=axis)

    ref = sps.bootstrap((*g.T, *f.T), stat, paired=True, vectorized=True, confidence_level=stats.LEVEL,
                        n_resamples=stats.N_RESAMPLES, method="BCa", random_state=np.random.default_rng(7))
    assert math.isclose(ratio, g.var(0, ddof=1).sum() / f.var(0, ddof=1).sum(), rel_tol=1e-12)
    assert math.isclose(lo, ref.confidence_interval.low, rel_tol=1e-9)
    assert math.isclose(hi, ref.confidence_interval.high, rel_tol=1e-9)


def test_variances_ci_open_on_a_heavy_tail():
    g = np.random.default_rng(1).standard_normal((4000, 1))
    g[0] = 60.0
    idx = stats.resample_indices(4000, n_resamples=50)
    assert stats.variances_ci(lambda v: v[..., 0], [stats.paired_variances(g, idx)])[1:] == (-math.inf, math.inf)


def test_heavy_tail_gives_no_interval():
    """A sample carrying a fifth of v̂ (as sine-expanding at h = 25): (0, ∞), the verdict stays open."""
    g = np.random.default_rng(1).standard_normal(4000)
    g[0] = 60.0
    v, lo, hi, tail = stats.variance_ci(g)
    assert tail.heavy and tail.max_share > 0.2 and (lo, hi) == (0.0, math.inf)


def test_holm_keeps_exact_infinite_violations():
    """An exact row with an infinite measurement (no root where the paper has one) stays violated."""
    r = CheckResult("C.29", "printed", {}, measured=math.inf, ci=(math.inf, math.inf), bound=2.0)
    assert stats.p_violated(r) == 0.0
    assert stats.holm([r, CheckResult("C.29", "printed", {}, measured=1.0, ci=(1.0, 1.0), bound=2.0)])[0].holds is False


def test_holm_downgrades_only_weak_violations():
    """A violation just outside its 99 % interval (p ≈ 0.005) survives in a family of two, not of four."""
    strong = CheckResult("x", "printed", {}, 1.0, (0.9, 1.1), 0.0)
    weak = CheckResult("x", "printed", {}, 1.0, (0.001, 1.999), 0.0)
    held = CheckResult("x", "printed", {}, 0.0, (-0.1, 0.1), 1.0)
    assert [r.holds_fwer for r in stats.holm([strong, weak], alpha=0.01)] == [False, False]
    out = stats.holm([weak, held, held, held], alpha=0.01)
    assert [r.holds_fwer for r in out] == [None, True, True, True] and "Holm" in out[0].note
    assert [r.holds for r in out] == [False, True, True, True]  # the row's own verdict is kept


def _misses_ok(misses: int, level: float, conservative: bool = False) -> bool:
    """``misses`` of REPS within the central 99.9 % of Binomial(REPS, 1 − level) (upper end only for a
    conservative interval)."""
    lo, hi = sps.binom.ppf([0.0005, 0.9995], REPS, 1 - level)
    return misses <= hi and (conservative or misses >= lo)


@pytest.mark.slow
@pytest.mark.parametrize("level", [0.9, 0.99])
def test_coverage_mean_and_variance(level):
    """mean_ci on E ĝ(θ) and variance_ci on Var ĝ, exact values from the closed forms."""
    mean, var = TOY.mean_ghat(THETA), TOY.var_ghat()
    miss_m = miss_v = 0
    for rep in range(REPS):
        g = TOY.ghat(np.array([THETA]), 1000, np.random.default_rng(10_000 + rep))[0]
        _, lo, hi = stats.mean_ci(g, level)
        miss_m += not lo <= mean <= hi
        _, lo, hi, _ = stats.variance_ci(g, level, seed=rep)
        miss_v += not lo <= var <= hi
    assert _misses_ok(miss_m, level), miss_m
    assert _misses_ok(miss_v, level), miss_v


@pytest.mark.slow
@pytest.mark.parametrize("level", [0.9, 0.99])
def test_coverage_norm_of_mean(level):
    """norm_of_mean_ci on b = |∇J − E ĝ| of the offset toy (truncation bias, exact)."""
    b = abs(TOY.grad(THETA) - TOY.mean_ghat(THETA))
    misses = 0
    for rep in range(REPS):
        g = TOY.ghat(np.array([THETA]), 1000, np.random.default_rng(20_000 + rep))[0]
        _, lo, hi = stats.norm_of_mean_ci(g[:, None], np.array([TOY.grad(THETA)]), level)
        misses += not lo <= b <= hi
    assert _misses_ok(misses, level, conservative=True), misses
