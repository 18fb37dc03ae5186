"""lock.cat's rules are written twice: as relations (``models.base.lock_rules``, what
``check`` uses) and as scans of each thread (``models.sparse``, what the incremental
``check_partial`` uses).  On every graph the explorer builds for random programs with
nested and unbalanced locking, the two must give the same answer."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinlab.engine.explore import Limits, explore
from pinlab.engine.graph import ExecutionGraph
from pinlab.engine.models.base import Change, Relations, Verdict, lock_rules
from pinlab.engine.models.lkmm import LkmmModel
from pinlab.engine.models.sparse import lock_rules_hold, unmatched_lock_rules_hold
from tests.engine.minilang import as_program


class Compared(LkmmModel):
    """lkmm, comparing the two versions of lock.cat on each graph it is asked about."""

    def __init__(self) -> None:
        self.compared = 0

    def _compare(self, g: ExecutionGraph) -> None:
        full = lock_rules(g, Relations(g))
        scan = lock_rules_hold(g)
        if scan is None and g.complete:
            scan = unmatched_lock_rules_hold(g)
        assert full == scan, (full, scan, [e.describe() for e in g.events])
        self.compared += 1

    def check_partial(self, g: ExecutionGraph, change: Change) -> bool:
        self._compare(g)
        return super().check_partial(g, change)

    def check(self, g: ExecutionGraph) -> Verdict:
        self._compare(g)
        return super().check(g)


@st.composite
def _locking(draw: st.DrawFn) -> list[list[tuple[Any, ...]]]:
    threads = []
    for _ in range(draw(st.integers(2, 3))):
        code: list[tuple[Any, ...]] = []
        for j in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(["lock", "unlock", "st", "ld", "trylock"]))
            lock = draw(st.sampled_from(["s", "t"]))
            if kind in ("lock", "unlock"):
                code.append((kind, lock))
            elif kind == "st":
                code.append(("st", "x", draw(st.integers(1, 2))))
            elif kind == "ld":
                code.append(("ld", "x", f"r{j}"))
            else:
                code.append(("trylock", lock, f"r{j}", [("st", "y", 1)]))
        threads.append(code)
    return threads


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(threads=_locking())
def test_relations_and_scans_agree_on_lock_cat(threads: list[list[tuple[Any, ...]]]) -> None:
    model = Compared()
    explore(as_program("locks", threads), model, limits=Limits(time_limit=60))
    assert model.compared > 0
