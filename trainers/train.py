"""Train RP-DP, RP-DR, RP(0) or DDPG on Hopper-v5 / Walker2d-v5.

    python -m trainers.train --algo rp-dp --env Hopper-v5 --h 3 --sn --steps 100000 --seed 0 --out runs/NAME
    python -m trainers.train --resume runs/NAME [--steps 200000]

Every field of ``trainers.config.Config`` is a flag (``--batch-size 128``, ``--no-sn``, …); DDPG's
defaults are Tianshou's (``config.ALGO_DEFAULTS``). A run writes ``config.json``, ``run.json`` (seed,
package versions, command, git commit; each resume appends its own), ``metrics.csv``, TensorBoard
events if tensorboard is installed, and ``checkpoint.pt`` (atomic) holding everything a resume needs
(``trainers.rundir``). A resume refuses a run written by another trainer commit unless
``--allow-commit-change`` is given.

``train`` is the loop, CleanRL-style: act, store, update, evaluate, measure (callbacks), log,
checkpoint. The algorithms are in ``trainers/algos/``, one file each.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import random
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from trainers import instrument, rundir, theory
from trainers.agents import Agent
from trainers.algos import make_agent
from trainers.buffer import ReplayBuffer
from trainers.config import ALGO_DEFAULTS, ALGOS, DR_NOISE, ENVS, MODEL_LOSSES, SN_POLICY, TERMINATIONS, Config
from trainers.envs import evaluate_policy, make_env
from trainers.rundir import CHECKPOINT, COLUMNS, git_state, recorded_trainer

# called after every update with (step, agent, buffer, run dir); a returned dict updates the loop
# state, e.g. grad_var, which metrics.csv reports until the next measurement
Callback = Callable[[int, Agent, ReplayBuffer, Path], Optional[dict]]


class NonFinite(RuntimeError):
    pass


def train(cfg: Config, resume: bool = False, callbacks: Sequence[Callback] = ()) -> int:
    """Run (or resume) training. Returns the exit status: 0; 1 on a non-finite value; 2 when the
    checkpoint does not fit the agent; 128 + signal number after SIGTERM or SIGINT, which end the
    current step and write a checkpoint there (unless it was the last). ``callbacks`` follow ``measurements(cfg)``."""
    cfg.validate()
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    env, max_episode_steps = make_env(cfg.env)
    if resume:
        try:
            agent, buffer, rng, loop = rundir.load_training(out, cfg, env)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        rundir.resume(out, cfg, loop["step"])
    else:
        agent, buffer, rng, loop = fresh(cfg, env)
        rundir.start(out, cfg)
    callbacks = [*measurements(cfg), *callbacks]
    metrics = rundir.Metrics(out, cfg.tensorboard)
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
            warm_up = n <= cfg.learning_starts  # uniform random actions until the first update
            action = rng.uniform(-1.0, 1.0, agent.act_dim) if warm_up else agent.act(obs, explore=True)
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
            # --- learn and measure ------------------------------------------------------------
            if n >= cfg.learning_starts:
                accumulate(loop, agent.update(buffer, rng, n), n)
            if n % cfg.eval_every == 0:
                loop["eval"] = evaluate_policy(agent, cfg.env, cfg.eval_episodes, seed=cfg.seed + 10_000 + n)
            if n >= cfg.learning_starts:
                for callback in callbacks:
                    loop.update(callback(n, agent, buffer, out) or {})
            # --- log and checkpoint -------------------------------------------------------------
            if n % cfg.log_every == 0 or n == cfg.steps:
                row = log_row(loop, agent, n, wall_time=time.perf_counter() - t0)
                metrics.write(row)
                show_progress(bar, loop, n, cfg.steps, row["wall_time"])
            if n % cfg.checkpoint_every == 0 or n == cfg.steps or stop:
                loop.update(step=n, obs=obs, wall=time.perf_counter() - t0)
                rundir.save_checkpoint(out, cfg, agent, buffer, rng, env, loop)
            bar.update(1)
            if stop and n < cfg.steps:  # at the last step the run is complete: exit 0
                print(f"{signal.Signals(stop[0]).name} at step {n}: checkpoint written; "
                      f"continue with --resume {out}", file=sys.stderr)
                return 128 + stop[0]
    except NonFinite as e:
        ckpt = out / CHECKPOINT
        kept = f"last good checkpoint {ckpt}" if ckpt.exists() else "no checkpoint was written yet"
        print(f"error: {e}; run stopped, {kept}", file=sys.stderr)
        return 1
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        bar.close()
        metrics.close()
    return 0


def fresh(cfg: Config, env) -> tuple[Agent, ReplayBuffer, np.random.Generator, dict]:
    """A new agent, an empty buffer, the replay generator and the loop's counters at step 0."""
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    agent = make_agent(cfg, obs_dim, act_dim)
    buffer = ReplayBuffer(obs_dim, act_dim)
    rng = np.random.default_rng(cfg.seed)  # replay sampling and the random warm-up actions
    obs, _ = env.reset(seed=cfg.seed)
    loop = {"step": 0, "obs": obs, "episodes": 0, "ep_return": 0.0, "ep_len": 0, "last_return": float("nan"),
            "eval": (float("nan"), float("nan")), "grad_var": float("nan"), "acc": {}, "acc_n": 0, "wall": 0.0}
    return agent, buffer, rng, loop


def accumulate(loop: dict, stats: dict[str, torch.Tensor], n: int) -> None:
    """Add one update's losses to the sums the next metrics row averages; NonFinite on NaN or inf."""
    if not bool(torch.isfinite(torch.stack(list(stats.values()))).all()):
        bad = [k for k, v in stats.items() if not torch.isfinite(v)]
        raise NonFinite(f"non-finite {', '.join(bad)} at step {n}")
    for k, v in stats.items():
        loop["acc"][k] = loop["acc"].get(k, 0.0) + v
    loop["acc_n"] += 1


def log_row(loop: dict, agent: Agent, n: int, wall_time: float) -> dict:
    """The metrics row of step n: losses averaged since the last row (whose sums it resets), the
    latest episode return, evaluation and measurement."""
    row = {k: float(v) / loop["acc_n"] for k, v in loop["acc"].items() if k in COLUMNS}
    row.update(step=n, episodes=loop["episodes"], episode_return=loop["last_return"],
               eval_return=loop["eval"][0], eval_std=loop["eval"][1], alpha=agent.alpha,
               grad_var=loop["grad_var"], wall_time=round(wall_time, 3))
    loop["acc"], loop["acc_n"] = {}, 0
    return row


def show_progress(bar: tqdm, loop: dict, n: int, steps: int, wall_time: float) -> None:
    bar.set_postfix(ret=f"{loop['last_return']:.1f}", eval=f"{loop['eval'][0]:.1f}")
    if bar.disable:  # no terminal (nohup, a queue): a line per log row instead of the bar
        print(f"step {n}/{steps}: return {loop['last_return']:.1f}, eval {loop['eval'][0]:.1f}, "
              f"{wall_time / 60:.1f} min", file=sys.stderr, flush=True)


# --- measurements at the current iterate (callbacks) -------------------------------------------
def measurements(cfg: Config) -> list[Callback]:
    """The measurement callbacks ``cfg`` asks for."""
    hooks: list[Callback] = []
    if cfg.theory_every:
        hooks.append(measure_theory)
    if cfg.grad_var_every or cfg.landscape_every:
        hooks.append(measure_gradients)
    return hooks


def measure_theory(n: int, agent: Agent, buffer: ReplayBuffer, out: Path) -> None:
    """Section 5's eps_f, Lipschitz constants and gradient paths with the simulator's Jacobians
    (trainers.theory) every ``theory_every`` steps, one row of theory.csv each."""
    cfg = agent.cfg
    if n % cfg.theory_every == 0:
        result = theory.measure(agent, buffer.data["obs"][:buffer.size], theory.Simulator(cfg.env), seed=cfg.seed + n)
        theory.append_csv(out, n, result["summary"])


def measure_gradients(n: int, agent: Agent, buffer: ReplayBuffer, out: Path) -> dict | None:
    """Figs. 2, 3, 5: gradient variance and loss landscape of the RP-DP objective (4.1)-(4.2) through
    the agent's model at the current iterate (trainers.instrument). Start states come from the
    buffer through a generator of their own, so measuring leaves training bit-identical."""
    cfg = agent.cfg
    var_due = cfg.grad_var_every and n % cfg.grad_var_every == 0
    land_due = cfg.landscape_every and n % cfg.landscape_every == 0
    if not (var_due or land_due):
        return None
    vx = instrument.value_expansion(agent)
    h_now = cfg.h if agent.model is not None and n >= cfg.model_warmup else 0
    pick = np.random.default_rng((cfg.seed, n))  # one generator: the landscape's states follow the variance's
    result = None
    if var_due:
        s0 = torch.from_numpy(buffer.data["obs"][pick.integers(0, buffer.size, cfg.grad_var_samples)])
        hs = cfg.grad_var_hs if agent.model is not None else ()
        stats = instrument.log_gradient_variance(vx, s0, hs, h_now, step=n, run_dir=out, seed=cfg.seed)
        result = {"grad_var": stats["gradvar_total"]}
    if land_due:
        s0 = torch.from_numpy(buffer.data["obs"][pick.integers(0, buffer.size, cfg.landscape_samples)])
        instrument.save_landscape(vx, s0, instrument.landscape_path(out, n, h_now), h=h_now, step=n,
                                  n_grid=cfg.landscape_grid, span=cfg.landscape_span, seed=cfg.seed)
    return result


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
        cfg = rundir.load_config(run)
        try:
            run_info = json.loads((run / "run.json").read_text())
        except ValueError as e:
            raise ValueError(f"{run}: unreadable run.json ({type(e).__name__})") from None
        then, now = recorded_trainer(run_info), git_state()["trainer_commit"]
        if then != now and not allow_change:
            raise ValueError(f"{run} was written by trainer commit {(then or 'unknown')[:12]}, this is "
                             f"{(now or 'unknown')[:12]}; resume from that commit or pass --allow-commit-change")
        extra = set(given) - RESUMABLE
        if extra:
            flags = ", --".join(sorted(f.replace("_", "-") for f in extra))
            raise ValueError(f"only --steps and --checkpoint-every may change on resume, got --{flags}")
        done = rundir.load_checkpoint(run)["loop"]["step"]
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
