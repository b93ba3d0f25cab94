"""A run directory, written by ``python -m trainers.train --out RUN_DIR`` and read by every tool:

    config.json    the run's Config (rewritten by a resume: --steps may grow)
    run.json       seed, package versions, command line and git state; each resume appends its own
    metrics.csv    one row of ``COLUMNS`` per ``log_every`` steps (TensorBoard events in tb/ if installed)
    checkpoint.pt  everything a resume needs, written atomically

The measurements beside them (gradvar.csv, landscapes/, theory.csv) are written by
``trainers.instrument`` and ``trainers.theory``. Every reader of a checkpoint goes through
``load_checkpoint``; a missing, torn or foreign file is a ValueError with a one-line reason.
"""
from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import platform
import random
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from trainers import instrument
from trainers.agents import Agent
from trainers.algos import make_agent
from trainers.buffer import ReplayBuffer
from trainers.config import Config
from trainers.envs import get_env_state, make_env, set_env_state

CHECKPOINT = "checkpoint.pt"
COLUMNS = ["step", "episodes", "episode_return", "eval_return", "eval_std", "model_loss", "reward_loss",
           "done_loss", "critic_loss", "actor_loss", "alpha_loss", "alpha", "entropy", "grad_var", "wall_time"]
REPO = Path(__file__).resolve().parent.parent
TRAINER_PATHS = ("trainers", "pyproject.toml")  # the code a run's numbers depend on


# --- provenance (run.json) ----------------------------------------------------------------------
def versions() -> dict:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("torch", "numpy", "gymnasium", "mujoco", "tqdm"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def git_state() -> dict:
    """Provenance of the code this process runs: HEAD, the last commit that changed the trainer
    (``TRAINER_PATHS``), and whether the trainer differs from that commit. All None outside git."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    if head is None:
        return {"commit": None, "trainer_commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no", "--", *TRAINER_PATHS)
    return {"commit": head, "trainer_commit": git("log", "-1", "--format=%H", "--", *TRAINER_PATHS),
            "dirty": None if status is None else bool(status)}


def recorded_trainer(run_info: dict) -> str | None:
    """The trainer commit that wrote the run's latest steps (its last resume, else its start)."""
    for entry in reversed(run_info.get("resumed", [])):
        if "git" in entry:
            return entry["git"]["trainer_commit"]
    return run_info.get("git", {}).get("trainer_commit")


# --- starting and resuming ------------------------------------------------------------------------
def start(out: Path, cfg: Config) -> None:
    """A new run: config.json, run.json and the header of metrics.csv."""
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    (out / "run.json").write_text(json.dumps({"seed": cfg.seed, "versions": versions(), "argv": sys.argv,
                                              "git": git_state()}, indent=2))
    with open(out / "metrics.csv", "w", newline="") as f:
        csv.DictWriter(f, COLUMNS).writeheader()


def resume(out: Path, cfg: Config, step: int) -> None:
    """A run continued from its checkpoint at ``step``: the new config.json, this resume in
    run.json, and every row written after the checkpoint dropped (it belongs to a run being replaced)."""
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    run_info = json.loads((out / "run.json").read_text())
    run_info.setdefault("resumed", []).append({"step": step, "argv": sys.argv, "versions": versions(),
                                               "git": git_state()})
    (out / "run.json").write_text(json.dumps(run_info, indent=2))
    with open(out / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
    with open(out / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        w.writerows(rows)
    instrument.drop_after(out, step)


class Metrics:
    """metrics.csv, one row at a time, and the same scalars as TensorBoard events if asked for and
    tensorboard is installed (it is not a dependency)."""

    def __init__(self, out: Path, tensorboard: bool):
        self.tb = None
        if tensorboard:
            with contextlib.suppress(ImportError):
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(out / "tb"))
        self.file = open(out / "metrics.csv", "a", newline="")
        self.csv = csv.DictWriter(self.file, COLUMNS)

    def write(self, row: dict) -> None:
        self.csv.writerow(row)
        self.file.flush()
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and not math.isnan(v):
                    self.tb.add_scalar(k, v, row["step"])

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()


# --- checkpoints ----------------------------------------------------------------------------------
def save_checkpoint(out: Path, cfg: Config, agent: Agent, buffer: ReplayBuffer, rng: np.random.Generator,
                    env, loop: dict) -> None:
    """Everything a resume needs: the agent, the buffer, every random state, the env's exact
    MuJoCo state and the loop's counters. Written to a temporary file, then renamed: a crash never
    leaves a torn checkpoint."""
    path = out / CHECKPOINT
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"config": cfg.to_dict(), "agent": agent.state_dict(), "buffer": buffer.state_dict(),
                "rng": {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state(),
                        "python": random.getstate()},
                "env": get_env_state(env), "loop": loop}, tmp)
    os.replace(tmp, path)


def load_config(run: Path) -> Config:
    path = Path(run) / "config.json"
    if not path.is_file():
        raise ValueError(f"{run} holds no config.json")
    try:
        return Config.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{run}: unreadable config.json ({type(e).__name__})") from None


def load_checkpoint(run: Path) -> dict:
    path = Path(run) / CHECKPOINT
    if not path.is_file():
        raise ValueError(f"{run} holds no {CHECKPOINT}")
    try:
        ck = torch.load(path, weights_only=False)
        int(ck["loop"]["step"])  # a foreign pickle fails here, not in its reader
    except Exception as e:  # a torn or foreign file: any unpickling error
        raise ValueError(f"cannot read {path}: corrupt or not a checkpoint ({type(e).__name__})") from None
    return ck


@contextlib.contextmanager
def _fitting(run: Path):
    """A checkpoint that does not fit this version's agent or buffer is a ValueError of one line."""
    try:
        yield
    except (KeyError, RuntimeError, ValueError, TypeError) as e:  # e.g. written by an older agent layout
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{Path(run) / CHECKPOINT} does not fit this version's agent ({reason[:120]})") from None


def load_agent(run: Path, cfg: Config | None = None) -> tuple[Agent, dict]:
    """The agent of ``run``'s checkpoint, built for ``cfg`` (default: the run's config.json), and
    the checkpoint itself."""
    cfg = load_config(run) if cfg is None else cfg
    ck = load_checkpoint(run)
    env, _ = make_env(cfg.env)
    agent = make_agent(cfg, env.observation_space.shape[0], env.action_space.shape[0])
    env.close()
    with _fitting(run):
        agent.load_state_dict(ck["agent"])
    return agent, ck


def load_training(run: Path, cfg: Config, env) -> tuple[Agent, ReplayBuffer, np.random.Generator, dict]:
    """What ``save_checkpoint`` wrote, restored: (agent, buffer, replay generator, loop counters);
    the torch and python random states and ``env``'s state are set as they were."""
    agent, ck = load_agent(run, cfg)
    buffer = ReplayBuffer(agent.obs_dim, agent.act_dim)
    rng = np.random.default_rng(cfg.seed)
    with _fitting(run):
        buffer.load_state_dict(ck["buffer"])
        rng.bit_generator.state = ck["rng"]["numpy"]
        torch.set_rng_state(ck["rng"]["torch"])
        random.setstate(ck["rng"]["python"])
        set_env_state(env, ck["env"])
    return agent, buffer, rng, ck["loop"]
