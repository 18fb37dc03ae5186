"""The explorer's state: the graph under construction, choices and the trail."""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

from pinlab.engine.analysis import future_writes, value_domains
from pinlab.engine.building import GraphBuilding
from pinlab.engine.explore.result import (
    CountHook,
    Execution,
    Limits,
    Outcome,
    Progress,
    ReplayError,
    Subtree,
    _Stop,
    _Unsolvable,
)
from pinlab.engine.graph import Event, EvKind, ExecutionGraph
from pinlab.engine.models.base import FULL_CHECK, Change, Model
from pinlab.engine.ops import (
    IsLocked,
    Load,
    Rmw,
    RmwKind,
    Tag,
    TryLock,
)
from pinlab.engine.program import Loc, Program
from pinlab.engine.threads import Answer, Status, ThreadRun, Trail, call_stack
from pinlab.engine.values import Sym, Undetermined, evaluate, unwrap


def _apply(fn: Callable[..., Any], *args: Any) -> Any:
    if any(type(a) is Sym for a in args):
        return Sym.apply(fn, *args)
    return fn(*args)


_READS = (Load, Rmw, TryLock, IsLocked)


def _orders_later(op: Load | Rmw) -> bool:
    """Whether ``op``'s read is ordered before every later marked access of
    its thread: an acquire, or a fully ordered RMW (an RMW that may fail loses
    its ordering, so only those that always succeed count here; the others
    count from the branch where they succeed, see _rmw_finish)."""
    if isinstance(op, Load):
        return op.tag is Tag.ACQUIRE
    return op.tag in (Tag.ACQUIRE, Tag.MB) and op.kind not in (
        RmwKind.CMPXCHG,
        RmwKind.ADD_UNLESS,
    )


def _solved(v: Any, read_value: Callable[[int], Any]) -> Any:
    v = unwrap(v)
    return evaluate(v, read_value) if type(v) is Sym else v


class _State(GraphBuilding):
    """The explorer's state: the graph, the trail that undoes it, choices, values."""

    def __init__(
        self,
        program: Program,
        model: Model,
        *,
        limits: Limits | None = None,
        on_execution: Callable[[Execution], None] | None = None,
        replay: Iterable[int] | None = None,
        record_src: bool = False,
        analyse: bool = True,
        count: CountHook | None = None,
        subtree: Subtree | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.program = program
        self.progress = progress
        self.model = model
        self.count = count
        self.limits = limits or Limits()
        self.on_execution = on_execution
        self.replay = list(replay) if replay is not None else None
        self.subtree = subtree
        self.prefix: tuple[int, ...] = subtree.prefix if subtree is not None else ()
        # the choices open on the current path: (depth, [next option, end])
        self._open: list[tuple[int, list[int]]] = []
        self.record_src = record_src
        self.trail = Trail()
        nthreads = len(program.threads)
        self.g = ExecutionGraph(threads=[[] for _ in range(nthreads)])
        self.threads: list[ThreadRun] = [
            ThreadRun(i, f, self.trail) for i, f in enumerate(program.threads)
        ]
        plain: set[Loc] = set()
        # (without the dry run every thread may write anything: only slower)
        domains = value_domains(program.threads, program.init) if analyse else None
        self.futures = [
            future_writes(f, plain=plain, domains=domains, init=program.init) if analyse else []
            for f in program.threads
        ]
        # Locations some thread may write with a plain store (None: unknown).
        self.plain_written: set[Loc] | None = None if any(not f for f in self.futures) else plain
        self.writes: dict[Loc, list[int]] = {}
        self.awaiting: dict[int, Loc] = {}
        # LKR events waiting for an unlock of their lock: eid -> lock
        self.lock_waiting: dict[int, Loc] = {}
        # threads suspended at a waiting read: tid -> (read eid, how to go on)
        self.suspended: dict[int, tuple[int, Callable[[], None]]] = {}
        # suspended threads whose read may go on (bound, or speculated)
        self.ready: list[int] = []
        self.speculate = bool(getattr(model, "allows_porf_cycles", True))
        # reads after which every later marked access of the thread is
        # hb-ordered (bitmask of eids; see _committed_cycle)
        self.ordering_reads = 0
        self._acquire_orders = bool(getattr(model, "acquire_orders_later", False))
        self.constraints: list[tuple[Sym, bool]] = []
        self.path: list[int] = []
        self._init_tally()
        self.witness: tuple[int, ...] | None = None
        self.counterexample: tuple[int, ...] | None = None
        self._solving = False
        self._choices = 0

    def _choice(self, n: int, body: Callable[[int], None]) -> None:
        """Take each of ``n`` options in turn: ``body(i)`` applies it and searches on.

        Replaying, only the saved option; in a subtree, only the prefix's
        options down to its end, then every option, of which the ones not yet
        taken may be handed to another worker (:meth:`_give_away`)."""
        self._choices += 1
        if self._choices & 0xFF == 0:
            if self._deadline is not None:
                self._check_deadline()
            self._report()
        sub = self.subtree
        if sub is not None and self._choices & (sub.every - 1) == 0 and sub.wanted():
            self._give_away()
        depth = len(self.path)
        if n > 1 and (self.replay is not None or depth < len(self.prefix)):
            fixed = self.replay if self.replay is not None else self.prefix
            if depth >= len(fixed) or not 0 <= fixed[depth] < n:
                raise ReplayError(f"choice {depth} does not fit this program")
            self._take(fixed[depth], body)
            return
        if n == 1:
            mark = self.trail.mark()
            body(0)
            self.trail.undo_to(mark)
            return
        span = [0, n]  # the next option to take, and the end (lowered by _give_away)
        self._open.append((depth, span))
        try:
            while span[0] < span[1]:
                i = span[0]
                span[0] += 1
                self._take(i, body)
        finally:
            self._open.pop()

    def _take(self, i: int, body: Callable[[int], None]) -> None:
        mark = self.trail.mark()
        self.path.append(i)
        body(i)
        self.trail.undo_to(mark)
        self.path.pop()

    def _give_away(self) -> None:
        """Hand the options not yet taken of the shallowest open choice that has
        any to the subtree's ``give`` (another worker explores them) and drop
        them here: the two parts together are the rest of this subtree."""
        assert self.subtree is not None
        for depth, span in self._open:
            if span[0] < span[1]:
                head = tuple(self.path[:depth])
                parts = [(*head, j) for j in range(span[0], span[1])]
                span[1] = span[0]
                self.subtree.give(parts)
                return
        self.subtree.give([])  # nothing left to share

    def _branch(
        self, n: int, apply: Callable[[int], Change | None], cont: Callable[[], None]
    ) -> None:
        """Options that change the graph (``apply`` says how) are pruned by the model."""

        def body(i: int) -> None:
            change = apply(i)
            if change is None or (
                self.model.check_partial(self.g, change)
                and (change[0] != "rf" or self._known_constraints_hold())
            ):
                cont()
                return
            self.stats.pruned += 1

        self._choice(n, body)

    def _check_deadline(self) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.outcome = Outcome.TIME
            raise _Stop

    def _check_limits(self) -> None:
        self._check_deadline()
        cap = self.limits.max_executions
        if cap is not None and self.stats.consistent >= cap:
            self.outcome = Outcome.EXECUTIONS
            raise _Stop

    # -- trail-managed state changes ---------------------------------------------
    def _push(self, undo: Callable[[], object]) -> None:
        self.trail.push(undo)

    def _add(self, t: ThreadRun | None, kind: EvKind, loc: Loc | None, **kw: Any) -> int:
        g = self.g
        eid = len(g.events)
        tid = t.tid if t is not None else -1
        idx = len(g.threads[tid]) if t is not None else 0
        src = self._source(t) if (self.record_src and t is not None) else None
        g.add(Event(eid, tid, idx, kind, loc, src=src, op=len(t.answers) if t else 0, **kw))
        self._push(g.pop)
        if kind in (EvKind.INIT, EvKind.W, EvKind.LKW, EvKind.UL):
            assert loc is not None
            if t is not None:
                self._check_hint(tid, loc)
            ws = self.writes.setdefault(loc, [])
            ws.append(eid)
            self._push(ws.pop)
        return eid

    def _check_hint(self, tid: int, loc: Loc) -> None:
        """A thread writes ``loc``: its ``Program.may_write`` hint must list it."""
        hints = self.program.may_write
        hint = hints[tid] if tid < len(hints) else None
        if hint is not None and loc not in hint:
            raise ValueError(
                f"{self.program.name}: thread {self.program.thread_name(tid)} writes "
                f"{loc}, which its may_write hint does not list (executions would be lost)"
            )

    def _set_rf(self, r: int, w: int) -> Change:
        g = self.g
        g.rf[r] = w
        readers = g.readers.setdefault(w, [])
        readers.append(r)

        def undo() -> None:
            g.rf[r] = -1
            readers.pop()

        self._push(undo)
        return ("rf", r, w)

    def _set_lock_rf(self, r: int, w: int) -> Change:
        self._set_rf(r, w)
        return FULL_CHECK

    def _await(self, r: int, loc: Loc) -> None:
        self.awaiting[r] = loc
        self._push(lambda: self.awaiting.pop(r))

    def _unawait(self, r: int) -> None:
        loc = self.awaiting.pop(r)

        def undo() -> None:
            self.awaiting[r] = loc

        self._push(undo)

    def _constrain(self, sym: Sym, outcome: bool) -> None:
        self.constraints.append((sym, outcome))
        self._push(self.constraints.pop)

    def _set_complete(self) -> None:
        self.g.complete = True

        def undo() -> None:
            self.g.complete = False

        self._push(undo)

    # -- values -------------------------------------------------------------------
    def _write_value(self, w: int, visiting: set[int]) -> Any:
        v = self.g.events[w].value
        if type(v) is Sym:
            return evaluate(v, lambda r: self._read_value(r, visiting))
        return v

    def _read_value(self, r: int, visiting: set[int]) -> Any:
        w = self.g.rf[r]
        if w < 0:
            raise _Unsolvable
        if r in visiting:
            if self._solving:
                return Undetermined(r)  # a value cycle: herd7's S<n>
            raise _Unsolvable
        visiting.add(r)
        try:
            return self._write_value(w, visiting)
        finally:
            visiting.discard(r)

    def _current(self, r: int) -> Any:
        """The value read by ``r``: concrete when known, else a symbol."""
        try:
            return self._read_value(r, set())
        except _Unsolvable:
            return Sym.leaf(r)

    def _concrete(self, v: Any) -> tuple[bool, Any]:
        try:
            return True, evaluate(v, lambda r: self._read_value(r, set()))
        except _Unsolvable:
            return False, None

    # -- dependencies and sources ----------------------------------------------------
    def _op_eid(self, t: ThreadRun, op: int) -> int:
        return t.op_eids[op] if op < len(t.op_eids) else -1

    @staticmethod
    def _source(t: ThreadRun) -> tuple[tuple[str, int], ...] | None:
        return call_stack(getattr(t, "_gen", None))

    def _loc(self, t: ThreadRun, x: Any) -> Loc | None:
        v = unwrap(x)
        if type(v) is Sym:
            ok, v = self._concrete(v)
            if not ok:
                t.set_status(Status.BLOCKED)
                t.waiting_on = unwrap(x)
                return None
        if not isinstance(v, Loc):
            raise TypeError(f"thread {t.tid}: {v!r} is not a location")
        self._ensure_init(v)
        return v

    # -- hooks the explorer provides ------------------------------------------------------
    @abstractmethod
    def _search(self) -> None:
        """Go on from the current graph: schedule a thread, or finish the execution."""

    @abstractmethod
    def _after(self, t: ThreadRun, answer: Answer, op_eid: int) -> None:
        """Answer ``t``'s operation (its first event ``op_eid``) and search on."""

    @abstractmethod
    def _known_constraints_hold(self) -> bool:
        """Whether the branch constraints whose values are known still hold."""
