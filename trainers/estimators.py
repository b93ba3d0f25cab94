"""The model-based RP gradient estimators of Section 4.2, written once.

Both the toy-MDP checks in verify/ and the MuJoCo trainers import this module; neither keeps a
second copy of the rollout. Values are unnormalised (docs/conventions.md).

The pieces are plain callables, so a toy MDP's exact model and a neural network fit alike:

- ``policy(s, varsigma) -> (a, logp)``: a = π_θ(s, ς); ``logp`` is log π(a|s) (only used when the
  entropy weight ``alpha`` is non-zero; return ``None`` otherwise);
- ``model(s, a, xi) -> s_next``: ŝ' = f̂(s, a, ξ);
- ``reward(s, a) -> r`` of shape (N,);
- ``critic(s, a) -> Q`` of shape (N,), or ``None`` when h = ∞;
- ``terminal(s) -> bool`` of shape (N,), optional: a terminated imagined state ends its rollout.

Noise is drawn outside (``Noise``) so that the same draws can be replayed (common random numbers)
and so that RP-DR can pass noise *inferred* from real transitions, eqs. (4.3)–(4.5).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor
from torch.func import functional_call, grad, vmap


@dataclass(frozen=True)
class Noise:
    """Per-step noise of N imagined trajectories.

    ``varsigma`` has shape (H + 1, N, d_ς): the policy noise at steps 0..H; ``xi`` has shape
    (H, N, d_ξ): the model noise of transitions 0..H-1. H is the number of model steps (h, or the
    truncation horizon when h = ∞).
    """

    varsigma: Tensor
    xi: Tensor

    @property
    def horizon(self) -> int:
        return self.xi.shape[0]

    @property
    def batch(self) -> int:
        return self.varsigma.shape[1]

    def select(self, idx) -> "Noise":
        """The noise of the trajectories ``idx`` (a slice or index tensor over N)."""
        return Noise(self.varsigma[:, idx], self.xi[:, idx])


def mve_value(policy: Callable, model: Callable, reward: Callable, critic: Optional[Callable],
              s0: Tensor, noise: Noise, h: float, gamma: float, alpha: float = 0.0,
              terminal: Optional[Callable] = None) -> Tensor:
    """Eq. (4.1), unnormalised: V̂(s) = Σ_{i<h} γ^i r(ŝ_i, â_i) + γ^h Q̂(ŝ_h, â_h), per trajectory.

    ŝ_0 = s0, â_i = π(ŝ_i, ς_i), ŝ_{i+1} = f̂(ŝ_i, â_i, ξ_i). With h = ``math.inf`` the model is
    unrolled for ``noise.horizon`` steps and no critic is used (BPTT); with h = 0 the value is
    Q̂(s, π(s, ς)) (RP(0), DDPG). ``alpha`` > 0 adds the entropy bonus −α log π(â_i|ŝ_i) to every
    reward and to the critic tail (MAAC with entropy regularisation). Returns shape (N,).
    """
    if h < 0:
        raise ValueError(f"h must be >= 0, got {h}")
    infinite = math.isinf(h)
    steps = noise.horizon if infinite else int(h)
    if steps > noise.horizon:
        raise ValueError(f"noise covers {noise.horizon} model steps, h = {steps} needs more")
    if not infinite and critic is None:
        raise ValueError("a finite h needs a critic for the tail gamma^h Q(s_h, a_h)")
    s = s0
    alive = torch.ones(s0.shape[0], dtype=s0.dtype, device=s0.device)
    value = torch.zeros_like(alive)
    for i in range(steps):
        a, logp = policy(s, noise.varsigma[i])
        r = reward(s, a)
        if alpha:
            r = r - alpha * logp
        value = value + (gamma ** i) * alive * r
        s = model(s, a, noise.xi[i])
        if terminal is not None:
            alive = alive * (~terminal(s)).to(alive.dtype)
    if not infinite:
        a, logp = policy(s, noise.varsigma[steps])
        q = critic(s, a)
        if alpha:
            q = q - alpha * logp
        value = value + (gamma ** steps) * alive * q
    return value


def rp_objective(policy, model, reward, critic, s0, noise, h, gamma, alpha=0.0, terminal=None) -> Tensor:
    """The scalar whose θ-gradient is the batch estimator (4.2) (and (4.5) with inferred noise):
    the mean over n of the h-step value expansion (4.1)."""
    return mve_value(policy, model, reward, critic, s0, noise, h, gamma, alpha, terminal).mean()


def infer_dr_noise(infer_varsigma: Callable, infer_xi: Callable, states: Tensor, actions: Tensor) -> Noise:
    """Noise of eqs. (4.3)–(4.5) (RP-DR) inferred from real trajectories.

    ``states`` has shape (H + 1, N, d_s) and ``actions`` (H + 1, N, d_a) (real s_i, a_i).
    ``infer_varsigma(s, a)`` returns ς with π(s, ς) = a, ``infer_xi(s, a, s_next)`` returns ξ with
    f̂(s, a, ξ) = s_next. The noise is detached: with it, the forward pass of ``mve_value`` from
    ``states[0]`` reproduces the real trajectory, while the θ-derivatives flow through f̂ and π.
    """
    with torch.no_grad():
        varsigma = infer_varsigma(states, actions)
        xi = infer_xi(states[:-1], actions[:-1], states[1:])
    return Noise(varsigma.detach(), xi.detach())


def sample_start_states(beta: float, sample_nu: Callable[[int, torch.Generator], Tensor],
                        sample_zeta: Callable[[int, torch.Generator], Tensor], n: int,
                        generator: torch.Generator) -> Tensor:
    """N start states from μ = β ν + (1 − β) ζ (Section 5, before Prop 5.8).

    Each state comes from ν with probability β, independently; ``sample_nu(k, g)`` and
    ``sample_zeta(k, g)`` return k states.
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must lie in [0, 1], got {beta}")
    from_nu = torch.rand(n, generator=generator) < beta
    k = int(from_nu.sum())
    s_nu = sample_nu(k, generator)
    s_zeta = sample_zeta(n - k, generator)
    out = torch.empty((n,) + tuple(s_nu.shape[1:] or s_zeta.shape[1:]), dtype=(s_nu if k else s_zeta).dtype)
    out[from_nu] = s_nu
    out[~from_nu] = s_zeta
    return out


def policy_params(policy: torch.nn.Module) -> dict[str, Tensor]:
    """The policy parameters θ as a detached dict, the form torch.func works on."""
    return {k: v.detach() for k, v in policy.named_parameters()}


def per_sample_grads(policy: torch.nn.Module, value_fn: Callable, s0: Tensor, noise: Noise,
                     chunk_size: Optional[int] = None) -> dict[str, Tensor]:
    """Per-sample gradients ĝ_n = ∇_θ V̂(ŝ_{0,n}) of (4.2)/(4.5), vectorised with vmap(grad).

    ``value_fn(policy_callable, s0, noise)`` returns the per-trajectory values (N,) — normally a
    ``functools.partial`` of ``mve_value``. ``policy`` is an nn.Module whose forward is
    ``(s, varsigma) -> (a, logp)``. Returns a dict name -> tensor of shape (N, *param.shape).
    """
    params = policy_params(policy)

    def single(p, s0_n, vs_n, xi_n):
        pol = lambda s, vs: functional_call(policy, p, (s, vs))
        return value_fn(pol, s0_n[None], Noise(vs_n[:, None], xi_n[:, None]))[0]

    return vmap(grad(single), in_dims=(None, 0, 1, 1), chunk_size=chunk_size)(
        params, s0, noise.varsigma, noise.xi)


def per_sample_grads_loop(policy: torch.nn.Module, value_fn: Callable, s0: Tensor, noise: Noise) -> dict[str, Tensor]:
    """Test oracle for ``per_sample_grads``: one autograd call per sample, no vectorisation."""
    names = [k for k, _ in policy.named_parameters()]
    params = [p for _, p in policy.named_parameters()]
    out = {k: [] for k in names}
    for n in range(s0.shape[0]):
        value = value_fn(policy, s0[n:n + 1], noise.select(slice(n, n + 1)))[0]
        for k, g in zip(names, torch.autograd.grad(value, params, allow_unused=True)):
            out[k].append(torch.zeros_like(params[names.index(k)]) if g is None else g)
    return {k: torch.stack(v) for k, v in out.items()}


def flatten_grads(grads: dict[str, Tensor]) -> Tensor:
    """Concatenate per-sample gradients into one (N, P) matrix."""
    return torch.cat([g.reshape(g.shape[0], -1) for g in grads.values()], dim=1)
