"""device-exclusive-fork: fork vs a device-exclusive entry; who holds the entry.

The verdicts run in test_catalogue.py.
"""

from __future__ import annotations

from pinlab.engine.explore import explore
from pinlab.engine.program import Condition, CondKind, FinalState, Program
from pinlab.scenarios import catalogue, select
from pinlab.scenarios.device_exclusive_fork import SCENARIOS


def test_in_the_catalogue() -> None:
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}
    assert select(["device-exclusive-fork"], era="copy-entry")


def test_the_final_state_names_who_holds_the_entry() -> None:
    """After the race, the parent holds the entry (fork failed or ran first) or nobody does."""
    scenario = next(s for s in SCENARIOS if s.variant == "current-locked")
    built = scenario.program()
    seen: set[str] = set()

    def observe(state: FinalState) -> bool:
        seen.add(built.describe_state(state)[-1])
        return False

    p = built.program
    explore(
        Program(
            p.name,
            p.threads,
            init=p.init,
            condition=Condition(CondKind.EXISTS, observe, text="observe"),
            thread_names=p.thread_names,
        ),
        "sc",
    )
    assert seen == {
        "device-exclusive entry held by: parent",
        "device-exclusive entry held by: nobody",
    }
