"""Section 5's quantities on Hopper-v5 / Walker2d-v5, with the simulator's own Jacobians (issue 13).

    python -m trainers.theory RUN_DIR [--json] [--samples N] [--seed S]
                              [--eps-v-states 16] [--eps-v-draws 4] [--eps-v-horizons 1,3,10,30]
    python -m trainers.theory RUN_DIR --hs 0,1,3,5,10,15 [--json]     # h* on the run (``h_sweep``)

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
   their distance is a full-scale proxy for the model part of the bias (Prop 5.8);
6. ε_v of (4.8) at the real (s_h, a_h): E‖∂Q^π/∂s − ∂Q̂/∂s‖₂ + ‖∂Q^π/∂a − ∂Q̂/∂a‖₂. Q^π's
   derivatives are not known on MuJoCo; they are *estimated* by the pathwise derivative of
   Q_H = r + γ r_1 + … + γ^H (Q̂ − α log π)(s_H, a_H) along the simulator with the policy noise held
   fixed, averaged over noise draws, for several H (``q_pathwise``, ``measure_eps_v``, which name
   the truncation, contact and Monte Carlo errors of that estimate).

Intervals. Every mean over start states (ε_f, ε_v, the means of the local constants) and the
gradient distance, relative distance and cosine carry a ``LEVEL`` = 95 % BCa bootstrap interval
over the start states (scipy.stats.bootstrap; trainers/ does not import verify/) and, for the
means, a heavy-tail flag; medians and quantiles are point values. A seed fixes everything.

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
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import mujoco
import numpy as np
import torch
from scipy import stats
from torch import Tensor
from torch.func import functional_call, jacrev, vmap

from bounds import symbols as S
from bounds import variance as V
from trainers import estimators, instrument, rundir
from trainers.envs import make_env
from trainers.rundir import CHECKPOINT  # noqa: F401 (callers name theory.CHECKPOINT)

VELOCITY_CLIP = 10.0  # gymnasium hopper_v5 / walker2d_v5 _get_obs
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
    def forward(ctx, s: Tensor, a: Tensor, simm: SimulatorModel):
        jacs = [simm.jacobian(si, ai) for si, ai in zip(s.detach().double().numpy(), a.detach().double().numpy())]
        simm.trace.append(jacs)
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
    simulator call serves the reward and the transition of the same (s, a); every (s, a) row is
    differenced once (``jacobian`` remembers it), so the real paths, the reference gradient and the
    ε_v rollouts share their Jacobians. ``trace`` collects the ``StepJacobian``s of every step taken."""

    def __init__(self, sim: Simulator):
        self.sim = sim
        self.trace: list[list[StepJacobian]] = []
        self._last: Optional[tuple] = None
        self._memo: dict[bytes, StepJacobian] = {}

    def jacobian(self, s: np.ndarray, a: np.ndarray) -> StepJacobian:
        """``sim.jacobian(s, a, check=True)`` of one float64 row, computed once per (s, a)."""
        key = s.tobytes() + a.tobytes()
        if key not in self._memo:
            self._memo[key] = self.sim.jacobian(s, a, check=True)
        return self._memo[key]

    def _step(self, s: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        if self._last is None or self._last[0] is not s or self._last[1] is not a:
            self._last = (s, a, *_SimStep.apply(s, a, self))
        return self._last[2], self._last[3]

    def model(self, s: Tensor, a: Tensor, xi: Optional[Tensor] = None) -> Tensor:
        return self._step(s, a)[0]

    def reward(self, s: Tensor, a: Tensor) -> Tensor:
        return self._step(s, a)[1]


def sim_jacobians(simm: SimulatorModel, s: Tensor, a: Tensor) -> tuple[Tensor, Tensor, list]:
    """∂f/∂s, ∂f/∂a of the simulator at each row of (s, a) (raw observations), and the
    ``StepJacobian``s."""
    jacs = [simm.jacobian(si, ai) for si, ai in zip(s.detach().double().numpy(), a.detach().double().numpy())]
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


def rp_gradients(vx: instrument.ValueExpansion, s0: Tensor, noise: estimators.Noise, h: int) -> Tensor:
    """∇_θ V̂_h(s_{0,n}) of (4.1) per start state, (N, P) float64 in ``named_parameters()`` order:
    one forward pass, one backward per row (the simulator's rows cannot be vmapped). Their mean is
    the batch gradient (4.2); the rows are what the intervals resample."""
    params = list(vx.policy.parameters())
    with torch.enable_grad():
        values = vx.value_fn(h)(vx.policy, s0, noise)
        rows = []
        for n in range(values.shape[0]):
            grads = torch.autograd.grad(values[n], params, retain_graph=True, allow_unused=True)
            rows.append(torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1).double()
                                   for p, g in zip(params, grads)]))
    return torch.stack(rows)


# --- 6. ε_v of (4.8) -----------------------------------------------------------------------------
@dataclass(frozen=True)
class EpsV:
    """Sizes of the ε_v (4.8) estimate: ``states`` real states s_h, ``draws`` policy-noise sequences
    per state, Q_H's pathwise derivative for each H in ``horizons``. Cost: about
    states · draws · max(horizons) step Jacobians (≈ 0.05–0.1 s each on one loaded core). The
    default is the training hook's; the command line takes larger ones."""

    states: int = 8
    draws: int = 2
    horizons: tuple[int, ...] = (1, 3, 10)


def q_pathwise(vx: instrument.ValueExpansion, simm: SimulatorModel, terminal: Callable, s: Tensor, a: Tensor,
               noise: estimators.Noise, horizon: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The estimate of Q^π behind ε_v and its pathwise derivative, per row:

        Q_H(s, a; ς) = r(s, a) + γ 1[s_1 not terminal] V_{H−1}(s_1; ς),

    s_1 = f(s, a) the simulator's step and V_{H−1} the value expansion (4.1) of
    ``estimators.mve_value`` along the simulator with the true reward, the env's termination rule
    and the critic's soft tail γ^{H−1}(Q̂ − α log π) — the target the critic is trained on, unrolled
    H − 1 more steps. ∂Q_H/∂(s, a) is backpropagated through the simulator's step Jacobians with ς
    held fixed (reparameterised policy noise). Returns (Q_H, ∂Q_H/∂s, ∂Q_H/∂a, nonsmooth): the last
    marks the rows that met, while alive, a step whose difference measures a contact switch
    (``StepJacobian.nonsmooth``), where the chain holds a jump, not a derivative."""
    if horizon < 1:
        raise ValueError(f"an eps_v horizon must be >= 1, got {horizon}")
    simm.trace = []
    with torch.enable_grad():
        s_, a_ = s.detach().clone().requires_grad_(True), a.detach().clone().requires_grad_(True)
        s1, r0 = simm.model(s_, a_), simm.reward(s_, a_)
        v = estimators.mve_value(vx.policy, simm.model, simm.reward, vx.critic, s1, noise, horizon - 1, vx.gamma,
                                 vx.alpha, terminal)
        q = r0 + vx.gamma * (~terminal(s1)).to(v.dtype) * v
        dq_s, dq_a = torch.autograd.grad(q.sum(), (s_, a_))
    alive = np.ones(s.shape[0], bool)
    nonsmooth = np.zeros(s.shape[0], bool)
    for jacs in simm.trace:
        nonsmooth |= alive & np.array([j.nonsmooth for j in jacs])
        alive &= ~terminal(torch.tensor(np.stack([j.next_obs for j in jacs]))).numpy()
    return q.detach(), dq_s.double(), dq_a.double(), torch.tensor(nonsmooth)


def measure_eps_v(vx: instrument.ValueExpansion, simm: SimulatorModel, terminal: Callable, s: Tensor, a: Tensor,
                  s_hat: Tensor, a_hat: Tensor, scale: Tensor | None, spec: EpsV, seed: int,
                  rng: np.random.Generator) -> tuple[dict, dict]:
    """ε_v of (4.8) at the real (s_h, a_h) (coupled reading, as (4.7)'s for RP-DP) and against the
    critic at the imagined (ŝ_h, â_h) of the same start state and ς (paired reading), for each H.

    ∂Q^π is estimated by the mean over ``spec.draws`` noise sequences of ∂Q_H (``q_pathwise``).
    What is exact and what is not: the simulator's step Jacobians are central differences
    (validated to ~1e-9 without contact); the rest is an estimate with three errors, each reported.
    (i) Truncation: Q_H's tail is the critic, so E ∂Q_H − ∂Q^π = γ^H · ∂(Q̂ − Q^π)(s_H, a_H)
    carried back through d(s_H, a_H)/d(s, a) — its weight γ^H is reported (``eps_v_gammaH_H*``),
    its transport is not bounded (chaotic contact dynamics can grow it), hence several H.
    (ii) Piecewise smoothness: a pathwise derivative differentiates the contact mode the rollout is
    in; the derivative of the expectation also has the mode switches' boundary terms, which this
    estimator (like every RP gradient) drops. Draws that cross a switch within the difference's eps
    (``nonsmooth``) are left out (``eps_v_clean_H*``: the fraction kept; states left with none drop
    out); the fraction of rollout steps with a contact or limit active is ``eps_v_constrained``.
    (iii) Monte Carlo: ‖mean of draws − ∂Q_H‖ adds noise that biases the norm upwards; its size is
    the per-state standard error ``eps_v_se_median_H*``. Termination enters Q_H as the env's rule,
    whose derivative is 0 almost everywhere. Per H: mean with BCa interval over states, median, max,
    heavy-tail flag, in raw and (``_units``) normaliser coordinates (∂Q/∂x = ∂Q/∂s · scale)."""
    out: dict = {}
    detail: dict = {}
    m, k = s.shape[0], spec.draws
    out["eps_v_states"] = m
    out["eps_v_draws"] = k
    horizons = sorted(set(spec.horizons))
    if m < 2 or not horizons:
        return out, detail
    gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 4, 8]).generate_state(1)[0]))
    noise = vx.sample_noise(max(horizons) - 1, k * m, gen)  # ς shared by every H (common random numbers)
    def rep(x: Tensor) -> Tensor:  # draw-major: row d·m + j is state j, draw d
        return x.repeat(k, 1)

    crit = {name: batch_jacobian(lambda s_, a_: vx.critic(s_, a_)[:, None], ss, aa)
            for name, ss, aa in (("coupled", s, a), ("paired", s_hat, a_hat))}
    crit = {name: (c[0][:, 0], c[1][:, 0]) for name, c in crit.items()}
    sc = torch.ones(s.shape[1], dtype=torch.float64) if scale is None else scale.double()
    for suffix, w in (("", 1.0), ("_units", sc)):  # the size ε_v compares with: ‖∂Q̂/∂s‖ + ‖∂Q̂/∂a‖
        c_s, c_a = crit["coupled"]
        out[f"eps_v_critic_grad_median{suffix}"] = float(((c_s * w).norm(dim=1) + c_a.norm(dim=1)).median())
    for hh in horizons:
        _, dq_s, dq_a, bad = q_pathwise(vx, simm, terminal, rep(s), rep(a), noise, hh)
        steps = [j for jacs in simm.trace for j in jacs]
        if hh == horizons[-1]:
            out["eps_v_constrained"] = float(np.mean([j.constrained for j in steps]))
            out["eps_v_clipped_out"] = float(np.mean([j.clipped_out for j in steps]))
        keep = (~bad).reshape(k, m).double()
        dq_s, dq_a = dq_s.reshape(k, m, -1), dq_a.reshape(k, m, -1)
        count = keep.sum(0)
        mean_s = (dq_s * keep[..., None]).sum(0) / count[:, None]
        mean_a = (dq_a * keep[..., None]).sum(0) / count[:, None]
        # the Monte Carlo standard error of the averaged derivative (its norm), states with ≥ 2 clean draws
        dev = ((dq_s - mean_s) ** 2).sum(-1) + ((dq_a - mean_a) ** 2).sum(-1)
        se = ((dev * keep).sum(0) / (count * (count - 1))).sqrt()
        out[f"eps_v_clean_H{hh}"] = float(keep.mean())
        out[f"eps_v_gammaH_H{hh}"] = vx.gamma ** hh
        out[f"eps_v_se_median_H{hh}"] = float(se[count >= 2].median()) if (count >= 2).any() else math.nan
        out[f"eps_v_dq_median_H{hh}"] = float((mean_s.norm(dim=1) + mean_a.norm(dim=1))[count > 0].median()) \
            if (count > 0).any() else math.nan
        for reading, (c_s, c_a) in crit.items():
            for suffix, w in (("", torch.ones_like(sc)), ("_units", sc)):
                err = ((mean_s - c_s) * w).norm(dim=1) + (mean_a - c_a).norm(dim=1)
                name = "eps_v" + ("" if reading == "coupled" else "_paired") + f"_H{hh}{suffix}"
                ok = (count > 0).numpy()
                vals = err.numpy()[ok]
                _mean_with_interval(out, name, vals, rng)
                if reading == "coupled":
                    out[f"{name}_median"] = float(np.median(vals)) if len(vals) else math.nan
                    out[f"{name}_max"] = float(np.max(vals)) if len(vals) else math.nan
                detail[name] = err.tolist()
    return out, detail


# --- intervals -------------------------------------------------------------------------------------
LEVEL = 0.95  # two-sided level of every interval here
N_RESAMPLES = 2000


def interval(stat: Callable[[np.ndarray], np.ndarray], n: int, rng: np.random.Generator) -> tuple[float, float]:
    """BCa bootstrap interval (``LEVEL``, ``scipy.stats.bootstrap``) of a statistic of the n start
    states, the independent unit of a measurement: ``stat(idx)`` maps integer resamples idx (..., n)
    to (...). (nan, nan) with fewer than 3 states or where the bootstrap degenerates (no spread)."""
    if n < 3:
        return math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a degenerate distribution: NaN limits, reported as such
        res = stats.bootstrap((np.arange(n),), lambda idx, axis=-1: stat(np.asarray(idx, int)), vectorized=True,
                              method="BCa", confidence_level=LEVEL, n_resamples=N_RESAMPLES, rng=rng)
    lo, hi = res.confidence_interval
    return float(lo), float(hi)


def heavy_tail(x: np.ndarray) -> bool:
    """A mean of nonnegative terms is carried by few of them: Kish's effective number
    (Σx)²/Σx² is below half the terms (an exponential sits at one half, a normal well above)."""
    x = np.abs(np.asarray(x, np.float64))
    x = x[np.isfinite(x)]
    total = (x ** 2).sum()
    return bool(total > 0 and x.sum() ** 2 / total < len(x) / 2)


def _mean_with_interval(out: dict, name: str, x: np.ndarray, rng: np.random.Generator) -> None:
    """``name`` (the mean of per-state values x), its interval ``_lo``/``_hi`` and ``_heavy``."""
    x = np.asarray(x, np.float64)
    out[name] = float(x.mean()) if len(x) else math.nan
    out[f"{name}_lo"], out[f"{name}_hi"] = interval(lambda idx: x[idx].mean(-1), len(x), rng)
    out[f"{name}_heavy"] = heavy_tail(x)


def model_scale(agent) -> Optional[Tensor]:
    """The per-coordinate scale of the agent's observation normaliser (the model's units), or None."""
    norm = getattr(agent, "obs_norm", None)
    if norm is None or not getattr(norm, "enabled", False):
        return None
    return norm.scale.detach().double().clone()


def _path_jacobians(simm: SimulatorModel, vx: instrument.ValueExpansion, path: Rollout, varsigma: Tensor,
                    h: int) -> dict[str, Tensor]:
    """Simulator, model and policy Jacobians at the states and actions 0…h−1 of ``path``, (h, N, …)."""
    n = path.s.shape[1]
    s, a = path.s[:h].reshape(h * n, -1), path.a[:h].reshape(h * n, -1)
    f_s, f_a, jacs = sim_jacobians(simm, s, a)
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


def _weighted(x: Tensor, w: Tensor) -> tuple[np.ndarray, np.ndarray]:
    x, w = x.detach().double().numpy(), w.detach().double().numpy()
    return np.where(w > 0, x, 0.0), w


def _max_of_means(out: dict, name: str, x: Tensor, w: Tensor, rng: np.random.Generator) -> np.ndarray:
    """(4.7)'s form: the max over steps i of the mean over start states (weights w ∈ {0, 1}, (h, N)),
    with its interval over the start states and the heavy-tail flag of the terms at the maximising
    step. Returns the per-step means."""
    x, w = _weighted(x, w)

    def stat(idx):
        with np.errstate(invalid="ignore", divide="ignore"):
            means = (x[:, idx] * w[:, idx]).sum(-1) / w[:, idx].sum(-1)
        return np.max(np.where(np.isnan(means), -np.inf, means), axis=0)

    per_step = (x * w).sum(-1) / w.sum(-1)
    i = int(np.nanargmax(per_step))
    out[name] = float(per_step[i])
    out[f"{name}_lo"], out[f"{name}_hi"] = interval(stat, x.shape[1], rng)
    out[f"{name}_heavy"] = heavy_tail(x[i][w[i] > 0])
    return per_step


def _pooled_mean(out: dict, name: str, x: Tensor, w: Tensor, rng: np.random.Generator) -> None:
    """The mean over all (step, state) with w = 1, its interval over the start states, heavy tail."""
    x, w = _weighted(x, w)
    out[name] = float((x * w).sum() / w.sum())
    out[f"{name}_lo"], out[f"{name}_hi"] = interval(
        lambda idx: (x[:, idx] * w[:, idx]).sum((0, -1)) / w[:, idx].sum((0, -1)), x.shape[1], rng)
    out[f"{name}_heavy"] = heavy_tail(x[w > 0])


def _path_statistics(out: dict, detail: dict, name: str, j: dict, w: Tensor, suffix: str,
                     rng: np.random.Generator) -> None:
    """ε_f (coupled) and the local Lipschitz constants of one path in one coordinate system."""
    err = spectral(j["fh_s"] - j["f_s"]) + spectral(j["fh_a"] - j["f_a"])
    size = spectral(j["f_s"]) + spectral(j["f_a"])
    per_step = _max_of_means(out, f"eps_f_{name}{suffix}", err, w, rng)
    _max_of_means(out, f"eps_f_{name}_rel{suffix}", err / size, w, rng)
    out[f"eps_f_{name}_median{suffix}"] = float(err[w.bool()].median())  # the mean is heavy-tailed at contacts
    detail[f"eps_f_{name}_per_step{suffix}"] = per_step.tolist()
    keep = w.bool()
    for key, val in (("L_f_sim", spectral(torch.cat([j["f_s"], j["f_a"]], -1))),
                     ("L_f_model", spectral(torch.cat([j["fh_s"], j["fh_a"]], -1))),
                     ("L_pi", spectral(j["pi_s"]))):
        for q, v in _quantiles(val[keep]).items():
            out[f"{key}_{name}_{q}{suffix}"] = v
        _pooled_mean(out, f"{key}_{name}_mean{suffix}", val, w, rng)
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


def _gradient_statistics(out: dict, g_model: Tensor, g_sim: Tensor, rng: np.random.Generator) -> None:
    """Distance, relative distance and cosine of the batch gradients (means of the per-state rows),
    with intervals over the start states; resampled through the Gram matrix of the rows (a resample
    is a vector of counts c, and ‖Σ c_n g_n‖² = cᵀ K c)."""
    n = g_model.shape[0]
    x = torch.cat([g_model, g_sim]).numpy()
    k = x @ x.T
    blocks = {"mm": k[:n, :n], "ss": k[n:, n:], "ms": k[:n, n:]}

    def sq(idx) -> dict[str, np.ndarray]:
        c = (idx[..., None] == np.arange(n)).sum(-2).astype(np.float64)
        return {key: np.einsum("...i,ij,...j->...", c, b, c) / idx.shape[-1] ** 2 for key, b in blocks.items()}

    stats_of = {
        "grad_distance": lambda q: np.sqrt(np.maximum(q["mm"] + q["ss"] - 2 * q["ms"], 0)),
        "grad_rel_distance": lambda q: np.sqrt(np.maximum(q["mm"] + q["ss"] - 2 * q["ms"], 0) / q["ss"]),
        "grad_cosine": lambda q: q["ms"] / np.sqrt(q["mm"] * q["ss"]),
    }
    full = sq(np.arange(n))
    out["grad_ref_norm"] = float(np.sqrt(full["ss"]))
    out["grad_model_norm"] = float(np.sqrt(full["mm"]))
    for name, f in stats_of.items():
        out[name] = float(f(full))
        out[f"{name}_lo"], out[f"{name}_hi"] = interval(lambda idx, f=f: f(sq(idx)), n, rng)


def start_states(states: np.ndarray, sim: Simulator, n: int, seed: int) -> tuple[Tensor, float]:
    """``n`` start states drawn from raw replay observations by a generator of their own (``seed``), and
    the fraction of observations left out: a velocity-clipped observation determines no state."""
    raw = np.asarray(states, np.float64)
    ok = ~(np.abs(raw[:, sim.nq - 1:]) >= VELOCITY_CLIP).any(1)
    pick = np.random.default_rng(seed).choice(np.flatnonzero(ok), size=min(n, int(ok.sum())), replace=False)
    return torch.tensor(raw[pick], dtype=torch.float32), float((~ok).mean())


def along_simulator(vx: instrument.ValueExpansion, simm: SimulatorModel, agent) -> instrument.ValueExpansion:
    """The same estimator along the real trajectories: the simulator's step and reward, the env's
    termination rule, the agent's policy and critic (measurement 5's reference)."""
    return dataclasses.replace(vx, model=simm.model, reward=simm.reward, done_prob=None, terminal=agent.terminal)


def measure(agent, states: np.ndarray, sim: Simulator, n: int = 32, seed: int = 0, chunk: int = 8,
            n_fd: int = 4, eps_v: EpsV = EpsV()) -> dict:
    """All six measurements at the agent's current iterate, from ``n`` start states drawn from
    ``states`` (raw replay observations) with a generator of their own, so a training run that
    measures stays bit-identical. Returns ``summary`` (numbers) and ``detail`` (per-sample lists).
    Keys without suffix are in raw observation coordinates, ``*_units`` in the normaliser's units.
    Every mean over start states carries a ``LEVEL`` BCa interval over them (``_lo``, ``_hi``) and a
    heavy-tail flag (``_heavy``); quantiles and medians are point values. The same ``seed`` gives
    the same numbers.

    Real paths end where the env's termination rule fires: their statistics use the states before
    that; imagined paths are kept whole (the estimator weights them by the learned survival).
    ``n_fd`` start states also get the whole-step central difference: the FD error at replay states
    (with contacts, unlike the test's contact-free states). ε_v (``measure_eps_v``) is measured at
    the first ``eps_v.states`` real s_h that are alive and not velocity-clipped.
    """
    if agent.model is None or agent.cfg.h < 1:
        raise ValueError(f"{agent.cfg.algo} with h = {agent.cfg.h} has no learned model to measure")
    t0, c0 = time.perf_counter(), time.process_time()
    h = agent.cfg.h
    vx = instrument.value_expansion(agent)
    scale = model_scale(agent)
    s0, clipped = start_states(states, sim, n, seed)
    boot = np.random.default_rng(np.random.SeedSequence([seed, 2]))  # the intervals' resamples
    n = s0.shape[0]
    noise = vx.sample_noise(h, n, torch.Generator().manual_seed(seed))
    simm = SimulatorModel(sim)
    out: dict = {"h": h, "n": n, "replay_clipped_fraction": clipped, "normalised": scale is not None,
                 "level": LEVEL}
    detail: dict = {}
    with instrument.measuring(vx):
        paths = {"real": rollout(vx.policy, simm.model, s0, noise, h),
                 "imag": rollout(vx.policy, vx.model, s0, noise, h)}
        # 1. the FD error of the step Jacobian at replay states and policy actions
        fd = [max(relative_error(simm.jacobian(si, ai).f_s, fs), relative_error(simm.jacobian(si, ai).f_a, fa))
              for si, ai in zip(paths["real"].s[0, :n_fd].double().numpy(), paths["real"].a[0, :n_fd].double().numpy())
              for fs, fa in [sim.fd_jacobian(si, ai)]]
        out["fd_rel_error_replay_median"], out["fd_rel_error_replay_max"] = float(np.median(fd)), float(np.max(fd))
        term = agent.terminal(paths["real"].s[1:h + 1]).double()  # (h, N): the real episode ended at s_i
        alive_all = torch.cat([torch.ones(1, n, dtype=torch.float64), torch.cumprod(1 - term, 0)])  # s_0…s_h
        alive = {"real": alive_all[:h], "imag": torch.ones(h, n, dtype=torch.float64)}
        out["real_alive_fraction"] = float(alive["real"].mean())
        jac = {k: _path_jacobians(simm, vx, p, noise.varsigma, h) for k, p in paths.items()}
        # ε_f and the Lipschitz statistics use the states where the step is differentiable at FD resolution
        smooth = {k: alive[k] * (1 - j["nonsmooth"]) for k, j in jac.items()}
        for name, j in jac.items():
            out[f"constrained_{name}"] = float(_masked_mean(j["constrained"], alive[name]).mean())
            out[f"nonsmooth_{name}"] = float(_masked_mean(j["nonsmooth"], alive[name]).mean())
            for suffix, jj in (("", j), ("_units", _in_units(j, scale))):
                # 2. eps_f of (4.7), coupled reading; 3. local Lipschitz constants
                _path_statistics(out, detail, name, jj, smooth[name], suffix, boot)
        # 2'. paired reading of (4.7): f on the real path against f̂ on the imagined path, same s_0 and ς
        for suffix, r, m in (("", jac["real"], jac["imag"]),
                             ("_units", _in_units(jac["real"], scale), _in_units(jac["imag"], scale))):
            paired = spectral(m["fh_s"] - r["f_s"]) + spectral(m["fh_a"] - r["f_a"])
            _max_of_means(out, f"eps_f_paired{suffix}", paired, smooth["real"] * smooth["imag"], boot)
        # 4. gradient paths: f̂ along the imagined path, f along the real one, in both coordinates
        for name, fk in (("imag", ("fh_s", "fh_a")), ("real", ("f_s", "f_a"))):
            systems = [(jj[fk[0]], jj[fk[1]], jj["pi_s"]) for jj in (jac[name], _in_units(jac[name], scale))]
            gps = _gradient_paths(vx, paths[name], noise.varsigma, systems, h, chunk)
            for suffix, gp in zip(("", "_units"), gps):
                _growth_statistics(out, detail, name, gp, alive[name], suffix)
        # 5. the RP-DP gradient through f̂, r̂ against the same estimator along the real trajectories
        _gradient_statistics(out, rp_gradients(vx, s0, noise, h), rp_gradients(along_simulator(vx, simm, agent), s0, noise, h),
                             boot)
        # 6. ε_v of (4.8) at the real s_h (alive, a determined state) and the imagined ŝ_h of the same s_0
        s_h = paths["real"].s[h]
        usable = alive_all[h].bool() & ~(s_h[:, sim.nq - 1:].abs() >= VELOCITY_CLIP).any(1)
        idx = torch.nonzero(usable).flatten()[:eps_v.states]
        ev, ev_detail = measure_eps_v(vx, simm, agent.terminal, s_h[idx], paths["real"].a[h][idx],
                                      paths["imag"].s[h][idx], paths["imag"].a[h][idx], scale, eps_v, seed, boot)
        out.update(ev)
        detail.update(ev_detail)
        # the global bounds the networks carry (B.1): products of layer spectral norms, eval-mode weights
        out["policy_layer_bound"] = layer_bound(vx.policy)
        out["model_delta_layer_bound"] = layer_bound(agent.model.delta) if hasattr(agent.model, "delta") else math.nan
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0
    out["step_jacobians"] = len(simm._memo)
    return {"summary": out, "detail": detail}


# --- h* on a run (issue 32 §4) -------------------------------------------------------------------------
def sweep_statistics(kd: np.ndarray, kg: np.ndarray, batch: int, idx: np.ndarray) -> np.ndarray:
    """(b, v, m) of ``h_sweep`` per h for resamples ``idx`` (..., n) of the start states: shape
    (..., 3, H). ``kd[h]``, ``kg[h]`` are the n × n Gram matrices of the rows ĝ_h − g_ref and ĝ_h; with
    the counts c of a resample, b² = cᵀ K_d c / n², v = c·diag(K_g)/n − cᵀ K_g c / n², m = b² + v/N."""
    n = kd.shape[-1]
    c = (np.asarray(idx)[..., None] == np.arange(n)).sum(-2).astype(np.float64)  # (..., n)
    quad = lambda k: np.einsum("...i,hij,...j->...h", c, k, c) / n ** 2
    b = np.sqrt(np.maximum(quad(kd), 0))
    v = np.einsum("...i,hi->...h", c, np.diagonal(kg, axis1=1, axis2=2)) / n - quad(kg)
    return np.stack([b, v, b ** 2 + v / batch], -2)


def h_sweep(agent, states: np.ndarray, sim: Simulator, hs: tuple[int, ...], n: int = 32, seed: int = 0,
            batch: Optional[int] = None) -> dict:
    """The RP-DP gradient (4.2) through f̂ at each h of ``hs``, held against one reference: the same
    estimator along the real trajectories (simulator Jacobians, true reward, the agent's critic) at
    H = max(hs), from the same ``n`` replay start states and policy noise. Per h: the bias proxy
    b(h) = ‖E ĝ_h − E g_ref‖, the per-sample variance v(h) = E‖ĝ_h − E ĝ_h‖² and the batch MSE
    m(h) = b(h)² + v(h)/N (N = ``batch``, default the run's batch size), each with a ``LEVEL`` BCa
    interval over the start states (resampled jointly for every h), and the argmin of m with the
    fraction of resamples that pick each h. The reference is not ∇J: at H it still ends on the critic
    (weight γ^H), so b(h) measures how far the h-step model estimate is from the longest real unroll."""
    if agent.model is None:
        raise ValueError(f"{agent.cfg.algo} has no learned model to unroll")
    t0 = time.perf_counter()
    H, batch = max(hs), batch or agent.cfg.batch_size
    vx = instrument.value_expansion(agent)
    s0, _ = start_states(states, sim, n, seed)
    n = s0.shape[0]
    noise = vx.sample_noise(H, n, torch.Generator().manual_seed(seed))
    ref = along_simulator(vx, SimulatorModel(sim), agent)
    with instrument.measuring(vx):
        g_ref = rp_gradients(ref, s0, noise, H)
        grams = []
        for h in hs:  # the rows are P-long: keep n × n Gram matrices, resampled through counts
            g_h = rp_gradients(vx, s0, noise, h)
            d = g_h - g_ref
            grams.append(((d @ d.T).numpy(), (g_h @ g_h.T).numpy()))
    kd, kg = (np.stack(k) for k in zip(*grams))  # (len(hs), n, n)
    stats_of = lambda idx: sweep_statistics(kd, kg, batch, idx)
    full = stats_of(np.arange(n))
    boot = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    resamples = boot.integers(0, n, size=(N_RESAMPLES, n))
    picks = np.asarray(hs)[stats_of(resamples)[:, 2].argmin(-1)]
    rows = []
    for k, h in enumerate(hs):
        row = {"h": h}
        for j, name in enumerate(("bias", "variance", "mse")):
            row[name] = float(full[j, k])
            row[f"{name}_lo"], row[f"{name}_hi"] = interval(lambda idx, j=j, k=k: stats_of(idx)[..., j, k], n, boot)
        row["argmin_share"] = float((picks == h).mean())
        rows.append(row)
    return {"n": n, "batch": batch, "reference_H": H, "level": LEVEL, "ref_norm": float(g_ref.mean(0).norm()),
            "h_best": int(hs[int(full[2].argmin())]), "rows": rows, "seconds": time.perf_counter() - t0}


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
    agent, ck = rundir.load_agent(run_dir)
    if not agent.cfg.uses_model:
        raise ValueError(f"{run_dir} is {agent.cfg.algo} with h = {agent.cfg.h}: no learned model to measure")
    return agent, ck["buffer"]["obs"], agent.cfg, int(ck["loop"]["step"])


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(message)


def main(argv: Optional[list[str]] = None) -> int:
    p = _Parser(prog="python -m trainers.theory", description=__doc__.split("\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true", help="print the measurement as JSON")
    p.add_argument("--samples", type=int, default=32, help="start states from the replay buffer")
    p.add_argument("--seed", type=int, default=0, help="start states, policy noise and resamples")
    p.add_argument("--eps-v-states", type=int, default=16, help="real states s_h at which eps_v is measured")
    p.add_argument("--eps-v-draws", type=int, default=4, help="policy-noise sequences per state")
    p.add_argument("--eps-v-horizons", default="1,3,10,30", help="rollout lengths H of Q_H, comma-separated")
    p.add_argument("--hs", default=None, help="instead: the h-sweep (h_sweep) at these h, comma-separated, e.g. 0,1,3,5,10,15")
    try:
        args = p.parse_args(sys.argv[1:] if argv is None else argv)
        if args.samples < 2:
            raise ValueError(f"--samples must be >= 2, got {args.samples}")
        try:
            horizons = tuple(int(x) for x in args.eps_v_horizons.split(","))
        except ValueError:
            raise ValueError(f"--eps-v-horizons must be integers separated by commas, got {args.eps_v_horizons!r}") from None
        if min(horizons) < 1 or args.eps_v_draws < 2 or args.eps_v_states < 0:
            raise ValueError("--eps-v-horizons must be >= 1, --eps-v-draws >= 2, --eps-v-states >= 0")
        try:
            hs = tuple(sorted({int(x) for x in args.hs.split(",")})) if args.hs else ()
        except ValueError:
            raise ValueError(f"--hs must be integers separated by commas, got {args.hs!r}") from None
        if hs and (hs[0] < 0 or hs[-1] < 1):
            raise ValueError(f"--hs must be >= 0 with a largest h >= 1, got {args.hs!r}")
        agent, states, cfg, step = load_run(Path(args.run_dir))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(cfg.threads)
    if hs:
        res = {"run": str(args.run_dir), "env": cfg.env, "sn": cfg.sn, "trained_h": cfg.h, "step": step,
               **h_sweep(agent, states, Simulator(cfg.env), hs, n=args.samples, seed=args.seed)}
        if args.json:
            print(json.dumps(res))
        else:
            print(f"{res['env']} step {step}: RP-DP through f̂ against the real unroll at H = {res['reference_H']}, "
                  f"{res['n']} start states, batch {res['batch']}, {LEVEL:.0%} BCa; argmin of the MSE: h = {res['h_best']}")
            for r in res["rows"]:
                print(f"h={r['h']:3d}  bias {r['bias']:.4g} [{r['bias_lo']:.4g}, {r['bias_hi']:.4g}]  "
                      f"var {r['variance']:.4g} [{r['variance_lo']:.4g}, {r['variance_hi']:.4g}]  "
                      f"mse {r['mse']:.4g} [{r['mse_lo']:.4g}, {r['mse_hi']:.4g}]  argmin share {r['argmin_share']:.2f}")
        return 0
    spec = EpsV(states=args.eps_v_states, draws=args.eps_v_draws, horizons=horizons)
    result = measure(agent, states, Simulator(cfg.env), n=args.samples, seed=args.seed, eps_v=spec)
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
