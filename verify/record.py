"""Recorded rows: ``python -m verify.record [--full] [PATH ...]`` measures and writes, the tests replay.

Every test of verify/ that takes the ``recorded`` fixture (``verify/conftest.py``) pins its rows to
``verify/recorded/<module>.json``: per row its verdict, measured value, interval and bound, as the
code measured them. A test's own row is ``recorded(r)``: reproduce the record, then ``require`` r (a
recorded violated or inconclusive row is a strict xfail that accepts only that exception). A test with
many rows pins each under a key, ``recorded.reproduce(r, key)``, without requiring it to hold.

A changed measurement fails the replay; after review, this command rewrites the records, and the
change is read as a diff of the JSON, never pasted by hand. ``--full`` records the ``slow`` tests (the
full configuration of every report section). Records are exact floats (``repr``); the replay compares
them within the test's ``rtol`` because float kernels differ between CPUs.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

from verify.verdict import RAISES, CheckResult

ROOT = Path(__file__).resolve().parent
RECORD_DIR = ROOT / "recorded"
#: the replay's relative tolerance for an exact row (closed forms: LAPACK differs across CPUs at about
#: 1e-14) and for a Monte Carlo row (fixed seeds, but float kernels sum in another order on another CPU)
RTOL_EXACT, RTOL_MC = 1e-8, 1e-3


def rtol_for(r: CheckResult) -> float:
    """An exact row (``level`` 1) is pinned to rounding, a Monte Carlo row to ``RTOL_MC``."""
    return RTOL_EXACT if r.level == 1.0 else RTOL_MC


def _num(x: float):
    x = float(x)
    return x if math.isfinite(x) else str(x)  # JSON has no inf/nan


@dataclass(frozen=True)
class Record:
    """One row as it was measured."""

    holds: Optional[bool]
    measured: float
    ci: tuple[float, float]
    bound: float

    @classmethod
    def of(cls, r: CheckResult) -> "Record":
        return cls(r.holds, float(r.measured), (float(r.ci[0]), float(r.ci[1])), float(r.bound))

    @classmethod
    def from_json(cls, d: dict) -> "Record":
        return cls(d["holds"], float(d["measured"]), (float(d["ci"][0]), float(d["ci"][1])), float(d["bound"]))

    def to_json(self) -> dict:
        return {"holds": self.holds, "measured": _num(self.measured), "ci": [_num(c) for c in self.ci],
                "bound": _num(self.bound)}

    @property
    def raises(self) -> Optional[type]:
        return RAISES.get(self.holds)

    def reason(self) -> str:
        word = {True: "holds", False: "violated", None: "inconclusive"}[self.holds]
        return (f"recorded {word}: measured {self.measured:.6g} in [{self.ci[0]:.6g}, {self.ci[1]:.6g}] "
                f"against bound {self.bound:.6g}")

    def check(self, r: CheckResult, rtol: float) -> None:
        """Plain ``AssertionError`` (not ``Violated``/``Inconclusive``) unless ``r`` reproduces the record;
        ``rtol = inf`` pins the verdict only."""
        assert r.holds is self.holds, f"recorded {self.reason()}; now {r.describe()}"
        now = Record.of(r)
        for name, want, got in (("measured", self.measured, now.measured), ("ci low", self.ci[0], now.ci[0]),
                                ("ci high", self.ci[1], now.ci[1]), ("bound", self.bound, now.bound)):
            same = got == want or math.isclose(got, want, rel_tol=rtol, abs_tol=1e-300) or math.isinf(rtol)
            assert same, f"{name}: recorded {want!r}, now {got!r} (rtol {rtol:g}); {r.describe()}"


def path_of(module_file: str | Path) -> Path:
    """verify/section5/test_prop5_8.py -> verify/recorded/section5/test_prop5_8.json"""
    return RECORD_DIR / Path(module_file).resolve().relative_to(ROOT).with_suffix(".json")


@lru_cache(maxsize=None)
def load(module_file: str) -> dict[str, Record]:
    p = path_of(module_file)
    if not p.exists():
        return {}
    return {k: Record.from_json(v) for k, v in json.loads(p.read_text()).items()}


def _rounded(x):
    if isinstance(x, float):
        return float(f"{x:.4g}")
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_rounded(v) for v in x]
    return x


def row_key(r: CheckResult) -> str:
    """A row's name within a section: claim, form and instance (the report's identity of a row), its
    floats to 4 digits: an instance may carry measured numbers (a search row's ratio), whose last digits
    differ between CPUs; the record, not the key, pins them."""
    return f"{r.claim} [{r.form}] " + json.dumps(_rounded(r.instance), sort_keys=True, default=str, ensure_ascii=False)


def row_keys(rows: list[CheckResult]) -> list[str]:
    """``row_key`` of each row, a repeated one numbered (#2, #3, ...) in order."""
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        k = row_key(r)
        seen[k] = seen.get(k, 0) + 1
        out.append(k if seen[k] == 1 else f"{k} #{seen[k]}")
    return out


def write(module_file: str, rows: dict[str, Record], ran: set[str], exists: Callable[[str], bool]) -> Path:
    """Rewrite a module's records: the rows of the tests that ran replace theirs; a row of a test that did
    not run (outside this selection: a slow test, another node id) is kept while its test function
    ``exists``."""
    def test_of(key: str) -> str:
        return key.split("::", 1)[0]

    old = {k: v for k, v in load(module_file).items() if test_of(k) not in ran and exists(test_of(k))}
    old.update(rows)
    p = path_of(module_file)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({k: old[k].to_json() for k in sorted(old)}, indent=1, ensure_ascii=False) + "\n")
    load.cache_clear()
    return p


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="record the slow tests (the full configuration)")
    p.add_argument("paths", nargs="*", help="test files or directories (default: verify/)")
    args = p.parse_args(argv)
    for path in args.paths:
        if not Path(path).exists():
            p.error(f"no such test path: {path}")
    import pytest

    marks = "slow and not mujoco" if args.full else "not slow and not mujoco"
    return int(pytest.main(["--record", "-q", "-p", "no:cacheprovider", "-m", marks, *(args.paths or [str(ROOT)])]))


if __name__ == "__main__":
    sys.exit(main())
