"""The algebraic errata of docs/errata.md, each from the paper's own expressions (bounds/), and the
algebraic reasons two former errata were withdrawn or revised."""
import math

import numpy as np
import sympy as sp

from bounds import hstar
from bounds import variance as BV
from bounds.symbols import L_f, L_pi, L_theta


def test_e2_middle_line_of_c12_is_below_its_own_recursion():
    """E2: from (C.12)'s premise D_i ≤ L_f D_{i−1} + L_θ i L̃_f^i L̃_π^i (D_0 = 0), the printed middle line
    L_θ L̃_f^i L̃_π + L_θ i L̃_f^i L̃_π Σ_{j<i} L_f^j is not an upper bound: L_f = 1, L_π = 2, L_θ = 1, i = 3
    gives 34 for the recursion and 20 for the middle line; the last line (i² + 1) L̃_f^{2i} L̃_π^i = 80 holds."""
    lf, lp, lt = 1.0, 2.0, 1.0
    d = 0.0
    for k in range(1, 4):
        d = lf * d + lt * k * lf ** k * lp ** k
    at = {L_f: lf, L_pi: lp, L_theta: lt}
    middle = float(BV.c12_unrolled(3).subs(at).doit())
    assert (d, middle) == (34.0, 20.0)
    assert float(BV.c12(3).subs(at)) == 80.0


def test_e8_printed_hstar_does_not_bound_the_proofs_root_uniformly_in_gamma():
    """E8 (revised): Prop 5.10's argument W(2(log γ)²)/N + W((2/3)|log γ|^{4/3}(ε_v/ε_f)^{2/3}) against the
    root h2 of (C.37) that the proof derives: the ratio grows like 1.5/log(1/γ), so no constant
    independent of γ makes the printed form bound it."""
    ratios = []
    for g in (0.9, 0.99, 0.999, 0.9999):
        p = dict(gamma=g, eps_f=0.1, eps_v=1.0, N=1.0, C_h=1.0)
        ratios.append(float(hstar.h2_np(**p)) / float(hstar.h_star_paper_np(**p)))
    assert all(b > 5 * a for a, b in zip(ratios[1:], ratios[2:]))
    assert math.isclose(ratios[-1] * math.log(1 / 0.9999), 1.5, rel_tol=0.02)


def test_e8_root_of_g1_is_free_of_N():
    """E8: (C.38) solves h^7 + h^6 γ^{2h} log γ = 0, which N divides out of: the /N of Prop 5.10 is not derived."""
    assert sp.simplify(sp.diff(hstar.h1(), sp.Symbol("N", positive=True))) == 0


def test_e9_c33_drops_log_eps_f_and_the_real_cube_root_is_the_derivations_value():
    """E9: rearranging (C.32) gives log h − (2/3) h log γ = (1/3) log log(1/γ) + (2/3) log ε_v − (2/3) log ε_f;
    (C.33) prints it without the last term. (log γ)^{4/3} read as the real cube root of (log γ)^4
    equals (log(1/γ))^{4/3}: that part of the former E9 is notation, not an error."""
    h, g, ef, ev = sp.symbols("h gamma eps_f eps_v", positive=True)
    c32 = sp.Eq(3 * sp.log(h) + 2 * sp.log(ef), 2 * h * sp.log(g) + sp.log(sp.log(1 / g)) + 2 * sp.log(ev))
    lhs = sp.log(h) - sp.Rational(2, 3) * h * sp.log(g)
    rhs = sp.solve(c32, sp.log(ef))[0]  # isolate, then compare with the corrected right side
    corrected = sp.Rational(1, 3) * sp.log(sp.log(1 / g)) + sp.Rational(2, 3) * sp.log(ev) - sp.Rational(2, 3) * sp.log(ef)
    assert sp.simplify((lhs - corrected).subs(sp.log(ef), rhs)) == 0
    x = np.log(np.array([0.5, 0.9, 0.99]))
    assert np.allclose(np.cbrt(x ** 4), (-x) ** (4 / 3))


def test_e15_collapse_holds_at_h1_for_any_valid_constants():
    """Former E15 (withdrawn): with the paper's K̂ of (C.13), K̂(1) − K̂(0) ≥ 2L_θ whenever L̃_f, L̃_π ≥ 1,
    and dev_0 = E‖∂_θπ(ŝ_0) − ∂_θπ(s̄_0)‖ ≤ 2L_θ, so the collapse of (C.16) at h = 1,
    L_r(dev_0 + 2K̂(0)) + γL_Q̂(dev_1 + 2K̂(1)) ≤ (L_r + γL_Q̂)(dev_1 + 2K̂(1)), needs only
    dev_1 − dev_0 + 2(K̂(1) − K̂(0)) ≥ 0, which holds."""
    for lf in (0.1, 0.5, 1.0, 2.0, 5.0):
        for lp in (0.1, 0.5, 1.0, 2.0, 5.0):
            gap = float((BV.K_hat(1) - BV.K_hat(0)).subs({L_f: lf, L_pi: lp, L_theta: 1.0}))
            assert gap >= 2.0


def test_e18_assumption_5_7_holds_with_kappa_at_most_one_over_sqrt_one_minus_gamma():
    """E18: ν = (1 − γ) Σ_t γ^t P_t ≥ (1 − γ) ζ, so E_ν[(dζ/dν)²] = E_ζ[dζ/dν] ≤ 1/(1 − γ) for every chain:
    (5.2) holds with κ = (1 − γ)^{-1/2} whatever the MDP, and κ ≥ 1 (Jensen). A transient point mass
    attains the bound."""
    rng = np.random.default_rng(0)
    for _ in range(500):
        n, g = int(rng.integers(2, 8)), float(rng.uniform(0.5, 0.999))
        P = rng.dirichlet(np.full(n, 0.3), size=n)
        zeta = rng.dirichlet(np.full(n, 0.3))
        nu = (1 - g) * np.linalg.solve((np.eye(n) - g * P).T, zeta)
        kappa2 = float(np.sum(zeta[nu > 0] ** 2 / nu[nu > 0]))
        assert 1 - 1e-9 <= kappa2 <= 1 / (1 - g) + 1e-9
    g = 0.99
    P = np.array([[0.0, 1.0], [0.0, 1.0]])  # state 0 is left at once and never revisited
    zeta = np.array([1.0, 0.0])
    nu = (1 - g) * np.linalg.solve((np.eye(2) - g * P).T, zeta)
    assert math.isclose(zeta[0] ** 2 / nu[0], 1 / (1 - g), rel_tol=1e-12)


def test_e19_the_printed_bias_bound_is_smallest_at_beta_one():
    """E19: κ' = β + κ(1 − β) falls with β for κ ≥ 1, so (5.3)'s right side is smallest at β = 1 (sampling
    from ν) for every h, ε_f, ε_v: the bound never favours ζ (Remark 5.9 at h = ∞) or a mixture (finite h)."""
    from bounds import bias as BB
    from bounds.symbols import C_bias, beta, eps_f, eps_v, gamma, h, kappa, tilde

    d = sp.diff(BB.bias_printed(), beta)
    # "(5.3): C_bias(κ'κ h⁴ L̃_f^{3h} L̃_π^{2h} ε_f + κ' h² γ^h L̃_f^{2h} L̃_π^h ε_v)", ∂κ'/∂β = 1 − κ
    lf, lp = tilde(L_f), tilde(L_pi)
    stated = (1 - kappa) * C_bias * (kappa * h**4 * lf**(3 * h) * lp**(2 * h) * eps_f + h**2 * gamma**h * lf**(2 * h) * lp**h * eps_v)
    assert sp.simplify(d - stated) == 0
    f = sp.lambdify(sorted(d.free_symbols, key=str), d)
    rng = np.random.default_rng(1)
    names = [s.name for s in sorted(d.free_symbols, key=str)]
    for _ in range(200):
        p = {k: float(rng.uniform(0, 3)) for k in names}
        p.update(kappa=float(rng.uniform(1, 5)), gamma=float(rng.uniform(0.5, 0.999)), h=float(rng.integers(1, 30)),
                 beta=float(rng.uniform(0, 1)))
        assert f(*[p[k] for k in names]) <= 0
