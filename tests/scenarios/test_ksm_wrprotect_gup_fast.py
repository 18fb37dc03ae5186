"""ksm_wrprotect_gup_fast: each variant's verdict pinned (spec 6 L4 on the model's code)."""

from __future__ import annotations

import pytest

from pinlab.scenarios import catalogue
from pinlab.scenarios.base import Scenario
from pinlab.scenarios.ksm_wrprotect_gup_fast import SCENARIOS


def _slow(s: Scenario) -> list[pytest.MarkDecorator]:
    return [pytest.mark.slow] if s.model == "lkmm" else []


# A few seconds each (lkmm, or a 200-event collapse): marked slow.
CASES = [pytest.param(s, id=s.key, marks=_slow(s)) for s in SCENARIOS]


@pytest.mark.parametrize("scenario", CASES)
def test_verdict_is_as_expected(scenario: Scenario) -> None:
    result = scenario.run()
    assert result.as_expected, (result.verdict, scenario.expected)
    assert result.seconds < 30


def test_in_the_catalogue() -> None:
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}
