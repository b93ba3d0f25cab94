"""Results over seeds as deep RL reports them (Agarwal et al. 2021, rliable):

    python -m trainers.aggregate NAME=RUN_DIR[,RUN_DIR…] [NAME=…] [--steps 100000] [--success 2500]
                                 [--compare A,B] [--reps 50000] [--json | --markdown] [--profile PNG]

Each NAME is one configuration, each RUN_DIR one seed (a ``trainers.train`` run directory with
``metrics.csv``). The primary metric, declared before the runs of issue 31, is the **mean of the last
five evaluations up to ``--steps``** (``final_metric``); the single evaluation at ``--steps`` is kept
as a secondary number. Per configuration: n, IQM and mean with 95 % stratified-bootstrap intervals
(``rliable.library.get_interval_estimates``), the success rate (primary metric ≥ ``--success``) with
its 95 % Wilson interval, and for ``--compare A,B`` the probability of improvement P(A > B) with its
95 % bootstrap interval. ``--profile PNG`` draws rliable's performance profiles (the fraction of
seeds above τ, with 95 % stratified-bootstrap bands; at most 2,000 replications). A run that has not
reached ``--steps`` is an error (exit 2).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

LAST = 5  # evaluations averaged by the primary metric
LEVEL = 0.95


def evaluations(run: Path, steps: int) -> list[tuple[int, float]]:
    """(step, evaluation return) of every logged evaluation up to ``steps``, in order."""
    every = json.loads((run / "config.json").read_text())["eval_every"]
    with open(run / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["step"]) <= steps]
    if not rows or int(rows[-1]["step"]) < steps:
        raise ValueError(f"{run} has not reached step {steps}")
    # a log row repeats the last evaluation until the next: keep the rows of the evaluation steps
    return [(int(r["step"]), float(r["eval_return"])) for r in rows if int(r["step"]) % every == 0]


def final_metric(run: Path, steps: int) -> float:
    """The primary metric: the mean of the last ``LAST`` evaluations up to ``steps``."""
    evals = evaluations(run, steps)
    if len(evals) < LAST:
        raise ValueError(f"{run} has {len(evals)} evaluations up to step {steps}, fewer than {LAST}")
    return float(np.mean([v for _, v in evals[-LAST:]]))


def snapshot(run: Path, steps: int) -> float:
    """The secondary number: the evaluation at ``steps`` itself."""
    at = dict(evaluations(run, steps))
    if steps not in at:
        raise ValueError(f"{run} has no evaluation at step {steps}")
    return at[steps]


def wilson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n."""
    from scipy.stats import norm

    z = norm.ppf(0.5 + level / 2)
    p, d = k / n, 1 + z * z / n
    centre, half = (p + z * z / (2 * n)) / d, z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def summarise(scores: dict[str, np.ndarray], success: float, compare: list[tuple[str, str]], reps: int,
              seed: int = 0) -> dict:
    """rliable's IQM and mean with stratified-bootstrap intervals per configuration, success rates,
    probabilities of improvement. ``scores[name]`` holds one primary metric per seed."""
    from rliable import library as rly, metrics

    np.random.seed(seed)  # rliable's bootstrap draws from numpy's global generator
    runs = {k: v.reshape(-1, 1) for k, v in scores.items()}
    aggregate = lambda x: np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])
    point, ci = rly.get_interval_estimates(runs, aggregate, reps=reps, confidence_interval_size=LEVEL)
    out = {}
    for k, v in scores.items():
        hits = int((v >= success).sum())
        out[k] = {"n": len(v), "per_seed": [round(float(x), 1) for x in v],
                  "iqm": float(point[k][0]), "iqm_ci": [float(ci[k][0][0]), float(ci[k][1][0])],
                  "mean": float(point[k][1]), "mean_ci": [float(ci[k][0][1]), float(ci[k][1][1])],
                  "success": hits / len(v), "success_ci": list(wilson(hits, len(v)))}
    pairs = {}
    for a, b in compare:
        pair = {f"{a},{b}": (runs[a], runs[b])}
        p, p_ci = rly.get_interval_estimates(pair, metrics.probability_of_improvement, reps=reps,
                                             confidence_interval_size=LEVEL)
        pairs[f"P({a} > {b})"] = {"point": float(np.ravel(p[f"{a},{b}"])[0]),
                                  "ci": [float(x) for x in np.ravel(p_ci[f"{a},{b}"])]}
    return {"metric": f"mean of the last {LAST} evaluations up to the step", "level": LEVEL,
            "success_threshold": success, "configurations": out, "improvement": pairs}


def performance_profiles(scores: dict[str, np.ndarray], taus: np.ndarray, reps: int, seed: int = 0) -> dict:
    """rliable's performance profile per configuration: the fraction of seeds whose primary metric
    exceeds τ, for each τ of ``taus``, with its 95 % stratified-bootstrap band."""
    from rliable import library as rly

    np.random.seed(seed)
    runs = {k: v.reshape(-1, 1) for k, v in scores.items()}
    point, band = rly.create_performance_profile(runs, taus, reps=reps, confidence_interval_size=LEVEL)
    return {k: {"fraction": point[k].tolist(), "lower": band[k][0].tolist(), "upper": band[k][1].tolist()}
            for k in scores}


def plot_profiles(profiles: dict, taus: np.ndarray, path: Path, success: float) -> None:
    """The profiles as one figure, bands shaded, the success threshold marked, the legend outside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for k, prof in profiles.items():
        line, = ax.plot(taus, prof["fraction"], label=k)
        ax.fill_between(taus, prof["lower"], prof["upper"], color=line.get_color(), alpha=0.15, linewidth=0)
    ax.axvline(success, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="primary metric τ (mean of the last 5 evaluations)", ylabel="fraction of seeds > τ", ylim=(0, 1.02))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def markdown(res: dict, steps: int) -> str:
    """``summarise``'s result as a docs/results.md table, the probabilities of improvement below it."""
    thr = res["success_threshold"]
    lines = [f"| configuration | n | IQM [95 % CI] | mean [95 % CI] | success (≥ {thr:g}) [Wilson 95 %] | "
             f"primary metric per seed | evaluation at {steps:,} per seed |", "|---|---|---|---|---|---|---|"]
    fmt = lambda x: f"{x:,.0f}"
    for k, c in res["configurations"].items():
        lines.append(f"| {k} | {c['n']} | {fmt(c['iqm'])} [{fmt(c['iqm_ci'][0])}, {fmt(c['iqm_ci'][1])}] | "
                     f"{fmt(c['mean'])} [{fmt(c['mean_ci'][0])}, {fmt(c['mean_ci'][1])}] | {c['success']:.2f} "
                     f"[{c['success_ci'][0]:.2f}, {c['success_ci'][1]:.2f}] | {', '.join(fmt(x) for x in c['per_seed'])} | "
                     f"{', '.join(fmt(x) for x in c['snapshot_per_seed'])} |")
    lines += [""] + [f"- {k} = {v['point']:.2f} [{v['ci'][0]:.2f}, {v['ci'][1]:.2f}]" for k, v in res["improvement"].items()]
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        raise ValueError(message)


def main(argv: list[str] | None = None) -> int:
    p = _Parser(prog="python -m trainers.aggregate", description=__doc__.split("\n")[0])
    p.add_argument("groups", nargs="+", metavar="NAME=RUN_DIR[,RUN_DIR...]")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--success", type=float, default=2500.0, help="primary-metric threshold of a success")
    p.add_argument("--compare", action="append", default=[], metavar="A,B", help="P(A > B); repeatable")
    p.add_argument("--reps", type=int, default=50_000, help="bootstrap replications")
    p.add_argument("--json", action="store_true")
    p.add_argument("--markdown", action="store_true", help="a table for docs/results.md")
    p.add_argument("--profile", type=Path, metavar="PNG", help="also draw the performance profiles to this file")
    try:
        args = p.parse_args(sys.argv[1:] if argv is None else argv)
        groups = {}
        for g in args.groups:
            name, sep, dirs = g.partition("=")
            if not sep or not name or not dirs:
                raise ValueError(f"expected NAME=RUN_DIR[,RUN_DIR...], got {g!r}")
            groups[name] = [Path(d) for d in dirs.split(",")]
        compare = [tuple(c.split(",")) for c in args.compare]
        for pair in compare:
            if len(pair) != 2 or not set(pair) <= set(groups):
                raise ValueError(f"--compare takes two configuration names, got {','.join(pair)!r}")
        scores = {k: np.array([final_metric(d, args.steps) for d in ds]) for k, ds in groups.items()}
        snaps = {k: [round(snapshot(d, args.steps), 1) for d in ds] for k, ds in groups.items()}
    except (ValueError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    res = summarise(scores, args.success, compare, args.reps)
    for k in res["configurations"]:
        res["configurations"][k]["snapshot_per_seed"] = snaps[k]
    if args.profile:
        taus = np.linspace(0.0, max(float(v.max()) for v in scores.values()) * 1.05, 101)
        try:
            plot_profiles(performance_profiles(scores, taus, min(args.reps, 2000)), taus, args.profile, args.success)
        except OSError as e:
            print(f"error: cannot write {args.profile}: {e}", file=sys.stderr)
            return 2
        print(f"wrote {args.profile}", file=sys.stderr)
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    if args.markdown:
        print(markdown(res, args.steps))
        return 0
    print(f"primary metric: {res['metric']} {args.steps}; 95 % stratified-bootstrap intervals, Wilson for success")
    for k, c in res["configurations"].items():
        print(f"{k}: n = {c['n']}, IQM {c['iqm']:.0f} [{c['iqm_ci'][0]:.0f}, {c['iqm_ci'][1]:.0f}], "
              f"mean {c['mean']:.0f} [{c['mean_ci'][0]:.0f}, {c['mean_ci'][1]:.0f}], success (≥ {args.success:g}) "
              f"{c['success']:.2f} [{c['success_ci'][0]:.2f}, {c['success_ci'][1]:.2f}]; per seed {c['per_seed']}; "
              f"at {args.steps}: {c['snapshot_per_seed']}")
    for k, v in res["improvement"].items():
        print(f"{k} = {v['point']:.2f} [{v['ci'][0]:.2f}, {v['ci'][1]:.2f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
