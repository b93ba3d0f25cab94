"""Throughput of the trainers: environment steps per hour, each with its updates, the training
step's GFLOP/s next to a single-thread 256×256×256 matmul measured in the same run, and where the
time goes.

    python -m trainers.bench [--steps 300] [--threads 2] [--no-sn] [--algos rp-dp,rp-dr,ddpg,rp0] [--ceiling]
                             [--policy-hidden 256] [--critic-hidden 256] [--critic-layers 3] [--model-hidden 200]

GFLOP/s = the matrix-product FLOPs of one update (``torch.utils.flop_counter``: mm, addmm, bmm,
baddbmm, forward and backward) per second of this process's CPU time, so other processes on the
machine slow the wall clock but not the ratio; the matmul reference is timed the same way.

For each algorithm and h ∈ {0, 3, 10} (h = 0 only for ddpg and rp0) at the default network sizes
and update ratio, the buffer is pre-filled with random Hopper-v5 transitions and the model warm-up
is skipped, so every timed step runs the full h-step update (rp-dp and rp-dr at h = 0 are RP(0)).
The time shares split each step into acting, environment, model, critic and policy updates;
``--profile`` adds the operator table of torch.profiler for RP-DP h = 3. ``--ceiling`` adds the
ratio the step would reach if everything but its matrix products were free (``matmul_ceiling``),
the rate of the matrix products timed where they run (``matmul_in_situ``), and the ratio of one
network's forward and backward pass alone (``mlp_gflops``).
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from collections import Counter, defaultdict

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from trainers.agents import Agent
from trainers.algos import make_agent
from trainers.buffer import ReplayBuffer
from trainers.config import Config
from trainers.envs import make_env
from trainers.networks import mlp


def timed(fn, name: str, totals: dict):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        totals[name] += time.perf_counter() - t
        return out
    return wrapper


def matmul_gflops(n: int = 256, seconds: float = 1.0) -> float:
    """GFLOP/s of an n×n×n float32 matmul on the current torch threads, per second of CPU time."""
    a, b, out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    for _ in range(20):
        torch.mm(a, b, out=out)
    reps, c0 = 0, time.process_time()
    while time.process_time() - c0 < seconds:
        for _ in range(50):
            torch.mm(a, b, out=out)
        reps += 50
    return 2 * n ** 3 * reps / (time.process_time() - c0) / 1e9


def update_flops(agent: Agent, buffer: ReplayBuffer, step: int) -> int:
    """Matrix-product FLOPs of one ``agent.update`` (on a copy of the sampling generator's state)."""
    with FlopCounterMode(display=False) as counter:
        agent.update(buffer, np.random.default_rng(0), step=step)
    return counter.get_total_flops()


MATMULS = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default,
           torch.ops.aten.baddbmm.default}


class RecordMatmuls(TorchDispatchMode):
    """Records every matrix product FlopCounterMode counts: (op, [(shape, stride) or scalar], kwargs)."""

    def __init__(self):
        super().__init__()
        self.calls: list = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in MATMULS:
            self.calls.append((func, tuple((tuple(a.shape), a.stride()) if isinstance(a, torch.Tensor) else a
                                           for a in args), tuple(sorted((kwargs or {}).items()))))
        return func(*args, **(kwargs or {}))


def like(shape: tuple, stride: tuple) -> torch.Tensor:
    """A random float32 tensor with this shape and these strides (transposed, expanded operands)."""
    extent = 1 + sum((n - 1) * st for n, st in zip(shape, stride))
    return torch.randn(extent).as_strided(shape, stride)


def matmul_ceiling(agent: Agent, buffer: ReplayBuffer, step: int, seconds: float = 0.1) -> tuple[float, int]:
    """(GFLOP/s, FLOPs) of one update's matrix products alone: each one is recorded with its shapes
    and strides, replayed on random operands of that layout for ``seconds`` of CPU time, and the
    update's FLOPs divided by the sum of the replayed times. Operands stay in cache between
    repetitions, so this is an upper bound on what the step could reach if everything but its
    matrix products (autograd, pointwise ops, Adam, Python) cost nothing."""
    rec = RecordMatmuls()
    with rec:
        agent.update(buffer, np.random.default_rng(0), step=step)
    total_t = total_flops = 0
    for (func, specs, kwargs), count in Counter(rec.calls).items():
        args = [like(*a) if isinstance(a, tuple) else a for a in specs]
        with FlopCounterMode(display=False) as counter:
            func(*args, **dict(kwargs))
        reps, c0 = 0, time.process_time()
        while time.process_time() - c0 < seconds:
            for _ in range(10):
                func(*args, **dict(kwargs))
            reps += 10
        total_t += count * (time.process_time() - c0) / reps
        total_flops += count * counter.get_total_flops()
    return total_flops / total_t / 1e9, total_flops


class TimeMatmuls(TorchDispatchMode):
    """CPU seconds spent inside the matrix products FlopCounterMode counts, timed where they run."""

    def __init__(self):
        super().__init__()
        self.seconds = 0.0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func not in MATMULS:
            return func(*args, **(kwargs or {}))
        t = time.process_time_ns()
        out = func(*args, **(kwargs or {}))
        self.seconds += (time.process_time_ns() - t) * 1e-9
        return out


def matmul_in_situ(agent: Agent, buffer: ReplayBuffer, step: int, rng: np.random.Generator,
                   updates: int = 20) -> float:
    """GFLOP/s of the matrix products of ``updates`` real updates, each timed where it runs, its
    operands as the update leaves them in cache. The step's ratio to the matmul reference is this
    rate's ratio times the products' share of the step's CPU time, so it bounds the step's ratio.
    Each timing adds about 1 µs of dispatch to a product of 10–350 µs, and the timing's Python
    between products may evict operands the plain update would find in cache."""
    flops = update_flops(agent, buffer, step)
    timer = TimeMatmuls()
    with timer:
        for _ in range(updates):
            agent.update(buffer, rng, step=step)
    return flops * updates / timer.seconds / 1e9


def mlp_gflops(in_dim: int, hidden: int, out_dim: int, layers: int, batch: int,
               seconds: float = 0.5) -> tuple[float, int]:
    """(GFLOP/s, FLOPs) of one forward and backward pass of ``networks.mlp`` (no SN) on ``batch``
    rows, with autograd, no optimiser and no input gradient, operands in cache: the rate no update
    built from such a network can beat, whatever surrounds it."""
    net = mlp(in_dim, hidden, out_dim, layers)
    x, gy = torch.randn(batch, in_dim), torch.randn(batch, out_dim)

    def step():
        net.zero_grad(set_to_none=True)
        net(x).backward(gy)

    with FlopCounterMode(display=False) as counter:
        step()
    for _ in range(10):
        step()
    reps, c0 = 0, time.process_time()
    while time.process_time() - c0 < seconds:
        for _ in range(10):
            step()
        reps += 10
    flops = counter.get_total_flops()
    return flops * reps / (time.process_time() - c0) / 1e9, flops


def bench(cfg: Config, steps: int, prefill: int = 5000, profiler=None,
          ceiling: bool = False) -> tuple[float, float, dict]:
    """(steps/s of wall time, steps/s of this process's CPU time, wall-time share per phase); the
    share dict also holds ``flops``, the matrix-product FLOPs of one update, and with ``ceiling``
    the GFLOP/s of ``matmul_ceiling`` and of ``matmul_in_situ`` (after the timed steps).

    With one thread the CPU-time rate is what a dedicated core gives, even when other processes
    share the machine; the wall-time rate is what this machine gave now."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    env, max_steps = make_env(cfg.env)
    agent = make_agent(cfg, env.observation_space.shape[0], env.action_space.shape[0])
    buffer = ReplayBuffer(env.observation_space.shape[0], env.action_space.shape[0])
    rng = np.random.default_rng(cfg.seed)
    obs, _ = env.reset(seed=cfg.seed)
    t_ep = 0

    def env_step(action):
        nonlocal obs, t_ep
        nxt, r, term, _, _ = env.step(action)
        t_ep += 1
        done = term or t_ep >= max_steps
        buffer.add(obs, action, r, nxt, term, done)
        obs = nxt
        if done:
            obs, _ = env.reset()
            t_ep = 0

    for _ in range(prefill):
        env_step(rng.uniform(-1, 1, agent.act_dim))
    flops = update_flops(agent, buffer, cfg.model_warmup)
    extra = {"ceiling": matmul_ceiling(agent, buffer, cfg.model_warmup)[0]} if ceiling else {}
    totals: dict[str, float] = defaultdict(float)
    for name in ("act", "update_model", "update_critic", "update_policy"):
        if hasattr(agent, name):  # DDPG learns no model
            setattr(agent, name, timed(getattr(agent, name), name, totals))
    env_step = timed(env_step, "env", totals)
    for n in range(steps + 20):
        if n == 20:  # warm-up steps (allocator, first Adam steps) are not timed
            totals.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.start()
        env_step(agent.act(obs, explore=True))
        agent.update(buffer, rng, step=cfg.model_warmup)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    if profiler is not None:
        profiler.stop()
    totals["other"] = elapsed - sum(totals.values())
    share = {k: v / elapsed for k, v in totals.items()}
    if ceiling:
        extra["in_situ"] = matmul_in_situ(agent, buffer, cfg.model_warmup, rng)
    return steps / elapsed, steps / cpu, {**share, "flops": flops, **extra}


SIZES = ("policy_hidden", "critic_hidden", "critic_layers", "model_hidden")  # network sizes the command line sets


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m trainers.bench", description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=Config.threads)
    p.add_argument("--sn", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--algos", default="rp-dp,rp-dr,ddpg,rp0")
    p.add_argument("--hs", default="0,3,10")
    p.add_argument("--profile", action="store_true", help="operator profile of rp-dp h=3")
    p.add_argument("--ceiling", action="store_true",
                   help="rate of the matrix products where they run (in-situ) and replayed alone (ceiling)")
    for f in SIZES:
        p.add_argument("--" + f.replace("_", "-"), type=int, default=getattr(Config, f),
                       help="official: policy and critic 512, critic 4 layers" if f == "policy_hidden" else None)
    args = p.parse_args(argv)
    sizes = {f: getattr(args, f) for f in SIZES}
    if min(sizes.values()) < 1:
        p.error("network sizes must be positive")
    torch.set_num_threads(args.threads)
    ref = matmul_gflops()
    print(f"threads={args.threads} sn={args.sn} steps={args.steps} {sizes} (defaults otherwise)")
    print(f"256x256x256 matmul: {ref:.1f} GFLOP/s (CPU time, {args.threads} thread(s))")
    print(f"{'algo':6} {'h':>3} {'steps/s':>8} {'steps/h':>9} {'cpu steps/h':>11} {'GFLOP/step':>10} "
          f"{'GFLOP/s':>8} {'ratio':>6}{' in-situ ceiling' if args.ceiling else ''}  time share: act env model critic policy other")
    for algo in args.algos.split(","):
        for h in (int(x) for x in args.hs.split(",")):
            if (algo in ("ddpg", "rp0")) != (h == 0):
                continue
            cfg = dataclasses.replace(Config(), algo=algo, h=h, sn=args.sn, threads=args.threads, **sizes)
            rate, cpu_rate, share = bench(cfg, args.steps, ceiling=args.ceiling)
            parts = " ".join(f"{share.get(k, 0):.2f}" for k in
                             ("act", "env", "update_model", "update_critic", "update_policy", "other"))
            ceil = f" {share['in_situ'] / ref:7.2f} {share['ceiling'] / ref:7.2f}" if args.ceiling else ""
            gflops = share["flops"] * cpu_rate / 1e9  # acting adds 0.3 MFLOP per step, not counted
            print(f"{algo:6} {h:>3} {rate:8.1f} {rate * 3600:9.0f} {cpu_rate * 3600:11.0f} {share['flops'] / 1e9:10.2f} "
                  f"{gflops:8.1f} {gflops / ref:6.2f}{ceil}  {parts}", flush=True)
    if args.ceiling:
        c = dataclasses.replace(Config(), **sizes)
        env = make_env(c.env)[0]
        obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
        print(f"one network, forward and backward alone (batch {c.batch_size}, no SN, no optimiser, in cache):")
        for name, dims in (("model", (obs_dim + act_dim, c.model_hidden, obs_dim, c.model_layers)),
                           ("policy", (obs_dim, c.policy_hidden, 2 * act_dim, c.policy_layers)),
                           ("critic", (obs_dim + act_dim, c.critic_hidden, 1, c.critic_layers))):
            print(f"  {name:6} {'→'.join(map(str, [dims[0]] + [dims[1]] * (dims[3] - 1) + [dims[2]]))}: "
                  f"ratio {mlp_gflops(*dims, c.batch_size)[0] / ref:.2f}", flush=True)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        prof = profile(activities=[ProfilerActivity.CPU])
        bench(dataclasses.replace(Config(), algo="rp-dp", h=3, sn=args.sn, threads=args.threads, **sizes), 30,
              profiler=prof)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
