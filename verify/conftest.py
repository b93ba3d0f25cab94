"""pytest setup for verify/: the quick configuration (torch threads are set once, in the root conftest.py),
and the ``recorded`` fixture that pins rows to ``verify/recorded/`` (``verify.record``).

Measurements are cached in the claim modules (functools.lru_cache), so a test and its negative
control share one Monte Carlo run within the session.
"""
from collections import defaultdict

import pytest

from verify import record
from verify.verdict import CheckResult, require

#: the default run checks the quick configuration; ``-m slow`` tests run the full one
QUICK = True

_ROWS: dict[str, dict[str, record.Record]] = defaultdict(dict)  # record mode: module file -> key -> row
_RAN: dict[str, set[str]] = defaultdict(set)  # record mode: tests that recorded rows
_MODULES: dict[str, object] = {}  # record mode: the test modules collected, to tell a deleted test from an unselected one


def _recording(config) -> bool:
    return bool(config.getoption("--record", default=False))


class Replay:
    """``recorded(r)``: the test's own row; ``recorded.reproduce(r, key)``: one of its many rows."""

    def __init__(self, item, recording: bool):
        self.item, self.recording = item, recording
        self.file, self.name = str(item.path), item.name

    def reproduce(self, r: CheckResult, key: str = "", rtol: float | None = None) -> None:
        """Record ``r`` (record mode) or check that it reproduces its record (within ``rtol``, default
        ``record.rtol_for(r)``; ``math.inf`` pins the verdict only)."""
        name = f"{self.name}::{key}" if key else self.name
        if self.recording:
            _ROWS[self.file][name] = record.Record.of(r)
            _RAN[self.file].add(self.name)
            return
        rec = record.load(self.file).get(name)
        if rec is None:
            pytest.fail(f"no record for {name}: run python -m verify.record {self.item.path}", pytrace=False)
        rec.check(r, record.rtol_for(r) if rtol is None else rtol)

    def __call__(self, r: CheckResult, rtol: float | None = None) -> None:
        self.reproduce(r, rtol=rtol)
        if not self.recording:
            require(r)


@pytest.fixture
def recorded(request) -> Replay:
    return Replay(request.node, _recording(request.config))


def pytest_itemcollected(item):
    _MODULES[str(item.path)] = item.module


def pytest_collection_modifyitems(config, items):
    """A test whose own recorded row does not hold is a strict xfail that accepts only its exception."""
    if _recording(config):
        return
    for item in items:
        if "recorded" not in getattr(item, "fixturenames", ()):
            continue
        rec = record.load(str(item.path)).get(item.name)
        if rec is not None and rec.holds is not True:
            item.add_marker(pytest.mark.xfail(strict=True, raises=rec.raises, reason=rec.reason()))


def pytest_sessionfinish(session, exitstatus):
    if not _recording(session.config):
        return
    for file, rows in _ROWS.items():
        module = _MODULES[file]
        path = record.write(file, rows, _RAN[file], lambda test: callable(getattr(module, test.split("[")[0], None)))
        print(f"\nrecorded {len(rows)} rows: {path.relative_to(record.ROOT.parent)}")
