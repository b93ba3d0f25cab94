"""What the two toy MDPs share: bounded or Gaussian unit noise, the linear-Gaussian and neural
policies, and ``ToyMDP``, the interface ``verify/measure.py`` and the estimators work on.

Values are unnormalised and the visitation ν_π is normalised (docs/conventions.md). Everything is
float64.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor, nn

from toy_mdps.noise import Noise

DTYPE = torch.float64
SQRT3 = math.sqrt(3.0)


def unit_noise(kind: str, shape: Sequence[int], generator: torch.Generator) -> Tensor:
    """Zero-mean noise with identity covariance: "uniform" on [−√3, √3] per coordinate (bounded,
    which the invariant-domain certificates need) or "gaussian" (closed-form densities)."""
    if kind == "uniform":
        return (2.0 * torch.rand(*shape, generator=generator, dtype=DTYPE) - 1.0) * SQRT3
    if kind == "gaussian":
        return torch.randn(*shape, generator=generator, dtype=DTYPE)
    raise ValueError(f"unknown noise kind {kind!r}")


def unit_noise_bound(kind: str, dim: int) -> float:
    """sup ‖u‖ over the support of ``unit_noise(kind, (dim,))``: √(3 dim) or ∞."""
    return SQRT3 * math.sqrt(dim) if kind == "uniform" else math.inf


def unit_noise_logpdf(kind: str, u: Tensor) -> Tensor:
    """log density of the unit noise u (on its support), summed over the last axis."""
    d = u.shape[-1]
    if kind == "uniform":
        return torch.full(u.shape[:-1], -d * math.log(2 * SQRT3), dtype=u.dtype)
    return -0.5 * u.pow(2).sum(-1) - 0.5 * d * math.log(2 * math.pi)


class LinearPolicy(nn.Module):
    """π_θ(s, ς) = K s + σ ς with θ = K (parameter ``K.weight``, shape d_a × d_s), and σ too when
    ``learn_sigma``. ς is unit noise of ``noise_kind``."""

    def __init__(self, K: Tensor, sigma: float, noise_kind: str, learn_sigma: bool = False):
        super().__init__()
        K = torch.as_tensor(K, dtype=DTYPE)
        self.K = nn.Linear(K.shape[1], K.shape[0], bias=False, dtype=DTYPE)
        with torch.no_grad():
            self.K.weight.copy_(K)
        sig = torch.tensor(float(sigma), dtype=DTYPE)
        if learn_sigma:
            self.sigma = nn.Parameter(sig)
        else:
            self.register_buffer("sigma", sig)
        self.noise_kind = noise_kind

    def forward(self, s: Tensor, varsigma: Tensor):
        a = self.K(s) + self.sigma * varsigma
        logp = unit_noise_logpdf(self.noise_kind, varsigma) - varsigma.shape[-1] * torch.log(self.sigma)
        return a, logp

    def infer_varsigma(self, s: Tensor, a: Tensor) -> Tensor:
        """ς with π(s, ς) = a, for RP-DR (4.3)–(4.5)."""
        return (a - self.K(s)) / self.sigma


class NeuralPolicy(nn.Module):
    """π_θ(s, ς) = μ_θ(s) + σ ς with μ_θ a tanh MLP (θ = all layer weights and biases)."""

    def __init__(self, d_s: int, d_a: int, hidden: Sequence[int], sigma: float, noise_kind: str,
                 generator: torch.Generator):
        super().__init__()
        dims = [d_s, *hidden, d_a]
        layers: list[nn.Module] = []
        for i in range(len(dims) - 1):
            lin = nn.Linear(dims[i], dims[i + 1], dtype=DTYPE)
            with torch.no_grad():
                bound = 1.0 / math.sqrt(dims[i])
                lin.weight.copy_((2 * torch.rand(lin.weight.shape, generator=generator, dtype=DTYPE) - 1) * bound)
                lin.bias.copy_((2 * torch.rand(lin.bias.shape, generator=generator, dtype=DTYPE) - 1) * bound)
            layers.append(lin)
            if i < len(dims) - 2:
                layers.append(nn.Tanh())
        self.mean = nn.Sequential(*layers)
        self.register_buffer("sigma", torch.tensor(float(sigma), dtype=DTYPE))
        self.noise_kind = noise_kind

    def forward(self, s: Tensor, varsigma: Tensor):
        a = self.mean(s) + self.sigma * varsigma
        logp = unit_noise_logpdf(self.noise_kind, varsigma) - varsigma.shape[-1] * torch.log(self.sigma)
        return a, logp

    def infer_varsigma(self, s: Tensor, a: Tensor) -> Tensor:
        """ς with π(s, ς) = a, for RP-DR (4.3)–(4.5)."""
        return (a - self.mean(s)) / self.sigma

    def lipschitz_s(self) -> float:
        """Global Lipschitz constant of μ_θ in s: Π‖W_i‖₂ (tanh is 1-Lipschitz, Appendix B.1)."""
        return math.prod(torch.linalg.matrix_norm(m.weight.detach(), 2).item()
                         for m in self.mean if isinstance(m, nn.Linear))


class ToyMDP:
    """The interface of a toy MDP with known truth, shared by ``lqr.LQR`` and ``chaotic.SineMDP``.

    Subclasses set ``gamma``, ``d_s``, ``d_a``, ``noise_kind``, ``policy`` (an nn.Module),
    ``true_model(s, a, xi)`` (f), ``model`` (the stand-in f̂), ``critic`` (the stand-in Q̂, or None)
    and implement ``reward(s, a)`` and ``sample_zeta(n, generator)``; both models provide
    ``infer_xi(s, a, s_next)`` and the policy ``infer_varsigma(s, a)`` (RP-DR). The toy's ∇J is
    ``true_grad()``, flattened in the policy's ``named_parameters()`` order.
    """

    gamma: float
    d_s: int
    d_a: int
    noise_kind: str
    policy: nn.Module
    true_model: Callable
    model: Callable
    critic: Optional[Callable]

    def reward(self, s: Tensor, a: Tensor) -> Tensor:
        raise NotImplementedError

    def sample_zeta(self, n: int, generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    def sample_noise(self, horizon: int, n: int, generator: torch.Generator) -> Noise:
        """Unit policy noise ς (H + 1, N, d_a) and model noise ξ (H, N, d_s) of ``noise_kind``."""
        return Noise(unit_noise(self.noise_kind, (horizon + 1, n, self.d_a), generator),
                     unit_noise(self.noise_kind, (horizon, n, self.d_s), generator))

    @torch.no_grad()
    def rollout(self, s0: Tensor, noise: Noise, model: Optional[Callable] = None) -> tuple[Tensor, Tensor]:
        """States (H + 1, N, d_s) and actions (H + 1, N, d_a) of π under ``model`` (default: the
        true f) with the given noise."""
        model = self.true_model if model is None else model
        s, states, actions = s0, [], []
        for i in range(noise.horizon + 1):
            a, _ = self.policy(s, noise.varsigma[i])
            states.append(s)
            actions.append(a)
            if i < noise.horizon:
                s = model(s, a, noise.xi[i])
        return torch.stack(states), torch.stack(actions)

    @torch.no_grad()
    def sample_nu(self, n: int, generator: torch.Generator) -> Tensor:
        """n exact draws from ν_π(s) = (1 − γ) Σ_t γ^t P(s_t = s), s_0 ∼ ζ: draw t ∼ Geometric
        with P(t) = (1 − γ)γ^t, then run the true MDP for t steps (no truncation). Samples are
        sorted by t so that step i only moves the ≈ nγ^i samples still running."""
        u = torch.rand(n, generator=generator, dtype=DTYPE)
        t = torch.floor(torch.log(u) / math.log(self.gamma)).long()
        t, order = torch.sort(t, descending=True)
        s = self.sample_zeta(n, generator)
        for i in range(int(t[0]) if n else 0):
            k = int((t > i).sum())
            a, _ = self.policy(s[:k], unit_noise(self.noise_kind, (k, self.d_a), generator))
            s = torch.cat([self.true_model(s[:k], a, unit_noise(self.noise_kind, (k, self.d_s), generator)), s[k:]])
        out = torch.empty_like(s)
        out[order] = s
        return out

    def state_action_pairs(self, h: int, n: int, generator: torch.Generator,
                           hat_model: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Draws for ε_f (4.7) and ε_v (4.8): ``(s, a, s_hat, a_hat)`` of shape (h + 1, n, ·).

        (s_i, a_i) ∼ P(s_i, a_i): s_0 ∼ ν, the true f. (ŝ_i, â_i) start from the *same* s_0 with
        the *same* noise and follow f̂ if ``hat_model`` else f (then they equal (s_i, a_i)). This is
        the coupled reading; the independent reading pairs them with a permutation of n.
        """
        s0 = self.sample_nu(n, generator)
        noise = self.sample_noise(h, n, generator)
        s, a = self.rollout(s0, noise)
        if not hat_model:
            return s, a, s, a
        s_hat, a_hat = self.rollout(s0, noise, self.model)
        return s, a, s_hat, a_hat
