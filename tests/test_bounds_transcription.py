"""Every form of ``bounds/`` against the paper's text, evaluated independently at fixed points.

Each ``paper_*`` function below is the equation written out again from the printed text of
Section 5 / Appendix C (plain Python, no ``bounds`` import); the test evaluates the ``bounds``
sympy expression at the same point by substitution (no cached evaluator) and compares. The points
mix L̃ > 1 and L̃ = 1 and take L_θ < 1, so that L̃ vs L and L̃_θ vs L_θ, exponents, constants and
swapped symbols all change the value. The corrected forms are checked the same way against the
statements in docs/errata.md (E1, E3-E5, E10).
"""
import math

import numpy as np
import pytest
import sympy as sp
from scipy.special import lambertw

import bounds
from bounds import bias as BB, convergence as BC, hstar as BH, symbols as BS, variance as BV

P1 = dict(L_f=1.3, L_pi=1.7, L_theta=0.6, L_r=0.8, L_Q=1.9, L_Qhat=2.3, kappa=1.4, beta=0.35,
          e=0.45, eps_f=0.27, eps_v=0.62, gamma=0.93, N=7)  # L̃_f, L̃_π > 1, L̃_θ = 1 > L_θ
P2 = dict(L_f=0.8, L_pi=0.7, L_theta=1.5, L_r=1.2, L_Q=0.9, L_Qhat=1.1, kappa=2.5, beta=0.8,
          e=0.1, eps_f=0.05, eps_v=1.3, gamma=0.99, N=3)  # L̃_f = L̃_π = 1
P3 = dict(L_f=1.15, L_pi=0.55, L_theta=0.35, L_r=2.1, L_Q=0.7, L_Qhat=0.4, kappa=1.1, beta=0.1,
          e=0.9, eps_f=0.8, eps_v=0.15, gamma=0.8, N=2)  # mixed: L̃_f > 1 = L̃_π
POINTS = [P1, P2, P3]
KS = [1, 2, 5]  # step index i of the per-step bounds (Lemma C.1, (C.20), (C.21) hold for i ≥ 1)
HS = [0, 1, 3, 6]  # expansion step h
REL = 1e-11


def val(expr, **p):
    """Value of a bounds/ expression at p: sympy substitution, 30 digits; every symbol given."""
    sub = {BS.BY_NAME[k]: sp.Integer(v) if isinstance(v, int) else sp.Float(v, 30)
           for k, v in p.items()}
    out = sp.sympify(expr).xreplace(sub).doit()
    assert not out.free_symbols, f"unset symbols {out.free_symbols}"
    return float(sp.re(out.evalf(30)))


def tl(x):
    """L̃ := max{L, 1} (above Proposition 5.4)."""
    return max(x, 1.0)


def geom(a, n):
    """Σ_{j=0}^{n−1} a^j, the sum of (C.11)."""
    return sum(a**j for j in range(n))


# --- the paper's printed forms, written out again -------------------------------------------------

def paper_c10_first(k, L_f, L_pi, L_theta, **_):
    # (C.10) first inequality: "L_f^i L_π^i · L_θ + L_θ · Σ_{j=0}^{i−1} L_f^j L_π^j"
    return L_f**k * L_pi**k * L_theta + L_theta * geom(L_f * L_pi, k)


def paper_c10(k, L_f, L_pi, L_theta, **_):
    # (C.10) last: "≤ L_θ · (i+1) · L̃_f^i L̃_π^i"
    return L_theta * (k + 1) * tl(L_f)**k * tl(L_pi)**k


def paper_c12_third(k, L_f, L_pi, L_theta, **_):
    # (C.12) third line: "= L_θ · L̃_f^i · L̃_π + L_θ · i · L̃_f^i L̃_π · Σ_{j=0}^{i−1} L_f^j"
    return L_theta * tl(L_f)**k * tl(L_pi) + L_theta * k * tl(L_f)**k * tl(L_pi) * geom(L_f, k)


def paper_c12(k, L_f, L_pi, L_theta, **_):
    # (C.12) last: "≤ L_θ · (i² + 1) · L̃_f^{2i} L̃_π^i"
    return L_theta * (k**2 + 1) * tl(L_f)**(2 * k) * tl(L_pi)**k


def paper_K_hat(k, **p):
    # (C.13): "K̂(i) := L_θ (i+1) L̃_f^i L̃_π^i + L_θ (i²+1) L̃_f^{2i} L̃_π^i"
    return paper_c10(k, **p) + paper_c12(k, **p)


def paper_c1_action(k, L_f, L_pi, L_theta, e, statement=False, **_):
    # Lemma C.1, first bound: "L̃_π^i L̃_f^i · (e + 2L_θ · i + 4L̃_θ · i² · L̃_π^i L̃_f^i)";
    # (C.18), the proof's last line, has 4L_θ where the statement has 4L̃_θ (erratum E3)
    l4 = tl(L_theta) if statement else L_theta
    r = tl(L_pi)**k * tl(L_f)**k
    return r * (e + 2 * L_theta * k + 4 * l4 * k**2 * r)


def paper_c1_state(k, L_f, **p):
    # Lemma C.1, second bound: "[2L_f · K̂(i−1) + L̃_π^i L̃_f^i (e + 2L_θ i + 4L_θ i² L̃_π^i L̃_f^i)] · i · L̃_f^i"
    return (2 * L_f * paper_K_hat(k - 1, L_f=L_f, **p)
            + paper_c1_action(k, L_f=L_f, **p)) * k * tl(L_f)**k


def paper_c16(h, L_r, gamma, L_Qhat, N, **p):
    # (C.16) first line with Lemma C.1 (as proved, (C.18)) plugged in, divided by N (end of C.2):
    # "((h L_r + γ^h L_Q̂) · (E‖dŝ_h − ds̄_h‖ + E‖dâ_h − dā_h‖ + 2K̂(h)))²"
    inner = paper_c1_state(h, **p) + paper_c1_action(h, **p) + 2 * paper_K_hat(h, **p)
    return ((h * L_r + gamma**h * L_Qhat) * inner) ** 2 / N


def paper_51(h, L_f, L_pi, gamma, N, C_var, **_):
    # (5.1): "v_t ≤ O(h^8 L̃_f^{6h} L̃_π^{4h} / N + γ^{2h} h^6 L̃_f^{6h} L̃_π^{4h} / N)"
    return C_var * (h**8 * tl(L_f)**(6 * h) * tl(L_pi)**(4 * h) / N
                    + gamma**(2 * h) * h**6 * tl(L_f)**(6 * h) * tl(L_pi)**(4 * h) / N)


def paper_c20(k, L_f, L_pi, L_theta, eps_f, **_):
    # (C.20): "i · L̃_π^i L̃_f^i · (L_π(2L_f + ε_f) · (L_θ · i · L̃_f^i L̃_π^i) + 2L_θ)"
    r = tl(L_pi)**k * tl(L_f)**k
    return k * r * (L_pi * (2 * L_f + eps_f) * (L_theta * k * tl(L_f)**k * tl(L_pi)**k) + 2 * L_theta)


def paper_c21(k, L_f, eps_f, **p):
    # (C.21): "(ε_f · K̂(i−1) + i L̃_π^i L̃_f^i (L_π(2L_f + ε_f)(L_θ i L̃_f^i L̃_π^i) + 2L_θ)) · i · L̃_f^i"
    return ((eps_f * paper_K_hat(k - 1, L_f=L_f, **p) + paper_c20(k, L_f=L_f, eps_f=eps_f, **p))
            * k * tl(L_f)**k)


def kappa_prime(kappa, beta, **_):
    # Proposition 5.8: "κ' := β + κ · (1 − β)"
    return beta + kappa * (1 - beta)


def paper_c24(h, kappa, beta, L_r, L_Q, gamma, eps_v, **p):
    # (C.24) with (C.20), (C.21), (C.13) plugged in:
    # "κ(β + κ(1−β)) · h · (L_r (E‖dŝ_h − ds_h‖ + E‖dâ_h − da_h‖) + 2L_r K̂(h))
    #  + (β + κ(1−β)) · γ^h · (L_Q (E‖dŝ_h − ds_h‖ + E‖dâ_h − da_h‖) + K̂(h) ε_v)"
    kp = kappa_prime(kappa, beta)
    dev = paper_c21(h, **p) + paper_c20(h, **p)
    K = paper_K_hat(h, **p)
    return kappa * kp * h * (L_r * dev + 2 * L_r * K) + kp * gamma**h * (L_Q * dev + K * eps_v)


def paper_53(h, kappa, beta, L_f, L_pi, gamma, eps_f, eps_v, C_bias, **_):
    # (5.3): "b_t ≤ O(κ'κ h^4 L̃_f^{3h} L̃_π^{2h} ε_f + κ' h² γ^h L̃_f^{2h} L̃_π^h ε_v)"
    kp = kappa_prime(kappa, beta)
    return C_bias * (kp * kappa * h**4 * tl(L_f)**(3 * h) * tl(L_pi)**(2 * h) * eps_f
                     + kp * h**2 * gamma**h * tl(L_f)**(2 * h) * tl(L_pi)**h * eps_v)


def paper_c(eta, L):
    # Proposition 5.2: "c := (η − Lη²)^{−1}"
    return 1 / (eta - L * eta**2)


def paper_prop52(T, c, delta, eta, b, v, DeltaJ):
    # Prop 5.2: "4/T · (Σ_{t=0}^{T−1} c · (2δ · b_t + η/2 · v_t) + b_t² + v_t) + 4c/T · E[J(π_θT) − J(π_θ1)]"
    return 4 / T * sum(c * (2 * delta * b + eta / 2 * v) + b**2 + v for _ in range(T)) + 4 * c / T * DeltaJ


def paper_cor512(T, delta, b, C_conv):
    # Cor 5.12: "16δ · ε(T)/√T + 4ε²(T)/T + O(1/√T)", ε(T) = Σ_{t=0}^{T−1} b_t
    eps_T = sum(b for _ in range(T))
    return 16 * delta * eps_T / math.sqrt(T) + 4 * eps_T**2 / T + C_conv / math.sqrt(T)


def paper_c5(T, delta, b, v, DeltaJ):
    # Proof C.5, second line "4/T (Σ 4√T δ b_t + b_t² + 2v_t) + 8/√T E[J(π_θT) − J(π_θ1)]",
    # with Σ_t b_t ≤ ε(T) and Σ_t b_t² ≤ ε²(T) as in its last line
    eps_T = sum(b for _ in range(T))
    return (4 / T * sum(4 * math.sqrt(T) * delta * b for _ in range(T)) + 4 / T * eps_T**2
            + 4 / T * sum(2 * v for _ in range(T)) + 8 / math.sqrt(T) * DeltaJ)


def W(x):
    return float(lambertw(x).real)


def paper_c38(gamma, **_):
    # (C.38): "h = 1/(2 log(1/γ)) · W(2(log γ)²)"
    return W(2 * math.log(gamma) ** 2) / (2 * math.log(1 / gamma))


def paper_c37(gamma, eps_f, eps_v, **_):
    # (C.37): "h = 3/(2 log(1/γ)) · W(2/3 (log γ)^{4/3} (ε_v/ε_f)^{2/3})", (log γ)^{4/3} read as |log γ|^{4/3} (E9)
    lg = abs(math.log(gamma))
    return 3 / (2 * math.log(1 / gamma)) * W(2 / 3 * lg ** (4 / 3) * (eps_v / eps_f) ** (2 / 3))


def paper_c39_end(gamma, eps_f, eps_v, **_):
    # (C.39) second end point as printed: "5/(2 log(1/γ)) · W(2/5 (log γ)^{6/5} (ε_v/ε_f)^{2/5})"
    lg = abs(math.log(gamma))
    return 5 / (2 * math.log(1 / gamma)) * W(2 / 5 * lg ** (6 / 5) * (eps_v / eps_f) ** (2 / 5))


def paper_prop510(gamma, eps_f, eps_v, N, C_h, **_):
    # Prop 5.10: "O(W(2(log γ)²)/N + W(2/3 (log γ)^{4/3} · (ε_v/ε_f)^{2/3}))"
    lg = abs(math.log(gamma))
    return C_h * (W(2 * math.log(gamma) ** 2) / N + W(2 / 3 * lg ** (4 / 3) * (eps_v / eps_f) ** (2 / 3)))


def paper_g1p(h, gamma, N, **_):
    # (C.30): "∂g_1/∂h := (h^7 + h^6 γ^{2h} · log γ)/N"
    return (h**7 + h**6 * gamma**(2 * h) * math.log(gamma)) / N


def paper_g2p(h, gamma, eps_f, eps_v, **_):
    # (C.30): "∂g_2/∂h := h^7 · ε_f² + h^4 γ^{2h} log γ · ε_v²"
    return h**7 * eps_f**2 + h**4 * gamma**(2 * h) * math.log(gamma) * eps_v**2


# --- tests: Proposition 5.4 chain -----------------------------------------------------------------

PER_STEP = [
    ("(C.10) first inequality", BV.c10_unrolled, paper_c10_first),
    ("(C.10)", BV.c10, paper_c10),
    ("(C.12) third line", BV.c12_unrolled, paper_c12_third),
    ("(C.12)", BV.c12, paper_c12),
    ("(C.13)", BV.K_hat, paper_K_hat),
    ("Lemma C.1 action, (C.18)", BV.lemma_c1_action, paper_c1_action),
    ("Lemma C.1 state", BV.lemma_c1_state, paper_c1_state),
    ("(C.20)", BB.c20, paper_c20),
    ("(C.21)", BB.c21, paper_c21),
]


@pytest.mark.parametrize("eq, form, paper", PER_STEP, ids=[x[0] for x in PER_STEP])
@pytest.mark.parametrize("p", POINTS, ids=["P1", "P2", "P3"])
def test_per_step_bound_as_printed(eq, form, paper, p):
    expr = form()
    for k in KS:
        want = paper(k, **p)
        assert val(expr, i=k, **p) == pytest.approx(want, rel=REL), (eq, k)
    # the step argument is honoured (k passed explicitly, not the default i)
    assert val(form(sp.Integer(4)), **p) == pytest.approx(paper(4, **p), rel=REL), eq


def test_per_step_bounds_at_step_zero():
    # (C.10), (C.12), (C.13) at i = 0 (dâ_0/dθ ≤ L_θ, dŝ_0/dθ bound L_θ): (C.13) gives K̂(0) = 2L_θ
    for p in POINTS:
        for form, paper in ((BV.c10, paper_c10), (BV.c12, paper_c12), (BV.K_hat, paper_K_hat),
                            (BV.c10_unrolled, paper_c10_first)):
            assert val(form(), i=0, **p) == pytest.approx(paper(0, **p), rel=REL)
        assert val(BV.K_hat(), i=0, **p) == pytest.approx(2 * p["L_theta"], rel=REL)


@pytest.mark.parametrize("p", POINTS, ids=["P1", "P2", "P3"])
def test_lemma_c1_statement_has_tilde_L_theta(p):
    # Lemma C.1's statement prints 4L̃_θ; P1 and P3 have L_θ < 1, so the two readings differ there
    expr = BV.lemma_c1_action(printed=True)
    for k in KS:
        assert val(expr, i=k, **p) == pytest.approx(paper_c1_action(k, statement=True, **p), rel=REL)


@pytest.mark.parametrize("p", POINTS, ids=["P1", "P2", "P3"])
def test_c16_and_5_1_as_printed(p):
    C_var = 1.7
    explicit, printed = BV.variance_explicit(), BV.variance_printed()
    for h in HS:
        assert val(explicit, h=h, **p) == pytest.approx(paper_c16(h, **p), rel=REL), ("(C.16)", h)
        assert val(printed, h=h, C_var=C_var, **p) == pytest.approx(
            paper_51(h, C_var=C_var, **p), rel=REL, abs=1e-300), ("(5.1)", h)


# --- Proposition 5.8 chain ------------------------------------------------------------------------

@pytest.mark.parametrize("p", POINTS, ids=["P1", "P2", "P3"])
def test_kappa_prime_c24_and_5_3_as_printed(p):
    C_bias = 2.3
    assert val(BS.kappa_prime, **p) == pytest.approx(kappa_prime(**p), rel=REL)
    explicit, printed = BB.bias_explicit(), BB.bias_printed()
    assert val(BB.c24(), h=3, **p) == pytest.approx(paper_c24(3, **p), rel=REL)
    for h in HS:
        assert val(explicit, h=h, **p) == pytest.approx(paper_c24(h, **p), rel=REL), ("(C.24)", h)
        assert val(printed, h=h, C_bias=C_bias, **p) == pytest.approx(
            paper_53(h, C_bias=C_bias, **p), rel=REL, abs=1e-300), ("(5.3)", h)


def test_tilde_is_max_with_one():
    for x in (0.0, 0.4, 1.0, 2.5):
        assert float(BS.tilde(sp.Float(x))) == max(x, 1.0)


# --- Proposition 5.2 and Corollary 5.12 -----------------------------------------------------------

CONV = [dict(T=5, c=3.7, delta=0.8, eta=0.3, b=0.45, v=1.9, DeltaJ=0.6),
        dict(T=16, c=1.25, delta=2.5, eta=0.05, b=2.2, v=0.07, DeltaJ=-1.3)]


@pytest.mark.parametrize("q", CONV, ids=["T5", "T16"])
def test_prop52_and_cor512_as_printed(q):
    assert val(BC.prop52_rhs(), **q) == pytest.approx(paper_prop52(**q), rel=REL)
    C_conv = 3.1
    assert val(BC.cor512_rhs(), C_conv=C_conv, T=q["T"], delta=q["delta"], b=q["b"]) == pytest.approx(
        paper_cor512(q["T"], q["delta"], q["b"], C_conv), rel=REL)
    assert val(BC.cor512_explicit(), T=q["T"], delta=q["delta"], b=q["b"], v=q["v"],
               DeltaJ=q["DeltaJ"]) == pytest.approx(
        paper_c5(q["T"], q["delta"], q["b"], q["v"], q["DeltaJ"]), rel=REL)


def test_c_of_eta():
    for eta, L in ((0.01, 1.0), (0.2, 3.0), (0.5, 0.4)):
        assert val(BC.c_of_eta(), eta=eta, L=L) == pytest.approx(paper_c(eta, L), rel=REL)


def test_c5_chain_from_prop52():
    # C.5: with η = 1/√T, c ≤ 2√T, Prop 5.2's sum is at most the second line of C.5 (c·η/2 = 1/(η−Lη²)·η/2 ≤ 1)
    T = 64
    q = dict(T=T, c=2 * math.sqrt(T), delta=0.7, eta=1 / math.sqrt(T), b=0.3, v=0.5, DeltaJ=0.2)
    assert paper_prop52(**q) <= val(BC.cor512_explicit(), T=T, delta=0.7, b=0.3, v=0.5, DeltaJ=0.2)


# --- Proposition 5.10 -----------------------------------------------------------------------------

HP = [dict(gamma=0.99, eps_f=1e-3, eps_v=1.0, N=10), dict(gamma=0.9, eps_f=0.3, eps_v=0.05, N=1),
      dict(gamma=0.7, eps_f=2.0, eps_v=5.0, N=64),
      dict(gamma=0.5, eps_f=5.0, eps_v=1e-3, N=2)]  # the last has (C.38) > (C.37): min and max swap
DEF = dict(L_f=0.9, L_pi=0.9, L_theta=1.0, L_r=1.0, L_Q=1.0, L_Qhat=1.0, kappa=1.0, beta=0.5, e=0.0,
           eta=0.01, delta=1.0, L=1.0)


@pytest.mark.parametrize("q", HP, ids=["g.99", "g.9", "g.7", "g.5"])
def test_c37_c38_c39_and_prop510_as_printed(q):
    g, ef, ev = q["gamma"], q["eps_f"], q["eps_v"]
    C_h = 1.9
    h1, h2, h5 = paper_c38(g), paper_c37(g, ef, ev), paper_c39_end(g, ef, ev)
    assert val(BH.h1(), gamma=g) == pytest.approx(h1, rel=REL)
    assert val(BH.h2(), gamma=g, eps_f=ef, eps_v=ev) == pytest.approx(h2, rel=REL)
    assert val(BH.h2_c39(), gamma=g, eps_f=ef, eps_v=ev) == pytest.approx(h5, rel=REL)
    assert val(BH.h_star_paper(), C_h=C_h, **q) == pytest.approx(paper_prop510(C_h=C_h, **q), rel=REL)
    lo, hi = BH.h_star_interval()
    s = dict(gamma=g, eps_f=ef, eps_v=ev)
    assert (val(lo, **s), val(hi, **s)) == pytest.approx((min(h1, h2), max(h1, h2)), rel=REL)
    lo, hi = BH.h_star_interval_paper()
    assert (val(lo, **s), val(hi, **s)) == pytest.approx((min(h1, h5), max(h1, h5)), rel=REL)
    # the numeric versions (overflow-safe W) give the same numbers
    p = {**DEF, **q}
    assert float(BH.h1_np(**p)) == pytest.approx(h1, rel=1e-10)
    assert float(BH.h2_np(**p)) == pytest.approx(h2, rel=1e-10)
    assert float(BH.h_star_paper_np(**p, C_h=C_h)) == pytest.approx(paper_prop510(C_h=C_h, **q), rel=1e-10)
    assert np.allclose(BH.h_star_interval_np(**p), (min(h1, h2), max(h1, h2)), rtol=1e-10)
    assert np.allclose(BH.h_star_interval_paper_np(**p), (min(h1, h5), max(h1, h5)), rtol=1e-10)
    # without N and C_h the defaults N = 1, C_h = 1 apply
    bare = dict(gamma=g, eps_f=ef, eps_v=ev)
    assert float(BH.h_star_paper_np(**bare)) == pytest.approx(paper_prop510(C_h=1, N=1, **bare), rel=1e-10)


@pytest.mark.parametrize("q", HP, ids=["g.99", "g.9", "g.7", "g.5"])
def test_c29_c30_as_printed(q):
    C_h = 0.6
    for h in (0.5, 2.0, 7.0):
        g1, g2 = paper_g1p(h, **q), paper_g2p(h, **q)
        s = dict(h=h, gamma=q["gamma"], eps_f=q["eps_f"], eps_v=q["eps_v"], N=q["N"])
        assert val(BH.g1_prime(), **s) == pytest.approx(g1, rel=REL)
        assert val(BH.g2_prime(), **{k: s[k] for k in ("h", "gamma", "eps_f", "eps_v")}) == pytest.approx(g2, rel=REL)
        assert val(BH.g_prime_paper(), C_h=C_h, **s) == pytest.approx(C_h * (g1 + g2), rel=REL)


@pytest.mark.parametrize("p", [P1, P2], ids=["P1", "P2"])
def test_c28_as_printed(p):
    # (C.28): "g(h) := c · (δ · b_t + η/2 · v_t) + b_t² + v_t", b_t from (C.24), v_t from (C.16)
    q = dict(p, eta=0.02, L=2.0, delta=0.7)
    c = paper_c(0.02, 2.0)
    expr = BH.g_of_h()
    for h in (0, 2, 4):
        b, v = paper_c24(h, **p), paper_c16(h, **p)
        assert val(expr, h=h, **q) == pytest.approx(c * (0.7 * b + 0.02 / 2 * v) + b**2 + v, rel=REL)


# --- corrected forms, as docs/errata.md states them -----------------------------------------------

def rho(L_f, L_pi, **_):
    # E1: "ρ := L_f̂ · sqrt(1 + L_π²)"
    return L_f * math.sqrt(1 + L_pi**2)


def corr_D(k, L_f, L_pi, L_theta, **_):
    # E1: "D_i ≤ L_f̂ L_θ Σ_{j<i} ρ^j"
    return L_f * L_theta * geom(rho(L_f, L_pi), k)


def corr_E(k, L_pi, L_theta, **p):
    # E1: "E_i ≤ L_π D_i + L_θ"
    return L_pi * corr_D(k, L_pi=L_pi, L_theta=L_theta, **p) + L_theta


def corr_S(k, kappa_F, L_f, L_pi, L_theta, **_):
    # E3: S_i ≤ ρ S_{i−1} + (κ_F sqrt(1+L_π²) + 2L_f L_π) D_{i−1} + (κ_F + 2L_f) L_θ, S_0 = 0, solved
    # with Σ_{p<i−1} (p+1) ρ^p ≤ i Σ_{p<i} ρ^p
    r, s1 = rho(L_f, L_pi), math.sqrt(1 + L_pi**2)
    c_a, c_b = kappa_F * s1 + 2 * L_f * L_pi, (kappa_F + 2 * L_f) * L_theta
    return c_a * L_f * L_theta * k * geom(r, k) + c_b * geom(r, k)


def corr_A(k, kappa_F, L_pi, L_theta, **p):
    # E3: "A_i ≤ 2L_π D_i + L_π S_i + 2L_θ"
    q = dict(L_pi=L_pi, L_theta=L_theta, **p)
    return 2 * L_pi * corr_D(k, **q) + L_pi * corr_S(k, kappa_F, **q) + 2 * L_theta


def corr_K(k, **p):
    return corr_D(k, **p) + corr_E(k, **p)


CORR_STEP = [
    ("corrected (C.12)", BV.c12_corrected, corr_D),
    ("corrected (C.10)", BV.c10_corrected, corr_E),
    ("corrected (C.13)", BV.K_hat_corrected, corr_K),
    ("corrected Lemma C.1 state", BV.lemma_c1_state_corrected, lambda k, **p: corr_S(k, 2 * p["L_f"], **p)),
    ("corrected Lemma C.1 action", BV.lemma_c1_action_corrected, lambda k, **p: corr_A(k, 2 * p["L_f"], **p)),
    ("corrected (C.21)", BB.c21_corrected, lambda k, **p: corr_S(k, p["eps_f"], **p)),
    ("corrected (C.20)", BB.c20_corrected, lambda k, **p: corr_A(k, p["eps_f"], **p)),
]


@pytest.mark.parametrize("eq, form, stated", CORR_STEP, ids=[x[0] for x in CORR_STEP])
@pytest.mark.parametrize("p", POINTS, ids=["P1", "P2", "P3"])
def test_corrected_per_step_bound_as_stated(eq, form, stated, p):
    expr = form()
    for k in [0] + KS:
        assert val(expr, i=k, **p) == pytest.approx(stated(k, **p), rel=REL), (eq, k)
    assert val(form(sp.Integer(3)), **p) == pytest.approx(stated(3, **p), rel=REL), eq


def test_rho_is_L_f_sqrt_one_plus_L_pi_squared():
    for p in POINTS:
        assert val(BV.rho, **p) == pytest.approx(rho(**p), rel=REL)


def corr_bias(h, **p):
    """Corrected (C.24) as bounds.bias states it: "(C.24)'s structure on the corrected (C.13), (C.20),
    (C.21)" with κ' = β + κ²(1 − β), plus "(γ^{h+1} + 2β) S", S = "L_r L_θ (1 + γ(1 + L_π) L_f/(1 − γρ))/(1 − γ)"; ∞ for γρ ≥ 1."""
    g = p["gamma"]
    kp = p["beta"] + p["kappa"] ** 2 * (1 - p["beta"])  # bounds.bias: "κ' = β + κ²(1 − β)"
    if g * rho(**p) >= 1:
        return math.inf
    dev, K = corr_S(h, p["eps_f"], **p) + corr_A(h, p["eps_f"], **p), corr_K(h, **p)
    S = p["L_r"] * p["L_theta"] / (1 - g) * (1 + g * (1 + p["L_pi"]) * p["L_f"] / (1 - g * rho(**p)))
    return (p["kappa"] * kp * h * (p["L_r"] * dev + 2 * p["L_r"] * K)
            + kp * g**h * (p["L_Q"] * dev + K * p["eps_v"]) + (g**(h + 1) + 2 * p["beta"]) * S)


@pytest.mark.parametrize("p", POINTS, ids=["P1", "P2", "P3"])
def test_corrected_variance_and_bias_as_stated(p):
    kp = kappa_prime(**p)
    for h in HS:
        S2, A2 = corr_S(h, 2 * p["L_f"], **p), corr_A(h, 2 * p["L_f"], **p)
        want_v = ((h * p["L_r"] + p["gamma"]**h * p["L_Qhat"]) * (S2 + A2 + 2 * corr_K(h, **p))) ** 2 / p["N"]
        assert val(BV.variance_corrected(), h=h, **p) == pytest.approx(want_v, rel=REL), ("corrected (C.16)", h)
        want_b = corr_bias(h, **p)
        if math.isfinite(want_b):
            assert val(BB.bias_corrected(), h=h, **p) == pytest.approx(want_b, rel=REL), ("corrected (C.24)", h)
        else:
            sub = {BS.BY_NAME[k]: sp.Float(v, 30) for k, v in p.items()}
            assert BB.sup_grad_V().xreplace(sub) in (sp.oo, sp.zoo), "sup ‖∇_θV‖"
            assert bounds.evaluate("bias_corrected", h=h, **p).value == np.finfo(float).max, ("corrected (C.24)", h)
        rt = max(rho(**p), 1.0)
        # E4: "C_var (h + 1)^6 ρ̃^{2h} / N"; E5: "C_bias(κκ'(h+1)³ρ̃^h + κ'γ^h(h+1)ρ̃^h ε_v)"
        assert val(BV.variance_printed_corrected(), h=h, C_var=1.3, **p) == pytest.approx(
            1.3 * (h + 1)**6 * rt**(2 * h) / p["N"], rel=REL), ("corrected (5.1)", h)
        assert val(BB.bias_printed_corrected(), h=h, C_bias=0.7, **p) == pytest.approx(
            0.7 * (p["kappa"] * kp * (h + 1)**3 * rt**h + kp * p["gamma"]**h * (h + 1) * rt**h * p["eps_v"]),
            rel=REL), ("corrected (5.3)", h)


@pytest.mark.parametrize("q", CONV, ids=["T5", "T16"])
def test_corrected_prop52_as_stated(q):
    # E10: "(4/T) Σ_{t<T} [c (η G b_t + η/2 v_t) + b_t² + v_t] + (4c/T) E[J(θ_T) − J(θ_0)]"
    G = 1.45
    T, c, eta, b, v, dJ = q["T"], q["c"], q["eta"], q["b"], q["v"], q["DeltaJ"]
    want = 4 / T * sum(c * (eta * G * b + eta / 2 * v) + b**2 + v for _ in range(T)) + 4 * c / T * dJ
    assert val(BC.prop52_rhs_corrected(), G=G, **{k: x for k, x in q.items() if k != "delta"}) == pytest.approx(
        want, rel=REL)
    # and it is the last display of proof C.1 before ‖θ_{t+1} − θ_t‖ ≤ 2δ, with E‖ĝ_t‖ ≤ G:
    # 4c/T (ΔJ + Σ (η E‖ĝ_t‖ b_t + η/2 v_t)) + 4/T Σ (b_t² + v_t)
    c1 = 4 * c / T * (dJ + T * (eta * G * b + eta / 2 * v)) + 4 / T * T * (b**2 + v)
    assert want == pytest.approx(c1, rel=1e-12)


@pytest.mark.parametrize("p", [P1, P2], ids=["P1", "P2"])
def test_corrected_c28_as_stated(p):
    # corrected (C.28): c (2δ b + η/2 v) + b² + v on the corrected bias and variance
    q = dict(p, eta=0.02, L=2.0, delta=0.7)
    c = paper_c(0.02, 2.0)
    expr = BH.g_corrected()
    for h in (0, 2, 4):
        S2, A2, K = corr_S(h, 2 * p["L_f"], **p), corr_A(h, 2 * p["L_f"], **p), corr_K(h, **p)
        v = ((h * p["L_r"] + p["gamma"]**h * p["L_Qhat"]) * (S2 + A2 + 2 * K)) ** 2 / p["N"]
        b = corr_bias(h, **p)
        if math.isfinite(b):
            assert val(expr, h=h, **q) == pytest.approx(c * (2 * 0.7 * b + 0.02 / 2 * v) + b**2 + v, rel=REL)
        else:
            assert bounds.evaluate("g_corrected", h=h, **q).value == np.finfo(float).max
