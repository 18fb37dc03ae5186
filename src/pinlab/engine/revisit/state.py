"""The graph under construction, how events are added to it, and undo."""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from pinlab.engine.building import GraphBuilding
from pinlab.engine.explore import Execution, Limits, Outcome, Progress, Share
from pinlab.engine.explore.result import _Stop
from pinlab.engine.graph import READ_KINDS, Event, EvKind, ExecutionGraph
from pinlab.engine.models.base import FULL_CHECK, Change, Model
from pinlab.engine.ops import (
    Lock,
    Rmw,
)
from pinlab.engine.program import Loc, Program
from pinlab.engine.revisit.threads import (
    _WRITE_KINDS,
    _Job,
    _OpRec,
    _signature,
    _Thread,
)
from pinlab.engine.threads import call_stack
from pinlab.engine.values import unwrap


class GraphState(GraphBuilding):
    """The graph a revisit exploration builds, with undo; the explorer's base."""

    def __init__(
        self,
        program: Program,
        model: Model,
        *,
        limits: Limits | None = None,
        on_execution: Callable[[Execution], None] | None = None,
        record_src: bool = False,
        share: Share | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.program = program
        self.share = share
        self.progress = progress
        # with a share: each execution counted -> (its state's key, None when the
        # condition's filter leaves it out, and whether it satisfies the
        # condition), for the merge of the parts
        self.tallies: dict[Any, tuple[tuple[Any, ...] | None, bool]] = {}
        self.model = model
        self.record_src = record_src
        self.limits = limits or Limits()
        self.on_execution = on_execution
        self._init_tally()
        self.seen: set[Any] = set()
        self.duplicates = 0
        self.lb_holes = 0
        self.jobs: list[_Job] = []
        self.witness_graph: ExecutionGraph | None = None
        self._steps = 0
        self._trace: Any = None
        self._reset_state()

    # -- state --------------------------------------------------------------------
    def _reset_state(self) -> None:
        n = len(self.program.threads)
        self.g = ExecutionGraph(threads=[[] for _ in range(n)])
        self.threads: list[_Thread] = [_Thread(i, f) for i, f in enumerate(self.program.threads)]
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

    def _tick(self) -> None:
        self._steps += 1
        if self._steps & 0xF == 0:
            self._report()
        share = self.share
        if share is not None and self._steps & (share.every - 1) == 0 and share.wanted():
            k = (len(self.jobs) + 1) // 2  # the oldest half: made nearest the root
            share.give(self.jobs[:k])
            del self.jobs[:k]
        if (
            self._deadline is not None
            and self._steps & 0x3F == 0
            and time.monotonic() > self._deadline
        ):
            self.outcome = Outcome.TIME
            raise _Stop

    # -- adding events ----------------------------------------------------------------
    def _add(
        self, t: _Thread | None, kind: EvKind, loc: Loc | None, *, maximal: bool = True, **kw: Any
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
    def _op_eid(self, t: _Thread, op: int) -> int:
        ops = t.ops
        return ops[op].eids[0] if op < len(ops) and ops[op].eids else -1

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

    def _continue(self) -> None:
        self._visit()

    def _cut(self, tid: int = -1) -> None:
        self.stats.bounded += 1
        if tid >= 0:
            self.stats.cut_thread = tid
        if self.outcome is Outcome.COMPLETE:
            self.outcome = Outcome.BOUND

    def _check(self, change: Change) -> bool:
        if self.model.check_partial(self.g, change):
            return True
        self.stats.pruned += 1
        return False

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

    # -- hooks the explorer provides ------------------------------------------------------
    @abstractmethod
    def _visit(self) -> None:
        """Go on from the current graph: add the next event, or end the execution."""

    @abstractmethod
    def _rmw_write(
        self, t: _Thread, op: Rmw, r: int, w: int, now: int, cont: Callable[[], None]
    ) -> None:
        """The write half of RMW ``op``, whose read ``r`` reads from ``w``."""

    @abstractmethod
    def _make_job(
        self, keep: set[int], prefix: set[int], read: int = -1, write: int = -1,
        in_place: bool = False,
    ) -> _Job:  # fmt: skip
        """A graph to explore later: ``keep``'s events, ``read`` reading ``write``."""

    @abstractmethod
    def _acquire(
        self,
        t: _Thread,
        loc: Loc,
        deps: dict[str, Any],
        answer: Any,
        now: int,
        *,
        steal: bool = True,
        only_steal: bool = False,
    ) -> None:
        """Take lock ``loc`` for ``t`` (and, with ``steal``, every steal of it)."""
