"""Explicit and corrected bounds are non-negative and monotone where Propositions 5.4, 5.8 say."""
import numpy as np
from hypothesis import given, settings, strategies as st

import bounds

FORMS = ["variance_explicit", "variance_corrected", "bias_explicit", "bias_corrected"]
big_lip = st.floats(1.0001, 10.0)
lip = st.floats(0.0, 10.0)
TOL = 1e-12


def lg(name, **p):
    return bounds.evaluate(name, **p).log


def geq(b, a) -> bool:
    """b ≥ a up to rounding; +∞ ≥ +∞ (a bound diverges where γρ ≥ 1: bounds.bias.sup_grad_V)."""
    return b == a or b >= a - TOL * abs(a)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(0, 999), L_f=big_lip, L_pi=big_lip, eps_f=st.floats(0, 1),
       eps_v=st.floats(0, 1), gamma=st.floats(0.5, 0.999))
def test_increasing_in_h_when_lipschitz_above_one(h, **p):
    # not bias_corrected: its E12 term decays like γ^{h+1}, as the exact-model bias it bounds does
    for name in (f for f in FORMS if f != "bias_corrected"):
        a, b = lg(name, h=h, **p), lg(name, h=h + 1, **p)
        assert geq(b, a), name


@settings(max_examples=40, deadline=None)
@given(h=st.integers(0, 300), eps=st.floats(0, 5), deps=st.floats(0.01, 5), L_f=lip, L_pi=lip)
def test_bias_increasing_in_eps(h, eps, deps, **p):
    for name in ("bias_explicit", "bias_corrected"):
        for key, other in (("eps_f", "eps_v"), ("eps_v", "eps_f")):
            a = lg(name, h=h, **{key: eps, other: 0.3}, **p)
            b = lg(name, h=h, **{key: eps + deps, other: 0.3}, **p)
            assert geq(b, a), (name, key)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(0, 300), x=st.floats(0, 9), dx=st.floats(0.01, 1),
       key=st.sampled_from(["L_f", "L_pi", "L_theta", "L_r", "L_Q", "L_Qhat"]))
def test_increasing_in_lipschitz_constants(h, x, dx, key):
    eps = dict(eps_f=0.2, eps_v=0.3)
    for name in FORMS:
        a, b = lg(name, h=h, **{key: x}, **eps), lg(name, h=h, **{key: x + dx}, **eps)
        assert geq(b, a), (name, key)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(0, 300), n=st.floats(1, 1e6), dn=st.floats(0.5, 1e6))
def test_variance_strictly_decreasing_in_N(h, n, dn):
    for name in ("variance_explicit", "variance_corrected", "variance_printed_corrected"):
        a, b = bounds.evaluate(name, h=h, N=n), bounds.evaluate(name, h=h, N=n + dn)
        assert b.log < a.log and b.value >= 0


def test_printed_variance_vanishes_at_h0_where_c16_does_not():
    # erratum E4: (5.1) is 0 at h = 0, (C.16) is (L_Q̂ (e + 4 L_θ))² / N there
    p = dict(h=0, e=0.5, L_theta=2.0, L_Qhat=3.0, N=1)
    assert bounds.evaluate("variance_printed", **p).value == 0
    assert np.isclose(bounds.evaluate("variance_explicit", **p).value, (3.0 * (0.5 + 8.0)) ** 2)


def test_c16_within_constant_of_5_1_for_h_ge_1():
    # (C.16) ≤ C (5.1) for h ≥ 1: the ratio peaks at small h and does not grow with h
    h = np.arange(1, 1001.0)
    for L in (0.5, 1.5, 4.0):
        r = lg("variance_explicit", h=h, L_f=L, L_pi=L) - lg("variance_printed", h=h, L_f=L, L_pi=L)
        assert r[-1] <= r.max() and np.all(np.diff(r[100:]) <= 1e-9)


def test_c24_positive_when_model_and_critic_exact():
    # erratum E5: (5.3) is 0 at ε_f = ε_v = 0, (C.24) is not
    p = dict(h=5, eps_f=0.0, eps_v=0.0)
    assert bounds.evaluate("bias_printed", **p).value == 0
    assert bounds.evaluate("bias_explicit", **p).value > 1.0
