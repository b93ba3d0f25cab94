"""Proposition 5.2 and Corollary 5.12 on Algorithm 1 (offset-LQ toy, exact L, η = 1/√T, T ≥ 4L²).

Verdicts were measured first (quick configuration, fixed seeds) and are encoded here; where a form
fails or cannot be decided, the test is a strict xfail whose reason is the counterexample's
``describe()``.
"""
import math

import pytest

from verify import prop52
from verify.conftest import QUICK

PROJ, FREE = prop52.DELTAS
PAIRS = prop52.QUICK.pairs()

# H = 60 (truncation bias ≈ 0): the per-run noise of the measured b_t (σ/√NMC ≈ 0.01) exceeds b_t and,
# multiplied by c·2δ, widens the printed bound's interval past the left side (E16 shows the same
# configuration violated with the exact b_t).
PRINTED_H60 = (
    'prop5.2 [printed] inconclusive: measured 0.38 (99% CI [0.1055, 0.4142]) <= bound 0.1098 on {"A": 0.5, "B": 1.0, '
    '"H": 60, "K": -0.2, "L": 1.7613, "N": 4, "T": 16, "bound": "prop5.2", "delta": "0.349999", "eta": 0.25, '
    '"gamma": 0.9, "mdp": "offset-LQ toy", "runs": 200, "sigma": 0.3, "t_min": 2}; c = 7.147, δ = 0.35, '
    'mean b_t = 0.001469, mean v_t = 0.003961, E[J(θ_T) − J(θ_0)] = 0.3236, argmin t = 2; bound interval '
    '[0.07555, 0.3843] folded into the CI; per-t limits Bonferroni over T')
CORRECTED_PROJECTED = (
    'prop5.2 [corrected] VIOLATED: measured 0.38 (99% CI [0.3327, 0.3852]) <= bound 0.2251 on {"A": 0.5, "B": 1.0, '
    '"H": 60, "K": -0.2, "L": 1.7613, "N": 8, "T": 64, "bound": "prop5.2 corrected", "delta": "0.349999", '
    '"eta": 0.125, "gamma": 0.9, "mdp": "offset-LQ toy", "runs": 200, "sigma": 0.3, "t_min": 4}; c = 10.26, '
    'δ = 0.35, mean b_t = 0.001399, mean v_t = 0.001982, E[J(θ_T) − J(θ_0)] = 0.3236, argmin t = 4; bound interval '
    '[0.2199, 0.2723] folded into the CI; per-t limits Bonferroni over T (the corrected form covers the unprojected '
    'update only, erratum E10/E16: the projected iterates stop at θ = δ where ∇J ≠ 0)')
COR512_H60 = (
    'cor5.12 [printed] inconclusive: measured 0.38 (99% CI [-0.2976, 0.443]) <= bound 0.1882 on {"A": 0.5, "B": 1.0, '
    '"H": 60, "K": -0.2, "L": 1.7613, "N": 8, "T": 64, "bound": "cor5.12", "delta": "0.349999", "eta": 0.125, '
    '"gamma": 0.9, "mdp": "offset-LQ toy", "runs": 200, "sigma": 0.3, "t_min": 4}; also cor5.12 [explicit] '
    'inconclusive: 0.38 (99% CI [0.0597, 0.4184]) <= 0.1211 at T = 16')


@pytest.mark.parametrize("name", list(prop52.BOUNDS))
@pytest.mark.parametrize("H,T", PAIRS)
def test_unprojected(name, H, T):
    """Every form holds for the unprojected update (4.6) (δ read as max |θ_t|)."""
    r = prop52.check(name, H, T, FREE, QUICK)
    assert r.holds is True, r.describe()


@pytest.mark.parametrize("name", list(prop52.BOUNDS))
@pytest.mark.parametrize("T", dict(prop52.QUICK.Ts)[5])
def test_projected_with_truncation_bias(name, T):
    """H = 5: the bias terms (c·2δ·b_t, ε(T)) dominate and every form holds, loosely (tightness 3–600)."""
    r = prop52.check(name, 5, T, PROJ, QUICK)
    assert r.holds is True, r.describe()


@pytest.mark.xfail(strict=True, reason=PRINTED_H60)
@pytest.mark.parametrize("T", dict(prop52.QUICK.Ts)[60])
def test_printed_projected_h60(T):
    assert prop52.check("prop5.2", 60, T, PROJ, QUICK).holds is True


def test_corrected_projected_h60_small_T():
    r = prop52.check("prop5.2 corrected", 60, 16, PROJ, QUICK)
    assert r.holds is True, r.describe()


@pytest.mark.xfail(strict=True, reason=CORRECTED_PROJECTED)
def test_corrected_projected_h60():
    assert prop52.check("prop5.2 corrected", 60, 64, PROJ, QUICK).holds is True


@pytest.mark.xfail(strict=True, reason=COR512_H60)
@pytest.mark.parametrize("name", ["cor5.12", "cor5.12 explicit"])
@pytest.mark.parametrize("T", dict(prop52.QUICK.Ts)[60])
def test_cor512_projected_h60(name, T):
    assert prop52.check(name, 60, T, PROJ, QUICK).holds is True


@pytest.mark.parametrize("name", list(prop52.BOUNDS))
def test_negative_control_bias_terms_removed(name):
    """Each bound with its b_t terms removed (b_t = 0, ε(T) = 0) is caught on the biased H = 5 run."""
    T = dict(prop52.QUICK.Ts)[5][-1]
    r = prop52.check(name, 5, T, PROJ, QUICK, drop=("b",))
    assert r.holds is False, r.describe()


def test_step_sizes_satisfy_the_hypotheses():
    """T ≥ 4L² and η = 1/√T < 1/L (so c > 0) for every T run, and c ≤ 2√T (proof C.5)."""
    for H, T in PAIRS:
        r = prop52.run(H, T, FREE, QUICK)
        assert T >= 4 * prop52.TOY.L ** 2 and 0 < r.c <= 2 * math.sqrt(T)


def test_unprojected_iterates_leave_the_ball():
    """Erratum E10(a): nothing keeps the unprojected iterates in Θ = [−θ*/2, θ*/2]."""
    r = prop52.run(5, dict(prop52.QUICK.Ts)[5][0], FREE, QUICK)
    assert r.radius > PROJ
