"""device-exclusive-vs-fault (spec 6 L11): the variants and their pattern.

The verdicts run in test_catalogue.py.
"""

from __future__ import annotations

from pinlab.scenarios import catalogue
from pinlab.scenarios.device_exclusive_fault import SCENARIOS


def test_in_the_catalogue_with_the_pattern() -> None:
    keys = {s.key for s in catalogue()}
    assert all(s.key in keys and s.patterns == ("L11",) for s in SCENARIOS)
    assert {s.variant for s in SCENARIOS if s.expected.value == "reachable"} == {
        "v6.5-filter-event"
    }
