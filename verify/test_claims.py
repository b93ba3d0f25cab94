"""``claims.PAPER`` names report claims: every id it lists is produced by the quick report, so that a
misspelt id cannot show as "not measured". The quick report's rows are read from their records
(``verify/recorded/test_record.json``), which ``verify/test_record.py`` replays."""
import json

import pytest

from verify import claims, record, registry


@pytest.fixture(scope="module")
def produced() -> set[str]:
    rows = json.loads((record.RECORD_DIR / "test_record.json").read_text())
    return {key.split("::", 1)[1].split(" [", 1)[0] for key in rows if key.startswith("test_quick_report_rows[")}


@pytest.mark.parametrize("paper", claims.PAPER, ids=lambda c: c.name)
def test_every_listed_id_is_produced(paper, produced):
    missing = [c for c in paper.checks + paper.steps if c not in produced]
    assert not missing, f"{paper.name} lists ids no section produces: {missing}"


def test_sections_have_distinct_orders():
    orders = [s.order for s in registry.ordered()]
    assert len(orders) == len(set(orders)), sorted(orders)


def test_a_second_section_with_the_same_name_is_refused():
    with pytest.raises(ValueError, match="prop5.4"):
        registry.section("prop5.4", "again")(lambda quick: [])
