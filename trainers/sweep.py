"""A grid of trainer runs: ``python -m trainers.sweep --algos rp-dp --envs Hopper-v5 --h 0 3 5 10 15
--sn both --seeds 5 --steps 100000 --out runs/sweep``.

Each run is one ``python -m trainers.train`` process writing to ``OUT/ENV/ALGO_hH_{sn,vanilla}[_LOSS]/seedK``.
The sweep adds three files there: ``sweep.json`` (the run's grid coordinates and command, written at
launch), ``sweep.log`` (the trainer's output) and
``sweep_done.json`` (written when the trainer exits with status 0). Rerunning the same command
resumes the sweep: finished runs are skipped, an unfinished run with a checkpoint continues with
the trainer's ``--resume``, one without starts over. A larger ``--steps`` extends finished runs.

Backends, with identical outputs:
- ``local`` (default): at most ``--workers`` trainer processes at once (default: the machine's cores
  divided by ``--threads`` per run);
- ``ray``: one Ray task per run on ``ray.init(address=--ray-address)``, a local Ray instance when no
  address is given. On a cluster (``ray start --head``, then ``ray start --address=HEAD:6379`` on each
  other node; ``--ray-address HEAD:6379`` or ``auto``), ``--out`` must be on storage every node sees
  at the same path, and every node needs this package installed.

Arguments after ``--`` go to every trainer unchanged (e.g. ``-- --eval-every 10000``).
"""
from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from tqdm import tqdm

from trainers.config import ALGOS, ENVS, MODEL_LOSSES

MODEL_FREE = ("ddpg", "rp0")  # h = 0 estimators: only h = 0 is run for them
SPEC_FILE, DONE_FILE, LOG_FILE = "sweep.json", "sweep_done.json", "sweep.log"
CHECKPOINT = "checkpoint.pt"  # trainers.train.CHECKPOINT; not imported, to keep the sweep free of torch


@dataclass(frozen=True)
class RunSpec:
    algo: str
    env: str
    h: int
    sn: bool
    seed: int
    steps: int
    model_loss: Optional[str] = None  # None: the trainer's default learner

    @property
    def group(self) -> str:
        """The run's grid point without the seed, also its folder name."""
        return f"{self.algo}_h{self.h}_{'sn' if self.sn else 'vanilla'}" + (f"_{self.model_loss}" if self.model_loss else "")

    def run_dir(self, out: Path) -> Path:
        return Path(out) / self.env / self.group / f"seed{self.seed}"


def grid(algos, envs, hs, sn: str, seeds: int, steps: int, model_losses=(None,)) -> list[RunSpec]:
    """Every combination; h-free algorithms (DDPG, RP(0)) get h = 0 once instead of every h."""
    sns = {"both": (False, True), "on": (True,), "off": (False,)}[sn]
    specs = []
    for env, algo, loss, s, seed in itertools.product(envs, algos, model_losses, sns, range(seeds)):
        for h in ((0,) if algo in MODEL_FREE else hs):
            spec = RunSpec(algo, env, int(h), s, seed, steps, loss)
            if spec not in specs:
                specs.append(spec)
    return specs


def command(spec: RunSpec, run_dir: Path, entry: str, extra: list[str], resume: bool, threads: int) -> list[str]:
    """The trainer's command line for one run (``sys.executable`` is prepended where it runs)."""
    if resume:
        return ["-m", entry, "--resume", str(run_dir), "--steps", str(spec.steps)]
    cmd = ["-m", entry, "--algo", spec.algo, "--env", spec.env, "--h", str(spec.h), "--steps", str(spec.steps),
           "--seed", str(spec.seed), "--out", str(run_dir), "--threads", str(threads)]
    if spec.sn:
        cmd.append("--sn")
    if spec.model_loss:
        cmd += ["--model-loss", spec.model_loss]
    return cmd + list(extra)


def is_done(run_dir: Path, steps: int) -> bool:
    """Finished with at least ``steps`` environment steps."""
    done = Path(run_dir) / DONE_FILE
    return done.exists() and json.loads(done.read_text()).get("steps", 0) >= steps


def has_checkpoint(run_dir: Path) -> bool:
    return (Path(run_dir) / CHECKPOINT).exists()


def start_over(run_dir: Path) -> None:
    """Remove what an attempt that never checkpointed left behind (the trainer refuses a used dir)."""
    for p in run_dir.iterdir():
        if p.name not in (LOG_FILE, SPEC_FILE):
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def execute(spec: dict, out: str, entry: str, extra: list[str], threads: int) -> dict:
    """Run one trainer process to completion; the unit of work of both backends.

    Takes and returns plain dicts so that a Ray worker can run it. Output of the trainer is
    appended to ``sweep.log`` in the run directory.
    """
    rs = RunSpec(**spec)
    run_dir = rs.run_dir(Path(out))
    if is_done(run_dir, rs.steps):
        return {"run_dir": str(run_dir), "status": "skipped", "returncode": 0}
    run_dir.mkdir(parents=True, exist_ok=True)
    resume = has_checkpoint(run_dir)
    if not resume:
        start_over(run_dir)
    cmd = [sys.executable] + command(rs, run_dir, entry, extra, resume, threads)
    (run_dir / SPEC_FILE).write_text(json.dumps({**spec, "group": rs.group, "command": cmd}, indent=1))
    # one run per `threads` cores: keep BLAS/OpenMP inside that share
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    start = time.time()
    with (run_dir / LOG_FILE).open("a") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    result = {"run_dir": str(run_dir), "status": "done" if rc == 0 else "failed", "returncode": rc,
              "steps": rs.steps, "resumed": resume, "wall_s": time.time() - start}
    if rc == 0:
        (run_dir / DONE_FILE).write_text(json.dumps(result, indent=1))
    return result


def run_local(jobs: list[dict], workers: int, **kw) -> list[dict]:
    # threads only wait on the trainer subprocesses: the pool is one of processes in effect
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(execute, job, **kw) for job in jobs]
        return [f.result() for f in tqdm(as_completed(futures), total=len(futures), desc="runs")]


def run_ray(jobs: list[dict], address: Optional[str], threads: int, **kw) -> list[dict]:
    import ray  # present: parse checked it

    if not ray.is_initialized():
        ray.init(address=address)
    task = ray.remote(num_cpus=threads)(execute)
    pending = [task.remote(job, threads=threads, **kw) for job in jobs]
    results = []
    with tqdm(total=len(pending), desc="runs") as bar:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            results += ray.get(ready)
            bar.update(len(ready))
    return results


def parse(argv: Optional[list[str]] = None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(prog="python -m trainers.sweep", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algos", nargs="+", required=True, choices=ALGOS)
    p.add_argument("--envs", nargs="+", required=True, choices=ENVS)
    p.add_argument("--h", nargs="+", type=int, default=[3], help="unroll lengths (model-based algorithms)")
    p.add_argument("--sn", choices=("both", "on", "off"), default="both")
    p.add_argument("--seeds", type=int, default=5, help="number of seeds: 0..SEEDS-1")
    p.add_argument("--steps", type=int, required=True, help="environment steps per run")
    p.add_argument("--model-losses", nargs="+", default=[None], choices=MODEL_LOSSES,
                   help="model learners (B.2); default: the trainer's")
    p.add_argument("--out", default="runs/sweep")
    p.add_argument("--backend", choices=("local", "ray"), default="local")
    p.add_argument("--ray-address", default=None, help="ray.init address; a local Ray instance if omitted")
    p.add_argument("--threads", type=int, default=1, help="cores per run")
    p.add_argument("--workers", type=int, default=None, help="local backend: concurrent runs (default cores / threads)")
    p.add_argument("--entry", default="trainers.train", help="the trainer module run with python -m")
    p.add_argument("--dry-run", action="store_true", help="list the runs and their state, run nothing")
    args = p.parse_args(argv)
    if args.seeds <= 0 or args.steps <= 0 or args.threads <= 0 or any(h < 0 for h in args.h):
        p.error("--seeds, --steps and --threads must be > 0 and every h >= 0")
    if args.workers is not None and args.workers <= 0:
        p.error("--workers must be > 0")
    if args.backend == "ray" and importlib.util.find_spec("ray") is None:
        p.error("--backend ray needs ray: pip install -e '.[ray]'")
    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        p.error(f"cannot write to --out {args.out}: {e.strerror}")
    return args, extra


def main(argv: Optional[list[str]] = None) -> int:
    args, extra = parse(argv)
    specs = grid(args.algos, args.envs, args.h, args.sn, args.seeds, args.steps, args.model_losses)
    out = Path(args.out).resolve()
    todo = [s for s in specs if not is_done(s.run_dir(out), s.steps)]
    print(f"{len(specs)} runs, {len(specs) - len(todo)} already finished, {len(todo)} to run -> {out}")
    if args.dry_run:
        for s in specs:
            d = s.run_dir(out)
            state = "done" if is_done(d, s.steps) else "resume" if has_checkpoint(d) else "new"
            print(f"{state:6s} {d}")
        return 0
    jobs = [asdict(s) for s in todo]
    kw = dict(out=str(out), entry=args.entry, extra=extra)
    if args.backend == "ray":
        results = run_ray(jobs, args.ray_address, args.threads, **kw)
    else:
        workers = args.workers or max(1, (os.cpu_count() or 1) // args.threads)
        results = run_local(jobs, workers, threads=args.threads, **kw)
    failed = [r for r in results if r["status"] == "failed"]
    for r in failed:
        print(f"FAILED (exit {r['returncode']}): {r['run_dir']} (see {LOG_FILE} there)", file=sys.stderr)
    print(f"{len(results) - len(failed)} finished, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
