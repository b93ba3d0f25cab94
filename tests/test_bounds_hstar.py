"""Proposition 5.10: the Lambert W solutions (C.31)-(C.39), the interval, and the CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from bounds import hstar as H, numeric as nm
from bounds.symbols import C_h, DEFAULTS, N, eps_f, eps_v, gamma, h

gam = st.floats(0.5, 0.9999)
eps = st.floats(1e-6, 1e3)


def at(expr, **p):
    return float(sp.N(expr.subs({gamma: p["gamma"], eps_f: p["eps_f"], eps_v: p["eps_v"],
                                 N: p.get("N", 1)}), 30))


def test_h1_h2_solve_c38_c31_symbolically():
    ell = sp.Symbol("ell", positive=True)  # log(1/γ)
    r = sp.Symbol("r", positive=True)  # ε_v/ε_f
    h1 = sp.LambertW(2 * ell**2) / (2 * ell)
    h2 = sp.Rational(3, 2) / ell * sp.LambertW(sp.Rational(2, 3) * ell ** sp.Rational(4, 3)
                                                * r ** sp.Rational(2, 3))
    # (C.38) line 4: h exp(2hℓ) = ℓ;  (C.34): h exp((2/3)hℓ) = ℓ^{1/3} r^{2/3}

    def w_identity(x):  # e^{W(y)} = y / W(y), the definition W(y) e^{W(y)} = y
        return sp.expand(x).replace(
            lambda z: isinstance(z, sp.exp) and isinstance(z.args[0], sp.LambertW),
            lambda z: z.args[0].args[0] / z.args[0])

    assert sp.simplify(w_identity(h1 * sp.exp(2 * h1 * ell)) - ell) == 0
    assert sp.simplify(w_identity(h2 * sp.exp(sp.Rational(2, 3) * h2 * ell))
                       - ell ** sp.Rational(1, 3) * r ** sp.Rational(2, 3)) == 0
    # and (C.39)'s 5/2, 2/5, 6/5 end point fails (C.34)
    h5 = sp.Rational(5, 2) / ell * sp.LambertW(sp.Rational(2, 5) * ell ** sp.Rational(6, 5)
                                                * r ** sp.Rational(2, 5))
    bad = w_identity(h5 * sp.exp(sp.Rational(2, 3) * h5 * ell))
    assert sp.simplify(bad - ell ** sp.Rational(1, 3) * r ** sp.Rational(2, 3)) != 0


@settings(max_examples=40, deadline=None)
@given(g=gam, ef=eps, ev=eps)
def test_h1_h2_are_roots_of_c30(g, ef, ev):
    p = dict(gamma=g, eps_f=ef, eps_v=ev)
    h1, h2 = H.h1_np(**p), H.h2_np(**p)
    # relative residuals of g1' = 0 and g2' = 0 written as h = γ^{2h} log(1/γ), h³ε_f² = γ^{2h} log(1/γ) ε_v²
    assert h1 == pytest.approx(g ** (2 * h1) * np.log(1 / g), rel=1e-9)
    lhs = 3 * np.log(h2) + 2 * np.log(ef)
    rhs = 2 * h2 * np.log(g) + np.log(np.log(1 / g)) + 2 * np.log(ev)
    assert lhs == pytest.approx(rhs, abs=1e-8 * max(1.0, abs(lhs)))
    assert H.h1_np(**p, N=7) == h1  # (C.38) does not involve N


def test_c39_printed_end_point_does_not_solve_c31():
    # erratum E7: 5/2, 2/5, 6/5 solve h^5 ε_f² = γ^{2h} log(1/γ) ε_v², not (C.31)
    p = dict(gamma=0.99, eps_f=1e-3, eps_v=1.0)
    wrong = H._pref5(**p) * H._w5(**p)
    res = lambda x: 3 * np.log(x) + 2 * np.log(1e-3) - (2 * x * np.log(0.99) + np.log(np.log(1 / 0.99)))  # noqa: E731
    assert abs(res(H.h2_np(**p))) < 1e-9 and abs(res(wrong)) > 1.0
    assert H.h2_np(**p) == pytest.approx(19.0007, rel=1e-4) and wrong == pytest.approx(6.1614, rel=1e-4)


def test_log_gamma_to_4_3_is_complex_on_the_principal_branch():
    # erratum E9: (log γ)^{4/3} with log γ < 0 is not real; (log 1/γ)^{4/3} is
    assert abs(sp.im(sp.N(sp.log(sp.Float(0.99)) ** sp.Rational(4, 3)))) > 1e-4
    assert sp.im(sp.N(sp.log(1 / sp.Float(0.99)) ** sp.Rational(4, 3))) == 0


@settings(max_examples=40, deadline=None)
@given(g=gam, ef=eps, r1=st.floats(1e-6, 1e6), f=st.floats(1.01, 1e3))
def test_h2_increasing_in_eps_ratio(g, ef, r1, f):
    a = H.h2_np(gamma=g, eps_f=ef, eps_v=ef * r1)
    b = H.h2_np(gamma=g, eps_f=ef, eps_v=ef * r1 * f)
    assert b > a > 0


@settings(max_examples=40, deadline=None)
@given(g=gam, ef=eps, ev=eps, n=st.integers(1, 10**4))
def test_root_of_c30_lies_in_corrected_interval(g, ef, ev, n):
    p = {**DEFAULTS, "gamma": g, "eps_f": ef, "eps_v": ev, "N": n}
    lo, hi = H.h_star_interval_np(**p)
    root = H.h_star_derivative_root(**p)
    assert lo * (1 - 1e-7) <= root <= hi * (1 + 1e-7)


def test_c29_is_not_the_derivative_of_c28():
    # erratum E6: at the defaults (L̃ = 1) ∂g/∂h of (C.28) is > 0 on (0, 10], so g has no interior
    # stationary point there, while (C.29) has the root 0.218
    p = {**DEFAULTS, "eps_f": 0.1, "eps_v": 1.0}
    gp = nm.direct(H.g_prime_explicit())
    assert np.all(gp(**{**p, "h": np.linspace(1e-6, 10, 500)}) > 0)
    assert H.h_star_derivative_root(**p) == pytest.approx(0.218129, rel=1e-5)
    assert H.h_star_argmin("explicit", 50, **p) == 0


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "bounds.hstar", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_json_agrees_with_direct_evaluation():
    r = run_cli("--eps_f", "0.001", "--eps_v", "1", "--N", "10", "--L_f", "1.2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    p = {**DEFAULTS, "eps_f": 0.001, "eps_v": 1.0, "N": 10, "L_f": 1.2}
    assert out["h1"] == pytest.approx(at(H.h1(), **p), rel=1e-12)
    assert out["h2"] == pytest.approx(at(H.h2(), **p), rel=1e-12)
    assert out["h_star_paper"] == pytest.approx(at(H.h_star_paper().subs(C_h, 1), **p), rel=1e-12)
    assert out["h_star_interval"] == pytest.approx(sorted([out["h1"], out["h2"]]))
    root = out["h_star_derivative_root"]
    assert abs(at((H.g1_prime() + H.g2_prime()).subs(h, root), **p)) < 1e-9 * root**7 / 10
    assert out["h_star_argmin"] == H.h_star_argmin("explicit", 1000, **p)
    g = nm.Evaluator(H.g_of_h())(h=np.arange(1001.0), **p).log
    assert g[out["h_star_argmin"]] == g.min()
    assert out["inputs"]["N"] == 10 and out["inputs"]["gamma"] == 0.99
    assert isinstance(out["recommended_h"], int) and out["recommended_h"] == out["h_star_argmin"]
    assert isinstance(out["basis"], str) and "\n" not in out["basis"] and "(C.28)" in out["basis"]


def test_cli_opens_with_the_recommendation():
    # erratum E6 at the defaults: both bounds are smallest at h = 0, so the line says so and points on
    r = run_cli("--eps_f", "0.1", "--eps_v", "1.0")
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()[:2]
    assert first.startswith("recommended h = 0: integer argmin over h = 0..1000 of g(h) of (C.28)")
    assert "whatever η, δ, L and N" in first and first.endswith("python -m verify.hstar")
    assert second.startswith("h_star_paper")


def test_recommendation_when_the_bounds_argmin_is_positive():
    # ε_v/ε_f = 10⁸ at γ = 0.6: (C.24)'s γ^h ε_v term falls until its ε_f and h-growing terms take over (bias
    # bound smallest at h = 13), while (C.16) grows from h = 0; g balances them at h = 10
    p = {**DEFAULTS, "gamma": 0.6, "L_Qhat": 10.0, "L_r": 0.1, "eps_f": 1e-4, "eps_v": 1e4, "L_f": 0.5, "L_pi": 0.5}
    h_rec, basis = H.recommendation(1000, **p)
    assert h_rec == H.h_star_argmin("explicit", 1000, **p) == 10 and not H.bounds_smallest_at_0(1000, **p)
    assert "worth little" in basis and "whatever" not in basis and basis.endswith("python -m verify.hstar")


@settings(max_examples=30, deadline=None)
@given(eta=st.floats(1e-4, 10.0), eta_L=st.floats(0.0, 0.99), delta=st.floats(1e-3, 1e3), n=st.integers(1, 10**4),
       g=gam, ef=eps, ev=eps)
def test_bounds_smallest_at_0_fixes_the_argmin_whatever_eta_delta_L_N(eta, eta_L, delta, n, g, ef, ev):
    # g of (C.28) increases in b and v (c > 0), whose argmins none of η, δ, L, N moves (N only scales v)
    p = {**DEFAULTS, "gamma": g, "eps_f": ef, "eps_v": ev}
    q = {**p, "eta": eta, "delta": delta, "L": eta_L / eta, "N": n}
    if H.bounds_smallest_at_0(200, **p):
        assert H.h_star_argmin("explicit", 200, **q) == 0 and H.recommendation(200, **q)[0] == 0


def test_bounds_imports_nothing_of_ours_outside_bounds():
    code = ("import sys, bounds.hstar; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('verify', 'toy_mdps', 'trainers')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr


@pytest.mark.parametrize("args", [
    [], ["--eps_f", "1"], ["--eps_v", "1"], ["--eps_f", "x", "--eps_v", "1"],
    ["--eps_f", "0", "--eps_v", "1"], ["--eps_f", "1", "--eps_v", "-2"],
    ["--eps_f", "nan", "--eps_v", "1"], ["--eps_f", "1", "--eps_v", "inf"],
    ["--eps_f", "1", "--eps_v", "1", "--gamma", "1"], ["--eps_f", "1", "--eps_v", "1", "--gamma", "0"],
    ["--eps_f", "1", "--eps_v", "1", "--gamma", "nan"], ["--eps_f", "1", "--eps_v", "1", "--N", "0"],
    ["--eps_f", "1", "--eps_v", "1", "--N", "2.5"], ["--eps_f", "1", "--eps_v", "1", "--N", "x"],
])
def test_cli_bad_input_exits_2_with_one_line(args, capsys):
    with pytest.raises(SystemExit) as exc:
        H.main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("bounds.hstar: error:")


def test_cli_bad_input_in_a_real_process():
    r = run_cli("--eps_f", "1", "--eps_v", "1", "--gamma", "1.5")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == ["bounds.hstar: error: --gamma must lie in (0, 1), got 1.5"]
