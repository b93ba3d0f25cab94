"""Proposition 5.8 (gradient bias, eq. 5.3) and its proof chain (C.19)-(C.24).

Forms as in ``bounds.variance``: printed (O-constant ``C_bias``), explicit ((C.20), (C.21), (C.24)
with every constant), corrected (full chain rule and the term E12 shows the proof drops; errata E1,
E5, E12, E13). Hypotheses of the corrected explicit form (docs/errata.md, "The corrected bias
bound"): those of the paper's (A.2 constants valid on the states reached), the model and the true
dynamics both L_f-Lipschitz (evaluate it with the larger of the two constants), and γρ < 1 (else the
bound is +∞).
"""
import sympy as sp

from .registry import bound
from .symbols import (C_bias, L_f, beta, L_pi, L_Q, L_r, L_theta, eps_f, eps_v, gamma, h, i, kappa,
                      kappa_prime, tilde)
from .variance import (K_hat, K_hat_corrected, _action_dev_corrected, _state_dev_corrected, rho)

Lf_t, Lpi_t = tilde(L_f), tilde(L_pi)
#: the bounds to evaluate with L_f the larger of the model's and the true dynamics' constants: they
#: differentiate both (the corrected chain and ``sup_grad_V``)
BOTH_DYNAMICS = ("bias_corrected",)
#: κ' with a change of measure that holds: E_ζφ ≤ κ² E_νφ for φ ≥ 0 when κ = (1 − γ)^{-1/2} (dζ/dν ≤ 1/(1 − γ),
#: E18), where Lemma C.3's E_ζφ ≤ κ E_νφ does not (E14)
kappa_prime_corrected = beta + kappa**2 * (1 - beta)


def c20(k=i):
    """Eq. (C.20) of the paper: E‖dâ_k/dθ − da_k/dθ‖ ≤ k L̃_π^k L̃_f^k (L_π(2L_f + ε_f) L_θ k L̃_f^k L̃_π^k + 2L_θ)."""
    return k * Lpi_t**k * Lf_t**k * (L_pi * (2 * L_f + eps_f) * L_theta * k * Lf_t**k * Lpi_t**k
                                     + 2 * L_theta)


def c21(k=i):
    """Eq. (C.21) of the paper: E‖dŝ_k/dθ − ds_k/dθ‖ ≤ (ε_f K̂(k−1) + (C.20)(k))·k·L̃_f^k."""
    return (eps_f * K_hat(k - 1) + c20(k)) * k * Lf_t**k


def c20_corrected(k=i):
    """Corrected (C.20): 2L_π D_k + L_π S_k + 2L_θ with model/MDP Jacobian mismatch ε_f."""
    return _action_dev_corrected(k, eps_f)


def c21_corrected(k=i):
    """Corrected (C.21): S_k ≤ ρ S_{k−1} + (ε_f sqrt(1+L_π²) + 2L_f L_π) D_{k−1} + (ε_f + 2L_f) L_θ."""
    return _state_dev_corrected(k, eps_f)


def c24():
    """Eq. (C.24) of the paper with (C.20), (C.21), (C.13) plugged in:
    κκ' h (L_r (C.21 + C.20) + 2 L_r K̂(h)) + κ' γ^h (L_Q (C.21 + C.20) + K̂(h) ε_v)."""
    dev = c21(h) + c20(h)
    return (kappa * kappa_prime * h * (L_r * dev + 2 * L_r * K_hat(h))
            + kappa_prime * gamma**h * (L_Q * dev + K_hat(h) * eps_v))


@bound("(5.3)", "prop5.8", "printed")
def bias_printed():
    """Eq. (5.3) of the paper: b_t ≤ C_bias (κ'κ h^4 L̃_f^{3h} L̃_π^{2h} ε_f + κ' h² γ^h L̃_f^{2h} L̃_π^h ε_v)."""
    return C_bias * (kappa_prime * kappa * h**4 * Lf_t**(3 * h) * Lpi_t**(2 * h) * eps_f
                     + kappa_prime * h**2 * gamma**h * Lf_t**(2 * h) * Lpi_t**h * eps_v)


@bound("(C.24)", "prop5.8", "explicit")
def bias_explicit():
    """Eq. (C.24) of the paper (explicit form of Proposition 5.8)."""
    return c24()


def sup_grad_V():
    """sup_s ‖∇_θV^{π_θ}(s)‖ ≤ L_r L_θ (1 + γ(1 + L_π) L_f/(1 − γρ))/(1 − γ) for γρ < 1, +∞ for γρ ≥ 1.

    ∇_θV^{π_θ}(s) = E Σ_t γ^t ∇r·(ds_t/dθ, da_t/dθ) along the true dynamics from the fixed s, where
    ‖ds_t/dθ‖ ≤ D_t = L_f L_θ Σ_{j<t} ρ^j and ‖da_t/dθ‖ ≤ L_π D_t + L_θ (E1's recursion), and
    Σ_t γ^t Σ_{j<t} ρ^j = γ/((1 − γ)(1 − γρ))."""
    return L_r * L_theta / (1 - gamma) * (1 + gamma * (1 + L_pi) * L_f / sp.Max(1 - gamma * rho, 0))


@bound("(C.24) corrected", "prop5.8", "corrected")
def bias_corrected():
    """Corrected (C.24): (C.24)'s structure on the corrected (C.13), (C.20), (C.21) with
    ``kappa_prime_corrected`` for κ' (the change of measure to μ, evaluated at κ = (1 − γ)^{-1/2}), plus the
    two terms the proof drops, each bounded with ``sup_grad_V`` = S: E12's γ^h‖E ∂_θQ^{π_θ}(s_h, a_h)‖ ≤ γ^{h+1} S
    (∂_θQ^{π_θ}(s, a) = γ E ∇_θV^{π_θ}(s')), and β‖E_ζ ∇_θV − E_ν ∇_θV‖ ≤ 2βS (∇J is E_ζ ∇_θV; the
    ν-samples estimate E_ν ∇_θV, E13). Hypotheses in the module docstring."""
    dev = c21_corrected(h) + c20_corrected(h)
    kp = kappa_prime_corrected
    return (kappa * kp * h * (L_r * dev + 2 * L_r * K_hat_corrected(h))
            + kp * gamma**h * (L_Q * dev + K_hat_corrected(h) * eps_v)
            + (gamma**(h + 1) + 2 * beta) * sup_grad_V())


@bound("(5.3) corrected", "prop5.8", "corrected")
def bias_printed_corrected():
    """Corrected (5.3): C_bias (κκ' (h+1)^3 ρ̃^h + κ' γ^h (h+1) ρ̃^h ε_v); no ε_f factor (erratum E5)."""
    rt = sp.Max(rho, 1)
    return C_bias * (kappa * kappa_prime * (h + 1) ** 3 * rt**h
                     + kappa_prime * gamma**h * (h + 1) * rt**h * eps_v)
