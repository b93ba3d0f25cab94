"""RP-DR (4.5), on-policy SVG(h): RP-DP's networks, model, critic and update order; only the
policy step differs.

Its start states and noise come from real h-step windows of the last ``dr_recent`` steps: ξ is
inferred from them through f̂ (4.4) and ς through π (4.3), so the unroll retraces the real path
while θ-derivatives flow through f̂ and π. With ``dr_noise = "acting"`` (default) ς is the one
inferred when each action was taken (stored with the transition), not at the current θ.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils import parametrize

from trainers import estimators
from trainers.agents import frozen, grad_step
from trainers.algos.rp_dp import RPDP
from trainers.buffer import ReplayBuffer


class RPDR(RPDP):
    """RP-DP with the policy step of (4.5) and the acting noise it stores."""

    def acting_noise(self, obs: np.ndarray, action: np.ndarray) -> np.ndarray:
        """ς with π_θ(obs, ς) = action at the current θ, stored with the transition."""
        with self.acting():
            vs = self.policy.infer_varsigma(torch.as_tensor(obs, dtype=torch.float32)[None],
                                            torch.as_tensor(action, dtype=torch.float32)[None])
        return vs[0].numpy()

    def estimator_inputs(self, buffer: ReplayBuffer, s0: Tensor, rng: np.random.Generator, h: int):
        """(model, reward, start states, noise) of (4.5): ``s0.shape[0]`` real windows of h + 1
        steps and the noise that retraces them (at h = 0, ς only)."""
        cfg = self.cfg
        model = self.model if h > 0 else None
        reward = model.reward if model is not None else None
        states, actions, _, acting = buffer.sample_windows(s0.shape[0], h + 1, rng, recent=cfg.dr_recent)
        states = states[:h + 1]
        infer_xi = model.infer_xi if model is not None else (lambda s, a, s_next: s_next)
        noise = estimators.infer_dr_noise(self.policy.infer_varsigma, infer_xi, states, actions,
                                          acting if cfg.dr_noise == "acting" else None)
        return model, reward, states[0], noise

    def update_policy(self, buffer: ReplayBuffer, batch: dict[str, Tensor], rng: np.random.Generator,
                      h: int) -> dict[str, Tensor]:
        """Ascent on (4.5), then α, whose log π sample is drawn afresh: the rollout's first ς is the data's."""
        with parametrize.cached(), frozen(self.critic, self.model):
            model, reward, s0, noise = self.estimator_inputs(buffer, batch["obs"], rng, h)
            loss = -estimators.rp_objective(self.policy, model, reward, self.critic, s0, noise, h,
                                            self.cfg.gamma, self.alpha, **self.termination())
            norm = grad_step(self.policy_opt, loss)
        return {"actor_loss": loss.detach(), "actor_grad_norm": norm, **self.update_alpha(s0)}
