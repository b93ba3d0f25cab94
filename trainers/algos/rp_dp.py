"""RP-DP (4.2): MAAC with entropy regularisation; RP(0) (Section 3.1) is RP-DP at h = 0.

Per environment step, in the official order: the model (Appendix B.2), the soft critic, the reward
and termination nets, then the policy ascends the mean h-step value expansion (4.1) from buffer
states with fresh noise ς ~ N(0, I), unrolled through f̂ (deterministic, ξ = 0, unless
``model_noise``) to the critic tail, and the temperature α follows. Imagined termination is the
learned classifier by default (``cfg.termination``). h = 0 until ``model_warmup`` steps
(official: SAC updates while the model warms up).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils import parametrize

from trainers import estimators
from trainers import models as M
from trainers.agents import Agent, frozen, grad_step, soft_update, target_copy
from trainers.buffer import ReplayBuffer
from trainers.config import Config
from trainers.networks import GaussianPolicy, QNet


class RPDP(Agent):
    """Tanh-Gaussian policy, twin soft critic, learned temperature and (at h > 0) the learned model."""

    def __init__(self, cfg: Config, obs_dim: int, act_dim: int):
        super().__init__(cfg, obs_dim, act_dim)
        self.policy = GaussianPolicy(obs_dim, act_dim, cfg.policy_hidden, cfg.policy_layers, cfg.sn,
                                     cfg.log_std_bounds, self.obs_norm, cfg.sn_policy == "all")
        self.critic = QNet(obs_dim, act_dim, cfg.critic_hidden, cfg.critic_layers, True, self.obs_norm)  # twin
        self.critic_target = target_copy(self.critic, self.obs_norm)
        if cfg.uses_model:
            self.model = M.DynamicsModel(obs_dim, act_dim, cfg.model_hidden, cfg.model_layers, cfg.sn,
                                         cfg.reward_hidden, cfg.reward_layers, self.obs_norm)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.actor_lr, fused=True)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, fused=True)
        if self.model is not None:
            dyn = list(self.model.delta.parameters()) + [self.model.log_std]
            aux = list(self.model.reward_net.parameters()) + list(self.model.done_net.parameters())
            self.model_opt = torch.optim.Adam(dyn, lr=cfg.model_lr, fused=True)
            # reward and termination nets: own optimiser, not clipped (official rew_opt, done_opt)
            self.aux_opt = torch.optim.Adam(aux, lr=cfg.model_lr, fused=True)
        self.log_alpha = torch.tensor(float(np.log(cfg.init_alpha)), requires_grad=True)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_lr, fused=True)
        self.step = 0

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.detach().exp())

    def update(self, buffer: ReplayBuffer, rng: np.random.Generator, step: int) -> dict[str, Tensor]:
        cfg = self.cfg
        self.step = step  # the entropy target's schedule
        self.sync_obs_norm(buffer)
        out: dict[str, Tensor] = {}
        if self.model is not None:
            for _ in range(cfg.model_updates_per_step):
                out.update(self.update_model(buffer, rng))
        batch = buffer.sample(cfg.batch_size, rng)
        out.update(self.update_critic(batch))
        if self.model is not None:
            out.update(self.update_reward_done(batch))
        h = cfg.h if step >= cfg.model_warmup else 0
        out.update(self.update_policy(buffer, batch, rng, h))
        soft_update(self.critic_target, self.critic, cfg.tau)
        return out

    # --- model learning (Appendix B.2) ---------------------------------------------------------
    def update_model(self, buffer: ReplayBuffer, rng: np.random.Generator) -> dict[str, Tensor]:
        """One step on the dynamics loss of ``cfg.model_loss`` (plus σ_ψ's NLL if ``model_noise``),
        gradient clipped (official: the dynamics only)."""
        cfg, model = self.cfg, self.model
        self.sync_obs_norm(buffer)
        with parametrize.cached():  # one SN power iteration per update, not one per unroll step
            if cfg.model_loss == "h-step":
                states, actions, _, _ = buffer.sample_windows(cfg.batch_size, cfg.h, rng)
                dyn, nll = M.h_step_loss(model, states, actions)
            else:
                b = buffer.sample(cfg.batch_size, rng)
                dyn, nll = M.mse_loss(model, b["obs"], b["act"], b["next_obs"])
                if cfg.model_loss == "dde":
                    dyn = dyn + cfg.dde_weight * M.directional_derivative_error(
                        model, b["obs"], b["act"], b["next_obs"], cfg.dde_neighbours)
            loss = dyn + nll if cfg.model_noise else dyn
            norm = grad_step(self.model_opt, loss, cfg.model_grad_clip)
        return {"model_loss": dyn.detach(), "noise_nll": nll.detach(), "model_grad_norm": norm}

    def update_reward_done(self, b: dict[str, Tensor]) -> dict[str, Tensor]:
        """r̂ and the termination classifier on single transitions, the terminating ones included
        (official update_rew_step and update_done_step, on the critic's batch)."""
        rew = M.reward_loss(self.model, b["obs"], b["act"], b["rew"])
        done = M.done_loss(self.model, b["obs"], b["act"], b["terminated"])
        grad_step(self.aux_opt, rew + done)
        return {"reward_loss": rew.detach(), "done_loss": done.detach()}

    # --- critic: soft TD(0) (SAC) with the twin target ----------------------------------------
    def update_critic(self, b: dict[str, Tensor]) -> dict[str, Tensor]:
        with torch.no_grad():
            a_next, logp_next = self.policy(b["next_obs"], torch.randn_like(b["act"]))
            v_next = self.critic_target(b["next_obs"], a_next) - self.alpha * logp_next
        return self.td_step(b, v_next)

    # --- policy: ascent on (4.2), then the temperature ------------------------------------------
    def estimator_inputs(self, buffer: ReplayBuffer, s0: Tensor, rng: np.random.Generator, h: int):
        """(model, reward, start states, noise) of (4.2): the buffer states ``s0`` with fresh ς and
        ξ (ξ = 0 without ``model_noise``: the deterministic f̂). ``buffer`` and ``rng`` serve RP-DR's."""
        n = s0.shape[0]
        model = self.model if h > 0 else None
        reward = model.reward if model is not None else None
        varsigma = torch.randn(h + 1, n, self.act_dim)
        xi = (torch.randn if self.cfg.model_noise else torch.zeros)(h, n, self.obs_dim)
        return model, reward, s0, estimators.Noise(varsigma, xi)

    def update_policy(self, buffer: ReplayBuffer, batch: dict[str, Tensor], rng: np.random.Generator,
                      h: int) -> dict[str, Tensor]:
        # log π(â_0|ŝ_0) of the rollout's first step, at fresh noise from a buffer state, is a draw
        # of the quantity α's update needs: reuse it instead of a second policy pass (official)
        logps: list[Tensor] = []
        hook = self.policy.register_forward_hook(lambda m, i, o: logps.append(o[1]) if not logps else None)
        try:
            with parametrize.cached(), frozen(self.critic, self.model):
                model, reward, s0, noise = self.estimator_inputs(buffer, batch["obs"], rng, h)
                loss = -estimators.rp_objective(self.policy, model, reward, self.critic, s0, noise, h,
                                                self.cfg.gamma, self.alpha, **self.termination())
                norm = grad_step(self.policy_opt, loss)
        finally:
            hook.remove()
        return {"actor_loss": loss.detach(), "actor_grad_norm": norm, **self.update_alpha(s0, logps[0].detach())}

    def update_alpha(self, s: Tensor, logp: Tensor | None = None) -> dict[str, Tensor]:
        """SAC temperature: minimise E[-α (log π(a|s) + H_target)], with ``logp`` of fresh actions
        at ``s`` if given, else drawn here. H_target follows ``cfg.target_entropy_at``."""
        if logp is None:
            with torch.no_grad():
                _, logp = self.policy(s, torch.randn(s.shape[0], self.act_dim))
        loss = -(self.log_alpha * (logp + self.cfg.target_entropy_at(self.step))).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.alpha_opt.step()
        return {"alpha_loss": loss.detach(), "entropy": -logp.mean()}

    # --- checkpointing -------------------------------------------------------------------------
    def parts(self) -> dict:
        parts = {"obs_norm": self.obs_norm, "policy": self.policy, "critic": self.critic,
                 "critic_target": self.critic_target, "policy_opt": self.policy_opt,
                 "critic_opt": self.critic_opt, "alpha_opt": self.alpha_opt}
        if self.model is not None:
            parts.update(model=self.model, model_opt=self.model_opt, aux_opt=self.aux_opt)
        return parts

    def state_dict(self) -> dict:
        return {**super().state_dict(), "log_alpha": self.log_alpha.detach().clone()}

    def load_state_dict(self, d: dict) -> None:
        super().load_state_dict(d)
        with torch.no_grad():
            self.log_alpha.copy_(d["log_alpha"])
