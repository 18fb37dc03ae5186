"""ptep-get-lockless-split (spec 6 L6a): the torn value, and the
zap under sc, which needs the sc model's rcu axiom (the flush IPI's wait): its
verdict (zap@sc, never) runs with the catalogue in test_catalogue.py."""

from __future__ import annotations

import pytest

from pinlab.kernel.eras import CURRENT
from pinlab.scenarios import catalogue
from pinlab.scenarios.ptep_get_lockless_split import P1, P2, SCENARIOS, build
from tests.engine.brute import brute_force_program, explorer_finals


def test_in_the_catalogue_with_the_pattern() -> None:
    keys = {s.key for s in catalogue()}
    assert all(s.key in keys and s.patterns == ("L6",) for s in SCENARIOS)


def test_the_torn_value_is_p1_low_half_and_a_cleared_high_half() -> None:
    """irqs-on: the reader returns pfn 0x000123 (P1's low half, high half 0)."""
    program = build(CURRENT, "zap", irqs_off=False).program
    ptes = {int(dict(regs[1])["pte"]) for _mem, regs in explorer_finals(program, "sc")}
    present = {p for p in ptes if p & 1}
    assert present == {P1, P2, P1 & 0xFFFF_FFFF}
    # Non-present values may be torn too (a high half with the low half 0): harmless.
    assert ptes - present <= {0, P1 & ~0xFFFF_FFFF, P2 & ~0xFFFF_FFFF}


@pytest.mark.parametrize(("setup", "irqs_off"), [("fault", True), ("zap", False)])
def test_sc_final_states_match_brute_force(setup: str, irqs_off: bool) -> None:
    program = build(CURRENT, setup, irqs_off).program
    assert explorer_finals(program, "sc") == brute_force_program(program)
