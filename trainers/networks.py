"""MLPs with the spectral-normalization switch of Appendix B.1, observation normalisation, the
policies and the twin critic.

SN divides a layer's weight by its largest singular value (one power iteration per forward in
training mode), so with 1-Lipschitz ReLUs an all-SN MLP is 1-Lipschitz (B.1). Where SN goes is a
choice (``mlp``'s ``sn_first``/``sn_last``): the paper (B.1) puts it on every policy layer, the
official code (``utils.mlp``) on the policy's hidden-to-hidden layers only; the dynamics model has
it on every layer but the last in both (docs/trainers.md).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

MIN_STD, MAX_STD = 0.1, 10.0  # official replay_buffer.get_obs_stats


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int, sn: bool = False, sn_last: bool = True,
        sn_first: bool = True) -> nn.Sequential:
    """``layers`` Linear layers with ReLU between them, orthogonal weights and zero biases (official
    ``utils.weight_init``); with ``sn``, SN on each hidden-to-hidden layer, on the first one only if
    ``sn_first`` and on the last one only if ``sn_last``."""
    dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
    mods: list[nn.Module] = []
    for i in range(layers):
        lin = nn.Linear(dims[i], dims[i + 1])
        nn.init.orthogonal_(lin.weight)
        nn.init.zeros_(lin.bias)
        first, last = i == 0, i == layers - 1
        if sn and (sn_first or not first) and (sn_last or not last):
            lin = spectral_norm(lin)
        mods.append(lin)
        if not last:
            mods.append(nn.ReLU(inplace=True))  # saves an allocation per layer (official mlp does too)
    return nn.Sequential(*mods)


def sn_weights(module: nn.Module) -> list[Tensor]:
    """The effective (normalised) weights of every spectral-normalised layer of ``module``."""
    return [m.weight for m in module.modules()
            if isinstance(m, nn.Linear) and hasattr(m, "parametrizations") and "weight" in m.parametrizations]


class ObsNorm(nn.Module):
    """s ↦ (s − mean) / std with the running mean and std of every observation seen so far, std
    clipped to [0.1, 10] (official ``normalize_obs``). ``enabled=False`` keeps the identity.

    The statistics are buffers, so they travel with the checkpoint; ``update`` merges new rows
    (Chan et al.'s parallel Welford update, float64)."""

    def __init__(self, dim: int, enabled: bool = True):
        super().__init__()
        self.enabled = enabled
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("shift", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        if not self.enabled or x.shape[0] == 0:
            return
        x = x.double()
        n_b, mean_b = x.shape[0], x.mean(0)
        m2_b = (x - mean_b).pow(2).sum(0)
        n = self.count + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta.pow(2) * self.count * n_b / n
        self.count.copy_(n)
        self.shift.copy_(self.mean)
        std = (self.m2 / self.count).sqrt() if self.count > 1 else torch.ones_like(self.mean)
        self.scale.copy_(std.clamp(MIN_STD, MAX_STD))

    def forward(self, s: Tensor) -> Tensor:
        return (s - self.shift) / self.scale if self.enabled else s


class GaussianPolicy(nn.Module):
    """π_θ(s, ς) = tanh(μ_θ(s) + σ_θ(s) ς), ς ~ N(0, I): the reparameterised stochastic policy of
    Section 3.1, squashed to the action box [-1, 1] (SAC); s is normalised by ``norm`` first."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, layers: int, sn: bool,
                 log_std_bounds: tuple = (-5.0, 2.0), norm: ObsNorm | None = None, sn_outer: bool = False):
        super().__init__()
        self.act_dim = act_dim
        self.norm = norm if norm is not None else ObsNorm(obs_dim, enabled=False)
        self.trunk = mlp(obs_dim, hidden, 2 * act_dim, layers, sn, sn_last=sn_outer, sn_first=sn_outer)
        self.log_std_min, self.log_std_max = log_std_bounds

    def mean_log_std(self, s: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_std = self.trunk(self.norm(s)).chunk(2, dim=-1)
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

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, layers: int, sn: bool,
                 norm: ObsNorm | None = None, sn_outer: bool = False):
        super().__init__()
        self.act_dim = act_dim
        self.norm = norm if norm is not None else ObsNorm(obs_dim, enabled=False)
        self.trunk = mlp(obs_dim, hidden, act_dim, layers, sn, sn_last=sn_outer, sn_first=sn_outer)

    def forward(self, s: Tensor, varsigma: Tensor) -> tuple[Tensor, None]:
        return torch.tanh(self.trunk(self.norm(s))), None

    def act(self, s: Tensor, deterministic: bool) -> Tensor:
        return torch.tanh(self.trunk(self.norm(s)))


class QNet(nn.Module):
    """Q_ω(s, a); ``twin`` keeps two heads and returns their minimum (clipped double Q, SAC).

    The heads' weights are stacked, (heads, in, out) per layer, so both heads run as one batched
    matrix product per layer (``torch.baddbmm``) instead of one small product per head. Each head
    is initialised like ``mlp`` (orthogonal weights, zero biases)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, layers: int, twin: bool,
                 norm: ObsNorm | None = None):
        super().__init__()
        k = 2 if twin else 1
        self.norm = norm if norm is not None else ObsNorm(obs_dim, enabled=False)
        dims = [obs_dim + act_dim] + [hidden] * (layers - 1) + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            w = torch.empty(k, d_out, d_in)
            for j in range(k):
                nn.init.orthogonal_(w[j])
            self.weights.append(nn.Parameter(w.transpose(1, 2).contiguous()))  # (k, in, out)
            self.biases.append(nn.Parameter(torch.zeros(k, 1, d_out)))

    def all(self, s: Tensor, a: Tensor) -> Tensor:
        """Every head's Q, shape (heads, N)."""
        x = torch.cat([self.norm(s), a], dim=-1)
        x = x.unsqueeze(0).expand(self.weights[0].shape[0], *x.shape)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.relu(x)
        return x.squeeze(-1)

    def forward(self, s: Tensor, a: Tensor) -> Tensor:
        qs = self.all(s, a)
        return qs[0] if qs.shape[0] == 1 else torch.minimum(qs[0], qs[1])
