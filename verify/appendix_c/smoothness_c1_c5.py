"""The smoothness step of Prop 5.2's proof, (C.1)–(C.5) and its final chain, on the RP policy-gradient
iteration of Algorithm 1 on an objective with an exactly known smoothness constant.

Toy. Scalar linear dynamics s' = A s + B a + w ξ, the offset policy a = K s + θ + σ ς (θ ∈ ℝ),
reward r = −R_s (s − s_ref)² − R_a a², s_0 ∼ N(0, z²). The mean state is θ·c_t with
c_t = B Σ_{j<t} M^j (M = A + BK), so J(θ) = J_0 + b θ − (L/2) θ² exactly, with
L = 2 Σ_t γ^t [R_s c_t² + R_a (K c_t + 1)²]: J is L-smooth on ℝ and the constant is exact (the
descent lemma (C.1) is then an equality). ĝ is the pathwise gradient (h = ∞, BPTT, μ = ζ) of a
rollout truncated at ``H`` steps, batch N; dŝ_t/dθ = c_t is deterministic, so b_t is the exact
truncation bias and v_t = v(1)/N with v(1) exact and independent of θ (``OffsetToy.var_ghat``).

Iteration: Algorithm 1's update (4.6), θ_{t+1} = θ_t + η ĝ_t, with no projection. Prop 5.2 assumes
the iterates lie in Θ = {‖θ‖ ≤ δ}; each row takes δ = max over runs and iterations of |θ_t|, the
smallest Θ that holds every iterate reached, and states it. η is swept through 1/√T, 0.5/L, 0.9/L
(allowed: c > 0) and 1.5/L (c < 0: Prop 5.2 read with a free η, erratum E10(d)).

A separate experiment, named ``…-projected`` and not a verdict on the paper (Algorithm 1 has no
projection), runs θ_{t+1} = Π_Θ(θ_t + η ĝ_t) with δ = θ*/2 (the maximiser θ* = b/L outside Θ): it
shows what forcing the iterates into Θ does to the proof (erratum E10(a)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from verify import stats
from verify.verdict import CheckResult

LEVEL = stats.LEVEL
EXACT_SLACK = 1e-9  # float64 rounding of J differences of size ~1 over ~50 steps


@dataclass(frozen=True)
class OffsetToy:
    A: float = 0.5
    B: float = 1.0
    K: float = -0.2
    sigma: float = 0.3
    w: float = 0.1
    z: float = 0.5
    gamma: float = 0.9
    Rs: float = 0.05
    Ra: float = 0.005
    s_ref: float = 1.0
    H: int = 60  # truncation of ĝ's rollout
    T_exact: int = 2000  # truncation of the closed-form sums (γ^2000 underflows)

    def c(self, T: int) -> np.ndarray:
        M = self.A + self.B * self.K
        return self.B * (1 - M ** np.arange(T)) / (1 - M)

    def _lin(self, T: int) -> tuple[float, float]:
        """(b, L) of Σ_{t<T} γ^t E r_t = const + b θ − (L/2) θ²."""
        c, disc = self.c(T), self.gamma ** np.arange(T)
        return (float(2 * self.Rs * self.s_ref * (disc * c).sum()),
                float(2 * (disc * (self.Rs * c ** 2 + self.Ra * (self.K * c + 1) ** 2)).sum()))

    @property
    def L(self) -> float:
        return self._lin(self.T_exact)[1]

    @property
    def theta_star(self) -> float:
        b, L = self._lin(self.T_exact)
        return b / L

    def J(self, theta):
        """J(θ) − J(0), exact."""
        b, L = self._lin(self.T_exact)
        return b * theta - L / 2 * theta ** 2

    def grad(self, theta):
        b, L = self._lin(self.T_exact)
        return b - L * theta

    def mean_ghat(self, theta):
        """E ĝ(θ): the gradient of the H-step truncated objective."""
        b, L = self._lin(self.H)
        return b - L * theta

    def var_ghat(self) -> float:
        """v(1) = Var ĝ, exact: ĝ is linear in the Gaussian s_0, ς_t, ξ_t, with coefficients
        independent of θ (θ only shifts the means)."""
        c, H = self.c(self.H), self.H
        s = np.zeros(2 * H + 1)  # coefficients of s_t on (s_0/z, ς_0..ς_{H−1}, ξ_0..ξ_{H−1}), unit variances
        s[0] = self.z
        g = np.zeros_like(s)
        for t in range(H):
            a = self.K * s
            a[1 + t] += self.sigma
            g += self.gamma ** t * (-2 * self.Rs * c[t] * s - 2 * self.Ra * (self.K * c[t] + 1) * a)
            s = self.A * s + self.B * a
            s[1 + H + t] += self.w
        return float(g @ g)

    def ghat(self, theta: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """Per-sample pathwise gradients for each θ in ``theta`` (R,): shape (R, n)."""
        R, c = len(theta), self.c(self.H)
        s = self.z * rng.standard_normal((R, n))
        g = np.zeros((R, n))
        for t in range(self.H):
            a = self.K * s + theta[:, None] + self.sigma * rng.standard_normal((R, n))
            # dr_t/dθ = −2R_s (s_t − s_ref) c_t − 2R_a a_t (K c_t + 1)
            g += self.gamma ** t * (-2 * self.Rs * (s - self.s_ref) * c[t] - 2 * self.Ra * a * (self.K * c[t] + 1))
            s = self.A * s + self.B * a + self.w * rng.standard_normal((R, n))
        return g


TOY = OffsetToy()
RUNS = {True: 200, False: 2000}
T_ITERS = 40
BATCH = 4
#: η·L: Prop 5.2's own η = 1/√T (T ≥ 4L² holds: L ≈ 1.76, 4L² ≈ 12.4 < T), the proof's limits and beyond 1/L
ETAS = (round(TOY.L / math.sqrt(T_ITERS), 4), 0.5, 0.9, 1.5)
#: projection radii: none (Algorithm 1) and θ*/2 (the projected experiment)
DELTAS = (math.inf, TOY.theta_star / 2)


@lru_cache(maxsize=None)
def run(eta_L: float, delta: float, quick: bool) -> dict:
    """R independent runs of the iteration from θ_0 = 0: θ (R, T+1), ĝ (R, T); projected onto
    [−δ, δ] when δ is finite."""
    eta = eta_L / TOY.L
    R, rng = RUNS[quick], np.random.default_rng(int(eta_L * 100) + (0 if math.isinf(delta) else 7))
    theta, gs = [np.zeros(R)], []
    for _ in range(T_ITERS):
        g = TOY.ghat(theta[-1], BATCH, rng).mean(1)
        gs.append(g)
        theta.append(np.clip(theta[-1] + eta * g, -delta, delta))
    return {"theta": np.stack(theta, 1), "g": np.stack(gs, 1), "eta": eta}


def _claim(claim: str, delta: float) -> str:
    return claim if math.isinf(delta) else f"{claim}-projected"


def _inst(eta_L, delta, line, theta=None, **more) -> dict:
    if math.isinf(delta):
        where = {"projection": "none (Algorithm 1)", "delta": round(float(np.abs(theta).max()), 4)}
    else:
        where = {"projection": "onto [−δ, δ] (not Algorithm 1)", "delta": round(delta, 6)}
    return {"mdp": "offset-LQ toy", "A": TOY.A, "B": TOY.B, "K": TOY.K, "sigma": TOY.sigma, "gamma": TOY.gamma,
            "L": round(TOY.L, 6), "theta_star": round(TOY.theta_star, 6), "eta": f"{eta_L}/L", **where,
            "T": T_ITERS, "N": BATCH, "line": line, **more}


def _worst_exact(claim, form, eta_L, delta, th, line, left, right, jscale, note="") -> CheckResult:
    """left ≥ right over every run and iteration (exact per realisation): the worst pair. Rounding
    is judged relative to ``jscale`` = max |J| on the run (J differences cancel)."""
    scales = np.maximum(np.maximum(abs(left), abs(right)), jscale)
    gap = (right - left) / scales
    r, t = np.unravel_index(int(np.argmax(gap)), gap.shape)
    scale = scales[r, t]
    return CheckResult(_claim(claim, delta), form, _inst(eta_L, delta, line, th, t=int(t)), float(left[r, t]),
                       (float(left[r, t]),) * 2, float(right[r, t] - EXACT_SLACK * scale), direction="ge",
                       note=f"worst of {gap.shape[0]} runs x {gap.shape[1]} iterations; "
                            f"{int((gap > EXACT_SLACK).sum())} pairs violated" + (f"; {note}" if note else ""))


def step_results(quick: bool, L_scale: float = 1.0) -> list[CheckResult]:
    """(C.1) both lines, the identity η ĝ = θ_{t+1} − θ_t, and (C.2), per realisation.

    ``L_scale`` < 1 is the negative control (a smoothness constant below the true one)."""
    out, L = [], TOY.L * L_scale
    for eta_L in ETAS:
        for delta in DELTAS:
            r = run(eta_L, delta, quick)
            th, g, eta = r["theta"], r["g"], r["eta"]
            dJ = TOY.J(th[:, 1:]) - TOY.J(th[:, :-1])
            js = float(np.abs(TOY.J(th)).max())
            step = th[:, 1:] - th[:, :-1]
            grad = TOY.grad(th[:, :-1])
            b = np.abs(grad - TOY.mean_ghat(th[:, :-1]))
            out.append(_worst_exact("C.1", "printed", eta_L, delta, th, "J(θ_{t+1}) − J(θ_t) ≥ ∇J·(θ_{t+1} − θ_t) − (L/2)‖θ_{t+1} − θ_t‖² (descent lemma)",
                                    dJ, grad * step - L / 2 * step ** 2, js))
            res = np.abs(step - eta * g) / np.maximum(np.abs(eta * g), 1e-300)
            k = np.unravel_index(int(np.argmax(res)), res.shape)
            out.append(CheckResult(_claim("C.1", delta), "printed",
                                   _inst(eta_L, delta, "θ_{t+1} − θ_t = η ĝ_t — relative residual", th, t=int(k[1])),
                                   float(res[k]), (float(res[k]),) * 2, 1e-9,
                                   note=f"projection active in {int((res > 1e-9).sum())} of {res.size} steps"))
            out.append(_worst_exact("C.1", "printed", eta_L, delta, th, "J(θ_{t+1}) − J(θ_t) ≥ η ∇J·ĝ − (Lη²/2)‖ĝ‖² (second line)",
                                    dJ, eta * grad * g - L * eta ** 2 / 2 * g ** 2, js))
            mean = TOY.mean_ghat(th[:, :-1])
            c2 = eta / 2 * (-2 * np.abs(g) * b - (g - mean) ** 2 + g ** 2) - L * eta ** 2 / 2 * g ** 2
            out.append(_worst_exact("C.2", "printed", eta_L, delta, th,
                                    "J(θ_{t+1}) − J(θ_t) ≥ (η/2)(−2‖ĝ‖b_t − ‖ĝ − Eĝ‖² + ‖ĝ‖²) − (Lη²/2)‖ĝ‖²", dJ, c2, js))
    return out


def chain_results(quick: bool) -> list[CheckResult]:
    """The end of proof C.1: min_t E‖∇J(θ_t)‖² against its penultimate line
    (4c/T)(E[J(θ_T) − J(θ_0)] + Σ_t (η E‖ĝ_t‖ b_t + η v_t/2)) + (4/T) Σ_t (b_t² + v_t), and against
    Prop 5.2 as printed (2δ b_t in place of η E‖ĝ_t‖ b_t, J(θ_1) in place of J(θ_0)). b_t is exact at
    each run's θ_t and averaged over runs (E_r b_t(θ_{r,t}), b_t being random through θ_t), v_t = v(1)/N
    exact; the left side's interval is a CLT interval at the minimising t (the E[·] terms of the right
    side are run averages, whose Monte Carlo error is small next to the margins and not folded in)."""
    v = TOY.var_ghat() / BATCH
    out = []
    for eta_L in ETAS:
        for delta in DELTAS:
            r = run(eta_L, delta, quick)
            th, g, eta = r["theta"], r["g"], r["eta"]
            c = 1 / (eta - TOY.L * eta ** 2)
            sq = TOY.grad(th[:, :-1]) ** 2
            t = int(np.argmin(sq.mean(0)))
            m, lo, hi = stats.mean_ci(sq[:, t], LEVEL)
            b = np.abs(TOY.grad(th[:, :-1]) - TOY.mean_ghat(th[:, :-1])).mean(0)
            dJ = float((TOY.J(th[:, -1]) - TOY.J(th[:, 0])).mean())
            Eg = np.abs(g).mean(0)
            pen = 4 * c / T_ITERS * (dJ + (eta * Eg * b + eta * v / 2).sum()) + 4 / T_ITERS * (b ** 2 + v).sum()
            d = delta if math.isfinite(delta) else float(np.abs(th).max())
            dJ1 = float((TOY.J(th[:, -1]) - TOY.J(th[:, 1])).mean())  # as printed: J(θ_T) − J(θ_1)
            printed = 4 / T_ITERS * (c * (2 * d * b + eta / 2 * v) + b ** 2 + v).sum() + 4 * c / T_ITERS * dJ1
            note = (f"c = {c:.4g}, v_t = v(1)/N = {v:.4g} (exact), max b_t = {b.max():.3g}, "
                    f"E[J(θ_T) − J(θ_0)] = {dJ:.4g}, δ = {d:.4g}")
            out.append(CheckResult(_claim("C.5", delta), "explicit",
                                   _inst(eta_L, delta, "min_t E‖∇J(θ_t)‖² ≤ penultimate line of proof C.1", th, t=t),
                                   m, (lo, hi), pen, level=LEVEL, note=note))
            out.append(CheckResult(_claim("C.5", delta), "printed",
                                   _inst(eta_L, delta, "min_t E‖∇J(θ_t)‖² ≤ Prop 5.2 (2δ b_t)", th, t=t),
                                   m, (lo, hi), printed, level=LEVEL, note=note))
    return out


def results(quick: bool) -> list[CheckResult]:
    """The smoothness step and final chain, for ``verify.appendix_c.proof_chain_results``."""
    return step_results(quick) + chain_results(quick)


def controls(quick: bool) -> list[CheckResult]:
    """Negative controls: the descent lemma (C.1) with L/2 for L (η = 0.5/L), and the penultimate line
    of C.1 with its variance and bias terms removed at η = 0.9/L; both unprojected."""
    out = [r for r in step_results(quick, L_scale=0.5)
           if r.instance["line"].startswith("J(θ_{t+1}) − J(θ_t) ≥ ∇J·") and r.instance["eta"] == "0.5/L"
           and r.claim == "C.1"]
    r = run(0.9, math.inf, quick)
    th = r["theta"]
    sq = TOY.grad(th[:, :-1]) ** 2
    t = int(np.argmin(sq.mean(0)))
    m, lo, hi = stats.mean_ci(sq[:, t], LEVEL)
    out.append(CheckResult("C.5", "explicit", _inst(0.9, math.inf, "control: penultimate line without v_t and b_t terms", th, t=t),
                           m, (lo, hi), 0.0, level=LEVEL))
    return out
