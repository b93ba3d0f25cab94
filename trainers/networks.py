"""MLPs with the spectral-normalization switch of Appendix B.1, and the policies.

SN divides a layer's weight by its largest singular value (one power iteration per forward in
training mode), so with 1-Lipschitz ReLUs an all-SN MLP is 1-Lipschitz (B.1). The policy has SN on
every layer, the dynamics model on every layer but the last (see ``models.py``).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int, sn: bool = False, sn_last: bool = True) -> nn.Sequential:
    """``layers`` Linear layers with ReLU between them; with ``sn``, SN on each layer (the last one
    only if ``sn_last``)."""
    dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
    mods: list[nn.Module] = []
    for i in range(layers):
        lin = nn.Linear(dims[i], dims[i + 1])
        last = i == layers - 1
        if sn and (sn_last or not last):
            lin = spectral_norm(lin)
        mods.append(lin)
        if not last:
            mods.append(nn.ReLU(inplace=True))  # saves an allocation per layer (official mlp does too)
    return nn.Sequential(*mods)


def sn_weights(module: nn.Module) -> list[Tensor]:
    """The effective (normalised) weights of every spectral-normalised layer of ``module``."""
    return [m.weight for m in module.modules()
            if isinstance(m, nn.Linear) and hasattr(m, "parametrizations") and "weight" in m.parametrizations]


class GaussianPolicy(nn.Module):
    """π_θ(s, ς) = tanh(μ_θ(s) + σ_θ(s) ς), ς ~ N(0, I): the reparameterised stochastic policy of
    Section 3.1, squashed to the action box [-1, 1] (SAC)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, layers: int, sn: bool,
                 log_std_bounds: tuple = (-5.0, 2.0)):
        super().__init__()
        self.act_dim = act_dim
        self.trunk = mlp(obs_dim, hidden, 2 * act_dim, layers, sn)
        self.log_std_min, self.log_std_max = log_std_bounds

    def mean_log_std(self, s: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_std = self.trunk(s).chunk(2, dim=-1)
        # tanh keeps log σ in its bounds smoothly (official Actor), so π stays Lipschitz in s
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (torch.tanh(log_std) + 1)
        return mu, log_std

    def forward(self, s: Tensor, varsigma: Tensor) -> tuple[Tensor, Tensor]:
        """(a, log π(a|s)) for the given noise ς."""
        mu, log_std = self.mean_log_std(s)
        u = mu + log_std.exp() * varsigma
        gauss = -0.5 * varsigma.pow(2) - log_std - 0.5 * math.log(2 * math.pi)
        # log|d tanh(u)/du| = 2 (log 2 - u - softplus(-2u)), stable for large |u|
        squash = 2 * (math.log(2) - u - nn.functional.softplus(-2 * u))
        return torch.tanh(u), (gauss - squash).sum(-1)

    def act(self, s: Tensor, deterministic: bool) -> Tensor:
        mu, log_std = self.mean_log_std(s)
        return torch.tanh(mu if deterministic else mu + log_std.exp() * torch.randn_like(mu))

    def infer_varsigma(self, s: Tensor, a: Tensor) -> Tensor:
        """ς with π_θ(s, ς) = a, eq. (4.3): invert the squash and the affine map."""
        mu, log_std = self.mean_log_std(s)
        u = torch.atanh(a.clamp(-1 + 1e-6, 1 - 1e-6))
        return (u - mu) * torch.exp(-log_std)


class DeterministicPolicy(nn.Module):
    """a = tanh(μ_θ(s)) (DDPG); the noise argument is ignored so the shared estimator applies."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, layers: int, sn: bool):
        super().__init__()
        self.act_dim = act_dim
        self.trunk = mlp(obs_dim, hidden, act_dim, layers, sn)

    def forward(self, s: Tensor, varsigma: Tensor) -> tuple[Tensor, None]:
        return torch.tanh(self.trunk(s)), None

    def act(self, s: Tensor, deterministic: bool) -> Tensor:
        return torch.tanh(self.trunk(s))


class QNet(nn.Module):
    """Q_ω(s, a); ``twin`` keeps two heads and returns their minimum (clipped double Q, SAC)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, layers: int, twin: bool):
        super().__init__()
        self.heads = nn.ModuleList(mlp(obs_dim + act_dim, hidden, 1, layers) for _ in range(2 if twin else 1))

    def all(self, s: Tensor, a: Tensor) -> list[Tensor]:
        x = torch.cat([s, a], dim=-1)
        return [q(x).squeeze(-1) for q in self.heads]

    def forward(self, s: Tensor, a: Tensor) -> Tensor:
        qs = self.all(s, a)
        return qs[0] if len(qs) == 1 else torch.minimum(qs[0], qs[1])
