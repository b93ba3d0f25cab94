"""Linear-Gaussian dynamics with a bounded-gradient reward: the exact RP-DP variance on an expanding
closed loop whose Lipschitz constants are all below 1.

    s' = A s + B a + c ξ,   a = π_θ(s, ς) = K s + θ + σ ς,   r(s, a) = cos s,   Q̂(s, a) = cos(s)/(1 − γ),

scalar, ξ, ς ~ N(0, 1), s_0 ~ N(m_0, z²), θ the action offset. The constants of Assumption A.2 are exact
on all of ℝ: L_f = ‖[A B c]‖ (joint in s, a, ξ), L_π = ‖[K σ]‖ (joint in s, ς), L_θ = sup |∂π/∂θ| = 1,
L_r = 1, L_Q̂ = 1/(1 − γ). The closed loop A + BK can exceed 1 while L_f, L_π < 1 (erratum E1: only
ρ = L_f √(1 + L_π²) bounds it), and r is 1-Lipschitz and bounded, so the states may grow without the
reward's gradient growing.

With the exact model, RP-DP's per-sample gradient of (4.1) is ĝ = −Σ_{i≤h} w_i D_i sin ŝ_i, with
w_i = γ^i (i < h), w_h = γ^h/(1 − γ), and D_i = dŝ_i/dθ deterministic (D_0 = 0, D_{i+1} = (A + BK) D_i + B).
The ŝ_i are jointly Gaussian, so E sin ŝ_i and E sin ŝ_i sin ŝ_k, hence v_t = Var ĝ, are closed forms.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CosineLinear:
    A: float
    B: float
    K: float
    sigma: float
    c: float
    gamma: float
    theta: float = 0.0
    m0: float = 0.0
    z: float = 0.5

    @property
    def closed_loop(self) -> float:
        return self.A + self.B * self.K

    def lipschitz(self) -> dict[str, float]:
        """The constants of Assumption A.2, exact (module docstring)."""
        return {"L_f": math.hypot(self.A, self.B, self.c), "L_pi": math.hypot(self.K, self.sigma),
                "L_theta": 1.0, "L_r": 1.0, "L_Qhat": 1 / (1 - self.gamma)}

    def weights(self, h: int) -> np.ndarray:
        """u_i = w_i D_i, i = 0..h, so that ĝ = −Σ_i u_i sin ŝ_i."""
        D = np.zeros(h + 1)
        for i in range(h):
            D[i + 1] = self.closed_loop * D[i] + self.B
        w = self.gamma ** np.arange(h + 1, dtype=float)
        w[h] /= 1 - self.gamma
        return w * D

    def moments(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Means μ_i and covariance C_ik of ŝ_0..ŝ_h (C_ik = a^{k−i} Var ŝ_i for i ≤ k, a = A + BK)."""
        a, q = self.closed_loop, (self.B * self.sigma) ** 2 + self.c ** 2
        mu, var = np.empty(h + 1), np.empty(h + 1)
        mu[0], var[0] = self.m0, self.z ** 2
        for i in range(h):
            mu[i + 1] = a * mu[i] + self.B * self.theta
            var[i + 1] = a * a * var[i] + q
        i, k = np.meshgrid(np.arange(h + 1), np.arange(h + 1), indexing="ij")
        lo, hi = np.minimum(i, k), np.maximum(i, k)
        with np.errstate(over="ignore", invalid="ignore"):
            cov = np.where(lo == hi, var[lo], a ** (hi - lo).astype(float) * var[lo])
        return mu, cov

    def variance(self, h: int) -> float:
        """v_t(h) = Var ĝ for one sample (N = 1), exact:
        Σ_ik u_i u_k Cov(sin ŝ_i, sin ŝ_k), with E sin X = sin μ e^{−V/2} and
        E sin X sin Y = ½[cos(μ_X − μ_Y) e^{−Var(X−Y)/2} − cos(μ_X + μ_Y) e^{−Var(X+Y)/2}]."""
        u = self.weights(h)
        mu, cov = self.moments(h)
        var = np.diag(cov)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            d_minus = np.maximum(var[:, None] + var[None, :] - 2 * cov, 0.0)
            d_plus = var[:, None] + var[None, :] + 2 * cov
            e_ss = 0.5 * (np.cos(mu[:, None] - mu[None, :]) * np.exp(-d_minus / 2)
                          - np.cos(mu[:, None] + mu[None, :]) * np.exp(-d_plus / 2))
            e_s = np.sin(mu) * np.exp(-var / 2)
        covsin = np.nan_to_num(e_ss - np.outer(e_s, e_s))
        return float(u @ covsin @ u)
