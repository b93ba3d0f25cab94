"""An adversary per claim and form: maximise measured / bound over instance families.

    python -m verify.search CLAIM [--form printed|explicit|corrected] [--bound NAME] [--budget N]
                            [--seed S] [--starts K] [--json] [--instance JSON]

Claims and their truth (exact where a closed form exists, so those searches are deterministic):

- ``prop5.4`` v_t(1) (N = 1; both sides scale as 1/N) and ``prop5.8`` b_t = ‖∇J − E ĝ‖ on the LQR
  family: A, B, K, σ, Cholesky factors of the dynamics-noise and initial-state covariances, γ, h
  (0..20 or ∞ = the 100-step unroll), β, RP-DP/RP-DR, d_s, d_a ∈ {1, 2}, model error (Â, B̂) and
  critic error Ĥ = H + ΔH; truth from ``toy_mdps.lqr_exact``. Noise is uniform, so the invariant
  domain and the Lipschitz constants of Assumption 5.3/5.6 are certified (``LQR.lipschitz``); an
  uncertified instance is infeasible (its constants are infinite). Bound parameters as in
  ``verify.instances.bound_params`` (L_f = L_f̂ joint, e = 2L_θ, O-constants 1); Prop 5.8 takes
  ε_f exact, ε_v in its exact interval (``eps_v_interval``, coupled reading) and κ at its
  always-valid value (1 − γ)^{-1/2}; its verdict is violated only if b_t exceeds the bound at the
  upper end of ε_v, holds only if b_t is below it at the lower end (``stats.widen``).
- ``C.10``, ``C.12``, ``C.13`` on the linear offset family f̂(s, a, ξ) = A s + B a + c ξ,
  π_θ(s, ς) = K s + θ + σ ς (θ the action offset, as ``verify.appendix_c.derivatives_c9_c13``): dŝ_i/dθ = D_i with
  D_{i+1} = (A + BK) D_i + B, dâ_i/dθ = K D_i + I, exact, and L_f = ‖[A B cI]‖, L_π = ‖[K σI]‖,
  L_θ = 1 exact on all of ℝ^d. Step i ∈ 1..30.
- ``lemmaC.1`` (Monte Carlo) and ``C.9`` (exact per trajectory) on the state-dependent scalar path
  instances; ``lemmaC.2``, ``lemmaC.3`` on the scalar LQR closed forms; ``C.19``–``C.24`` (the bias
  chain, sample means of coupled trajectories, b_t exact); ``prop5.2``, ``cor5.12`` on the offset-LQ
  toy (exact moments of the iterates); ``prop5.10`` (the argmin of g from exact b_t, v_t against h*);
  ``prop5.4-sine`` (Prop 5.4 on the sine family, Monte Carlo with BCa intervals): the families of
  ``verify.search_families``, whose docstring states each one's truth and hypotheses.

The optimiser is ``scipy.optimize.differential_evolution`` (integrality for dims, h, i, estimator),
``--starts`` runs with seeds S, S + 1, …, sharing three quarters of ``--budget`` evaluations (on the
linear-offset family every second start maps its points radially into L_f, L_π < 1, the thin shell
where the printed step bounds fail; the hand-picked LQR instances of ``verify.instances`` (at h = h_min, β = 0, RP-DP) and erratum E1's
instance join the first populations), then Powell refines the continuous coordinates. The best instance is
then shrunk: each coordinate is rounded (0 first, then 1, 2 decimals) while the verdict and a ratio
≥ 1 (for a counterexample) or ≥ 90% of the best (otherwise) survive, and the smallest h or i that
keeps it is taken; the result is re-evaluated, and a counterexample is re-verified: Prop 5.4/5.8 on
the LQR family by Monte Carlo of the shared estimator (``verify.measure``, 99%), the Monte Carlo
families (Lemma C.1, the bias chain, the sine family) with fresh draws at a higher sample size.
The variance chain ``C.14``–``C.17`` with the (C.16) collapse (``C.16-collapse``), Lemma C.3's change of
measure with κ for the lemma's own φ (``lemmaC.3-kappa``) and the C.4 steps ``C.29``, ``C.39`` are
families of ``verify.search_families`` too. Not searched: the lines that are algebraic truths ((C.7),
(C.8), Jensen's step, (C.37), (C.38) solving their equations, the root of (C.29)–(C.30) inside the
corrected (C.39), the Cauchy–Schwarz form of the change of measure, (C.25) with σ unnormalised and
σ̄_1 the tail visitation), (C.25)'s other readings (false on every chain by total mass, E15), Remark
5.11, the sine family for Prop 5.8 (the toy defines neither ε_v nor L_Q: ∇Q^π has no closed form
there, so (5.3)'s ε_v term has no upper limit and a violation could not be certified), and dimensions
above 1 outside the LQR family.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from scipy.optimize import differential_evolution, minimize

import bounds
from toy_mdps.lqr import LQR, QuadraticCritic
from toy_mdps.lqr_exact import eps_v_interval, moments
from verify import instances, search_families
from verify.registry import section
from verify.search_families import Evaluation, Family, Infeasible, Var
from verify.stats import LEVEL, widen
from verify.verdict import CheckResult

HORIZON_INF = 100  # h = ∞ is the estimator unrolled 100 steps (verify.section5.prop5_8's convention)
H_MAX = 20
I_MAX = 30
CAP = 50.0  # log ratio credited to a bound of 0 under a positive measurement

#: claim -> form -> bound names of ``bounds.EXPRESSIONS`` (the first is the default)
TARGETS = {
    **{c: search_families.claim_targets(c) for c in ("prop5.4", "prop5.8")},
    "C.10": {"printed": ("c10",), "corrected": ("c10_corrected",)},
    "C.12": {"printed": ("c12",), "corrected": ("c12_corrected",)},
    "C.13": {"printed": ("K_hat",), "corrected": ("K_hat_corrected",)},
    **search_families.TARGETS,
}


def _mat(prefix, rows, cols, lo, hi):
    return [Var(f"{prefix}{r}{c}", lo, hi) for r in range(rows) for c in range(cols)]


LQR_VARS = ([Var("d_s", 1, 2, True), Var("d_a", 1, 2, True)] + _mat("A", 2, 2, -1.5, 1.5)
            + _mat("B", 2, 2, -1.5, 1.5) + _mat("K", 2, 2, -1.5, 1.5) + _mat("dA", 2, 2, -0.5, 0.5)
            + _mat("dB", 2, 2, -0.5, 0.5) + _mat("dH", 4, 4, -1.0, 1.0)
            + [Var("sigma", 0.01, 1.0), Var("w1", 0.01, 1.0), Var("w2", 0.01, 1.0), Var("w21", -0.5, 0.5),
               Var("z1", 0.01, 2.0), Var("z2", 0.01, 2.0), Var("z21", -1.0, 1.0), Var("gamma", 0.5, 0.999),
               Var("h", 0, H_MAX + 1, True), Var("beta", 0.0, 1.0), Var("estimator", 0, 1, True)])
STEP_VARS = ([Var("d_s", 1, 2, True), Var("d_a", 1, 2, True)] + _mat("A", 2, 2, -1.5, 1.5)
             + _mat("B", 2, 2, -1.5, 1.5) + _mat("K", 2, 2, -1.5, 1.5)
             + [Var("c", 0.0, 1.0), Var("sigma", 0.0, 1.0), Var("i", 1, I_MAX, True)])


def _block(x: dict, prefix: str, rows: int, cols: int) -> np.ndarray:
    return np.array([[x[f"{prefix}{r}{c}"] for c in range(cols)] for r in range(rows)])


def _lower(x: dict, p: str, d: int) -> np.ndarray:
    return np.array([[x[f"{p}1"]]]) if d == 1 else np.array([[x[f"{p}1"], 0.0], [x[f"{p}21"], x[f"{p}2"]]])


def lqr_instance(x: dict) -> dict:
    """The readable instance of an LQR-family point (what the report and --instance carry)."""
    ds, da = int(x["d_s"]), int(x["d_a"])
    A, B, K = _block(x, "A", ds, ds), _block(x, "B", ds, da), _block(x, "K", da, ds)
    dH = _block(x, "dH", ds + da, ds + da)
    r = lambda m: np.round(m, 6).tolist()
    return {"family": "lqr-uniform", "d_s": ds, "d_a": da, "A": r(A), "B": r(B), "K": r(K),
            "A_hat": r(A + _block(x, "dA", ds, ds)), "B_hat": r(B + _block(x, "dB", ds, da)),
            "dH": r((dH + dH.T) / 2), "sigma": round(x["sigma"], 6),
            "noise_factor": r(_lower(x, "w", ds)), "init_factor": r(_lower(x, "z", ds)),
            "gamma": round(x["gamma"], 6), "h": "inf" if int(x["h"]) > H_MAX else int(x["h"]),
            "beta": round(x["beta"], 6), "estimator": ("dp", "dr")[int(x["estimator"])]}


def step_instance(x: dict) -> dict:
    ds, da = int(x["d_s"]), int(x["d_a"])
    r = lambda m: np.round(m, 6).tolist()
    return {"family": "linear-offset", "d_s": ds, "d_a": da, "A": r(_block(x, "A", ds, ds)),
            "B": r(_block(x, "B", ds, da)), "K": r(_block(x, "K", da, ds)), "c": round(x["c"], 6),
            "sigma": round(x["sigma"], 6), "i": int(x["i"])}


def lqr_problem(inst: dict) -> LQR:
    """The LQR of an instance dict, with its perturbed critic; Infeasible unless certified."""
    Lw, Lz = np.array(inst["noise_factor"]), np.array(inst["init_factor"])
    if min(np.abs(np.diag(Lw)).min(), np.abs(np.diag(Lz)).min()) <= 0:
        raise Infeasible("singular noise covariance")
    p = LQR(inst["A"], inst["B"], inst["K"], sigma=inst["sigma"], gamma=inst["gamma"], noise="uniform",
            A_hat=inst["A_hat"], B_hat=inst["B_hat"], certify=False, noise_cov=Lw @ Lw.T, init_cov=Lz @ Lz.T)
    if not (p.certified and p.stable):
        raise Infeasible("no certified invariant domain (closed loop of f or f̂ not contracting)")
    H, q0 = p.q_form()
    p.critic = QuadraticCritic(H + np.array(inst["dH"]), q0, p.d_s)
    return p


_ratio = search_families.ratio


def evaluate_lqr(claim: str, name: str, inst: dict) -> Evaluation:
    """Prop 5.4 or 5.8 (bound ``name``) on an LQR instance, exact truth."""
    p = lqr_problem(inst)
    h = math.inf if inst["h"] == "inf" else int(inst["h"])
    h_bound = HORIZON_INF if math.isinf(h) else h
    m = moments(p, h, inst["beta"], inst["estimator"], horizon_inf=HORIZON_INF)
    lip = instances.lipschitz(p)
    hyp = {"certified domain (A.2 constants valid)": True, "sqrt(gamma)*rho(A+BK) < 1": bool(p.stable),
           "L_f < 1": bool(lip["L_fhat"] < 1), "L_pi < 1": bool(lip["L_pi"] < 1)}
    if claim == "prop5.4":
        measured = m.variance
        b = float(bounds.evaluate(name, h=h_bound, **instances.bound_params(p, N=1.0)).value)
        ci, blo, bhi = (measured, measured), b, b
    else:
        ev = (0.0, 0.0) if math.isinf(h) else eps_v_interval(p, h, p.critic.H.numpy())
        kappa = 1 / math.sqrt(1 - p.gamma)
        params = instances.corrected_bias_params if name in bounds.bias.BOTH_DYNAMICS else instances.bound_params
        par = lambda e_v: params(p, eps_f=p.eps_f(), eps_v=e_v, kappa=kappa, beta=inst["beta"])
        blo, bhi = (float(bounds.evaluate(name, h=h_bound, **par(e)).value) for e in ev)
        measured = m.bias
        ci = widen((measured, measured), measured, (blo, bhi), bhi)
        hyp.update({"A5.6 L_Q finite": bool(math.isfinite(lip["L_Q"])), "A5.7 kappa = (1-gamma)^-1/2 valid": True,
                    "eps_f": round(p.eps_f(), 6), "eps_v interval": [round(e, 6) for e in ev]})
    row = CheckResult(claim, _form(claim, name), {**inst, "bound": name}, measured, ci, bhi, level=1.0,
                      note="exact (toy_mdps.lqr_exact)" + ("" if claim == "prop5.4" else
                                                            "; verdict over the exact ε_v interval"))
    return Evaluation(row, _ratio(measured, bhi), hyp)


def offset_derivatives(A, B, K, i: int) -> tuple[np.ndarray, np.ndarray]:
    """(dŝ_i/dθ, dâ_i/dθ) of the linear offset family: D_{j+1} = (A + BK) D_j + B, D_0 = 0, E = K D + I."""
    D = np.zeros(B.shape)
    for _ in range(i):
        D = (A + B @ K) @ D + B
    return D, K @ D + np.eye(B.shape[1])


def evaluate_step(claim: str, name: str, inst: dict) -> Evaluation:
    A, B, K = (np.array(inst[k], float) for k in ("A", "B", "K"))
    ds, da = B.shape
    D, E = offset_derivatives(A, B, K, inst["i"])
    measured = float(np.linalg.norm({"C.10": E, "C.12": D, "C.13": np.vstack([D, E])}[claim], 2))
    L_f = float(np.linalg.norm(np.hstack([A, B, inst["c"] * np.eye(ds)]), 2))
    L_pi = float(np.linalg.norm(np.hstack([K, inst["sigma"] * np.eye(da)]), 2))
    b = float(bounds.evaluate(name, i=inst["i"], L_f=L_f, L_pi=L_pi, L_theta=1.0).value)
    hyp = {"L_f < 1": bool(L_f < 1), "L_pi < 1": bool(L_pi < 1),
           "rho(A+BK) < 1": bool(max(abs(np.linalg.eigvals(A + B @ K))) < 1),
           "L_f": round(L_f, 6), "L_pi": round(L_pi, 6)}
    row = CheckResult(claim, _form(claim, name), {**inst, "bound": name}, measured, (measured, measured), b,
                      level=1.0, note="exact derivatives of the linear offset family, L_θ = 1")
    return Evaluation(row, _ratio(measured, b), hyp)


def _into_sub1(x: dict) -> dict:
    """Scale (A, B, c) and (K, σ) of a linear-offset point radially into L_f, L_π ≤ 0.999 (the search
    space of ``sub1``, whose counterexamples live near its boundary)."""
    inst = step_instance(x)
    A, B, K = (np.array(inst[k]) for k in ("A", "B", "K"))
    L_f = np.linalg.norm(np.hstack([A, B, inst["c"] * np.eye(len(A))]), 2)
    L_pi = np.linalg.norm(np.hstack([K, inst["sigma"] * np.eye(len(K))]), 2)
    y = dict(x)
    for names, L in ((("A", "B", "c"), L_f), (("K", "sigma"), L_pi)):
        if L >= 1:
            for k in y:
                if k.rstrip("0123456789") in names:
                    y[k] = x[k] * 0.999 / L
    return y


def _form(claim: str, name: str) -> str:
    return next(f for f, names in TARGETS[claim].items() if name in names)


def _lqr_seed(A, B, K):
    return {"d_s": 1, "d_a": 1, "A00": A, "B00": B, "K00": K, "sigma": 0.1, "w1": 0.05, "w2": 0.05,
            "z1": 0.5, "z2": 0.5, "gamma": 0.9}


#: issue 29's counterexample to the corrected bias bound before E12's term was added (h = 0, γ = 0.99)
_E12_SEED = {**_lqr_seed(0.015, 0.01, -1.5), "sigma": 0.01, "w1": 0.1, "z1": 0.01, "gamma": 0.99, "h": 0, "beta": 0.0}
FAMILIES = {"lqr": Family(LQR_VARS, lqr_instance, evaluate_lqr, "h",
                          tuple(_lqr_seed(**instances.SPECS[k][1]) for k in ("lqr-lipschitz>1", "lqr-contracting"))
                          + (_E12_SEED,),
                          lambda claim, name, inst: monte_carlo_check(claim, inst, name)),
            "step": Family(STEP_VARS, step_instance, evaluate_step, "i",
                           ({"d_s": 1, "d_a": 1, "A00": 0.07, "B00": 0.99, "K00": 0.99, "sigma": 0.01, "i": 2},))}


def family_of(claim: str) -> Family:
    if claim in search_families.FAMILIES:
        return search_families.FAMILIES[claim]
    return FAMILIES["lqr" if claim in ("prop5.4", "prop5.8") else "step"]


@dataclass
class Result:
    claim: str
    form: str
    bound: str
    seed: int
    budget: int
    evaluations: int
    wall_s: float
    best: Evaluation
    raw_ratio: float
    mc: Optional[dict] = None

    h_min: int = 0
    worst_instance: Optional[dict] = None
    sub1: bool = False

    @property
    def verdict(self) -> Optional[bool]:
        return self.best.row.holds

    def command(self) -> str:
        return (f"python -m verify.search {self.claim} --form {self.form} --bound {self.bound} "
                f"--budget {self.budget} --seed {self.seed}" + (f" --h-min {self.h_min}" if self.h_min else "")
                + (" --sub1" if self.sub1 else ""))

    def to_json(self) -> dict:
        inst = {k: v for k, v in self.best.row.instance.items() if k != "bound"}
        return {"claim": self.claim, "form": self.form, "bound": self.bound, "ratio": _num(self.best.ratio),
                "raw_ratio": _num(self.raw_ratio), "instance": inst, "worst_instance": self.worst_instance, "verdict": self.verdict,
                "measured": self.best.row.measured, "bound_value": self.best.row.bound,
                "hypotheses": self.best.hypotheses, "seed": self.seed, "budget": self.budget,
                "evaluations": self.evaluations, "wall_s": round(self.wall_s, 2), "monte_carlo": self.mc,
                "command": self.command(),
                "check": f"python -m verify.search {self.claim} --bound {self.bound} --instance "
                         f"'{json.dumps(inst, separators=(',', ':'))}'"}


def _num(x: float):
    return x if math.isfinite(x) else str(x)


class Objective:
    """−log(measured / bound) of a point of the family, counting evaluations; infeasible points
    score +CAP (worse than any feasible one)."""

    def __init__(self, claim: str, name: str, h_min: int = 0, sub1: bool = False):
        self.claim, self.name, self.fam, self.sub1 = claim, name, family_of(claim), sub1
        self.project = sub1  # map linear-offset points radially into L_f, L_π < 1 (``_into_sub1``)
        if h_min:
            self.fam = Family([Var("h", h_min, v.high, True) if v.name == "h" else v for v in self.fam.vars],
                              self.fam.instance, self.fam.evaluate, self.fam.small,
                              tuple({**x, "h": h_min} for x in self.fam.seeds), self.fam.reverify)
        self.evaluations = 0
        self.best: Optional[tuple[float, dict, Evaluation]] = None

    def point(self, vec) -> dict:
        x = {v.name: (int(round(x)) if v.integer else float(x)) for v, x in zip(self.fam.vars, vec)}
        return _into_sub1(x) if self.project and self.fam.instance is step_instance else x

    def judge(self, x: dict) -> Optional[Evaluation]:
        self.evaluations += 1
        try:
            ev = self.fam.evaluate(self.claim, self.name, self.fam.instance(x))
        except (Infeasible, np.linalg.LinAlgError):
            return None
        if self.sub1 and not (ev.hypotheses.get("L_f < 1") is True and ev.hypotheses.get("L_pi < 1") is True):
            return None
        if not math.isfinite(ev.row.measured) or not math.isfinite(ev.row.bound):
            return None
        return ev

    @staticmethod
    def score(ev: Optional[Evaluation]) -> float:
        if ev is None:
            return CAP
        if ev.ratio == 0:
            return CAP / 2
        return -min(math.log(ev.ratio), CAP) if ev.ratio != math.inf else -CAP

    def __call__(self, vec) -> float:
        x = self.point(vec)
        ev = self.judge(x)
        s = self.score(ev)
        if ev is not None and (self.best is None or s < self.best[0]):
            self.best = (s, x, ev)
        return s


def _better(a: Evaluation, b: Evaluation) -> bool:
    """Whether ``a`` keeps what makes ``b`` the answer: same verdict, and a violation stays one with
    ratio ≥ 1, otherwise a ratio within 10% of ``b``'s."""
    if a.row.holds != b.row.holds:
        return False
    if b.row.holds is False:
        return a.ratio >= 1
    return a.ratio >= 0.9 * b.ratio


def shrink(obj: Objective, x: dict, ev: Evaluation) -> tuple[dict, Evaluation]:
    """Lower h or i, round each coordinate (0, then 1, 2, 3 decimals), drop a dimension, lower h or i
    again, each change kept only while the answer survives (``_better``)."""
    fam = obj.fam
    small = next((v for v in fam.vars if v.name == fam.small), None)

    def lower(x, ev):
        if small is None:
            return x, ev
        for k in range(int(small.low), x[fam.small]):
            e = obj.judge({**x, fam.small: k})
            if e is not None and _better(e, ev):
                return {**x, fam.small: k}, e
        return x, ev

    x, ev = lower(x, ev)
    for v in fam.vars:
        if v.integer:
            continue  # discrete or structural coordinates are left alone
        for cand in (0.0, round(x[v.name], 1), round(x[v.name], 2), round(x[v.name], 3)):
            y = {**x, v.name: cand}
            if cand == x[v.name] or not v.low <= cand <= v.high or fam.instance(y) == fam.instance(x):
                continue  # no change, out of range, or a coordinate the instance's dims do not use
            e = obj.judge(y)
            if e is not None and _better(e, ev):
                x, ev = y, e
                break
    for d in ("d_s", "d_a"):
        if x.get(d, 1) > 1:
            e = obj.judge({**x, d: 1})
            if e is not None and _better(e, ev):
                x, ev = {**x, d: 1}, e
    return lower(x, ev)


def refine(obj: Objective, budget: int) -> None:
    """Local search (Powell, bounded) over the continuous coordinates from the best point so far,
    the discrete ones fixed; ``obj`` keeps the best point it sees."""
    if budget < 5:
        return
    _, x, _ = obj.best
    free = [v for v in obj.fam.vars if not v.integer]
    start = np.array([x[v.name] for v in free])

    def f(vec):
        return obj([x[v.name] if v.integer else vec[free.index(v)] for v in obj.fam.vars])

    minimize(f, start, method="Powell", bounds=[(v.low, v.high) for v in free],
             options={"maxfev": budget, "xtol": 1e-3, "ftol": 1e-4})


def monte_carlo_check(claim: str, inst: dict, name: str, n: int = 20000, seed: int = 12) -> dict:
    """Re-verify an LQR-family row by Monte Carlo of the shared estimator (verify.measure) at 99%."""
    from verify import measure
    from verify.stats import norm_of_mean_ci, variance_ci

    p = lqr_problem(inst)
    h = math.inf if inst["h"] == "inf" else int(inst["h"])
    g = measure.sample_gradients(p, h, inst["beta"], n, inst["estimator"], seed=seed, horizon_inf=HORIZON_INF)
    exact = evaluate_lqr(claim, name, inst).row
    if claim == "prop5.4":
        est, lo, hi, _ = variance_ci(g.numpy(), LEVEL)
        ci = (lo, hi)
    else:
        est, lo, hi = norm_of_mean_ci(g.numpy(), p.true_grad().numpy(), LEVEL)
        ci = (lo, hi)
        if exact.ci[1] > exact.measured:  # carry the ε_v interval of the bound, as the exact row does
            ci = (lo, hi + exact.ci[1] - exact.measured)
    row = CheckResult(claim, exact.form, exact.instance, est, ci, exact.bound, level=LEVEL,
                      note=f"Monte Carlo, {n} samples")
    return {"samples": n, "estimate": est, "ci": [ci[0], ci[1]], "level": LEVEL, "verdict": row.holds,
            "exact": exact.measured}


def search(claim: str, form: str = "printed", bound: Optional[str] = None, budget: int = 1500, seed: int = 0,
           starts: int = 3, verify_mc: bool = True, h_min: int = 0, sub1: bool = False) -> Result:
    """Maximise measured / bound for (claim, form, bound) with ``budget`` evaluations (module docstring);
    ``h_min`` > 0 excludes the smaller h (e.g. where a printed bound vanishes) from the LQR family;
    ``sub1`` admits only instances with L_f < 1 and L_π < 1 (the regime of Prop 5.10)."""
    if claim not in TARGETS:
        raise ValueError(f"unknown claim {claim!r}; choose from {sorted(TARGETS)}")
    if form not in TARGETS[claim]:
        raise ValueError(f"{claim} has no {form} form; choose from {sorted(TARGETS[claim])}")
    names = TARGETS[claim][form]
    name = names[0] if bound is None else bound
    if name not in names:
        raise ValueError(f"{claim} [{form}] has bounds {list(names)}, not {name!r}")
    if budget < 10 or starts < 1:
        raise ValueError("budget must be at least 10 and starts at least 1")
    if not 0 <= h_min <= H_MAX:
        raise ValueError(f"h_min must lie in 0..{H_MAX}")
    t0 = time.perf_counter()
    obj = Objective(claim, name, h_min, sub1)
    fam = obj.fam
    lims = [(v.low, v.high) for v in fam.vars]
    integrality = [v.integer for v in fam.vars]
    popsize = 2
    per_gen = popsize * len(fam.vars)
    global_budget = int(0.75 * budget)
    starts = max(1, min(starts, global_budget // per_gen))
    for k in range(starts):
        # on the linear-offset family every second start searches the thin shell L_f, L_π → 1 where
        # the printed step bounds are polynomial but the closed loop can expand (erratum E1)
        obj.project = sub1 or (fam.instance is step_instance and k % 2 == 1)
        maxiter = max(0, global_budget // starts // per_gen - 1)
        x0 = None
        if k < len(fam.seeds):  # the hand-picked instance joins the first population: never worse than it
            x0 = [fam.seeds[k].get(v.name, max(v.low, min(v.high, 0.0))) for v in fam.vars]
        differential_evolution(obj, lims, integrality=integrality, seed=seed * 1000 + k, popsize=popsize,
                               maxiter=maxiter, tol=0.0, polish=False, init="sobol" if k == 0 else "latinhypercube",
                               mutation=(0.5, 1.0), recombination=0.9, x0=x0)
    if obj.best is None:
        raise RuntimeError(f"no feasible instance in {obj.evaluations} evaluations")
    obj.project = sub1
    refine(obj, budget - obj.evaluations)
    _, x, ev = obj.best
    raw, worst_instance, worst = ev.ratio, fam.instance(x), ev
    x, ev = shrink(obj, x, ev)
    ev = fam.evaluate(claim, name, fam.instance(x))  # re-evaluated from the readable instance
    mc = None
    if verify_mc and ev.row.holds is False and fam.reverify is not None:
        mc = fam.reverify(claim, name, {k: v for k, v in ev.row.instance.items() if k != "bound"})
        if mc is not None and mc["verdict"] is not False and worst.ratio > ev.ratio:
            # the shrunk instance is too close to its bound to re-verify: report the unshrunk worst one
            again = fam.reverify(claim, name, worst_instance)
            if again is not None and again["verdict"] is False:
                ev, mc = worst, {**again, "note": f"the shrunk instance did not re-verify ({mc['verdict']})"}
    return Result(claim, form, name, seed, budget, obj.evaluations, time.perf_counter() - t0, ev, raw, mc, h_min,
                  worst_instance, sub1)


def random_lqr_instance(rng: np.random.Generator, d_s: int, d_a: int) -> dict:
    """An LQR-family instance of any dimension, drawn over the box of ``LQR_VARS`` (A, B, K, model and
    critic error, correlated noise and start factors, γ ∈ [0.5, 0.999], h ∈ 0..20 or ∞, β, RP-DP/RP-DR):
    the search's space beyond its 2 × 2 matrices, for ``random_attack``."""
    u = lambda lo, hi, *shape: np.round(rng.uniform(lo, hi, shape), 6)
    low = lambda d, diag: np.round(np.tril(rng.uniform(-0.5, 0.5, (d, d)), -1) + np.diag(rng.uniform(*diag, d)), 6)
    A, B, K = u(-1.5, 1.5, d_s, d_s), u(-1.5, 1.5, d_s, d_a), u(-1.5, 1.5, d_a, d_s)
    dH = u(-1.0, 1.0, d_s + d_a, d_s + d_a)
    h = int(rng.integers(0, H_MAX + 2))
    return {"family": "lqr-uniform", "d_s": d_s, "d_a": d_a, "A": A.tolist(), "B": B.tolist(), "K": K.tolist(),
            "A_hat": (A + u(-0.5, 0.5, d_s, d_s)).tolist(), "B_hat": (B + u(-0.5, 0.5, d_s, d_a)).tolist(),
            "dH": ((dH + dH.T) / 2).tolist(), "sigma": float(u(0.01, 1.0)), "noise_factor": low(d_s, (0.01, 1.0)).tolist(),
            "init_factor": low(d_s, (0.01, 2.0)).tolist(), "gamma": float(u(0.5, 0.999)),
            "h": "inf" if h > H_MAX else h, "beta": float(u(0.0, 1.0)), "estimator": ("dp", "dr")[int(rng.integers(2))]}


def random_stable_instance(rng: np.random.Generator, d_max: tuple[int, int] = (4, 2)) -> dict:
    """``random_lqr_instance`` with d_s ≤ d_max[0], d_a ≤ d_max[1] and A redrawn as M − BK, M non-normal of
    spectral radius below 1 (the model keeps its error Â − A): a uniform draw in 4-D almost never has a
    contracting closed loop."""
    inst = random_lqr_instance(rng, int(rng.integers(1, d_max[0] + 1)), int(rng.integers(1, d_max[1] + 1)))
    A, B, K, dA = (np.array(inst[k]) for k in ("A", "B", "K", "A_hat"))
    M = rng.uniform(-1.0, 1.0, A.shape)
    M *= rng.uniform(0.05, 0.999) / max(np.abs(np.linalg.eigvals(M)).max(), 1e-9)
    inst["A"], inst["A_hat"] = np.round(M - B @ K, 6).tolist(), np.round(M - B @ K + dA - A, 6).tolist()
    return inst


def random_attack(claim: str, name: str, n: int, seed: int, d_max: tuple[int, int] = (4, 2)) -> tuple[Optional[Evaluation], int]:
    """The worst of ``n`` random instances (``random_stable_instance``) and the number that were feasible."""
    rng = np.random.default_rng(seed)
    worst, feasible = None, 0
    for _ in range(n):
        inst = random_stable_instance(rng, d_max)
        try:
            ev = evaluate_lqr(claim, name, inst)
        except (Infeasible, np.linalg.LinAlgError):
            continue
        feasible += 1
        if math.isfinite(ev.row.bound) and (worst is None or ev.ratio > worst.ratio):
            worst = ev
    return worst, feasible


def check_instance(claim: str, name: str, inst: dict) -> Evaluation:
    """Evaluate one instance dict (``--instance``) of the claim's family."""
    if claim not in TARGETS or not any(name in n for n in TARGETS[claim].values()):
        raise ValueError(f"unknown claim/bound {claim!r}/{name!r}")
    return family_of(claim).evaluate(claim, name, inst)


def _print(res: Result) -> None:
    word = {True: "holds", False: "VIOLATED", None: "inconclusive"}[res.verdict]
    r = res.best.row
    print(f"{res.claim} [{res.form}] {res.bound}: worst ratio measured/bound = {res.best.ratio:.6g} "
          f"(before shrinking {res.raw_ratio:.6g}) -> {word}")
    print(f"  measured {r.measured:.6g}, bound {r.bound:.6g}; {res.evaluations} evaluations, {res.wall_s:.1f} s")
    print(f"  instance: {json.dumps({k: v for k, v in r.instance.items() if k != 'bound'})}")
    print(f"  hypotheses: {json.dumps(res.best.hypotheses)}")
    if res.mc:
        print(f"  Monte Carlo re-check ({res.mc['samples']} samples, 99%): estimate {res.mc['estimate']:.6g}, "
              f"CI [{res.mc['ci'][0]:.6g}, {res.mc['ci'][1]:.6g}], verdict {res.mc['verdict']}")
    if res.bound in O_FORMS:
        print("  note: O(·) constant read as 1; the ratio is the constant this instance needs")
    print(f"  reproduce: {res.command()}")
    print(f"  check it:  {res.to_json()['check']}")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def main(argv: Optional[list[str]] = None) -> int:
    ap = _Parser(prog="python -m verify.search", description=__doc__.splitlines()[0])
    ap.add_argument("claim")
    ap.add_argument("--form", default="printed")
    ap.add_argument("--bound", default=None)
    ap.add_argument("--budget", type=int, default=None, help="evaluations (default: the report's full budget)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--h-min", type=int, default=0, help="smallest h searched (LQR family)")
    ap.add_argument("--sub1", action="store_true", help="only instances with L_f < 1 and L_pi < 1")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--instance", default=None, help="evaluate this instance (JSON) instead of searching")
    ap.add_argument("--no-mc", action="store_true", help="skip the Monte Carlo re-check of a counterexample")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    torch.set_num_threads(1)
    try:
        if args.instance is not None:
            if args.bound is None:
                if args.claim not in TARGETS or args.form not in TARGETS[args.claim]:
                    raise ValueError(f"unknown claim/form {args.claim!r}/{args.form!r}")
                args.bound = TARGETS[args.claim][args.form][0]
            ev = check_instance(args.claim, args.bound, json.loads(args.instance))
            out = {"claim": args.claim, "form": ev.row.form, "bound": args.bound, "ratio": _num(ev.ratio),
                   "verdict": ev.row.holds, "measured": ev.row.measured, "bound_value": ev.row.bound,
                   "hypotheses": ev.hypotheses}
            print(json.dumps(out) if args.json else ev.row.describe())
            return 0
        budget = report_budget(args.claim, quick=False) if args.budget is None else args.budget
        res = search(args.claim, args.form, args.bound, budget, args.seed, args.starts, not args.no_mc,
                     args.h_min, args.sub1)
    except KeyError as e:
        print(f"error: the instance lacks {e}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, AttributeError, IndexError, json.JSONDecodeError, Infeasible) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(res.to_json()))
    else:
        _print(res)
    return 0



# --- report section -------------------------------------------------------------------------------

#: (claim, form, bound, h_min, sub1) of the report's table: every target; the printed LQR bounds and
#: (C.24) again with h ≥ 1 (they vanish at h = 0: is that their only failure?); the printed steps again with
#: L_f, L_π < 1 (do they fail where the paper expects no exponential growth?)
REPORT_RUNS = ([(c, f, n, 0, False) for c, forms in TARGETS.items() for f, names in forms.items() for n in names]
               + [(c, "printed", TARGETS[c]["printed"][0], 1, False) for c in ("prop5.4", "prop5.8")]
               + [("prop5.8", "explicit", "bias_explicit", 1, False)]
               + [(c, "printed", TARGETS[c]["printed"][0], 0, True) for c in ("C.10", "C.12", "C.13")])
QUICK_BUDGET, FULL_BUDGET = 100, 1500
#: claims whose evaluations are Monte Carlo or slow (a second or more): smaller budgets (quick, full)
SLOW_BUDGETS = {"lemmaC.1": (40, 300), "C.9": (20, 200), "prop5.10": (30, 200), "prop5.4-sine": (30, 200),
                **{c: (40, 300) for c in ("C.19", "C.20", "C.21", "C.22", "C.23", "C.24")}, **search_families.BUDGETS}
#: bounds with an O(·) constant (C_var, C_bias, C_conv, C_h), read as 1: the registered ones of kind "O"
#: (``bounds.registry``) and Prop 5.10's h*, whose O(·) the search family states itself
O_FORMS = (*(b.name for b in bounds.REGISTRY.values() if b.kind == "O"), "hstar_paper")


def report_budget(claim: str, quick: bool) -> int:
    return SLOW_BUDGETS.get(claim, (QUICK_BUDGET, FULL_BUDGET))[0 if quick else 1]


def report_row(res: Result) -> CheckResult:
    """The search result as a report row: the (shrunk) worst instance, with the adversary's numbers."""
    r = res.best.row
    hyp = ", ".join(f"{k}: {v}" for k, v in res.best.hypotheses.items())
    mc = (f"; re-checked with fresh draws ({res.mc['samples']} samples) verdict {res.mc['verdict']}"
          if res.mc else "")
    if res.bound in O_FORMS:
        mc += ("; O(·) constant read as 1: a violation says only that the constant 1 does not work "
               "(the quantities scale with the instance), the ratio is the constant this instance needs")
    return CheckResult(r.claim + ".search", r.form, {**r.instance, "h_min": res.h_min, "sub1": res.sub1,
                                                     "ratio": _num(res.best.ratio), "worst_ratio": _num(res.raw_ratio)},
                       r.measured, r.ci, r.bound, direction=r.direction, level=r.level,
                       kind="O" if res.bound in O_FORMS else r.kind,
                       note=(f"differential evolution + Powell, {res.evaluations} evaluations, seed {res.seed}, "
                             f"{res.wall_s:.0f} s; hypotheses: {hyp}{mc}; reproduce: {res.command()}"))


#: at most this many search processes (each holds its own torch, ~0.4 GB)
MAX_WORKERS = 8


def _report_search(run: tuple) -> CheckResult:
    (c, f, n, hm, s1), quick = run
    torch.set_num_threads(1)
    return report_row(search(c, f, n, report_budget(c, quick), seed=0, verify_mc=not quick, h_min=hm, sub1=s1))


@section("search", "Adversarial search: worst instance per claim and form (verify/search.py)", order=97)
def search_results(quick: bool) -> list[CheckResult]:
    """One row per ``REPORT_RUNS`` entry, the searches spread over the available cores (each is seeded, so
    the rows do not depend on the number of workers; spawned, not forked, as torch's thread pool is
    not fork-safe)."""
    runs = [(r, quick) for r in REPORT_RUNS]
    workers = min(len(os.sched_getaffinity(0)), MAX_WORKERS, len(runs))
    if workers < 2:
        return [_report_search(r) for r in runs]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_report_search, runs))


if __name__ == "__main__":
    sys.exit(main())
