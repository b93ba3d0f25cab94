"""Closed forms of Appendix C against the recursions they solve, and against exact derivatives.

Each closed form must dominate the recursion it claims to solve (via (C.11)) when the recursion is
iterated numerically with the same premises; the printed (C.10)/(C.12) fail on linear systems
(erratum E1) while the corrected forms hold.
"""
import numpy as np
from hypothesis import given, settings, strategies as st

import bounds

K = 40
ii = np.arange(K + 1, dtype=float)
lip = st.floats(0.05, 3.0)


def ev(name, **p):
    return bounds.evaluate(name, i=ii, **p).value


def dominates(closed, iterated):
    return np.all(iterated <= closed * (1 + 1e-9) + 1e-12)


@settings(max_examples=40, deadline=None)
@given(L_f=lip, L_pi=lip, L_theta=lip, e=st.floats(0, 2), eps_f=st.floats(0, 2))
def test_paper_closed_forms_solve_their_own_recursions(L_f, L_pi, L_theta, e, eps_f):
    p = dict(L_f=L_f, L_pi=L_pi, L_theta=L_theta, e=e, eps_f=eps_f)
    c10, c12, kh = ev("c10", **p), ev("c12", **p), ev("K_hat", **p)
    a18, s_c1 = ev("lemma_c1_action", **p), ev("lemma_c1_state", **p)
    c20, c21 = ev("c20", **p), ev("c21", **p)
    E, D, A, S, A2, S2 = (np.zeros(K + 1) for _ in range(6))
    E[0], A[0] = L_theta, e
    for k in range(1, K + 1):
        E[k] = L_f * L_pi * E[k - 1] + L_theta  # premise of (C.10)
        D[k] = L_f * D[k - 1] + L_f * c10[k - 1]  # premise of (C.12)
        A[k] = L_pi * L_f * A[k - 1] + 4 * L_f * L_pi * c10[k - 1] + 2 * L_theta  # (C.17)
        S[k] = L_f * S[k - 1] + 2 * L_f * kh[k - 1] + L_f * A[k - 1]  # Lemma C.1, state
        A2[k] = L_pi * L_f * A2[k - 1] + L_pi * (2 * L_f + eps_f) * c10[k - 1] + 2 * L_theta  # (C.19)
        S2[k] = L_f * S2[k - 1] + eps_f * kh[k - 1] + L_f * A2[k - 1]  # (C.21), first lines
    for closed, it in ((c10, E), (c12, D), (a18, A), (s_c1, S), (c20, A2), (c21, S2)):
        assert dominates(closed, it)


@settings(max_examples=40, deadline=None)
@given(L_f=lip, L_pi=lip, L_theta=lip, eps_f=st.floats(0, 2))
def test_corrected_closed_forms_solve_the_full_chain_recursions(L_f, L_pi, L_theta, eps_f):
    p = dict(L_f=L_f, L_pi=L_pi, L_theta=L_theta, eps_f=eps_f)
    s1, rho = np.sqrt(1 + L_pi**2), L_f * np.sqrt(1 + L_pi**2)
    D = np.zeros(K + 1)
    for k in range(1, K + 1):
        D[k] = rho * D[k - 1] + L_f * L_theta
    assert dominates(ev("c12_corrected", **p), D)
    assert dominates(ev("c10_corrected", **p), L_pi * D + L_theta)
    for kf, s_name, a_name in ((2 * L_f, "lemma_c1_state_corrected", "lemma_c1_action_corrected"),
                               (eps_f, "c21_corrected", "c20_corrected")):
        S = np.zeros(K + 1)
        for k in range(1, K + 1):
            S[k] = rho * S[k - 1] + (kf * s1 + 2 * L_f * L_pi) * D[k - 1] + (kf + 2 * L_f) * L_theta
        assert dominates(ev(s_name, **p), S)
        assert dominates(ev(a_name, **p), 2 * L_pi * D + L_pi * S + 2 * L_theta)


def exact_linear(A, B, Kp, n):
    """‖dŝ_k/dθ‖, ‖dâ_k/dθ‖ for s' = A s + B a, a = K s + θ (+ noise): exact Jacobian recursion."""
    ds, da = np.zeros((A.shape[0], B.shape[1])), np.eye(B.shape[1])
    out = []
    for _ in range(n + 1):
        out.append((np.linalg.norm(ds, 2), np.linalg.norm(da, 2)))
        ds = A @ ds + B @ da
        da = Kp @ ds + np.eye(B.shape[1])
    return np.array(out)


def test_c10_c12_fail_on_scalar_linear_system():
    # erratum E1: A = B = 0.69, K = 0.95, σ = 0.1: L_f ≈ 0.976, L_π ≈ 0.955, closed loop A + BK = 1.3455
    A, B, Kp, sig = 0.69, 0.69, 0.95, 0.1
    p = dict(L_f=np.hypot(A, B), L_pi=np.hypot(Kp, sig), L_theta=1.0)
    ex = exact_linear(np.array([[A]]), np.array([[B]]), np.array([[Kp]]), K)
    assert ex[20, 1] > 30 * ev("c10", **p)[20]  # 716.6 against 21
    assert ex[40, 0] > 100 * ev("c12", **p)[40]
    assert dominates(ev("c10_corrected", **p), ex[:, 1])
    assert dominates(ev("c12_corrected", **p), ex[:, 0])


@settings(max_examples=40, deadline=None)
@given(ds=st.integers(1, 4), da=st.integers(1, 3), seed=st.integers(0, 2**31),
       scale=st.floats(0.2, 1.5))
def test_corrected_bounds_hold_on_random_linear_systems(ds, da, seed, scale):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(ds, ds)), rng.normal(size=(ds, da))
    Kp, Sig = rng.normal(size=(da, ds)), rng.normal(size=(da, da))
    F = np.hstack([A, B])
    F *= scale / np.linalg.norm(F, 2)
    A, B = F[:, :ds], F[:, ds:]
    p = dict(L_f=np.linalg.norm(F, 2), L_pi=np.linalg.norm(np.hstack([Kp, Sig]), 2), L_theta=1.0)
    ex = exact_linear(A, B, Kp, K)
    assert dominates(ev("c12_corrected", **p), ex[:, 0])
    assert dominates(ev("c10_corrected", **p), ex[:, 1])
    assert dominates(ev("K_hat_corrected", **p), ex[:, 0] + ex[:, 1])
