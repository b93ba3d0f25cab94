"""Benchmark of the per-sample variance methods (issue 3): ``python -m trainers.bench_variance``.

For h ∈ {1, 5, 20} and N = 4096 on LQR (d_s = 4, d_a = 2) with its linear policy (8 parameters)
and with a tanh MLP policy 4 → 256 → 256 → 2 (67 586 parameters), times one estimate of v(1) by

- floor: one batched backward of the mean gradient (what any method must at least do),
- fast: ``per_sample_sq_norms`` (one backward with layer hooks, no per-sample gradients),
- vmap: ``per_sample_grads`` (torch.func vmap(grad), chunked), then the variance,
- loop: ``per_sample_grads_loop`` (one autograd call per sample).

vmap and loop cost exactly N times their per-sample cost, so they are timed on a subset of N (see
``--vmap-n``, ``--loop-n``) and scaled to N; fast and floor run at the full N. Agreement is the
relative difference of fast and loop on the loop subset. Medians over ``--repeats`` runs.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from toy_mdps.base import NeuralPolicy
from toy_mdps.lqr import LQR
from trainers.estimators import gradient_variance, mve_value, sample_start_states


def value_fn(problem, h: int):
    """The per-trajectory value (4.1) on ``problem``, as ``value(policy, s0, noise)``."""
    def value(policy, s0, noise):
        return mve_value(policy, problem.model, problem.reward, problem.critic, s0, noise, h, problem.gamma)
    return value


def estimator_inputs(problem, h: int, beta: float, n: int, generator: torch.Generator):
    """n start states from μ = βν + (1 − β)ζ and the RP-DP noise of h model steps."""
    s0 = sample_start_states(beta, problem.sample_nu, problem.sample_zeta, n, generator)
    return s0, problem.sample_noise(h, n, generator)


def timed(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after one untimed warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def floor(policy, fn, s0, noise):
    """One batched backward of the mean gradient."""
    return torch.autograd.grad(fn(policy, s0, noise).mean(), list(policy.parameters()))


def bench(problem, h: int, n: int, vmap_n: int, loop_n: int, repeats: int) -> dict:
    s0, noise = estimator_inputs(problem, h, 0.5, n, torch.Generator().manual_seed(h))
    fn = value_fn(problem, h)
    pol = problem.policy
    sub = lambda k: (s0[:k], noise.select(slice(0, k)))
    t_floor = timed(lambda: floor(pol, fn, s0, noise), repeats)
    t_fast = timed(lambda: gradient_variance(pol, fn, s0, noise, "fast"), repeats)
    t_vmap = timed(lambda: gradient_variance(pol, fn, *sub(vmap_n), "vmap", chunk_size=256), 1) * n / vmap_n
    t_loop = timed(lambda: gradient_variance(pol, fn, *sub(loop_n), "loop"), 1) * n / loop_n
    fast, loop = (gradient_variance(pol, fn, *sub(loop_n), m) for m in ("fast", "loop"))
    return dict(h=h, floor=1 / t_floor, fast=1 / t_fast, vmap=1 / t_vmap, loop=1 / t_loop,
                fast_over_floor=t_fast / t_floor, loop_over_fast=t_loop / t_fast,
                rel_diff=float(abs(fast / loop - 1)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--vmap-n", type=int, default=512)
    parser.add_argument("--loop-n", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 avoids contention on a shared 2-core machine")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    lqr = LQR.random(0)
    net = LQR.random(0)
    net.policy = NeuralPolicy(4, 2, (256, 256), 0.1, net.noise_kind, torch.Generator().manual_seed(0))
    n_params = sum(p.numel() for p in net.policy.parameters())
    print(f"N = {args.n}, threads = {args.threads}; variance estimates per second (median of {args.repeats})")
    print(f"{'policy':>14} {'h':>3} {'floor':>9} {'fast':>9} {'vmap':>9} {'loop':>9} "
          f"{'fast/floor':>10} {'loop/fast':>9} {'|fast/loop-1|':>13}")
    for name, problem in (("linear (8)", lqr), (f"MLP ({n_params})", net)):
        for h in (1, 5, 20):
            r = bench(problem, h, args.n, args.vmap_n, args.loop_n, args.repeats)
            print(f"{name:>14} {h:>3} {r['floor']:>9.3g} {r['fast']:>9.3g} {r['vmap']:>9.3g} {r['loop']:>9.3g} "
                  f"{r['fast_over_floor']:>9.2f}x {r['loop_over_fast']:>8.1f}x {r['rel_diff']:>13.1e}", flush=True)


if __name__ == "__main__":
    main()
