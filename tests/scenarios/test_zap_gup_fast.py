"""zap_gup_fast: zap_pte_range() vs pin_user_pages_fast(); every row gives its verdict,
the allowed outcomes are all reached, and bad() names a freed folio GUP-fast holds."""

from __future__ import annotations

import pytest

from pinlab.engine.program import FinalState
from pinlab.kernel.defs import GUP_PIN_COUNTING_BIAS
from pinlab.kernel.eras import era_by_name
from pinlab.kernel.mm_types import NR_FOLL_PIN_ACQUIRED, NR_FOLL_PIN_RELEASED, pfn_folio
from pinlab.kernel.pte import pte_pfn
from pinlab.scenarios import MODULES, catalogue
from pinlab.scenarios.zap_gup_fast import SCENARIOS, build
from tests.scenarios.observe import explore_observing


def test_in_the_catalogue() -> None:
    assert "zap_gup_fast" in MODULES
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}
    assert {(s.variant, s.model) for s in SCENARIOS} >= {("current", "sc"), ("current", "lkmm")}


Outcome = tuple[int, int, bool, int, int]  # got, refcount, freed, pins acquired, released


def _outcomes(model: str, pin: bool) -> tuple[set[Outcome], list[FinalState]]:
    built = build(era_by_name("current"), pin=pin)
    (ptep,) = (loc for loc in built.program.init if ".pte[" in loc.name)
    folio = pfn_folio(pte_pfn(int(built.program.init[ptep])))
    seen: set[Outcome] = set()
    kept: list[FinalState] = []

    def observe(state: FinalState) -> None:
        assert built.bad(state) is None
        got = int(state.regs[1]["got"])
        assert state.memory[ptep] == 0, "zap_pte_range() always clears the PTE"
        seen.add(
            (
                got,
                int(state.memory[folio._refcount]),
                not state.memory[folio.mapping],
                int(state.memory.get(NR_FOLL_PIN_ACQUIRED, 0)),
                int(state.memory.get(NR_FOLL_PIN_RELEASED, 0)),
            )
        )
        kept.append(state)

    explore_observing(built.program, observe, model)
    return seen, kept


@pytest.mark.parametrize("model", ["sc", "lkmm"])
def test_every_allowed_outcome_is_reached(model: str) -> None:
    """Zap first (the grab fails on refcount 0), grab then drop (the PTE re-check saw
    the clear), or pinned and unmapped: the folio lives on with the pin alone."""
    seen, _ = _outcomes(model, pin=True)
    assert seen == {
        (0, 0, True, 0, 0),
        (0, 0, True, 1, 1),
        (1, GUP_PIN_COUNTING_BIAS, False, 1, 0),
    }
    seen, _ = _outcomes(model, pin=False)
    assert seen == {(0, 0, True, 0, 0), (1, 1, False, 0, 0)}


def test_bad_names_a_freed_folio_gup_fast_holds() -> None:
    """bad() is not vacuous: the pinned outcome with the folio freed under the pin
    (what a grab without add-unless-zero would allow) is reported."""
    _, kept = _outcomes("sc", pin=True)
    state = next(s for s in kept if s.regs[1]["got"] == 1)
    folio = pfn_folio(int(state.regs[1]["pfn"]))
    freed = FinalState({**state.memory, folio.mapping: 0}, state.regs)
    assert build(era_by_name("current")).bad(freed) == (
        f"GUP-fast returned {folio}, which was freed (refcount now {GUP_PIN_COUNTING_BIAS})"
    )
    leaked = FinalState({**state.memory, folio._refcount: 1}, [{}, {"got": 0, "pfn": 0}])
    message = build(era_by_name("current")).bad(leaked)
    assert message is not None and "leaked" in message
