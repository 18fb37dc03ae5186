"""Exploration by revisits: every consistent execution, no read ever waits.

This is the second decision procedure of the engine, after the waiting
explorer of :mod:`pinlab.engine.explore`.  It follows GenMC's TruSt
(Kokologiannakis et al., POPL 2022): events are added one at a time, each
read reads from a write that *already exists*, and a write, when it is
added, may *revisit* an earlier read of its location: the graph is cut back
to what existed before that read plus everything the write depends on, and
the read now reads from the write.  A read never waits for a write that may
not come, so no exploration ends in a dead end for want of a write; the only
executions given up are those that really block (a lock never released, an
``Assume`` that fails).

Revisits are restricted so that each graph is produced once (TruSt's
*maximality* condition, as GenMC implements it): a read may be revisited only
when every event the revisit deletes, and the read itself, was added
"maximally" (a read reading the coherence-latest write when it was added, a
write placed last in coherence), none of them is older in coherence than a
write that stays, and none lies in the prefix of a write that revisited
before.  Complete executions are also recognised by a canonical key, so a
count is exact even where the restriction lets a graph through twice.

Load buffering.  The LKMM allows a read to read from a write that is
po|rf-after it (``LB+poonceonces``), which TruSt alone never produces.  A
read may therefore also be revisited by a write whose po|rf-prefix holds the
read, as HMC does (ASPLOS 2020), when nothing of that prefix past the read
depends on it (address, data or control dependency, through local values or
the thread's own writes, or a truth test of the thread on it): the thread is
then re-run with the new value and must produce the same events.

Values are concrete throughout: a read's value is its write's value, known
when it is added.  Herd7's candidates whose values form a cycle through
reads-from and data flow (``S1`` values) are not produced; the waiting
explorer keeps those.

Locks follow lock.cat as the waiting explorer does: a ``spin_lock()`` is an
LKR/LKW pair reading the unlock (or initial value) right before it in
coherence.  A thread whose lock is held is not scheduled; when it takes the
lock, it may also take it *before* a critical section that already took it
(a "steal"): that critical section's thread is cut back to its lock and
waits.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pinlab.engine.explore import Execution, ExplorationResult, Limits, Outcome, Stats
from pinlab.engine.graph import READ_KINDS, Event, EvKind, ExecutionGraph
from pinlab.engine.models.base import FULL_CHECK, Change, Model
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
from pinlab.engine.program import FinalState, Loc, Oops, Program
from pinlab.engine.relation import bits
from pinlab.engine.threads import call_stack
from pinlab.engine.values import DepTracker, Val, deps_of, unwrap

__all__ = ["RevisitExplorer", "explore_revisits"]

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


class _Stop(Exception):
    pass


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


class RevisitExplorer:
    """One exploration of ``program`` under ``model`` by revisits."""

    def __init__(
        self,
        program: Program,
        model: Model,
        *,
        limits: Limits | None = None,
        on_execution: Callable[[Execution], None] | None = None,
        record_src: bool = False,
    ) -> None:
        self.program = program
        self.model = model
        self.record_src = record_src
        self.limits = limits or Limits()
        self.on_execution = on_execution
        self.stats = Stats()
        self.states: dict[tuple[Any, ...], int] = {}
        self.positive = 0
        self.negative = 0
        self.flags: set[str] = set()
        self.outcome = Outcome.COMPLETE
        self.seen: set[Any] = set()
        self.duplicates = 0
        self.lb_holes = 0
        self.jobs: list[_Job] = []
        self.witness_graph: ExecutionGraph | None = None
        self._deadline = (
            time.monotonic() + self.limits.time_limit if self.limits.time_limit else None
        )
        self._steps = 0
        self._trace: Any = None
        self._reset_state()

    # -- state --------------------------------------------------------------------
    def _reset_state(self) -> None:
        n = len(self.program.threads)
        self.g = ExecutionGraph(threads=[[] for _ in range(n)])
        self.threads = [_Thread(i, f) for i, f in enumerate(self.program.threads)]
        self.writes: dict[Loc, list[int]] = {}
        self.reads: dict[Loc, list[int]] = {}
        self.maximal: list[bool] = []
        self.revisitable: list[bool] = []
        self.op_of: list[tuple[int, int]] = []  # eid -> (tid, op index); (-1, -1) for init
        self._undo: list[Callable[[], object]] = []

    def _push(self, undo: Callable[[], object]) -> None:
        self._undo.append(undo)

    def _mark(self) -> int:
        return len(self._undo)

    def _undo_to(self, mark: int) -> None:
        undo = self._undo
        while len(undo) > mark:
            undo.pop()()

    # -- driver -------------------------------------------------------------------
    def run(self) -> ExplorationResult:
        start = time.perf_counter()
        old_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old_limit, 100_000))
        try:
            for t in self.threads:
                t.start()
            self._visit()
            while self.jobs:
                self._run_job(self.jobs.pop())
        except _Stop:
            pass
        finally:
            sys.setrecursionlimit(old_limit)
        if self.lb_holes and self.outcome in (Outcome.COMPLETE, Outcome.BOUND):
            self.outcome = Outcome.INCOMPLETE
        self.stats.seconds = time.perf_counter() - start
        return ExplorationResult(
            program=self.program.name,
            model=self.model.name,
            states=self.states,
            positive=self.positive,
            negative=self.negative,
            flags=frozenset(self.flags),
            outcome=self.outcome,
            stats=self.stats,
        )

    def _tick(self) -> None:
        self._steps += 1
        if self._deadline is not None and self._steps & 0x3F == 0:
            if time.monotonic() > self._deadline:
                self.outcome = Outcome.TIME
                raise _Stop

    # -- adding events ----------------------------------------------------------------
    def _add(
        self, t: _Thread | None, kind: EvKind, loc: Loc | None, maximal: bool = True, **kw: Any
    ) -> int:
        g = self.g
        eid = len(g.events)
        if t is not None:
            tid, idx, opi = t.tid, len(g.threads[t.tid]), len(t.ops)
        else:
            tid, idx, opi = -1, 0, -1
        if self.record_src and t is not None:
            kw["src"] = call_stack(t.gen)
        g.add(Event(eid, tid, idx, kind, loc, op=max(opi, 0), **kw))
        self.maximal.append(maximal)
        self.revisitable.append(True)
        self.op_of.append((tid, opi))

        def undo() -> None:
            g.pop()
            self.maximal.pop()
            self.revisitable.pop()
            self.op_of.pop()

        self._push(undo)
        if loc is not None and (kind in _WRITE_KINDS or kind in READ_KINDS):
            index = self.writes if kind in _WRITE_KINDS else self.reads
            lst = index.setdefault(loc, [])
            lst.append(eid)
            self._push(lst.pop)
        return eid

    def _ensure_init(self, loc: Loc) -> None:
        if loc in self.g.init:
            return
        eid = self._add(None, EvKind.INIT, loc, value=self.program.initial_value(loc))
        self.g.init[loc] = eid
        self.g.co[loc] = [eid]

        def undo() -> None:
            del self.g.init[loc]
            del self.g.co[loc]

        self._push(undo)

    def _set_rf(self, r: int, w: int) -> None:
        g = self.g
        old = g.rf[r]
        g.rf[r] = w
        readers = g.readers.setdefault(w, [])
        readers.append(r)
        ev = g.events[r]
        g.events[r] = ev.with_value(g.events[w].value)

        def undo() -> None:
            g.rf[r] = old
            readers.pop()
            g.events[r] = ev

        self._push(undo)

    def _replace(self, ev: Event) -> None:
        g = self.g
        old = g.events[ev.eid]
        g.events[ev.eid] = ev
        self._push(lambda: g.events.__setitem__(ev.eid, old))

    def _co_insert(self, loc: Loc, pos: int, w: int) -> None:
        co = self.g.co[loc]
        co.insert(pos, w)
        self._push(lambda: co.pop(pos))

    def _set_maximal(self, e: int, value: bool) -> None:
        old = self.maximal[e]
        self.maximal[e] = value
        self._push(lambda: self.maximal.__setitem__(e, old))

    def _record_op(
        self, t: _Thread, answer: Any, eids: list[int], is_read: bool, time_: int
    ) -> None:
        """``t``'s pending operation is done: it answered ``answer`` and made ``eids``."""
        op = t.pending
        t.ops.append(_OpRec(answer, eids, time_, t.tested, is_read, _signature(op), op))
        for e in eids:
            self.op_of[e] = (t.tid, len(t.ops) - 1)
        saved = (t.status, t.pending, t.retval, t.oops, t.live, t.steps)

        def undo() -> None:
            t.ops.pop()
            t.status, t.pending, t.retval, t.oops, live, steps = saved
            t.live = live if t.steps == steps else -1  # a generator that ran on: replay

        self._push(undo)

    def _block(self, t: _Thread) -> None:
        saved = t.status
        t.status = "blocked"
        self._push(lambda: setattr(t, "status", saved))

    # -- dependencies ---------------------------------------------------------------
    def _eids(self, t: _Thread, mask: int) -> int:
        out = 0
        ops = t.ops
        for i in bits(mask):
            if i < len(ops) and ops[i].eids:
                out |= 1 << ops[i].eids[0]
        return out

    def _deps(self, t: _Thread, loc: Any, data: Any = None) -> dict[str, int]:
        return {
            "addr": self._eids(t, deps_of(loc)),
            "data": self._eids(t, deps_of(data)),
            "ctrl": self._eids(t, t.ctrl),
        }

    def _loc(self, t: _Thread, x: Any) -> Loc:
        v = unwrap(x)
        if not isinstance(v, Loc):
            raise TypeError(f"thread {t.tid}: {v!r} is not a location")
        self._ensure_init(v)
        return v

    # -- the search ---------------------------------------------------------------------
    def _waits_for_lock(self, t: _Thread) -> bool:
        op = t.pending
        if not isinstance(op, Lock):
            return False
        loc = unwrap(op.loc)
        return isinstance(loc, Loc) and not self._lock_free(loc)

    def _next(self) -> _Thread | None:
        """The leftmost thread that can go on."""
        for t in self.threads:
            if t.status == "run":
                t.sync()
                if t.status == "run" and not self._waits_for_lock(t):
                    return t
        return None

    def _visit(self) -> None:
        self._tick()
        t = self._next()
        if t is None:
            self._end()
            return
        if len(t.ops) >= self.program.max_events_per_thread:
            self._cut()
            return
        op = t.pending
        assert op is not None
        mark = self._mark()
        try:
            self._dispatch(t, op)
        finally:
            self._undo_to(mark)

    def _continue(self) -> None:
        self._visit()

    def _cut(self) -> None:
        self.stats.bounded += 1
        if self.outcome is Outcome.COMPLETE:
            self.outcome = Outcome.BOUND

    def _check(self, change: Change) -> bool:
        if self.model.check_partial(self.g, change):
            return True
        self.stats.pruned += 1
        return False

    def _dispatch(self, t: _Thread, op: Op) -> None:
        now = len(self.g.events)
        if isinstance(op, Load | Rmw):
            self._op_read(t, op)
        elif isinstance(op, Store):
            loc = self._loc(t, op.loc)
            w = self._add(t, EvKind.W, loc, value=unwrap(op.value), tag=op.tag.value,
                          **self._deps(t, op.loc, op.value))  # fmt: skip
            self._record_op(t, _NO_ANSWER, [w], False, now)
            self._place(w, loc, self._continue)
        elif isinstance(op, Fence):
            f = self._add(t, EvKind.F, None, tag=op.tag.value, ctrl=self._eids(t, t.ctrl),
                          label=op.label)  # fmt: skip
            self._record_op(t, _NO_ANSWER, [f], False, now)
            self._continue()
        elif isinstance(op, Lock | TryLock | IsLocked | Unlock):
            self._op_lock(t, op)
        elif isinstance(op, SrcuSync):
            loc = self._loc(t, op.loc)
            e = self._add(t, EvKind.SRCU, loc, tag="sync-srcu", **self._deps(t, op.loc))
            self._record_op(t, _NO_ANSWER, [e], False, now)
            self._continue()
        elif isinstance(op, Assume):
            if unwrap(op.cond):
                self._record_op(t, _NO_ANSWER, [], False, now)
            else:
                self._block(t)  # for good: a revisit of an earlier read may free it
            self._continue()
        elif isinstance(op, Choose):
            for i in range(op.n):
                mark = self._mark()
                self._record_op(t, i, [], False, now)
                self._continue()
                self._undo_to(mark)
        elif isinstance(op, Cutoff):
            self._cut()
        else:
            raise TypeError(f"thread {t.tid} yielded {op!r}, which is not an operation")

    # -- reads ----------------------------------------------------------------------------
    def _op_read(self, t: _Thread, op: Load | Rmw) -> None:
        g = self.g
        loc = self._loc(t, op.loc)
        is_rmw = isinstance(op, Rmw)
        now = len(g.events)
        co = self._lock_co(loc)
        deps = self._deps(t, op.loc)
        for w in reversed(co):  # the coherence-latest first: the maximal choice
            mark = self._mark()
            r = self._add(t, EvKind.R, loc, maximal=(w == co[-1]), tag=op.tag.value,
                          atomic=is_rmw, **deps)  # fmt: skip
            self._set_rf(r, w)
            if self._check(("rf", r, w)):
                if is_rmw:
                    assert isinstance(op, Rmw)
                    self._rmw_write(t, op, r, w, now, self._continue)
                else:
                    self._record_op(t, g.events[w].value, [r], True, now)
                    self._continue()
            self._undo_to(mark)

    def _rmw_write(
        self, t: _Thread, op: Rmw, r: int, w: int, now: int, cont: Callable[[], None]
    ) -> None:
        """The write half of RMW ``op``, whose read ``r`` reads from ``w``."""
        g = self.g
        old = g.events[w].value
        ok = _rmw_succeeds(op, old)
        answer, is_read = _rmw_answer(op, old, ok)
        if not ok:
            self._record_op(t, answer, [r], is_read, now)
            cont()
            return
        loc = g.events[r].loc
        assert loc is not None
        data = 0 if op.kind in (RmwKind.XCHG, RmwKind.CMPXCHG) else 1 << r
        rev = g.events[r]
        wr = self._add(
            t, EvKind.W, loc, value=_rmw_new_value(op, old), tag=op.tag.value, atomic=True,
            rmw=r, addr=rev.addr, data=data | self._eids(t, deps_of(op.arg) | deps_of(op.arg2)),
            ctrl=rev.ctrl,
        )  # fmt: skip
        self._replace(_with_rmw(g.events[r], wr))
        self._record_op(t, answer, [r, wr], is_read, now)
        co = g.co[loc]
        pos = co.index(w) + 1
        self._co_insert(loc, pos, wr)
        self._set_maximal(wr, pos == len(co) - 1)
        self._revisits(wr)
        if self._check(("co", wr, -1)):
            cont()

    # -- writes -------------------------------------------------------------------------------
    def _positions(self, loc: Loc) -> list[int]:
        """Where a new plain write may go in coherence, the last place first: never
        between an RMW's halves, nor before the initial write."""
        g = self.g
        co = g.co[loc]
        events, rf = g.events, g.rf
        out = []
        for k in range(len(co), 0, -1):
            if k < len(co):
                nxt = events[co[k]]
                if nxt.rmw >= 0 and nxt.kind is EvKind.W and rf[nxt.rmw] == co[k - 1]:
                    continue
            out.append(k)
        return out

    def _place(self, w: int, loc: Loc, cont: Callable[[], None]) -> None:
        end = len(self.g.co[loc])
        for pos in self._positions(loc):
            mark = self._mark()
            self._co_insert(loc, pos, w)
            self._set_maximal(w, pos == end)
            self._revisits(w)
            if self._check(("co", w, -1) if end > 1 else FULL_CHECK):
                cont()
            self._undo_to(mark)

    # -- locks ------------------------------------------------------------------------------------
    def _lock_co(self, loc: Loc) -> list[int]:
        """``loc``'s coherence order with each matched UL right after its LKW (as
        :meth:`ExecutionGraph.lock_co`, for one location)."""
        ws = self.g.co[loc]
        crit = self.g.crit
        if not crit:
            return ws
        out: list[int] = []
        for w in ws:
            out.append(w)
            ul = crit.get(w, -1)
            if ul >= 0:
                out.append(ul)
        return out

    def _lock_rf(self) -> dict[int, int]:
        """Each LKR -> the write right before its LKW (lock.cat), over every lock."""
        g = self.g
        if not g.crit and not any(e.kind is EvKind.LKR for e in g.events):
            return {}
        return g.lock_rf(g.lock_co())

    def _lock_free_at(self, ul: int) -> bool:
        """Whether unlock ``ul`` ends the last critical section of its lock."""
        loc = self.g.events[ul].loc
        assert loc is not None
        return self._lock_co(loc)[-1] == ul

    def _lock_free(self, loc: Loc) -> bool:
        co = self.g.co.get(loc)
        if not co:
            return True
        last = self.g.events[co[-1]]
        return last.kind is not EvKind.LKW or last.eid in self.g.crit

    def _op_lock(self, t: _Thread, op: Lock | TryLock | IsLocked | Unlock) -> None:
        loc = self._loc(t, op.loc)
        deps = self._deps(t, op.loc)
        now = len(self.g.events)
        if isinstance(op, Unlock):
            ul = self._add(t, EvKind.UL, loc, value=0, tag="release", **deps)
            self._match_unlock(ul)
            self._record_op(t, _NO_ANSWER, [ul], False, now)
            self._revisits(ul)  # (its place in lock_co is right after its LKW)
            if self._check(FULL_CHECK):
                self._continue()
        elif isinstance(op, Lock):
            self._acquire(t, loc, deps, _NO_ANSWER, now)
        elif isinstance(op, TryLock):
            self._acquire(t, loc, deps, 1, now)
            self._lock_read(t, EvKind.LF, loc, deps, 0, now)
        else:
            self._lock_read(t, EvKind.RL, loc, deps, 1, now)
            self._lock_read(t, EvKind.RU, loc, deps, 0, now)

    def _lock_read_sources(self, kind: EvKind, tid: int, loc: Loc) -> list[int]:
        """lock.cat's possible reads-from of an LF/RL or RU event of ``tid``."""
        g = self.g
        own = [g.events[x] for x in g.threads[tid]]
        same = [x for x in own if x.loc == loc and x.kind in (EvKind.LKW, EvKind.UL)]
        writes = self.writes.get(loc, [])
        if kind is EvKind.RU:
            internal = [x.eid for x in same if x.kind is EvKind.UL][-1:]
            external = [
                w for w in writes
                if g.events[w].kind in (EvKind.UL, EvKind.INIT) and g.events[w].tid != tid
            ]  # fmt: skip
            return internal + external
        if same and same[-1].kind is EvKind.LKW:
            return [same[-1].eid]
        return [w for w in writes if g.events[w].kind is EvKind.LKW and g.events[w].tid != tid]

    def _lock_read(
        self, t: _Thread, kind: EvKind, loc: Loc, deps: dict[str, int], answer: int, now: int
    ) -> None:
        """An LF, RL or RU event: it reads a lock write that exists, or one still to
        come (a later lock write revisits it; unbound at the end, it blocks)."""
        sources: list[int | None] = [*self._lock_read_sources(kind, t.tid, loc), None]
        for w in sources:
            mark = self._mark()
            e = self._add(t, kind, loc, maximal=w is None, **deps)
            if w is not None:
                self._set_rf(e, w)
            self._record_op(t, answer, [e], False, now)
            if self._check(FULL_CHECK):
                self._continue()
            self._undo_to(mark)

    def _match_unlock(self, ul: int) -> None:
        """lock.cat's ``critical``: the nearest earlier LKW|UL of the lock, if an LKW."""
        g = self.g
        e = g.events[ul]
        for x in reversed(g.threads[e.tid][: e.idx]):
            prev = g.events[x]
            if prev.loc == e.loc and prev.kind in (EvKind.LKW, EvKind.UL):
                if prev.kind is EvKind.LKW:
                    crit = g.crit
                    crit[x] = ul
                    self._push(lambda: crit.pop(x))
                return

    def _acquire(
        self,
        t: _Thread,
        loc: Loc,
        deps: dict[str, int],
        answer: Any,
        now: int,
        *,
        steal: bool = True,
        only_steal: bool = False,
    ) -> None:
        """spin_lock(): take the free lock after the last critical section, or take
        it where an earlier critical section did (that section's thread is then cut
        back to its lock and waits: a backward revisit)."""
        g = self.g
        lock_co = self._lock_co(loc)
        free = [w for w in lock_co if g.events[w].kind in (EvKind.INIT, EvKind.UL)]
        for w in reversed(free):
            victim = self._lock_taker(w)
            if victim < 0 and (only_steal or not self._lock_free(loc)):
                continue
            if victim >= 0 and not steal:
                continue
            mark = self._mark()
            lkr = self._add(t, EvKind.LKR, loc, maximal=victim < 0, tag="acquire", **deps)
            lkw = self._add(t, EvKind.LKW, loc, maximal=victim < 0, value=1, rmw=lkr, **deps)
            self._replace(_with_rmw(g.events[lkr], lkw).with_value(0))
            self._record_op(t, answer, [lkr, lkw], False, now)
            if victim < 0:
                self._co_insert(loc, len(g.co[loc]), lkw)
                self._revisits(lkw)  # failed trylocks and spin_is_locked() reading it
                if self._check(("co", lkw, -1)):
                    self._continue()
            else:
                self._steal(victim, lkr, lkw)
            self._undo_to(mark)

    def _lock_taker(self, w: int) -> int:
        """The LKR that reads free lock write ``w`` (its LKW follows ``w``), or -1."""
        g = self.g
        loc = g.events[w].loc
        assert loc is not None
        lco = self._lock_co(loc)
        i = lco.index(w)
        if i + 1 < len(lco) and g.events[lco[i + 1]].kind is EvKind.LKW:
            return g.events[lco[i + 1]].rmw
        return -1

    def _steal(self, victim: int, lkr: int, lkw: int) -> None:
        """``lkw`` takes the place in coherence of ``victim``'s LKW, whose thread is
        cut back to its lock."""
        g = self.g
        prefix = self._prefix(lkw)
        if victim in prefix:
            return
        keep = self._closed(set(range(victim)) | prefix)
        if victim in keep or not self._maximal_extension(victim, lkw, keep, steal=True):
            return
        loc = g.events[lkw].loc
        assert loc is not None
        co = g.co[loc]
        mark = self._mark()
        self._co_insert(loc, co.index(g.events[victim].rmw), lkw)
        self.jobs.append(self._make_job(keep, self._dep_prefix(lkw)))
        self._undo_to(mark)

    # -- revisits ------------------------------------------------------------------------------------
    def _prefix(self, w: int) -> set[int]:
        """The porf-prefix of ``w``: the events it is reachable from by po and rf."""
        g = self.g
        lock_rf = self._lock_rf()
        out: set[int] = set()
        stack = [w]
        events, threads, rf = g.events, g.threads, g.rf
        while stack:
            e = stack.pop()
            if e in out:
                continue
            out.add(e)
            ev = events[e]
            if ev.tid >= 0 and ev.idx > 0:
                stack.append(threads[ev.tid][ev.idx - 1])
            src = rf[e] if rf[e] >= 0 else lock_rf.get(e, -1)
            if src >= 0:
                stack.append(src)
        return out

    def _closed(self, keep: set[int]) -> set[int]:
        """``keep`` with the porf-prefix of each of its events (a read kept keeps
        its write, even one added after the cut)."""
        g = self.g
        lock_rf = self._lock_rf()
        out = set(keep)
        stack = list(keep)
        events, threads, rf = g.events, g.threads, g.rf
        while stack:
            e = stack.pop()
            ev = events[e]
            nxt = []
            if ev.tid >= 0 and ev.idx > 0:
                nxt.append(threads[ev.tid][ev.idx - 1])
            src = rf[e] if rf[e] >= 0 else lock_rf.get(e, -1)
            if src >= 0:
                nxt.append(src)
            for x in nxt:
                if x not in out:
                    out.add(x)
                    stack.append(x)
        return out

    def _value_cycle(self, r: int, w: int) -> str:
        """Whether ``w``'s value comes from ``r`` (through data and address
        dependencies, RMWs and reads-from): ``r`` reading ``w`` then closes a
        cycle of values.  herd7 solves such a cycle only by unification: a cycle
        of copies keeps its values undetermined (``S1``), which this procedure
        cannot produce (``"copies"``: the exploration is then not established);
        a cycle through an RMW's arithmetic (``old | bit``) it drops as
        unsolvable, and so does this one (``"computed"``).  ``""``: no cycle.
        A store's data dependency may be a computation too, but counts as a
        copy, which errs on the side of an incomplete run.
        """
        g = self.g
        lock_rf = self._lock_rf()
        events, rf = g.events, g.rf
        found = ""
        for copies_only in (True, False):
            seen: set[int] = set()
            stack = [w]
            while stack:
                e = stack.pop()
                if e == r:
                    return "copies" if copies_only else "computed"
                if e in seen:
                    continue
                seen.add(e)
                ev = events[e]
                src = rf[e] if rf[e] >= 0 else lock_rf.get(e, -1)
                if src >= 0:
                    stack.append(src)
                deps = ev.addr | ev.data
                if copies_only and ev.rmw >= 0 and ev.kind is EvKind.W:
                    deps &= ~(1 << ev.rmw)  # old <op> arg: computed, not copied
                stack.extend(bits(deps))
        return found

    def _dep_prefix(self, w: int) -> set[int]:
        """What ``w`` depends on: the events it is reachable from by rf, rmw and the
        address, data and control dependencies (HMC's prefix for models with load
        buffering).  A revisit leaves these alone from then on."""
        g = self.g
        lock_rf = self._lock_rf()
        out: set[int] = set()
        stack = [w]
        events, rf = g.events, g.rf
        while stack:
            e = stack.pop()
            if e in out:
                continue
            out.add(e)
            ev = events[e]
            src = rf[e] if rf[e] >= 0 else lock_rf.get(e, -1)
            if src >= 0:
                stack.append(src)
            if ev.rmw >= 0 and ev.kind is EvKind.W:
                stack.append(ev.rmw)
            stack.extend(bits(ev.addr | ev.data | ev.ctrl))
        return out

    def _revisable(self, r: int, w: int) -> bool:
        """Whether read ``r`` may read from new write ``w`` at all."""
        g = self.g
        re, we = g.events[r], g.events[w]
        if re.tid == we.tid or r == we.rmw or g.rf[r] == w:
            return False
        if re.kind is EvKind.R:
            return we.kind in (EvKind.W, EvKind.INIT)
        if re.kind is EvKind.RL:
            return we.kind is EvKind.LKW
        if re.kind is EvKind.LF:  # a failed trylock: it fails on w, or succeeds after w
            return we.kind is EvKind.LKW or (we.kind is EvKind.UL and self._lock_free_at(w))
        if re.kind is EvKind.RU:
            return we.kind is EvKind.UL
        return False  # an LKR: see _steal

    def _revisits(self, w: int) -> None:
        """Queue the backward revisits of earlier reads of ``w``'s location by ``w``."""
        loc = self.g.events[w].loc
        assert loc is not None
        candidates = [r for r in self.reads.get(loc, ()) if self._revisable(r, w)]
        if not candidates:
            return
        g = self.g
        prefix = self._prefix(w)
        for r in candidates:
            in_place = r in prefix
            if in_place:
                if g.events[r].kind is EvKind.LF and g.events[w].kind is EvKind.UL:
                    continue  # (a trylock that would succeed: not in place)
                why = self._independent_after(r, w, prefix)
                if why == "patch":
                    cycle = self._value_cycle(r, w)
                    if cycle == "computed":
                        continue  # unsolvable for herd7: no execution
                    if cycle == "copies":
                        why = "hole"
                if why == "hole":
                    self.lb_holes += 1  # (the result is then not established)
                if why not in ("ok", "patch"):
                    continue
                keep = self._closed(set(range(r)) | prefix)
            else:
                keep = self._closed(set(range(r)) | prefix) | {r}
                if any(e in keep for e in g.threads[g.events[r].tid][g.events[r].idx + 1 :]):
                    continue  # (a kept read needs what follows r: not this revisit)
            if not in_place and not self._maximal_extension(r, w, keep):
                continue
            self.jobs.append(
                self._make_job(keep, self._dep_prefix(w), read=r, write=w, in_place=in_place)
            )
            self.stats.infeasible += 0

    def _independent_after(self, r: int, w: int, prefix: set[int]) -> str:
        """Whether the events of ``r``'s thread kept past ``r`` (those in ``w``'s
        prefix) can stay as they are when ``r`` reads ``w`` and its thread is re-run:
        ``"ok"`` when none of them depends on ``r`` (address, data or control
        dependency, through local values, the thread's own writes, or a truth test
        on it; an RMW only when nobody read its write).

        Otherwise the answer says whether an execution is lost by not revisiting.
        ``"ordered"``: the last kept event (where the path to ``w`` leaves the
        thread) is a marked write that depends on ``r``, so ``r`` is before it in
        happens-before; a consistent execution with ``r`` reading ``w`` then needs
        a po step outside happens-before elsewhere on the cycle, and that step's
        read is revisited in its own right.  ``"hole"``: the path leaves through an
        event that does not depend on ``r`` (or a plain one) after one that does;
        this procedure cannot re-run a thread through such a gap.
        """
        g = self.g
        ev = g.events[r]
        t = self.threads[ev.tid]
        r_op = self.op_of[r][1]
        if ev.rmw >= 0 and any(x in prefix for x in g.readers.get(ev.rmw, ())):
            return "ordered"  # someone read its write: the RMW's halves are atomic
        dep_ops = 1 << r_op
        dep_eids = 1 << r
        later = [e for e in g.threads[ev.tid][ev.idx + 1 :] if e in prefix]
        if not later:
            return "ok"
        last_op = self.op_of[later[-1]][1]
        joins = not self.program.ctrl_persists  # (branches end: litmus ifs)
        dependent = False  # (a kept event may change when the thread is re-run)
        ordered = 1 << r  # events after r in LKMM's dependency sense (ppo's dep, ctrl)
        for i in range(r_op + 1, last_op + 1):
            rec = t.ops[i]
            if rec.tested & dep_ops:
                dependent = True  # a branch on r: what follows may move or go
            for e in rec.eids:
                if e == ev.rmw:
                    continue  # the RMW's own write: made again from the new value
                x = g.events[e]
                if joins and rec.tested & dep_ops and not x.ctrl >> r & 1:
                    # The branch on r has joined (a litmus if), yet what its arms
                    # computed may flow on in plain Python values: a value that
                    # justifies itself through control (herd7 solves for those).
                    return "hole"
                src = g.rf[e]
                if (x.addr | x.data | x.ctrl) & ordered or (src >= 0 and ordered >> src & 1):
                    ordered |= 1 << e
                    dependent = True
        if not dependent:
            return "ok"
        exit_ = g.events[later[-1]]
        marked_write = exit_.kind in (EvKind.W, EvKind.UL, EvKind.LKW) and exit_.tag != "plain"
        if marked_write and ordered >> exit_.eid & 1:
            return "ordered"
        if isinstance(t.ops[r_op].op, Rmw):
            return "hole"
        return "patch"

    def _maximal_extension(
        self, r: int, w: int, keep: set[int], steal: bool = False, in_place: bool = False
    ) -> bool:
        """TruSt's condition for ``w`` to revisit ``r``, keeping ``keep``."""
        g = self.g
        events = g.events
        wev = events[w]
        loc = wev.loc
        assert loc is not None
        if not steal and wev.rmw < 0 and wev.kind is EvKind.W:
            co = g.co[loc]
            i = co.index(w)
            if i + 1 < len(co) and co[i + 1] not in keep:
                return False
        lock_co: dict[Loc, list[int]] = {}
        lock_rf: dict[int, int] | None = None
        for e in range(len(events)):
            if e in keep and e != r:
                continue
            ev = events[e]
            if ev.kind is EvKind.INIT:
                continue
            if not self.revisitable[e] or not (self.maximal[e] or (in_place and e == r)):
                return False
            if ev.loc is None:
                continue
            if ev.kind in _WRITE_KINDS:
                base = e
            else:
                base = g.rf[e]
                if base < 0 and ev.kind is EvKind.LKR:
                    if lock_rf is None:
                        lock_rf = self._lock_rf()
                    base = lock_rf.get(e, -1)
            if base < 0:
                continue
            order = lock_co.get(ev.loc)
            if order is None:
                order = lock_co[ev.loc] = self._lock_co(ev.loc) if ev.loc in g.co else []
            if base not in order:
                continue
            for x in order[order.index(base) + 1 :]:
                if x != w and x in keep:
                    return False
        return True

    def _make_job(
        self, keep: set[int], prefix: set[int], read: int = -1, write: int = -1,
        in_place: bool = False,
    ) -> _Job:  # fmt: skip
        """The graph of ``keep`` (and every initial write), renumbered in stamp order,
        with ``read`` reading from ``write``."""
        g = self.g
        events = g.events
        used = {events[e].loc for e in keep if events[e].kind is not EvKind.INIT}
        keep_list = [
            e.eid for e in events
            if e.eid in keep or (e.kind is EvKind.INIT and e.loc in used)
        ]  # fmt: skip
        if read >= 0 and events[read].rmw in keep_list:
            keep_list.remove(events[read].rmw)  # the RMW's write is made again
        if read >= 0 and not in_place:
            keep_list.remove(read)
            keep_list.append(read)  # it now comes after the write it reads
        new_id = {e: i for i, e in enumerate(keep_list)}

        def remap(mask: int) -> int:
            out = 0
            for b in bits(mask):
                j = new_id.get(b)
                if j is not None:
                    out |= 1 << j
            return out

        new_events: list[Event] = []
        rf: list[int] = []
        for i, e in enumerate(keep_list):
            ev = events[e]
            rmw = new_id.get(ev.rmw, -1) if ev.rmw >= 0 else -1
            src = write if e == read else g.rf[e]
            value = events[write].value if e == read else ev.value
            new_events.append(Event(i, ev.tid, ev.idx, ev.kind, ev.loc, value, ev.tag, ev.atomic,
                                    rmw, remap(ev.addr), remap(ev.data), remap(ev.ctrl), ev.op,
                                    ev.src, ev.label))  # fmt: skip
            rf.append(new_id[src] if src >= 0 and src in new_id else -1)
        co = {loc: [new_id[w] for w in ws if w in new_id] for loc, ws in g.co.items()
              if loc in used}  # fmt: skip
        init = {loc: new_id[e] for loc, e in g.init.items() if loc in used}
        crit = {new_id[a]: new_id[b] for a, b in g.crit.items() if a in new_id and b in new_id}
        cut = read if read >= 0 else min((e for e in range(len(events)) if e not in keep),
                                         default=len(events))  # fmt: skip
        ops: list[list[_OpRec]] = []
        for t in self.threads:
            ops.append(self._kept_ops(t, new_id, cut))
        return _Job(
            new_events, rf, co, init, crit, ops,
            [self.maximal[e] for e in keep_list],
            [self.revisitable[e] and e not in prefix for e in keep_list],
            new_id.get(read, -1), new_id.get(write, -1), in_place,
        )  # fmt: skip

    def _kept_ops(self, t: _Thread, new_id: dict[int, int], cut: int) -> list[_OpRec]:
        """The operations of ``t`` the cut graph keeps: those whose events stay, and
        those without events done before the cut, up to the first one dropped."""
        out: list[_OpRec] = []
        last_kept = -1
        for i, rec in enumerate(t.ops):
            if rec.eids and rec.eids[0] in new_id:
                last_kept = i
        for i, rec in enumerate(t.ops):
            if rec.eids:
                if rec.eids[0] not in new_id:
                    break
                eids = [new_id[e] for e in rec.eids if e in new_id]
            elif i < last_kept or rec.time < cut:
                eids = []
            else:
                break
            out.append(_OpRec(rec.answer, eids, 0, rec.tested, rec.is_read, rec.sig, rec.op))
        return out

    # -- running a job ---------------------------------------------------------------------------------
    def _install(self, job: _Job) -> None:
        self._reset_state()
        g = self.g
        g.events = list(job.events)
        g.rf = list(job.rf)
        g.co = {loc: list(ws) for loc, ws in job.co.items()}
        g.init = dict(job.init)
        g.crit = dict(job.crit)
        for e in sorted(g.events, key=lambda e: (e.tid, e.idx)):  # po, not stamps
            if e.tid >= 0:
                order = g.threads[e.tid]
                if e.idx != len(order):  # (a dropped RMW write left a gap)
                    e = g.events[e.eid] = Event(e.eid, e.tid, len(order), e.kind, e.loc, e.value,
                                                e.tag, e.atomic, e.rmw, e.addr, e.data, e.ctrl,
                                                e.op, e.src, e.label)  # fmt: skip
                order.append(e.eid)
            if e.loc is not None and (e.kind in _WRITE_KINDS or e.kind in READ_KINDS):
                index = self.writes if e.kind in _WRITE_KINDS else self.reads
                index.setdefault(e.loc, []).append(e.eid)
        for r, w in enumerate(g.rf):
            if w >= 0:
                g.readers.setdefault(w, []).append(r)
        self.maximal = list(job.maximal)
        self.revisitable = list(job.revisitable)
        self.op_of = [(-1, -1)] * len(g.events)
        for t, ops in zip(self.threads, job.ops, strict=True):
            t.ops = [
                _OpRec(o.answer, list(o.eids), 0, o.tested, o.is_read, o.sig, o.op) for o in ops
            ]
            for i, o in enumerate(t.ops):
                for e in o.eids:
                    self.op_of[e] = (t.tid, i)

    def _run_job(self, job: _Job) -> None:
        self._install(job)
        self._trace = ("job", job.read, job.write, job.in_place)
        g = self.g
        r, w = job.read, job.write
        if r < 0:  # a steal: the victim's thread waits at its lock
            if self._check(FULL_CHECK) and self._hb_ok():
                self._visit()
            return
        t = self.threads[g.events[r].tid]
        opi = self.op_of[r][1]
        rec = t.ops[opi]
        if job.in_place:
            self._run_in_place(t, rec, r, w)
            return
        del t.ops[opi:]
        t.sync()
        op = t.pending
        if isinstance(op, TryLock) and g.events[w].kind is EvKind.UL:
            self._trylock_after(t, op, r, w)
            return
        if isinstance(op, Rmw):
            self._rmw_write(t, op, r, w, r, self._after_finish)
            return
        if isinstance(op, Load):
            self._record_op(t, g.events[w].value, [r], True, r)
        else:  # an LF, RL or RU: its answer does not change
            self._record_op(t, rec.answer, [r], False, r)
        if self._check(("rf", r, w) if g.events[r].kind is EvKind.R else FULL_CHECK):
            self._after_finish()

    def _trylock_after(self, t: _Thread, op: TryLock, lf: int, ul: int) -> None:
        """A failed trylock revisited by unlock ``ul``: it succeeds right after
        that critical section (its LF event, the last one added, goes)."""
        g = self.g
        assert lf == len(g.events) - 1 and g.threads[t.tid][-1] == lf
        loc = g.events[lf].loc
        assert loc is not None
        g.pop()
        self.maximal.pop()
        self.revisitable.pop()
        self.op_of.pop()
        self.reads[loc].remove(lf)
        if not self._lock_free(loc):
            return
        self._acquire(t, loc, self._deps(t, op.loc), 1, lf, steal=False)

    def _run_in_place(self, t: _Thread, rec: _OpRec, r: int, w: int) -> None:
        """Load buffering: ``r`` reads ``w`` and ``t`` re-runs through its later
        events.  An RMW's write (dropped when the job was made) comes back if the
        RMW now succeeds, right after its read in program order."""
        g = self.g
        value = g.events[w].value
        op = rec.op
        ok = isinstance(op, Rmw) and _rmw_succeeds(op, value)
        rec.answer = _rmw_answer(op, value, ok)[0] if isinstance(op, Rmw) else value
        patched: list[int] = []
        if ok:
            assert isinstance(op, Rmw)
            self._insert_rmw_write(t, rec, op, r, w)
        else:
            got = self._repatch(t, w)
            if got is None:
                self.lb_holes += 1  # the thread did something else: not established
                return
            patched = got
        try:
            for tt in self.threads:
                tt.sync()
        except ReplayMismatch:
            self.stats.infeasible += 1
            return
        if not self._check(("rf", r, w)):
            return
        for x in patched:  # a write with a new value may be read by earlier reads
            self._revisits(x)
        if ok:
            wr = rec.eids[1]
            self._revisits(wr)
            if not self._check(("co", wr, -1)):
                return
        # Earlier reads that must read ``w`` too could not be revisited by it while
        # ``r`` did not: they may be now.
        self._revisits(w)
        self._visit()

    def _repatch(self, t: _Thread, w: int) -> list[int] | None:
        """Re-run the threads a revisit changed: ``t``, whose read now has a new
        value, then every thread that reads a write whose value changed, until
        nothing changes (load buffering through events that depend on the read).

        Every re-run must do the same operations at the same places; a write takes
        its new value, a read of a changed write the new value, an RMW reading one
        its new values if it still succeeds (or still fails).  Returns the writes
        whose value changed, or None where that does not hold, or where the change
        reaches ``w`` itself (a value that would justify itself).
        """
        g = self.g
        changed: set[int] = set()
        todo = [t.tid]
        rounds = 0
        while todo:
            rounds += 1
            if rounds > 4 * len(self.threads) + 4:
                return None
            thread = self.threads[todo.pop()]
            got = self._rerun(thread, changed)
            if got is None or w in got:
                return None
            for e in got:
                for x in g.readers.get(e, ()):
                    tid = g.events[x].tid
                    if tid != thread.tid and tid not in todo:
                        todo.append(tid)
        return sorted(changed)

    def _rerun(self, t: _Thread, changed: set[int]) -> set[int] | None:
        """Re-run ``t`` on its events' current values (see :meth:`_repatch`)."""
        g = self.g
        t.tracker, t.gen, t.live = _Tracker(), t.factory(), 0
        new: set[int] = set()

        def renew(e: int, value: Any) -> None:
            if g.events[e].value != value:
                g.events[e] = g.events[e].with_value(value)
                changed.add(e)
                new.add(e)

        try:
            op = t.gen.send(None)
            for i, rec in enumerate(t.ops):
                if rec.sig and rec.sig != _signature(op):
                    return None
                if isinstance(op, Store):
                    renew(rec.eids[0], unwrap(op.value))
                elif isinstance(op, Load) and rec.eids and g.rf[rec.eids[0]] >= 0:
                    e = rec.eids[0]
                    value = g.events[g.rf[e]].value
                    g.events[e] = g.events[e].with_value(value)
                    rec.answer = value
                elif isinstance(op, Rmw) and rec.eids and g.rf[rec.eids[0]] >= 0:
                    e = rec.eids[0]
                    old = g.events[g.rf[e]].value
                    ok = _rmw_succeeds(op, old)
                    if ok != (len(rec.eids) == 2):
                        return None  # it succeeds where it failed, or the other way
                    g.events[e] = g.events[e].with_value(old)
                    rec.answer = _rmw_answer(op, old, ok)[0]
                    if ok:
                        renew(rec.eids[1], _rmw_new_value(op, old))
                elif isinstance(op, Assume) and not unwrap(op.cond):
                    return None
                t.steps += 1
                op = t.gen.send(t._send(i))
                t.live = i + 1
            t._set(op)
        except StopIteration as stop:
            t.live = len(t.ops)
            t.status, t.pending, t.retval = "done", None, stop.value
        except Oops as oops:
            t.live = -1
            t.status, t.pending, t.retval = "done", None, None
            t.oops = f"{type(oops).__name__}: {oops}"
        return new

    def _insert_rmw_write(self, t: _Thread, rec: _OpRec, op: Rmw, r: int, w: int) -> None:
        """Add the write of RMW ``op`` (read ``r``, from ``w``) as a new event placed
        right after ``r`` in program order and right after ``w`` in coherence."""
        g = self.g
        rev = g.events[r]
        loc = rev.loc
        assert loc is not None
        old = g.events[w].value
        data = 0 if op.kind in (RmwKind.XCHG, RmwKind.CMPXCHG) else 1 << r
        wr = len(g.events)
        g.events.append(Event(wr, t.tid, rev.idx + 1, EvKind.W, loc, _rmw_new_value(op, old),
                              op.tag.value, True, r, rev.addr, data, rev.ctrl, rev.op))  # fmt: skip
        g.rf.append(-1)
        self.maximal.append(False)
        self.revisitable.append(True)
        self.op_of.append((t.tid, self.op_of[r][1]))
        order = g.threads[t.tid]
        order.insert(rev.idx + 1, wr)
        for i in range(rev.idx + 2, len(order)):
            ev = g.events[order[i]]
            g.events[ev.eid] = Event(ev.eid, ev.tid, i, ev.kind, ev.loc, ev.value, ev.tag,
                                     ev.atomic, ev.rmw, ev.addr, ev.data, ev.ctrl, ev.op, ev.src,
                                     ev.label)  # fmt: skip
        g.events[r] = _with_rmw(rev, wr)
        rec.eids = [r, wr]
        self.writes.setdefault(loc, []).append(wr)
        co = g.co[loc]
        co.insert(co.index(w) + 1, wr)

    def _after_finish(self) -> None:
        # The graph is a part of a consistent one with ``r`` reading ``w``:
        # the model's incremental check of that one change covers it.
        self._visit()

    def _hb_ok(self) -> bool:
        """The ordering axioms on a graph a revisit made (they were only checked
        incrementally on the graphs it came from)."""
        check = getattr(self.model, "_check", None)
        if check is None:
            return self.model.check_partial(self.g, FULL_CHECK)
        ok = bool(check(self.g, partial=True).consistent)
        if not ok:
            self.stats.pruned += 1
        return ok

    # -- the end of an execution ----------------------------------------------------------------------
    def _end(self) -> None:
        g = self.g
        waiting = [t for t in self.threads if t.status == "run" and self._waits_for_lock(t)]
        for t in waiting:  # a deadlock, unless a waiting thread goes first
            op = t.pending
            assert isinstance(op, Lock)
            loc = self._loc(t, op.loc)
            mark = self._mark()
            self._acquire(t, loc, self._deps(t, op.loc), _NO_ANSWER, len(g.events),
                          only_steal=True)  # fmt: skip
            self._undo_to(mark)
        if any(t.status != "done" for t in self.threads):
            self.stats.blocked += 1
            return
        if any(g.rf[e.eid] < 0 for e in g.events if e.kind in (EvKind.R, EvKind.LF,
                                                               EvKind.RL, EvKind.RU)):
            self.stats.blocked += 1  # a lock read whose write never came
            return
        if _DEBUG:
            self._validate()
        key = self._key()
        if key in self.seen:
            self.duplicates += 1
            return
        graph = self._valued()
        verdict = self.model.check(graph)
        self.stats.explored += 1
        if not verdict.consistent:
            return
        self.seen.add(key)
        self.stats.consistent += 1
        final = self._final_state(graph)
        self._record(graph, final, verdict)
        cap = self.limits.max_executions
        if cap is not None and self.stats.consistent >= cap:
            self.outcome = Outcome.EXECUTIONS
            raise _Stop

    def _validate(self) -> None:
        """Debugging aid (PINLAB_REVISIT_DEBUG=1): the graph agrees with the threads."""
        g = self.g
        for e in g.events:
            if e.kind is EvKind.R:
                assert g.rf[e.eid] >= 0, e
                assert e.value == g.events[g.rf[e.eid]].value, (e, g.events[g.rf[e.eid]])
        for t in self.threads:
            for i, rec in enumerate(t.ops):
                if isinstance(rec.op, Rmw):
                    r = g.events[rec.eids[0]]
                    ok = _rmw_succeeds(rec.op, r.value)
                    assert ok == (len(rec.eids) == 2), (t.tid, i, rec, r, self._trace)
                    assert ok == (r.rmw >= 0), (t.tid, i, r)
                for j, e in enumerate(rec.eids):
                    assert g.events[e].tid == t.tid
            assert [e for rec in t.ops for e in rec.eids] == g.threads[t.tid], (
                t.tid, [rec.eids for rec in t.ops], g.threads[t.tid])

    def _key(self) -> Any:
        """The execution up to renaming of events: per thread, each event's kind,
        location, value and source (by thread and index), and coherence likewise."""
        g = self.g
        events = g.events

        def name(e: int) -> tuple[int, int] | str:
            ev = events[e]
            return (ev.tid, ev.idx) if ev.tid >= 0 else f"init:{ev.loc}"

        per_thread = tuple(
            tuple((events[e].kind, events[e].loc, repr(events[e].value),
                   name(g.rf[e]) if g.rf[e] >= 0 else None) for e in eids)  # fmt: skip
            for eids in g.threads
        )
        co = tuple(sorted((str(loc), tuple(name(w) for w in ws)) for loc, ws in g.co.items()))
        return (per_thread, co)

    def _valued(self) -> ExecutionGraph:
        g = self.g
        graph = g.with_values([e.value for e in g.events])
        for lkr, src in graph.lock_rf(graph.lock_co()).items():
            graph.events[lkr] = graph.events[lkr].with_value(graph.events[src].value)
        graph.complete = True
        return graph

    def _final_state(self, graph: ExecutionGraph) -> FinalState:
        memory: dict[Loc, Any] = dict(self.program.init)
        for loc, ws in graph.lock_co().items():
            memory[loc] = graph.events[ws[-1]].value
        regs: list[Mapping[str, Any]] = []
        for t in self.threads:
            ret = t.retval if isinstance(t.retval, Mapping) else {}
            regs.append({k: unwrap(v) for k, v in ret.items()})
        oopses = tuple((t.tid, t.oops) for t in self.threads if t.oops is not None)
        return FinalState(memory, regs, oopses)

    def _record(self, graph: ExecutionGraph, final: FinalState, verdict: Any) -> None:
        cond = self.program.condition
        if cond.filter is not None and not cond.filter(final):
            return
        key = tuple(final.get(v) for v in cond.observed)
        self.states[key] = self.states.get(key, 0) + 1
        hit = cond.satisfied_by(final)
        if hit:
            self.positive += 1
            if self.witness_graph is None:
                self.witness_graph = graph
        else:
            self.negative += 1
        self.flags |= verdict.flags
        if self.on_execution is not None:
            self.on_execution(Execution(graph, final, verdict, ()))
        if hit and self.limits.stop_at_witness:
            self.outcome = Outcome.WITNESS
            raise _Stop
        if self.limits.stop_at_first:
            if self.outcome is Outcome.COMPLETE:
                self.outcome = Outcome.FIRST
            raise _Stop


def explore_revisits(
    program: Program,
    model: Model | str = "sc",
    *,
    limits: Limits | None = None,
    on_execution: Callable[[Execution], None] | None = None,
) -> ExplorationResult:
    """Every consistent execution of ``program`` under ``model``, by revisits."""
    from pinlab.engine.models import get_model

    m = get_model(model) if isinstance(model, str) else model
    return RevisitExplorer(program, m, limits=limits, on_execution=on_execution).run()  # noqa
