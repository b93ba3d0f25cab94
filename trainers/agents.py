"""The four trainers of Section 7: RP-DP, RP-DR, RP(0) and DDPG.

Every policy objective is ``trainers.estimators.rp_objective`` — the mean of the h-step value
expansion (4.1) — with the noise that defines the estimator:

- RP-DP (4.2), MAAC with entropy regularisation: start states from the replay buffer, fresh noise
  ς, ξ ~ N(0, I), an h-step imagined unroll through f̂ with the critic tail, learned temperature α.
- RP-DR (4.5), on-policy SVG(h): real h-step trajectories from the latest steps, the noise inferred
  from them (4.3)–(4.4), so the unroll retraces the real path while θ-derivatives flow through f̂, π.
- RP(0) (Section 3.1): h = 0, the stochastic policy and the twin critic: E ∇_θ Q̂(s, π_θ(s, ς)).
- DDPG: h = 0 with a deterministic policy and a target actor.

RP-DP and RP-DR use h = 0 until ``model_warmup`` steps (official: SAC updates while the model warms up).
Each ``update`` returns its losses and gradient norms as tensors; the caller checks them for NaN/inf.
"""
from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import get_total_norm, parametrize

from trainers import estimators
from trainers import models as M
from trainers.buffer import ReplayBuffer
from trainers.config import Config
from trainers.networks import DeterministicPolicy, GaussianPolicy, QNet
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


class Agent:
    """Networks, optimisers and one update per environment step for ``cfg.algo``."""

    def __init__(self, cfg: Config, obs_dim: int, act_dim: int):
        self.cfg, self.obs_dim, self.act_dim = cfg, obs_dim, act_dim
        self.terminal = TERMINAL[cfg.env]
        self.deterministic = cfg.algo == "ddpg"
        if self.deterministic:
            self.policy = DeterministicPolicy(obs_dim, act_dim, cfg.policy_hidden, cfg.policy_layers, cfg.sn)
            self.policy_target = copy.deepcopy(self.policy)
        else:
            self.policy = GaussianPolicy(obs_dim, act_dim, cfg.policy_hidden, cfg.policy_layers, cfg.sn,
                                         cfg.log_std_bounds)
        self.critic = QNet(obs_dim, act_dim, cfg.critic_hidden, cfg.critic_layers, twin=not self.deterministic)
        self.critic_target = copy.deepcopy(self.critic)
        self.model = (M.DynamicsModel(obs_dim, act_dim, cfg.model_hidden, cfg.model_layers, cfg.sn,
                                      cfg.reward_hidden, cfg.reward_layers) if cfg.uses_model else None)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.actor_lr, fused=True)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, fused=True)
        self.model_opt = torch.optim.Adam(self.model.parameters(), lr=cfg.model_lr, fused=True) if self.model else None
        self.log_alpha = torch.tensor(float(np.log(cfg.init_alpha)), requires_grad=True)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_lr, fused=True)
        self.target_entropy = -float(act_dim) if cfg.target_entropy is None else cfg.target_entropy

    # ---------------------------------------------------------------------------------------
    @property
    def alpha(self) -> float:
        """Entropy weight of (4.1)'s MAAC variant; 0 for DDPG."""
        return 0.0 if self.deterministic else float(self.log_alpha.detach().exp())

    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        self.policy.eval()  # SN in eval mode: no power iteration per environment step
        a = self.policy.act(torch.as_tensor(obs, dtype=torch.float32)[None], deterministic=not explore)[0]
        self.policy.train()
        if explore and self.deterministic:
            a = (a + self.cfg.ddpg_noise * torch.randn_like(a)).clamp(-1.0, 1.0)
        return a.numpy().astype(np.float64)

    def update(self, buffer: ReplayBuffer, rng: np.random.Generator, step: int) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        if self.model is not None:
            for _ in range(self.cfg.model_updates_per_step):
                out.update(self.update_model(buffer, rng))
        batch = buffer.sample(self.cfg.batch_size, rng)
        out.update(self.update_critic(batch))
        h = self.cfg.h if step >= self.cfg.model_warmup else 0
        out.update(self.update_policy(buffer, batch, rng, h))
        soft_update(self.critic_target, self.critic, self.cfg.tau)
        if self.deterministic:
            soft_update(self.policy_target, self.policy, self.cfg.tau)
        return out

    # --- model learning (Appendix B.2) ---------------------------------------------------------
    def update_model(self, buffer: ReplayBuffer, rng: np.random.Generator) -> dict[str, Tensor]:
        cfg, model = self.cfg, self.model
        with parametrize.cached():  # one SN power iteration per update, not one per unroll step
            if cfg.model_loss == "h-step":
                states, actions, rewards = buffer.sample_windows(cfg.batch_size, cfg.h, rng)
                dyn, nll = M.h_step_loss(model, states, actions)
                s, a, r = states[0], actions[0], rewards[0]  # r̂ needs no sequences: one step is enough
            else:
                b = buffer.sample(cfg.batch_size, rng)
                s, a, r = b["obs"], b["act"], b["rew"]
                dyn, nll = M.mse_loss(model, s, a, b["next_obs"])
                if cfg.model_loss == "dde":
                    dyn = dyn + cfg.dde_weight * M.directional_derivative_error(
                        model, s, a, b["next_obs"], cfg.dde_neighbours)
            rew = M.reward_loss(model, s, a, r)
            norm = grad_step(self.model_opt, dyn + nll + rew, cfg.model_grad_clip)
        return {"model_loss": dyn.detach(), "noise_nll": nll.detach(), "reward_loss": rew.detach(),
                "model_grad_norm": norm}

    # --- critic: soft (SAC) or plain (DDPG) TD(0) with target networks -----------------------
    def update_critic(self, b: dict[str, Tensor]) -> dict[str, Tensor]:
        with torch.no_grad():
            if self.deterministic:
                a_next, _ = self.policy_target(b["next_obs"], None)
                v_next = self.critic_target(b["next_obs"], a_next)
            else:
                a_next, logp_next = self.policy(b["next_obs"], torch.randn_like(b["act"]))
                v_next = self.critic_target(b["next_obs"], a_next) - self.alpha * logp_next
            target = b["rew"] + self.cfg.gamma * (1.0 - b["terminated"]) * v_next
        loss = sum(F.mse_loss(q, target) for q in self.critic.all(b["obs"], b["act"]))
        norm = grad_step(self.critic_opt, loss)
        return {"critic_loss": loss.detach(), "critic_grad_norm": norm}

    # --- policy: ascent on the shared estimator's objective (4.2)/(4.5) -------------------------
    def estimator_inputs(self, buffer: ReplayBuffer, s0: Tensor, rng: np.random.Generator, h: int):
        """(model, reward, start states, noise) of the estimator: fresh noise at buffer states for
        RP-DP/RP(0)/DDPG (4.2); real windows and inferred noise for RP-DR (4.5)."""
        cfg, n = self.cfg, s0.shape[0]
        model = self.model if h > 0 else None
        reward = model.reward if model is not None else None
        if cfg.algo == "rp-dr":
            states, actions, _ = buffer.sample_windows(n, h + 1, rng, recent=cfg.dr_recent)
            states = states[:h + 1]
            infer_xi = model.infer_xi if model is not None else (lambda s, a, s_next: s_next)
            noise = estimators.infer_dr_noise(self.policy.infer_varsigma, infer_xi, states, actions)
            return model, reward, states[0], noise
        varsigma = (torch.zeros if self.deterministic else torch.randn)(h + 1, n, self.act_dim)
        return model, reward, s0, estimators.Noise(varsigma, torch.randn(h, n, self.obs_dim))

    def update_policy(self, buffer: ReplayBuffer, batch: dict[str, Tensor], rng: np.random.Generator,
                      h: int) -> dict[str, Tensor]:
        cfg = self.cfg
        with parametrize.cached(), frozen(self.critic, self.model):
            model, reward, s0, noise = self.estimator_inputs(buffer, batch["obs"], rng, h)
            objective = estimators.rp_objective(self.policy, model, reward, self.critic, s0, noise, h,
                                                cfg.gamma, self.alpha, self.terminal)
            loss = -objective
            norm = grad_step(self.policy_opt, loss)
        out = {"actor_loss": loss.detach(), "actor_grad_norm": norm}
        if not self.deterministic:
            out.update(self.update_alpha(s0))
        return out

    def update_alpha(self, s: Tensor) -> dict[str, Tensor]:
        """SAC temperature: minimise E[-α (log π(a|s) + H_target)]."""
        with torch.no_grad():
            _, logp = self.policy(s, torch.randn(s.shape[0], self.act_dim))
        loss = -(self.log_alpha * (logp + self.target_entropy)).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.alpha_opt.step()
        return {"alpha_loss": loss.detach(), "entropy": -logp.mean()}

    # --- checkpointing -------------------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        mods = {"policy": self.policy, "critic": self.critic, "critic_target": self.critic_target}
        if self.deterministic:
            mods["policy_target"] = self.policy_target
        if self.model is not None:
            mods["model"] = self.model
        return mods

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        opts = {"policy_opt": self.policy_opt, "critic_opt": self.critic_opt, "alpha_opt": self.alpha_opt}
        if self.model_opt is not None:
            opts["model_opt"] = self.model_opt
        return opts

    def state_dict(self) -> dict:
        d = {k: m.state_dict() for k, m in {**self.modules(), **self.optimizers()}.items()}
        d["log_alpha"] = self.log_alpha.detach().clone()
        return d

    def load_state_dict(self, d: dict) -> None:
        for k, m in {**self.modules(), **self.optimizers()}.items():
            m.load_state_dict(d[k])
        with torch.no_grad():
            self.log_alpha.copy_(d["log_alpha"])
