"""pgtable_free_gup_fast: each variant's verdict pinned (spec 6 L7 on the model's code)."""

from __future__ import annotations

import pytest

from pinlab.scenarios import MODULES, catalogue
from pinlab.scenarios.base import Expect, Scenario
from pinlab.scenarios.pgtable_free_gup_fast import SCENARIOS

# Under a second each (sc on a populated table, lkmm on an emptied one).
CASES = [pytest.param(s, id=s.key) for s in SCENARIOS]


@pytest.mark.parametrize("scenario", CASES)
def test_verdict_is_as_expected(scenario: Scenario) -> None:
    result = scenario.run()
    assert result.as_expected, (result.verdict, scenario.expected)
    assert result.seconds < 15


def test_only_the_what_ifs_are_reachable() -> None:
    reachable = {s.variant for s in SCENARIOS if s.expected is Expect.REACHABLE}
    assert all(v.startswith(("arm64-no-gp", "arm64-nobatch-no-sync")) for v in reachable)
    assert {s.model for s in SCENARIOS} == {"sc", "lkmm"}


def test_in_the_catalogue_last() -> None:
    assert MODULES[-1] == "pgtable_free_gup_fast"
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}
    assert all(s.patterns == ("L7",) for s in SCENARIOS)
