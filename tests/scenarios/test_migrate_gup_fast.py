"""migrate_gup_fast: in the catalogue; every row decided (lkmm by revisits, with no
fallback); both outcomes of the race happen."""

from __future__ import annotations

import pytest

from pinlab.engine.program import FinalState
from pinlab.kernel.eras import era_by_name
from pinlab.scenarios import catalogue
from pinlab.scenarios.migrate_gup_fast import SCENARIOS, build
from tests.scenarios.observe import explore_observing


def test_in_the_catalogue() -> None:
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}


# That its lkmm rows are decided by revisits alone (no load-buffering hole:
# try_to_migrate()'s test of folio->mapping is a control dependency the
# engine sees) is checked with their verdicts, in test_catalogue.py.


@pytest.mark.parametrize("pin", [False, True], ids=["get", "pin"])
def test_migration_and_gup_fast_each_win_sometimes(pin: bool) -> None:
    """Not a vacuous never: in some executions the migration succeeds (GUP-fast
    then returns nothing or the new page), in others GUP-fast keeps the old
    page and the migration fails.  bad() flags the state that mixes the two."""
    built = build(era_by_name("current"), pin=pin)
    moved: list[FinalState] = []
    kept: set[int] = set()
    new: set[int] = set()

    def observe(state: FinalState) -> None:
        migrated, g = state.regs[0].get("migrated"), state.regs[1]
        assert built.bad(state) is None
        if migrated == 1:
            moved.append(state)
            if g.get("got") == 1:
                new.add(g["pfn"])
        elif g.get("got") == 1:
            kept.add(g["pfn"])

    explore_observing(built.program, observe)
    assert moved and len(kept) == 1 and len(new) == 1 and kept != new
    (old,) = kept
    forged = FinalState(moved[0].memory, [moved[0].regs[0], {"got": 1, "pfn": old}])
    assert "migration moved it" in (built.bad(forged) or "")
