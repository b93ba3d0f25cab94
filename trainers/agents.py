"""What the four trainers of Section 7 share. Each algorithm is one file in ``trainers/algos/``:

- ``rp_dp.py``: RP-DP (4.2), MAAC with entropy regularisation; at h = 0 it is RP(0) (Section 3.1).
- ``rp_dr.py``: RP-DR (4.5), on-policy SVG(h): RP-DP with the noise inferred from real windows.
- ``ddpg.py``: DDPG, the h = 0 estimator with a deterministic policy and a target actor.

``trainers.algos.make_agent(cfg, obs_dim, act_dim)`` builds ``cfg.algo``'s agent. Every policy
objective is ``trainers.estimators.rp_objective``, the mean of the h-step value expansion (4.1),
with the noise that defines the estimator. Every network reads observations through one shared
``ObsNorm`` whose statistics follow the replay buffer (official ``normalize_obs``). Each ``update``
returns its losses and gradient norms as tensors; the caller checks them for NaN/inf.
docs/trainers.md maps every choice to the paper and the official code.
"""
from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import get_total_norm, parametrize

from trainers.buffer import ReplayBuffer
from trainers.config import Config
from trainers.networks import ObsNorm
from trainers.termination import TERMINAL


@contextlib.contextmanager
def frozen(*modules: nn.Module | None):
    """Backpropagate through ``modules`` to their inputs only: the policy step needs no weight
    gradients of the critic or the model, and computing them would cost a third of the backward."""
    params = [p for m in modules if m is not None for p in m.parameters()]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def grad_step(opt: torch.optim.Optimizer, loss: Tensor, clip: float | None = None) -> Tensor:
    """zero_grad, backward, optional clipping, step; returns the gradient norm (for the NaN check)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
    norm = (torch.nn.utils.clip_grad_norm_(params, clip) if clip is not None
            else get_total_norm([p.grad for p in params]))
    opt.step()
    return norm.detach()


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)


def target_copy(net: nn.Module, norm: ObsNorm) -> nn.Module:
    """A slowly following copy of ``net`` (``soft_update``) that reads the live shared normaliser."""
    target = copy.deepcopy(net)
    target.norm = norm
    return target


class Agent:
    """The observation normaliser, acting, the critic's TD(0) step and checkpointing. A subclass
    builds ``policy``, ``critic``, ``critic_target`` (and ``model``), names what a checkpoint holds
    (``parts``) and defines ``update``."""

    alpha = 0.0  # entropy weight of (4.1)'s MAAC variant; RP-DP and RP-DR learn theirs
    model = None  # the learned model f̂, r̂ and termination classifier (RP-DP and RP-DR at h > 0)

    def __init__(self, cfg: Config, obs_dim: int, act_dim: int):
        self.cfg, self.obs_dim, self.act_dim = cfg, obs_dim, act_dim
        self.terminal = TERMINAL[cfg.env]  # the env's rule, for cfg.termination == "rule"
        self.obs_norm = ObsNorm(obs_dim, enabled=cfg.obs_norm)

    def update(self, buffer: ReplayBuffer, rng: np.random.Generator, step: int) -> dict[str, Tensor]:
        """One update per environment step ``step``: losses and gradient norms."""
        raise NotImplementedError

    def parts(self) -> dict:
        """Every module and optimiser a checkpoint holds, by name."""
        raise NotImplementedError

    # --- acting ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def acting(self):
        """Eval-mode policy (no SN power iteration) whose SN weights are computed once for every
        action taken inside, e.g. a whole evaluation, instead of once per action."""
        was_training = self.policy.training
        self.policy.eval()
        try:
            with torch.no_grad(), parametrize.cached():
                yield
        finally:
            self.policy.train(was_training)

    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        with self.acting():
            a = self.policy.act(torch.as_tensor(obs, dtype=torch.float32)[None], deterministic=not explore)[0]
        return a.numpy().astype(np.float64)

    # --- shared pieces of an update --------------------------------------------------------------
    def sync_obs_norm(self, buffer: ReplayBuffer) -> None:
        """Fold the observations added to ``buffer`` since the last call into the running statistics."""
        seen = int(self.obs_norm.count)
        if self.cfg.obs_norm and buffer.size > seen:
            self.obs_norm.update(torch.from_numpy(buffer.data["obs"][seen:buffer.size]))

    def termination(self) -> dict:
        """The estimator's termination arguments for ``cfg.termination``."""
        if self.cfg.termination == "learned" and self.model is not None:
            return {"done_prob": self.model.done_prob}
        if self.cfg.termination == "rule":
            return {"terminal": self.terminal}
        return {}

    def td_step(self, b: dict[str, Tensor], v_next: Tensor) -> dict[str, Tensor]:
        """One step on Σ_heads (Q(s, a) − r − γ (1 − terminated) v_next)², v_next without gradient."""
        target = b["rew"] + self.cfg.gamma * (1.0 - b["terminated"]) * v_next
        loss = sum(F.mse_loss(q, target) for q in self.critic.all(b["obs"], b["act"]))
        norm = grad_step(self.critic_opt, loss)
        return {"critic_loss": loss.detach(), "critic_grad_norm": norm}

    # --- checkpointing ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {k: m.state_dict() for k, m in self.parts().items()}

    def load_state_dict(self, d: dict) -> None:
        for k, m in self.parts().items():
            m.load_state_dict(d[k])
