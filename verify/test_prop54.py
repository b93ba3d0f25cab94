"""Proposition 5.4 (gradient variance) against measured v_t: bounds, rates, exponential growth.

Verdicts were measured first (quick configuration, fixed seeds) and are encoded here; where a form
fails, the test is a strict xfail whose reason is the counterexample's ``describe()``.
"""
import pytest

from verify import prop54
from verify.conftest import QUICK

RUNS = prop54.QUICK.runs
CORRECT = [n for n, (form, _) in prop54.BOUNDS.items() if n != "(5.1)"]

# (5.1) carries the factors h^8 and h^6, so at h = 0 it claims v_t = 0 (erratum E4).
PRINTED_H0 = ("prop5.4 [printed] VIOLATED at h = 0 on every run, e.g. measured 0.02817 (99% CI [0.0266, 0.02978]) "
              "<= bound 0 on lqr-contracting (A=0.8, B=0.5, K=-0.3, gamma=0.9), RP-DP, N = 1")


@pytest.mark.parametrize("inst,est", RUNS)
@pytest.mark.parametrize("name", CORRECT)
def test_bound_holds(inst, est, name):
    for N in prop54.BATCHES:
        r = prop54.bound_check(inst, est, name, N, QUICK)
        assert r.holds is True, r.describe()


@pytest.mark.xfail(strict=True, reason=PRINTED_H0)
@pytest.mark.parametrize("inst,est", RUNS)
def test_printed_bound(inst, est):
    assert prop54.bound_check(inst, est, "(5.1)", 1, QUICK).holds is True


@pytest.mark.parametrize("inst,est", RUNS)
def test_printed_bound_from_h1(inst, est):
    """With the O-constant read as 1, (5.1) holds for 1 ≤ h ≤ 20: h = 0 is its only failure here."""
    r = prop54.bound_check(inst, est, "(5.1)", 1, QUICK, h_min=1)
    assert r.holds is True, r.describe()


@pytest.mark.parametrize("inst,est", RUNS)
@pytest.mark.parametrize("name", list(prop54.BOUNDS))
def test_bound_negative_control(inst, est, name):
    """Each bound, scaled to half the measurement where it is tightest, is caught."""
    r = prop54.scaled_below(inst, est, name, QUICK)
    assert r.holds is False, r.describe()


@pytest.mark.parametrize("inst,est", RUNS)
@pytest.mark.parametrize("name", list(prop54.BOUNDS))
def test_rate_at_most_bound_rate(inst, est, name):
    r = prop54.rate_check(inst, est, name, QUICK)
    assert r.holds is True, r.describe()


@pytest.mark.parametrize("inst,est", RUNS)
@pytest.mark.parametrize("name", list(prop54.BOUNDS))
def test_rate_negative_control(inst, est, name):
    """A bound whose rate is half the measured rate is caught (on contracting runs the measured
    rate is ≈ 0, so half of it is not below it: only expanding runs can catch a lowered rate)."""
    r = prop54.rate_scaled_below(inst, est, name, QUICK)
    if inst in prop54.EXPANDING:
        assert r.holds is False, r.describe()
    else:
        assert r.holds is not True or r.measured <= 0, r.describe()


@pytest.mark.parametrize("est", ["dp", "dr"])
def test_rate_exponential_factor_removed_is_caught(est):
    """Negative control on the expanding run: (5.1) without L̃_f^{6h} L̃_π^{4h} (L_f = L_π = 1)
    grows like h^8 and its rate falls below the measured exponential rate."""
    r = prop54.rate_check("sine-expanding", est, "(5.1)", QUICK, L_f=1.0, L_pi=1.0)
    assert r.holds is False, r.describe()


@pytest.mark.parametrize("inst,est", RUNS)
def test_exponential_only_when_expanding(inst, est):
    """On the expanding run log v_t grows with rate > 0 with confidence and is not flat; on the
    contracting runs it is flat and not exponential (each check is the other's control)."""
    grows = prop54.growth_check(inst, est, QUICK, exponential=True)
    flat = prop54.growth_check(inst, est, QUICK, exponential=False)
    if inst in prop54.EXPANDING:
        assert grows.holds is True and flat.holds is False, (grows.describe(), flat.describe())
    else:
        assert grows.holds is not True and flat.holds is True, (grows.describe(), flat.describe())
