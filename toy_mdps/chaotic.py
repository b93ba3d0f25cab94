"""An expansive toy MDP with exactly known Lipschitz constants: s' = λ sin(s) + b a + c ξ.

Scalar state and action, a = π_θ(s, ς) = k s + σ ς (θ = k), r(s, a) = −(s² + ρ a²), bounded
uniform noise (``toy_mdps.base.unit_noise``), s_0 = z u. The transition's joint Lipschitz constant
in (s, a, ξ) is exactly L_f = √(λ² + b² + c²) (attained at s = 0), and ‖∂f/∂s‖ ≤ |λ|: choose λ to
put either below, at or above 1 (``SineMDP.with_lipschitz``). Because |sin| ≤ 1 the state stays in
the certified interval |s| ≤ R even when the dynamics expand, as long as |b k| < 1.

Ground truth is estimated, not closed form: ∇J by central finite differences with common random
numbers (``grad_J``), the Lyapunov exponent of the closed loop by an ergodic average
(``lyapunov_exponent``), each with its error stated. The model stand-in is the same family with
(λ̂, b̂); the critic stand-in is the myopic Q̂(s, a) = r(s, a)/(1 − γ), whose ε_v is not computed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Optional

import torch
from torch import Tensor

from toy_mdps.base import DTYPE, SQRT3, LinearPolicy, ToyMDP, unit_noise
from toy_mdps.lqr import QuadraticCritic


class SineModel:
    """f(s, a, ξ) = λ sin(s) + b a + c ξ on (N, 1) tensors; ``infer_xi`` inverts it in ξ."""

    def __init__(self, lam: float, b: float, c: float):
        self.lam, self.b, self.c = float(lam), float(b), float(c)

    def __call__(self, s: Tensor, a: Tensor, xi: Tensor) -> Tensor:
        return self.lam * torch.sin(s) + self.b * a + self.c * xi

    def infer_xi(self, s: Tensor, a: Tensor, s_next: Tensor) -> Tensor:
        """ξ with f(s, a, ξ) = s_next, eqs. (4.3)–(4.5)."""
        return (s_next - self.lam * torch.sin(s) - self.b * a) / self.c

    def jacobians(self, s: Tensor) -> tuple[Tensor, Tensor]:
        """(∂f/∂s, ∂f/∂a) = (λ cos s, b) at each state."""
        return self.lam * torch.cos(s), torch.full_like(s, self.b)


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate with its standard error and a deterministic error bound (e.g. the
    horizon truncation), so that |truth − value| ≤ z·stderr + bias_bound at normal level z."""

    value: Tensor
    stderr: Tensor
    bias_bound: float

    def half_width(self, level: float = 0.95) -> float:
        z = NormalDist().inv_cdf(0.5 + level / 2)
        return float((z * self.stderr).norm()) + self.bias_bound


class SineMDP(ToyMDP):
    """The sine family with the current policy (k, σ) and model stand-in (λ̂, b̂)."""

    def __init__(self, lam: float, k: float = -0.3, b: float = 0.5, c: float = 0.1, sigma: float = 0.1,
                 z: float = 0.5, rho: float = 0.1, gamma: float = 0.9, lam_hat: Optional[float] = None,
                 b_hat: Optional[float] = None):
        self.d_s = self.d_a = 1
        self.gamma, self.z, self.rho, self.noise_kind = float(gamma), float(z), float(rho), "uniform"
        self.true_model = SineModel(lam, b, c)
        self.model = SineModel(lam if lam_hat is None else lam_hat, b if b_hat is None else b_hat, c)
        self.policy = LinearPolicy(torch.tensor([[float(k)]]), sigma, "uniform")
        self.critic = QuadraticCritic(torch.diag(torch.tensor([1.0, rho], dtype=DTYPE)) / (1 - gamma), 0.0, 1)
        self._grad_cache: dict = {}
        if not self.radius < math.inf:
            raise ValueError("no invariant interval: need |b k| < 1 for the true and the model dynamics")

    @classmethod
    def with_lipschitz(cls, L: float, b: float = 0.5, c: float = 0.1, **kwargs) -> "SineMDP":
        """The instance whose transition has joint Lipschitz constant exactly L (needs L² > b² + c²)."""
        return cls(lam=math.sqrt(L ** 2 - b ** 2 - c ** 2), b=b, c=c, **kwargs)

    @property
    def k(self) -> float:
        return float(self.policy.K.weight.detach())

    @property
    def sigma(self) -> float:
        return float(self.policy.sigma)

    def reward(self, s: Tensor, a: Tensor) -> Tensor:
        """r(s, a) = −(s² + ρ a²)."""
        return -(s.pow(2).sum(-1) + self.rho * a.pow(2).sum(-1))

    def sample_zeta(self, n: int, generator: torch.Generator) -> Tensor:
        return self.z * unit_noise("uniform", (n, 1), generator)

    # -- certificate and Lipschitz constants -----------------------------------------------------
    @property
    def radius(self) -> float:
        """R with |s| ≤ R invariant for f and f̂: |s'| ≤ |λ| + |b|(|k|R + σ√3) + c√3 ≤ R, and
        R ≥ sup|s_0| = √3 z. ∞ when |b k| ≥ 1 for either model."""
        radii = [math.sqrt(3) * self.z]
        for f in (self.true_model, self.model):
            if abs(f.b * self.k) >= 1:
                return math.inf
            radii.append((abs(f.lam) + abs(f.b) * self.sigma * SQRT3 + f.c * SQRT3) / (1 - abs(f.b * self.k)))
        return max(radii)

    @property
    def a_max(self) -> float:
        return abs(self.k) * self.radius + self.sigma * SQRT3

    def lipschitz(self) -> dict:
        """Exact constants on the interval: L_f, L_f̂ = √(λ² + b² + c²) (joint in (s, a, ξ)),
        L_f_sa = max(|λ|, |b|) (the partials the proof uses), L_π = √(k² + σ²), L_π_s = |k|,
        L_θ = sup|∂a/∂k| = R, L_r = sup ‖(2s, 2ρa)‖ = 2√(R² + ρ²a_max²)."""
        f, fh = self.true_model, self.model
        return dict(L_f=math.sqrt(f.lam ** 2 + f.b ** 2 + f.c ** 2), L_f_sa=max(abs(f.lam), abs(f.b)),
                    L_fhat=math.sqrt(fh.lam ** 2 + fh.b ** 2 + fh.c ** 2), L_fhat_sa=max(abs(fh.lam), abs(fh.b)),
                    L_pi=math.hypot(self.k, self.sigma), L_pi_s=abs(self.k), L_theta=self.radius,
                    L_r=2 * math.hypot(self.radius, self.rho * self.a_max))

    # -- errors and ground truth ----------------------------------------------------------------
    def eps_f(self, h: int = 1, reading: str = "coupled", n: int = 20000, seed: int = 0) -> float:
        """ε_f of (4.7), max over i ∈ [h] of E‖∂s_i/∂s_{i−1} − ∂ŝ_i/∂ŝ_{i−1}‖ + |b − b̂|, by Monte
        Carlo. ``reading="coupled"``: both Jacobians at the same state s_{i−1} (the DP reading,
        P(ŝ) = P(s)); ``"independent"``: ŝ_{i−1} from f̂ rolled independently from ν."""
        g = torch.Generator().manual_seed(seed)
        s, _, s_hat, _ = self.state_action_pairs(h, n, g, hat_model=reading == "independent")
        if reading == "independent":
            s_hat = s_hat[:, torch.randperm(n, generator=g)]
        elif reading != "coupled":
            raise ValueError(f"unknown reading {reading!r}")
        js, ja = self.true_model.jacobians(s[:h])
        jhs, jha = self.model.jacobians(s_hat[:h])
        return float(((js - jhs).abs() + (ja - jha).abs()).mean((1, 2)).max())

    def truncation_horizon(self, tol: float = 1e-8) -> int:
        """T with γ^T r_max/(1 − γ) ≤ tol, r_max = R² + ρ a_max² (so |J − J_T| ≤ tol)."""
        r_max = self.radius ** 2 + self.rho * self.a_max ** 2
        return max(1, math.ceil(math.log(tol * (1 - self.gamma) / r_max) / math.log(self.gamma)))

    @torch.no_grad()
    def returns(self, k: float, noise_seed: int, n: int, horizon: int) -> Tensor:
        """Per-sample truncated returns Σ_{t<T} γ^t r_t under gain k, noise from ``noise_seed``."""
        g = torch.Generator().manual_seed(noise_seed)
        s = self.sample_zeta(n, g)
        total = torch.zeros(n, dtype=DTYPE)
        for t in range(horizon):
            a = k * s + self.sigma * unit_noise("uniform", (n, 1), g)
            total += self.gamma ** t * self.reward(s, a)
            s = self.true_model(s, a, unit_noise("uniform", (n, 1), g))
        return total

    def grad_J(self, n: int = 20000, eps: float = 1e-2, seed: int = 0, tol: float = 1e-8) -> Estimate:
        """dJ/dk by central differences with common random numbers: the same noise for k ± eps,
        so the per-sample difference quotients are bounded and, for smooth dynamics, small.
        Error: stderr of the mean quotient, plus the truncation bound 2 tol/(2 eps); the O(eps²)
        central-difference bias is not bounded (pick eps against the stderr)."""
        T = self.truncation_horizon(tol)
        q = (self.returns(self.k + eps, seed, n, T) - self.returns(self.k - eps, seed, n, T)) / (2 * eps)
        return Estimate(q.mean().reshape(1), (q.std() / math.sqrt(n)).reshape(1), tol / eps)

    def true_grad(self) -> Tensor:
        """∇J (flattened) from ``grad_J`` with its defaults, cached per policy gain."""
        key = (self.k, self.sigma)
        if key not in self._grad_cache:
            self._grad_cache[key] = self.grad_J()
        return self._grad_cache[key].value

    @property
    def true_grad_error(self) -> float:
        """Half-width at 95% of ``true_grad()``; ``verify.measure`` widens the bias bounds by it."""
        self.true_grad()
        return self._grad_cache[(self.k, self.sigma)].half_width(0.95)

    @torch.no_grad()
    def lyapunov_exponent(self, n: int = 200, steps: int = 2000, burn_in: int = 100, seed: int = 0,
                          model: bool = False) -> Estimate:
        """λ_L = lim (1/T) Σ_t log|∂s_{t+1}/∂s_t| of the closed loop, ∂s'/∂s = λ cos s + b k, as
        the mean over n trajectories of their time averages; stderr over trajectories. The
        O(1/steps) bias of the finite average is not bounded."""
        f = self.model if model else self.true_model
        g = torch.Generator().manual_seed(seed)
        s = self.sample_zeta(n, g)
        acc = torch.zeros(n, dtype=DTYPE)
        for t in range(burn_in + steps):
            if t >= burn_in:
                acc += torch.log((f.lam * torch.cos(s) + f.b * self.k).abs().squeeze(-1))
            a = self.k * s + self.sigma * unit_noise("uniform", (n, 1), g)
            s = f(s, a, unit_noise("uniform", (n, 1), g))
        per = acc / steps
        return Estimate(per.mean(), per.std() / math.sqrt(n), 0.0)
