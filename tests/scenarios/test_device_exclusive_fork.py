"""device-exclusive-fork: fork vs a device-exclusive entry; who holds the entry.

The verdicts run in test_catalogue.py.
"""

from __future__ import annotations

from pinlab.scenarios import catalogue, select
from pinlab.scenarios.device_exclusive_fork import SCENARIOS
from tests.scenarios.observe import explore_observing


def test_in_the_catalogue() -> None:
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}
    assert select(["device-exclusive-fork"], era="copy-entry")


def test_the_final_state_names_who_holds_the_entry() -> None:
    """After the race, the parent holds the entry (fork failed or ran first) or nobody does."""
    scenario = next(s for s in SCENARIOS if s.variant == "current-locked")
    built = scenario.program()
    seen: set[str] = set()

    explore_observing(built.program, lambda state: seen.add(built.describe_state(state)[-1]))
    assert seen == {
        "device-exclusive entry held by: parent",
        "device-exclusive entry held by: nobody",
    }
