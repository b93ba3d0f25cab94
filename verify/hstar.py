"""h* measured on an LQR instance: the exact g(h) of (C.28), its argmin, and Proposition 5.10's h* beside it.

``python -m verify.hstar --instance JSON [--eta η] [--L L] [--delta δ] [--N N] [--H H] [--probes 0,1,2,3
[--samples n] [--seed s]] [--json]``

The instance is the LQR JSON of ``python -m verify.search prop5.8 --instance`` (keys ``KEYS``), built by
``verify.search.lqr_problem``: true and model dynamics (A, B; Â, B̂: model error), the critic Q^π + dH
(critic error), σ, the noise and start factors, γ, and the estimator's β and RP-DP/RP-DR; its ``h`` is
ignored, since h is swept. With b_t(h), v_t(h) = v_t(1)/N exact (``prop5_10.exact_g``, i.e.
``toy_mdps.lqr_exact``), g(h) = c (δ b_t + η/2 v_t) + b_t² + v_t, c = 1/(η − Lη²), for h = 0..H, and
``h_exact`` is its argmin (smallest on ties): the h* that Proposition 5.10 defines, and ``recommended_h``.

``h_paper`` is Proposition 5.10's O(·) argument with C_h = 1 (``bounds.hstar.h_star_paper_np``) at the
instance's ε_f (4.7) and at both ends of its ε_v interval, as ``verify.section5.prop5_10`` reads them
(``eps_v_range``: the mean over h = 1..20 of ε_v of (4.8), coupled reading). prop5_10 compares a real h*
with an integer argmin through the integers {⌊lo⌋, …, ⌈hi⌉} (``integers_around``); the regret
g(h) − g(h_exact) is given as [min, max] over those integers. Without model error (ε_f = 0) ε_v/ε_f has no
value, and h_paper and the regret are null. Bad input exits 2 with one line on stderr.

``--probes``: b_t and v_t by Monte Carlo at those h only (``probe_moments``), the shape of ``fit_approach``
fitted to each, g extrapolated to h = 0..H: ``h_predicted``, with a bootstrap interval (``probe_hstar``).
``probe_results`` (the report's section "hstar-probes") holds it against ``h_exact`` on the Prop 5.10
ladder and on random LQR instances, beside Prop 5.10's h*.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from bounds import hstar
from verify import instances, measure
from verify.registry import section
from verify.search import lqr_problem, random_stable_instance
from verify.search_families import Infeasible
from verify.section5 import prop5_10
from verify.verdict import CheckResult

#: the keys of ``verify.search.lqr_instance``; ``OPTIONAL`` ones describe, the rest build the problem
KEYS = ("family", "d_s", "d_a", "A", "B", "K", "A_hat", "B_hat", "dH", "sigma", "noise_factor", "init_factor",
        "gamma", "h", "beta", "estimator")
OPTIONAL = ("family", "d_s", "d_a", "h")
FAMILY = "lqr-uniform"
H_LIMIT = 200  # the exact forms grow with h (u has O(h) coordinates): a guard against typos


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        _fail(message)


def _fail(message: str):
    sys.stderr.write(f"verify.hstar: error: {' '.join(str(message).split())}\n")
    raise SystemExit(2)


def problem(inst) -> tuple:
    """(the LQR, β, estimator) of an instance dict; ValueError on unknown or missing keys, a wrong family,
    γ outside (0, 1), β outside [0, 1], an unknown estimator or dimensions that disagree with the matrices,
    Infeasible (``lqr_problem``) if uncertified."""
    if not isinstance(inst, dict):
        raise ValueError(f"the instance must be a JSON object, got {type(inst).__name__}")
    unknown = sorted(set(inst) - set(KEYS))
    if unknown:
        raise ValueError(f"unknown instance keys {unknown} (allowed: {', '.join(KEYS)})")
    missing = [k for k in KEYS if k not in inst and k not in OPTIONAL]
    if missing:
        raise ValueError(f"the instance lacks {missing}")
    if inst.get("family", FAMILY) != FAMILY:
        raise ValueError(f"family must be {FAMILY!r}, got {inst['family']!r}")
    if not 0 < inst["gamma"] < 1:
        raise ValueError(f"gamma must lie in (0, 1), got {inst['gamma']}")
    if not 0 <= inst["beta"] <= 1 or inst["estimator"] not in ("dp", "dr"):
        raise ValueError(f"need beta in [0, 1] and estimator 'dp' or 'dr', got {inst['beta']}, {inst['estimator']!r}")
    p = lqr_problem(inst)
    for key, d in (("d_s", p.d_s), ("d_a", p.d_a)):
        if inst.get(key, d) != d:
            raise ValueError(f"{key} = {inst[key]} disagrees with the matrices ({d})")
    dH, d_x = np.asarray(inst["dH"], float), p.d_s + p.d_a
    if dH.shape != (d_x, d_x) or not np.allclose(dH, dH.T):  # lqr_problem would broadcast a 1 × 1 dH
        raise ValueError(f"dH must be a symmetric {d_x} × {d_x} matrix, got shape {dH.shape}")
    return p, inst["beta"], inst["estimator"]


def exact_hstar(p, beta: float, estimator: str, eta: float = prop5_10.ETA, L: float = prop5_10.L_SMOOTH,
                delta: float = prop5_10.DELTA, N: int = prop5_10.N, H: int = prop5_10.HS[-1]) -> dict:
    """Eq. (C.28) exactly on the LQR ``p`` (of ``problem``) over h = 0..H, its argmin, Prop 5.10's h* and the
    regret (module docstring); ValueError if h_paper's integers exceed H (g is not computed there)."""
    eps_f, eps_v = p.eps_f(), prop5_10.eps_v_range(p)
    h_paper = ints = regret = None  # without model error (ε_f = 0) Prop 5.10's ε_v/ε_f has no value
    if eps_f > 0:
        h_paper = [float(hstar.h_star_paper_np(**prop5_10.params(p, e, N))) for e in eps_v]  # free of η, L, δ
        ints = [math.floor(min(h_paper)), math.ceil(max(h_paper))]  # the integers of prop5_10.integers_around
        if ints[1] > H:
            raise ValueError(f"h_paper = {max(h_paper):.4g} needs g up to h = {ints[1]}: raise --H to {ints[1]}")
    b, v1, g = prop5_10.exact_g(p, N, range(H + 1), beta, estimator, eta=eta, L=L, delta=delta)
    h_exact = int(np.argmin(g))
    if ints:
        at = g[ints[0]:ints[1] + 1]
        regret = [float(at.min() - g[h_exact]), float(at.max() - g[h_exact])]
    basis = (f"exact argmin over h = 0..{H} of g(h) of (C.28) from the exact b_t(h), v_t(h) of this instance "
             f"(toy_mdps.lqr_exact) at η = {eta:g}, L = {L:g}, δ = {delta:g}, N = {N}")
    if h_exact == H:
        basis += f"; it lies at the edge h = {H}, so the argmin over all h may be larger (raise --H)"
    lip = instances.lipschitz(p)
    return {"recommended_h": h_exact, "basis": basis, "h_exact": h_exact, "h_exact_at_edge": h_exact == H,
            "h_paper": h_paper, "h_paper_integers": ints, "regret": regret,
            "h": list(range(H + 1)), "b": b.tolist(), "v": (v1 / N).tolist(), "g": g.tolist(),
            "eps_f": eps_f, "eps_v": list(eps_v), "c": 1 / (eta - L * eta ** 2),
            "hypotheses": {"L_f < 1": bool(lip["L_fhat"] < 1), "L_pi < 1": bool(lip["L_pi"] < 1)},
            "inputs": {"eta": eta, "L": L, "delta": delta, "N": N, "H": H, "beta": beta, "estimator": estimator}}


# --- h* from short probes ---------------------------------------------------------------------------

#: the rates λ searched by ``fit_approach``
LAMBDAS = np.linspace(0.0, 1.5, 301)


def fit_approach(hs, y, gamma: float) -> tuple[np.ndarray, float]:
    """(coefficients (α, β_γ, β_λ), λ) of y(h) ≈ α + β_γ γ^h + β_λ λ^h by least squares (λ on ``LAMBDAS``,
    the coefficients linear). The corrected bounds of Props 5.4 and 5.8 are sums of geometric terms in h:
    the critic's error enters through γ^h (the tail γ^h Q̂ and E12's γ^{h+1}), the model's through a
    rate of its own (ρ^h, saturating on a contracting loop); four probes fix the four numbers."""
    hs, y = np.asarray(hs, float), np.asarray(y, float)
    best = None
    for lam in LAMBDAS:
        X = np.stack([np.ones_like(hs), gamma ** hs, lam ** hs], 1)
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        sse = float(np.sum((X @ coef - y) ** 2))
        if best is None or sse < best[0]:
            best = (sse, coef, float(lam))
    return best[1], best[2]


def extrapolate(fit: tuple[np.ndarray, float], gamma: float, H: int) -> np.ndarray:
    """The fitted curve over h = 0..H, floored at 0 (b_t and v_t are non-negative)."""
    (a, b_g, b_l), lam = fit
    h = np.arange(H + 1, dtype=float)
    return np.maximum(a + b_g * gamma ** h + b_l * lam ** h, 0.0)


def predict(probes, b, v1, gamma: float, H: int, eta: float, L: float, delta: float, N: int) -> int:
    """h_predicted: the argmin over 0..H of g of (C.28) built from b_t, v_t(1) fitted at ``probes``."""
    b_h = extrapolate(fit_approach(probes, b, gamma), gamma, H)
    v_h = extrapolate(fit_approach(probes, v1, gamma), gamma, H)
    return int(np.argmin(prop5_10.g_of(b_h, v_h, N, eta, L, delta)))


def bias_variance(x: np.ndarray, grad_J: np.ndarray) -> tuple[float, float]:
    """(b̂, v̂) of n per-sample gradients ``x``: v̂ = mean ‖ĝ − ḡ‖² (unbiased, n − 1) and
    b̂ = √max(‖ḡ − ∇J‖² − v̂/n, 0) (‖ḡ − ∇J‖² over-counts b² by v/n)."""
    v = float(np.sum(np.var(x, axis=0, ddof=1)))
    return math.sqrt(max(float(np.sum((x.mean(0) - grad_J) ** 2)) - v / len(x), 0.0)), v


def probe_moments(p, probes, beta: float, estimator: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Monte Carlo b_t and v_t(1) at each probe h from ``n`` per-sample gradients (``verify.measure``,
    ``bias_variance``), and the gradients themselves."""
    grad_J = p.true_grad().numpy()
    samples = [measure.sample_gradients(p, h, beta, n, estimator, seed=seed + h).numpy() for h in probes]
    b, v = zip(*(bias_variance(x, grad_J) for x in samples))
    return np.array(b), np.array(v), samples


def probe_hstar(p, beta: float, estimator: str, probes, n: int, seed: int = 0, boot: int = 200, eta=prop5_10.ETA,
                L=prop5_10.L_SMOOTH, delta=prop5_10.DELTA, N=prop5_10.N, H: int = prop5_10.HS[-1]) -> dict:
    """h_predicted from Monte Carlo probes, with a 95 % percentile interval over ``boot`` bootstrap
    resamples of each probe's gradients (the refit and argmin redone per resample)."""
    b, v, samples = probe_moments(p, probes, beta, estimator, n, seed)
    grad_J = p.true_grad().numpy()
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(boot):
        bb, vv = zip(*(bias_variance(x[rng.integers(0, n, n)], grad_J) for x in samples))
        draws.append(predict(probes, bb, vv, p.gamma, H, eta, L, delta, N))
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return {"h_predicted": predict(probes, b, v, p.gamma, H, eta, L, delta, N), "interval": [int(lo), int(hi)],
            "probes": list(probes), "samples_per_probe": n, "bootstrap": boot, "b_probe": b.tolist(),
            "v_probe": v.tolist()}


# --- the report's table: h_predicted and h_paper against h_exact --------------------------------------

PROBES = (0, 1, 2, 3)
H_EVAL = 40  # instances whose exact argmin is at this edge are left out (the argmin may lie beyond)


@dataclass(frozen=True)
class ProbeConfig:
    random: int  # random LQR instances drawn (``verify.search.random_stable_instance``, γ ≤ 0.99)
    samples: int  # Monte Carlo gradients per probe on the ladder
    boot: int  # bootstrap resamples of the Monte Carlo probes


PROBE_QUICK, PROBE_FULL = ProbeConfig(40, 20_000, 50), ProbeConfig(500, 20_000, 100)


def _ends(h: int, lo: int, hi: int) -> tuple[int, int]:
    """min and max of |h' − h| over h' ∈ lo..hi."""
    return (0 if lo <= h <= hi else min(abs(lo - h), abs(hi - h))), max(abs(lo - h), abs(hi - h))


def probe_rows(name: str, p, beta: float, estimator: str, mc: Optional[ProbeConfig] = None) -> list[CheckResult]:
    """|h − h_exact| ≤ 1 for h_predicted from exact b_t, v_t at ``PROBES`` (``hstar.probes``), for Prop 5.10's
    h* rounded (``hstar.paper``; ε_v at the middle of its interval) and, with ``mc``, for h_predicted from
    Monte Carlo probes (``hstar.probes-mc``, interval from the bootstrap); [] where h_exact is at ``H_EVAL``."""
    b, v1, g = prop5_10.exact_g(p, prop5_10.N, range(H_EVAL + 1), beta, estimator)
    h_exact = int(np.argmin(g))
    if h_exact == H_EVAL:
        return []
    h_pred = predict(PROBES, b[:len(PROBES)], v1[:len(PROBES)], p.gamma, H_EVAL, prop5_10.ETA, prop5_10.L_SMOOTH,
                     prop5_10.DELTA, prop5_10.N)
    e_v = float(np.mean(prop5_10.eps_v_range(p)))
    h_paper = min(int(round(float(hstar.h_star_paper_np(**prop5_10.params(p, e_v))))), H_EVAL)
    lip = instances.lipschitz(p)
    inst = {"mdp": name, "d_s": p.d_s, "d_a": p.d_a, "gamma": round(p.gamma, 4), "beta": round(beta, 4),
            "estimator": estimator, "eps_f": round(p.eps_f(), 4), "L_f < 1": bool(lip["L_fhat"] < 1),
            "L_pi < 1": bool(lip["L_pi"] < 1), "h_exact": h_exact}
    regret = lambda h: float(g[h] - g[h_exact])
    row = lambda claim, form, h, ci, note: CheckResult(
        claim, form, {**inst, "h": h, "regret": round(regret(h) if isinstance(h, int) else max(map(regret, h)), 6)},
        abs(h - h_exact) if isinstance(h, int) else ci[1], ci, 1.5, level=1.0, kind="qualitative",
        note=note + "; |h − h_exact| ≤ 1 for integers (bound 1.5)")
    out = [row("hstar.probes", "corrected", h_pred, (abs(h_pred - h_exact),) * 2,
               f"h_predicted from exact b_t, v_t at h = {list(PROBES)} (fit_approach)"),
           row("hstar.paper", "printed", h_paper, (abs(h_paper - h_exact),) * 2,
               f"Prop 5.10's h* with C_h = 1 at ε_v = {e_v:.4g}, rounded")]
    if mc is not None:
        q = probe_hstar(p, beta, estimator, PROBES, mc.samples, boot=mc.boot, H=H_EVAL)
        lo, hi = q["interval"]
        out.append(CheckResult("hstar.probes-mc", "corrected",
                               {**inst, "h": q["h_predicted"], "interval": [lo, hi], "regret": round(regret(q["h_predicted"]), 6)},
                               abs(q["h_predicted"] - h_exact), _ends(h_exact, lo, hi), 1.5, level=0.95, kind="qualitative",
                               note=f"h_predicted from {mc.samples} Monte Carlo gradients per probe at h = {list(PROBES)}, "
                                    f"interval over {mc.boot} bootstrap resamples; |h − h_exact| ≤ 1 (bound 1.5)"))
    return out


def probe_results(quick: bool) -> list[CheckResult]:
    """``probe_rows`` on the Prop 5.10 ladder (with Monte Carlo probes) and on random LQR instances (exact
    probes), then one row per method: the fraction within ±1 against the issue's goal 0.9, mean and
    median regret in its note."""
    cfg = PROBE_QUICK if quick else PROBE_FULL
    rows = []
    for ef, dv in prop5_10.config(quick).rungs:
        rows += probe_rows(f"ladder ε_f = {ef}, δ_v = {dv}", prop5_10.rung(ef, dv).problem, prop5_10.BETA,
                           prop5_10.EST, cfg)
    rng = np.random.default_rng(0)
    for k in range(cfg.random):
        inst = random_stable_instance(rng)
        inst["gamma"] = min(inst["gamma"], 0.99)
        try:
            p = lqr_problem(inst)
        except Infeasible:
            continue
        rows += probe_rows(f"random {k}", p, inst["beta"], inst["estimator"])
    out = list(rows)
    for claim in ("hstar.probes", "hstar.paper", "hstar.probes-mc"):
        rs = [r for r in rows if r.claim == claim]
        if not rs:
            continue
        hit = float(np.mean([r.measured <= 1 for r in rs]))
        reg = np.array([r.instance["regret"] for r in rs])
        out.append(CheckResult(claim + ".fraction", rs[0].form, {"mdp": "ladder and random LQR", "rows": len(rs)},
                               hit, (hit, hit), 0.9, direction="ge", level=1.0, kind="qualitative",
                               note=f"fraction within ±1 of h_exact against the goal 0.9; regret g(h) − g(h_exact): "
                                    f"mean {reg.mean():.4g}, median {np.median(reg):.4g}"))
    return out


@section("hstar-probes", "h* from short probes (issue 32): h_predicted and Prop 5.10's h* against the exact argmin",
         order=45)
def probe_section(quick: bool) -> list[CheckResult]:
    return probe_results(quick)


def _positive(name):
    finite = hstar._finite_float(name)  # bounds.hstar's parser, then the sign

    def conv(text):
        x = finite(text)
        if x <= 0:
            raise argparse.ArgumentTypeError(f"--{name} must be > 0, got {text!r}")
        return x
    return conv


def _integer(name, low, high):
    def conv(text):
        try:
            x = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--{name} must be an integer, got {text!r}") from None
        if not low <= x <= high:
            raise argparse.ArgumentTypeError(f"--{name} must lie in [{low}, {high}], got {x}")
        return x
    return conv


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m verify.hstar", description=__doc__.splitlines()[0],
                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--instance", required=True,
                    help="LQR instance JSON, as python -m verify.search prop5.8 --instance takes it")
    ap.add_argument("--eta", type=_positive("eta"), default=prop5_10.ETA, help="learning rate η, 0 < η < 1/L")
    ap.add_argument("--L", type=float, default=prop5_10.L_SMOOTH, help="smoothness constant L of J, ≥ 0")
    ap.add_argument("--delta", type=_positive("delta"), default=prop5_10.DELTA, help="radius δ of Θ, > 0")
    ap.add_argument("--N", type=_integer("N", 1, 10 ** 9), default=prop5_10.N, help="batch size, ≥ 1")
    ap.add_argument("--H", type=_integer("H", 0, H_LIMIT), default=prop5_10.HS[-1], help="largest h")
    ap.add_argument("--probes", type=_probes, default=None,
                    help="h at which to estimate b_t, v_t by Monte Carlo and extrapolate h* (e.g. 0,1,2,3)")
    ap.add_argument("--samples", type=_integer("samples", 10, 10 ** 7), default=20_000,
                    help="per-sample gradients per probe")
    ap.add_argument("--seed", type=_integer("seed", 0, 2 ** 31), default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return ap


def _probes(text):
    try:
        hs = sorted({int(x) for x in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--probes must be integers separated by commas, got {text!r}") from None
    if len(hs) < 4 or hs[0] < 0:
        raise argparse.ArgumentTypeError(f"--probes needs at least 4 distinct h ≥ 0 (4 numbers are fitted), got {text!r}")
    return hs


def _print(r: dict) -> None:
    print(f"recommended h = {r['recommended_h']}: {r['basis']}")
    lo, hi = r["h_paper_integers"] or (-1, -1)
    print(f"{'h':>4} {'b_t':>12} {'v_t':>12} {'g':>12}")
    for h, b, v, g in zip(r["h"], r["b"], r["v"], r["g"]):
        marks = (["h_exact"] if h == r["h_exact"] else []) + (["h_paper"] if lo <= h <= hi else [])
        print(f"{h:>4} {b:>12.6g} {v:>12.6g} {g:>12.6g}" + (f"  <- {', '.join(marks)}" if marks else ""))
    print(f"h_exact  {r['h_exact']}" + ("  (at the edge: raise --H)" if r["h_exact_at_edge"] else ""))
    if r["h_paper"] is None:
        print("h_paper  none: ε_f = 0, so Prop 5.10's ε_v/ε_f has no value (no regret either)")
    else:
        print(f"h_paper  [{r['h_paper'][0]:.6g}, {r['h_paper'][1]:.6g}] over the ε_v interval; integers {lo}..{hi}")
        print(f"regret   g(h_paper) - g(h_exact) in [{r['regret'][0]:.6g}, {r['regret'][1]:.6g}]")
    print(f"eps_f {r['eps_f']:.6g}, eps_v in [{r['eps_v'][0]:.6g}, {r['eps_v'][1]:.6g}], c {r['c']:.6g}; "
          + ", ".join(f"{k}: {v}" for k, v in r["hypotheses"].items()))
    if "probe" in r:
        q = r["probe"]
        print(f"h_predicted  {q['h_predicted']} (95 % bootstrap interval {q['interval'][0]}..{q['interval'][1]}) from "
              f"probes at h = {q['probes']}, {q['samples_per_probe']} samples each (fit_approach)")


def main(argv: Optional[list[str]] = None) -> int:
    a = build_parser().parse_args(argv)
    if not (math.isfinite(a.L) and a.L >= 0 and a.L * a.eta < 1):
        _fail(f"need L ≥ 0 and 0 < η < 1/L (so that c = 1/(η − Lη²) > 0), got eta={a.eta}, L={a.L}")
    torch.set_num_threads(1)
    try:
        built = problem(json.loads(a.instance))
    except json.JSONDecodeError as e:
        _fail(f"--instance is not valid JSON: {e}")
    except (ValueError, TypeError, IndexError, Infeasible) as e:
        _fail(f"bad instance: {e}")
    try:
        r = exact_hstar(*built, a.eta, a.L, a.delta, a.N, a.H)
    except ValueError as e:
        _fail(e)
    if a.probes is not None:
        if a.probes[-1] > a.H:
            _fail(f"--probes must lie in 0..H = {a.H}, got {a.probes}")
        r["probe"] = probe_hstar(*built, a.probes, a.samples, a.seed, eta=a.eta, L=a.L, delta=a.delta, N=a.N, H=a.H)
    if a.json:
        print(json.dumps(r))
    else:
        _print(r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
