"""put-user-page-writeback: what each design's setup holds.

The verdicts run in test_catalogue.py.
"""

from __future__ import annotations

import pytest

from pinlab.engine.sequential import Memory, SequentialExecutor
from pinlab.scenarios import catalogue, select
from pinlab.scenarios.put_user_page_writeback import DESIGNS, SCENARIOS, build
from tests.engine.brute import brute_force_program, explorer_finals


def test_in_the_catalogue_with_l12() -> None:
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}
    assert all(s.patterns == ("L12",) for s in SCENARIOS)
    assert select(["put-user-page-writeback"], "mapcount")[0].era.pin_proposal.value == "_mapcount"


@pytest.mark.parametrize(("design", "pinned"), [(d, d != "v6.5") for d in DESIGNS])
def test_the_device_holds_a_reference_unless_v6_5_refuses_it(design: str, pinned: bool) -> None:
    program = build(DESIGNS[design]).program
    device = program.threads[1]
    regs = SequentialExecutor(Memory(program.init)).run(device())
    assert regs == {"dma": pinned}


def test_sc_final_states_match_brute_force() -> None:
    program = select(["put-user-page-writeback"], "none-release")[0].program().program
    finals = explorer_finals(program, "sc")
    assert finals == brute_force_program(program)
    assert len(finals) > 1
