"""Train RP-DP, RP-DR, RP(0) or DDPG on Hopper-v5 / Walker2d-v5.

    python -m trainers.train --algo rp-dp --env Hopper-v5 --h 3 --sn --steps 100000 --seed 0 --out runs/NAME
    python -m trainers.train --resume runs/NAME [--steps 200000]

Every field of ``trainers.config.Config`` is a flag (``--batch-size 128``, ``--no-sn``, …); DDPG's
defaults are Tianshou's (``config.ALGO_DEFAULTS``). A run writes ``config.json``, ``run.json`` (seed,
package versions, command, git commit; each resume appends its own), ``metrics.csv``, TensorBoard
events if tensorboard is installed, and ``checkpoint.pt`` (atomic) holding everything a resume needs.
A resume refuses a run written by another trainer commit unless ``--allow-commit-change`` is given.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import platform
import random
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from trainers import instrument, theory
from trainers.agents import Agent
from trainers.buffer import ReplayBuffer
from trainers.config import ALGO_DEFAULTS, ALGOS, DR_NOISE, ENVS, MODEL_LOSSES, SN_POLICY, TERMINATIONS, Config
from trainers.envs import evaluate_policy, get_env_state, make_env, set_env_state

COLUMNS = ["step", "episodes", "episode_return", "eval_return", "eval_std", "model_loss", "reward_loss",
           "done_loss", "critic_loss", "actor_loss", "alpha_loss", "alpha", "entropy", "grad_var", "wall_time"]
CHECKPOINT = "checkpoint.pt"


class NonFinite(RuntimeError):
    pass


def versions() -> dict:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("torch", "numpy", "gymnasium", "mujoco", "tqdm"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


REPO = Path(__file__).resolve().parent.parent
TRAINER_PATHS = ("trainers", "pyproject.toml")  # the code a run's numbers depend on


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


def save_atomic(obj, path: Path) -> None:
    """torch.save to a temporary file, then rename: a crash never leaves a torn checkpoint."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def tensorboard_writer(cfg: Config, out: Path):
    if not cfg.tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # optional: tensorboard is not a dependency
        return None
    return SummaryWriter(str(out / "tb"))


def measure(cfg: Config, agent: Agent, buffer: ReplayBuffer, out: Path, n: int, loop: dict) -> None:
    """Figs. 2, 3, 5: gradient variance and loss landscape of the RP-DP objective (4.1)-(4.2) through
    the agent's model at the current iterate (trainers.instrument). Start states come from the
    buffer through a generator of their own, so measuring leaves training bit-identical."""
    if cfg.theory_every and n % cfg.theory_every == 0:
        result = theory.measure(agent, buffer.data["obs"][:buffer.size], theory.Simulator(cfg.env), seed=cfg.seed + n)
        theory.append_csv(out, n, result["summary"])
    var_due = cfg.grad_var_every and n % cfg.grad_var_every == 0
    land_due = cfg.landscape_every and n % cfg.landscape_every == 0
    if not (var_due or land_due):
        return
    vx = instrument.value_expansion(agent)
    h_now = cfg.h if agent.model is not None and n >= cfg.model_warmup else 0
    pick = np.random.default_rng((cfg.seed, n))
    if var_due:
        s0 = torch.from_numpy(buffer.data["obs"][pick.integers(0, buffer.size, cfg.grad_var_samples)])
        hs = cfg.grad_var_hs if agent.model is not None else ()
        stats = instrument.log_gradient_variance(vx, s0, hs, h_now, step=n, run_dir=out, seed=cfg.seed)
        loop["grad_var"] = stats["gradvar_total"]
    if land_due:
        s0 = torch.from_numpy(buffer.data["obs"][pick.integers(0, buffer.size, cfg.landscape_samples)])
        instrument.save_landscape(vx, s0, instrument.landscape_path(out, n, h_now), h=h_now, step=n,
                                  n_grid=cfg.landscape_grid, span=cfg.landscape_span, seed=cfg.seed)


def train(cfg: Config, resume: bool = False) -> int:
    """Run (or resume) training; returns the process exit status (0; 1 on a non-finite value; 2 when
    the checkpoint does not fit the agent; 128 + signal number after SIGTERM or SIGINT, which end the
    current step and write a checkpoint there, unless that step was the last)."""
    cfg.validate()
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / CHECKPOINT
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    env, max_episode_steps = make_env(cfg.env)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    agent = Agent(cfg, obs_dim, act_dim)
    buffer = ReplayBuffer(obs_dim, act_dim)
    rng = np.random.default_rng(cfg.seed)  # replay sampling and the random warm-up actions

    if resume:
        ck = torch.load(ckpt_path, weights_only=False)
        try:
            agent.load_state_dict(ck["agent"])
            buffer.load_state_dict(ck["buffer"])
            rng.bit_generator.state = ck["rng"]["numpy"]
            torch.set_rng_state(ck["rng"]["torch"])
            random.setstate(ck["rng"]["python"])
            set_env_state(env, ck["env"])
        except (KeyError, RuntimeError, ValueError, TypeError) as e:  # e.g. written by an older agent layout
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            print(f"error: {ckpt_path} does not fit this version's agent ({reason[:120]})", file=sys.stderr)
            return 2
        loop = ck["loop"]
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))  # --steps may have grown
        run_info = json.loads((out / "run.json").read_text())
        run_info.setdefault("resumed", []).append({"step": loop["step"], "argv": sys.argv, "versions": versions(),
                                                   "git": git_state()})
        (out / "run.json").write_text(json.dumps(run_info, indent=2))
        # rows written after the checkpoint belong to a run that is being replaced
        with open(out / "metrics.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= loop["step"]]
        with open(out / "metrics.csv", "w", newline="") as f:
            w = csv.DictWriter(f, COLUMNS)
            w.writeheader()
            w.writerows(rows)
        instrument.drop_after(out, loop["step"])
    else:
        obs, _ = env.reset(seed=cfg.seed)
        loop = {"step": 0, "obs": obs, "episodes": 0, "ep_return": 0.0, "ep_len": 0, "last_return": float("nan"),
                "eval": (float("nan"), float("nan")), "grad_var": float("nan"), "acc": {}, "acc_n": 0, "wall": 0.0}
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
        (out / "run.json").write_text(json.dumps({"seed": cfg.seed, "versions": versions(), "argv": sys.argv,
                                                        "git": git_state()}, indent=2))
        with open(out / "metrics.csv", "w", newline="") as f:
            csv.DictWriter(f, COLUMNS).writeheader()

    writer = tensorboard_writer(cfg, out)
    metrics_file = open(out / "metrics.csv", "a", newline="")
    metrics = csv.DictWriter(metrics_file, COLUMNS)
    t0 = time.perf_counter() - loop["wall"]
    obs = loop["obs"]
    bar = tqdm(total=cfg.steps, initial=loop["step"], unit="step", dynamic_ncols=True, smoothing=0.05,
               desc=f"{cfg.algo} h={cfg.h}{' SN' if cfg.sn else ''}", disable=None)

    # a stop request (a session ending, Ctrl-C) is honoured between steps, after a checkpoint
    stop: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _: stop.append(signum)) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for n in range(loop["step"] + 1, cfg.steps + 1):  # n = environment steps taken after this one
            # --- act and store --------------------------------------------------------------
            if n <= cfg.learning_starts:
                action = rng.uniform(-1.0, 1.0, act_dim)
            else:
                action = agent.act(obs, explore=True)
            next_obs, r, terminated, _, _ = env.step(action)
            loop["ep_return"] += r
            loop["ep_len"] += 1
            done = terminated or loop["ep_len"] >= max_episode_steps
            varsigma = agent.acting_noise(obs, action) if cfg.algo == "rp-dr" and cfg.dr_noise == "acting" else 0.0
            buffer.add(obs, action, r, next_obs, terminated, done, varsigma)
            obs = next_obs
            if done:
                loop["last_return"], loop["episodes"] = loop["ep_return"], loop["episodes"] + 1
                loop["ep_return"], loop["ep_len"] = 0.0, 0
                obs, _ = env.reset()
            # --- learn ----------------------------------------------------------------------
            if n >= cfg.learning_starts:
                stats = agent.update(buffer, rng, n)
                values = torch.stack(list(stats.values()))
                if not bool(torch.isfinite(values).all()):
                    bad = [k for k, v in stats.items() if not torch.isfinite(v)]
                    raise NonFinite(f"non-finite {', '.join(bad)} at step {n}")
                for k, v in stats.items():
                    loop["acc"][k] = loop["acc"].get(k, 0.0) + v
                loop["acc_n"] += 1
            # --- evaluate, log, checkpoint -----------------------------------------------------
            if n % cfg.eval_every == 0:
                loop["eval"] = evaluate_policy(agent, cfg.env, cfg.eval_episodes, seed=cfg.seed + 10_000 + n)
            if n >= cfg.learning_starts:
                measure(cfg, agent, buffer, out, n, loop)
            if n % cfg.log_every == 0 or n == cfg.steps:
                row = {k: float(v) / loop["acc_n"] for k, v in loop["acc"].items() if k in COLUMNS}
                row.update(step=n, episodes=loop["episodes"], episode_return=loop["last_return"],
                           eval_return=loop["eval"][0], eval_std=loop["eval"][1], alpha=agent.alpha,
                           grad_var=loop["grad_var"],
                           wall_time=round(time.perf_counter() - t0, 3))
                metrics.writerow(row)
                metrics_file.flush()
                if writer is not None:
                    for k, v in row.items():
                        if k != "step" and not math.isnan(v):
                            writer.add_scalar(k, v, n)
                loop["acc"], loop["acc_n"] = {}, 0
                bar.set_postfix(ret=f"{loop['last_return']:.1f}", eval=f"{loop['eval'][0]:.1f}")
                if bar.disable:  # no terminal (nohup, a queue): a line per log row instead of the bar
                    print(f"step {n}/{cfg.steps}: return {loop['last_return']:.1f}, eval {loop['eval'][0]:.1f}, "
                          f"{row['wall_time'] / 60:.1f} min", file=sys.stderr, flush=True)
            if n % cfg.checkpoint_every == 0 or n == cfg.steps or stop:
                loop.update(step=n, obs=obs, wall=time.perf_counter() - t0)
                save_atomic({"config": cfg.to_dict(), "agent": agent.state_dict(), "buffer": buffer.state_dict(),
                             "rng": {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state(),
                                     "python": random.getstate()},
                             "env": get_env_state(env), "loop": loop}, ckpt_path)
            bar.update(1)
            if stop and n < cfg.steps:  # at the last step the run is complete: exit 0
                print(f"{signal.Signals(stop[0]).name} at step {n}: checkpoint written; "
                      f"continue with --resume {out}", file=sys.stderr)
                return 128 + stop[0]
    except NonFinite as e:
        kept = f"last good checkpoint {ckpt_path}" if ckpt_path.exists() else "no checkpoint was written yet"
        print(f"error: {e}; run stopped, {kept}", file=sys.stderr)
        return 1
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        bar.close()
        metrics_file.close()
        if writer is not None:
            writer.close()
    return 0


# --- command line ---------------------------------------------------------------------------------
RESUMABLE = {"steps", "checkpoint_every"}  # neither changes what the run computes


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # reported by main as one line with status 2, no usage dump
        raise ValueError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m trainers.train", description=__doc__.split("\n")[0])
    p.add_argument("--resume", metavar="RUN_DIR", help="continue runs/NAME from its checkpoint")
    p.add_argument("--allow-commit-change", action="store_true",
                   help="resume even though the trainer's commit differs from the one that wrote the run")
    choices = {"algo": ALGOS, "env": ENVS, "model_loss": MODEL_LOSSES, "sn_policy": SN_POLICY,
               "termination": TERMINATIONS, "dr_noise": DR_NOISE}
    docs = Config.field_docs()
    for f in dataclasses.fields(Config):
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if f.name == "log_std_bounds":
            continue
        doc = docs.get(f.name, "")
        if f.name == "grad_var_hs":
            p.add_argument(flag, type=int, nargs="*", default=None, help=f"{doc} (default: none)")
            continue
        if f.name in ALGO_DEFAULTS["ddpg"] and f.name != "h":
            doc += f" (ddpg: {ALGO_DEFAULTS['ddpg'][f.name]}, Tianshou)"
        if isinstance(default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f"{doc} (default {default})")
        else:
            kind = float if f.name == "target_entropy" else type(default)
            p.add_argument(flag, type=kind, choices=choices.get(f.name), default=None, help=f"{doc} (default {default})")
    return p


def parse(argv: list[str]) -> tuple[Config, bool]:
    """Config and resume flag from the command line; raises ValueError with a one-line reason."""
    args = vars(_parser().parse_args(argv))
    resume_dir = args.pop("resume")
    allow_change = args.pop("allow_commit_change")
    given = {k: v for k, v in args.items() if v is not None}
    if "grad_var_hs" in given:
        given["grad_var_hs"] = tuple(given["grad_var_hs"])
    if resume_dir is not None:
        run = Path(resume_dir)
        if not (run / CHECKPOINT).exists() or not (run / "config.json").exists():
            raise ValueError(f"{run} holds no checkpoint to resume")
        if not (run / "run.json").exists():
            raise ValueError(f"{run} has a checkpoint but no run.json; cannot resume it")
        try:
            cfg = Config.from_dict(json.loads((run / "config.json").read_text()))
            run_info = json.loads((run / "run.json").read_text())
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"{run}: unreadable config.json or run.json ({type(e).__name__})") from None
        then, now = recorded_trainer(run_info), git_state()["trainer_commit"]
        if then != now and not allow_change:
            raise ValueError(f"{run} was written by trainer commit {(then or 'unknown')[:12]}, this is "
                             f"{(now or 'unknown')[:12]}; resume from that commit or pass --allow-commit-change")
        extra = set(given) - RESUMABLE
        if extra:
            flags = ", --".join(sorted(f.replace("_", "-") for f in extra))
            raise ValueError(f"only --steps and --checkpoint-every may change on resume, got --{flags}")
        try:
            done = torch.load(run / CHECKPOINT, weights_only=False)["loop"]["step"]
        except Exception as e:  # a torn or foreign file: any unpickling error
            raise ValueError(f"{run / CHECKPOINT} is corrupt or not a checkpoint ({type(e).__name__})") from None
        cfg = dataclasses.replace(cfg, out=str(run), **given)
        if cfg.steps <= done:
            raise ValueError(f"{run} already has {done} steps; pass --steps larger than that")
    else:
        cfg = Config.for_algo(**given)
    cfg.validate()
    out = Path(cfg.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write_probe"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"cannot write to out dir {out}: {e.strerror}") from None
    if allow_change and resume_dir is None:
        raise ValueError("--allow-commit-change applies to --resume only")
    if resume_dir is None and (out / "config.json").exists():
        raise ValueError(f"{out} already holds a run; use --resume {out} or another --out")
    return cfg, resume_dir is not None


def main(argv: list[str] | None = None) -> int:
    try:
        cfg, resume = parse(sys.argv[1:] if argv is None else argv)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return train(cfg, resume)


if __name__ == "__main__":
    sys.exit(main())
