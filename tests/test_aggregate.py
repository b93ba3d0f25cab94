"""trainers.aggregate: the primary metric, Wilson intervals, rliable's estimates, CLI errors."""
import csv
import json

import numpy as np
import pytest

from trainers import aggregate

pytest.importorskip("rliable")


def fake_run(path, evals, every=5000, log_every=1000):
    """A run directory whose evaluation at step k·every is evals[k − 1], logged every log_every steps."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"eval_every": every}))
    with open(path / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["step", "eval_return"])
        w.writeheader()
        for step in range(log_every, every * len(evals) + 1, log_every):
            w.writerow({"step": step, "eval_return": evals[step // every - 1] if step >= every else "nan"})
    return path


def test_primary_metric_is_the_mean_of_the_last_five_evaluations(tmp_path):
    run = fake_run(tmp_path / "r", [10.0, 20.0, 30.0, 30.0, 50.0, 60.0, 70.0])  # two equal evaluations kept
    assert aggregate.final_metric(run, 35_000) == pytest.approx((30 + 30 + 50 + 60 + 70) / 5)
    assert aggregate.final_metric(run, 30_000) == pytest.approx((20 + 30 + 30 + 50 + 60) / 5)
    assert aggregate.snapshot(run, 35_000) == 70.0
    with pytest.raises(ValueError, match="has not reached step 40000"):
        aggregate.final_metric(run, 40_000)


def test_wilson_interval_matches_the_closed_form():
    # reference values: statsmodels' proportion_confint(k, n, method="wilson")
    lo, hi = aggregate.wilson(0, 3)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(0.5615, abs=1e-4)
    lo, hi = aggregate.wilson(7, 10)
    assert (lo, hi) == pytest.approx((0.3968, 0.8922), abs=1e-4)


def test_summary_of_separated_configurations():
    res = aggregate.summarise({"a": np.array([10.0, 11, 12, 13]), "b": np.array([1.0, 2, 3, 4])}, 5.0, [("a", "b")],
                              reps=2000)
    a = res["configurations"]["a"]
    assert a["mean"] == pytest.approx(11.5) and a["iqm"] == pytest.approx(11.5) and a["success"] == 1.0
    assert a["mean_ci"][0] <= 11.5 <= a["mean_ci"][1]
    assert res["improvement"]["P(a > b)"]["point"] == 1.0


def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys):
    run = fake_run(tmp_path / "r", [1.0] * 5)
    for argv in (["nogroup"], [f"a={run}", "--compare", "a,zz"], [f"a={tmp_path / 'missing'}"]):
        assert aggregate.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
    assert aggregate.main([f"a={run}", "--steps", "25000", "--reps", "200", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["configurations"]["a"]["n"] == 1


def test_markdown_table_has_a_row_per_configuration(tmp_path, capsys):
    a, b = fake_run(tmp_path / "a", [1.0] * 5), fake_run(tmp_path / "b", [2.0] * 5)
    assert aggregate.main([f"x={a}", f"y={b}", "--steps", "25000", "--reps", "200", "--compare", "y,x",
                           "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n| x | 1 |") == 1 and "| y | 1 | 2 [2, 2]" in out and "- P(y > x) = 1.00" in out


def test_performance_profiles_count_the_seeds_above_tau(tmp_path):
    scores = {"a": np.array([100.0, 200.0, 300.0]), "b": np.array([50.0, 60.0])}
    taus = np.array([0.0, 150.0, 250.0, 400.0])
    prof = aggregate.performance_profiles(scores, taus, reps=200)
    assert prof["a"]["fraction"] == pytest.approx([1.0, 2 / 3, 1 / 3, 0.0])
    assert prof["b"]["fraction"] == pytest.approx([1.0, 0.0, 0.0, 0.0])
    assert all(lo <= f <= hi for lo, f, hi in zip(prof["a"]["lower"], prof["a"]["fraction"], prof["a"]["upper"]))
    aggregate.plot_profiles(prof, taus, tmp_path / "profile.png", 250.0)
    assert (tmp_path / "profile.png").stat().st_size > 0
