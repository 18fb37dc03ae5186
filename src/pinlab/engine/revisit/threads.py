"""Threads run on concrete answers, and the records a revisit keeps of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pinlab.engine.graph import Event, EvKind
from pinlab.engine.ops import (
    Op,
    Rmw,
    RmwKind,
    apply_arith,
)
from pinlab.engine.program import Loc, Oops
from pinlab.engine.values import DepTracker, Val, unwrap

_WRITE_KINDS = (EvKind.INIT, EvKind.W, EvKind.LKW, EvKind.UL)
_DEBUG = bool(__import__("os").environ.get("PINLAB_REVISIT_DEBUG"))
_NO_ANSWER = object()


class _Tracker(DepTracker):
    """A dependency tracker that also remembers which loads were truth-tested."""

    __slots__ = ("tested",)

    def __init__(self) -> None:
        super().__init__()
        self.tested = 0

    def truth(self, value: Any, deps: int) -> bool:
        self.tested |= deps
        return super().truth(value, deps)


@dataclass(slots=True)
class _OpRec:
    """One operation a thread performed: what it answered and its events."""

    answer: Any  # the value sent back (_NO_ANSWER: nothing)
    eids: list[int]  # its events, in order (a read then its write, for an RMW)
    time: int  # number of events in the graph when it was performed
    tested: int  # op indices truth-tested before it
    is_read: bool = False  # answer is a loaded value (deps: this op)
    sig: tuple[Any, ...] = ()  # what the op was (type, location), checked on replay
    op: Any = None  # the operation itself


class ReplayMismatch(RuntimeError):
    """A thread re-run on its recorded answers did not do what it did before."""


def _signature(op: Any) -> tuple[Any, ...]:
    return (type(op), unwrap(getattr(op, "loc", None)))


class _Thread:
    """A generator thread run on concrete answers; rebuilt by replay when stale."""

    __slots__ = ("factory", "gen", "live", "oops", "ops", "pending", "retval", "status",
                 "steps", "tid", "tracker")  # fmt: skip

    def __init__(self, tid: int, factory: Callable[[], Any]) -> None:
        self.tid = tid
        self.factory = factory
        self.ops: list[_OpRec] = []
        self.gen: Any = None
        self.tracker: _Tracker | None = None
        self.live = -1  # number of ops the live generator has been fed (-1: none)
        self.pending: Op | None = None
        self.status = "run"  # run | done | blocked
        self.retval: Any = None
        self.oops: str | None = None
        self.steps = 0  # sends to the generator, ever (tells a stale generator)

    def _send(self, i: int) -> Any:
        rec = self.ops[i]
        if rec.answer is _NO_ANSWER:
            return None
        if rec.is_read:
            return Val(rec.answer, 1 << i, self.tracker)
        return rec.answer

    def sync(self) -> None:
        """Bring the generator to the state after all of ``ops`` (replaying if stale)."""
        if self.live == len(self.ops):
            return
        try:
            if self.live < 0 or self.live > len(self.ops):
                self.tracker = _Tracker()
                self.gen = self.factory()
                self.live = 0
                op = self.gen.send(None)
            else:
                op = self.pending
            while self.live < len(self.ops):
                sig = self.ops[self.live].sig
                if sig and sig != _signature(op):
                    raise ReplayMismatch(
                        f"thread {self.tid}: operation {self.live} was {sig}, "
                        f"is now {_signature(op)}"
                    )
                self.steps += 1
                op = self.gen.send(self._send(self.live))
                self.live += 1
            self._set(op)
        except StopIteration as stop:
            self.live = len(self.ops)
            self.status, self.pending, self.retval = "done", None, stop.value
        except Oops as oops:
            self.live = -1
            self.status, self.pending = "done", None
            self.retval, self.oops = None, f"{type(oops).__name__}: {oops}"

    def _set(self, op: Any) -> None:
        self.status, self.pending, self.retval, self.oops = "run", op, None, None

    def start(self) -> None:
        self.live = -1
        self.sync()

    @property
    def tested(self) -> int:
        return self.tracker.tested if self.tracker is not None else 0

    @property
    def ctrl(self) -> int:
        return self.tracker.ctrl if self.tracker is not None else 0


@dataclass(slots=True)
class _Job:
    """A graph to explore from, made by a backward revisit.

    ``read`` now reads from ``write`` (its value is already in ``events``);
    unless ``in_place``, ``read``'s thread is cut right after it and its
    operation is performed again with the new value (an RMW gets its write
    then).  With ``in_place`` (load buffering) the thread keeps its later
    events, which do not depend on the read, and is re-run through them.
    """

    events: list[Event]
    rf: list[int]
    co: dict[Loc, list[int]]
    init: dict[Loc, int]
    crit: dict[int, int]
    ops: list[list[_OpRec]]
    maximal: list[bool]
    revisitable: list[bool]
    read: int = -1
    write: int = -1
    in_place: bool = False


def _rmw_succeeds(op: Rmw, old: Any) -> bool:
    if op.kind is RmwKind.CMPXCHG:
        return bool(old == unwrap(op.arg))
    if op.kind is RmwKind.ADD_UNLESS:
        return bool(old != unwrap(op.arg2))
    return True


def _rmw_new_value(op: Rmw, old: Any) -> Any:
    arg = unwrap(op.arg)
    if op.kind is RmwKind.XCHG:
        return arg
    if op.kind is RmwKind.CMPXCHG:
        return unwrap(op.arg2)
    if op.kind is RmwKind.ADD_UNLESS:
        return old + arg
    assert op.arith is not None
    return apply_arith(op.arith, old, arg)


def _rmw_answer(op: Rmw, old: Any, ok: bool) -> tuple[Any, bool]:
    """(answer, whether it is a loaded value) of an RMW that read ``old``."""
    if op.kind is RmwKind.ADD_UNLESS and not op.ret_old:
        return int(ok), False
    if op.kind is RmwKind.OP_RETURN:
        return _rmw_new_value(op, old), True
    if op.kind is RmwKind.ATOMIC_OP:
        return _NO_ANSWER, False
    return old, True


def _with_rmw(ev: Event, rmw: int) -> Event:
    return Event(ev.eid, ev.tid, ev.idx, ev.kind, ev.loc, ev.value, ev.tag, ev.atomic, rmw,
                 ev.addr, ev.data, ev.ctrl, ev.op, ev.src, ev.label)  # fmt: skip
