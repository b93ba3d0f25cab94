"""Proposition 5.10 (h*) and Remark 5.11 on the contracting LQR with Â = A + ε_f and a perturbed critic.

Verdicts were measured first (quick configuration, fixed seeds) and are encoded here; where a form
fails or cannot be decided on a rung, the test is a strict xfail whose reason is the deciding
counterexample's ``describe()``. No form of h* holds on every rung: the measured g(h) of (C.28)
keeps falling to h = 4 when ε_v/ε_f ≈ 10, while every closed form stays ≤ 2.1 and the bounds'
own g is minimised at h = 0 (erratum E6).
"""
import pytest

from verify import prop510
from verify.conftest import QUICK

RUNGS = prop510.QUICK.rungs
COMPARES = ["Prop 5.10 O(·) with C_h = 1", "(C.39) interval as printed", "[min(h1,h2), max(h1,h2)]",
            "root of (C.29)-(C.30)", "argmin of (C.28) from (C.16), (C.24)", "argmin of corrected g"]
_C = ('{"A": 0.8, "B": 0.5, "K": -0.3, "L": 1.0, "N": 16, "beta": 0.0, "c": 11.1111, "delta": 1.0, '
      '"estimator": "dp", "eta": 0.1, "mdp": "lqr-contracting"}')
REASON = {
    COMPARES[0]: "prop5.10 [printed] VIOLATED: measured 1 (99% CI [1, 2]) <= bound 0.06269 at eps_f = 0.1, "
                 "delta_v = 1, eps_v = 0.2756 (ratio 2.756), h1 = 0.1031, h2 = 0.8732; also ĥ = 4 [4, 16] vs 0.1318 "
                 "at ratio 9.48, on " + _C,
    COMPARES[1]: "prop5.10 [explicit] VIOLATED: measured 4 (99% CI [4, 16]) <= bound 2.5 on (C.39) interval as printed "
                 "{0..2} at eps_f = 0.05, delta_v = 2, eps_v = 0.4741 (ratio 9.482), h2 = 1.857, on " + _C,
    COMPARES[2]: "prop5.10 [corrected] VIOLATED: measured 4 (99% CI [4, 16]) <= bound 2.5 on [min(h1,h2), max(h1,h2)] "
                 "= {0..2} at eps_f = 0.05, delta_v = 2, eps_v = 0.4741 (ratio 9.482), h1 = 0.1031, h2 = 1.857; "
                 "inconclusive at ratios 2.76 and 11.6 (ĥ CI [1, 2] vs 1.5, [3, 16] vs 3.5), on " + _C,
    COMPARES[3]: "prop5.10 [explicit] VIOLATED: measured 4 (99% CI [3, 16]) <= bound 1.5 on root of (C.29)-(C.30) "
                 "at eps_f = 0.02, delta_v = 1, eps_v = 0.2318 (ratio 11.588), h1 = 0.1031, h2 = 2.089, on " + _C,
    COMPARES[4]: "prop5.10 [explicit] VIOLATED: measured 1 (99% CI [1, 2]) <= bound 0.5 on argmin of (C.28) from "
                 "(C.16), (C.24) (= 0 on every rung) at eps_f = 0.1, delta_v = 1, eps_v = 0.2756 (ratio 2.756), on " + _C,
    COMPARES[5]: "prop5.10 [corrected] VIOLATED: measured 1 (99% CI [1, 2]) <= bound 0.5 on argmin of corrected g "
                 "(= 0 on every rung) at eps_f = 0.1, delta_v = 1, eps_v = 0.2756 (ratio 2.756), on " + _C,
}


def _row(rung, compare):
    return next(r for r in prop510.checks(*rung, QUICK) if r.instance["compare"] == compare)


@pytest.mark.parametrize("compare", COMPARES)
def test_smallest_ratio(compare):
    """At ε_v/ε_f = 1.56 (ε_f = 0.2, δ_v = 0.5) ĥ = 0 and every form of h* agrees."""
    r = _row(RUNGS[0], compare)
    assert r.holds is True, r.describe()


@pytest.mark.parametrize("compare", [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=REASON[c]))
                                     for c in COMPARES])
def test_every_rung(compare):
    assert all(_row(rung, compare).holds is True for rung in RUNGS)


def test_remark511_best_h_grows_with_ratio():
    """ĥ = 0, 1, 4, 4 at ε_v/ε_f = 1.56, 2.76, 9.48, 11.6: slope in log ratio > 0 with confidence."""
    r = prop510.growth_check(QUICK)
    assert r.holds is True, r.describe()


def test_remark511_negative_control():
    """The same check with the ratio reversed ("ĥ decreases with ε_v/ε_f") is caught."""
    r = prop510.growth_check(QUICK, reverse=True)
    assert r.holds is False, r.describe()


def test_negative_control_theory_shifted():
    """On the rung where every form holds, each h* moved by +10 (printed bound by −10) is caught."""
    up = prop510.checks(*RUNGS[0], QUICK, shift=10)[1:]
    down = prop510.checks(*RUNGS[0], QUICK, shift=-10)[:1]
    for r in up + down:
        assert r.holds is False, r.describe()
