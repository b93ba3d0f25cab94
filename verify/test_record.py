"""Every row of the report, quick and full configuration, replays its record (``verify.record``).

The claim modules' own tests pin their rows one test per row; here each report section is pinned
whole, so that rows no per-row test covers (the adversarial search, the h* probes) and the full
configuration the README's main command reports are reviewed as diffs too.
"""
import json
import math

import pytest

from verify import claims, record, registry  # noqa: F401  (claims registers the sections)
from verify.verdict import CheckResult

SECTIONS = registry.ordered()


def _rtol(section: registry.Section, r: CheckResult):
    """The section's own replay tolerance where it declares one (``Section.replay_rtol``)."""
    if section.replay_rtol is None:
        return None
    return math.inf if r.holds is None else section.replay_rtol


def _replay(section: registry.Section, quick: bool, recorded) -> None:
    rows = section.results(quick)
    assert rows, section.claim
    for r, key in zip(rows, record.row_keys(rows)):
        recorded.reproduce(r, key, rtol=_rtol(section, r))


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.claim)
def test_quick_report_rows(section, recorded):
    _replay(section, True, recorded)


@pytest.mark.slow
@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.claim)
def test_full_report_rows(section, recorded):
    _replay(section, False, recorded)


def test_record_round_trip():
    """A row's record survives JSON with an infinite end; repeated rows get numbered keys."""
    r = CheckResult("c", "printed", {"h": 1}, 2.0, (1.5, math.inf), 1.0)
    rec = record.Record.from_json(json.loads(json.dumps(record.Record.of(r).to_json())))
    rec.check(r, record.RTOL_EXACT)
    assert record.row_keys([r, r]) == [record.row_key(r), record.row_key(r) + " #2"]


def test_record_command_rejects_a_missing_path():
    with pytest.raises(SystemExit) as e:
        record.main(["verify/no_such_test.py"])
    assert e.value.code == 2
