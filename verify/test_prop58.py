"""Proposition 5.8 (gradient bias) and Remark 5.9 against measured b_t on the contracting LQR.

Verdicts were measured first (quick configuration, fixed seeds) and are encoded here; where a form
fails, the test is a strict xfail whose reason is the counterexample's ``describe()``.
"""
import math

import pytest

from verify import prop58
from verify.conftest import QUICK

EST, BETAS, HS = prop58.ESTIMATORS, prop58.BETAS, prop58.HS
STRUCTURAL = ("prop5.8 [printed] VIOLATED: measured 0.184 (99% CI [0.1809, 0.1871]) <= bound 0 at eps_f = eps_v = 0, "
              "h = 0, beta = 1, RP-DP, lqr-contracting: with an exact model and critic the bias does not vanish "
              "(h-step truncation with a fixed critic, and E_nu = (1 - gamma) grad J at h = 0, unnormalised values)")
EXPLICIT_H0 = ("prop5.8 [explicit] VIOLATED: measured 0.09854 (99% CI [0.09153, 0.1055]) <= bound 0 on "
               "lqr-contracting, RP-DP, beta = 0, h = 0, eps_f = eps_v = 0: (C.24) is 0 at h = 0 when eps_v = 0")


@pytest.mark.xfail(strict=True, reason=STRUCTURAL)
@pytest.mark.parametrize("est", EST)
def test_printed_bound(est):
    assert all(prop58.bound_check("(5.3)", est, b, h, QUICK).holds for b in BETAS for h in HS)


@pytest.mark.xfail(strict=True, reason=EXPLICIT_H0)
@pytest.mark.parametrize("est", EST)
@pytest.mark.parametrize("beta", BETAS)
def test_explicit_bound_h0(est, beta):
    assert prop58.bound_check("(C.24)", est, beta, 0, QUICK).holds is True


@pytest.mark.parametrize("est", EST)
@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("h", [h for h in HS if h != 0])
def test_explicit_bound_h_positive(est, beta, h):
    r = prop58.bound_check("(C.24)", est, beta, h, QUICK)
    assert r.holds is True, r.describe()


@pytest.mark.parametrize("name", ["(C.24) corrected", "(5.3) corrected"])
@pytest.mark.parametrize("est", EST)
def test_corrected_bound(name, est):
    for beta in BETAS:
        for h in HS:
            r = prop58.bound_check(name, est, beta, h, QUICK)
            assert r.holds is True, r.describe()


@pytest.mark.parametrize("est", EST)
@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("h", HS)
def test_zero_error_bias(est, beta, h):
    """(5.3) says b_t = 0 when ε_f = ε_v = 0. Measured: only β = 0, h = ∞ (BPTT from ζ, which is
    unbiased) is consistent with 0; every other (β, h) keeps a bias the bound does not have."""
    r = prop58.zero_check(est, beta, h, QUICK)
    if beta == 0.0 and math.isinf(h):
        assert r.holds is None and r.ci[0] == 0.0, r.describe()
    else:
        assert r.holds is False, r.describe()


@pytest.mark.parametrize("name", ["(5.3)", "(C.24)", "(C.24) corrected"])
@pytest.mark.parametrize("est", EST)
def test_bias_caused_by_model_error(name, est):
    """‖E ĝ(ε_f) − E ĝ(0)‖ ≤ B(ε_f, 0) − B(0, 0): the ε_f dependence (5.3) claims, h ≥ 1."""
    for beta in BETAS:
        for h in HS[1:]:
            r = prop58.sensitivity_check(name, "f", est, beta, h, QUICK)
            assert r.holds is True, r.describe()


@pytest.mark.parametrize("name", ["(C.24)", "(C.24) corrected", "(5.3) corrected"])
@pytest.mark.parametrize("est", EST)
def test_bias_caused_by_critic_error(name, est):
    for beta in BETAS:
        for h in HS[:-1]:
            r = prop58.sensitivity_check(name, "v", est, beta, h, QUICK)
            assert r.holds is True, r.describe()


@pytest.mark.xfail(strict=True, reason=(
    "prop5.8.eps_v [printed] VIOLATED: measured 0.2944 (99% CI [0.2834, 0.3054]) <= bound 0 on lqr-contracting, "
    "RP-DP, beta = 0, h = 0, eps_v = 0.3128: the h^2 factor makes (5.3) blind to the critic at h = 0"))
@pytest.mark.parametrize("est", EST)
def test_printed_critic_dependence_at_h0(est):
    assert prop58.sensitivity_check("(5.3)", "v", est, 0.0, 0, QUICK).holds is True


@pytest.mark.parametrize("name", ["(5.3)", "(C.24)", "(C.24) corrected"])
def test_model_error_negative_control(name):
    """The ε_f part of each bound scaled below the measured shift (× 1e-6) is caught at h = 10."""
    r = prop58.sensitivity_check(name, "f", "dp", 0.5, 10, QUICK, scale=1e-6)
    assert r.holds is False, r.describe()


@pytest.mark.parametrize("name", ["(C.24)", "(C.24) corrected", "(5.3) corrected"])
def test_bound_negative_control(name):
    """Each bound scaled by 1e-6 (a rate far lower than claimed) is caught by the same check."""
    r = prop58.bound_check(name, "dp", 0.5, 3, QUICK)
    wrong = type(r)(r.claim, r.form, r.instance, r.measured, r.ci, r.bound * 1e-6, level=r.level)
    assert wrong.holds is False, wrong.describe()


def test_model_and_critic_unused_where_the_estimator_ignores_them():
    """At h = 0 the model is not called and at h = ∞ the critic is not: the sample gradients are
    identical with and without the error (exact, not Monte Carlo)."""
    for est in EST:
        for beta in BETAS:
            assert (prop58.grads(0.1, 0.0, 0, beta, est, QUICK) == prop58.grads(0.0, 0.0, 0, beta, est, QUICK)).all()
            assert (prop58.grads(0.0, 1.0, math.inf, beta, est, QUICK)
                    == prop58.grads(0.0, 0.0, math.inf, beta, est, QUICK)).all()


@pytest.mark.parametrize("est", EST)
def test_remark59_h_infinite_prefers_zeta(est):
    r = prop58.remark59_check(math.inf, est, QUICK)
    assert r.holds is True, r.describe()


@pytest.mark.xfail(strict=True, reason=(
    "remark5.9 [printed] VIOLATED: b(beta=1) - min other = 0.08549 (99% CI [0.07538, 0.09559]) <= 0 at h = 0 and "
    "0.07238 (CI [0.05255, 0.09221]) for beta = 0.5 at h = 3, RP-DP, lqr-contracting, exact model and critic: "
    "beta = 0 gives the smallest bias at every h (0.099, 0.024) under unnormalised values"))
@pytest.mark.parametrize("h", [0, 3])
@pytest.mark.parametrize("est", EST)
def test_remark59_finite_h(h, est):
    assert prop58.remark59_check(h, est, QUICK).holds is True
