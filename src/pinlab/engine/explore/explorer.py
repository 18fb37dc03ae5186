"""The explorer's search: scheduling threads, dispatching operations, whole executions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pinlab.engine.explore.locks import _Locks
from pinlab.engine.explore.result import (
    Execution,
    ExplorationResult,
    Limits,
    Outcome,
    Progress,
    Subtree,
    _Unsolvable,
)
from pinlab.engine.explore.state import (
    _READS,
    _solved,
)
from pinlab.engine.graph import Event, EvKind, ExecutionGraph
from pinlab.engine.models.base import Change, Model, Verdict
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
    SrcuSync,
    Store,
    TryLock,
    Unlock,
)
from pinlab.engine.program import FinalState, Program
from pinlab.engine.relation import bits
from pinlab.engine.threads import Answer, Status, ThreadRun
from pinlab.engine.values import Sym, Undetermined, evaluate, unwrap


class Explorer(_Locks):
    """One exploration of ``program`` under ``model``."""

    # -- driver -------------------------------------------------------------------
    def run(self) -> ExplorationResult:
        self._run(self._search)
        return self._result("explore", witness=self.witness, counterexample=self.counterexample)

    # -- the search -------------------------------------------------------------------
    def _search(self) -> None:
        while True:
            if (self.awaiting or self.lock_waiting) and self._hopeless_wait():
                self.stats.blocked += 1
                return
            if self.awaiting and self._committed_cycle():
                self.stats.blocked += 1
                return
            if self.ready:
                self._go_on(self.ready[-1])
                return
            t = self._pick()
            if t is None:
                if any(th.status is Status.DEAD for th in self.threads):
                    self.stats.infeasible += 1
                    return
                if self._wake():
                    continue
                if self.suspended:
                    if not self.speculate or not self._speculate():
                        self.stats.blocked += 1
                        return
                    continue
                self._finish()
                return
            if t.status is Status.FORK:
                self._fork(t)
                return
            if len(t.answers) >= self.program.max_events_per_thread:
                self._cut(t.tid)
                return
            op = t.pending
            assert op is not None
            if not self._dispatch(t, op):
                return

    def _pick(self) -> ThreadRun | None:
        """The next thread to step: forks first, then non-reads, then the first read."""
        first_read: ThreadRun | None = None
        for t in self.threads:
            if t.status is Status.FORK:
                return t
            if t.status is Status.RUN and t.tid not in self.suspended:
                if not isinstance(t.pending, _READS):
                    return t
                if first_read is None:
                    first_read = t
        return first_read

    def _wake(self) -> bool:
        woke = False
        for t in self.threads:
            if t.status is Status.BLOCKED and t.waiting_on is not None:
                ok, _ = self._concrete(t.waiting_on)
                if ok:
                    t.rerun()
                    woke = True
        return woke

    def _after(self, t: ThreadRun, answer: Answer, op_eid: int) -> None:
        t.resume(answer, op_eid)
        self._search()

    def _fork(self, t: ThreadRun) -> None:
        def apply(i: int) -> Change | None:
            t.add_decision(i == 0)
            t.rerun()
            return None

        self._branch(2, apply, self._search)

    def _cut(self, tid: int = -1) -> None:
        self.stats.bounded += 1
        if tid >= 0:
            self.stats.cut_thread = tid
        if self.outcome is Outcome.COMPLETE:
            self.outcome = Outcome.BOUND

    def _dispatch(self, t: ThreadRun, op: Op) -> bool:
        """Perform ``op``.  True: go on with the loop; False: a branch took over."""
        if isinstance(op, Load):
            return self._op_read(t, op)
        if isinstance(op, Store):
            return self._op_store(t, op)
        if isinstance(op, Rmw):
            return self._op_read(t, op)
        if isinstance(op, Fence):
            self._add(
                t, EvKind.F, None, tag=op.tag.value, ctrl=self._eids(t, t.ctrl), label=op.label
            )
            t.resume(Answer(), -1)
            return True
        if isinstance(op, Lock | TryLock | IsLocked | Unlock):
            return self._op_lock(t, op)
        if isinstance(op, SrcuSync):
            loc = self._loc(t, op.loc)
            if loc is not None:
                self._add(t, EvKind.SRCU, loc, tag="sync-srcu", **self._deps(t, op.loc))
                t.resume(Answer(), -1)
            return True
        if isinstance(op, Assume):
            cond = unwrap(op.cond)
            if type(cond) is Sym:
                self._constrain(cond, True)
            elif not cond:
                self.stats.blocked += 1
                return False
            t.resume(Answer(), -1)
            return True
        if isinstance(op, Choose):

            def choose(i: int) -> Change | None:
                t.resume(Answer(const=i), -1)
                return None

            self._branch(op.n, choose, self._search)
            return False
        if isinstance(op, Cutoff):
            self._cut()
            return False
        raise TypeError(f"thread {t.tid} yielded {op!r}, which is not an operation")

    # -- the end of an execution ------------------------------------------------------
    def _finish(self) -> None:
        if (
            self.awaiting
            or self.lock_waiting
            or any(t.status is Status.BLOCKED for t in self.threads)
        ):
            self.stats.blocked += 1
            return
        pending = [
            e.eid
            for e in self.g.events
            if e.kind in (EvKind.LF, EvKind.RL, EvKind.RU) and self.g.rf[e.eid] < 0
        ]
        self._lock_reads(pending, 0)

    def _lock_read_options(self, e: Event) -> list[int]:
        """lock.cat's possible reads-from of an LF/RL or RU event."""
        g = self.g
        own = [g.events[x] for x in g.threads[e.tid][: e.idx]]
        same = [x for x in own if x.loc == e.loc and x.kind in (EvKind.LKW, EvKind.UL)]
        if e.kind is EvKind.RU:
            internal = [x.eid for x in same if x.kind is EvKind.UL][-1:]
            external = [
                w
                for w in self.writes.get(e.loc, [])  # type: ignore[arg-type]
                if g.events[w].kind in (EvKind.UL, EvKind.INIT) and g.events[w].tid != e.tid
            ]
            return internal + external
        if same and same[-1].kind is EvKind.LKW:  # inside its own critical section
            return [same[-1].eid]
        return [
            w
            for w in self.writes.get(e.loc, [])  # type: ignore[arg-type]
            if g.events[w].kind is EvKind.LKW and g.events[w].tid != e.tid
        ]

    def _lock_reads(self, pending: list[int], j: int) -> None:
        if j == len(pending):
            self._complete()
            return
        e = self.g.events[pending[j]]
        options = self._lock_read_options(e)
        self._branch(
            len(options),
            lambda i: self._set_lock_rf(e.eid, options[i]),
            lambda: self._lock_reads(pending, j + 1),
        )

    def _solve(self) -> list[Any]:
        values: list[Any] = []
        lock_rf = self.g.lock_rf(self.g.lock_co())
        for e in self.g.events:
            if e.kind in (EvKind.W, EvKind.INIT, EvKind.LKW, EvKind.UL):
                values.append(self._write_value(e.eid, set()))
            elif e.kind is EvKind.LKR:
                src = lock_rf.get(e.eid, -1)
                values.append(self._write_value(src, set()) if src >= 0 else None)
            elif e.kind in (EvKind.R, EvKind.LF, EvKind.RL, EvKind.RU):
                values.append(self._read_value(e.eid, set()))
            else:
                values.append(None)
        return values

    def _known_constraints_hold(self) -> bool:
        """The branch outcomes taken on trust whose values are now known still hold."""
        pending = list(self.constraints)
        for t in self.threads:
            pending.extend(t.constraints.values())
        for sym, outcome in pending:
            try:
                value = evaluate(sym, lambda r: self._read_value(r, set()))
            except _Unsolvable:
                continue
            if bool(value) != outcome:
                return False
        return True

    def _constraints_hold(self, read_value: Callable[[int], Any]) -> bool:
        """Whether each branch taken on trust went the way the values say.

        A branch on an undetermined value is accepted either way, as herd7
        accepts a candidate whose remaining equations are only predicates.
        """
        pending = list(self.constraints)
        for t in self.threads:
            pending.extend(t.constraints.values())
        for sym, outcome in pending:
            if any(isinstance(read_value(r), Undetermined) for r in bits(sym.reads)):
                continue
            if bool(evaluate(sym, read_value)) != outcome:
                return False
        return True

    def _complete(self) -> None:
        self._set_complete()
        self._solving = True
        try:
            values = self._solve()
        except _Unsolvable:
            self.stats.unsolvable += 1
            return
        finally:
            self._solving = False

        def read_value(r: int) -> Any:
            return values[r]

        if any(type(v) is Undetermined and v.derived for v in values):
            self.stats.unsolvable += 1  # an equation herd7 cannot solve (see Undetermined)
            return
        if not self._constraints_hold(read_value):
            self.stats.infeasible += 1
            return
        graph = self.g.with_values(values)
        final = self._final_state(graph, lambda v: _solved(v, read_value))
        if any(type(v) is Undetermined and v.derived for regs in final.regs for v in regs.values()):
            self.stats.unsolvable += 1  # a register computed from an undetermined value
            return
        verdict = self.model.check(graph)
        self.stats.explored += 1
        if not verdict.consistent:
            return
        if self.count is None:
            self.stats.consistent += 1
            self._record(graph, final, verdict)
        else:
            for state, n in self.count(graph, final, verdict, self._check_deadline):
                self.stats.consistent += n
                self.stats.factored += n
                self._tally(state, verdict, n)
        self._check_limits()

    def _tally(self, final: FinalState, verdict: Verdict, n: int) -> None:
        """Count ``n`` executions ending in ``final`` (from the count hook)."""
        if n:
            self.flags |= verdict.flags
        self._count(final, n)

    def _remember(self, hit: bool, graph: ExecutionGraph) -> None:
        if hit and self.witness is None:
            self.witness = tuple(self.path)
        elif not hit and self.counterexample is None:
            self.counterexample = tuple(self.path)

    def _choices_made(self) -> tuple[int, ...]:
        return tuple(self.path)


def explore(
    program: Program,
    model: Model | str = "sc",
    *,
    limits: Limits | None = None,
    on_execution: Callable[[Execution], None] | None = None,
    replay: Iterable[int] | None = None,
    record_src: bool = False,
    analyse: bool = True,
    subtree: Subtree | None = None,
    progress: Progress | None = None,
) -> ExplorationResult:
    """Explore every consistent execution of ``program`` under ``model``.

    ``replay`` follows a saved choice list instead of branching (one
    execution, or none when the list ends in an inconsistent one);
    ``subtree`` explores one part of the whole (:class:`Subtree`);
    ``progress`` is told now and then, and at the end, the consistent
    executions met so far.
    """
    from pinlab.engine.models import get_model  # the registry imports every model

    m = get_model(model) if isinstance(model, str) else model
    explorer = Explorer(
        program, m, limits=limits, on_execution=on_execution, replay=replay,
        record_src=record_src, analyse=analyse, subtree=subtree, progress=progress,
    )  # fmt: skip
    return explorer.run()
