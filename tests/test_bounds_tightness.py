"""How close the corrected forms of bounds/ come to exact truths: pinned ratios bound / truth.

A looser corrected form still holds, so validity tests cannot catch it; these pins can. Each test
states the tightness (bound / exact value) on instances where the truth is exact: scalar linear
systems s' = A s + B a, a = K s + θ + σς (θ an action offset, so L_θ = 1 exactly,
L_f = ‖(A, B)‖, L_π = ‖(K, σ)‖), whose pathwise derivatives follow an exact linear recursion
(the one ``trainers.estimators.trajectory_jacobians`` differentiates; written out here), and a
quadratic objective whose SGD moments are exact. Numbers are unnormalised (docs/conventions.md).
"""
import math

import numpy as np
import pytest
import sympy as sp

from bounds import bias as BB, convergence as BC, numeric as nm, symbols as BS, variance as BV

K_MAX = 40


def linear_derivatives(A, B, K, n=K_MAX):
    """Exact dŝ_k/dθ, dâ_k/dθ, k = 0..n: dŝ_{k+1} = A dŝ_k + B dâ_k, dâ_k = K dŝ_k + 1, dŝ_0 = 0."""
    ds, da, out = 0.0, 1.0, []
    for _ in range(n + 1):
        out.append((ds, da))
        ds = A * ds + B * da
        da = K * ds + 1.0
    return np.array(out)


def per_step(form, n=K_MAX, **p):
    """A per-step bound of bounds/ at k = 0..n, from a fresh log-space evaluator (no cache)."""
    return nm.Evaluator(form())(i=np.arange(n + 1.0), **p).value


def rho_at(L_f, L_pi):
    return float(BV.rho.xreplace({BS.L_f: sp.Float(L_f), BS.L_pi: sp.Float(L_pi)}))


# --- ρ, the one-step rate of the corrected chain ---------------------------------------------------

def test_rho_against_closed_loop_rate_issue_instance():
    # A = B = 0.69, K = 0.95, σ = 0.1 (L_f = 0.9758, L_π = 0.9552): ρ = 1.349475 against the exact
    # growth rate |A + BK| = 1.3455 of dŝ_k/dθ: tightness 1.00295
    A, B, K, s = 0.69, 0.69, 0.95, 0.1
    r = rho_at(math.hypot(A, B), math.hypot(K, s))
    assert r == pytest.approx(1.349475, abs=1e-6)
    assert r / abs(A + B * K) == pytest.approx(1.0029542, abs=1e-6)


def test_rho_is_attained_by_the_closed_loop():
    # Cauchy-Schwarz: |A + BK| ≤ ‖(A, B)‖·‖(1, K)‖ ≤ L_f sqrt(1 + L_π²) = ρ, equality for (A, B) ∥ (1, K)
    # and σ = 0: worst-case tightness exactly 1 (e.g. A = B = 0.5, K = 1: ρ = |A + BK| = 1)
    grid = np.linspace(-1.5, 1.5, 13)
    ratios = []
    for A in grid:
        for B in grid:
            for K in grid:
                for s in (0.0, 0.3):
                    cl = abs(A + B * K)
                    if cl > 1e-9:
                        ratios.append(rho_at(math.hypot(A, B), math.hypot(K, s)) / cl)
    assert min(ratios) >= 1 - 1e-12
    assert min(ratios) == pytest.approx(1.0, abs=1e-12)
    for A, B, K in ((0.5, 0.5, 1.0), (0.3, 0.9, 3.0), (0.7, 0.7, 1.0)):
        assert rho_at(math.hypot(A, B), abs(K)) == pytest.approx(abs(A + B * K), rel=1e-12)


# --- corrected (C.10), (C.12), (C.13) against exact pathwise derivatives --------------------------

TIGHT = [  # (A, B) = λ(1, K), σ = 0: ρ = A + BK; then D_k / ‖dŝ_k/dθ‖ = L_f / B = sqrt(1 + K²)/K
    (0.5, 0.5, 1.0, math.sqrt(2)),
    (0.3, 0.9, 3.0, math.sqrt(10) / 3),  # 1.05409
]


@pytest.mark.parametrize("A, B, K, ratio", TIGHT, ids=["K1", "K3"])
def test_corrected_c12_tightness_on_attaining_systems(A, B, K, ratio):
    ex = linear_derivatives(A, B, K)
    p = dict(L_f=math.hypot(A, B), L_pi=K, L_theta=1.0)
    D = per_step(BV.c12_corrected, **p)
    assert D[0] == 0 and ex[0, 0] == 0
    # the corrected (C.12) is exactly sqrt(1+K²)/K times the truth at every k ≥ 1 (1.41421 at K = 1,
    # 1.05409 at K = 3): only the forcing term L_f L_θ ≥ |B| is loose, the rate ρ is attained
    assert np.allclose(D[1:] / ex[1:, 0], ratio, rtol=1e-9)


def test_corrected_c10_c13_tightness_on_attaining_system():
    A, B, K = 0.3, 0.9, 3.0
    ex = linear_derivatives(A, B, K)
    p = dict(L_f=math.hypot(A, B), L_pi=K, L_theta=1.0)
    E = per_step(BV.c10_corrected, **p) / np.abs(ex[:, 1])
    Kh = per_step(BV.K_hat_corrected, **p) / np.hypot(ex[:, 0], ex[:, 1])
    # corrected (C.10): exact at k = 0 (E_0 = L_θ = |dâ_0/dθ|), 1.03947 at k = 1, → sqrt(10)/3 = 1.05409
    assert E[[0, 1, 10, 40]] == pytest.approx([1.0, 1.0394729, 1.0540919, 1.0540926], rel=1e-6)
    # corrected (C.13) bounds ‖(dŝ, dâ)‖ by D + E: exact at k = 0, → (1 + K)/sqrt(1 + K²)·sqrt(10)/3 = 4/3
    assert Kh[[0, 1, 10, 40]] == pytest.approx([1.0, 1.2591586, 1.3333302, 1.3333333], rel=1e-6)


def test_corrected_c10_c12_tightness_on_issue_instance():
    # A = B = 0.69, K = 0.95, σ = 0.1 (the erratum E1 instance): the rate gap ρ/|A + BK| = 1.00295
    # compounds; at k = 40 the corrected (C.12) is 1.57323 × the truth, (C.10) 1.58192 ×, (C.13) 2.23013 ×
    A, B, K, s = 0.69, 0.69, 0.95, 0.1
    ex = linear_derivatives(A, B, K)
    p = dict(L_f=math.hypot(A, B), L_pi=math.hypot(K, s), L_theta=1.0)
    D = per_step(BV.c12_corrected, **p)[1:] / ex[1:, 0]
    E = per_step(BV.c10_corrected, **p) / ex[:, 1]
    Kh = per_step(BV.K_hat_corrected, **p) / np.hypot(ex[:, 0], ex[:, 1])
    assert D[[0, 9, 39]] == pytest.approx([1.4142136, 1.4422547, 1.5732283], rel=1e-6)
    assert E[[0, 1, 10, 40]] == pytest.approx([1.0, 1.1671028, 1.4377159, 1.5819180], rel=1e-6)
    assert Kh[[0, 1, 10, 40]] == pytest.approx([1.0, 1.6213458, 2.0363478, 2.2301349], rel=1e-6)


# --- corrected (C.20), (C.21): model vs true linear dynamics ----------------------------------------

def test_corrected_c20_c21_tightness_on_linear_pair():
    # true (A, B) = (0.5, 0.5), model (0.5, 0.55), K = 1: ε_f = ‖(Â − A, B̂ − B)‖ = 0.05, L_f = 0.7433
    # (both dynamics). The exact deviations |dŝ_k − ds_k|, |dâ_k − da_k| come from the two recursions.
    # The ε-free terms 2L_f L_π D and 2L_f L_θ, 2L_θ (Jacobians moving with the state, absent here)
    # dominate: tightness 53.88 / 86.47 / 128.11 for (C.21) and 123.62 / 97.32 / 132.14 for (C.20)
    # at k = 1 / 10 / 40.
    A, B, Ah, Bh, K = 0.5, 0.5, 0.5, 0.55, 1.0
    tr, md = linear_derivatives(A, B, K), linear_derivatives(Ah, Bh, K)
    p = dict(L_f=max(math.hypot(A, B), math.hypot(Ah, Bh)), L_pi=K, L_theta=1.0,
             eps_f=math.hypot(Ah - A, Bh - B))
    S = per_step(BB.c21_corrected, **p) / np.abs(md[:, 0] - tr[:, 0]).clip(1e-300)
    Ad = per_step(BB.c20_corrected, **p) / np.abs(md[:, 1] - tr[:, 1]).clip(1e-300)
    assert S[[1, 10, 40]] == pytest.approx([53.883327, 86.473625, 128.11209], rel=1e-6)
    assert Ad[[1, 10, 40]] == pytest.approx([123.61546, 97.320484, 132.13627], rel=1e-6)


# --- the O(·) forms: corrected (5.1) and (5.3) have the rate of the chain they summarise ------------

H = np.array([1000.0, 2000.0, 4000.0])


def log_ratio(full, o_form, **p):
    return nm.Evaluator(full()).log(h=H, **p) - nm.Evaluator(o_form()).log(h=H, **p)


@pytest.mark.parametrize("rho, gamma, var_slope, bias_slope, var_limit, bias_limit", [
    (1.0, 0.99, 0.0, 0.0, 22.2, 2.080),  # ρ = 1: (h+1)^6 and (h+1)^3 are exact powers
    (1.2, 0.8, -2.0, -1.0, None, None),  # ρ > 1: the chain is h^4 ρ^{2h} resp. h² ρ^h
    (0.8, 0.99, -2.0, -1.0, None, None),  # ρ < 1: h^4 resp. h²
])
def test_corrected_o_forms_have_the_rate_of_the_chain(rho, gamma, var_slope, bias_slope, var_limit, bias_limit):
    # corrected (C.16) / corrected (5.1) and corrected (C.24) / corrected (5.3) over h = 1000, 2000,
    # 4000 (L_π = 0.9, ε_f = 0.1, ε_v = 0.2, constants 1; γρ < 1, where the corrected (C.24) is finite):
    # the ratio changes like h^slope, slope 0 at ρ = 1 (limits 22.2 and 2.080, the O-constants this
    # instance needs), −2 and −1 otherwise. A wrong exponent of ρ̃ or of (h + 1) changes the slope by
    # ≥ 1 (or by ~h log ρ).
    L_pi = 0.9
    p = dict(L_f=rho / math.sqrt(1 + L_pi**2), L_pi=L_pi, gamma=gamma, eps_f=0.1, eps_v=0.2)
    rv = log_ratio(BV.variance_corrected, BV.variance_printed_corrected, **p)
    rb = log_ratio(BB.bias_corrected, BB.bias_printed_corrected, **p)
    assert np.diff(rv) / np.log(2) == pytest.approx([var_slope] * 2, abs=0.01)
    assert np.diff(rb) / np.log(2) == pytest.approx([bias_slope] * 2, abs=0.01)
    if var_limit is not None:
        assert math.exp(rv[-1]) == pytest.approx(var_limit, rel=2e-3)
        assert math.exp(rb[-1]) == pytest.approx(bias_limit, rel=2e-3)


# --- corrected Proposition 5.2 against exact SGD moments on a quadratic ----------------------------

def quadratic_sgd(b0, L, eta, beta, sigma, T):
    """J(θ) = b0 θ − (L/2) θ², ĝ_t = ∇J(θ_t) + β + σ ξ_t, θ_{t+1} = θ_t + η ĝ_t, θ_0 = 0: exact moments.

    Returns min_{t<T} E|∇J(θ_t)|², G = max_t E|ĝ_t| (folded normal) and E[J(θ_T) − J(θ_0)].
    """
    m, s, grad_sq, G = 0.0, 0.0, [], 0.0
    for _ in range(T):
        grad_sq.append((b0 - L * m) ** 2 + L**2 * s)
        mu, sd = b0 - L * m + beta, math.sqrt(L**2 * s + sigma**2)
        G = max(G, abs(mu) if sd == 0 else sd * math.sqrt(2 / math.pi) * math.exp(-mu**2 / (2 * sd**2))
                + mu * math.erf(mu / (sd * math.sqrt(2))))
        m, s = (1 - eta * L) * m + eta * (b0 + beta), (1 - eta * L) ** 2 * s + eta**2 * sigma**2
    return min(grad_sq), G, b0 * m - L / 2 * (m * m + s)


@pytest.mark.parametrize("eta, beta, sigma, T, tightness", [
    (0.01, 0.0, 0.0, 1, 4.0202020),  # exact gradient, one step: 4(1 − Lη/2)/(1 − Lη), → 4 as η → 0
    (0.5, 0.2, 0.5, 10, 56.618825),  # bias b = 0.2, variance v = 0.25
    (0.1, 0.0, 0.1, 10, 13.373327),  # unbiased, v = 0.01
])
def test_corrected_prop52_tightness_on_quadratic(eta, beta, sigma, T, tightness):
    # b0 = L = 1. The right side of the corrected Prop 5.2 with the exact b = |β|, v = σ², G, ΔJ,
    # over the exact min_t E‖∇J(θ_t)‖²: at best a factor 4 (from (C.4)-(C.5)), 4.02 at η = 0.01
    lhs, G, dJ = quadratic_sgd(1.0, 1.0, eta, beta, sigma, T)
    sub = {BS.T: T, BS.c: sp.Float(1 / (eta - eta**2)), BS.eta: sp.Float(eta), BS.G: sp.Float(G),
           BS.b: sp.Float(abs(beta)), BS.v: sp.Float(sigma**2), BS.DeltaJ: sp.Float(dJ)}
    rhs = float(BC.prop52_rhs_corrected().xreplace(sub))
    assert rhs / lhs == pytest.approx(tightness, rel=1e-6)
