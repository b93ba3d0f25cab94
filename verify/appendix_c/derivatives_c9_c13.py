"""The per-step derivative bounds (C.9)–(C.13): both sides of every inequality and identity, on toy MDPs.

A proposition's bound can hold on an instance while the proof behind it is broken; these checks
evaluate each numbered step of the proofs on its own. This module holds the derivative steps
(C.9)–(C.13) (the core of the proofs of Prop 5.4 and 5.8), the path instances and the report's
``proof_step_figures`` and ``proof_step_markdown``; ``verify.appendix_c.lemma_c1`` builds Lemma C.1
on it.

Instances. The derivative steps run on scalar (d_s = d_a = 1) model/policy pairs
f̂(s, a, ξ) = A s + B a + c ξ and π_θ(s, ς) = K φ(s) + θ + σ ς with φ = id (linear) or tanh
(saturating), θ the action offset. With θ an offset, ∂π/∂θ = 1 everywhere, so L_θ = 1 holds
exactly on all of ℝ, and the Lipschitz constants of Appendix A.2 (jointly in (s, a, ξ) and
(s, ς)) are exact: L_f = ‖(A, B, c)‖, L_π = ‖(K, σ)‖ (sup of |K φ'| is |K|, at s = 0). No
invariant domain is needed, so expanding instances are certified too. The pathwise derivatives
are exact (forward-mode autograd, ``trainers.estimators.trajectory_jacobians``); where a step is
per trajectory, the measured side is the maximum over the sampled trajectories (exact, so its
interval is degenerate) and the report says so: a holding verdict is on the sample, not a
certificate of the supremum.

Every bound comes from ``bounds`` (sympy, evaluated with ``bounds.numeric.Evaluator``); the
intermediate lines of a proof that have measured quantities on their right-hand side (a recursion
step such as ‖dâ_i/dθ‖ ≤ L_f L_π ‖dâ_{i−1}/dθ‖ + L_θ) are written here, next to the check, as
functions of the measured inputs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import sympy as sp
import torch
from torch import Tensor, nn
from torch.func import jacfwd, vmap

from bounds import variance as BV
from bounds.numeric import Evaluator
from bounds.symbols import i as I_SYMBOL
from trainers.estimators import Noise, rollout, trajectory_jacobians
from verify.mutations import changes
from verify.verdict import CheckResult, Control

DTYPE = torch.float64
#: relative residual below which a chain-rule identity counts as exact in float64
IDENTITY_TOL = 1e-9


# --- instances ------------------------------------------------------------------------------------

class OffsetPolicy(nn.Module):
    """π_θ(s, ς) = K φ(s) + θ + σ ς, θ ∈ ℝ^{d_a} the action offset; φ = tanh when ``saturate``."""

    def __init__(self, K: float, sigma: float, saturate: bool, theta: float = 0.0):
        super().__init__()
        self.K, self.sigma, self.saturate = float(K), float(sigma), saturate
        self.theta = nn.Parameter(torch.tensor([float(theta)], dtype=DTYPE))

    def act(self, s: Tensor, varsigma: Tensor, theta: Tensor) -> Tensor:
        phi = torch.tanh(s) if self.saturate else s
        return self.K * phi + theta + self.sigma * varsigma

    def forward(self, s: Tensor, varsigma: Tensor):
        return self.act(s, varsigma, self.theta), None


@dataclass(frozen=True)
class PathInstance:
    """A scalar model/policy pair with exact Appendix A.2 constants (module docstring)."""

    name: str
    regime: str
    A: float
    B: float
    c: float
    K: float
    sigma: float
    saturate: bool = False
    s0_scale: float = 1.0  # ζ = Uniform[−s0_scale, s0_scale]
    wiggle: float = 0.0  # w of the model term w·sin(s): makes ∂f̂/∂s state-dependent

    @property
    def L_f(self) -> float:
        # sup over s of ‖(A + w cos s, B, c)‖, attained where cos s = sign(A w)
        return math.hypot(abs(self.A) + abs(self.wiggle), self.B, self.c)

    @property
    def L_pi(self) -> float:
        return math.hypot(self.K, self.sigma)

    @property
    def L_theta(self) -> float:
        return 1.0

    @property
    def closed_loop(self) -> float:
        """|A + w + B K|: the growth of dŝ/dθ per step at s = 0 (where φ' = 1 and cos s = 1)."""
        return abs(self.A + self.wiggle + self.B * self.K)

    def consts(self) -> dict[str, float]:
        return {"L_f": self.L_f, "L_pi": self.L_pi, "L_theta": self.L_theta}

    def describe(self) -> dict:
        return {"mdp": self.name, "regime": self.regime, "A": self.A, "B": self.B, "c": self.c, "w": self.wiggle,
                "K": self.K, "sigma": self.sigma, "policy": "K tanh(s)+θ+σς" if self.saturate else "K s+θ+σς",
                "L_f": round(self.L_f, 6), "L_pi": round(self.L_pi, 6), "L_theta": 1.0,
                "closed_loop": round(self.closed_loop, 6)}

    def policy(self) -> OffsetPolicy:
        return OffsetPolicy(self.K, self.sigma, self.saturate)

    def model(self, s: Tensor, a: Tensor, xi: Tensor) -> Tensor:
        out = self.A * s + self.B * a + self.c * xi
        return out + self.wiggle * torch.sin(s) if self.wiggle else out

    def sample(self, n: int, horizon: int, seed: int) -> tuple[Tensor, Noise]:
        """n start states from ζ and Gaussian unit noise for ``horizon`` model steps."""
        g = torch.Generator().manual_seed(seed)
        s0 = (2 * torch.rand(n, 1, generator=g, dtype=DTYPE) - 1) * self.s0_scale
        return s0, Noise(torch.randn(horizon + 1, n, 1, generator=g, dtype=DTYPE),
                         torch.randn(horizon, n, 1, generator=g, dtype=DTYPE))


#: The regimes of issue 8: constants below, at and above 1, and L_f, L_π < 1 with an expanding
#: closed loop (|A + BK| > 1 although L_f < 1 and L_π < 1: the suspected failure of (C.10)).
INSTANCES = {
    "below": PathInstance("scalar-below", "L_f, L_π < 1, contracting", 0.5, 0.5, 0.1, 0.5, 0.1),
    "sub1-expanding": PathInstance("scalar-sub1-expanding", "L_f, L_π < 1, expanding closed loop",
                                   0.69, 0.69, 0.0, 0.95, 0.1),
    "at": PathInstance("scalar-at", "L_f = L_π = 1", 0.6, 0.8, 0.0, 0.6, 0.8),
    "above": PathInstance("scalar-above", "L_f, L_π > 1", 1.1, 0.5, 0.1, 1.0, 0.5),
}

#: State-dependent twins: the derivatives depend on the state, so the trajectory-to-trajectory
#: deviations of Lemma C.1 are not identically 0. The tanh policies saturate (bounded
#: trajectories); the wiggle model keeps the closed loop expanding everywhere (1.17 to 1.35) with
#: L_f, L_π < 1, so the deviations grow geometrically.
SATURATING = {
    "sub1-expanding-wiggle": PathInstance("wiggle-sub1-expanding", "L_f, L_π < 1, expanding, ∂f̂/∂s varies",
                                          0.6, 0.69, 0.0, 0.95, 0.1, wiggle=0.09, s0_scale=2.0),
    "below-tanh": PathInstance("tanh-below", "L_f, L_π < 1, contracting", 0.5, 0.5, 0.3, 0.5, 0.3,
                               saturate=True, s0_scale=2.0),
    "sub1-expanding-tanh": PathInstance("tanh-sub1-expanding", "L_f, L_π < 1, expanding at 0",
                                        0.69, 0.69, 0.0, 0.95, 0.1, saturate=True, s0_scale=2.0),
    "above-tanh": PathInstance("tanh-above", "L_f, L_π > 1", 1.1, 0.5, 0.3, 1.0, 0.5,
                               saturate=True, s0_scale=2.0),
}


# --- measurement ----------------------------------------------------------------------------------

@dataclass
class DerivativeTrace:
    """Exact pathwise and partial derivatives along N sampled trajectories, steps 0..H.

    ``ds``, ``da``: dŝ_i/dθ, dâ_i/dθ, shape (N, H+1, 1, P); ``Fs``, ``Fa``: ∂ŝ_i/∂ŝ_{i−1},
    ∂ŝ_i/∂â_{i−1} at step i (index 0 unused, zero); ``Ps``, ``Pt``: ∂â_i/∂ŝ_i, ∂â_i/∂θ.
    """

    inst: PathInstance
    ds: Tensor
    da: Tensor
    Fs: Tensor
    Fa: Tensor
    Ps: Tensor
    Pt: Tensor

    @property
    def horizon(self) -> int:
        return self.ds.shape[1] - 1

    def norms(self) -> dict[str, np.ndarray]:
        """Spectral norms (N, H+1): S = ‖dŝ_i/dθ‖, A = ‖dâ_i/dθ‖, X = ‖dx̂_i/dθ‖, x̂ = (ŝ, â)."""
        sn = lambda m: torch.linalg.matrix_norm(m, 2).numpy()
        return {"S": sn(self.ds), "A": sn(self.da), "X": sn(torch.cat([self.ds, self.da], -2))}


def measure_derivatives(inst: PathInstance, horizon: int, n: int, seed: int = 0) -> DerivativeTrace:
    """Roll out π under f̂ from ζ and record the exact derivatives of ``DerivativeTrace``."""
    policy = inst.policy()
    s0, noise = inst.sample(n, horizon, seed)
    ds, da = trajectory_jacobians(policy, inst.model, s0, noise, horizon)
    ds, da = ds.transpose(0, 1), da.transpose(0, 1)  # (N, H+1, d, P)
    S, Act = (x.transpose(0, 1) for x in rollout(policy, inst.model, s0, noise, horizon))  # (N, H+1, 1)
    vs = noise.varsigma.transpose(0, 1)
    theta = policy.theta.detach()
    pol = policy.act
    # partial Jacobians at every (trajectory, step) point: vmap over both axes
    pts = lambda f: vmap(vmap(f, in_dims=(None, 0, 0)), in_dims=(None, 0, 0))
    Ps = pts(jacfwd(lambda th, s_, v_: pol(s_, v_, th), argnums=1))(theta, S, vs)
    Pt = pts(jacfwd(lambda th, s_, v_: pol(s_, v_, th), argnums=0))(theta, S, vs)
    xi = noise.xi.transpose(0, 1)
    both = lambda f: vmap(vmap(f))
    Fs = both(jacfwd(inst.model, argnums=0))(S[:, :-1], Act[:, :-1], xi)
    Fa = both(jacfwd(inst.model, argnums=1))(S[:, :-1], Act[:, :-1], xi)
    pad = torch.zeros_like(Fs[:, :1])
    return DerivativeTrace(inst, ds, da, torch.cat([pad, Fs], 1), torch.cat([pad, Fa], 1), Ps, Pt)


# --- evaluation of the bounds --------------------------------------------------------------------

@lru_cache(maxsize=None)
def _evaluator(key: str, expr_fn: Callable[[], sp.Expr], change: str = "") -> Evaluator:
    expr = expr_fn()
    return Evaluator(changes(expr, I_SYMBOL)[change] if change else expr, name=f"{key} {change}".strip())


def bound_at(key: str, expr_fn: Callable[[], sp.Expr], inst, steps: np.ndarray, change: str = "",
             **extra) -> np.ndarray:
    """The sympy bound ``expr_fn()`` (a function of the step ``i``) at ``steps`` for ``inst``'s
    constants, with the structural ``change`` of ``verify.mutations`` if given."""
    return _evaluator(key, expr_fn, change)(i=steps, **inst.consts(), **extra).value


# --- the steps ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One line of a proof: ``sides(trace, norms)`` returns (left, right) of shape (N, H+1).

    ``kind`` "identity": left is the relative residual ‖lhs − rhs‖/‖lhs‖, right is IDENTITY_TOL.
    ``control(trace, norms)`` returns a deliberately wrong right side that must fail on
    ``control_on`` (an instance key).
    """

    claim: str
    form: str
    line: str
    kind: str
    sides: Callable
    control: Callable
    control_on: str


def _rel(x: Tensor, y: Tensor) -> np.ndarray:
    num = torch.linalg.matrix_norm(x - y, 2)
    den = torch.linalg.matrix_norm(x, 2).clamp_min(1e-300)
    return (num / den).numpy()


def _prev(x: Tensor) -> Tensor:
    """x_{i−1} aligned with step i (step 0 gets zeros; steps start at i = 1)."""
    return torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1)


def _c9_printed(t: DerivativeTrace) -> Tensor:
    return t.Ps @ t.Fa @ _prev(t.da) + t.Pt


def _c9_full(t: DerivativeTrace) -> Tensor:
    return t.Ps @ (t.Fs @ _prev(t.ds) + t.Fa @ _prev(t.da)) + t.Pt


def _identity(rhs_fn):
    def sides(t, nm, target):
        return _rel(getattr(t, target), rhs_fn(t)), np.full(nm["S"].shape, IDENTITY_TOL)
    return sides


def _steps_grid(t: DerivativeTrace) -> np.ndarray:
    return np.arange(t.horizon + 1, dtype=float)


def _closed(key, expr_fn, which):
    def sides(t, nm, change: str = ""):
        right = bound_at(key, expr_fn, t.inst, _steps_grid(t), change=change)
        return nm[which], np.broadcast_to(right, nm[which].shape)
    sides.closed_form = expr_fn  # a sympy bound: ``structural_controls`` can change it
    return sides


def _make_steps() -> list[Step]:
    c = lambda t: t.inst.consts()
    prev = lambda x: np.concatenate([np.zeros_like(x[:, :1]), x[:, :-1]], 1)
    ident = lambda rhs_fn, target: (lambda t, nm: _identity(rhs_fn)(t, nm, target))
    drop_pt = lambda t: t.Ps @ (t.Fs @ _prev(t.ds) + t.Fa @ _prev(t.da))
    growth = lambda t: np.arange(t.horizon + 1, dtype=float)
    return [
        Step("C.9", "printed", "dâ_i/dθ = ∂â_i/∂ŝ_i·∂ŝ_i/∂â_{i−1}·dâ_{i−1}/dθ + ∂â_i/∂θ", "identity",
             ident(_c9_printed, "da"), ident(drop_pt, "da"), "below"),
        Step("C.9", "corrected", "dâ_i/dθ = ∂â_i/∂ŝ_i·(∂ŝ_i/∂ŝ_{i−1}·dŝ_{i−1}/dθ + ∂ŝ_i/∂â_{i−1}·dâ_{i−1}/dθ) + ∂â_i/∂θ",
             "identity", ident(_c9_full, "da"), ident(drop_pt, "da"), "below"),
        Step("C.12", "printed", "dŝ_i/dθ = ∂ŝ_i/∂ŝ_{i−1}·dŝ_{i−1}/dθ + ∂ŝ_i/∂â_{i−1}·dâ_{i−1}/dθ (first line)",
             "identity", ident(lambda t: t.Fs @ _prev(t.ds) + t.Fa @ _prev(t.da), "ds"),
             ident(lambda t: t.Fa @ _prev(t.da), "ds"), "below"),
        Step("C.10", "printed", "‖dâ_i/dθ‖ ≤ L_f L_π ‖dâ_{i−1}/dθ‖ + L_θ (recursion)", "bound",
             lambda t, nm: (nm["A"], c(t)["L_f"] * c(t)["L_pi"] * prev(nm["A"]) + c(t)["L_theta"]),
             lambda t, nm: c(t)["L_f"] * c(t)["L_pi"] * prev(nm["A"]), "below"),
        Step("C.10", "printed", "‖dâ_i/dθ‖ ≤ L_f^i L_π^i L_θ + L_θ Σ_{j<i} L_f^j L_π^j (first inequality)", "bound",
             _closed("c10_unrolled", BV.c10_unrolled, "A"),
             lambda t, nm: c(t)["L_theta"] * (c(t)["L_f"] * c(t)["L_pi"]) ** growth(t), "below"),
        Step("C.10", "printed", "‖dâ_i/dθ‖ ≤ L_θ (i+1) L̃_f^i L̃_π^i", "bound",
             _closed("c10", BV.c10, "A"), lambda t, nm: np.full(nm["A"].shape, c(t)["L_theta"]), "below"),
        Step("C.10", "corrected", "‖dâ_i/dθ‖ ≤ L_π ‖dŝ_i/dθ‖ + L_θ", "bound",
             lambda t, nm: (nm["A"], c(t)["L_pi"] * nm["S"] + c(t)["L_theta"]),
             lambda t, nm: c(t)["L_pi"] * nm["S"], "below"),
        Step("C.10", "corrected", "‖dâ_i/dθ‖ ≤ L_π L_f L_θ Σ_{j<i} ρ^j + L_θ, ρ = L_f √(1+L_π²)", "bound",
             _closed("c10_corrected", BV.c10_corrected, "A"),
             lambda t, nm: c(t)["L_pi"] * c(t)["L_f"] * c(t)["L_theta"] * np.array(
                 [sum(c(t)["L_f"] ** j for j in range(int(k))) for k in growth(t)]) + c(t)["L_theta"],
             "sub1-expanding"),
        Step("C.12", "printed", "‖dŝ_i/dθ‖ ≤ L_f ‖dŝ_{i−1}/dθ‖ + L_θ i L̃_f^i L̃_π^i (second line)", "bound",
             lambda t, nm: (nm["S"], c(t)["L_f"] * prev(nm["S"]) + c(t)["L_theta"] * growth(t)
                            * max(c(t)["L_f"], 1) ** growth(t) * max(c(t)["L_pi"], 1) ** growth(t)),
             lambda t, nm: c(t)["L_f"] * prev(nm["S"]), "below"),
        Step("C.12", "printed", "‖dŝ_i/dθ‖ ≤ L_θ L̃_f^i L̃_π + L_θ i L̃_f^i L̃_π Σ_{j<i} L_f^j (third line)", "bound",
             _closed("c12_unrolled", BV.c12_unrolled, "S"),
             lambda t, nm: np.full(nm["S"].shape, c(t)["L_theta"]) * c(t)["L_f"] ** growth(t), "below"),
        Step("C.12", "printed", "‖dŝ_i/dθ‖ ≤ L_θ (i²+1) L̃_f^{2i} L̃_π^i", "bound",
             _closed("c12", BV.c12, "S"),
             lambda t, nm: np.full(nm["S"].shape, c(t)["L_theta"]) * c(t)["L_f"] ** growth(t), "below"),
        Step("C.12", "corrected", "‖dŝ_i/dθ‖ ≤ ρ ‖dŝ_{i−1}/dθ‖ + L_f L_θ, ρ = L_f √(1+L_π²)", "bound",
             lambda t, nm: (nm["S"], c(t)["L_f"] * math.sqrt(1 + c(t)["L_pi"] ** 2) * prev(nm["S"])
                            + c(t)["L_f"] * c(t)["L_theta"]),
             lambda t, nm: c(t)["L_f"] * prev(nm["S"]) + c(t)["L_f"] * c(t)["L_theta"], "sub1-expanding"),
        Step("C.12", "corrected", "‖dŝ_i/dθ‖ ≤ L_f L_θ Σ_{j<i} ρ^j", "bound",
             _closed("c12_corrected", BV.c12_corrected, "S"),
             lambda t, nm: c(t)["L_f"] * c(t)["L_theta"] * np.array(
                 [sum(c(t)["L_f"] ** j for j in range(int(k))) for k in growth(t)]), "sub1-expanding"),
        Step("C.13", "printed", "‖dx̂_i/dθ‖ ≤ K̂(i) = L_θ(i+1)L̃_f^i L̃_π^i + L_θ(i²+1)L̃_f^{2i}L̃_π^i", "bound",
             _closed("K_hat", BV.K_hat, "X"), lambda t, nm: np.full(nm["X"].shape, 2 * c(t)["L_theta"]), "below"),
        Step("C.13", "corrected", "‖dx̂_i/dθ‖ ≤ K̂_c(i) = (corrected C.10) + (corrected C.12)", "bound",
             _closed("K_hat_corrected", BV.K_hat_corrected, "X"),
             lambda t, nm: np.full(nm["X"].shape, 2 * c(t)["L_theta"]), "below"),
    ]


STEPS = _make_steps()

ALL_PATH_INSTANCES = {**INSTANCES, **SATURATING}


@dataclass(frozen=True)
class DerivConfig:
    horizon: int
    n: int
    seed: int = 0


QUICK = DerivConfig(horizon=100, n=32)
FULL = DerivConfig(horizon=100, n=256)


@lru_cache(maxsize=None)
def derivative_trace(key: str, quick: bool) -> DerivativeTrace:
    """The measured derivatives on instance ``key`` (cached: tests, controls and the report share it)."""
    cfg = QUICK if quick else FULL
    return measure_derivatives(ALL_PATH_INSTANCES[key], cfg.horizon, cfg.n, cfg.seed)


def judge(claim: str, form: str, line: str, inst: PathInstance, left: np.ndarray, right: np.ndarray,
          i_min: int = 1, note: str = "", extra: Optional[dict] = None) -> CheckResult:
    """The verdict of left ≤ right at every trajectory n and step i ≥ ``i_min`` (exact quantities).

    The row reports the worst (n, i) (largest left/right); its interval is degenerate because
    both sides are exact for the sampled trajectory. The note gives the first violating step.
    """
    L, R = np.asarray(left, float)[:, i_min:], np.asarray(right, float)[:, i_min:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(R > 0, L / R, np.where(L > 0, np.inf, 0.0))
    n, k = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    bad = np.nonzero((L > R).any(axis=0))[0]
    first = f"first violated at i = {bad[0] + i_min} (left {L[:, bad[0]].max():.6g} vs right " \
            f"{R[np.argmax(L[:, bad[0]] - R[:, bad[0]]), bad[0]]:.6g})" if len(bad) else "no violation"
    where = f"worst of {L.shape[0]} trajectories x i = {i_min}..{L.shape[1] + i_min - 1} at i = {k + i_min}"
    inst_d = {**inst.describe(), "line": line, "i": int(k + i_min), **(extra or {})}
    return CheckResult(claim, form, inst_d, float(L[n, k]), (float(L[n, k]), float(L[n, k])), float(R[n, k]),
                       note="; ".join(x for x in (where, first, note) if x))


def derivative_step_results(quick: bool) -> list[CheckResult]:
    """(C.9)–(C.13) on every instance: one row per (step, instance)."""
    out = []
    for key in ALL_PATH_INSTANCES:
        t = derivative_trace(key, quick)
        nm = t.norms()
        for st in STEPS:
            left, right = st.sides(t, nm)
            out.append(judge(st.claim, st.form, st.line, t.inst, left, right,
                             note="exact per trajectory (forward-mode autograd)"))
    return out


def derivative_step_controls(quick: bool) -> list[CheckResult]:
    """The negative control of every step in ``STEPS``: a deliberately wrong right side (rate
    lowered, growth or forcing term removed) on the instance where it must fail."""
    out = []
    for st in STEPS:
        t = derivative_trace(st.control_on, quick)
        nm = t.norms()
        left, _ = st.sides(t, nm)
        wrong = st.control(t, nm)
        if isinstance(wrong, tuple):  # identity controls return (residual, tol)
            left, wrong = wrong
        out.append(judge(st.claim, st.form, "negative control of: " + st.line, t.inst, left,
                         np.broadcast_to(wrong, left.shape)))
    return out


def structural_controls(quick: bool) -> list[Control]:
    """Every closed-form step bound with each applicable change of ``verify.mutations``, on every
    instance where the real bound holds (elsewhere a control cannot be caught)."""
    out = []
    for key in ALL_PATH_INSTANCES:
        t = derivative_trace(key, quick)
        nm = t.norms()
        for st in STEPS:
            expr_fn = getattr(st.sides, "closed_form", None)
            if expr_fn is None:
                continue
            real = judge(st.claim, st.form, st.line, t.inst, *st.sides(t, nm))
            if real.holds is not True:
                continue
            for change in changes(expr_fn(), I_SYMBOL):
                out.append(Control(change, real, judge(st.claim, st.form, f"control ({change}) of: {st.line}", t.inst,
                                                       *st.sides(t, nm, change))))
    return out


# --- smallest counterexample -------------------------------------------------------------------

def scalar_grid_first_violation(claim_fn: Callable[[], sp.Expr], which: str, horizon: int = 12,
                                points: int = 21, sigma: float = 0.01) -> dict:
    """The smallest step i at which a printed per-step bound fails on scalar linear instances with
    L_f < 1 and L_π < 1 (A, B, K on a grid in [0, 1], c = 0, σ fixed), and the instance.

    All instances run as one batch: θ (the shared offset) is the only parameter, so one
    forward-mode pass gives dŝ_i/dθ and dâ_i/dθ of every instance (exact). Ties in i are broken
    by the smallest closed loop |A + BK|.
    """
    g = torch.linspace(0, 1, points, dtype=DTYPE)
    A, B, K = (x.reshape(-1) for x in torch.meshgrid(g, g, g, indexing="ij"))
    L_f, L_pi = torch.sqrt(A**2 + B**2), torch.sqrt(K**2 + sigma**2)
    keep = (L_f < 1) & (L_pi < 1)
    A, B, K, L_f, L_pi = A[keep], B[keep], K[keep], L_f[keep], L_pi[keep]

    def unroll(theta):
        s, S, Act = torch.zeros_like(A), [], []
        for k in range(horizon + 1):
            a = K * s + theta  # noise-free draw: offsets make the derivatives noise-independent
            S.append(s)
            Act.append(a)
            s = A * s + B * a
        return torch.stack(S), torch.stack(Act)

    dS, dA = jacfwd(unroll)(torch.zeros((), dtype=DTYPE))
    left = {"S": dS.abs(), "A": dA.abs(), "X": torch.sqrt(dS**2 + dA**2)}[which].T.numpy()  # (n, H+1)
    steps = np.arange(horizon + 1, dtype=float)
    right = _evaluator(str(claim_fn), claim_fn)(i=steps[None, :], L_f=L_f.numpy()[:, None],
                                                   L_pi=L_pi.numpy()[:, None], L_theta=1.0).value
    viol = left[:, 1:] > right[:, 1:]
    first = np.where(viol.any(1), viol.argmax(1) + 1, horizon + 1)
    best = int(first.min())
    if best > horizon:
        return {"violated": False, "horizon": horizon, "instances": int(len(first))}
    cand = np.flatnonzero(first == best)
    j = int(cand[np.argmin((A + B * K).abs().numpy()[cand])])
    return {"violated": True, "i": best, "A": float(A[j]), "B": float(B[j]), "K": float(K[j]), "sigma": sigma,
            "L_f": float(L_f[j]), "L_pi": float(L_pi[j]), "closed_loop": float(A[j] + B[j] * K[j]),
            "left": float(left[j, best]), "right": float(right[j, best]), "instances": int(len(first))}


# --- figures -------------------------------------------------------------------------------------

def derivative_figure_data(quick: bool) -> dict:
    """Per regime: i, max_n ‖dŝ_i/dθ‖, the (C.12) bound and its corrected form."""
    out = {}
    for key in list(INSTANCES) + ["sub1-expanding-tanh"]:
        t = derivative_trace(key, quick)
        steps = _steps_grid(t)
        out[key] = {"label": f"{t.inst.name}: {t.inst.regime}\nL_f={t.inst.L_f:.3g}, L_π={t.inst.L_pi:.3g}, "
                             f"|A+BK|={t.inst.closed_loop:.3g}",
                    "i": steps, "measured": t.norms()["S"].max(0),
                    "printed": bound_at("c12", BV.c12, t.inst, steps),
                    "corrected": bound_at("c12_corrected", BV.c12_corrected, t.inst, steps)}
    return out


def proof_step_figures(results_or_data, out_dir) -> list[Path]:
    """‖dŝ_i/dθ‖ against the (C.12) bound and its corrected form over i, log axis, one panel per
    regime. ``results_or_data`` is ``derivative_figure_data(quick)`` or a bool ``quick``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = derivative_figure_data(results_or_data) if isinstance(results_or_data, bool) else results_or_data
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(data), figsize=(4.2 * len(data), 3.6), squeeze=False)
    for ax, d in zip(axes[0], data.values()):
        i = d["i"][1:]
        ax.semilogy(i, d["measured"][1:], "k-", lw=2, label="max_n ‖dŝ_i/dθ‖ (measured)")
        ax.semilogy(i, d["printed"][1:], "r--", label="(C.12) printed")
        ax.semilogy(i, d["corrected"][1:], "b:", lw=2, label="(C.12) corrected")
        ax.set_title(d["label"], fontsize=8)
        ax.set_xlabel("step i")
    axes[0][0].set_ylabel("‖dŝ_i/dθ‖")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    path = out_dir / "proof_steps_c12.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


# --- entry points for the report -------------------------------------------------------------------

_WORD = {True: "holds", False: "**violated**", None: "inconclusive"}


def proof_step_markdown(results: list[CheckResult]) -> str:
    """The "proof steps" section: one row per step (equation, instance, left, right, ratio, verdict).

    Rows are grouped by equation; within a group, violated rows come first.
    """
    def key(r):
        num = r.claim.replace("lemmaC.", "C.L")
        return (num, r.form, {False: 0, None: 1, True: 2}[r.holds])

    lines = ["## Proof steps", "",
             "Each row evaluates one line of Appendix C on one instance: left side (measured, exact "
             "unless a CI is shown), right side (the step's bound), ratio = left / right. "
             "Per-trajectory steps report the worst trajectory and step i; see `report.json` notes for "
             "the first violating step.", "",
             "| equation | form | line | instance | left | right | ratio | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=key):
        inst = r.instance
        where = inst.get("mdp", "")
        if "i" in inst:
            where += f", i={inst['i']}"
        if "h" in inst:
            where += f", h={inst['h']}"
        ci = "" if r.ci[0] == r.ci[1] else f" [{r.ci[0]:.3g}, {r.ci[1]:.3g}]"
        ratio = r.measured / r.bound if r.bound else math.inf
        lines.append(f"| {r.claim} | {r.form} | {inst.get('line', '')} | {where} | {r.measured:.4g}{ci} | "
                     f"{r.bound:.4g} | {ratio:.3g} | {_WORD[r.holds]} |")
    return "\n".join(lines) + "\n"
