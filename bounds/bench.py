"""Benchmark: explicit variance (C.16) and bias (C.24) bounds on 10^6 random parameter points.

``python -m bounds.bench [--n N] [--threads K]`` prints the wall time; target < 2 s on 2 cores.
numpy releases the GIL in its ufuncs, so the points are split in chunks over K threads.
"""
import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .bias import bias_explicit
from .numeric import Evaluator
from .variance import variance_explicit


def random_points(n, seed=0):
    """n random points over the documented ranges: h ≤ 1000, Lipschitz constants ≤ 10."""
    rng = np.random.default_rng(seed)
    u = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    return {"h": rng.integers(0, 1001, n).astype(float), "gamma": u(0.5, 0.999), "N": u(1, 100),
            "L_f": u(0, 10), "L_pi": u(0, 10), "L_theta": u(0, 10), "L_r": u(0, 10),
            "L_Q": u(0, 10), "L_Qhat": u(0, 10), "eps_f": u(0, 1), "eps_v": u(0, 1),
            "kappa": u(1, 10), "beta": u(0, 1), "e": u(0, 1)}


def run(n=10**6, threads=2, seed=0):
    """Evaluate both bounds on n points; returns (seconds, variance LogValue, bias LogValue)."""
    evs = [Evaluator(variance_explicit(), "variance_explicit"), Evaluator(bias_explicit(), "bias")]
    pts = random_points(n, seed)
    chunks = [{k: np.array_split(a, threads)[j] for k, a in pts.items()} for j in range(threads)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        out = [list(pool.map(lambda p, ev=ev: ev(**p), chunks)) for ev in evs]
    return time.perf_counter() - t0, out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bounds.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10**6)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    secs, out = run(a.n, a.threads)
    finite = all(np.isfinite(r.value).all() and not np.isnan(r.log).any() for rs in out for r in rs)
    print(f"explicit variance + bias bounds, {a.n} points, {a.threads} threads: {secs:.3f} s "
          f"(all finite: {finite})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
