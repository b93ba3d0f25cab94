"""Every algorithm x {SN, no SN} trains on Hopper-v5 for a few hundred steps (tiny networks)."""
import csv
import math

import pytest

from trainers.config import Config
from trainers.train import train

CASES = [(algo, h, sn) for algo, h in (("rp-dp", 3), ("rp-dr", 3), ("ddpg", 0), ("rp0", 0)) for sn in (True, False)]


@pytest.mark.parametrize("algo,h,sn", CASES, ids=[f"{a}-h{h}-{'sn' if s else 'nosn'}" for a, h, s in CASES])
def test_smoke(tmp_path, algo, h, sn):
    cfg = Config.tiny(algo=algo, h=h, sn=sn, steps=300, out=str(tmp_path / "run"))
    assert train(cfg) == 0
    run = tmp_path / "run"
    for name in ("config.json", "run.json", "metrics.csv", "checkpoint.pt"):
        assert (run / name).exists(), name
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [50, 100, 150, 200, 250, 300]
    last = rows[-1]
    assert math.isfinite(float(last["critic_loss"])) and math.isfinite(float(last["actor_loss"]))
    assert math.isfinite(float(last["eval_return"])) and math.isfinite(float(last["grad_var"]))
    if h > 0:
        assert math.isfinite(float(last["model_loss"]))
