"""Discounted LQR with a linear policy, in closed form (scipy.linalg), with certified Lipschitz
constants.

MDP: s' = A s + B a + w u_ξ, a = π_θ(s, ς) = K s + σ ς, r(s, a) = −(sᵀR_s s + aᵀR_a a),
s_0 = z u_0 (or, with ``noise_cov`` / ``init_cov``, w and z the Cholesky factors of any dynamics-noise
and initial-state covariances), where u_ξ, ς, u_0 are unit noise (identity covariance) of one kind: "uniform" (bounded,
needed by the certificate) or "gaussian" (needed by the closed-form density of ν_π, hence κ).
Values are unnormalised (docs/conventions.md): V(s) = −(sᵀP s + c).

The model stand-in is f̂(s, a, ξ) = Â s + B̂ a + w ξ, the critic stand-in Q̂ = Q^π with its
quadratic form perturbed (``critic_with_error``).

Certificate (``Domain``): for a positive definite P_c with ρ = max(‖M‖_{P_c}, ‖M̂‖_{P_c}) < 1, where
M = A + BK, M̂ = Â + B̂K and ‖M‖_{P_c} = ‖P_c^{1/2} M P_c^{-1/2}‖₂ exactly, bounded noise adds at most
e to the P_c-norm per step, so the ellipsoid ‖s‖_{P_c} ≤ R with R = max(e/(1 − ρ), sup_ζ ‖s_0‖_{P_c})
is invariant for both the true and the model trajectories, and ‖s‖ ≤ s_max = R ‖P_c^{-1/2}‖₂. Every
such P_c certifies; ``_certify`` keeps the one with the least s_max among ``CERTIFICATE_SHAPES``
shapes: P_c = Σ_k (M/r)ᵀᵏ (M/r)ᵏ (round) and P_c = (Σ_k (M/r)ᵏ G Gᵀ (M/r)ᵀᵏ)⁻¹ (shaped like the
stationary covariance of the noise G = [σB, L_ξ]), r between ρ(M) and 1. On it ‖a‖ ≤ a_max, and the
domain-dependent constants (L_r, L_Q, L_Q̂, L_θ) are suprema of gradient norms over the convex set
{‖s‖ ≤ s_max} × {‖a‖ ≤ a_max}, hence valid Lipschitz constants there (mean-value theorem).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import scipy.linalg as sla
import torch
from torch import Tensor

from toy_mdps.base import DTYPE, LinearPolicy, ToyMDP, unit_noise, unit_noise_bound


def _t(x) -> Tensor:
    return torch.as_tensor(np.asarray(x), dtype=DTYPE)


def _norm2(x) -> float:
    return float(np.linalg.norm(np.atleast_2d(x), 2))


class LinearModel:
    """f̂(s, a, ξ) = Â s + B̂ a + L ξ, batched over rows, L a lower-triangular noise factor;
    ``infer_xi`` inverts it in ξ (RP-DR)."""

    def __init__(self, A, B, L):
        self.A, self.B, self.L = _t(A), _t(B), _t(L)

    def __call__(self, s: Tensor, a: Tensor, xi: Tensor) -> Tensor:
        return s @ self.A.T + a @ self.B.T + xi @ self.L.T

    def infer_xi(self, s: Tensor, a: Tensor, s_next: Tensor) -> Tensor:
        """ξ with f̂(s, a, ξ) = s_next, eqs. (4.3)–(4.5)."""
        r = s_next - s @ self.A.T - a @ self.B.T
        return torch.linalg.solve_triangular(self.L, r.reshape(-1, r.shape[-1]).T, upper=False).T.reshape(r.shape)


class QuadraticCritic:
    """Q̂(s, a) = −(xᵀ H x + q0) with x = (s, a); with H, q0 of ``LQR.q_form`` it is Q^π exactly."""

    def __init__(self, H, q0: float, d_s: int):
        self.H, self.q0, self.d_s = _t(H), float(q0), d_s

    def __call__(self, s: Tensor, a: Tensor) -> Tensor:
        x = torch.cat([s, a], -1)
        return -((x @ self.H) * x).sum(-1) - self.q0

    def grad(self, s: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        """(∂Q̂/∂s, ∂Q̂/∂a) = −2 H x, split."""
        g = -2.0 * torch.cat([s, a], -1) @ self.H
        return g[..., :self.d_s], g[..., self.d_s:]


#: where the certificate's shapes put r in (ρ(M), 1): r = ρ(M) + f (1 − ρ(M))
CERTIFICATE_SHAPES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class Domain:
    """The certified invariant set {s : sᵀ P_c s ≤ R²} and the bounds it implies.

    ``rho`` = max(‖M‖_{P_c}, ‖M̂‖_{P_c}) < 1; ``s_max``, ``a_max``, ``xi_max``, ``varsigma_max``
    bound the Euclidean norms of states, actions and noises of true and model trajectories.
    """

    P_c: np.ndarray
    radius: float
    rho: float
    s_max: float
    a_max: float
    xi_max: float
    varsigma_max: float

    def contains(self, s: Tensor) -> Tensor:
        """Whether each state (…, d_s) lies in the ellipsoid (up to rounding)."""
        return ((s @ _t(self.P_c)) * s).sum(-1) <= self.radius ** 2 * (1 + 1e-9)


@dataclass(frozen=True)
class Lipschitz:
    """Constants of Assumption A.2 (+ L_θ, L_Q of 5.3/5.6), valid on the certified domain.

    Which proof step uses which (Appendix C): (C.9)–(C.13) use L_f̂ and L_π only through
    ‖∂ŝ'/∂ŝ‖, ‖∂ŝ'/∂â‖ ≤ L_f̂ and ‖∂â/∂ŝ‖ ≤ L_π, i.e. ``L_fhat_sa`` and ``L_pi_s``, which the
    joint constants ``L_fhat`` (in (s, a, ξ)) and ``L_pi`` (in (s, ς)) of A.2 dominate; L_θ bounds
    ‖∂â/∂θ‖; L_r, L_Q̂ bound the reward and critic gradients in (C.8), (C.14), (C.22); L_Q the true
    Q's in Prop 5.8. ``L_f``/``L_f_sa`` are the same for the true dynamics. math.inf marks a constant
    with no finite value (an uncertified instance has no bounded domain).
    """

    L_r: float
    L_f: float
    L_f_sa: float
    L_fhat: float
    L_fhat_sa: float
    L_pi: float
    L_pi_s: float
    L_theta: float
    L_Q: float
    L_Qhat: float


class LQR(ToyMDP):
    """A discounted LQR instance with the current linear policy (K, σ), model stand-in (Â, B̂) and
    closed-form truth. ``certify=True`` raises unless the invariant domain is certified (see the
    module docstring); ``certify=False`` builds any instance (e.g. A = B = 0.69, K = 0.95, where
    ‖A‖, ‖B‖, ‖K‖ < 1 but A + BK expands) and sets ``certified = False``; closed-form values
    then need √γ · spectral radius(A + BK) < 1. ``noise_cov`` (Σ_ξ) and ``init_cov`` (Σ_0), when
    given, replace w² I and z² I; ``L_xi``, ``L_0`` are their Cholesky factors.
    """

    def __init__(self, A, B, K, sigma: float = 0.1, w: float = 0.05, z: float = 0.5,
                 gamma: float = 0.9, Rs=None, Ra=None, noise: str = "uniform",
                 A_hat=None, B_hat=None, certify: bool = True, learn_sigma: bool = False,
                 noise_cov=None, init_cov=None):
        self.A, self.B = np.atleast_2d(np.asarray(A, float)), np.atleast_2d(np.asarray(B, float))
        self.d_s, self.d_a = self.B.shape
        self.Rs = np.eye(self.d_s) if Rs is None else np.atleast_2d(np.asarray(Rs, float))
        self.Ra = np.eye(self.d_a) if Ra is None else np.atleast_2d(np.asarray(Ra, float))
        self.A_hat = self.A if A_hat is None else np.atleast_2d(np.asarray(A_hat, float))
        self.B_hat = self.B if B_hat is None else np.atleast_2d(np.asarray(B_hat, float))
        self.gamma, self.w, self.z, self.noise_kind = float(gamma), float(w), float(z), noise
        eye = np.eye(self.d_s)
        self.Sigma_xi = self.w ** 2 * eye if noise_cov is None else np.atleast_2d(np.asarray(noise_cov, float))
        self.Sigma_0 = self.z ** 2 * eye if init_cov is None else np.atleast_2d(np.asarray(init_cov, float))
        self.L_xi = self.w * eye if noise_cov is None else np.linalg.cholesky(self.Sigma_xi)
        self.L_0 = self.z * eye if init_cov is None else np.linalg.cholesky(self.Sigma_0)
        self.policy = LinearPolicy(_t(np.atleast_2d(np.asarray(K, float))), sigma, noise, learn_sigma)
        self.true_model = LinearModel(self.A, self.B, self.L_xi)
        self.model = LinearModel(self.A_hat, self.B_hat, self.L_xi)
        self.domain = self._certify()
        self.certified = self.domain is not None
        if certify and not self.certified:
            raise ValueError("no invariant domain: closed loop not contracting or noise unbounded")
        self.critic = QuadraticCritic(*self.q_form(), self.d_s) if self.stable else None

    # -- the current policy ------------------------------------------------------------------
    @property
    def K(self) -> np.ndarray:
        return self.policy.K.weight.detach().numpy().copy()

    @property
    def sigma(self) -> float:
        return float(self.policy.sigma.detach())

    @property
    def stable(self) -> bool:
        """√γ · spectral radius(A + BK) < 1: the discounted values are finite."""
        return math.sqrt(self.gamma) * max(abs(np.linalg.eigvals(self.A + self.B @ self.K))) < 1

    def reward(self, s: Tensor, a: Tensor) -> Tensor:
        """r(s, a) = −(sᵀR_s s + aᵀR_a a)."""
        return -((s @ _t(self.Rs)) * s).sum(-1) - ((a @ _t(self.Ra)) * a).sum(-1)

    def sample_zeta(self, n: int, generator: torch.Generator) -> Tensor:
        """s_0 = L_0 u (= z u), u unit noise: ζ has mean 0 and covariance Σ_0 (= z² I)."""
        return unit_noise(self.noise_kind, (n, self.d_s), generator) @ _t(self.L_0).T

    # -- closed form --------------------------------------------------------------------------
    def _W(self, sigma: float) -> np.ndarray:
        """Covariance of the per-step state noise B σ ς + L_ξ u_ξ."""
        return sigma ** 2 * self.B @ self.B.T + self.Sigma_xi

    def value_form(self, K=None, sigma: Optional[float] = None) -> tuple[np.ndarray, float]:
        """(P, c) with V^π(s) = −(sᵀP s + c): P = R_s + KᵀR_aK + γ MᵀPM (discrete Lyapunov),
        (1 − γ)c = σ² tr R_a + γ tr(P W)."""
        K = self.K if K is None else np.atleast_2d(K)
        sigma = self.sigma if sigma is None else sigma
        M = self.A + self.B @ K
        if math.sqrt(self.gamma) * max(abs(np.linalg.eigvals(M))) >= 1:
            raise ValueError("unstable: sqrt(gamma) * spectral radius(A + BK) >= 1, values are infinite")
        P = sla.solve_discrete_lyapunov(math.sqrt(self.gamma) * M.T, self.Rs + K.T @ self.Ra @ K)
        c = (sigma ** 2 * np.trace(self.Ra) + self.gamma * np.trace(P @ self._W(sigma))) / (1 - self.gamma)
        return P, float(c)

    def J(self, K=None, sigma: Optional[float] = None) -> float:
        """J(θ) = E_ζ V^π(s_0) = −(tr(P Σ_0) + c)."""
        P, c = self.value_form(K, sigma)
        return -(np.trace(P @ self.Sigma_0) + c)

    def visitation_second_moment(self, K=None, sigma: Optional[float] = None) -> np.ndarray:
        """Σ_K = Σ_t γ^t E[s_t s_tᵀ] = Σ_0 + γ M Σ_K Mᵀ + γ W/(1 − γ) (unnormalised)."""
        K = self.K if K is None else np.atleast_2d(K)
        sigma = self.sigma if sigma is None else sigma
        M = self.A + self.B @ K
        rhs = self.Sigma_0 + self.gamma * self._W(sigma) / (1 - self.gamma)
        return sla.solve_discrete_lyapunov(math.sqrt(self.gamma) * M, rhs)

    def grad_J(self) -> dict[str, np.ndarray]:
        """∇_θ J from the RP form (3.1) summed over the visitation:
        ∇_K J = −2[(R_a + γBᵀPB)K + γBᵀPA] Σ_K and ∇_σ J = −2σ tr(R_a + γBᵀPB)/(1 − γ).
        Keys are the policy's parameter names."""
        P, _ = self.value_form()
        G = self.Ra + self.gamma * self.B.T @ P @ self.B
        out = {"K.weight": -2 * (G @ self.K + self.gamma * self.B.T @ P @ self.A) @ self.visitation_second_moment()}
        if isinstance(self.policy.sigma, torch.nn.Parameter):
            out["sigma"] = np.array(-2 * self.sigma * np.trace(G) / (1 - self.gamma))
        return out

    def true_grad(self) -> Tensor:
        """∇J flattened in the policy's ``named_parameters()`` order (exact)."""
        g = self.grad_J()
        return torch.cat([_t(g[k]).reshape(-1) for k, _ in self.policy.named_parameters()])

    def q_form(self) -> tuple[np.ndarray, float]:
        """(H, q0) with Q^π(s, a) = r(s, a) + γ E V^π(s') = −(xᵀHx + q0), x = (s, a):
        H = diag(R_s, R_a) + γ [A B]ᵀP[A B], q0 = γ(tr(P Σ_ξ) + c)."""
        P, c = self.value_form()
        AB = np.hstack([self.A, self.B])
        H = sla.block_diag(self.Rs, self.Ra) + self.gamma * AB.T @ P @ AB
        return H, float(self.gamma * (np.trace(P @ self.Sigma_xi) + c))

    def Q(self, s: Tensor, a: Tensor) -> Tensor:
        """Q^π(s, a), exact."""
        return QuadraticCritic(*self.q_form(), self.d_s)(s, a)

    def dQ(self, s: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        """(∂Q^π/∂s, ∂Q^π/∂a) = (−2R_s s − 2γAᵀP(As + Ba), −2R_a a − 2γBᵀP(As + Ba))."""
        return QuadraticCritic(*self.q_form(), self.d_s).grad(s, a)

    def V(self, s: Tensor) -> Tensor:
        """V^π(s) = −(sᵀPs + c)."""
        P, c = self.value_form()
        return -((s @ _t(P)) * s).sum(-1) - c

    # -- ν_π and κ ------------------------------------------------------------------------------
    def nu_mixture(self, mass_error: float = 1e-10) -> tuple[np.ndarray, np.ndarray, int]:
        """ν_π = Σ_t (1 − γ)γ^t N(0, C_t) (exact for Gaussian noise; for uniform noise C_t are
        the exact covariances but the components are not Gaussian), truncated at the smallest T
        with omitted mass γ^{T+1} ≤ ``mass_error``. C_0 = Σ_0, C_{t+1} = M C_t Mᵀ + W.
        Returns (weights (T+1,), covariances (T+1, d_s, d_s), T); the weights sum to 1 − γ^{T+1}."""
        T = max(0, math.ceil(math.log(mass_error) / math.log(self.gamma)) - 1)
        M, W = self.A + self.B @ self.K, self._W(self.sigma)
        covs = [self.Sigma_0]
        for _ in range(T):
            covs.append(M @ covs[-1] @ M.T + W)
        weights = (1 - self.gamma) * self.gamma ** np.arange(T + 1)
        return weights, np.stack(covs), T

    def nu_log_density(self, s: Tensor, mass_error: float = 1e-10) -> Tensor:
        """log of the truncated mixture density ν_T(s) ≤ ν_π(s) (Gaussian noise only)."""
        if self.noise_kind != "gaussian":
            raise ValueError("nu has a closed-form density only with Gaussian noise")
        weights, covs, _ = self.nu_mixture(mass_error)
        comps = torch.distributions.MultivariateNormal(torch.zeros(self.d_s, dtype=DTYPE), _t(covs))
        return torch.logsumexp(comps.log_prob(s[:, None, :]) + _t(np.log(weights)), dim=1)

    def kappa(self, n: int = 20000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
        """κ of (5.2): κ² = E_ν[(dζ/dν)²] = E_ζ[ζ/ν], by Monte Carlo over s ∼ ζ (Gaussian noise).

        The ratio ζ/ν_T lies in [0, 1/(1 − γ)] because ν_T ≥ (1 − γ)ζ (its t = 0 term), and
        ν_T ≤ ν makes E_ζ[ζ/ν_T] ≥ κ²; Hoeffding's inequality then gives the one-sided upper bound.
        Returns (estimate, upper bound at ``level``); both ≤ the always-valid (1 − γ)^{-1/2}.
        """
        g = torch.Generator().manual_seed(seed)
        s = self.sample_zeta(n, g)
        log_zeta = torch.distributions.MultivariateNormal(
            torch.zeros(self.d_s, dtype=DTYPE), _t(self.Sigma_0)).log_prob(s)
        ratio = torch.exp(log_zeta - self.nu_log_density(s))
        slack = (1 / (1 - self.gamma)) * math.sqrt(math.log(1 / (1 - level)) / (2 * n))
        mean = float(ratio.mean())
        return math.sqrt(mean), math.sqrt(min(mean + slack, 1 / (1 - self.gamma)))

    # -- stand-ins and their errors -----------------------------------------------------------
    def critic_with_error(self, delta: float, seed: int = 0) -> QuadraticCritic:
        """Q̂ = −(xᵀ(H + δE)x + q0) with E symmetric, ‖E‖₂ = 1, drawn from ``seed``."""
        H, q0 = self.q_form()
        rng = np.random.default_rng(seed)
        E = rng.standard_normal(H.shape)
        E = E + E.T
        return QuadraticCritic(H + delta * E / _norm2(E), q0, self.d_s)

    def eps_f(self) -> float:
        """ε_f of (4.7), exact: the Jacobians are constant, so under either reading (same or
        independent states) and for every i, ε_f = ‖A − Â‖₂ + ‖B − B̂‖₂."""
        return _norm2(self.A - self.A_hat) + _norm2(self.B - self.B_hat)

    def eps_v(self, critic: QuadraticCritic, h: int, reading: str = "coupled", hat_model: bool = True,
              n: int = 20000, seed: int = 0) -> tuple[float, float]:
        """ε_v of (4.8) for ``critic`` at step h, by Monte Carlo: (estimate, standard error).

        ``reading="coupled"``: ∇Q^π at (s_h, a_h) against ∇Q̂ at (ŝ_h, â_h) of the same s_0 ∼ ν
        and noise (``hat_model``: ŝ follows f̂, else f, when both are the same point).
        ``reading="independent"``: (ŝ_h, â_h) drawn independently (a permutation of the batch);
        then ε_v > 0 even for Q̂ = Q^π. See ``ToyMDP.state_action_pairs``.
        """
        g = torch.Generator().manual_seed(seed)
        s, a, s_hat, a_hat = (x[h] for x in self.state_action_pairs(h, n, g, hat_model))
        if reading == "independent":
            perm = torch.randperm(n, generator=g)
            s_hat, a_hat = s_hat[perm], a_hat[perm]
        elif reading != "coupled":
            raise ValueError(f"unknown reading {reading!r}")
        qs, qa = self.dQ(s, a)
        hs, ha = critic.grad(s_hat, a_hat)
        err = torch.linalg.vector_norm(qs - hs, dim=-1) + torch.linalg.vector_norm(qa - ha, dim=-1)
        return float(err.mean()), float(err.std() / math.sqrt(n))

    # -- certificate and Lipschitz constants ---------------------------------------------------
    def _certify(self) -> Optional[Domain]:
        """The invariant ellipsoid of the module docstring with the least s_max, or None when no shape
        certifies."""
        if self.noise_kind != "uniform":
            return None
        M, M_hat = self.A + self.B @ self.K, self.A_hat + self.B_hat @ self.K
        spectral_radius = abs(np.linalg.eigvals(M)).max()
        if max(spectral_radius, abs(np.linalg.eigvals(M_hat)).max()) >= 1:
            return None
        G = np.hstack([self.sigma * self.B, self.L_xi])
        domains = []
        for f in CERTIFICATE_SHAPES:
            r = spectral_radius + f * (1 - spectral_radius)
            round_shape = sla.solve_discrete_lyapunov(M.T / r, np.eye(self.d_s))
            noise_shape = sla.solve_discrete_lyapunov(M / r, G @ G.T + 1e-9 * np.eye(self.d_s))
            for P_c in (round_shape, np.linalg.inv(noise_shape)):
                d = self._domain(P_c, M, M_hat)
                if d is not None:
                    domains.append(d)
        return min(domains, key=lambda d: d.s_max, default=None)

    def _domain(self, P_c: np.ndarray, M: np.ndarray, M_hat: np.ndarray) -> Optional[Domain]:
        """The invariant ellipsoid of shape P_c, or None if P_c contracts M or M̂ by no ρ < 1."""
        P_c = (P_c + P_c.T) / 2
        w, V = np.linalg.eigh(P_c)
        if w.min() <= 0:
            return None
        root, root_inv = (V * np.sqrt(w)) @ V.T, (V / np.sqrt(w)) @ V.T
        rho = max(_norm2(root @ M @ root_inv), _norm2(root @ M_hat @ root_inv))
        if rho >= 1:
            return None
        u_max = unit_noise_bound("uniform", self.d_s)
        xi_max = _norm2(self.L_xi) * u_max
        vs_max = unit_noise_bound("uniform", self.d_a)
        e = self.sigma * vs_max * max(_norm2(root @ self.B), _norm2(root @ self.B_hat)) + _norm2(root @ self.L_xi) * u_max
        zeta_max = u_max * _norm2(root @ self.L_0)
        radius = max(e / (1 - rho), zeta_max)
        s_max = radius / math.sqrt(w.min())
        a_max = _norm2(self.K) * s_max + self.sigma * vs_max
        return Domain(P_c, radius, rho, s_max, a_max, xi_max, vs_max)

    def lipschitz(self, critic: Optional[QuadraticCritic] = None) -> Lipschitz:
        """The constants of ``Lipschitz`` for the current policy and ``critic`` (default Q^π).

        Global (linear maps): L_f̂ = ‖[Â B̂ L_ξ]‖₂, L_f̂_sa = max(‖Â‖, ‖B̂‖), L_π = ‖[K σI]‖₂,
        L_π_s = ‖K‖. On the domain: L_θ = sup ‖∂a/∂θ‖ = s_max (√(s_max² + ς_max²) with σ ∈ θ),
        L_r = sup ‖(2R_s s, 2R_a a)‖ = 2√((‖R_s‖s_max)² + (‖R_a‖a_max)²) and
        L_Q = sup ‖2Hx‖ = 2‖H‖√(s_max² + a_max²) (likewise L_Q̂ with Ĥ).
        """
        eye = self.L_xi
        glob = dict(
            L_f=_norm2(np.hstack([self.A, self.B, eye])), L_f_sa=max(_norm2(self.A), _norm2(self.B)),
            L_fhat=_norm2(np.hstack([self.A_hat, self.B_hat, eye])),
            L_fhat_sa=max(_norm2(self.A_hat), _norm2(self.B_hat)),
            L_pi=_norm2(np.hstack([self.K, self.sigma * np.eye(self.d_a)])), L_pi_s=_norm2(self.K))
        if self.domain is None:
            return Lipschitz(L_r=math.inf, L_theta=math.inf, L_Q=math.inf, L_Qhat=math.inf, **glob)
        d = self.domain
        x_max = math.hypot(d.s_max, d.a_max)
        learn_sigma = isinstance(self.policy.sigma, torch.nn.Parameter)
        critic = self.critic if critic is None else critic
        return Lipschitz(
            L_r=2 * math.hypot(_norm2(self.Rs) * d.s_max, _norm2(self.Ra) * d.a_max),
            L_theta=math.hypot(d.s_max, d.varsigma_max) if learn_sigma else d.s_max,
            L_Q=2 * _norm2(self.q_form()[0]) * x_max,
            L_Qhat=2 * _norm2(critic.H.numpy()) * x_max, **glob)

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def with_errors(cls, A, B, K, model_error: float = 0.0, critic_error: float = 0.0, **kwargs) -> "LQR":
        """The LQR with model Â = A + ``model_error`` (every entry) and critic Q̂ = Q^π with its quadratic
        form perturbed by ``critic_error`` (``critic_with_error``, seed 0); an unstable instance has no
        Q^π, so its critic is left as it is (None)."""
        p = cls(A, B, K, A_hat=np.asarray(A, float) + model_error, **kwargs)
        if critic_error and p.critic is not None:
            p.critic = p.critic_with_error(critic_error, seed=0)
        return p

    @classmethod
    def random(cls, seed: int, d_s: int = 4, d_a: int = 2, model_error: float = 0.0,
               gain_error: float = 0.1, **kwargs) -> "LQR":
        """A random instance: A with spectral norm 0.9, B with norm 0.5, K the discounted
        LQR-optimal gain plus a perturbation of norm ``gain_error``, and (Â, B̂) = (A, B) plus
        perturbations of norm ``model_error`` each (so ε_f = 2 · model_error)."""
        rng = np.random.default_rng(seed)
        gamma = kwargs.get("gamma", 0.9)

        def with_norm(shape, norm):
            X = rng.standard_normal(shape)
            return norm * X / _norm2(X)

        A, B = with_norm((d_s, d_s), 0.9), with_norm((d_s, d_a), 0.5)
        Rs, Ra = np.eye(d_s), np.eye(d_a)
        sq = math.sqrt(gamma)
        P = sla.solve_discrete_are(sq * A, sq * B, Rs, Ra)
        K = -np.linalg.solve(Ra + gamma * B.T @ P @ B, gamma * B.T @ P @ A) + with_norm((d_a, d_s), gain_error)
        return cls(A, B, K, A_hat=A + with_norm((d_s, d_s), model_error),
                   B_hat=B + with_norm((d_s, d_a), model_error), **kwargs)
