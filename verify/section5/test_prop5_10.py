"""Proposition 5.10 (h*) and Remark 5.11 on the contracting LQR with Â = A + ε_f and a perturbed critic.

The argmin of the measured g(h) of (C.28) is given as a confidence set from paired comparisons of
g on common random numbers (no bootstrap of an argmin). Verdicts were measured first (quick
configuration, fixed seeds); a (form, rung) that does not hold is a strict xfail that accepts only
the exception of its recorded verdict, after reproducing its verdict, empirical argmin,
confidence-set hull and bound (as ``test_recorded`` does). No form
of h* holds on every rung: the measured argmin moves to h = 3..6 when ε_v/ε_f ≈ 10, while every
closed form stays ≤ 2.1 and the bounds' own g is minimised at h = 0 (erratum E6).
"""
import math

import pytest

from verify.conftest import QUICK
from verify.section5 import prop5_10
from verify.verdict import RAISES, require

RUNGS = prop5_10.QUICK.rungs
COMPARES = ["Prop 5.10 O(·) with C_h = 1", "(C.39) interval as printed", "[min(h1,h2), max(h1,h2)]",
            "root of (C.29)-(C.30)", "argmin of (C.28) from (C.16), (C.24)", "argmin of corrected g"]

#: (compare, rung index) -> (verdict, ĥ, hull of the argmin set, bound of the deciding row); ratios
#: ε_v/ε_f = 1.565, 2.756, 9.482, 11.588 for rungs 0..3
RECORDED = {
    (COMPARES[0], 1): (False, 1, (1, 1), 0.06269),
    (COMPARES[0], 2): (False, 5, (4, 6), 0.1318),
    (COMPARES[0], 3): (False, 3, (3, 5), 0.1481),
    (COMPARES[1], 2): (False, 5, (4, 6), 2.5),
    (COMPARES[1], 3): (False, 3, (3, 5), 2.5),
    (COMPARES[2], 2): (False, 5, (4, 6), 2.5),
    (COMPARES[2], 3): (None, 3, (3, 5), 3.5),
    (COMPARES[3], 2): (False, 5, (4, 6), 1.5),
    (COMPARES[3], 3): (False, 3, (3, 5), 1.5),
    (COMPARES[4], 1): (False, 1, (1, 1), 0.5),
    (COMPARES[4], 2): (False, 5, (4, 6), 0.5),
    (COMPARES[4], 3): (False, 3, (3, 5), 0.5),
    (COMPARES[5], 1): (False, 1, (1, 1), 0.5),
    (COMPARES[5], 2): (False, 5, (4, 6), 0.5),
    (COMPARES[5], 3): (False, 3, (3, 5), 0.5),
}


def _row(k, compare):
    return next(r for r in prop5_10.checks(*RUNGS[k], QUICK) if r.instance["compare"] == compare)


def _params():
    for compare in COMPARES:
        for k in range(len(RUNGS)):
            marks = ([pytest.mark.xfail(strict=True, raises=RAISES[RECORDED[compare, k][0]],
                                        reason=f"recorded: {RECORDED[compare, k]}")]
                     if (compare, k) in RECORDED else [])
            yield pytest.param(compare, k, marks=marks, id=f"{compare}-rung{k}")


@pytest.mark.parametrize("compare,k", list(_params()))
def test_form_on_rung(compare, k):
    """A recorded case accepts only the exception of its verdict (``Violated``/``Inconclusive``)."""
    r = _row(k, compare)
    if (compare, k) in RECORDED:
        holds, h_best, hull, bound = RECORDED[compare, k]
        assert r.holds is holds and r.measured == h_best and r.ci == hull, r.describe()
        assert math.isclose(r.bound, bound, rel_tol=1e-3), r.describe()
    require(r)


@pytest.mark.parametrize("key", list(RECORDED), ids=lambda k: f"{k[0]}-rung{k[1]}")
def test_recorded(key):
    holds, h_best, hull, bound = RECORDED[key]
    r = _row(key[1], key[0])
    assert r.holds is holds and r.measured == h_best and r.ci == hull, r.describe()
    assert math.isclose(r.bound, bound, rel_tol=1e-3), r.describe()


def test_argmin_sets():
    """ĥ = 0, 1, 5, 3 with confidence sets {0}, {1}, {4, 5, 6}, {3, 4, 5} at ε_v/ε_f = 1.56 … 11.6."""
    sets = [prop5_10.rung(*x, QUICK).argmin_set() for x in RUNGS]
    assert sets == [(0,), (1,), (4, 5, 6), (3, 4, 5)]


def test_remark511_best_h_grows_with_ratio():
    """The argmin set at the largest ratio lies above the one at the smallest (both at 99.5 %)."""
    r = prop5_10.growth_check(QUICK)
    assert r.holds is True, r.describe()


@pytest.mark.parametrize("k", range(len(prop5_10.config(QUICK).rungs)))
def test_remark511_h_star_positive(k):
    """Remark 5.11's "h* is positive", an identity of (C.37), (C.38): both end points > 0 on each rung."""
    r = prop5_10.positive_check(prop5_10.rung(*prop5_10.config(QUICK).rungs[k], QUICK))
    assert r.form == "identity" and r.holds is True and r.instance["h1"] > 0 and r.instance["h2"] > 0, r.describe()


def test_remark511_negative_control():
    """The same check with the rungs swapped ("h* decreases with ε_v/ε_f", ``RATIO_INVERTED``) is caught."""
    r = prop5_10.growth_check(QUICK, reverse=True)
    assert r.holds is False, r.describe()


def test_negative_control_theory_shifted():
    """On the rung where every form holds, each h* moved by +10 (printed bound by −10) is caught."""
    up = prop5_10.checks(*RUNGS[0], QUICK, shift=10)[1:]
    down = prop5_10.checks(*RUNGS[0], QUICK, shift=-10)[:1]
    for r in up + down:
        assert r.holds is False, r.describe()


def test_roots_of_c30_reproduce_the_closed_forms():
    """``positive_root``, which the structural controls use on the changed (C.30), gives (C.38)'s h1,
    (C.37)'s h2 and the root of (C.29)–(C.30) on every rung (relative 1e-9)."""
    from bounds import hstar
    for x in RUNGS:
        r = prop5_10.rung(*x, QUICK)
        p, t = prop5_10.params(r), prop5_10.theory(r)
        for expr, want in ((hstar.g1_prime(), t["h1"]), (hstar.g2_prime(), t["h2"]),
                           (hstar.g1_prime() + hstar.g2_prime(), t["root"])):
            assert math.isclose(prop5_10.positive_root(expr, p), want, rel_tol=1e-9), (x, expr, want)


def test_structural_controls():
    """Power. Prop 5.10's rows hold only on rungs 0 and 1, where the argmin set is {0} or {1} and every
    theoretical h* is below 1; no structural change (of g (C.28): 13 on rung 0; of (C.30): γ^{2h} →
    γ^{2h+1}, γ^{2h} → γ², the ε terms dropped, 5 per rung) moves the theory to another integer: 0 of 23
    caught. (Dropping one power of h from every term of (C.30) leaves its roots in place: not applied.)
    Remark 5.11 with ε_v/ε_f inverted (rungs swapped) is caught: 1 of 1."""
    cs = prop5_10.structural_controls(QUICK)
    assert all(c.real.holds is True for c in cs)
    prop = [c for c in cs if c.claim == "prop5.10"]
    assert len(prop) == 23 and not any(c.caught for c in prop), [c.to_json() for c in prop if c.caught]
    assert {c.real.instance["eps_f"] for c in prop} == {RUNGS[0][0], RUNGS[1][0]}
    remark = [c for c in cs if c.claim == "remark5.11"]
    assert [(c.change, c.caught) for c in remark] == [(prop5_10.RATIO_INVERTED, True)]


def test_common_random_numbers_are_shared_across_h():
    """Every h is measured on the same start states and noise: at h = 0 the gradient depends only on
    (s_0, ς_0), which the h = 20 rollout starts from, so their per-sample values are strongly correlated."""
    import numpy as np
    x = prop5_10.crn_grads(*RUNGS[1], QUICK)
    assert np.corrcoef(x[:, 0], x[:, 1])[0, 1] > 0.5
