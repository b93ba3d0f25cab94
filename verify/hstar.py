"""h* measured on an LQR instance: the exact g(h) of (C.28), its argmin, and Proposition 5.10's h* beside it.

``python -m verify.hstar --instance JSON [--eta η] [--L L] [--delta δ] [--N N] [--H H] [--json]``

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
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Optional

import numpy as np
import torch

from bounds import hstar
from verify import instances
from verify.search import lqr_problem
from verify.search_families import Infeasible
from verify.section5 import prop5_10

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


def _positive(name):
    def conv(text):
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--{name} must be a number, got {text!r}") from None
        if not (math.isfinite(x) and x > 0):
            raise argparse.ArgumentTypeError(f"--{name} must be finite and > 0, got {text!r}")
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
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return ap


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
    if a.json:
        print(json.dumps(r))
    else:
        _print(r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
