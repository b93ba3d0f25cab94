"""python -m verify.report: its files, its summary, and what a failing section leaves behind."""
import json

import pytest

from verify import report
from verify.registry import Section
from verify.verdict import CheckResult


def _sections():
    def good(quick):
        return [CheckResult("prop5.4", "printed", {"h": 0}, 1.0, (0.5, 1.5), 0.1),
                CheckResult("prop5.4", "corrected", {"h": 0}, 1.0, (0.5, 1.5), 10.0)]

    def broken(quick):
        raise RuntimeError("instance diverged")

    def late(quick):
        return [CheckResult("C.12", "explicit", {"i": 3}, 1.0, (0.5, 1.5), 1.2)]

    return [Section("prop5.4", "Variance", good, 1), Section("prop5.8", "Bias", broken, 2),
            Section("C.12", "Step", late, 3)]


def test_report_keeps_every_section_that_ran_and_names_the_one_that_failed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "ordered", _sections)
    assert report.main(["--quick", "--out", str(tmp_path)]) == 1
    rows = json.loads((tmp_path / "report.json").read_text())
    assert [(r["claim"], r["form"], r["holds"]) for r in rows] == [
        ("prop5.4", "printed", False), ("prop5.4", "corrected", True), ("C.12", "explicit", None)]
    md = (tmp_path / "report.md").read_text()
    assert "This section failed:** `RuntimeError: instance diverged`" in md
    assert "| prop5.4 | printed | 1 | 0 | 1 | 0 |" in md and "| C.12 | explicit | 1 | 0 | 0 | 1 |" in md
    assert "prop5.8" in capsys.readouterr().err


def test_a_failing_last_section_still_reaches_report_md(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "ordered", lambda: _sections()[1:2])
    assert report.main(["--out", str(tmp_path)]) == 1
    assert "This section failed" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "report.json").read_text().strip() == "[]"


def test_unwritable_out_exits_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as e:
        report.main(["--out", str(blocker / "report")])
    assert e.value.code == 2
