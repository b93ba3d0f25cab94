"""DDPG: the h = 0 estimator with a deterministic policy a = μ_θ(s) and a target actor.

Per environment step: the critic's TD(0) step towards r + γ Q'(s', μ'(s')), the actor's ascent on
Q(s, μ_θ(s)) ((4.1) at h = 0, through the shared estimator), then both targets follow. Acting adds
Gaussian noise of std ``ddpg_noise``. The command line's defaults for DDPG are Tianshou's
(``config.ALGO_DEFAULTS``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils import parametrize

from trainers import estimators
from trainers.agents import Agent, frozen, grad_step, soft_update, target_copy
from trainers.buffer import ReplayBuffer
from trainers.config import Config
from trainers.networks import DeterministicPolicy, QNet


class DDPG(Agent):
    """Deterministic tanh policy and its target, one critic head and its target."""

    def __init__(self, cfg: Config, obs_dim: int, act_dim: int):
        super().__init__(cfg, obs_dim, act_dim)
        self.policy = DeterministicPolicy(obs_dim, act_dim, cfg.policy_hidden, cfg.policy_layers, cfg.sn,
                                          self.obs_norm, cfg.sn_policy == "all")
        self.policy_target = target_copy(self.policy, self.obs_norm)
        self.critic = QNet(obs_dim, act_dim, cfg.critic_hidden, cfg.critic_layers, False, self.obs_norm)  # one head
        self.critic_target = target_copy(self.critic, self.obs_norm)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.actor_lr, fused=True)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, fused=True)

    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        with self.acting():
            a = self.policy.act(torch.as_tensor(obs, dtype=torch.float32)[None], deterministic=True)[0]
        if explore:
            a = (a + self.cfg.ddpg_noise * torch.randn_like(a)).clamp(-1.0, 1.0)
        return a.numpy().astype(np.float64)

    def update(self, buffer: ReplayBuffer, rng: np.random.Generator, step: int) -> dict[str, Tensor]:
        self.sync_obs_norm(buffer)
        batch = buffer.sample(self.cfg.batch_size, rng)
        out = self.update_critic(batch)
        out.update(self.update_policy(batch))
        soft_update(self.critic_target, self.critic, self.cfg.tau)
        soft_update(self.policy_target, self.policy, self.cfg.tau)
        return out

    def update_critic(self, b: dict[str, Tensor]) -> dict[str, Tensor]:
        with torch.no_grad():
            a_next, _ = self.policy_target(b["next_obs"], None)
            v_next = self.critic_target(b["next_obs"], a_next)
        return self.td_step(b, v_next)

    def update_policy(self, b: dict[str, Tensor]) -> dict[str, Tensor]:
        n = b["obs"].shape[0]
        noise = estimators.Noise(torch.zeros(1, n, self.act_dim), torch.zeros(0, n, self.obs_dim))  # μ ignores it
        with parametrize.cached(), frozen(self.critic):
            loss = -estimators.rp_objective(self.policy, None, None, self.critic, b["obs"], noise, 0,
                                            self.cfg.gamma, self.alpha, **self.termination())
            norm = grad_step(self.policy_opt, loss)
        return {"actor_loss": loss.detach(), "actor_grad_norm": norm}

    def parts(self) -> dict:
        return {"obs_norm": self.obs_norm, "policy": self.policy, "critic": self.critic,
                "critic_target": self.critic_target, "policy_target": self.policy_target,
                "policy_opt": self.policy_opt, "critic_opt": self.critic_opt}
