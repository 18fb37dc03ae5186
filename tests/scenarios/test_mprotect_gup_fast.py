"""mprotect_gup_fast: the verdicts, the legal outcomes reached, and a bad() that can fire."""

from __future__ import annotations

import dataclasses

import pytest

from pinlab.engine.decide import decide
from pinlab.engine.program import FinalState, Loc
from pinlab.kernel.defs import GUP_PIN_COUNTING_BIAS, PG_anon_exclusive
from pinlab.kernel.mm_types import pfn_folio
from pinlab.kernel.pte import _PAGE_RW, pte_pfn
from pinlab.scenarios import Scenario, catalogue
from pinlab.scenarios.mprotect_gup_fast import SCENARIOS


def test_in_the_catalogue() -> None:
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}
    assert {s.model for s in SCENARIOS} == {"sc", "lkmm"}


def _finals(scenario: Scenario) -> list[FinalState]:
    finals: list[FinalState] = []
    decide(
        scenario.program().program, scenario.model, on_execution=lambda e: finals.append(e.final)
    )
    return finals


@pytest.mark.parametrize("model", ["sc", "lkmm"])
def test_pin_and_back_out_both_happen(model: str) -> None:
    """Never is not vacuous: some execution keeps the pin (taken before the
    clear, legal), some backs out or bails, and the refcount says which."""
    (scenario,) = [s for s in SCENARIOS if s.variant == "current" and s.model == model]
    finals = _finals(scenario)
    assert {f.regs[1].get("got") for f in finals} == {0, 1}
    for f in finals:
        ptep = next(loc for loc in f.memory if ".pte[" in loc.name)
        folio = pfn_folio(pte_pfn(int(f.memory[ptep])))
        pins = f.regs[1].get("got")
        assert f.memory[folio._refcount] == 1 + pins * GUP_PIN_COUNTING_BIAS


def _pinned_final() -> tuple[FinalState, Scenario]:
    scenario = SCENARIOS[0]
    pinned = [f for f in _finals(scenario) if f.regs[1].get("got") == 1]
    assert pinned
    return pinned[0], scenario


def _with(state: FinalState, loc: Loc, value: int) -> FinalState:
    return dataclasses.replace(state, memory={**state.memory, loc: value})


def test_bad_fires_on_broken_final_states() -> None:
    state, scenario = _pinned_final()
    bad = scenario.program().bad
    assert bad(state) is None
    folio = pfn_folio(int(state.regs[1]["pfn"]))
    ptep = next(loc for loc in state.memory if ".pte[" in loc.name)
    flags = int(state.memory[folio.flags])
    no_pae = _with(state, folio.flags, flags & ~(1 << PG_anon_exclusive))
    assert (bad(no_pae) or "").startswith("I3:")
    leaked = _with(state, folio._refcount, int(state.memory[folio._refcount]) + 1)
    assert (bad(leaked) or "").startswith("I11:")
    writable = _with(state, ptep, int(state.memory[ptep]) | _PAGE_RW)
    assert "still writable" in (bad(writable) or "")
    cleared = _with(state, ptep, 0)
    assert "no longer maps" in (bad(cleared) or "")
