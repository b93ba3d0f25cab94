"""Log-space evaluators agree with sympy, never overflow, and their primitives are right."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

import bounds
from bounds import numeric as nm

NAMES = ["variance_explicit", "variance_corrected", "variance_printed", "bias_explicit",
         "bias_corrected", "bias_printed", "g_of_h", "g_corrected"]
lip = st.floats(0.0, 3.0)


@settings(max_examples=12, deadline=None)
@given(h=st.integers(0, 25), L_f=lip, L_pi=lip, L_theta=st.floats(0.1, 3), eps_f=st.floats(0, 2),
       eps_v=st.floats(0, 2), gamma=st.floats(0.5, 0.999), e=st.floats(0, 1))
def test_lambdified_matches_sympy(h, **p):
    for name in NAMES:
        got = bounds.evaluate(name, h=h, **p)
        ref = nm.subs_value(bounds.EXPRESSIONS[name](), h=h, **p)
        if ref.has(sp.oo, sp.zoo, sp.nan):  # bias_corrected and g_corrected where γρ ≥ 1 (bounds.bias.sup_grad_V)
            assert got.value == nm.FLOAT_MAX, name
        else:
            assert got.value == pytest.approx(float(ref), rel=1e-9, abs=1e-300), name


@pytest.mark.parametrize("name", list(bounds.EXPRESSIONS))
def test_no_overflow_or_nan_at_extremes(name):
    big = {k: 10.0 for k in ("L_f", "L_pi", "L_theta", "L_r", "L_Q", "L_Qhat", "kappa", "e",
                             "eps_f", "eps_v")}
    for p in ({"h": 1000.0, "i": 1000.0, **big},
              {"h": 0.0, "i": 0.0, **{k: 0.0 for k in big}, "kappa": 1.0},
              {"h": np.arange(1001.0), "i": np.arange(1001.0), **big, "gamma": 1e-300}):
        r = bounds.evaluate(name, **p)
        assert np.all(np.isfinite(r.value)) and not np.any(np.isnan(r.log))
        assert np.all(r.value >= 0)
    r = bounds.evaluate(name, h=1000.0, i=1000.0, **big)
    if np.isfinite(r.log) and r.log > nm.LOG_FLOAT_MAX:
        assert r.value == nm.FLOAT_MAX


@settings(max_examples=60, deadline=None)
@given(rho=st.floats(0, 3), n=st.integers(0, 60))
def test_log_geom_is_the_geometric_sum(rho, n):
    ref = sum(rho**j for j in range(n))
    with np.errstate(divide="ignore"):
        got = np.exp(nm.log_geom(np.log(rho), n))
    assert got == pytest.approx(ref, rel=1e-10, abs=1e-300)


@settings(max_examples=60, deadline=None)
@given(x=st.floats(0, 1e6))
def test_lambertw_inverts_x_exp_x(x):
    # W(x e^x) = x, passed as log(x e^x) = log x + x so that x e^x may exceed float max
    w = nm.lambertw_of_log(np.log(x) + x if x > 0 else -np.inf)
    assert w == pytest.approx(x, rel=1e-10, abs=1e-12)
