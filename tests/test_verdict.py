"""The three-valued verdict: holds, violated, inconclusive, never rounded."""
import math

import pytest
from hypothesis import given, strategies as st

from verify.verdict import CheckResult, Verdict, verdict

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
