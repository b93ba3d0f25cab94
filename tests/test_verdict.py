"""The three-valued verdict: holds, violated, inconclusive, never rounded."""
import math

import pytest
from hypothesis import given, strategies as st

from verify.record import RTOL_EXACT, Record
from verify.verdict import CheckResult, Control, Inconclusive, Verdict, Violated, require, verdict

finite = st.floats(-1e6, 1e6, allow_nan=False)


def test_three_values():
    assert verdict(1.0, 2.0, 3.0) is Verdict.HOLDS
    assert verdict(4.0, 5.0, 3.0) is Verdict.VIOLATED
    assert verdict(2.0, 4.0, 3.0) is Verdict.INCONCLUSIVE
    assert verdict(4.0, 5.0, 3.0, "ge") is Verdict.HOLDS
    assert verdict(1.0, 2.0, 3.0, "ge") is Verdict.VIOLATED


@given(finite, finite, finite)
def test_inconclusive_exactly_when_bound_inside_ci(a, b, bound):
    low, high = min(a, b), max(a, b)
    v = verdict(low, high, bound)
    assert (v is Verdict.INCONCLUSIVE) == (low <= bound <= high)


def test_bad_inputs():
    with pytest.raises(ValueError):
        verdict(2.0, 1.0, 0.0)
    with pytest.raises(ValueError):
        verdict(1.0, 2.0, math.nan)
    with pytest.raises(ValueError):
        verdict(1.0, 2.0, 0.0, "lt")


def test_record_json_keeps_null_for_inconclusive():
    r = CheckResult("prop5.4", "printed", {"mdp": "lqr"}, measured=2.0, ci=(1.0, 3.0), bound=2.5)
    d = r.to_json()
    assert d["holds"] is None and d["ci"] == [1.0, 3.0] and d["tightness"] == 1.25
    assert "inconclusive" in r.describe()
    assert CheckResult("x", "explicit", {}, 0.0, (0.0, 0.0), 1.0).to_json()["tightness"] == "inf"


def test_require_raises_the_verdicts_own_exception():
    require(CheckResult("x", "printed", {}, 1.0, (0.5, 0.9), 1.0))
    with pytest.raises(Violated):
        require(CheckResult("x", "printed", {}, 2.0, (1.5, 2.5), 1.0))
    with pytest.raises(Inconclusive):
        require(CheckResult("x", "printed", {}, 1.0, (0.5, 1.5), 1.0))
    assert not issubclass(Violated, Inconclusive) and not issubclass(Inconclusive, Violated)


def test_record_pins_verdict_and_numbers():
    r = CheckResult("x", "printed", {}, 2.0, (1.5, 2.5), 1.0)
    Record.of(r).check(r, RTOL_EXACT)
    # a drift of the numbers, or of the verdict, is a plain AssertionError, which raises=Violated rejects
    for rec in (Record(False, 2.1, (1.5, 2.5), 1.0), Record(False, 2.0, (1.5, 2.5), 1.1),
                Record(False, 2.0, (1.4, 2.5), 1.0), Record(None, 2.0, (1.5, 2.5), 1.0)):
        with pytest.raises(AssertionError) as e:
            rec.check(r, RTOL_EXACT)
        assert type(e.value) is AssertionError
    Record(False, 2.1, (1.5, 2.5), 1.0).check(r, math.inf)  # rtol = inf pins the verdict only
    rec = Record(None, 1.0, (0.5, 1.5), 1.0)
    assert rec.raises is Inconclusive and "inconclusive" in rec.reason()


def test_identity_form_and_control():
    real = CheckResult("x", "corrected", {}, 1.0, (0.9, 1.1), 2.0)
    assert CheckResult("x", "identity", {}, 0.0, (0.0, 0.0), 1e-9).holds is True
    with pytest.raises(ValueError):
        CheckResult("x", "measured", {}, 0.0, (0.0, 0.0), 1.0)
    caught = Control("drop a power", real, CheckResult("x", "corrected", {}, 1.0, (0.9, 1.1), 0.5))
    missed = Control("L_f → 1", real, CheckResult("x", "corrected", {}, 1.0, (0.9, 1.1), 1.5))
    assert caught.caught and not missed.caught and caught.to_json()["control_bound"] == 0.5
