"""Run-level guarantees: exact resume, NaN stop with the last good checkpoint kept, CLI errors,
evaluation of a checkpoint."""
import csv
import json
import dataclasses
import os
import signal
import subprocess
import sys

import pytest
import torch

from trainers import evaluate
from trainers.algos.rp_dp import RPDP
from trainers.config import Config
from trainers.train import CHECKPOINT, main, train


def rows(run):
    with open(run / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k != "wall_time"} for r in csv.DictReader(f)]


@pytest.mark.parametrize("algo,h", [("rp-dp", 3), ("ddpg", 0)])
def test_resume_equals_uninterrupted(tmp_path, algo, h):
    # 150 steps, then resume to 300 (crossing learning_starts=100 before and model_warmup=150 at the cut)
    cfg = Config.tiny(algo=algo, h=h, sn=True, steps=300, out=str(tmp_path / "straight"))
    assert train(cfg) == 0
    split = dataclasses.replace(cfg, steps=150, out=str(tmp_path / "split"))
    assert train(split) == 0
    assert main(["--resume", str(tmp_path / "split"), "--steps", "300"]) == 0
    straight, resumed = rows(tmp_path / "straight"), rows(tmp_path / "split")
    assert len(straight) == 6
    assert resumed == straight


def test_resume_may_change_the_checkpoint_cadence_and_nothing_it_computes(tmp_path, monkeypatch, capsys):
    cfg = Config.tiny(algo="rp-dp", h=3, sn=True, steps=300, out=str(tmp_path / "straight"))
    assert train(cfg) == 0
    split = dataclasses.replace(cfg, steps=150, out=str(tmp_path / "split"))
    assert train(split) == 0
    assert main(["--resume", split.out, "--steps", "300", "--h", "5"]) == 2
    assert "only --steps and --checkpoint-every may change on resume, got --h" in capsys.readouterr().err
    saved = []
    original = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, path: (saved.append(obj["loop"]["step"]), original(obj, path)))
    assert main(["--resume", split.out, "--steps", "300", "--checkpoint-every", "50"]) == 0
    assert saved == [200, 250, 300]
    assert rows(tmp_path / "split") == rows(tmp_path / "straight")


def test_callbacks_run_after_every_update_and_may_report_grad_var(tmp_path):
    seen = []

    def probe(step, agent, buffer, out):
        seen.append((step, buffer.size, out))
        return {"grad_var": float(step)} if step % 25 == 0 else None

    cfg = Config.tiny(steps=150, learning_starts=100, grad_var_every=0, out=str(tmp_path / "run"))
    assert train(cfg, callbacks=[probe]) == 0
    assert seen == [(n, n, tmp_path / "run") for n in range(100, 151)]
    assert [r["grad_var"] for r in rows(tmp_path / "run")] == ["nan", "100.0", "150.0"]


def test_sigterm_checkpoints_the_current_step_and_resume_continues_exactly(tmp_path, monkeypatch, capsys):
    cfg = Config.tiny(algo="rp-dp", h=3, sn=True, steps=300, out=str(tmp_path / "straight"))
    assert train(cfg) == 0
    original = RPDP.update

    def interrupted(self, buffer, rng, step):
        if step == 230:  # between checkpoints (every 100) and log rows (every 50)
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, buffer, rng, step)

    monkeypatch.setattr(RPDP, "update", interrupted)
    split = dataclasses.replace(cfg, out=str(tmp_path / "split"))
    assert train(split) == 128 + signal.SIGTERM
    assert "SIGTERM at step 230: checkpoint written" in capsys.readouterr().err
    assert torch.load(tmp_path / "split" / CHECKPOINT, weights_only=False)["loop"]["step"] == 230
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    monkeypatch.setattr(RPDP, "update", original)
    assert main(["--resume", str(tmp_path / "split")]) == 0
    assert rows(tmp_path / "split") == rows(tmp_path / "straight")


def test_sigterm_during_the_last_step_completes_the_run(tmp_path, monkeypatch, capsys):
    original = RPDP.update

    def interrupted(self, buffer, rng, step):
        if step == 300:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, buffer, rng, step)

    monkeypatch.setattr(RPDP, "update", interrupted)
    cfg = Config.tiny(steps=300, out=str(tmp_path / "run"))
    assert train(cfg) == 0
    err = capsys.readouterr().err
    assert "SIGTERM" not in err
    assert "step 300/300: return" in err  # without a terminal, progress is one line per log row
    assert torch.load(tmp_path / "run" / CHECKPOINT, weights_only=False)["loop"]["step"] == 300


def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    original = RPDP.update

    def poisoned(self, buffer, rng, step):
        out = original(self, buffer, rng, step)
        if step >= 250:
            out["critic_loss"] = torch.tensor(float("nan"))
        return out

    monkeypatch.setattr(RPDP, "update", poisoned)
    cfg = Config.tiny(steps=400, out=str(tmp_path / "run"))
    assert train(cfg) == 1
    err = capsys.readouterr().err
    assert "non-finite critic_loss at step 250" in err and "last good checkpoint" in err
    ck = torch.load(tmp_path / "run" / CHECKPOINT, weights_only=False)
    assert ck["loop"]["step"] == 200
    assert all(torch.isfinite(p).all() for p in ck["agent"]["critic"].values())


@pytest.mark.parametrize("args,needle", [
    (["--algo", "ppo"], "invalid choice"),
    (["--env", "Ant-v5"], "invalid choice"),
    (["--h", "-1"], "h must be >= 0"),
    (["--init-alpha", "0"], "init_alpha must be > 0"),
    (["--algo", "rp-dp", "--dr-noise", "inferred"], "dr_noise is RP-DR's"),
    (["--algo", "rp-dr", "--dr-noise", "sampled"], "invalid choice"),
    (["--steps", "0"], "steps must be > 0"),
    (["--algo", "ddpg", "--h", "3"], "h = 0"),
    (["--seed", "-1"], "seed must lie in"),
    (["--gamma", "2"], "gamma must lie in (0, 1)"),
    (["--grad-var-samples", "1"], "grad_var_samples must be >= 2"),
    (["--learning-starts", "1"], "learning_starts must be >= h + 1"),
    (["--algo", "rp-dr", "--h", "10", "--dr-recent", "10"], "dr_recent must be >= h + 1 = 11 for rp-dr"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, needle):
    assert main(args + ["--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_unwritable_out_dir_exits_2_from_the_shell(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = subprocess.run([sys.executable, "-m", "trainers.train", "--out", str(blocker / "run")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cannot write to out dir" in proc.stderr
    assert proc.stdout == ""


def test_existing_run_needs_resume(tmp_path, capsys):
    assert train(Config.tiny(steps=60, learning_starts=50, out=str(tmp_path / "run"))) == 0
    assert main(["--out", str(tmp_path / "run")]) == 2
    assert "--resume" in capsys.readouterr().err


def test_evaluate_cli(tmp_path, capsys):
    assert train(Config.tiny(algo="rp0", h=0, steps=120, out=str(tmp_path / "run"))) == 0
    assert evaluate.main([str(tmp_path / "run"), "--episodes", "2"]) == 0
    out = capsys.readouterr().out
    assert "at step 120" in out and "over 2 episodes" in out


def test_run_json_records_the_commit_and_each_resume(tmp_path):
    from trainers.train import git_state
    run = tmp_path / "run"
    assert train(Config.tiny(steps=60, learning_starts=50, out=str(run))) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["git"] == git_state()
    assert len(info["git"]["commit"]) == 40 and isinstance(info["git"]["dirty"], bool)
    assert main(["--resume", str(run), "--steps", "80"]) == 0
    info = json.loads((run / "run.json").read_text())
    assert [r["step"] for r in info["resumed"]] == [60] and info["resumed"][0]["git"] == git_state()


def test_resume_refuses_another_trainer_commit_unless_allowed(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(Config.tiny(steps=60, learning_starts=50, out=str(run))) == 0
    info = json.loads((run / "run.json").read_text())
    info["git"]["trainer_commit"] = "0123456789abcdef" * 2 + "01234567"
    (run / "run.json").write_text(json.dumps(info))
    capsys.readouterr()
    assert main(["--resume", str(run), "--steps", "80"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "written by trainer commit 0123456789ab" in err and "--allow-commit-change" in err
    assert main(["--resume", str(run), "--steps", "80", "--allow-commit-change"]) == 0
    capsys.readouterr()
    assert main(["--out", str(tmp_path / "other"), "--allow-commit-change"]) == 2
    assert "applies to --resume only" in capsys.readouterr().err


def test_ddpg_command_line_defaults_are_tianshous(tmp_path):
    from trainers.train import parse
    cfg, _ = parse(["--algo", "ddpg", "--out", str(tmp_path / "d")])
    assert (cfg.h, cfg.policy_layers, cfg.actor_lr, cfg.critic_lr, cfg.learning_starts, cfg.obs_norm) == \
        (0, 3, 1e-3, 1e-3, 25_000, False)
    cfg, _ = parse(["--algo", "ddpg", "--learning-starts", "1000", "--out", str(tmp_path / "e")])
    assert cfg.learning_starts == 1000  # a flag beats the algorithm's default


def test_every_config_field_is_documented_in_help(capsys):
    from trainers.config import Config
    docs = Config.field_docs()
    assert set(docs) == {f.name for f in dataclasses.fields(Config)}
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "model steps of (4.1)" in out and "(ddpg: 25000, Tianshou)" in out
