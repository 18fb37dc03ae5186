"""The revisit explorer: scheduling threads, reads and writes, and complete executions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pinlab.engine.explore import ExplorationResult, Outcome
from pinlab.engine.explore.result import _Stop
from pinlab.engine.graph import EvKind, ExecutionGraph
from pinlab.engine.models.base import FULL_CHECK
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
)
from pinlab.engine.program import Loc
from pinlab.engine.revisit.locks import Locks
from pinlab.engine.revisit.threads import (
    _DEBUG,
    _NO_ANSWER,
    _rmw_answer,
    _rmw_new_value,
    _rmw_succeeds,
    _Thread,
    _with_rmw,
)
from pinlab.engine.values import deps_of, unwrap


class RevisitExplorer(Locks):
    """One exploration of ``program`` under ``model`` by revisits."""

    # -- driver -------------------------------------------------------------------
    def run(self) -> ExplorationResult:
        def search() -> None:
            if self.share is None or self.share.job is None:
                self._visit()
            else:
                self._run_job(self.share.job)
            while self.jobs:
                self._run_job(self.jobs.pop())

        self._run(search)
        if self.lb_holes and self.outcome in (Outcome.COMPLETE, Outcome.BOUND):
            self.outcome = Outcome.INCOMPLETE
        return self._result("revisit")

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
            self._cut(t.tid)
            return
        op = t.pending
        assert op is not None
        mark = self._mark()
        try:
            self._dispatch(t, op)
        finally:
            self._undo_to(mark)

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
    def _positions(self, w: int, loc: Loc) -> list[int]:
        """Where new plain write ``w`` may go in coherence, the last place first: never
        between an RMW's halves, nor before the initial write or anything its own
        thread wrote or read there (:meth:`ExecutionGraph.co_floor`)."""
        g = self.g
        co = g.co[loc]
        events, rf = g.events, g.rf
        out = []
        for k in range(len(co), g.co_floor(w) - 1, -1):
            if k < len(co):
                nxt = events[co[k]]
                if nxt.rmw >= 0 and nxt.kind is EvKind.W and rf[nxt.rmw] == co[k - 1]:
                    continue
            out.append(k)
        return out

    def _place(self, w: int, loc: Loc, cont: Callable[[], None]) -> None:
        end = len(self.g.co[loc])
        for pos in self._positions(w, loc):
            mark = self._mark()
            self._co_insert(loc, pos, w)
            self._set_maximal(w, pos == end)
            self._revisits(w)
            if self._check(("co", w, -1) if end > 1 else FULL_CHECK):
                cont()
            self._undo_to(mark)

    # -- the end of an execution ---------------------------------------------------
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
        if any(
            g.rf[e.eid] < 0
            for e in g.events
            if e.kind in (EvKind.R, EvKind.LF, EvKind.RL, EvKind.RU)
        ):
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
        final = self._final_state(graph, unwrap)
        if self.share is not None:
            cond = self.program.condition
            if cond.filter is None or cond.filter(final):
                state = tuple(final.get(v) for v in cond.observed)
                self.tallies[key] = (state, cond.satisfied_by(final))
            else:
                self.tallies[key] = (None, False)  # (counted, in no state)
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
                for x in rec.eids:
                    assert g.events[x].tid == t.tid
            assert [e for rec in t.ops for e in rec.eids] == g.threads[t.tid], (
                t.tid,
                [rec.eids for rec in t.ops],
                g.threads[t.tid],
            )

    def _key(self) -> Any:
        """The execution up to renaming of events (as merged parts count it once)."""
        return self.g.key()

    def _valued(self) -> ExecutionGraph:
        g = self.g
        graph = g.with_values([e.value for e in g.events])
        for lkr, src in graph.lock_rf(graph.lock_co()).items():
            graph.events[lkr] = graph.events[lkr].with_value(graph.events[src].value)
        graph.complete = True
        return graph

    def _remember(self, hit: bool, graph: ExecutionGraph) -> None:
        if hit and self.witness_graph is None:
            self.witness_graph = graph

    def _choices_made(self) -> tuple[int, ...]:
        return ()  # (no choice list: a witness is found again by the waiting explorer)
