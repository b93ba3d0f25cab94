"""bounds/__init__: the name table and the lazy hstar entries build the same objects as the modules."""
import math
from importlib import import_module

import pytest
import sympy

import bounds
from bounds import hstar


@pytest.mark.parametrize("name", ["g_of_h", "g_corrected"])
def test_lazy_hstar_entries_build_the_hstar_expressions(name):
    want = getattr(hstar, name)()
    assert bounds._hstar(name)() == want
    assert bounds.EXPRESSIONS[name]() == want


def test_every_name_builds_its_module_function():
    for name, ctor in bounds.EXPRESSIONS.items():
        module = bounds.variance if hasattr(bounds.variance, name) else bounds.bias if hasattr(bounds.bias, name) else hstar
        assert ctor() == getattr(module, name)(), name


def test_evaluate_by_name():
    # (C.10) at i = 3, L_f = 1.3, L_π = 1.7, L_θ = 0.6: L_θ (i+1) L̃_f^i L̃_π^i
    r = bounds.evaluate("c10", i=3, L_f=1.3, L_pi=1.7, L_theta=0.6)
    assert float(r.value) == pytest.approx(0.6 * 4 * 1.3**3 * 1.7**3, rel=1e-12)
    assert float(r.log) == pytest.approx(math.log(0.6 * 4 * 1.3**3 * 1.7**3), rel=1e-12)
    assert bounds.evaluator("c10").name == "c10"


def test_numeric_lambert_w_of_a_sympy_argument():
    # hstar._w_of: W of (C.37)'s argument through its log; against scipy's W of the same number
    from scipy.special import lambertw
    for g, ef, ev in ((0.99, 1e-3, 1.0), (0.7, 2.0, 5.0)):
        arg = 2 / 3 * math.log(1 / g) ** (4 / 3) * (ev / ef) ** (2 / 3)
        got = float(hstar._w_of(hstar._h2_arg(3))(gamma=g, eps_f=ef, eps_v=ev))
        assert got == pytest.approx(float(lambertw(arg).real), rel=1e-12)
        arg1 = 2 * math.log(g) ** 2
        assert float(hstar._w_of(2 * sympy.log(hstar.gamma) ** 2)(gamma=g)) == pytest.approx(
            float(lambertw(arg1).real), rel=1e-12)


def test_split_signs_of_c30():
    # (C.29)-(C.30) = P − Q with P = h^7/N + h^7 ε_f², Q = (h^6/N + h^4 ε_v²) γ^{2h} log(1/γ)
    P, Q = hstar._split_signs(hstar.g1_prime() + hstar.g2_prime())
    p = {hstar.h: 1.7, hstar.gamma: 0.9, hstar.eps_f: 0.3, hstar.eps_v: 0.8, hstar.N: 4}
    ell = math.log(1 / 0.9)
    assert float(P.subs(p)) == pytest.approx(1.7**7 / 4 + 1.7**7 * 0.09, rel=1e-12)
    assert float(Q.subs(p)) == pytest.approx((1.7**6 / 4 + 1.7**4 * 0.64) * 0.9**3.4 * ell, rel=1e-12)
    lp = hstar._gp_sign_log(h=1.7, gamma=0.9, eps_f=0.3, eps_v=0.8, N=4)
    assert float(lp) == pytest.approx(math.log(float(P.subs(p))) - math.log(float(Q.subs(p))), rel=1e-12)


def test_the_claims_bounds_are_registered_with_their_label_form_and_kind():
    got = {(b.claim, b.label): (b.name, b.form, b.kind) for b in bounds.REGISTRY.values()}
    assert got == {
        ("prop5.4", "(5.1)"): ("variance_printed", "printed", "O"),
        ("prop5.4", "(C.16)"): ("variance_explicit", "explicit", "explicit"),
        ("prop5.4", "(C.16) corrected"): ("variance_corrected", "corrected", "explicit"),
        ("prop5.4", "(5.1) corrected"): ("variance_printed_corrected", "corrected", "O"),
        ("prop5.8", "(5.3)"): ("bias_printed", "printed", "O"),
        ("prop5.8", "(C.24)"): ("bias_explicit", "explicit", "explicit"),
        ("prop5.8", "(C.24) corrected"): ("bias_corrected", "corrected", "explicit"),
        ("prop5.8", "(5.3) corrected"): ("bias_printed_corrected", "corrected", "O"),
        ("prop5.2", "prop5.2"): ("prop52_rhs", "printed", "explicit"),
        ("prop5.2", "prop5.2 corrected"): ("prop52_rhs_corrected", "corrected", "explicit"),
        ("cor5.12", "cor5.12"): ("cor512_rhs", "printed", "O"),
        ("cor5.12", "cor5.12 explicit"): ("cor512_explicit", "explicit", "explicit")}
    assert list(bounds.of_claim("prop5.8")) == ["(5.3)", "(C.24)", "(C.24) corrected", "(5.3) corrected"]
    for b in bounds.REGISTRY.values():
        assert getattr(import_module(f"bounds.{b.fn.__module__.split('.')[-1]}"), b.name) is b.fn


def test_a_bound_registered_twice_or_in_an_unknown_form_is_refused():
    from bounds.registry import bound

    with pytest.raises(ValueError, match="registered already"):
        bound("(5.3)", "prop5.8", "printed")(lambda: 0)
    with pytest.raises(ValueError, match="form must be one of"):
        bound("x", "prop5.8", "loose")
