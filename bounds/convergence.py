"""Proposition 5.2 (convergence to stationary points) and Corollary 5.12 (rate).

b_t, v_t are taken constant in t (symbols ``b``, ``v``), so Σ_{t<T} becomes T·(·); pass the
worst-case b, v (e.g. the bounds of ``bounds.bias`` / ``bounds.variance``).
"""
import sympy as sp

from .registry import bound
from .symbols import C_conv, DeltaJ, G, L, T, b, c, delta, eta, v


def c_of_eta():
    """c := (η − Lη²)^{-1}, the constant of Proposition 5.2 (positive iff 0 < η < 1/L)."""
    return 1 / (eta - L * eta**2)


@bound("prop5.2", "prop5.2", "printed")
def prop52_rhs():
    """Proposition 5.2 of the paper (= end of proof C.1), with b_t = b, v_t = v:
    (4/T) Σ_{t<T} [c (2δ b + η/2 v) + b² + v] + (4c/T) E[J(π_{θ_T}) − J(π_{θ_1})]."""
    return 4 / T * T * (c * (2 * delta * b + eta / 2 * v) + b**2 + v) + 4 * c / T * DeltaJ


@bound("prop5.2 corrected", "prop5.2", "corrected")
def prop52_rhs_corrected():
    """Proposition 5.2 as the proof C.1 establishes it for the unprojected update (4.6) (erratum E10):
    (4/T) Σ_{t<T} [c (η G b + η/2 v) + b² + v] + (4c/T) E[J(π_{θ_T}) − J(π_{θ_0})],
    with G ≥ E‖ĝ_t‖ (η G replaces 2δ, which needs θ_{t+1} − θ_t = ηĝ_t and ‖θ‖ ≤ δ at once);
    ``DeltaJ`` here means E[J(θ_T) − J(θ_0)] (the telescoping sum over t = 0..T−1)."""
    return 4 / T * T * (c * (eta * G * b + eta / 2 * v) + b**2 + v) + 4 * c / T * DeltaJ


@bound("cor5.12", "cor5.12", "printed")
def cor512_rhs():
    """Corollary 5.12 of the paper: 16δ ε(T)/√T + 4ε(T)²/T + C_conv/√T with ε(T) = Σ_{t<T} b_t = T b."""
    eps_T = T * b
    return 16 * delta * eps_T / sp.sqrt(T) + 4 * eps_T**2 / T + C_conv / sp.sqrt(T)


@bound("cor5.12 explicit", "cor5.12", "explicit")
def cor512_explicit():
    """Proof C.5 before O(·): η = 1/√T, c ≤ 2√T (T ≥ 4L²), Σ b_t² ≤ ε(T)², i.e.
    16δ ε(T)/√T + 4ε(T)²/T + (8/T)·T·v + (8/√T) E[J(π_{θ_T}) − J(π_{θ_1})]."""
    eps_T = T * b
    return (16 * delta * eps_T / sp.sqrt(T) + 4 * eps_T**2 / T + 8 / T * T * v
            + 8 / sp.sqrt(T) * DeltaJ)
