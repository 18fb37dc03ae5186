"""Incremental checking judges exactly as judging every invariant after every step would."""

from __future__ import annotations

from typing import Any

import pytest

from pinlab.engine.program import Loc
from pinlab.kernel.checkcache import Readers, TrackedMemory
from pinlab.kernel.checker import InvariantChecker
from pinlab.kernel.eras import era_by_name
from pinlab.selftests.cow import (
    ANON_TEST_CASES,
    _isolated,
    do_run_with_base_page,
    run_with_hugetlb,
)
from pinlab.selftests.cow_kinds import DEFAULT_SETUP, PMDSIZE, THP_RUN_PMD, do_run_with_thp


def test_tracked_memory_reports_changed_locations_only() -> None:
    written: list[Loc] = []
    x, y = Loc("x"), Loc("y")
    memory = TrackedMemory({x: 1}, written.append)
    memory[x] = 1  # the same value: nothing changed
    memory[x] = 2
    memory[y] = 0  # a location reads 0 before anything is written
    memory[y] = 3
    assert written == [x, y] and memory[x] == 2


def test_a_key_goes_stale_when_a_location_it_read_is_written() -> None:
    readers = Readers()
    x, y = Loc("x"), Loc("y")
    readers.record("i1", {x})
    readers.record("i2", {y})
    readers.written(x)
    assert readers.stale == {"i1"}
    readers.record("i1", {y})  # judged again, reading y now
    readers.written(x)
    assert readers.stale == set()
    readers.written(y)
    assert readers.stale == {"i1", "i2"}


@pytest.fixture
def verifying(monkeypatch: pytest.MonkeyPatch) -> None:
    """After each incremental check, every invariant not found broken holds when judged anew."""
    incremental = InvariantChecker.check

    def check(self: InvariantChecker, view: Any = None) -> None:
        incremental(self, view)
        if view is None:
            full = self.view()
            for inv in self.active:
                if inv.id not in self.observed:
                    assert inv.check(full) is None, f"{inv.label} skipped at step {self.step}"

    monkeypatch.setattr(InvariantChecker, "check", check)


@pytest.mark.parametrize("era", ["v5.8", "v5.19", "current"])
def test_incremental_checks_miss_nothing(verifying: None, era: str) -> None:
    for _case, _desc, fn in ANON_TEST_CASES:
        for body in (
            do_run_with_base_page(fn, swapout=True),
            do_run_with_thp(fn, THP_RUN_PMD, PMDSIZE),
            run_with_hugetlb(fn),
        ):
            _isolated(era_by_name(era), body, DEFAULT_SETUP)
