"""Evaluate a run's latest checkpoint: mean and std of the return of the deterministic policy.

    python -m trainers.evaluate runs/NAME [--episodes 10] [--seed 12345]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from trainers import rundir
from trainers.envs import evaluate_policy


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainers.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=12345, help="episode i is seeded seed + i")
    args = p.parse_args(argv)
    if args.episodes <= 0:
        print(f"error: --episodes must be > 0, got {args.episodes}", file=sys.stderr)
        return 2
    try:
        agent, ck = rundir.load_agent(args.run)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg, step = agent.cfg, ck["loop"]["step"]
    torch.set_num_threads(cfg.threads)
    mean, std = evaluate_policy(agent, cfg.env, args.episodes, args.seed)
    print(f"{args.run}: {cfg.algo} h={cfg.h}{' SN' if cfg.sn else ''} on {cfg.env} at step {step}: "
          f"return {mean:.1f} ± {std:.1f} over {args.episodes} episodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
