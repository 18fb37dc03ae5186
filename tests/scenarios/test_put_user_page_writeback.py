"""put-user-page-writeback: every variant's verdict pinned, and what its setup holds."""

from __future__ import annotations

import pytest

from pinlab.engine.sequential import Memory, SequentialExecutor
from pinlab.scenarios import catalogue, select
from pinlab.scenarios.base import Scenario
from pinlab.scenarios.put_user_page_writeback import DESIGNS, SCENARIOS, build
from tests.engine.brute import brute_force_program, explorer_finals

# The data-loss question for each design: quick, so always run.
QUICK = {"none", "counter", "mapcount", "bias", "v6.2", "v6.5", "mapcount-unpinned"}


def _marked(s: Scenario) -> object:
    return s if s.variant in QUICK else pytest.param(s, marks=pytest.mark.slow)


@pytest.mark.parametrize("scenario", [_marked(s) for s in SCENARIOS], ids=lambda s: s.key)
def test_verdict_is_as_expected(scenario: Scenario) -> None:
    result = scenario.run()
    assert result.as_expected, (result.verdict, scenario.expected)
    assert result.seconds < 15


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
