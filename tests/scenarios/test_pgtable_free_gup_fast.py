"""pgtable_free_gup_fast: spec 6 L7 on the model's code (the verdicts run in test_catalogue.py)."""

from __future__ import annotations

from pinlab.scenarios import MODULES, catalogue
from pinlab.scenarios.base import Expect
from pinlab.scenarios.pgtable_free_gup_fast import SCENARIOS


def test_only_the_what_ifs_are_reachable() -> None:
    reachable = {s.variant for s in SCENARIOS if s.expected is Expect.REACHABLE}
    assert all(v.startswith(("arm64-no-gp", "arm64-nobatch-no-sync")) for v in reachable)
    assert {s.model for s in SCENARIOS} == {"sc", "lkmm"}


def test_in_the_catalogue() -> None:
    assert "pgtable_free_gup_fast" in MODULES
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}
    assert all(s.patterns == ("L7",) for s in SCENARIOS)
