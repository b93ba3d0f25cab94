"""The learned dynamics f̂_ψ, reward r̂ and termination classifier, and the model learners of
Appendix B.2.

f̂_ψ(s, a, ξ) = s + std ⊙ Δ_ψ(norm(s), a) + σ_ψ ⊙ ξ, ξ ~ N(0, I): a residual MLP mean (5 layers, SN
on all but the last, B.1) that works in normalised units (official: the model sees and predicts
normalised observations; ``norm`` is the shared ``ObsNorm``, identity when disabled) and a
state-independent noise scale. σ_ψ does not depend on (s, a), so the model's Lipschitz constant in
(s, a) is that of the mean, which SN bounds; and ξ can be inferred exactly from a real transition
for RP-DR (4.4). RP-DP unrolls the deterministic mean (ξ = 0, official) unless ``model_noise`` asks
for the learned noise. The reward is learned too (the official code does), since Hopper's and
Walker2d's forward reward uses the x-position, which the observation excludes; so is the
probability that a transition terminates (official ``done`` net), which the imagined rollout
differentiates through.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import jvp

from trainers.networks import ObsNorm, mlp


class DynamicsModel(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: int, layers: int, sn: bool,
                 reward_hidden: int, reward_layers: int, norm: ObsNorm | None = None):
        super().__init__()
        self.norm = norm if norm is not None else ObsNorm(obs_dim, enabled=False)
        self.delta = mlp(obs_dim + act_dim, hidden, obs_dim, layers, sn, sn_last=False)
        self.log_std = nn.Parameter(torch.full((obs_dim,), -3.0))
        self.reward_net = mlp(obs_dim + act_dim, reward_hidden, 1, reward_layers)
        self.done_net = mlp(obs_dim + act_dim, reward_hidden, 1, reward_layers)

    def mean(self, s: Tensor, a: Tensor) -> Tensor:
        return s + self.norm.scale * self.delta(torch.cat([self.norm(s), a], dim=-1))

    def unit(self, s: Tensor) -> Tensor:
        """A state difference in normalised units: the scale the model errors are measured in."""
        return s / self.norm.scale

    def forward(self, s: Tensor, a: Tensor, xi: Tensor) -> Tensor:
        """ŝ' = f̂(s, a, ξ)."""
        return self.mean(s, a) + self.log_std.exp() * xi

    def reward(self, s: Tensor, a: Tensor) -> Tensor:
        return self.reward_net(torch.cat([self.norm(s), a], dim=-1)).squeeze(-1)

    def done_logit(self, s: Tensor, a: Tensor) -> Tensor:
        return self.done_net(torch.cat([self.norm(s), a], dim=-1)).squeeze(-1)

    def done_prob(self, s: Tensor, a: Tensor) -> Tensor:
        """P(the transition from (s, a) terminates), the sigmoid of the classifier: differentiable."""
        return torch.sigmoid(self.done_logit(s, a))

    def infer_xi(self, s: Tensor, a: Tensor, s_next: Tensor) -> Tensor:
        """ξ with f̂(s, a, ξ) = s_next, eq. (4.4)."""
        return (s_next - self.mean(s, a)) * torch.exp(-self.log_std)


def noise_scale_loss(model: DynamicsModel, residual: Tensor) -> Tensor:
    """Gaussian NLL of the (detached) one-step residuals: fits σ_ψ without moving the mean."""
    r = residual.detach()
    return (0.5 * (r * torch.exp(-model.log_std)).pow(2) + model.log_std).sum(-1).mean()


def mse_loss(model: DynamicsModel, s: Tensor, a: Tensor, s_next: Tensor) -> tuple[Tensor, Tensor]:
    """Single-step prediction error E‖f̂_mean(s, a) − s'‖² (B.2, "single-step"), and the
    noise-scale NLL of the same residuals."""
    pred = model.mean(s, a)
    return F.mse_loss(model.unit(pred), model.unit(s_next)), noise_scale_loss(model, s_next - pred)


def h_step_loss(model: DynamicsModel, states: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
    """Multi-step prediction error along real action sequences (B.2, the paper's default).

    ``states`` (H+1, N, d_s), ``actions`` (H, N, d_a). The model is fed its own predictions, each
    detached before the next step (official ``detach_xt: true``): every step learns to correct the
    drift of the previous ones without backpropagating through time. Also returns the noise-scale
    NLL of the one-step residuals.
    """
    s, loss, nll = states[0], states.new_zeros(()), None
    for k in range(actions.shape[0]):
        pred = model.mean(s.detach(), actions[k])
        loss = loss + F.mse_loss(model.unit(pred), model.unit(states[k + 1]))
        if k == 0:
            nll = noise_scale_loss(model, states[1] - pred)
        s = pred
    return loss / actions.shape[0], nll


def directional_derivative_error(model: DynamicsModel, s: Tensor, a: Tensor, s_next: Tensor, k: int) -> Tensor:
    """Directional-derivative error of Li et al. (2021), B.2: for each transition i and its k nearest
    neighbours j in (s, a) (searched within the batch, not the whole buffer, to keep it cheap),
    E‖(s'_j − s'_i) − J_f̂(s_i, a_i)·(x_j − x_i)‖², with x = (s, a) and J·v from one jvp."""
    x = torch.cat([s, a], dim=-1)
    dist = torch.cdist(x, x)
    dist.fill_diagonal_(float("inf"))
    nbr = dist.topk(k, largest=False).indices  # (N, k)
    d_s = (s[nbr] - s[:, None]).reshape(-1, s.shape[-1])
    d_a = (a[nbr] - a[:, None]).reshape(-1, a.shape[-1])
    s_rep = s.repeat_interleave(k, 0)
    a_rep = a.repeat_interleave(k, 0)
    _, jv = jvp(model.mean, (s_rep, a_rep), (d_s, d_a))
    target = (s_next[nbr] - s_next[:, None]).reshape(-1, s.shape[-1])
    return F.mse_loss(model.unit(jv), model.unit(target))


def reward_loss(model: DynamicsModel, s: Tensor, a: Tensor, r: Tensor) -> Tensor:
    return F.mse_loss(model.reward(s, a), r)


def done_loss(model: DynamicsModel, s: Tensor, a: Tensor, terminated: Tensor) -> Tensor:
    """Binary cross-entropy of the termination classifier, positives weighted by
    #negatives / #positives in the batch (official ``update_done_step``): terminations are rare."""
    n_pos = terminated.sum()
    pos_weight = (terminated.numel() - n_pos) / n_pos if n_pos > 0 else torch.ones(())
    return F.binary_cross_entropy_with_logits(model.done_logit(s, a), terminated, pos_weight=pos_weight)
