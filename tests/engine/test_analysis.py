"""The dry run that says which locations a thread may still write (engine/analysis.py)."""

from __future__ import annotations

from typing import Any

import pytest

from pinlab.engine import kapi
from pinlab.engine.analysis import future_writes, may_write_from
from pinlab.engine.explore import explore
from pinlab.engine.program import Condition, CondKind, Loc, Oops, Program

X, INDEX = Loc("x"), Loc("index")


def _int_then_write() -> Any:
    """A kernel path's shape: a value it needs concretely (an index), then writes."""
    index = yield from kapi.READ_ONCE(INDEX)
    int(index)
    old = yield from kapi.xchg(X, 0)
    yield from kapi.WRITE_ONCE(X, old)
    return {}


def _reader() -> Any:
    p = yield from kapi.READ_ONCE(X)
    return {"p": p}


def test_a_path_stuck_on_a_value_may_write_anything_after_it() -> None:
    futures = future_writes(_int_then_write)
    for k in range(5):
        assert may_write_from(futures, k, X), k


def test_a_reader_sees_every_write_of_a_thread_that_needs_a_concrete_value() -> None:
    """x is 7, cleared, restored: the reader reads 7 (initial), 0, or 7 (restored)."""
    for threads in ((_int_then_write, _reader), (_reader, _int_then_write)):
        program = Program(
            "int-then-write",
            threads,
            init={X: 7, INDEX: 3},
            condition=Condition(CondKind.EXISTS, lambda s: True),
        )
        result = explore(program, "sc")
        assert result.stats.consistent == 3, [t.__name__ for t in threads]


def _oops_on_some_path() -> Any:
    v = yield from kapi.READ_ONCE(INDEX)
    if v:
        raise Oops("VM_BUG_ON")
    yield from kapi.WRITE_ONCE(X, 1)
    return {}


def test_an_oops_ends_a_dry_run_path() -> None:
    futures = future_writes(_oops_on_some_path)
    assert may_write_from(futures, 0, X) and not may_write_from(futures, 0, INDEX)


LOCK, Y = Loc("lock"), Loc("y")


def _adds_under_lock() -> Any:
    for v in (1, 2):
        yield from kapi.spin_lock(LOCK)
        old = yield from kapi.READ_ONCE(X)
        yield from kapi.WRITE_ONCE(X, old + v)
        yield from kapi.spin_unlock(LOCK)
    return {}


def _needs_x() -> Any:
    """x may hold any sum: the dry run cannot follow int(), so may write anything."""
    v = yield from kapi.READ_ONCE(X)
    int(v)
    yield from kapi.WRITE_ONCE(Y, 1)
    return {"v": v}


def _lock_program(hint: frozenset[Loc] | None) -> Program:
    return Program(
        "lock-and-int",
        (_adds_under_lock, _needs_x),
        init={X: 0},
        condition=Condition(CondKind.EXISTS, lambda s: True),
        may_write=(None, hint),
    )


@pytest.mark.parametrize("model", ["sc", "lkmm"])
def test_a_hint_spares_lock_waits_for_a_thread_that_takes_no_lock(model: str) -> None:
    """Without a hint the first thread may wait for an unlock by the second, which
    takes no lock; its hint says it writes y only.  The executions are the same."""
    assert not future_writes(_needs_x)
    unhinted = explore(_lock_program(None), model)
    hinted = explore(_lock_program(frozenset({Y})), model)
    assert hinted.stats.consistent == unhinted.stats.consistent == 3  # it reads 0, 1 or 3
    assert hinted.stats.blocked < unhinted.stats.blocked


def test_a_hint_that_leaves_out_a_written_location_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"thread P1 writes y, which its may_write hint"):
        explore(_lock_program(frozenset({X})), "sc")
