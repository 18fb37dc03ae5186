"""lazyfree_gup_fast: in the catalogue (the verdicts run in test_catalogue.py)."""

from __future__ import annotations

from pinlab.scenarios import catalogue
from pinlab.scenarios.lazyfree_gup_fast import SCENARIOS


def test_in_the_catalogue() -> None:
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}
