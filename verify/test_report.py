"""python -m verify.report: its files, its summary, and what a failing section leaves behind."""
import json
import math

import pytest

from verify import report
from verify.registry import Section
from verify.verdict import CheckResult, Control


def _sections():
    def good(quick):
        return [CheckResult("prop5.4", "printed", {"mdp": "toy", "A": 1, "h": 0}, 1.0, (0.5, 1.5), 0.1),
                CheckResult("prop5.4", "corrected", {"mdp": "toy", "A": 1, "h": 0}, 1.0, (0.5, 1.5), 10.0),
                CheckResult("prop5.4", "identity", {"mdp": "toy", "A": 1, "h": 1}, 0.0, (0.0, 0.0), 1e-9)]

    def good_controls(quick):
        real = good(quick)[1]
        return [Control("drop a power", real, CheckResult("prop5.4", "corrected", real.instance, 1.0, (0.5, 1.5), 0.2)),
                Control("L_f → 1", real, CheckResult("prop5.4", "corrected", real.instance, 1.0, (0.5, 1.5), 5.0))]

    def broken(quick):
        raise RuntimeError("instance diverged")

    def late(quick):
        return [CheckResult("C.12", "explicit", {"i": 3}, 1.0, (0.5, 1.5), 1.2)]

    return [Section("prop5.4", "Variance", good, 1, controls=[good_controls]), Section("prop5.8", "Bias", broken, 2),
            Section("C.12", "Step", late, 3)]


def test_report_keeps_every_section_that_ran_and_names_the_one_that_failed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "ordered", _sections)
    assert report.main(["--quick", "--out", str(tmp_path)]) == 1
    doc = json.loads((tmp_path / "report.json").read_text())
    assert [(r["claim"], r["form"], r["holds"]) for r in doc["checks"]] == [
        ("prop5.4", "printed", False), ("prop5.4", "corrected", True), ("prop5.4", "identity", True),
        ("C.12", "explicit", None)]
    md = (tmp_path / "report.md").read_text()
    assert "This section failed:** `RuntimeError: instance diverged`" in md
    assert "| prop5.4 | printed | 1 | 0 | 1 | 0 |" in md and "| C.12 | explicit | 1 | 0 | 0 | 1 |" in md
    assert "3 measured checks: 1 hold (0 of them O-form level rows" in md and "1 violated, 1 inconclusive; 1 identities" in md
    assert "prop5.8" in capsys.readouterr().err
    # power: the identity row is no measurement; one of the two structural controls is caught
    power = {(p["claim"], p["form"]): p for p in doc["power"]}
    assert ("prop5.4", "identity") not in power
    assert power[("prop5.4", "corrected")]["controls_caught"] == 1 and power[("prop5.4", "corrected")]["controls"] == 2
    assert power[("prop5.4", "corrected")]["tightest_ratio"] == 0.1
    assert doc["instances"] == {"toy": {"A": 1}, "unnamed": {}}
    # the one-page answer opens the report: Prop 5.4 printed violated, corrected holds
    assert md.index("## The answer, claim by claim") < md.index("## Summary")
    ans = {a["claim"]: a for a in doc["answer"]}
    assert ans["Prop 5.4"]["verdict"] == "printed: false; corrected: holds on every instance tried"
    assert ans["Prop 5.4"]["counterexample"]["instance"] == "toy (h = 0)"
    assert ans["Prop 5.8"]["verdict"] == "not measured"


def test_answer_words_follow_the_kinds():
    """An O-form is refuted for every constant only by growth; a zero bound is a boundary defect; a
    violation at constant 1 is a number (the constant needed); Holm decides the family-wise words."""
    row = lambda m, ci, b, **kw: CheckResult("prop5.4", "printed", {"h": 1}, m, ci, b, **kw)
    level = row(5.0, (4.0, 6.0), 2.0, kind="O")
    assert level.holds is True and level.constant_needed == 3.0
    assert report.form_words([level]) == "not refuted; smallest constant the rows need: 3"
    defect = row(5.0, (4.0, 6.0), 0.0, kind="O")
    assert defect.holds is False and defect.boundary_defect
    assert report.form_words([level, defect]).startswith("boundary defect")
    growth = row(0.5, (0.5, 0.5), 0.0, kind="O", statistic="growth")
    assert report.form_words([level, defect, growth]) == "refuted for every constant (measured/f grows without limit)"
    assert report.form_words([row(5.0, (4.0, 6.0), 2.0)]) == "false"
    assert row(5.0, (4.0, math.inf), 2.0, kind="O").holds is None
    weak = row(1.0, (0.001, 1.999), 0.0)
    fam = report.holm_per_claim([weak] + [row(0.0, (-0.1, 0.1), 1.0)] * 3)
    assert fam[0].holds is False and fam[0].holds_fwer is None and report.form_words(fam) == "inconclusive"


def test_a_failing_last_section_still_reaches_report_md(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "ordered", lambda: _sections()[1:2])
    assert report.main(["--out", str(tmp_path)]) == 1
    assert "This section failed" in (tmp_path / "report.md").read_text()
    assert json.loads((tmp_path / "report.json").read_text())["checks"] == []


def test_unwritable_out_exits_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as e:
        report.main(["--out", str(blocker / "report")])
    assert e.value.code == 2


def test_every_expected_failure_names_its_exception(request):
    """No strict xfail in the selected tests accepts an arbitrary exception: each names ``raises``."""
    loose = [item.nodeid for item in request.session.items for m in item.iter_markers("xfail")
             if not m.kwargs.get("raises")]
    assert not loose, loose


def test_controls_on_a_reference_instance_are_not_power_on_the_claim():
    """A control whose real check is not one of the claim's rows (Remark 5.5's reference pair) is
    counted apart, in the power table and in the answer."""
    own = CheckResult("remark5.5", "printed", {"mdp": "toy", "h": 10}, 0.5, (0.4, 0.6), 1.0, direction="ge")
    ref_real = CheckResult("remark5.5", "printed", {"mdp": "reference", "h": 10}, 3.0, (2.0, 4.0), 1.0, direction="ge")
    swapped = CheckResult("remark5.5", "printed", {"mdp": "reference", "h": 10}, 0.3, (0.2, 0.4), 1.0, direction="ge")
    ctl = Control("arms swapped", ref_real, swapped)
    assert ctl.caught
    assert report.split_controls([ctl], [own]) == ([], [ctl])
    (p,) = report.power_table([own], [ctl])
    assert (p["controls"], p["reference_controls"], p["reference_controls_caught"]) == (0, 1, 1)
    (a,) = [a for a in report.answer([own], [ctl]) if a["claim"] == "Remark 5.5"]
    assert (a["controls"], a["reference_controls_caught"]) == (0, 1)
