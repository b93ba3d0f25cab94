"""Analogues of the paper's Figures 1–6 from run directories:
``python -m trainers.figures runs/sweep [more roots or runs] --out figures/``.

A run is any directory holding ``metrics.csv`` and ``config.json`` (``trainers.train``); runs are
grouped by (env, algo, h, sn, model learner, variant) and averaged over seeds. Gradient variance comes from
``gradvar.csv`` and landscapes from ``landscapes/*.npz`` (``trainers.instrument``).

- fig1_algorithms.png: returns of every algorithm without SN (Fig 1);
- fig2_gradvar.png: gradient variance of vanilla RP-DP vs training step, one curve per h (Fig 2);
- fig3_landscapes.png: loss landscapes of RP-DP at the smallest and largest h, without/with SN (Fig 3);
- fig4_sn_returns.png: returns with and without SN per model-based algorithm and h (Fig 4);
- fig5_sn_gradvar.png: gradient variance with and without SN per h (Fig 5);
- fig6_model_learners.png: RP-DP returns per model learner (Fig 6, Appendix B.2);
- fig_theory.png: Section 5's quantities over training from ``theory.csv`` (``trainers.theory``),
  with and without SN: ε_f (4.7), local Lipschitz constants, growth of ‖dŝ_i/dθ‖ against ρ and
  L_f·L_π, the distance of the RP-DP gradient to the simulator's reference, ε_v (4.8) and the
  distance against ε_f; a single run's band is its measurements' own 95 % interval;
- summary.json: per group, each seed's last evaluation return and step, and the mean ± std over seeds
  at the last step all seeds reached.

Returns are the interquartile mean over seeds with its 95 % bootstrap interval (clipped to the
seeds' range), on the step range every seed covers; each seed's curve is drawn faintly, and legends sit
below the panels. Variances span orders of magnitude, so they are shown as the geometric mean over
seeds with a ± 1 std band of log10.
Figures without data are skipped and the reason printed.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from trainers.config import Config  # noqa: E402

MODEL_BASED = ("rp-dp", "rp-dr")
DEFAULT_LEARNER = "h-step"  # trainers.config.Config.model_loss
# settings that tell an algorithm's runs apart: RP-DR's noise reading and window, DDPG's SAC-tuned
# runs from before its Tianshou defaults
VARIANT_FIELDS = {"rp-dr": ("dr_noise", "dr_recent"), "ddpg": ("learning_starts", "actor_lr", "obs_norm")}


@dataclass
class Run:
    path: Path
    env: str
    algo: str
    h: int
    sn: bool
    seed: int
    model_loss: str
    metrics: dict[str, np.ndarray]
    variant: str = ""  # VARIANT_FIELDS away from the defaults, e.g. "dr_recent=10"
    gradvar: dict[str, np.ndarray] = field(default_factory=dict)
    landscapes: list[Path] = field(default_factory=list)
    theory: dict[str, np.ndarray] = field(default_factory=dict)
    eval_every: Optional[int] = None  # metrics rows repeat the last evaluation between evaluations

    @property
    def key(self) -> tuple:
        return (self.env, self.algo, self.h, self.sn, self.model_loss, self.variant)


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {k: np.array([float(r[k]) if r[k] not in ("", None) else math.nan for r in rows]) for k in rows[0]}


def load_run(path: Path) -> Run:
    cfg = json.loads((path / "config.json").read_text())
    run = Run(path, cfg["env"], cfg["algo"], int(cfg["h"]), bool(cfg["sn"]), int(cfg["seed"]),
              cfg.get("model_loss", DEFAULT_LEARNER), _read_csv(path / "metrics.csv"))
    if (path / "gradvar.csv").exists():
        run.gradvar = _read_csv(path / "gradvar.csv")
    run.landscapes = sorted((path / "landscapes").glob("*.npz"))
    if (path / "theory.csv").exists():
        run.theory = _read_csv(path / "theory.csv")
    run.eval_every = cfg.get("eval_every")
    fields = VARIANT_FIELDS.get(run.algo, ())
    if fields:
        defaults = Config.for_algo(algo=run.algo)
        if run.algo == "rp-dr":
            cfg.setdefault("dr_noise", "inferred")  # runs from before the option inferred ς at the current θ
        run.variant = ", ".join(f"{k}={cfg[k]}" for k in fields if k in cfg and cfg[k] != getattr(defaults, k))
    return run


def find_runs(roots: list[Path]) -> list[Run]:
    dirs = {p.parent for r in roots for p in ([r / "metrics.csv"] if (r / "metrics.csv").exists()
                                             else Path(r).rglob("metrics.csv"))}
    return [load_run(d) for d in sorted(dirs) if (d / "config.json").exists()]


def group(runs: list[Run]) -> dict[tuple, list[Run]]:
    out = defaultdict(list)
    for r in runs:
        out[r.key].append(r)
    return dict(sorted(out.items(), key=lambda kv: tuple(str(x) for x in kv[0])))


def returns(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """(steps, return): the evaluation return where the run has evaluated, else the training one."""
    m = run.metrics
    col = "eval_return" if np.isfinite(m.get("eval_return", np.array([math.nan]))).any() else "episode_return"
    steps, y = m.get("step", np.array([])), m.get(col, np.array([]))
    ok = np.isfinite(y)
    if col == "eval_return" and run.eval_every:  # the rows where the evaluation was made
        ok &= steps % run.eval_every == 0
    return steps[ok], y[ok]


def gradvar_curve(run: Run, h: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """(steps, total variance) at the run's own h (or ``h``) from gradvar.csv."""
    g = run.gradvar
    if not g:
        return np.array([]), np.array([])
    sel = (g["h"] == (run.h if h is None else h)) & np.isfinite(g["total"]) & (g["total"] > 0)
    return g["step"][sel], g["total"][sel]


def iqm_band(ys: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``ys`` (seeds × steps): the interquartile mean and its 95 % bootstrap interval over
    seeds (rliable's point estimate; the interval resamples seeds), clipped to the seeds' own range so
    that no band leaves the data."""
    from scipy.stats import trim_mean

    rng = np.random.default_rng(seed)
    boot = np.stack([trim_mean(ys[rng.integers(0, len(ys), len(ys))], 0.25, axis=0) for _ in range(reps)])
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    return trim_mean(ys, 0.25, axis=0), np.maximum(lo, ys.min(0)), np.minimum(hi, ys.max(0))


def seed_band(curves: list[tuple[np.ndarray, np.ndarray]], log: bool = False):
    """On a shared grid within the step range all seeds cover: the IQM with its 95 % bootstrap interval
    (``iqm_band``), or in log10 (``log``, gradient variances) the mean ± std, i.e. geometric."""
    curves = [(x, np.log10(y) if log else y) for x, y in curves if len(x)]
    if not curves:
        return None
    lo, hi = max(x.min() for x, _ in curves), min(x.max() for x, _ in curves)
    if hi < lo:
        return None
    grid = np.unique(np.concatenate([x[(x >= lo) & (x <= hi)] for x, _ in curves]))
    ys = np.stack([np.interp(grid, x, y) for x, y in curves])
    if not log:
        return (grid, *iqm_band(ys))
    mean, std = ys.mean(0), ys.std(0, ddof=1) if len(ys) > 1 else np.zeros_like(grid, dtype=float)
    return grid, 10 ** mean, 10 ** (mean - std), 10 ** (mean + std)


def plot_band(ax, band, label: str, n: int, seeds=(), **kw) -> None:
    """The seed band of ``seed_band`` over the shared range, and each seed's own curve (``seeds``) faintly
    over its full range, so that a seed run longer than the others is still seen."""
    x, m, lo, hi = band
    if len(x) <= 20:  # short runs: a lone evaluation would otherwise draw nothing
        kw.setdefault("marker", "o")
        kw.setdefault("markersize", 3)
    (line,) = ax.plot(x, m, label=f"{label} (n={n})", **kw)
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2)
    for sx, sy in seeds:
        ax.plot(sx, sy, color=line.get_color(), alpha=0.35, linewidth=0.8)


def _label(key: tuple, parts=("algo", "h", "sn", "loss", "variant")) -> str:
    env, algo, h, sn, loss, variant = key
    bits = {"algo": algo, "h": f"h={h}", "sn": "SN" if sn else "vanilla", "loss": loss,
            "variant": f"({variant})" if variant else ""}
    return " ".join(b for b in (bits[p] for p in parts) if b)


def _panels(n: int, title: str):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axs = plt.subplots(rows, cols, figsize=(5 * cols, 4.6 * rows), squeeze=False)  # room for legends below
    for ax in axs.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig, list(axs.flat)


def _save(fig, path: Path, written: list[Path]) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    written.append(path)


def curve_figure(panels: dict[str, list[tuple[str, list[Run]]]], curve, log: bool, ylabel: str,
                 title: str, path: Path, written: list[Path]) -> Optional[str]:
    """One panel per key of ``panels``, one seed-averaged curve per (label, runs)."""
    curves = {p: [(lab, [curve(r) for r in rs]) for lab, rs in items] for p, items in panels.items()}
    bands = {p: [(lab, cs, seed_band(cs, log)) for lab, cs in items] for p, items in curves.items()}
    bands = {p: [b for b in items if b[2] is not None] for p, items in bands.items()}
    bands = {p: items for p, items in bands.items() if items}
    if not bands:
        return f"{path.name}: no data"
    fig, axs = _panels(len(bands), title)
    for ax, (p, items) in zip(axs, bands.items()):
        for lab, cs, band in items:
            plot_band(ax, band, lab, len(cs), cs if len(cs) > 1 else ())
        ax.set_title(p)
        ax.set_xlabel("environment steps")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k"))  # 100000 labels collide
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)  # off the curves
    _save(fig, path, written)
    return None


def landscape_figure(groups: dict[tuple, list[Run]], path: Path, written: list[Path]) -> Optional[str]:
    """Fig 3: per env, RP-DP landscapes (latest step, lowest seed) at the smallest and largest h,
    one row without and one with SN."""
    cells = {}
    for key, rs in groups.items():
        env, algo, h, sn, _, _ = key
        with_l = [r for r in rs if r.landscapes]
        if algo == "rp-dp" and with_l:
            cells[(env, sn, h)] = min(with_l, key=lambda r: r.seed).landscapes[-1]
    if not cells:
        return f"{path.name}: no landscapes"
    envs = sorted({e for e, _, _ in cells})
    cols = []
    for env in envs:
        hs = sorted({h for e, _, h in cells if e == env})
        cols += [(env, h) for h in sorted({hs[0], hs[-1]})]
    fig, axs = plt.subplots(2, len(cols), figsize=(4.2 * len(cols), 7), squeeze=False)
    for j, (env, h) in enumerate(cols):
        for i, sn in enumerate((False, True)):
            ax = axs[i, j]
            f = cells.get((env, sn, h))
            if f is None:
                ax.set_visible(False)
                continue
            d = np.load(f)
            z = np.where(np.isfinite(d["loss"]), d["loss"], np.nan)
            cs = ax.contourf(d["a"], d["b"], z, levels=30, cmap="viridis")
            fig.colorbar(cs, ax=ax)
            ax.set_title(f"{env} h={h} {'SN' if sn else 'vanilla'}\nstep {int(d['step'])}", fontsize=9)
    fig.suptitle("−V̂_h along two filter-normalised directions (Fig 3)")
    _save(fig, path, written)
    return None


# (panel title, [(theory.csv column, curve label)], log scale); constants in the normaliser's units
THEORY_PANELS = [
    ("ε_f (4.7), coupled, real paths", [("eps_f_real_units", "ε_f"), ("eps_f_imag_units", "ε_f imagined")], True),
    ("‖∂f/∂(s,a)‖₂, 90% quantile", [("L_f_sim_real_q90_units", "simulator"), ("L_f_model_real_q90_units", "model")], True),
    ("‖∂π/∂s‖₂, 90% quantile", [("L_pi_real_q90_units", "policy")], True),
    ("growth of ‖dŝ_i/dθ‖ per step (imagined)", [("growth_imag_median_units", "D_i+1/D_i"),
                                                ("closed_loop_imag_median_units", "‖F_s+F_aΠ_s‖"),
                                                ("rho_imag_median_units", "ρ"), ("LfLpi_imag_median_units", "L_f L_π")], True),
    ("RP-DP gradient vs simulator reference", [("grad_rel_distance", "‖ĝ − g_ref‖/‖g_ref‖")], True),
    ("ε_v (4.8), estimated with Q_H, units", [("eps_v_H10_units", "H=10"), ("eps_v_H30_units", "H=30")], True),
]


def theory_band(rs: list[Run], col: str, log: bool):
    """Over seeds: ``seed_band``. One run: its measurements where they exist, with their own
    intervals (``col``_lo/_hi, ``trainers.theory``) where it has them."""
    if len(rs) == 1 and col in rs[0].theory:
        t = rs[0].theory
        ok = np.isfinite(t[col])
        if ok.any() and f"{col}_lo" in t:
            lo, hi = t[f"{col}_lo"][ok], t[f"{col}_hi"][ok]
            y = t[col][ok]
            return t["step"][ok], y, np.where(np.isfinite(lo), lo, y), np.where(np.isfinite(hi), hi, y)
        if ok.any():
            return t["step"][ok], t[col][ok], t[col][ok], t[col][ok]
        return None
    curves = [(r.theory["step"], r.theory[col]) for r in rs if col in r.theory]
    return seed_band(curves, log) if curves else None


def theory_figure(groups: dict[tuple, list[Run]], path: Path, written: list[Path]) -> Optional[str]:
    """Section 5's quantities over training (``THEORY_PANELS``), one curve per group and quantity,
    and a last panel of the gradient distance against ε_f (Prop 5.8), one point per measurement."""
    with_t = {k: [r for r in rs if r.theory] for k, rs in groups.items()}
    with_t = {k: rs for k, rs in with_t.items() if rs}
    if not with_t:
        return f"{path.name}: no theory.csv"
    fig, axs = _panels(len(THEORY_PANELS) + 1, "Section 5 on MuJoCo with the simulator's Jacobians")
    for ax, (title, cols, log) in zip(axs, THEORY_PANELS):
        for key, rs in with_t.items():
            for col, lab in cols:
                band = theory_band(rs, col, log)
                if band is not None:
                    plot_band(ax, band, f"{_label(key, ('algo', 'h', 'sn'))} {lab}", len(rs))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("environment steps")
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=6)
    ax = axs[len(THEORY_PANELS)]
    for key, rs in with_t.items():
        x = np.concatenate([r.theory.get("eps_f_real_units", np.array([])) for r in rs])
        y = np.concatenate([r.theory.get("grad_rel_distance", np.array([])) for r in rs])
        ax.scatter(x, y, s=12, label=_label(key, ("algo", "h", "sn")))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ε_f (units)")
    ax.set_ylabel("‖ĝ − g_ref‖/‖g_ref‖")
    ax.set_title("gradient distance against ε_f (Prop 5.8)", fontsize=9)
    ax.legend(fontsize=6)
    _save(fig, path, written)
    return None


def summary(groups: dict[tuple, list[Run]]) -> list[dict]:
    """Per configuration: each seed's last return, and the mean ± sample std over seeds at the last
    step all seeds reached (``common_step``), so seeds run to different lengths are not mixed."""
    out = []
    for key, rs in groups.items():
        curves = [(r.seed, *returns(r)) for r in sorted(rs, key=lambda r: r.seed)]
        per_seed = [{"seed": s, "step": int(x[-1]), "return": float(y[-1])} for s, x, y in curves if len(x)]
        common = min((p["step"] for p in per_seed), default=0)
        at_common = [float(y[x <= common][-1]) for _, x, y in curves if len(x)]
        env, algo, h, sn, loss, variant = key
        out.append({"env": env, "algo": algo, "h": h, "sn": sn, "model_loss": loss, "variant": variant,
                    "seeds": sorted(r.seed for r in rs), "per_seed": per_seed, "common_step": common,
                    "return_mean": float(np.mean(at_common)) if at_common else None,
                    "return_std": float(np.std(at_common, ddof=1)) if len(at_common) > 1 else None})
    return out


def make_figures(roots: list[Path], out: Path) -> list[Path]:
    runs = find_runs(roots)
    if not runs:
        raise SystemExit(f"no runs (metrics.csv + config.json) under {', '.join(map(str, roots))}")
    out.mkdir(parents=True, exist_ok=True)
    groups = group(runs)
    envs = sorted({k[0] for k in groups})
    written: list[Path] = []
    skipped = []

    def sel(pred):
        return [(k, rs) for k, rs in groups.items() if pred(*k)]

    fig1 = {env: [(_label(k, ("algo", "h", "variant")), rs) for k, rs in sel(lambda e, a, h, sn, l, v: e == env and not sn
                                                                   and l == DEFAULT_LEARNER)] for env in envs}
    skipped.append(curve_figure(fig1, returns, False, "return", "Algorithms, no SN (Fig 1)",
                                out / "fig1_algorithms.png", written))
    fig2 = {env: [(f"h={k[2]}", rs) for k, rs in sel(lambda e, a, h, sn, l, v: e == env and a == "rp-dp" and not sn)]
            for env in envs}
    skipped.append(curve_figure(fig2, gradvar_curve, True, "tr Cov(ĝ_n)", "Gradient variance of vanilla RP-DP (Fig 2)",
                                out / "fig2_gradvar.png", written))
    skipped.append(landscape_figure(groups, out / "fig3_landscapes.png", written))
    pairs = sorted({(e, a, h, v) for e, a, h, sn, l, v in groups if a in MODEL_BASED and h > 0 and l == DEFAULT_LEARNER})
    fig45 = {" ".join(filter(None, (e, a, f"h={h}", v))): [(_label(k, ("sn",)), rs) for k, rs in sel(
        lambda e2, a2, h2, sn, l, v2: (e2, a2, h2, v2) == (e, a, h, v) and l == DEFAULT_LEARNER)] for e, a, h, v in pairs}
    skipped.append(curve_figure(fig45, returns, False, "return", "With and without SN (Fig 4)",
                                out / "fig4_sn_returns.png", written))
    skipped.append(curve_figure(fig45, gradvar_curve, True, "tr Cov(ĝ_n)", "Gradient variance with and without SN (Fig 5)",
                                out / "fig5_sn_gradvar.png", written))
    learners = {e for e, a, h, sn, l, v in groups if a == "rp-dp" and l != DEFAULT_LEARNER}
    fig6 = {env: [(_label(k, ("loss", "h", "sn")), rs) for k, rs in sel(lambda e, a, h, sn, l, v: e == env and a == "rp-dp")]
            for env in learners}
    skipped.append(curve_figure(fig6, returns, False, "return", "Model learners (Fig 6)",
                                out / "fig6_model_learners.png", written) if fig6
                   else "fig6_model_learners.png: every RP-DP run uses the default learner")
    skipped.append(theory_figure(groups, out / "fig_theory.png", written))
    (out / "summary.json").write_text(json.dumps(summary(groups), indent=1))
    written.append(out / "summary.json")
    for s in filter(None, skipped):
        print(f"skipped {s}")
    return written


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainers.figures", description=__doc__.split("\n\n")[0])
    p.add_argument("roots", nargs="+", type=Path, help="run directories or folders holding them")
    p.add_argument("--out", type=Path, default=Path("figures"))
    args = p.parse_args(argv)
    for f in make_figures(args.roots, args.out):
        print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
