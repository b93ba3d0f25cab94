"""Evaluate a run's latest checkpoint: mean and std of the return of the deterministic policy.

    python -m trainers.evaluate runs/NAME [--episodes 10] [--seed 12345]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from trainers.agents import Agent
from trainers.config import Config
from trainers.envs import evaluate_policy, make_env
from trainers.train import CHECKPOINT


def load_agent(run: Path) -> tuple[Agent, Config, int]:
    """The agent of ``run``'s checkpoint, its config and its environment step."""
    cfg = Config.from_dict(json.loads((run / "config.json").read_text()))
    env, _ = make_env(cfg.env)
    agent = Agent(cfg, env.observation_space.shape[0], env.action_space.shape[0])
    ck = torch.load(run / CHECKPOINT, weights_only=False)
    agent.load_state_dict(ck["agent"])
    return agent, cfg, ck["loop"]["step"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainers.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=12345, help="episode i is seeded seed + i")
    args = p.parse_args(argv)
    if not (args.run / CHECKPOINT).exists() or not (args.run / "config.json").exists():
        print(f"error: {args.run} holds no checkpoint", file=sys.stderr)
        return 2
    if args.episodes <= 0:
        print(f"error: --episodes must be > 0, got {args.episodes}", file=sys.stderr)
        return 2
    agent, cfg, step = load_agent(args.run)
    torch.set_num_threads(cfg.threads)
    mean, std = evaluate_policy(agent, cfg.env, args.episodes, args.seed)
    print(f"{args.run}: {cfg.algo} h={cfg.h}{' SN' if cfg.sn else ''} on {cfg.env} at step {step}: "
          f"return {mean:.1f} ± {std:.1f} over {args.episodes} episodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
