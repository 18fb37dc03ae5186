"""fork-vs-pin-fast, the has_pinned designs (spec 6 L1/L10): READ_ONCE/WRITE_ONCE as first
posted and the merged atomic_t give the same executions; write_protect_seq closes the race."""

from __future__ import annotations

from pinlab.scenarios import select
from pinlab.scenarios.base import Verdict


def test_once_and_atomic_explore_alike_under_sc() -> None:
    runs = [select(["fork-vs-pin-fast"], v, "sc")[0].run() for v in ("v5.9", "v5.9-once")]
    stats = [(r.verdict, r.exploration.stats.consistent, r.exploration.positive) for r in runs]
    assert stats[0] == stats[1]
    assert stats[0][0] is Verdict.REACHABLE


def test_the_design_variants_are_catalogue_rows() -> None:
    """v5.9-once@lkmm (reachable) and v5.11-once@sc (never): their verdicts run
    with the catalogue (test_catalogue.py)."""
    for variant, model in (("v5.9-once", "lkmm"), ("v5.11-once", "sc")):
        (scenario,) = select(["fork-vs-pin-fast"], variant, model)
        assert scenario.patterns == ("L1", "L10")
