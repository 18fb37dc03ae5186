"""device-exclusive-vs-fault (spec 6 L11): each variant's verdict (about 10 s each: slow)."""

from __future__ import annotations

import pytest

from pinlab.scenarios import catalogue
from pinlab.scenarios.base import Scenario
from pinlab.scenarios.device_exclusive_fault import SCENARIOS


@pytest.mark.slow
@pytest.mark.parametrize("s", SCENARIOS, ids=lambda s: s.key)
def test_verdict(s: Scenario) -> None:
    result = s.run()
    assert result.as_expected, (result.verdict, result.exploration.stats)
    assert result.seconds < 60


def test_in_the_catalogue_with_the_pattern() -> None:
    keys = {s.key for s in catalogue()}
    assert all(s.key in keys and s.patterns == ("L11",) for s in SCENARIOS)
    assert {s.variant for s in SCENARIOS if s.expected.value == "reachable"} == {
        "v6.5-filter-event"
    }
