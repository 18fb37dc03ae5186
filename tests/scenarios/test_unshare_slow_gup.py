"""unshare-vs-slow-gup (spec 6 L9): each variant's verdict; the pin-pin race in the fixed
eras runs in the slow tests (about 20 s each)."""

from __future__ import annotations

import pytest

from pinlab.engine.explore import explore
from pinlab.engine.program import Condition, CondKind, FinalState, Program
from pinlab.kernel.eras import CURRENT, V5_19
from pinlab.scenarios import catalogue
from pinlab.scenarios.base import NEVER, Scenario, row
from pinlab.scenarios.unshare_slow_gup import FAMILY, SCENARIOS, build

# The catalogue's rows run in test_catalogue.py; these two only here.
PIN_PIN = FAMILY.variants(
    build,
    row("current-pin-pin", CURRENT, sc=NEVER, shape="pin-pin"),
    row("v5.19-pin-pin", V5_19, sc=NEVER, shape="pin-pin"),
)


@pytest.mark.slow
@pytest.mark.parametrize("s", PIN_PIN, ids=lambda s: s.key)
def test_pin_pin_variants(s: Scenario) -> None:
    result = s.run()
    assert result.as_expected, (result.verdict, result.exploration.stats)


def test_the_what_if_reaches_the_vm_bug_on() -> None:
    """Without the unshare request the explorer finds follow_page_pte()'s VM_BUG_ON."""
    s = next(s for s in SCENARIOS if s.variant == "no-unshare")
    built = s.program()
    seen: list[str] = []

    def note(state: FinalState) -> bool:
        msg = built.bad(state)
        if msg:
            seen.append(msg)
        return False

    p = built.program
    explore(Program(p.name, p.threads, init=p.init, thread_names=p.thread_names,
                    condition=Condition(CondKind.EXISTS, note)), "sc")  # fmt: skip
    assert seen and all("VM_BUG_ON" in m for m in seen)


def test_in_the_catalogue_with_the_pattern() -> None:
    keys = {s.key for s in catalogue()}
    assert all(s.key in keys and s.patterns == ("L9",) for s in SCENARIOS)
