"""The sequential executor runs kernel-style generator code on plain memory."""

from __future__ import annotations

from typing import Any

import pytest

from pinlab.engine import kapi
from pinlab.engine.ops import Assume, Choose, Op
from pinlab.engine.program import Loc
from pinlab.engine.sequential import (
    AssumptionError,
    DeadlockError,
    Memory,
    SequentialExecutor,
)

X, Y, L = Loc("x"), Loc("y"), Loc("lock")


def test_loads_stores_and_rmws() -> None:
    def thread() -> Any:
        yield from kapi.WRITE_ONCE(X, 5)
        old = yield from kapi.xchg(X, 7)
        ok = yield from kapi.atomic_add_unless(X, 3, 7)  # 7 == unless: fails
        ok2 = yield from kapi.atomic_add_unless(X, 3, 0)
        new = yield from kapi.atomic_add_return(1, X)
        failed = yield from kapi.cmpxchg(Y, 1, 2)
        succeeded = yield from kapi.cmpxchg(Y, 0, 2)
        zero = yield from kapi.atomic_dec_and_test(Y)
        yield from kapi.set_bit(3, Y)
        bit = yield from kapi.test_and_clear_bit(3, Y)
        return {"old": old, "ok": ok, "ok2": ok2, "new": new, "failed": failed,
                "succeeded": succeeded, "zero": zero, "bit": bit}  # fmt: skip

    ex = SequentialExecutor(Memory())
    regs = ex.run(thread())
    assert regs == {"old": 5, "ok": 0, "ok2": 1, "new": 11, "failed": 0,
                    "succeeded": 0, "zero": 0, "bit": 1}  # fmt: skip
    assert ex.memory[X] == 11
    assert ex.memory[Y] == 1


def test_locks() -> None:
    def thread() -> Any:
        yield from kapi.spin_lock(L)
        held = yield from kapi.spin_is_locked(L)
        again = yield from kapi.spin_trylock(L)
        yield from kapi.spin_unlock(L)
        free = yield from kapi.spin_trylock(L)
        return {"held": held, "again": again, "free": free}

    assert SequentialExecutor().run(thread()) == {"held": 1, "again": 0, "free": 1}

    def deadlock() -> Any:
        yield from kapi.spin_lock(L)
        yield from kapi.spin_lock(L)

    with pytest.raises(DeadlockError):
        SequentialExecutor().run(deadlock())


def test_assume_and_choose() -> None:
    def thread() -> Any:
        c = yield Choose(3)
        yield Assume(c == 2)
        return {"c": c}

    assert SequentialExecutor(chooser=lambda op: op.n - 1).run(thread()) == {"c": 2}
    with pytest.raises(AssumptionError):
        SequentialExecutor().run(thread())


def test_after_step_hook_sees_every_operation() -> None:
    seen: list[Op] = []

    def thread() -> Any:
        yield from kapi.WRITE_ONCE(X, 1)
        yield from kapi.smp_mb()
        return (yield from kapi.READ_ONCE(X))

    ex = SequentialExecutor(after_step=lambda op, _ex: seen.append(op))
    assert ex.run(thread()) == 1
    assert [type(op).__name__ for op in seen] == ["Store", "Fence", "Load"]
