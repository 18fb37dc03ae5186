"""collapse_gup_fast: the variants are in the catalogue (the verdicts run in test_catalogue.py)."""

from __future__ import annotations

from pinlab.engine.program import FinalState
from pinlab.kernel.defs import HPAGE_PMD_NR
from pinlab.kernel.eras import era_by_name
from pinlab.kernel.mm_types import pfn_folio
from pinlab.scenarios import catalogue
from pinlab.scenarios.collapse_gup_fast import SCENARIOS, build
from tests.scenarios.observe import explore_observing


def test_in_the_catalogue() -> None:
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}


def test_gup_fast_may_grab_the_thp_that_replaced_the_table() -> None:
    """GUP-fast that reads the new huge PMD takes a reference on the new THP: a
    write outside the old folio, which the program's may_write hint must list
    (the explorer stops with an error on a write outside it)."""
    built = build(era_by_name("v6.1"))
    got: set[int] = set()

    def observe(state: FinalState) -> None:
        g = state.regs[1]
        if state.regs[0].get("collapsed") == 1 and g.get("got") == 1:
            got.add(g["pfn"])

    explore_observing(built.program, observe)
    (pfn,) = got
    assert pfn_folio(pfn).nr_pages == HPAGE_PMD_NR
