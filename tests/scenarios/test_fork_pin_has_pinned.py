"""fork-vs-pin-fast, the has_pinned designs (spec 6 L1/L10): READ_ONCE/WRITE_ONCE as first
posted and the merged atomic_t give the same executions; write_protect_seq closes the race."""

from __future__ import annotations

import pytest

from pinlab.engine.explore import Limits
from pinlab.scenarios import select
from pinlab.scenarios.base import Verdict


def test_once_and_atomic_explore_alike_under_sc() -> None:
    runs = [select(["fork-vs-pin-fast"], v, "sc")[0].run() for v in ("v5.9", "v5.9-once")]
    stats = [(r.verdict, r.exploration.stats.consistent, r.exploration.positive) for r in runs]
    assert stats[0] == stats[1]
    assert stats[0][0] is Verdict.REACHABLE


@pytest.mark.parametrize(
    ("variant", "model", "verdict"),
    [("v5.9-once", "lkmm", Verdict.REACHABLE), ("v5.11-once", "sc", Verdict.NEVER)],
)
def test_design_variants(variant: str, model: str, verdict: Verdict) -> None:
    scenario = select(["fork-vs-pin-fast"], variant, model)[0]
    assert scenario.patterns == ("L1", "L10")
    assert scenario.run(Limits(stop_at_witness=True)).verdict is verdict
