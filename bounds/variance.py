"""Proposition 5.4 (gradient variance, eq. 5.1) and its proof chain (C.9)-(C.18), (C.16).

Every function returns a sympy expression in the symbols of ``bounds.symbols``; ``i`` is the step
index of the per-step objects, ``h`` the expansion step of the bounds. Forms:

- printed: (5.1) with its O(·) constant exposed as ``C_var``;
- explicit: what Appendix C establishes, every constant kept ((C.13), Lemma C.1, (C.16));
- corrected: the chain rebuilt on the full chain rule (docs/errata.md, E1-E4), with
  ρ := L_f·sqrt(1 + L_π²) the one-step growth rate of dŝ/dθ.
"""
import sympy as sp

from .registry import bound
from .symbols import (GeomSum, L_f, L_pi, L_Qhat, L_r, L_theta, N, C_var, e, gamma, h, i, tilde)

Lf_t, Lpi_t = tilde(L_f), tilde(L_pi)


# --- per-step derivative norms, paper -------------------------------------------------------------

def c10(k=i):
    """Eq. (C.10) of the paper: ‖dâ_k/dθ‖ ≤ L_θ (k+1) L̃_f^k L̃_π^k (not valid: erratum E1)."""
    return L_theta * (k + 1) * Lf_t**k * Lpi_t**k


def c12(k=i):
    """Eq. (C.12) of the paper: ‖dŝ_k/dθ‖ ≤ L_θ (k²+1) L̃_f^{2k} L̃_π^k (rests on (C.10): E1, E2)."""
    return L_theta * (k**2 + 1) * Lf_t**(2 * k) * Lpi_t**k


def c10_unrolled(k=i):
    """First inequality of (C.10): ‖dâ_k/dθ‖ ≤ L_f^k L_π^k L_θ + L_θ Σ_{j<k} (L_f L_π)^j (rests on (C.9): E1)."""
    return (L_f * L_pi)**k * L_theta + L_theta * GeomSum(L_f * L_pi, k)


def c12_unrolled(k=i):
    """Third line of (C.12) as printed: L_θ L̃_f^k L̃_π + L_θ k L̃_f^k L̃_π Σ_{j<k} L_f^j (erratum E2)."""
    return L_theta * Lf_t**k * Lpi_t + L_theta * k * Lf_t**k * Lpi_t * GeomSum(L_f, k)


def K_hat(k=i):
    """Eq. (C.13) of the paper: K̂(k) = (C.10) + (C.12), a bound on ‖dx̂_k/dθ‖, x̂ = (ŝ, â)."""
    return c10(k) + c12(k)


# --- per-step derivative norms, corrected ---------------------------------------------------------

rho = L_f * sp.sqrt(1 + L_pi**2)


def c12_corrected(k=i):
    """Corrected (C.12): D_k := ‖dŝ_k/dθ‖ ≤ L_f L_θ Σ_{j<k} ρ^j, ρ = L_f sqrt(1+L_π²).

    From dŝ_k/dθ = [∂_s f̂, ∂_a f̂]·([I; ∂_s π] dŝ_{k−1}/dθ + [0; ∂_θ π]) (both chain-rule paths):
    D_k ≤ ρ D_{k−1} + L_f L_θ with D_0 = 0, solved by (C.11).
    """
    return L_f * L_theta * GeomSum(rho, k)


def c10_corrected(k=i):
    """Corrected (C.10): E_k := ‖dâ_k/dθ‖ ≤ L_π D_k + L_θ, from dâ_k/dθ = ∂_s π·dŝ_k/dθ + ∂_θ π."""
    return L_pi * c12_corrected(k) + L_theta


def K_hat_corrected(k=i):
    """Corrected (C.13): K̂_c(k) = D_k + E_k ≥ ‖dx̂_k/dθ‖."""
    return c10_corrected(k) + c12_corrected(k)


# --- Lemma C.1 -----------------------------------------------------------------------------------

def lemma_c1_action(k=i, printed=False):
    """Lemma C.1, first bound, = (C.18): E‖dâ_k/dθ − dā_k/dθ‖ ≤ L̃_π^k L̃_f^k (e + 2L_θ k + 4L_θ k² L̃_π^k L̃_f^k).

    ``printed=True`` gives the statement's 4L̃_θ (the proof (C.18) yields 4L_θ; erratum E3).
    """
    lt = tilde(L_theta) if printed else L_theta
    return Lpi_t**k * Lf_t**k * (e + 2 * L_theta * k + 4 * lt * k**2 * Lpi_t**k * Lf_t**k)


def lemma_c1_state(k=i):
    """Lemma C.1, second bound: E‖dŝ_k/dθ − ds̄_k/dθ‖ ≤ [2L_f K̂(k−1) + (C.18)(k)]·k·L̃_f^k."""
    return (2 * L_f * K_hat(k - 1) + lemma_c1_action(k)) * k * Lf_t**k


def _state_dev_corrected(k, kappa_F):
    """Corrected Lemma C.1 / (C.21) state deviation S_k, for a Jacobian mismatch κ_F.

    S_k ≤ ρ S_{k−1} + c_a D_{k−1} + c_b with S_0 = 0, c_a = κ_F sqrt(1+L_π²) + 2L_f L_π,
    c_b = (κ_F + 2L_f) L_θ; solved by (C.11) and Σ_{p<k−1} (p+1) ρ^p ≤ k Σ_{p<k} ρ^p.
    κ_F = 2L_f for the variance (two model trajectories), ε_f for the bias (model vs MDP).
    """
    s1 = sp.sqrt(1 + L_pi**2)
    c_a = kappa_F * s1 + 2 * L_f * L_pi
    c_b = (kappa_F + 2 * L_f) * L_theta
    return c_a * L_f * L_theta * k * GeomSum(rho, k) + c_b * GeomSum(rho, k)


def _action_dev_corrected(k, kappa_F):
    """Corrected Lemma C.1 / (C.20) action deviation: A_k ≤ 2L_π D_k + L_π S_k + 2L_θ."""
    return 2 * L_pi * c12_corrected(k) + L_pi * _state_dev_corrected(k, kappa_F) + 2 * L_theta


def lemma_c1_state_corrected(k=i):
    """Corrected Lemma C.1, second bound (both chain-rule paths): S_k with κ_F = 2L_f."""
    return _state_dev_corrected(k, 2 * L_f)


def lemma_c1_action_corrected(k=i):
    """Corrected Lemma C.1, first bound: 2L_π D_k + L_π S_k + 2L_θ (covers e ≤ 2L_θ)."""
    return _action_dev_corrected(k, 2 * L_f)


# --- Proposition 5.4 ------------------------------------------------------------------------------

@bound("(5.1)", "prop5.4", "printed")
def variance_printed():
    """Eq. (5.1) of the paper: v_t ≤ C_var (h^8 L̃_f^{6h} L̃_π^{4h} + γ^{2h} h^6 L̃_f^{6h} L̃_π^{4h}) / N."""
    rate = Lf_t**(6 * h) * Lpi_t**(4 * h)
    return C_var * (h**8 * rate + gamma**(2 * h) * h**6 * rate) / N


@bound("(C.16)", "prop5.4", "explicit")
def variance_explicit():
    """Eq. (C.16) of the paper before O(·), divided by N:
    ((h L_r + γ^h L_Q̂)(Lemma C.1 state + Lemma C.1 action + 2K̂(h)))² / N."""
    inner = lemma_c1_state(h) + lemma_c1_action(h) + 2 * K_hat(h)
    return ((h * L_r + gamma**h * L_Qhat) * inner) ** 2 / N


@bound("(C.16) corrected", "prop5.4", "corrected")
def variance_corrected():
    """Corrected (C.16): (C.16)'s structure on the corrected per-step bounds (errata E1-E3)."""
    inner = lemma_c1_state_corrected(h) + lemma_c1_action_corrected(h) + 2 * K_hat_corrected(h)
    return ((h * L_r + gamma**h * L_Qhat) * inner) ** 2 / N


@bound("(5.1) corrected", "prop5.4", "corrected")
def variance_printed_corrected():
    """Corrected (5.1): v_t ≤ C_var (h+1)^6 ρ̃^{2h} / N, ρ̃ = max(ρ, 1) (valid at h = 0, erratum E4)."""
    return C_var * (h + 1) ** 6 * tilde(rho) ** (2 * h) / N
