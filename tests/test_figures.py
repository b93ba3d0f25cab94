"""Figures 1–6 from small fake run directories."""
import csv
import json

import numpy as np
import pytest

from trainers import figures

COLUMNS = ["step", "episodes", "episode_return", "eval_return", "eval_std", "wall_time"]


def fake_run(root, env, algo, h, sn, seed, model_loss="h-step", steps=(1000, 2000, 3000), gradvar=True,
             landscape=False):
    d = root / env / f"{algo}_h{h}_{'sn' if sn else 'vanilla'}_{model_loss}" / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"env": env, "algo": algo, "h": h, "sn": sn, "seed": seed,
                                               "model_loss": model_loss}))
    with (d / "metrics.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        for i, s in enumerate(steps):
            ev = "" if i == 0 else 100.0 * i + seed + (50 if sn else 0)  # no eval yet at the first row
            w.writerow({"step": s, "episodes": i, "episode_return": 10 * i, "eval_return": ev, "eval_std": 1.0,
                        "wall_time": i})
    if gradvar and algo in figures.MODEL_BASED:
        with (d / "gradvar.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "h", "total", "mean_per_param", "n_samples", "n_params"])
            for s in steps:
                for hh in sorted({0, h}):
                    v = 2.0 ** hh * (0.1 if sn else 1.0) * (1 + seed)
                    w.writerow([s, hh, v, v / 100, 256, 100])
    if landscape:
        a = np.linspace(-1, 1, 5)
        (d / "landscapes").mkdir()
        np.savez(d / "landscapes" / f"step000003000_h{h}.npz", a=a, b=a, loss=np.add.outer(a ** 2, a ** 2) * (h + 1),
                 h=np.array(h), step=np.array(3000))
    return d


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    for seed in (0, 1):
        for sn in (False, True):
            for h in (3, 15):
                fake_run(root, "Hopper-v5", "rp-dp", h, sn, seed, landscape=seed == 0)
        fake_run(root, "Hopper-v5", "ddpg", 0, False, seed)
        fake_run(root, "Hopper-v5", "rp-dp", 3, False, seed, model_loss="mse")
    return root


def test_all_figures_from_runs(runs, tmp_path, capsys):
    out = tmp_path / "figs"
    assert figures.main([str(runs), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {"fig1_algorithms.png", "fig2_gradvar.png", "fig3_landscapes.png", "fig4_sn_returns.png",
                     "fig5_sn_gradvar.png", "fig6_model_learners.png", "summary.json"}
    summary = {(r["algo"], r["h"], r["sn"], r["model_loss"]): r for r in json.loads((out / "summary.json").read_text())}
    r = summary[("rp-dp", 15, True, "h-step")]
    assert r["seeds"] == [0, 1] and r["common_step"] == 3000
    assert r["return_mean"] == pytest.approx(250.5) and r["return_std"] == pytest.approx(np.std([250, 251], ddof=1))


def test_summary_compares_seeds_at_the_step_all_of_them_reached(tmp_path):
    fake_run(tmp_path, "Hopper-v5", "rp-dp", 15, True, 0, steps=(1000, 2000, 3000, 4000))
    fake_run(tmp_path, "Hopper-v5", "rp-dp", 15, True, 1)
    [r] = figures.summary(figures.group(figures.find_runs([tmp_path])))
    assert r["per_seed"] == [{"seed": 0, "step": 4000, "return": 350.0}, {"seed": 1, "step": 3000, "return": 251.0}]
    assert r["common_step"] == 3000 and r["return_mean"] == pytest.approx(250.5)  # seed 0 at 3000: 250


def test_seed_band_uses_the_shared_range_and_log_space():
    a = (np.array([0.0, 10.0, 20.0]), np.array([1.0, 10.0, 100.0]))
    b = (np.array([0.0, 10.0]), np.array([100.0, 1000.0]))
    x, mean, lo, hi = figures.seed_band([a, b], log=True)
    assert list(x) == [0.0, 10.0]
    assert mean == pytest.approx([10.0, 100.0])  # geometric mean
    assert lo[0] < mean[0] < hi[0]


def test_gradvar_curve_reads_the_runs_own_h(runs):
    run = figures.load_run(runs / "Hopper-v5" / "rp-dp_h15_vanilla_h-step" / "seed0")
    steps, v = figures.gradvar_curve(run)
    assert list(steps) == [1000, 2000, 3000] and v[0] == pytest.approx(2.0 ** 15)
    assert figures.gradvar_curve(run, h=0)[1][0] == pytest.approx(1.0)


def test_missing_data_is_skipped_with_a_reason(tmp_path, capsys):
    fake_run(tmp_path / "r", "Walker2d-v5", "ddpg", 0, False, 0)
    written = figures.make_figures([tmp_path / "r"], tmp_path / "f")
    assert {p.name for p in written} == {"fig1_algorithms.png", "summary.json"}
    assert "fig2_gradvar.png: no data" in capsys.readouterr().out


def test_no_runs_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="no runs"):
        figures.make_figures([tmp_path], tmp_path / "f")


def test_published_runs_are_read_from_docs_runs(tmp_path):
    # trainers.publish copies only the small text files; trainers.figures reads them from docs/runs/NAME/
    from trainers import publish
    run = fake_run(tmp_path / "runs", "Hopper-v5", "rp-dp", 3, True, 0)
    (run / "run.json").write_text(json.dumps({"seed": 0}))
    (run / "checkpoint.pt").write_bytes(b"x")
    docs = tmp_path / "docs" / "runs"
    assert publish.main([str(run), "--to", str(docs), "--name", "rpdp-sn-h3-s0"]) == 0
    dest = docs / "rpdp-sn-h3-s0"
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "gradvar.csv", "metrics.csv", "run.json"]
    written = figures.make_figures([tmp_path / "docs" / "runs"], tmp_path / "fig")
    assert any(p.name == "fig4_sn_returns.png" for p in written)
    (run / "run.json").unlink()
    assert publish.main([str(run), "--to", str(docs)]) == 2


def test_publish_copies_theory_csv_where_the_run_has_one(tmp_path):
    from trainers import publish
    run = fake_run(tmp_path / "runs", "Hopper-v5", "rp-dp", 3, False, 0)
    (run / "run.json").write_text(json.dumps({"seed": 0}))
    (run / "theory.csv").write_text("step,eps_f\n1000,2.0\n")
    dest = publish.publish(run, tmp_path / "docs")
    assert (dest / "theory.csv").read_text() == (run / "theory.csv").read_text()


def test_returns_keep_only_the_rows_where_the_evaluation_was_made(tmp_path):
    d = fake_run(tmp_path, "Hopper-v5", "rp-dp", 3, True, 0, steps=(1000, 2000, 3000, 4000))
    cfg = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps({**cfg, "eval_every": 2000}))
    steps, _ = figures.returns(figures.load_run(d))
    assert list(steps) == [2000, 4000]


def test_rp_dr_runs_are_grouped_by_their_noise_reading_and_window(tmp_path):
    settings = {"old": {}, "acting": {"dr_noise": "acting"}, "recent": {"dr_recent": 10}}
    for name, extra in settings.items():
        d = fake_run(tmp_path / name, "Hopper-v5", "rp-dr", 3, False, 0)
        cfg = json.loads((d / "config.json").read_text())
        (d / "config.json").write_text(json.dumps({**cfg, "dr_recent": 1000, **extra}))
    groups = figures.group(figures.find_runs([tmp_path]))
    # runs written before dr_noise existed inferred ς at the current θ, away from today's default
    assert sorted(k[-1] for k in groups) == ["", "dr_noise=inferred", "dr_noise=inferred, dr_recent=10"]
    assert all(len(rs) == 1 for rs in groups.values())
    key = next(k for k in groups if k[-1].endswith("dr_recent=10"))
    assert figures._label(key, ("algo", "h", "variant")) == "rp-dr h=3 (dr_noise=inferred, dr_recent=10)"


def test_a_seed_run_longer_than_the_others_is_drawn_to_its_end():
    import matplotlib.pyplot as plt
    short = (np.array([1000.0, 2000.0]), np.array([1.0, 2.0]))
    long = (np.array([1000.0, 2000.0, 3000.0]), np.array([3.0, 4.0, 5.0]))
    fig, ax = plt.subplots()
    figures.plot_band(ax, figures.seed_band([short, long]), "x", 2, [short, long])
    assert max(line.get_xdata().max() for line in ax.get_lines()) == 3000.0
    assert ax.get_lines()[0].get_xdata().max() == 2000.0  # the mean stays on the shared range
    plt.close(fig)
