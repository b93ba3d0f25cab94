"""The four trainers of Section 7: RP-DP, RP-DR, RP(0) and DDPG.

Every policy objective is ``trainers.estimators.rp_objective`` — the mean of the h-step value
expansion (4.1) — with the noise that defines the estimator:

- RP-DP (4.2), MAAC with entropy regularisation: start states from the replay buffer, fresh noise
  ς, ξ ~ N(0, I), an h-step imagined unroll through f̂ with the critic tail, learned temperature α.
- RP-DR (4.5), on-policy SVG(h): real h-step trajectories from the latest steps, the noise inferred
  from them (4.3)–(4.4), so the unroll retraces the real path while θ-derivatives flow through f̂, π.
  ``dr_noise = "acting"`` takes ς as inferred when each action was taken, not at the current θ.
- RP(0) (Section 3.1): h = 0, the stochastic policy and the twin critic: E ∇_θ Q̂(s, π_θ(s, ς)).
- DDPG: h = 0 with a deterministic policy and a target actor.

RP-DP and RP-DR use h = 0 until ``model_warmup`` steps (official: SAC updates while the model warms up).
Every network reads observations through one shared ``ObsNorm`` whose statistics follow the replay
buffer (official ``normalize_obs``). Imagined termination is the learned classifier by default
(``cfg.termination``). Each ``update`` returns its losses and gradient norms as tensors; the caller
checks them for NaN/inf. docs/trainers.md maps every choice to the paper and the official code.
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
from trainers.networks import DeterministicPolicy, GaussianPolicy, ObsNorm, QNet
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
        self.terminal = TERMINAL[cfg.env]  # the env's rule, for cfg.termination == "rule"
        self.deterministic = cfg.algo == "ddpg"
        self.obs_norm = ObsNorm(obs_dim, enabled=cfg.obs_norm)
        sn_outer = cfg.sn_policy == "all"
        if self.deterministic:
            self.policy = DeterministicPolicy(obs_dim, act_dim, cfg.policy_hidden, cfg.policy_layers, cfg.sn,
                                              self.obs_norm, sn_outer)
            self.policy_target = copy.deepcopy(self.policy)
            self.policy_target.norm = self.obs_norm
        else:
            self.policy = GaussianPolicy(obs_dim, act_dim, cfg.policy_hidden, cfg.policy_layers, cfg.sn,
                                         cfg.log_std_bounds, self.obs_norm, sn_outer)
        self.critic = QNet(obs_dim, act_dim, cfg.critic_hidden, cfg.critic_layers, not self.deterministic,
                           self.obs_norm)
        self.critic_target = copy.deepcopy(self.critic)
        self.critic_target.norm = self.obs_norm
        self.model = (M.DynamicsModel(obs_dim, act_dim, cfg.model_hidden, cfg.model_layers, cfg.sn,
                                      cfg.reward_hidden, cfg.reward_layers, self.obs_norm) if cfg.uses_model else None)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.actor_lr, fused=True)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, fused=True)
        self.model_opt = self.aux_opt = None
        if self.model is not None:
            dyn = list(self.model.delta.parameters()) + [self.model.log_std]
            aux = list(self.model.reward_net.parameters()) + list(self.model.done_net.parameters())
            self.model_opt = torch.optim.Adam(dyn, lr=cfg.model_lr, fused=True)
            # reward and termination nets: own optimiser, not clipped (official rew_opt, done_opt)
            self.aux_opt = torch.optim.Adam(aux, lr=cfg.model_lr, fused=True)
        self.log_alpha = torch.tensor(float(np.log(cfg.init_alpha)), requires_grad=True)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_lr, fused=True)
        self.step = 0

    # ---------------------------------------------------------------------------------------
    @property
    def alpha(self) -> float:
        """Entropy weight of (4.1)'s MAAC variant; 0 for DDPG."""
        return 0.0 if self.deterministic else float(self.log_alpha.detach().exp())

    @property
    def target_entropy(self) -> float:
        return self.cfg.target_entropy_at(self.step)

    def termination(self) -> dict:
        """The estimator's termination arguments for ``cfg.termination``."""
        if self.cfg.termination == "learned" and self.model is not None:
            return {"done_prob": self.model.done_prob}
        if self.cfg.termination == "rule":
            return {"terminal": self.terminal}
        return {}

    def sync_obs_norm(self, buffer: ReplayBuffer) -> None:
        """Fold the observations added to ``buffer`` since the last call into the running statistics."""
        seen = int(self.obs_norm.count)
        if self.cfg.obs_norm and buffer.size > seen:
            self.obs_norm.update(torch.from_numpy(buffer.data["obs"][seen:buffer.size]))

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
        if explore and self.deterministic:
            a = (a + self.cfg.ddpg_noise * torch.randn_like(a)).clamp(-1.0, 1.0)
        return a.numpy().astype(np.float64)

    def acting_noise(self, obs: np.ndarray, action: np.ndarray) -> np.ndarray:
        """ς with π_θ(obs, ς) = action at the current θ (RP-DR's ``dr_noise = "acting"`` stores it)."""
        with self.acting():
            vs = self.policy.infer_varsigma(torch.as_tensor(obs, dtype=torch.float32)[None],
                                            torch.as_tensor(action, dtype=torch.float32)[None])
        return vs[0].numpy()

    def update(self, buffer: ReplayBuffer, rng: np.random.Generator, step: int) -> dict[str, Tensor]:
        self.step = step
        self.sync_obs_norm(buffer)
        out: dict[str, Tensor] = {}
        if self.model is not None:
            for _ in range(self.cfg.model_updates_per_step):
                out.update(self.update_model(buffer, rng))
        batch = buffer.sample(self.cfg.batch_size, rng)
        out.update(self.update_critic(batch))
        if self.model is not None:
            out.update(self.update_reward_done(batch))
        h = self.cfg.h if step >= self.cfg.model_warmup else 0
        out.update(self.update_policy(buffer, batch, rng, h))
        soft_update(self.critic_target, self.critic, self.cfg.tau)
        if self.deterministic:
            soft_update(self.policy_target, self.policy, self.cfg.tau)
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
            states, actions, _, acting = buffer.sample_windows(n, h + 1, rng, recent=cfg.dr_recent)
            states = states[:h + 1]
            infer_xi = model.infer_xi if model is not None else (lambda s, a, s_next: s_next)
            noise = estimators.infer_dr_noise(self.policy.infer_varsigma, infer_xi, states, actions,
                                              acting if cfg.dr_noise == "acting" else None)
            return model, reward, states[0], noise
        varsigma = (torch.zeros if self.deterministic else torch.randn)(h + 1, n, self.act_dim)
        xi = (torch.randn if cfg.model_noise else torch.zeros)(h, n, self.obs_dim)  # ξ = 0: deterministic f̂
        return model, reward, s0, estimators.Noise(varsigma, xi)

    def update_policy(self, buffer: ReplayBuffer, batch: dict[str, Tensor], rng: np.random.Generator,
                      h: int) -> dict[str, Tensor]:
        cfg = self.cfg
        logps: list[Tensor] = []
        # log π(â_0|ŝ_0) of the rollout's first step, at fresh noise from a buffer state, is a draw
        # of the quantity α's update needs: reuse it instead of a second policy pass (not for
        # RP-DR, whose first ς comes from the data)
        reuse = not self.deterministic and cfg.algo != "rp-dr"
        hook = self.policy.register_forward_hook(lambda m, i, o: logps.append(o[1]) if not logps else None) \
            if reuse else None
        try:
            with parametrize.cached(), frozen(self.critic, self.model):
                model, reward, s0, noise = self.estimator_inputs(buffer, batch["obs"], rng, h)
                objective = estimators.rp_objective(self.policy, model, reward, self.critic, s0, noise, h,
                                                    cfg.gamma, self.alpha, **self.termination())
                loss = -objective
                norm = grad_step(self.policy_opt, loss)
        finally:
            if hook is not None:
                hook.remove()
        out = {"actor_loss": loss.detach(), "actor_grad_norm": norm}
        if not self.deterministic:
            out.update(self.update_alpha(s0, logps[0].detach() if reuse else None))
        return out

    def update_alpha(self, s: Tensor, logp: Tensor | None = None) -> dict[str, Tensor]:
        """SAC temperature: minimise E[-α (log π(a|s) + H_target)], with ``logp`` of fresh actions
        at ``s`` if given, else drawn here."""
        if logp is None:
            with torch.no_grad():
                _, logp = self.policy(s, torch.randn(s.shape[0], self.act_dim))
        loss = -(self.log_alpha * (logp + self.target_entropy)).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.alpha_opt.step()
        return {"alpha_loss": loss.detach(), "entropy": -logp.mean()}

    # --- checkpointing -------------------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        mods = {"obs_norm": self.obs_norm, "policy": self.policy, "critic": self.critic,
                "critic_target": self.critic_target}
        if self.deterministic:
            mods["policy_target"] = self.policy_target
        if self.model is not None:
            mods["model"] = self.model
        return mods

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        opts = {"policy_opt": self.policy_opt, "critic_opt": self.critic_opt, "alpha_opt": self.alpha_opt}
        if self.model_opt is not None:
            opts["model_opt"] = self.model_opt
            opts["aux_opt"] = self.aux_opt
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
