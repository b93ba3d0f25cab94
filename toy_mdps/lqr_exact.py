"""Exact mean and covariance of the RP-DP (4.2) and RP-DR (4.5) per-sample gradients on LQR, and
exact bounds on ε_v (4.8): Gaussian (and uniform) moments of quadratic forms, no Monte Carlo.

Setting (``toy_mdps.lqr.LQR``, θ = K, σ fixed): with u = (s_0, ς_0..ς_n, ξ_0..ξ_{n−1}) the start
state and the unit noise of one sample, every imagined state and action is linear in u, for RP-DP
(ŝ_{i+1} = Â ŝ_i + B̂ â_i + L_ξ ξ_i) and for RP-DR (the noise is re-inferred from the real
trajectory, L_ξ ξ̃_i = (A − Â)s_i + (B − B̂)a_i + L_ξ ξ_i, and detached), and so is its derivative in
K. Hence the per-sample gradient ĝ_k = ∂V̂/∂K_k of the value expansion (4.1) is a quadratic form
uᵀ G_k u with

    G_k = −Σ_{i<h} γ^i (X_iᵀ R Ẋ_{i,k} + Ẋ_{i,k}ᵀ R X_i) − γ^h (X_hᵀ Ĥ Ẋ_{h,k} + Ẋ_{h,k}ᵀ Ĥ X_h),

X_i the map u ↦ x̂_i = (ŝ_i, â_i), R = diag(R_s, R_a), Ĥ the critic's quadratic form (h = ∞: n =
``horizon_inf`` steps, no critic, as ``verify.measure`` runs it). The start state is drawn from
μ = β ν + (1 − β) ζ, and ν_π = Σ_t (1 − γ)γ^t law(s_t) is the mixture of ``LQR.nu_mixture``: s_t
is itself linear in independent unit noises, s_t = F_t w with F_t = [M^t L_0, M^{t−1}[σB, L_ξ], …,
[σB, L_ξ]], M = A + BK (the true closed loop). For u = (F w, ε) with independent unit coordinates of
excess kurtosis κ₄ (0 Gaussian, −6/5 uniform) and symmetric G, G',

    E[uᵀGu] = tr(G Σ),  E[uᵀGu · uᵀG'u] = tr(GΣ)tr(G'Σ) + 2 tr(GΣG'Σ) + κ₄ Σ_j G̃_jj G̃'_jj,

G̃ = WᵀGW in the coordinates w (Σ = WWᵀ); the mixture averages these over its components. This
gives E ĝ, Cov ĝ and v_t(1) = tr Cov ĝ exactly (the ν mixture is truncated where its omitted mass
γ^{T+1} ≤ ``mass_error``; the rest is renormalised).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import torch

#: excess kurtosis of the unit noises of ``toy_mdps.base.unit_noise``
KURTOSIS = {"gaussian": 0.0, "uniform": -1.2}


@dataclass(frozen=True)
class Moments:
    """E ĝ and Cov ĝ of one per-sample gradient (θ = K flattened row-major, as ``K.weight``), and ∇J."""

    mean: np.ndarray
    cov: np.ndarray
    true_grad: np.ndarray

    @property
    def variance(self) -> float:
        """v_t(1) = E‖ĝ − E ĝ‖² = tr Cov ĝ (v_t(N) = v_t(1)/N)."""
        return float(np.trace(self.cov))

    @property
    def bias(self) -> float:
        """b_t = ‖∇J − E ĝ‖."""
        return float(np.linalg.norm(self.true_grad - self.mean))


def _linear_maps(p, steps: int, estimator: str):
    """The maps u ↦ x̂_i (model rollout, (d_x, n_u)), their K-derivatives ((P, d_x, n_u)) and the
    maps u ↦ x_i of the real rollout, i = 0..steps."""
    if estimator not in ("dp", "dr"):
        raise ValueError(f"unknown estimator {estimator!r}")
    ds, da = p.d_s, p.d_a
    n_u = ds + (steps + 1) * da + steps * ds
    K, sig, n_par = p.K, p.sigma, da * ds
    vs_off, xi_off = ds, ds + (steps + 1) * da

    def sel(off, d):
        E = np.zeros((d, n_u))
        E[:, off:off + d] = np.eye(d)
        return E

    S = sel(0, ds)
    Sd = np.zeros((n_par, ds, n_u))
    Sr = S.copy()
    model, deriv, real = [], [], []
    for i in range(steps + 1):
        vs = sig * sel(vs_off + i * da, da)
        act = K @ S + vs
        EkS = np.zeros((n_par, da, n_u))
        for r in range(da):
            for c in range(ds):
                EkS[r * ds + c, r] = S[c]
        actd = np.einsum("ij,kjn->kin", K, Sd) + EkS
        act_r = K @ Sr + vs
        model.append(np.vstack([S, act]))
        deriv.append(np.concatenate([Sd, actd], axis=1))
        real.append(np.vstack([Sr, act_r]))
        if i < steps:
            noise = p.L_xi @ sel(xi_off + i * ds, ds)
            if estimator == "dr":  # the noise that makes f̂ reproduce the real step, detached
                noise = (p.A - p.A_hat) @ Sr + (p.B - p.B_hat) @ act_r + noise
            S, Sd = p.A_hat @ S + p.B_hat @ act + noise, (np.einsum("ij,kjn->kin", p.A_hat, Sd)
                                                         + np.einsum("ij,kjn->kin", p.B_hat, actd))
            Sr = p.A @ Sr + p.B @ act_r + p.L_xi @ sel(xi_off + i * ds, ds)
    return model, deriv, real


def gradient_forms(p, h: float, estimator: str = "dp", H_hat=None, horizon_inf: int = 100) -> np.ndarray:
    """The symmetric G_k (P, n_u, n_u) with ĝ_k = uᵀ G_k u (module docstring); ``H_hat`` defaults
    to the quadratic form of ``p.critic``."""
    infinite = math.isinf(h)
    steps = horizon_inf if infinite else int(h)
    model, deriv, _ = _linear_maps(p, steps, estimator)
    R = sla.block_diag(p.Rs, p.Ra)
    if not infinite:
        H_hat = p.critic.H.numpy() if H_hat is None else np.asarray(H_hat, float)
    blocks = [p.gamma ** i * (R if (infinite or i < steps) else H_hat) for i in range(steps + 1)]
    WZ = sla.block_diag(*blocks) @ np.vstack(model)
    M = WZ.T @ np.concatenate(deriv, axis=1)  # (P, n_u, n_u), batched BLAS
    return -(M + M.transpose(0, 2, 1))


def start_components(p, beta: float, mass_error: float = 1e-10):
    """μ = β ν + (1 − β) ζ as weighted components: (weights (T + 2,), covariances (T + 2, d_s, d_s),
    powers M^t for t = 0..T, step = [σB, L_ξ]). Component 0 is ζ (s_0 = L_0 w), component 1 + t
    is law(s_t) (s_t = F_t w, module docstring)."""
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must lie in [0, 1], got {beta}")
    w_nu, covs, T = p.nu_mixture(mass_error)
    M = p.A + p.B @ p.K
    powers = [np.eye(p.d_s)]
    for _ in range(T):
        powers.append(M @ powers[-1])
    weights = np.concatenate([[1 - beta], beta * w_nu / w_nu.sum()])
    return weights, np.concatenate([p.Sigma_0[None], covs]), powers, np.hstack([p.sigma * p.B, p.L_xi])


def form_moments(p, G: np.ndarray, beta: float, mass_error: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """(E[uᵀG_k u], E[uᵀG_k u · uᵀG_l u]) for symmetric G (P, n_u, n_u), s_0 ∼ μ_β (module docstring)."""
    ds = p.d_s
    G00, G0e, Gee = G[:, :ds, :ds], G[:, :ds, ds:], G[:, ds:, ds:]
    weights, covs, powers, step = start_components(p, beta, mass_error)
    keep = weights > 0
    tr_ee = np.einsum("kii->k", Gee)
    flat = Gee.reshape(len(G), -1)
    TT = flat @ flat.T
    X = np.einsum("kie,lje->klij", G0e, G0e)
    mean_c = np.einsum("kij,cji->ck", G00, covs) + tr_ee
    AC = np.einsum("kij,cjm->ckim", G00, covs)
    t1 = np.einsum("ckij,clji->ckl", AC, AC)
    t2 = np.einsum("klij,cji->ckl", X, covs)
    second_c = mean_c[:, :, None] * mean_c[:, None, :] + 2 * (t1 + 2 * t2 + TT)
    kurt = KURTOSIS[p.noise_kind]
    if kurt:
        diag = np.einsum("kii->ki", Gee)
        Mt = np.stack(powers)  # (T + 1, d_s, d_s)

        def q(F):  # Σ over the columns c of F of (cᵀG_k c)(cᵀG_l c), batched over the first axis
            d = np.einsum("tic,kij,tjc->tkc", F, G00, F)
            return d @ d.transpose(0, 2, 1)

        age = np.concatenate([np.zeros_like(TT)[None], np.cumsum(q(Mt[:-1] @ step), axis=0)])
        Q = np.concatenate([q(p.L_0[None]), q(Mt @ p.L_0) + age])
        second_c = second_c + kurt * (Q + diag @ diag.T)
    w = weights[keep]
    return w @ mean_c[keep], np.einsum("c,ckl->kl", w, second_c[keep])


def moments(p, h: float, beta: float, estimator: str = "dp", H_hat=None, horizon_inf: int = 100,
            mass_error: float = 1e-10) -> Moments:
    """E ĝ, Cov ĝ of the per-sample RP-DP (``"dp"``, 4.2) or RP-DR (``"dr"``, 4.5) gradient and ∇J,
    exactly, for any h (``math.inf``: BPTT unrolled ``horizon_inf`` steps) and β ∈ [0, 1]."""
    if isinstance(p.policy.sigma, torch.nn.Parameter):
        raise ValueError("closed forms cover θ = K only (learn_sigma=False)")
    G = gradient_forms(p, h, estimator, H_hat, horizon_inf)
    mean, second = form_moments(p, G, beta, mass_error)
    cov = second - np.outer(mean, mean)
    return Moments(mean, (cov + cov.T) / 2, p.grad_J()["K.weight"].reshape(-1))


def eps_v_interval(p, h: int, H_hat=None, reading: str = "coupled", mass_error: float = 1e-10) -> tuple[float, float]:
    """An exact interval [low, high] ∋ ε_v of (4.8) for the critic Q̂ = −(xᵀĤx + q0), s_0 ∼ ν, s_h by f
    and ŝ_h by f̂ (as ``LQR.eps_v`` with ``hat_model``).

    ε_v = E‖X_s‖ + E‖X_a‖, X = ∇Q^π(x_h) − ∇Q̂(x̂_h) = −2(H x_h − Ĥ x̂_h); per part
    (E‖X‖⁴)^{-1/2}(E‖X‖²)^{3/2} ≤ E‖X‖ ≤ (E‖X‖²)^{1/2} (Hölder, Jensen), both moments exact.
    ``reading="coupled"``: x̂_h shares s_0 and the noise with x_h, X = D u is linear in one u.
    ``reading="independent"``: x̂_h from an independent copy u', X = D₁u − D₂u'; with a = ‖D₁u‖²,
    b = ‖D₂u'‖², c = (D₁u)ᵀD₂u', E‖X‖² = E a + E b and E‖X‖⁴ = E a² + E b² + 2 E a E b + 4 E c²
    (the odd moments vanish), E c² = tr(D₁Σ̄D₁ᵀ D₂Σ̄D₂ᵀ) with Σ̄ the covariance of u under the ν mixture.
    """
    H, _ = p.q_form()
    H_hat = p.critic.H.numpy() if H_hat is None else np.asarray(H_hat, float)
    model, _, real = _linear_maps(p, int(h), "dp")
    D1, D2 = -2 * H @ real[-1], -2 * H_hat @ model[-1]
    if reading == "independent":
        weights, covs, _, _ = start_components(p, 1.0, mass_error)
        Sig = np.eye(D1.shape[1])
        Sig[:p.d_s, :p.d_s] = np.einsum("c,cij->ij", weights, covs)
    elif reading != "coupled":
        raise ValueError(f"unknown reading {reading!r}")
    low = high = 0.0
    for rows in (slice(0, p.d_s), slice(p.d_s, None)):
        if reading == "coupled":
            part = D1[rows] - D2[rows]
            m2, m4 = (float(np.ravel(x)[0]) for x in form_moments(p, (part.T @ part)[None], 1.0, mass_error))
        else:
            (ea,), ((ea2,),) = form_moments(p, (D1[rows].T @ D1[rows])[None], 1.0, mass_error)
            (eb,), ((eb2,),) = form_moments(p, (D2[rows].T @ D2[rows])[None], 1.0, mass_error)
            ec2 = float(np.trace(D1[rows] @ Sig @ D1[rows].T @ D2[rows] @ Sig @ D2[rows].T))
            m2, m4 = ea + eb, ea2 + eb2 + 2 * ea * eb + 4 * ec2
        if m2 > 0:
            low += m2 ** 1.5 / math.sqrt(m4)
            high += math.sqrt(m2)
    return float(low), float(high)
