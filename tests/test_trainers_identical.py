"""Tiny runs reproduce the metrics.csv that the trainers wrote before their restructuring (issue 30).

The golden files in tests/data/ were written by ``python tests/test_trainers_identical.py`` at the
commit before the restructuring; regenerate them only for a change meant to alter what a run computes.
"""
import csv
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from trainers.config import Config
from trainers.train import main, train

DATA = Path(__file__).parent / "data"
CASES = {
    # model learning, SN, gradient variance at further h, a landscape; the test resumes it at step 150
    "rp-dp": Config.tiny(algo="rp-dp", h=3, sn=True, steps=300, grad_var_hs=(0, 2), landscape_every=150,
                         landscape_grid=3, landscape_samples=4),
    "rp-dr": Config.tiny(algo="rp-dr", h=3, steps=300),
    "ddpg": Config.tiny(algo="ddpg", h=0, sn=True, steps=300),
}


def golden(name: str) -> Path:
    return DATA / f"identical_{name}.metrics.csv"


def table(path: Path) -> tuple[list[str], list[list[str]]]:
    """metrics.csv without its wall-clock column: (header, rows)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    keep = [i for i, c in enumerate(rows[0]) if c != "wall_time"]
    return [rows[0][i] for i in keep], [[r[i] for i in keep] for r in rows[1:]]


def run(name: str, out: Path, split: bool) -> Path:
    cfg = dataclasses.replace(CASES[name], out=str(out))
    if split:
        assert train(dataclasses.replace(cfg, steps=150)) == 0
        assert main(["--resume", str(out), "--steps", str(cfg.steps)]) == 0
    else:
        assert train(cfg) == 0
    return out / "metrics.csv"


@pytest.mark.parametrize("name", list(CASES))
def test_metrics_equal_the_golden_run(tmp_path, name):
    head, rows = table(run(name, tmp_path / name, split=name == "rp-dp"))
    want_head, want = table(golden(name))
    assert head == want_head
    assert [r[0] for r in rows] == [r[0] for r in want]
    if rows != want:  # another CPU's float kernels may differ in the last bits: allow that, nothing more
        as_array = lambda t: np.array([[float(x) if x else np.nan for x in r] for r in t])  # noqa: E731
        np.testing.assert_allclose(as_array(rows), as_array(want), rtol=1e-5, equal_nan=True)


if __name__ == "__main__":  # rewrite the golden files from this commit's trainers
    import tempfile
    DATA.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in sys.argv[1:] or CASES:
            head, rows = table(run(name, Path(tmp) / name, split=False))
            with open(golden(name), "w", newline="") as f:
                csv.writer(f).writerows([head, *rows])
            print(f"wrote {golden(name)}")
