"""The sequential executor: one thread at a time, on plain memory, no graph.

The kernel selftest ports (cow.c, gup_longterm.c) drive the kernel model the
way a test program drives a kernel: one system call after another.  There is
nothing to explore, so the same kernel generator functions run here directly
against a dictionary, with the semantics each operation has in a single-CPU
run.  A hook runs after every operation, which is where the kernel model
checks its invariants.

Loads answer plain values (not :class:`~pinlab.engine.values.Val`), so code
run here must use loaded values only through operators, ``int()`` and
``bool()``, as it must under the explorer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from pinlab.engine.ops import (
    Assume,
    Choose,
    Cutoff,
    Fence,
    IsLocked,
    Load,
    Lock,
    Op,
    Rmw,
    RmwKind,
    SrcuSync,
    Store,
    TryLock,
    Unlock,
    apply_arith,
)
from pinlab.engine.program import Loc, Thread
from pinlab.engine.values import unwrap

__all__ = [
    "AssumptionError",
    "BoundReachedError",
    "DeadlockError",
    "Memory",
    "SequentialExecutor",
    "rmw_result",
]


class DeadlockError(RuntimeError):
    """A sequential run tried to take a lock that is held (it would spin forever)."""


class AssumptionError(RuntimeError):
    """An ``Assume`` was false: in a sequential run there is no other execution to try."""


class BoundReachedError(RuntimeError):
    """A thread yielded ``Cutoff``: a loop ran past its bound."""


class Memory(MutableMapping[Loc, Any]):
    """Plain memory: a dictionary with the program's initial values as defaults."""

    def __init__(self, init: Mapping[Loc, Any] | None = None) -> None:
        self._cells: dict[Loc, Any] = dict(init or {})

    def __getitem__(self, loc: Loc) -> Any:
        return self._cells.get(loc, 0)

    def __setitem__(self, loc: Loc, value: Any) -> None:
        self._cells[loc] = value

    def __delitem__(self, loc: Loc) -> None:
        del self._cells[loc]

    def __iter__(self) -> Iterator[Loc]:
        return iter(self._cells)

    def __len__(self) -> int:
        return len(self._cells)

    def snapshot(self) -> dict[Loc, Any]:
        return dict(self._cells)


def rmw_result(op: Rmw, old: Any) -> tuple[bool, Any, Any]:
    """``(writes, new_value, answer)`` of an RMW that read ``old``.

    ``writes`` is False for a failed cmpxchg / add_unless, which is a lone read.
    """
    arg = unwrap(op.arg)
    if op.kind is RmwKind.XCHG:
        return True, arg, old
    if op.kind is RmwKind.CMPXCHG:
        return (old == arg), unwrap(op.arg2), old
    if op.kind is RmwKind.ADD_UNLESS:
        ok = old != unwrap(op.arg2)
        answer = old if op.ret_old else int(ok)
        return ok, old + arg, answer
    assert op.arith is not None
    new = apply_arith(op.arith, old, arg)
    if op.kind is RmwKind.FETCH_OP:
        return True, new, old
    if op.kind is RmwKind.OP_RETURN:
        return True, new, new
    return True, new, None  # ATOMIC_OP: void


Hook = Callable[[Op, "SequentialExecutor"], None]


class SequentialExecutor:
    """Run generator threads to completion, one at a time, against :class:`Memory`."""

    def __init__(
        self,
        memory: Memory | None = None,
        *,
        after_step: Hook | None = None,
        chooser: Callable[[Choose], int] | None = None,
    ) -> None:
        self.memory = memory if memory is not None else Memory()
        self.after_step = after_step
        self.chooser = chooser
        self.steps = 0
        self.current: Thread | None = None  # the generator being run, for hooks

    def _loc(self, loc: Any) -> Loc:
        plain = unwrap(loc)
        if not isinstance(plain, Loc):
            raise TypeError(f"not a location: {plain!r}")
        return plain

    def step(self, op: Op) -> Any:
        """Perform one operation and return the thread's answer."""
        mem = self.memory
        answer: Any = None
        if isinstance(op, Load):
            answer = mem[self._loc(op.loc)]
        elif isinstance(op, Store):
            mem[self._loc(op.loc)] = unwrap(op.value)
        elif isinstance(op, Rmw):
            loc = self._loc(op.loc)
            writes, new, answer = rmw_result(op, mem[loc])
            if writes:
                mem[loc] = new
        elif isinstance(op, Fence | SrcuSync):
            pass
        elif isinstance(op, Lock):
            loc = self._loc(op.loc)
            if mem[loc]:
                raise DeadlockError(f"spin_lock({loc}) on a lock that is held")
            mem[loc] = 1
        elif isinstance(op, Unlock):
            loc = self._loc(op.loc)
            if not mem[loc]:
                raise RuntimeError(f"spin_unlock({loc}) on a lock that is not held")
            mem[loc] = 0
        elif isinstance(op, TryLock):
            loc = self._loc(op.loc)
            answer = 0 if mem[loc] else 1
            mem[loc] = 1
        elif isinstance(op, IsLocked):
            answer = 1 if mem[self._loc(op.loc)] else 0
        elif isinstance(op, Assume):
            if not unwrap(op.cond):
                raise AssumptionError("assumption does not hold in this sequential run")
        elif isinstance(op, Choose):
            answer = self.chooser(op) if self.chooser is not None else 0
            if not 0 <= answer < op.n:
                raise ValueError(f"choice {answer} out of range for {op}")
        elif isinstance(op, Cutoff):
            raise BoundReachedError(op.why)
        else:  # pragma: no cover - the Op union is closed
            raise TypeError(f"not an operation: {op!r}")
        self.steps += 1
        if self.after_step is not None:
            self.after_step(op, self)
        return answer

    def run(self, thread: Thread) -> Any:
        """Run ``thread`` to completion; return what it returns."""
        answer: Any = None
        outer = self.current
        self.current = thread
        try:
            while True:
                op = thread.send(answer)
                answer = self.step(op)
        except StopIteration as stop:
            return stop.value
        finally:
            self.current = outer
