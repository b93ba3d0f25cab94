"""The model-based RP gradient estimators of Section 4.2, written once.

Both the toy-MDP checks in verify/ and the MuJoCo trainers import this module; neither keeps a
second copy of the rollout. Values are unnormalised (docs/conventions.md).

The pieces are plain callables, so a toy MDP's exact model and a neural network fit alike:

- ``policy(s, varsigma) -> (a, logp)``: a = π_θ(s, ς); ``logp`` is log π(a|s) (only used when the
  entropy weight ``alpha`` is non-zero; return ``None`` otherwise);
- ``model(s, a, xi) -> s_next``: ŝ' = f̂(s, a, ξ);
- ``reward(s, a) -> r`` of shape (N,);
- ``critic(s, a) -> Q`` of shape (N,), or ``None`` when h = ∞;
- ``terminal(s) -> bool`` of shape (N,), optional: a terminated imagined state ends its rollout;
- ``done_prob(s, a) -> p`` of shape (N,), optional: the probability that the transition from (s, a)
  terminates (a learned classifier); the rollout is weighted by the survival probability and is
  differentiated through it.

Noise is drawn outside (``Noise``) so that the same draws can be replayed (common random numbers)
and so that RP-DR can pass noise *inferred* from real transitions, eqs. (4.3)–(4.5).
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import Tensor
from torch.func import functional_call, grad, vmap

from toy_mdps.noise import Noise  # noqa: F401  (re-exported: the estimators' noise type)


def mve_value(policy: Callable, model: Callable, reward: Callable, critic: Optional[Callable],
              s0: Tensor, noise: Noise, h: float, gamma: float, alpha: float = 0.0,
              terminal: Optional[Callable] = None, done_prob: Optional[Callable] = None) -> Tensor:
    """Eq. (4.1), unnormalised: V̂(s) = Σ_{i<h} γ^i r(ŝ_i, â_i) + γ^h Q̂(ŝ_h, â_h), per trajectory.

    ŝ_0 = s0, â_i = π(ŝ_i, ς_i), ŝ_{i+1} = f̂(ŝ_i, â_i, ξ_i). With h = ``math.inf`` the model is
    unrolled for ``noise.horizon`` steps and no critic is used (BPTT); with h = 0 the value is
    Q̂(s, π(s, ς)) (RP(0), DDPG). ``alpha`` > 0 adds the entropy bonus −α log π(â_i|ŝ_i) to every
    reward and to the critic tail (MAAC with entropy regularisation). Returns shape (N,).

    Termination: each term i is weighted by the probability ρ_i that ŝ_0..ŝ_i did not end the
    episode. With ``terminal`` (a hard rule on states), ρ_{i+1} = ρ_i · 1[ŝ_{i+1} not terminal], no
    gradient; with ``done_prob`` (official), ρ_{i+1} = ρ_i · (1 − p(ŝ_i, â_i)), differentiated
    through. The reward of the terminating transition itself still counts (ρ_i, not ρ_{i+1}).
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
        if done_prob is not None:
            alive = alive * (1.0 - done_prob(s, a))
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


def rp_objective(policy, model, reward, critic, s0, noise, h, gamma, alpha=0.0, terminal=None,
                 done_prob=None) -> Tensor:
    """The scalar whose θ-gradient is the batch estimator (4.2) (and (4.5) with inferred noise):
    the mean over n of the h-step value expansion (4.1)."""
    return mve_value(policy, model, reward, critic, s0, noise, h, gamma, alpha, terminal, done_prob).mean()


def infer_dr_noise(infer_varsigma: Callable, infer_xi: Callable, states: Tensor, actions: Tensor,
                   varsigma: Optional[Tensor] = None) -> Noise:
    """Noise of eqs. (4.3)–(4.5) (RP-DR) inferred from real trajectories.

    ``states`` has shape (H + 1, N, d_s) and ``actions`` (H + 1, N, d_a) (real s_i, a_i).
    ``infer_varsigma(s, a)`` returns ς with π(s, ς) = a, ``infer_xi(s, a, s_next)`` returns ξ with
    f̂(s, a, ξ) = s_next. The noise is detached: with it, the forward pass of ``mve_value`` from
    ``states[0]`` reproduces the real trajectory, while the θ-derivatives flow through f̂ and π.
    A given ``varsigma`` (H + 1, N, d_a), e.g. the noise recorded when acting, replaces the inferred
    ς; the unroll then reproduces the trajectory only as far as π has not changed since.
    """
    with torch.no_grad():
        if varsigma is None:
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


@torch.no_grad()
def rollout(policy: Callable, model: Callable, s0: Tensor, noise: Noise, steps: int) -> tuple[Tensor, Tensor]:
    """The states and actions of ŝ_{i+1} = f(ŝ_i, â_i, ξ_i), â_i = π(ŝ_i, ς_i), i = 0..steps, without
    gradients: shapes (steps + 1, N, d_s) and (steps + 1, N, d_a)."""
    s, states, actions = s0, [], []
    for i in range(steps + 1):
        a, _ = policy(s, noise.varsigma[i])
        states.append(s)
        actions.append(a)
        if i < steps:
            s = model(s, a, noise.xi[i])
    return torch.stack(states), torch.stack(actions)


def trajectory_jacobians(policy: torch.nn.Module, model: Callable, s0: Tensor, noise: Noise,
                         steps: int) -> tuple[Tensor, Tensor]:
    """Exact pathwise derivatives dŝ_i/dθ and dâ_i/dθ, i = 0..steps, of (C.9) and (C.12).

    Unrolls ŝ_{i+1} = f(ŝ_i, â_i, ξ_i), â_i = π_θ(ŝ_i, ς_i) with ``model`` (pass f̂ or the true f)
    and differentiates the whole trajectory in forward mode (θ is small next to the trajectory).
    Returns ``(ds, da)`` of shapes (steps + 1, N, d_s, P) and (steps + 1, N, d_a, P), θ flattened
    in ``policy.named_parameters()`` order.
    """
    params = policy_params(policy)
    names = list(params)
    shapes = [params[k].shape for k in names]
    flat = torch.cat([params[k].reshape(-1) for k in names])

    def unroll(theta, s0_n, vs_n, xi_n):
        p, offset = {}, 0
        for k, shape in zip(names, shapes):
            p[k] = theta[offset:offset + shape.numel()].reshape(shape)
            offset += shape.numel()
        s, states, actions = s0_n[None], [], []
        for i in range(steps + 1):
            a, _ = functional_call(policy, p, (s, vs_n[i][None]))
            states.append(s[0])
            actions.append(a[0])
            if i < steps:
                s = model(s, a, xi_n[i][None])
        return torch.stack(states), torch.stack(actions)

    jac = vmap(torch.func.jacfwd(unroll), in_dims=(None, 0, 1, 1))
    ds, da = jac(flat, s0, noise.varsigma[:steps + 1], noise.xi[:steps])
    return ds.transpose(0, 1), da.transpose(0, 1)


def per_sample_sq_norms(policy: torch.nn.Module, value_fn: Callable, s0: Tensor,
                        noise: Noise) -> tuple[Tensor, Tensor]:
    """‖ĝ_n‖² for every n and the mean gradient ḡ, from one batched backward, exactly.

    Every parameter must belong to an ``nn.Linear`` (an error says otherwise). A linear layer that
    the rollout calls T times with inputs x_t (N, in) and backprop signals δ_t (N, out) at its
    outputs has per-sample weight gradient g_n = Σ_t δ_{t,n} x_{t,n}ᵀ, so
    ‖g_n‖² = Σ_{t,t'} (δ_t·δ_t')(x_t·x_t') without forming g_n; the bias gradient is Σ_t δ_t.
    The signals are per sample because the backward is of Σ_n V̂_n and the rollout does not mix
    samples. Small layers form g_n directly when that is cheaper than the T × T Gram matrices.
    Returns ``(sq_norms (N,), mean_grad (P,))``, θ flattened in ``named_parameters()`` order.
    """
    linears = [m for m in policy.modules() if isinstance(m, torch.nn.Linear)]
    covered = {id(p) for m in linears for p in m.parameters()}
    foreign = [k for k, p in policy.named_parameters() if id(p) not in covered]
    if foreign:
        raise ValueError(f"per_sample_sq_norms handles nn.Linear parameters only, not {foreign}")
    # The hooks see the layer's effective weight: under a parametrization (spectral norm) that is
    # W/σ(W), not the parameter θ the gradient is taken with respect to.
    if any(torch.nn.utils.parametrize.is_parametrized(m) for m in linears):
        raise ValueError("per_sample_sq_norms cannot handle parametrized layers (e.g. spectral norm); "
                         "use per_sample_grads")
    inputs = {m: [] for m in linears}
    signals = {m: {} for m in linears}

    def record(module, args, out):
        t = len(inputs[module])
        inputs[module].append(args[0].detach())
        out.register_hook(lambda g: signals[module].__setitem__(t, g.detach()))

    handles = [m.register_forward_hook(record) for m in linears]
    try:
        values = value_fn(policy, s0, noise)
        params = list(policy.parameters())
        grads = torch.autograd.grad(values.sum(), params)
    finally:
        for handle in handles:
            handle.remove()
    n = s0.shape[0]
    sq = torch.zeros(n, dtype=s0.dtype)
    for m in linears:
        x = torch.stack(inputs[m], 1)                                   # (N, T, in)
        d = torch.stack([signals[m].get(t, torch.zeros(n, m.out_features, dtype=x.dtype))
                         for t in range(x.shape[1])], 1)                # (N, T, out)
        steps = x.shape[1]
        if steps * (m.in_features + m.out_features) < m.in_features * m.out_features:
            sq += (torch.bmm(d, d.transpose(1, 2)) * torch.bmm(x, x.transpose(1, 2))).sum((1, 2))
        else:
            sq += torch.bmm(d.transpose(1, 2), x).pow(2).sum((1, 2))
        if m.bias is not None:
            sq += d.sum(1).pow(2).sum(1)
    mean = torch.cat([g.reshape(-1) for g in grads]) / n
    return sq, mean


def gradient_variance(policy: torch.nn.Module, value_fn: Callable, s0: Tensor, noise: Noise,
                      method: str = "fast", chunk_size: Optional[int] = None) -> Tensor:
    """Unbiased estimate of v(1) = E‖ĝ_n − E ĝ‖² (Prop 5.2 with N = 1) from N samples.

    ``method``: "fast" (``per_sample_sq_norms``, no per-sample gradients formed), "vmap"
    (``per_sample_grads``) or "loop" (``per_sample_grads_loop``, the oracle). All three compute
    N/(N−1) · (mean_n ‖ĝ_n‖² − ‖ḡ‖²) up to rounding. The batch-N variance is this divided by N.
    """
    n = s0.shape[0]
    if n < 2:
        raise ValueError(f"a variance needs at least 2 samples, got {n}")
    if method == "fast":
        sq, mean = per_sample_sq_norms(policy, value_fn, s0, noise)
        return n / (n - 1) * (sq.mean() - mean.pow(2).sum())
    if method == "vmap":
        g = flatten_grads(per_sample_grads(policy, value_fn, s0, noise, chunk_size))
    elif method == "loop":
        g = flatten_grads(per_sample_grads_loop(policy, value_fn, s0, noise))
    else:
        raise ValueError(f"unknown method {method!r}")
    return (g - g.mean(0)).pow(2).sum(1).sum() / (n - 1)
