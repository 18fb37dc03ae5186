"""try_get_folio_free: each variant's verdict pinned (spec 6 litmus pattern on the model's code)."""

from __future__ import annotations

import pytest

from pinlab.scenarios import catalogue
from pinlab.scenarios.base import Scenario
from pinlab.scenarios.try_get_folio_free import SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.key)
def test_verdict_is_as_expected(scenario: Scenario) -> None:
    result = scenario.run()
    assert result.as_expected, (result.verdict, scenario.expected)
    assert result.seconds < 30


def test_in_the_catalogue() -> None:
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}
