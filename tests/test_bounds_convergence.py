"""Proposition 5.2 and Corollary 5.12: the algebra of proof C.5, checked with sympy and numbers."""
import numpy as np
import sympy as sp
from hypothesis import given, settings, strategies as st

from bounds import convergence as cv
from bounds.symbols import L, T, b, c, eta


@settings(max_examples=200, deadline=None)
@given(L_=st.floats(1e-3, 1e3), k=st.floats(4.0, 1e6))
def test_c_at_most_2_sqrt_T_when_T_ge_4L2(L_, k):
    T_ = k * L_**2  # T ≥ 4L²
    c_ = float(cv.c_of_eta().subs({eta: 1 / np.sqrt(T_), L: L_}))
    assert 0 < c_ <= 2 * np.sqrt(T_) * (1 + 1e-12)


def test_c_bound_fails_below_4L2():
    # T = 2L²: η = 1/√T has Lη = 1/√2 > 1/2 and c > 2√T
    T_ = 2.0
    assert float(cv.c_of_eta().subs({eta: 1 / sp.sqrt(T_), L: 1})) > 2 * np.sqrt(T_)


def test_cor512_explicit_dominates_prop52_with_eta_one_over_sqrt_T():
    prop = cv.prop52_rhs().subs({eta: 1 / sp.sqrt(T), c: 2 * sp.sqrt(T)})
    gap = sp.simplify(cv.cor512_explicit() - prop)
    assert sp.simplify(gap - 4 * (T - 1) * b**2) == 0  # Σ b_t² ≤ ε(T)² costs 4(T−1)b²
