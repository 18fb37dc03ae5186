"""Run a scenario's program and look at every execution's final state."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pinlab.engine.explore import ExplorationResult, explore
from pinlab.engine.program import Condition, CondKind, FinalState, Program


def explore_observing(
    program: Program, observe: Callable[[FinalState], None], model: str = "sc"
) -> ExplorationResult:
    """Explore ``program`` (its hints and all) with a condition that calls ``observe``
    on each consistent execution's final state and never holds."""

    def condition(state: FinalState) -> bool:
        observe(state)
        return False

    cond = Condition(CondKind.EXISTS, condition, text="observe")
    return explore(dataclasses.replace(program, condition=cond), model)
