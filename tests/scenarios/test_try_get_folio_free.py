"""try_get_folio_free: in the catalogue (the verdicts run in test_catalogue.py)."""

from __future__ import annotations

from pinlab.scenarios import catalogue
from pinlab.scenarios.try_get_folio_free import SCENARIOS


def test_in_the_catalogue() -> None:
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}
