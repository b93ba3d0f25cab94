"""Section 5's quantities on Hopper-v5 / Walker2d-v5, with the simulator's own Jacobians (issue 13).

    python -m trainers.theory RUN_DIR [--json] [--samples N] [--seed S]

At one checkpoint (policy π_θ, learned model f̂, critic Q̂, replay buffer) this measures

1. the Jacobians ∂f/∂s, ∂f/∂a of one env step in observation coordinates (``Simulator.jacobian``);
2. ε_f of (4.7), coupled reading: E‖∂f̂/∂s − ∂f/∂s‖₂ + ‖∂f̂/∂a − ∂f/∂a‖₂ with both Jacobians at the
   same (s, a), over the policy's states i = 0…h−1 steps from replay start states: on real paths
   (through the simulator) and on imagined ones (through f̂); the max over i is (4.7). Also the
   paired reading: the simulator's Jacobian on the real path against f̂'s on the imagined path
   from the same start state and policy noise;
3. local Lipschitz constants ‖∂f/∂(s, a)‖₂, ‖∂f̂/∂(s, a)‖₂, ‖∂π/∂s‖₂ over those states, next to the
   global bounds SN is meant to enforce (the product of the layers' spectral norms);
4. gradient paths D_i = ‖dŝ_i/dθ‖₂, i = 0…h, along imagined and real paths, their growth per step
   against ρ = L_f·sqrt(1 + L_π²) (docs/errata.md, E1) and L_f·L_π, with the local constants of
   that step: the corrected recursion D_{i+1} ≤ ρ_i D_i + L_f,i L_θ,i must hold, the paper's
   (C.12) rate L_f L_π need not; and D_h against (C.12) printed and corrected (``bounds.variance``)
   at the largest local constants seen (a sup over sampled states, so not a certified bound);
5. the h-step RP-DP gradient (4.2) through f̂ and the same gradient along real trajectories with
   the simulator's Jacobians, the true reward and the same critic, policy noise and start states;
   their distance is a full-scale proxy for the model part of the bias (Prop 5.8).

The simulator. The observation is (qpos[1:], clip(qvel, ±10)); the x position it drops does not
enter the dynamics (the floor is an infinite plane), so a state is rebuilt from an observation with
x = 0, zero warm start and zero time. That is exact for the state, up to MuJoCo's solver warm start
(which changes results only within the solver tolerance) and up to clipping: an observation with a
velocity at ±10 does not determine the state (``clipped_in``), and where the next velocity is
clipped its row of ∂f is 0 (the clip's derivative), where |v| = 10 exactly it is not differentiable.
Hopper and Walker2d integrate with RK4, which ``mujoco.mjd_transitionFD`` refuses, so each of the
frame-skip ``mj_step`` calls is differenced centrally here in the same way (state, warm start
included, restored before every perturbation) and the frame-skip Jacobians are chained;
``tests/test_theory.py`` checks this difference against ``mjd_transitionFD`` on an Euler copy of the
model, and the chain against a central difference of gymnasium's whole ``env.step``. With contacts
or joint limits active the step is only piecewise smooth: the Jacobians are still computed there and
the states are flagged (``constrained``). The reward r = w (x' − x)/dt + healthy − c‖a‖² has
∂r = (w/dt) ∂x' − (0, 2ca) (the healthy term is piecewise constant).

Coordinates. Everything is measured in the coordinates the agent's networks take ("model"
coordinates) and, where the agent normalises observations, also in raw observation coordinates.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import mujoco
import numpy as np
import torch
from torch import Tensor
from torch.func import functional_call, jacrev, vmap

from bounds import symbols as S
from bounds import variance as V
from trainers import estimators, instrument
from trainers.agents import Agent
from trainers.config import Config
from trainers.envs import make_env

VELOCITY_CLIP = 10.0  # gymnasium hopper_v5 / walker2d_v5 _get_obs
CHECKPOINT = "checkpoint.pt"  # trainers.train.CHECKPOINT (train imports this module)
QUANTILES = (0.5, 0.9, 1.0)


# --- 1. the simulator's Jacobians --------------------------------------------------------------
@dataclass
class StepJacobian:
    """One env step at (s, a) in observation coordinates: s' = f(s, a), r, and their derivatives."""

    next_obs: np.ndarray
    reward: float
    f_s: np.ndarray        # (d_s, d_s) ∂s'/∂s
    f_a: np.ndarray        # (d_s, d_a) ∂s'/∂a
    r_s: np.ndarray        # (d_s,)
    r_a: np.ndarray        # (d_a,)
    constrained: bool      # a contact or joint limit was active in some frame: f is only piecewise smooth
    clipped_in: bool       # s has a velocity at ±10: the state is not determined by s
    clipped_out: bool      # s' has a clipped velocity: those rows of f_s, f_a are 0
    nonsmooth: bool = False  # the differences at eps and eps/10 disagree: a contact switches inside them


class Simulator:
    """One env step of a gymnasium MuJoCo env as a function of (observation, action)."""

    def __init__(self, env_id: str):
        self.env, _ = make_env(env_id)
        self.m, self.d = self.env.model, self.env.data
        m = self.m
        if m.nq != m.nv or m.na:
            raise ValueError(f"{env_id}: only hinge/slide joints and no activations are supported")
        self.nq, self.nv, self.nu = m.nq, m.nv, m.nu
        self.frame_skip, self.dt = self.env.frame_skip, self.env.dt
        self.w_forward, self.c_ctrl = self.env._forward_reward_weight, self.env._ctrl_cost_weight
        self.obs_dim = self.nq - 1 + self.nv
        self._spec = mujoco.mjtState.mjSTATE_INTEGRATION
        self._saved = np.empty(mujoco.mj_stateSize(m, self._spec))

    def set_obs(self, obs: np.ndarray) -> None:
        """The state with observation ``obs``, x = 0, zero warm start (see the module docstring)."""
        mujoco.mj_resetData(self.m, self.d)
        self.d.qpos[1:] = obs[:self.nq - 1]
        self.d.qvel[:] = obs[self.nq - 1:]
        mujoco.mj_forward(self.m, self.d)

    def step(self, obs: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, float]:
        """gymnasium's own ``env.step`` from the state of ``obs``: (s', r)."""
        self.set_obs(np.asarray(obs, np.float64))
        next_obs, r, _, _, _ = self.env.step(np.asarray(a, np.float64))
        return next_obs, float(r)

    def _frame_jacobian(self, eps: float) -> tuple[np.ndarray, np.ndarray]:
        """Central difference of one ``mj_step`` at the current state and ctrl, in (qpos, qvel),
        the state (warm start included) restored before every perturbation, as mjd_transitionFD does."""
        m, d, n = self.m, self.d, self.nv
        mujoco.mj_getState(m, d, self._saved, self._spec)
        ctrl = d.ctrl.copy()
        a_mat, b_mat = np.empty((2 * n, 2 * n)), np.empty((2 * n, self.nu))

        def stepped(k: int, sign: float) -> np.ndarray:
            mujoco.mj_setState(m, d, self._saved, self._spec)
            if k < 2 * n:
                (d.qpos if k < n else d.qvel)[k % n] += sign * eps
            else:
                d.ctrl[k - 2 * n] = ctrl[k - 2 * n] + sign * eps
            mujoco.mj_step(m, d)
            out = np.concatenate([d.qpos, d.qvel])
            d.ctrl[:] = ctrl
            return out

        for k in range(2 * n + self.nu):
            col = (stepped(k, 1.0) - stepped(k, -1.0)) / (2 * eps)
            if k < 2 * n:
                a_mat[:, k] = col
            else:
                b_mat[:, k - 2 * n] = col
        mujoco.mj_setState(m, d, self._saved, self._spec)
        return a_mat, b_mat

    def jacobian(self, obs: np.ndarray, a: np.ndarray, eps: float = 1e-6, check: bool = False) -> StepJacobian:
        """∂f/∂s, ∂f/∂a (and ∂r) of one env step: the frame-skip ``mj_step`` Jacobians chained with
        the control held, then mapped to observations (x dropped, clipped rows zeroed).

        With ``check`` the step is differenced again at eps/10: where the two disagree by more than
        1e-3 (relative), a contact or limit switches within eps and the difference measures the jump
        (it scales like 1/eps), not a derivative; that state is flagged ``nonsmooth`` and the eps/10
        Jacobian is returned."""
        obs, a = np.asarray(obs, np.float64), np.asarray(a, np.float64)
        if check:
            coarse, fine = self.jacobian(obs, a, eps), self.jacobian(obs, a, eps / 10)
            bad = max(relative_error(coarse.f_s, fine.f_s), relative_error(coarse.f_a, fine.f_a)) > 1e-3
            return dataclasses.replace(fine, nonsmooth=True) if bad else coarse
        m, d, n = self.m, self.d, self.nv
        self.set_obs(obs)
        d.ctrl[:] = a
        a_tot, b_tot, constrained = np.eye(2 * n), np.zeros((2 * n, self.nu)), False
        for _ in range(self.frame_skip):
            a_k, b_k = self._frame_jacobian(eps)
            a_tot, b_tot = a_k @ a_tot, a_k @ b_tot + b_k
            mujoco.mj_step(m, d)
            constrained = constrained or d.nefc > 0  # the constraints of the frame's start state
        mujoco.mj_forward(m, d)
        constrained = bool(constrained or d.nefc > 0)
        x_next = d.qpos[0]
        vel = d.qvel.copy()
        next_obs = np.concatenate([d.qpos[1:], np.clip(vel, -VELOCITY_CLIP, VELOCITY_CLIP)])
        healthy = float(self.env.healthy_reward)
        f_s, f_a = a_tot[1:, 1:].copy(), b_tot[1:].copy()  # state row/column 0 is x
        clipped = np.abs(vel) >= VELOCITY_CLIP
        f_s[self.nq - 1:][clipped] = 0.0
        f_a[self.nq - 1:][clipped] = 0.0
        k = self.w_forward / self.dt
        return StepJacobian(
            next_obs=next_obs, reward=k * x_next + healthy - self.c_ctrl * float(a @ a),
            f_s=f_s, f_a=f_a, r_s=k * a_tot[0, 1:], r_a=k * b_tot[0] - 2 * self.c_ctrl * a,
            constrained=constrained, clipped_in=bool((np.abs(obs[self.nq - 1:]) >= VELOCITY_CLIP).any()),
            clipped_out=bool(clipped.any()))

    def fd_jacobian(self, obs: np.ndarray, a: np.ndarray, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
        """Validation: central difference of gymnasium's whole ``env.step`` in observation coordinates."""
        obs, a = np.asarray(obs, np.float64), np.asarray(a, np.float64)
        cols = []
        for x, other, first in ((obs, a, True), (a, obs, False)):
            for j in range(len(x)):
                e = np.zeros_like(x)
                e[j] = eps
                plus = self.step(x + e, other)[0] if first else self.step(other, x + e)[0]
                minus = self.step(x - e, other)[0] if first else self.step(other, x - e)[0]
                cols.append((plus - minus) / (2 * eps))
        jac = np.stack(cols, 1)
        return jac[:, :len(obs)], jac[:, len(obs):]


def contact_free_states(sim: Simulator, n: int, rng: np.random.Generator,
                        lift: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (observation, action) pairs whose env step is smooth (no contact, no joint limit, no
    clipped velocity): the body lifted ``lift`` m, joints inside their ranges, small velocities;
    rejection-checked."""
    m = sim.m
    lo = np.where(m.jnt_limited, m.jnt_range[:, 0], -0.3)
    hi = np.where(m.jnt_limited, m.jnt_range[:, 1], 0.3)
    obs, acts = [], []
    while len(obs) < n:
        qpos = sim.env.init_qpos.copy()
        qpos[1] += lift
        qpos[2:] = rng.uniform(lo[2:] + 0.25 * (hi[2:] - lo[2:]), hi[2:] - 0.25 * (hi[2:] - lo[2:]))
        qvel = rng.uniform(-0.5, 0.5, sim.nv)
        s = np.concatenate([qpos[1:], qvel])
        a = rng.uniform(-1.0, 1.0, sim.nu)
        j = sim.jacobian(s, a)
        if not (j.constrained or j.clipped_out):
            obs.append(s)
            acts.append(a)
    return np.array(obs), np.array(acts)


def relative_error(approx: np.ndarray, exact: np.ndarray) -> float:
    """‖approx − exact‖₂ / ‖exact‖₂ (spectral norms)."""
    return float(np.linalg.norm(approx - exact, 2) / np.linalg.norm(exact, 2))


# --- the simulator as a differentiable torch transition ------------------------------------------
class _SimStep(torch.autograd.Function):
    """(s, a) -> (s', r) through the simulator, one row at a time; backward with its Jacobians."""

    @staticmethod
    def forward(ctx, s: Tensor, a: Tensor, sim: Simulator):
        jacs = [sim.jacobian(si, ai, check=True)
                for si, ai in zip(s.detach().double().numpy(), a.detach().double().numpy())]
        ctx.jacs = jacs
        nxt = torch.tensor(np.stack([j.next_obs for j in jacs]), dtype=s.dtype)
        r = torch.tensor([j.reward for j in jacs], dtype=s.dtype)
        return nxt, r

    @staticmethod
    def backward(ctx, g_next: Tensor, g_r: Tensor):
        f_s = torch.tensor(np.stack([j.f_s for j in ctx.jacs]), dtype=g_next.dtype)
        f_a = torch.tensor(np.stack([j.f_a for j in ctx.jacs]), dtype=g_next.dtype)
        r_s = torch.tensor(np.stack([j.r_s for j in ctx.jacs]), dtype=g_next.dtype)
        r_a = torch.tensor(np.stack([j.r_a for j in ctx.jacs]), dtype=g_next.dtype)
        g_s = torch.einsum("ni,nij->nj", g_next, f_s) + g_r[:, None] * r_s
        g_a = torch.einsum("ni,nij->nj", g_next, f_a) + g_r[:, None] * r_a
        return g_s, g_a, None


def to_units(f_s: Tensor, f_a: Tensor, scale: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    """∂f/∂(s, a) of a raw map s -> s' in normalised units x = (s − shift)/scale:
    ∂x'/∂x = diag(1/scale) ∂f/∂s diag(scale), ∂x'/∂a = diag(1/scale) ∂f/∂a."""
    if scale is None:
        return f_s, f_a
    scale = scale.to(f_s.dtype)
    return f_s * scale[None, :] / scale[:, None], f_a / scale[:, None]


class SimulatorModel:
    """The true f and r on raw observations, as the callables ``estimators.mve_value`` takes:
    ``model(s, a, xi)`` (ξ ignored: the simulator is deterministic) and ``reward(s, a)``. One
    simulator call serves the reward and the transition of the same (s, a)."""

    def __init__(self, sim: Simulator):
        self.sim = sim
        self._last: Optional[tuple] = None

    def _step(self, s: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        if self._last is None or self._last[0] is not s or self._last[1] is not a:
            self._last = (s, a, *_SimStep.apply(s, a, self.sim))
        return self._last[2], self._last[3]

    def model(self, s: Tensor, a: Tensor, xi: Optional[Tensor] = None) -> Tensor:
        return self._step(s, a)[0]

    def reward(self, s: Tensor, a: Tensor) -> Tensor:
        return self._step(s, a)[1]


def sim_jacobians(sim: Simulator, s: Tensor, a: Tensor) -> tuple[Tensor, Tensor, list]:
    """∂f/∂s, ∂f/∂a of the simulator at each row of (s, a) (raw observations), and the
    ``StepJacobian``s."""
    jacs = [sim.jacobian(si, ai, check=True) for si, ai in zip(s.detach().double().numpy(), a.detach().double().numpy())]
    return torch.tensor(np.stack([j.f_s for j in jacs])), torch.tensor(np.stack([j.f_a for j in jacs])), jacs


# --- per-step Jacobians of the networks ---------------------------------------------------------
def batch_jacobian(fn: Callable, *inputs: Tensor) -> list[Tensor]:
    """Per-row Jacobians (N, d_out, d_in) of a row-wise map ``fn`` of (N, d_in) inputs, one backward
    per output coordinate. Works for any autograd function, the simulator's included."""
    with torch.enable_grad():
        xs = [x.detach().clone().requires_grad_(True) for x in inputs]
        out = fn(*xs)
        rows = [torch.autograd.grad(out[:, k].sum(), xs, retain_graph=True) for k in range(out.shape[1])]
    return [torch.stack([r[j] for r in rows], 1).double() for j in range(len(xs))]


def model_jacobians(model: Callable, s: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
    """∂f̂/∂s, ∂f̂/∂a at each row, ξ = 0 (the model noise is additive, so they do not depend on ξ)."""
    f_s, f_a = batch_jacobian(lambda s_, a_: model(s_, a_, torch.zeros_like(s_)), s, a)
    return f_s, f_a


def policy_state_jacobian(policy: torch.nn.Module, s: Tensor, varsigma: Tensor) -> Tensor:
    """∂π(s, ς)/∂s at each row, for the given noise ς."""
    return batch_jacobian(lambda s_: policy(s_, varsigma)[0], s)[0]


def policy_param_jacobian(policy: torch.nn.Module, s: Tensor, varsigma: Tensor) -> Tensor:
    """∂π(s, ς)/∂θ at each row: (N, d_a, P), θ flattened in ``named_parameters()`` order."""
    params = estimators.policy_params(policy)

    def one(p, si, vi):
        return functional_call(policy, p, (si[None], vi[None]))[0][0]
    jac = vmap(jacrev(one), in_dims=(None, 0, 0))(params, s.detach(), varsigma)
    return torch.cat([jac[k].reshape(s.shape[0], -1, math.prod(params[k].shape)) for k in params], 2)


def spectral(m: Tensor) -> Tensor:
    """‖·‖₂ of a batch of matrices (..., r, c), through the smaller Gram matrix."""
    gram = m @ m.transpose(-1, -2) if m.shape[-2] <= m.shape[-1] else m.transpose(-1, -2) @ m
    return torch.linalg.eigvalsh(gram.double())[..., -1].clamp_min(0).sqrt()


def layer_bound(module: torch.nn.Module) -> float:
    """Π_l ‖W_l‖₂ over the Linear layers: the Lipschitz bound of an MLP with 1-Lipschitz activations
    (1 for an all-SN MLP, B.1). With SN these are the effective weights W/σ̂ of the eval-mode forward."""
    out = 1.0
    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            out *= float(torch.linalg.matrix_norm(m.weight.detach().double(), 2))
    return out


# --- 4. gradient paths ---------------------------------------------------------------------------
def gradient_path(f_s: Tensor, f_a: Tensor, pi_s: Tensor, pi_theta: Tensor) -> dict[str, Tensor]:
    """D_i = ‖dŝ_i/dθ‖₂, i = 0…H, of ŝ_{i+1} = f(ŝ_i, π(ŝ_i, ς_i; θ)) from the per-step Jacobians
    (the full chain rule of docs/errata.md E1): dŝ_0/dθ = 0,
    dŝ_{i+1}/dθ = (F_s + F_a Π_s) dŝ_i/dθ + F_a Π_θ.

    ``f_s`` (H, N, d_s, d_s), ``f_a`` (H, N, d_s, d_a), ``pi_s`` (H, N, d_a, d_s), ``pi_theta``
    (H, N, d_a, P). Returns D (H+1, N) and per step i < H the local constants L_f = ‖[F_s F_a]‖₂,
    L_π = ‖Π_s‖₂, L_θ = ‖Π_θ‖₂ and the closed-loop gain ‖F_s + F_a Π_s‖₂, each (H, N).
    """
    steps, n = f_s.shape[:2]
    g = torch.zeros(n, f_s.shape[2], pi_theta.shape[-1], dtype=pi_theta.dtype)
    d = [torch.zeros(n, dtype=torch.float64)]
    for i in range(steps):
        g = (f_s[i] + f_a[i] @ pi_s[i]).to(g.dtype) @ g + f_a[i].to(g.dtype) @ pi_theta[i]
        d.append(spectral(g))
    return {"D": torch.stack(d), "L_f": spectral(torch.cat([f_s, f_a], -1)), "L_pi": spectral(pi_s),
            "L_theta": spectral(pi_theta), "closed_loop": spectral(f_s + f_a @ pi_s)}


# --- rollouts ------------------------------------------------------------------------------------
@dataclass
class Rollout:
    """States and actions of N rollouts: s (H+1, N, d_s), a (H+1, N, d_a) in network coordinates."""

    s: Tensor
    a: Tensor


def rollout(policy, step: Callable, s0: Tensor, noise: estimators.Noise, h: int) -> Rollout:
    """s_{i+1} = step(s_i, a_i, ξ_i), a_i = π(s_i, ς_i), i < h."""
    return Rollout(*estimators.rollout(policy, step, s0, noise, h))


def _quantiles(x: Tensor) -> dict[str, float]:
    x = x.detach().double().flatten()
    x = x[torch.isfinite(x)]
    if not len(x):
        return {"mean": math.nan, **{f"q{int(q * 100)}": math.nan for q in QUANTILES}}
    return {"mean": float(x.mean()), **{f"q{int(q * 100)}": float(torch.quantile(x, q)) for q in QUANTILES}}


def rp_gradient(vx: instrument.ValueExpansion, s0: Tensor, noise: estimators.Noise, h: int) -> Tensor:
    """∇_θ of the batch objective (4.2) of ``vx`` (flattened in ``named_parameters()`` order)."""
    params = list(vx.policy.parameters())
    with torch.enable_grad():
        objective = vx.value_fn(h)(vx.policy, s0, noise).mean()
        grads = torch.autograd.grad(objective, params)
    return torch.cat([g.reshape(-1) for g in grads]).double()


def model_scale(agent) -> Optional[Tensor]:
    """The per-coordinate scale of the agent's observation normaliser (the model's units), or None."""
    norm = getattr(agent, "obs_norm", None)
    if norm is None or not getattr(norm, "enabled", False):
        return None
    return norm.scale.detach().double().clone()


def _path_jacobians(sim: Simulator, vx: instrument.ValueExpansion, path: Rollout, varsigma: Tensor,
                    h: int) -> dict[str, Tensor]:
    """Simulator, model and policy Jacobians at the states and actions 0…h−1 of ``path``, (h, N, …)."""
    n = path.s.shape[1]
    s, a = path.s[:h].reshape(h * n, -1), path.a[:h].reshape(h * n, -1)
    f_s, f_a, jacs = sim_jacobians(sim, s, a)
    fh_s, fh_a = model_jacobians(vx.model, s, a)
    pi_s = policy_state_jacobian(vx.policy, s, varsigma[:h].reshape(h * n, -1))
    out = dict(f_s=f_s, f_a=f_a, fh_s=fh_s, fh_a=fh_a, pi_s=pi_s,
               constrained=torch.tensor([j.constrained for j in jacs], dtype=torch.float64),
               nonsmooth=torch.tensor([j.nonsmooth for j in jacs], dtype=torch.float64))
    return {k: v.reshape(h, n, *v.shape[1:]) for k, v in out.items()}


def _masked_mean(x: Tensor, w: Tensor) -> Tensor:
    """Mean over the last axis with weights ``w`` (0/1), NaN where no weight."""
    return (x * w).sum(-1) / w.sum(-1)


def _in_units(j: dict[str, Tensor], scale: Optional[Tensor]) -> dict[str, Tensor]:
    """The Jacobians of ``_path_jacobians`` in the normaliser's units x = (s − shift)/scale."""
    if scale is None:
        return j
    out = dict(j)
    out["f_s"], out["f_a"] = to_units(j["f_s"], j["f_a"], scale)
    out["fh_s"], out["fh_a"] = to_units(j["fh_s"], j["fh_a"], scale)
    out["pi_s"] = j["pi_s"] * scale.to(j["pi_s"].dtype)
    return out


def _gradient_paths(vx, path: Rollout, varsigma: Tensor, systems: list[tuple], h: int,
                    chunk: int) -> list[dict[str, Tensor]]:
    """``gradient_path`` along ``path`` for each (F_s, F_a, Π_s) in ``systems`` (the same path in
    other coordinates or with other transition Jacobians), ``chunk`` start states at a time:
    dŝ_i/dθ holds d_s × P numbers per state."""
    pieces: list[list[dict]] = [[] for _ in systems]
    for c in range(0, path.s.shape[1], chunk):
        sl = slice(c, c + chunk)
        pi_t = torch.stack([policy_param_jacobian(vx.policy, path.s[i, sl], varsigma[i, sl]) for i in range(h)])
        for out, (f_s, f_a, pi_s) in zip(pieces, systems):
            out.append(gradient_path(f_s[:, sl], f_a[:, sl], pi_s[:, sl], pi_t))
    return [{k: torch.cat([p[k] for p in ps], 1) for k in ps[0]} for ps in pieces]


def _path_statistics(out: dict, detail: dict, name: str, j: dict, w: Tensor, suffix: str) -> None:
    """ε_f (coupled) and the local Lipschitz constants of one path in one coordinate system."""
    err = spectral(j["fh_s"] - j["f_s"]) + spectral(j["fh_a"] - j["f_a"])
    size = spectral(j["f_s"]) + spectral(j["f_a"])
    per_step = _masked_mean(err, w)
    out[f"eps_f_{name}{suffix}"] = float(per_step.max())
    out[f"eps_f_{name}_rel{suffix}"] = float(_masked_mean(err / size, w).max())
    out[f"eps_f_{name}_median{suffix}"] = float(err[w.bool()].median())  # the mean is heavy-tailed at contacts
    detail[f"eps_f_{name}_per_step{suffix}"] = per_step.tolist()
    keep = w.bool()
    for key, val in (("L_f_sim", spectral(torch.cat([j["f_s"], j["f_a"]], -1))),
                     ("L_f_model", spectral(torch.cat([j["fh_s"], j["fh_a"]], -1))),
                     ("L_pi", spectral(j["pi_s"]))):
        for q, v in _quantiles(val[keep]).items():
            out[f"{key}_{name}_{q}{suffix}"] = v
        detail[f"{key}_{name}{suffix}"] = val.tolist()


def _growth_statistics(out: dict, detail: dict, name: str, gp: dict, alive: Tensor, suffix: str) -> None:
    """Growth of D_i = ‖dŝ_i/dθ‖ per step against ρ = L_f sqrt(1 + L_π²) and L_f L_π (local constants)."""
    d, lf, lt = gp["D"], gp["L_f"], gp["L_theta"]
    rho, lflp = lf * torch.sqrt(1 + gp["L_pi"] ** 2), lf * gp["L_pi"]
    live = alive.bool()
    out[f"D_{name}{suffix}"] = [float(x) for x in d.median(1).values]
    out[f"closed_loop_{name}_median{suffix}"] = float(gp["closed_loop"][live].median())
    out[f"closed_loop_gt_LfLpi_{name}{suffix}"] = float((gp["closed_loop"] > lflp)[live].float().mean())
    out[f"rho_{name}_median{suffix}"] = float(rho[live].median())
    out[f"LfLpi_{name}_median{suffix}"] = float(lflp[live].median())
    if d.shape[0] > 2:
        keep = live[1:]  # steps i = 1…h−1: D_i > 0 and D_{i+1} defined
        out[f"growth_{name}_median{suffix}"] = float((d[2:] / d[1:-1])[keep].median())
        # the one-step recursions with that step's local constants: corrected (E1) and (C.12)'s rate
        corrected = d[2:] <= (rho[1:] * d[1:-1] + lf[1:] * lt[1:]) * (1 + 1e-6)
        c12 = d[2:] <= (lflp[1:] * d[1:-1] + lf[1:] * lt[1:]) * (1 + 1e-6)
        out[f"corrected_recursion_violated_{name}{suffix}"] = float((~corrected[keep]).float().mean())
        out[f"c12_recursion_violated_{name}{suffix}"] = float((~c12[keep]).float().mean())
    # (C.12) as printed and corrected (bounds.variance) at the largest local constants seen on the path
    sup = {S.h: d.shape[0] - 1, S.L_f: float(lf[live].max()), S.L_pi: float(gp["L_pi"][live].max()),
           S.L_theta: float(lt[live].max())}
    out[f"D_h_{name}_max{suffix}"] = float(d[-1][live[-1]].max())
    out[f"c12_bound_{name}{suffix}"] = float(V.c12(S.h).subs(sup).doit())
    out[f"c12_corrected_bound_{name}{suffix}"] = float(V.c12_corrected(S.h).subs(sup).doit())
    detail[f"gradient_path_{name}{suffix}"] = {k: v.tolist() for k, v in gp.items()}


def measure(agent, states: np.ndarray, sim: Simulator, n: int = 32, seed: int = 0, chunk: int = 8,
            n_fd: int = 4) -> dict:
    """All five measurements at the agent's current iterate, from ``n`` start states drawn from
    ``states`` (raw replay observations) with a generator of their own, so a training run that
    measures stays bit-identical. Returns ``summary`` (numbers) and ``detail`` (per-sample lists).
    Keys without suffix are in raw observation coordinates, ``*_units`` in the normaliser's units.

    Real paths end where the env's termination rule fires: their statistics use the states before
    that; imagined paths are kept whole (the estimator weights them by the learned survival).
    ``n_fd`` start states also get the whole-step central difference: the FD error at replay states
    (with contacts, unlike the test's contact-free states).
    """
    if agent.model is None or agent.cfg.h < 1:
        raise ValueError(f"{agent.cfg.algo} with h = {agent.cfg.h} has no learned model to measure")
    t0 = time.perf_counter()
    h = agent.cfg.h
    vx = instrument.value_expansion(agent)
    scale = model_scale(agent)
    raw = np.asarray(states, np.float64)
    ok = ~(np.abs(raw[:, sim.nq - 1:]) >= VELOCITY_CLIP).any(1)  # a clipped observation has no state
    rng = np.random.default_rng(seed)
    pick = rng.choice(np.flatnonzero(ok), size=min(n, int(ok.sum())), replace=False)
    s0 = torch.tensor(raw[pick], dtype=torch.float32)
    n = s0.shape[0]
    noise = vx.sample_noise(h, n, torch.Generator().manual_seed(seed))
    simm = SimulatorModel(sim)
    out: dict = {"h": h, "n": n, "replay_clipped_fraction": float((~ok).mean()), "normalised": scale is not None}
    detail: dict = {}
    with instrument.measuring(vx):
        paths = {"real": rollout(vx.policy, simm.model, s0, noise, h),
                 "imag": rollout(vx.policy, vx.model, s0, noise, h)}
        # 1. the FD error of the step Jacobian at replay states and policy actions
        fd = [max(relative_error(sim.jacobian(si, ai, check=True).f_s, fs),
                  relative_error(sim.jacobian(si, ai, check=True).f_a, fa))
              for si, ai in zip(paths["real"].s[0, :n_fd].double().numpy(), paths["real"].a[0, :n_fd].double().numpy())
              for fs, fa in [sim.fd_jacobian(si, ai)]]
        out["fd_rel_error_replay_median"], out["fd_rel_error_replay_max"] = float(np.median(fd)), float(np.max(fd))
        term = agent.terminal(paths["real"].s[1:h]).double()  # (h−1, N): the real episode ended at s_i
        alive = {"real": torch.cat([torch.ones(1, n, dtype=torch.float64), torch.cumprod(1 - term, 0)]),
                 "imag": torch.ones(h, n, dtype=torch.float64)}
        out["real_alive_fraction"] = float(alive["real"].mean())
        jac = {k: _path_jacobians(sim, vx, p, noise.varsigma, h) for k, p in paths.items()}
        # ε_f and the Lipschitz statistics use the states where the step is differentiable at FD resolution
        smooth = {k: alive[k] * (1 - j["nonsmooth"]) for k, j in jac.items()}
        for name, j in jac.items():
            out[f"constrained_{name}"] = float(_masked_mean(j["constrained"], alive[name]).mean())
            out[f"nonsmooth_{name}"] = float(_masked_mean(j["nonsmooth"], alive[name]).mean())
            for suffix, jj in (("", j), ("_units", _in_units(j, scale))):
                # 2. eps_f of (4.7), coupled reading; 3. local Lipschitz constants
                _path_statistics(out, detail, name, jj, smooth[name], suffix)
        # 2'. paired reading of (4.7): f on the real path against f̂ on the imagined path, same s_0 and ς
        for suffix, r, m in (("", jac["real"], jac["imag"]),
                             ("_units", _in_units(jac["real"], scale), _in_units(jac["imag"], scale))):
            paired = spectral(m["fh_s"] - r["f_s"]) + spectral(m["fh_a"] - r["f_a"])
            out[f"eps_f_paired{suffix}"] = float(_masked_mean(paired, smooth["real"] * smooth["imag"]).max())
        # 4. gradient paths: f̂ along the imagined path, f along the real one, in both coordinates
        for name, fk in (("imag", ("fh_s", "fh_a")), ("real", ("f_s", "f_a"))):
            systems = [(jj[fk[0]], jj[fk[1]], jj["pi_s"]) for jj in (jac[name], _in_units(jac[name], scale))]
            gps = _gradient_paths(vx, paths[name], noise.varsigma, systems, h, chunk)
            for suffix, gp in zip(("", "_units"), gps):
                _growth_statistics(out, detail, name, gp, alive[name], suffix)
        # 5. the RP-DP gradient through f̂, r̂ against the same estimator along the real trajectories
        ref = dataclasses.replace(vx, model=simm.model, reward=simm.reward, done_prob=None, terminal=agent.terminal)
        g_model, g_sim = rp_gradient(vx, s0, noise, h), rp_gradient(ref, s0, noise, h)
        out["grad_ref_norm"] = float(g_sim.norm())
        out["grad_model_norm"] = float(g_model.norm())
        out["grad_distance"] = float((g_model - g_sim).norm())
        out["grad_rel_distance"] = out["grad_distance"] / max(out["grad_ref_norm"], 1e-300)
        out["grad_cosine"] = float(g_model @ g_sim / (g_model.norm() * g_sim.norm()).clamp_min(1e-300))
        # the global bounds the networks carry (B.1): products of layer spectral norms, eval-mode weights
        out["policy_layer_bound"] = layer_bound(vx.policy)
        out["model_delta_layer_bound"] = layer_bound(agent.model.delta) if hasattr(agent.model, "delta") else math.nan
    out["seconds"] = time.perf_counter() - t0
    return {"summary": out, "detail": detail}


# --- training hook and command line ----------------------------------------------------------------
def append_csv(run_dir: Path, step: int, summary: dict) -> None:
    """One row per measurement in RUN_DIR/theory.csv: numbers only, a list ``D`` as columns D_0, D_1, …
    Rows from ``step`` on are replaced first, so a resumed run does not repeat the ones written after
    its checkpoint."""
    path = Path(run_dir) / "theory.csv"
    row: dict = {"step": step}
    for k, v in summary.items():
        if isinstance(v, list):
            row.update({f"{k}_{i}": x for i, x in enumerate(v)})
        else:
            row[k] = float(v) if isinstance(v, bool) else v
    rows = []
    if path.exists():
        with path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) < step]
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, list(row))
        w.writeheader()
        w.writerows(rows + [row])


def load_run(run_dir: Path):
    """(agent, replay observations, config, step) of a saved run, from config.json and its checkpoint."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir} is not a directory")
    if not (run_dir / "config.json").exists() or not (run_dir / CHECKPOINT).exists():
        raise ValueError(f"{run_dir} holds no config.json and {CHECKPOINT}")
    try:
        cfg = Config.from_dict(json.loads((run_dir / "config.json").read_text()))
        ck = torch.load(run_dir / CHECKPOINT, weights_only=False)
    except Exception as e:  # a torn or foreign file: one line, not a traceback
        first = str(e).splitlines()[0] if str(e) else ""
        raise ValueError(f"cannot read {run_dir}: {type(e).__name__}: {first}") from None
    if not cfg.uses_model:
        raise ValueError(f"{run_dir} is {cfg.algo} with h = {cfg.h}: no learned model to measure")
    env, _ = make_env(cfg.env)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    env.close()
    agent = Agent(cfg, obs_dim, act_dim)
    try:
        agent.load_state_dict(ck["agent"])
        return agent, ck["buffer"]["obs"], cfg, int(ck["loop"]["step"])
    except (KeyError, RuntimeError, TypeError) as e:  # written by another version of the trainers
        raise ValueError(f"{run_dir / CHECKPOINT} does not match the current trainers: {type(e).__name__}") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(message)


def main(argv: Optional[list[str]] = None) -> int:
    p = _Parser(prog="python -m trainers.theory", description=__doc__.split("\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true", help="print the measurement as JSON")
    p.add_argument("--samples", type=int, default=32, help="start states from the replay buffer")
    p.add_argument("--seed", type=int, default=0)
    try:
        args = p.parse_args(sys.argv[1:] if argv is None else argv)
        if args.samples < 2:
            raise ValueError(f"--samples must be >= 2, got {args.samples}")
        agent, states, cfg, step = load_run(Path(args.run_dir))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(cfg.threads)
    result = measure(agent, states, Simulator(cfg.env), n=args.samples, seed=args.seed)
    summary = {"run": str(args.run_dir), "env": cfg.env, "algo": cfg.algo, "sn": cfg.sn, "step": step,
               **result["summary"]}
    if args.json:
        print(json.dumps({**summary, "detail": result["detail"]}))
    else:
        for k, v in summary.items():
            print(f"{k:40s} {v:.4g}" if isinstance(v, float) else f"{k:40s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
