"""The sweep on a tiny grid: skipping and resuming with a stand-in trainer, and the Ray backend
against the local one with the real trainer."""
import json
import signal
import sys
import textwrap

import pytest

from trainers import sweep

FAKE_TRAINER = '''
import argparse, json, os, pathlib, sys
p = argparse.ArgumentParser()
for a in ("--algo", "--env", "--h", "--steps", "--seed", "--out", "--resume", "--model-loss", "--threads"):
    p.add_argument(a)
p.add_argument("--sn", action="store_true")
args, rest = p.parse_known_args()
out = pathlib.Path(args.resume or args.out)
calls = out / "calls.jsonl"
with calls.open("a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "threads": os.environ.get("OMP_NUM_THREADS")}) + "\\n")
(out / "checkpoint.pt").write_text("x")
if args.seed == "1" and not args.resume and os.environ.get("FAKE_FAIL_SEED1"):
    sys.exit(3)
(out / "metrics.csv").write_text("env_steps,eval_return\\n10,1.0\\n")
'''


@pytest.fixture
def fake_entry(tmp_path, monkeypatch):
    mod = tmp_path / "mods"
    mod.mkdir()
    (mod / "fake_train.py").write_text(textwrap.dedent(FAKE_TRAINER))
    monkeypatch.setenv("PYTHONPATH", str(mod))
    return "fake_train"


def calls(run_dir):
    return [json.loads(line) for line in (run_dir / "calls.jsonl").read_text().splitlines()]


def test_grid_gives_model_free_algorithms_h0_once():
    specs = sweep.grid(["rp-dp", "ddpg"], ["Hopper-v5"], [0, 3], "both", 2, 100)
    assert len(specs) == 2 * 2 * 2 + 1 * 2 * 2
    assert {s.h for s in specs if s.algo == "ddpg"} == {0}
    assert specs[0].run_dir("runs").as_posix() == "runs/Hopper-v5/rp-dp_h0_vanilla/seed0"


def test_command_line():
    s = sweep.RunSpec("rp-dp", "Hopper-v5", 10, True, 2, 5000, "mse")
    cmd = sweep.command(s, "d", "trainers.train", ["--eval-every", "100"], resume=False, threads=1)
    assert cmd == ["-m", "trainers.train", "--algo", "rp-dp", "--env", "Hopper-v5", "--h", "10", "--steps", "5000",
                   "--seed", "2", "--out", "d", "--threads", "1", "--sn", "--model-loss", "mse", "--eval-every", "100"]
    assert sweep.command(s, "d", "m", [], resume=True, threads=1) == ["-m", "m", "--resume", "d", "--steps", "5000"]


def test_command_is_accepted_by_the_trainer_parser(tmp_path):
    from trainers.train import parse
    s = sweep.RunSpec("rp-dp", "Hopper-v5", 10, True, 2, 5000, "mse")
    cfg, resume = parse(sweep.command(s, tmp_path / "r", "trainers.train", [], resume=False, threads=1)[2:])
    assert (cfg.algo, cfg.h, cfg.sn, cfg.seed, cfg.steps, cfg.model_loss, cfg.threads) == ("rp-dp", 10, True, 2, 5000, "mse", 1)
    assert not resume


def test_local_backend_runs_skips_and_resumes(tmp_path, fake_entry, monkeypatch):
    out = tmp_path / "runs"
    argv = ["--algos", "rp-dp", "--envs", "Hopper-v5", "--h", "0", "3", "--sn", "both", "--seeds", "2",
            "--steps", "50", "--out", str(out), "--entry", fake_entry, "--workers", "2", "--", "--eval-every", "7"]
    monkeypatch.setenv("FAKE_FAIL_SEED1", "1")
    assert sweep.main(argv) == 1  # the four seed-1 runs fail after writing a checkpoint
    runs = sorted(out.glob("Hopper-v5/*/seed*"))
    assert len(runs) == 8
    done = [r for r in runs if sweep.is_done(r, 50)]
    assert len(done) == 4 and all(r.name == "seed0" for r in done)
    first = calls(out / "Hopper-v5/rp-dp_h3_sn/seed0")[0]
    assert "--sn" in first["argv"] and first["argv"][-2:] == ["--eval-every", "7"] and first["threads"] == "1"
    spec = json.loads((out / "Hopper-v5/rp-dp_h3_sn/seed0" / sweep.SPEC_FILE).read_text())
    assert spec["h"] == 3 and spec["sn"] is True and spec["group"] == "rp-dp_h3_sn"

    monkeypatch.delenv("FAKE_FAIL_SEED1")
    assert sweep.main(argv) == 0
    assert all(sweep.is_done(r, 50) for r in runs) and not sweep.is_done(runs[0], 51)
    assert len(calls(out / "Hopper-v5/rp-dp_h3_sn/seed0")) == 1  # finished runs are skipped
    again = calls(out / "Hopper-v5/rp-dp_h3_sn/seed1")
    assert len(again) == 2 and again[1]["argv"][:4] == ["--resume", str(out / "Hopper-v5/rp-dp_h3_sn/seed1"), "--steps", "50"]


@pytest.fixture
def local_ray(monkeypatch):
    """A local 2-CPU Ray instance. ray is a test dependency: without it this fails, it does not skip."""
    import ray
    # offline and quiet: no usage-stats upload, no auth token written to ~/.ray, no dashboard
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield
    ray.shutdown()
    for sig, handler in handlers.items():  # ray.init installs its own and shutdown leaves them
        signal.signal(sig, handler)


# the real trainer at Config.tiny's sizes and 300 steps: a few seconds a run
TINY = ["--policy-hidden", "16", "--critic-hidden", "16", "--model-hidden", "16", "--reward-hidden", "16",
        "--batch-size", "16", "--learning-starts", "100", "--model-warmup", "150", "--log-every", "100",
        "--eval-every", "100", "--eval-episodes", "1", "--grad-var-every", "100", "--grad-var-samples", "8",
        "--no-tensorboard"]


def metrics_without_wall_time(run_dir):
    """metrics.csv as text, less its one clock-dependent column (wall_time)."""
    header, *rows = [line.split(",") for line in (run_dir / "metrics.csv").read_text().splitlines()]
    keep = [i for i, c in enumerate(header) if c != "wall_time"]
    assert len(keep) == len(header) - 1
    return [[r[i] for i in keep] for r in [header, *rows]]


def test_ray_backend_same_outputs_as_local(tmp_path, local_ray):
    argv = ["--algos", "rp-dp", "ddpg", "--envs", "Hopper-v5", "--h", "2", "--sn", "off", "--seeds", "1",
            "--steps", "300"]
    for backend in ("local", "ray"):
        assert sweep.main(argv + ["--out", str(tmp_path / backend), "--backend", backend, "--", *TINY]) == 0
    local, ray = tmp_path / "local", tmp_path / "ray"
    runs = sorted(p.relative_to(local).as_posix() for p in local.glob("*/*/seed*"))
    assert runs == ["Hopper-v5/ddpg_h0_vanilla/seed0", "Hopper-v5/rp-dp_h2_vanilla/seed0"]
    for r in runs:
        assert sweep.is_done(ray / r, 300)
        expected = metrics_without_wall_time(local / r)
        assert len(expected) == 4  # header, steps 100, 200, 300
        assert metrics_without_wall_time(ray / r) == expected  # every other column, digit for digit
        assert (ray / r / "gradvar.csv").read_bytes() == (local / r / "gradvar.csv").read_bytes()


@pytest.mark.parametrize("bad", [["--h", "-1"], ["--algos", "sac"], ["--envs", "Ant-v5"], ["--seeds", "0"],
                                 ["--workers", "-1"], ["--out", "/dev/null/sweep"]])
def test_bad_arguments_exit_2(bad):
    argv = {"--algos": "rp-dp", "--envs": "Hopper-v5", "--steps": "10", "--h": "3", "--seeds": "1", "--dry-run": None}
    argv.update(dict([bad]))
    with pytest.raises(SystemExit) as e:
        sweep.main([x for kv in argv.items() for x in kv if x is not None])
    assert e.value.code == 2


def test_ray_backend_without_ray_exits_2(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(SystemExit) as e:
        sweep.main(["--algos", "rp-dp", "--envs", "Hopper-v5", "--steps", "10", "--backend", "ray", "--dry-run"])
    assert e.value.code == 2
