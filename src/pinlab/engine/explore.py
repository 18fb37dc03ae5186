"""The explorer: every consistent execution of a program under a memory model.

Executions are graphs (:mod:`pinlab.engine.graph`), built event by event.
The search is a depth-first walk over *choices*; its whole state is the list
of choices taken so far, so any execution can be replayed from its choice
list (``explore(..., replay=choices)``).  The choices are:

- **reads-from**: a read reads from one of the writes to its location that
  exist when it is added, or it *waits* for a write that does not exist yet
  (when another unfinished thread may still write that location).  A waiting
  read answers its thread with a symbolic value (:class:`~pinlab.engine.values.Sym`)
  and the thread runs on, as herd7 runs a thread's code before it knows what
  its loads read; a branch on such a value forks on both outcomes and the
  outcome becomes a constraint checked once values are known;
- **binding**: when a write is added, each waiting read of its location in
  another thread either reads from it or keeps waiting;
- **coherence**: where a new write goes in its location's coherence order;
- **locks**: whether a ``spin_trylock()`` succeeds, whether
  ``spin_is_locked()`` says locked, and what lock-fail / read-unlocked events
  read from (chosen last, as lock.cat's ``with ... from`` does);
- ``Choose`` operations and symbolic branches.

Each complete, solvable candidate is generated exactly once: at a read, its
eventual write either exists already (one option) or does not (the waiting
option, then exactly one binding); coherence orders are built by insertion,
each total order once.  A candidate whose values depend on themselves (a
cycle through reads-from and data flow) has no solution and is dropped, as
herd7 drops it.

After every choice the model's ``check_partial`` prunes graphs that cannot be
completed consistently; each complete candidate is decided by ``check``.
Statistics count complete candidates checked (``explored``), the consistent
ones, dead ends (``blocked``: a read that waited for a write that never came,
a failed ``Assume``, a thread stuck on a value), candidates cut by a loop
bound (``bounded``), unsolvable and infeasible candidates, and pruned
partial graphs.
"""

from __future__ import annotations

import enum
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pinlab.engine.analysis import future_writes, may_write_from, value_domains
from pinlab.engine.graph import Event, EvKind, ExecutionGraph
from pinlab.engine.models.base import FULL_CHECK, Change, Model, Verdict
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
    Tag,
    TryLock,
    Unlock,
    apply_arith,
)
from pinlab.engine.program import FinalState, Loc, Program
from pinlab.engine.relation import bits
from pinlab.engine.threads import Answer, Status, ThreadRun, Trail, call_stack
from pinlab.engine.values import Sym, Undetermined, Val, deps_of, evaluate, unwrap

__all__ = [
    "Execution",
    "ExplorationResult",
    "Limits",
    "Outcome",
    "ReplayError",
    "Stats",
    "explore",
]


@dataclass(frozen=True, slots=True)
class Limits:
    max_executions: int | None = None  # consistent executions
    time_limit: float | None = None  # seconds
    stop_at_witness: bool = False  # stop at the first execution satisfying the condition
    stop_at_first: bool = False  # stop at the first execution counted (that the filter keeps)


class Outcome(enum.StrEnum):
    COMPLETE = "complete"
    BOUND = "bound-reached"  # some execution was cut by a loop bound
    TIME = "time-limit"
    EXECUTIONS = "execution-limit"
    WITNESS = "witness"  # stopped at the first witness (Limits.stop_at_witness)
    FIRST = "first"  # stopped at the first execution counted (Limits.stop_at_first)
    # The procedure ran to its end but cannot vouch that it saw every execution
    # (the revisit explorer on load buffering through a dependent event).
    INCOMPLETE = "incomplete"


@dataclass(slots=True)
class Stats:
    explored: int = 0  # complete candidates decided by the model
    consistent: int = 0
    blocked: int = 0
    bounded: int = 0
    unsolvable: int = 0
    infeasible: int = 0
    pruned: int = 0
    seconds: float = 0.0
    factored: int = 0  # consistent executions counted in product form (engine.factor)

    @property
    def ratio(self) -> float:
        """explored / consistent: 1.0 is optimal."""
        return self.explored / self.consistent if self.consistent else float("inf")


@dataclass(frozen=True, slots=True)
class Execution:
    graph: ExecutionGraph
    final: FinalState
    verdict: Verdict
    choices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ExplorationResult:
    program: str
    model: str
    states: dict[tuple[Any, ...], int]
    positive: int
    negative: int
    flags: frozenset[str]
    outcome: Outcome
    stats: Stats
    witness: tuple[int, ...] | None = None  # choices of a first execution satisfying the predicate
    counterexample: tuple[int, ...] | None = None  # ... and of one that does not
    procedure: str = "explore"  # the decision procedure that gave it (engine.decide)

    @property
    def observation(self) -> str:
        if self.positive == 0:
            return "Never"
        if self.negative == 0:
            return "Always"
        return "Sometimes"


class ReplayError(RuntimeError):
    """A saved choice list does not fit the program (it changed since it was saved)."""


class _Stop(Exception):
    pass


class _Unsolvable(Exception):
    pass


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


class Explorer:
    """One exploration of ``program`` under ``model``."""

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
    ) -> None:
        self.program = program
        self.model = model
        self.limits = limits or Limits()
        self.on_execution = on_execution
        self.replay = list(replay) if replay is not None else None
        self.record_src = record_src
        self.trail = Trail()
        nthreads = len(program.threads)
        self.g = ExecutionGraph(threads=[[] for _ in range(nthreads)])
        self.threads = [ThreadRun(i, f, self.trail) for i, f in enumerate(program.threads)]
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
        self.stats = Stats()
        self.states: dict[tuple[Any, ...], int] = {}
        self.positive = 0
        self.negative = 0
        self.flags: set[str] = set()
        self.witness: tuple[int, ...] | None = None
        self.counterexample: tuple[int, ...] | None = None
        self.outcome = Outcome.COMPLETE
        self._solving = False
        self._choices = 0
        self._deadline = (
            time.monotonic() + self.limits.time_limit if self.limits.time_limit else None
        )

    # -- driver -------------------------------------------------------------------
    def run(self) -> ExplorationResult:
        start = time.perf_counter()
        old_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old_limit, 100_000))
        try:
            for t in self.threads:
                t.start()
            self._search()
        except _Stop:
            pass
        finally:
            sys.setrecursionlimit(old_limit)
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
            witness=self.witness,
            counterexample=self.counterexample,
        )

    def _choice(self, n: int, body: Callable[[int], None]) -> None:
        """Take each of ``n`` options in turn: ``body(i)`` applies it and searches on."""
        self._choices += 1
        if self._deadline is not None and self._choices & 0xFF == 0:
            self._check_deadline()
        if self.replay is not None and n > 1:
            depth = len(self.path)
            if depth >= len(self.replay) or not 0 <= self.replay[depth] < n:
                raise ReplayError(f"choice {depth} does not fit this program")
            options: Iterable[int] = (self.replay[depth],)
        else:
            options = range(n)
        for i in options:
            mark = self.trail.mark()
            if n > 1:
                self.path.append(i)
            body(i)
            self.trail.undo_to(mark)
            if n > 1:
                self.path.pop()

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

    def _replace(self, ev: Event) -> None:
        old = self.g.events[ev.eid]
        self.g.replace_event(ev)
        self._push(lambda: self.g.replace_event(old))

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

    def _co_insert(self, loc: Loc, pos: int, w: int) -> None:
        co = self.g.co[loc]
        co.insert(pos, w)
        self._push(lambda: co.pop(pos))

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
    @staticmethod
    def _eids(t: ThreadRun, mask: int) -> int:
        out = 0
        op_eids = t.op_eids
        for i in bits(mask):
            if i < len(op_eids) and op_eids[i] >= 0:
                out |= 1 << op_eids[i]
        return out

    def _deps(self, t: ThreadRun, loc: Any, data: Any = None) -> dict[str, int]:
        return {
            "addr": self._eids(t, deps_of(loc)),
            "data": self._eids(t, deps_of(data)),
            "ctrl": self._eids(t, t.ctrl),
        }

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
                self._cut()
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

    def _cut(self) -> None:
        self.stats.bounded += 1
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

    # -- reads and writes -----------------------------------------------------------
    def _writer_may_come(self, loc: Loc, tid: int) -> bool:
        """Whether a thread other than ``tid`` may still write ``loc`` (as far as
        ``Program.may_write`` and the dry run of its code can tell)."""
        may_write = self.program.may_write
        for t in self.threads:
            if t.tid == tid or t.status is Status.DONE or t.status is Status.DEAD:
                continue
            hint = may_write[t.tid] if t.tid < len(may_write) else None
            if hint is not None and loc not in hint:
                continue
            if may_write_from(self.futures[t.tid], len(t.answers), loc):
                return True
        return False

    def _committed_cycle(self) -> bool:
        """Whether every read still waiting can only be bound by closing a
        happens-before cycle (so the exploration below is hopeless).

        A waiting read can only get a write that another thread makes from now
        on.  Call a waiting read *committing* when every later write of its
        thread is ppo-after it: it is an acquire (or a fully ordered RMW that
        cannot fail; ``Model.acquire_orders_later``), or, with
        ``Program.ctrl_persists``, the thread has run on past a branch on it
        (every later write is then control-dependent on it).  If every live
        thread has a committing read, each write still to come is ppo-after a
        waiting read which itself waits for a write still to come, so the chain
        "read <-rfe- write ppo-after a waiting read <-rfe- ..." can only close
        into a cycle of ppo and rfe edges, which LKMM's happens-before axiom
        forbids.  It needs every access in such a chain to be marked: the
        waiting reads are checked, and no thread may write their locations
        with a plain store.
        """
        plain = self.plain_written
        if plain is None:
            return False
        g = self.g
        ctrl_persists = self.program.ctrl_persists
        ordering = self.ordering_reads
        committing: dict[int, list[int]] = {}
        for r, loc in self.awaiting.items():
            ev = g.events[r]
            sus = self.suspended.get(ev.tid)
            if sus is not None and sus[0] == r and not ordering >> r & 1:
                continue  # still suspended, and nothing of its thread depends on it yet
            if ev.tag == "plain" or loc in plain:
                return False
            committing.setdefault(ev.tid, []).append(r)
        if not committing:
            return False
        for t in self.threads:
            if t.status is Status.DONE or t.status is Status.DEAD:
                continue
            reads = committing.get(t.tid)
            if not reads:
                return False
            fork = t.fork_on if t.status is Status.FORK and ctrl_persists else None
            if not any(
                ordering >> r & 1
                or (ctrl_persists and t.ctrl >> g.events[r].op & 1)
                or (fork is not None and fork.reads >> r & 1)
                for r in reads
            ):
                return False
        return True

    def _hopeless_wait(self) -> bool:
        """Whether some waiting read can no longer get a write."""
        for r, loc in self.awaiting.items():
            if not self._writer_may_come(loc, self.g.events[r].tid):
                return True
        for r, loc in self.lock_waiting.items():
            if not self._writer_may_come(loc, self.g.events[r].tid):
                return True
        return False

    def _op_read(self, t: ThreadRun, op: Load | Rmw) -> bool:
        loc = self._loc(t, op.loc)
        if loc is None:
            return True
        is_rmw = isinstance(op, Rmw)
        r = self._add(t, EvKind.R, loc, tag=op.tag.value, atomic=is_rmw, **self._deps(t, op.loc))
        if self._acquire_orders and _orders_later(op):
            self._mark_ordering(r)
        known = list(self.writes[loc])
        may_wait = self._writer_may_come(loc, t.tid)
        opi = len(t.answers)

        if is_rmw:
            assert isinstance(op, Rmw)
            go_on: Callable[[], None] = lambda: self._rmw(t, op, r, loc)  # noqa: E731
        else:
            answer = Answer(compute=lambda: self._current(r), deps=1 << opi)
            go_on = lambda: self._after(t, answer, r)  # noqa: E731

        def body(i: int) -> None:
            if i < len(known):
                change = self._set_rf(r, known[i])
                if self.model.check_partial(self.g, change):
                    go_on()
                else:
                    self.stats.pruned += 1
                return
            self._await(r, loc)
            self._suspend(t.tid, r, go_on)
            self._search()

        self._choice(len(known) + (1 if may_wait else 0), body)
        return False

    def _mark_ordering(self, r: int) -> None:
        if self.ordering_reads >> r & 1:
            return
        self.ordering_reads |= 1 << r

        def undo() -> None:
            self.ordering_reads &= ~(1 << r)

        self._push(undo)

    def _suspend(self, tid: int, r: int, go_on: Callable[[], None]) -> None:
        self.suspended[tid] = (r, go_on)
        self._push(lambda: self.suspended.pop(tid))

    def _make_ready(self, tid: int) -> None:
        self.ready.append(tid)
        self._push(self.ready.pop)

    def _go_on(self, tid: int) -> None:
        """Let a suspended thread go on from its waiting read."""
        r, go_on = self.suspended.pop(tid)
        self.ready.pop()

        def undo() -> None:
            self.suspended[tid] = (r, go_on)
            self.ready.append(tid)

        self._push(undo)
        go_on()

    def _speculate(self) -> bool:
        """Every thread is stuck: run the ones suspended at a read on with symbolic
        values (a thread waiting for a lock has nothing to speculate on)."""
        woke = False
        for tid in sorted(self.suspended):
            if self.suspended[tid][0] not in self.lock_waiting:
                self._make_ready(tid)
                woke = True
        return woke

    def _rmw(self, t: ThreadRun, op: Rmw, r: int, loc: Loc) -> None:
        old = self._current(r)
        opi = len(t.answers)
        kind = op.kind
        arg = unwrap(op.arg)
        if kind is RmwKind.CMPXCHG or kind is RmwKind.ADD_UNLESS:
            if kind is RmwKind.CMPXCHG:
                cond = _apply(lambda a, b: a == b, old, arg)
            else:
                cond = _apply(lambda a, b: a != b, old, unwrap(op.arg2))
            if type(cond) is Sym:

                def decide(i: int) -> Change | None:
                    self._constrain(cond, i == 0)
                    return None

                self._branch(2, decide, lambda: self._rmw_finish(t, op, r, loc, opi))
                return
        self._rmw_finish(t, op, r, loc, opi)

    def _rmw_succeeds(self, op: Rmw, old: Any) -> bool:
        if op.kind is RmwKind.CMPXCHG:
            cond = _apply(lambda a, b: a == b, old, unwrap(op.arg))
        elif op.kind is RmwKind.ADD_UNLESS:
            cond = _apply(lambda a, b: a != b, old, unwrap(op.arg2))
        else:
            return True
        if type(cond) is Sym:  # decided by the branch just taken
            return self.constraints[-1][1]
        return bool(cond)

    def _rmw_finish(self, t: ThreadRun, op: Rmw, r: int, loc: Loc, opi: int) -> None:
        old = self._current(r)
        ok = self._rmw_succeeds(op, old)
        kind = op.kind
        bit = 1 << opi
        if kind is RmwKind.ADD_UNLESS and not op.ret_old:
            answer = Answer(const=int(ok))
        elif kind is RmwKind.OP_RETURN:
            answer = Answer(compute=lambda: self._new_value(op, self._current(r)), deps=bit)
        elif kind is RmwKind.ATOMIC_OP:
            answer = Answer()
        else:
            answer = Answer(compute=lambda: self._current(r), deps=bit)
        if not ok:
            self._after(t, answer, r)
            return
        if self._acquire_orders and op.tag in (Tag.ACQUIRE, Tag.MB):
            self._mark_ordering(r)  # a conditional RMW orders once it succeeds
        data = 0 if kind in (RmwKind.XCHG, RmwKind.CMPXCHG) else 1 << r
        w = self._add(
            t,
            EvKind.W,
            loc,
            value=self._new_value(op, old),
            tag=op.tag.value,
            atomic=True,
            rmw=r,
            addr=self.g.events[r].addr,
            data=data | self._eids(t, deps_of(op.arg) | deps_of(op.arg2)),
            ctrl=self.g.events[r].ctrl,
        )
        self._replace(replace(self.g.events[r], atomic=True, rmw=w))
        self._place(w, loc, lambda: self._after(t, answer, r))

    @staticmethod
    def _new_value(op: Rmw, old: Any) -> Any:
        arg = unwrap(op.arg)
        if op.kind is RmwKind.XCHG:
            return arg
        if op.kind is RmwKind.CMPXCHG:
            return unwrap(op.arg2)
        if op.kind is RmwKind.ADD_UNLESS:
            return _apply(lambda a, b: a + b, old, arg)
        assert op.arith is not None
        arith = op.arith
        return _apply(lambda a, b: apply_arith(arith, a, b), old, arg)

    def _op_store(self, t: ThreadRun, op: Store) -> bool:
        loc = self._loc(t, op.loc)
        if loc is None:
            return True
        w = self._add(
            t, EvKind.W, loc, value=unwrap(op.value), tag=op.tag.value,
            **self._deps(t, op.loc, op.value),
        )  # fmt: skip
        self._place(w, loc, lambda: self._after(t, Answer(), w))
        return False

    def _positions(self, w: int, loc: Loc) -> list[int]:
        """Where new write ``w`` may go in ``loc``'s coherence order (insertion indices).

        An RMW's write goes right after the write its read took, and nothing
        goes between such a pair: any other position breaks atomicity, so it
        is not offered at all (the atomic axioms would reject it anyway).
        """
        g = self.g
        co = g.co[loc]
        events, rf = g.events, g.rf
        forced = -1
        ev = events[w]
        if ev.rmw >= 0 and ev.kind is EvKind.W and rf[ev.rmw] >= 0:
            forced = co.index(rf[ev.rmw]) + 1
        out = []
        for k in range(len(co), 0, -1):
            if forced >= 0 and k != forced:
                continue
            if k < len(co):
                nxt = events[co[k]]
                if nxt.rmw >= 0 and nxt.kind is EvKind.W and rf[nxt.rmw] == co[k - 1]:
                    continue  # between an RMW's two halves
            out.append(k)
        return out

    def _place(self, w: int, loc: Loc, cont: Callable[[], None]) -> None:
        """Choose the coherence position of new write ``w``, then bind waiting reads."""
        positions = self._positions(w, loc)
        kind = self.g.events[w].kind

        def apply(i: int) -> Change | None:
            self._co_insert(loc, positions[i], w)
            if len(self.g.co[loc]) == 2:
                return None  # the first write after the initial one
            return ("co", w, -1) if kind is EvKind.W else FULL_CHECK

        if kind is EvKind.W:
            self._branch(len(positions), apply, lambda: self._bind(w, loc, cont))
        else:
            self._branch(len(positions), apply, cont)

    def _bind(self, w: int, loc: Loc, cont: Callable[[], None]) -> None:
        tid = self.g.events[w].tid
        waiting = [
            r for r, rl in self.awaiting.items() if rl == loc and self.g.events[r].tid != tid
        ]
        self._bind_each(w, waiting, 0, cont)

    def _bind_each(self, w: int, waiting: list[int], j: int, cont: Callable[[], None]) -> None:
        if j == len(waiting):
            cont()
            return
        r = waiting[j]

        def apply(i: int) -> Change | None:
            if i == 0:
                return None
            self._unawait(r)
            tid = self.g.events[r].tid
            if tid in self.suspended and self.suspended[tid][0] == r and tid not in self.ready:
                self._make_ready(tid)
            return self._set_rf(r, w)

        self._branch(2, apply, lambda: self._bind_each(w, waiting, j + 1, cont))

    # -- locks ---------------------------------------------------------------------
    def _op_lock(self, t: ThreadRun, op: Lock | TryLock | IsLocked | Unlock) -> bool:
        loc = self._loc(t, op.loc)
        if loc is None:
            return True
        deps = self._deps(t, op.loc)
        if isinstance(op, Unlock):
            ul = self._add(t, EvKind.UL, loc, value=0, tag="release", **deps)
            self._match_unlock(ul)
            if not any(rl == loc for rl in self.lock_waiting.values()):
                t.resume(Answer(), ul)
                return True
            self._hand_over(ul, lambda: self._after(t, Answer(), ul))
            return False
        if isinstance(op, Lock):
            self._acquire(t, loc, deps, Answer())
            return False
        fail_kind = EvKind.LF if isinstance(op, TryLock) else EvKind.RU

        def body(i: int) -> None:
            if i == 0 and isinstance(op, TryLock):
                self._acquire(t, loc, deps, Answer(const=1))
                return
            kind = EvKind.RL if i == 0 else fail_kind
            e = self._add(t, kind, loc, **deps)
            t.resume(Answer(const=1 if i == 0 else 0), e)
            self._search()

        self._choice(2, body)
        return False

    def _match_unlock(self, ul: int) -> None:
        """lock.cat's ``critical``: the nearest earlier LKW|UL of the lock, if an LKW."""
        g = self.g
        e = g.events[ul]
        for x in reversed(g.threads[e.tid][: e.idx]):
            prev = g.events[x]
            if prev.loc == e.loc and prev.kind in (EvKind.LKW, EvKind.UL):
                if prev.kind is EvKind.LKW:
                    self._set_crit(x, ul)
                return

    def _set_crit(self, lkw: int, ul: int) -> None:
        crit = self.g.crit
        crit[lkw] = ul

        def undo() -> None:
            del crit[lkw]

        self._push(undo)

    def _acquire(self, t: ThreadRun, loc: Loc, deps: dict[str, int], answer: Answer) -> None:
        """A spin_lock() (or successful trylock): an LKR/LKW pair.

        lock.cat makes each LKR read from the unlock (or initial write) right
        before its LKW in coherence, and the pair is atomic: so a lock is taken
        at the end of the lock's coherence order when the last holder has
        unlocked, or the thread waits for a later unlock (as a read waits for a
        later write).  Every order in which the threads take the lock is tried.
        """
        lkr = self._add(t, EvKind.LKR, loc, tag="acquire", **deps)
        lkw = self._add(t, EvKind.LKW, loc, value=1, rmw=lkr, **deps)
        self._replace(replace(self.g.events[lkr], rmw=lkw))
        go_on: Callable[[], None] = lambda: self._after(t, answer, lkr)  # noqa: E731
        free = self._lock_free(loc)
        may_wait = self._writer_may_come(loc, t.tid)

        def body(i: int) -> None:
            if i == 0 and free:
                self._co_insert(loc, len(self.g.co[loc]), lkw)
                if self.model.check_partial(self.g, ("co", lkw, -1)):
                    go_on()
                else:
                    self.stats.pruned += 1
                return
            self._lock_wait(lkr, loc)
            self._suspend(t.tid, lkr, go_on)
            self._search()

        self._choice(int(free) + int(may_wait), body)

    def _lock_free(self, loc: Loc) -> bool:
        """Whether the last LKW of ``loc`` in coherence (if any) has its unlock."""
        last = self.g.events[self.g.co[loc][-1]]
        return last.kind is not EvKind.LKW or last.eid in self.g.crit

    def _lock_wait(self, lkr: int, loc: Loc) -> None:
        self.lock_waiting[lkr] = loc
        self._push(lambda: self.lock_waiting.pop(lkr))

    def _hand_over(self, ul: int, cont: Callable[[], None]) -> None:
        """Unlock ``ul`` frees its lock: no waiter, or one of them, takes it next."""
        e = self.g.events[ul]
        loc = e.loc
        assert loc is not None
        waiting = [
            r for r, rl in self.lock_waiting.items() if rl == loc and self.g.events[r].tid != e.tid
        ]
        if not waiting or not self._lock_free(loc):
            cont()
            return

        def apply(i: int) -> Change | None:
            if i == 0:
                return None
            lkr = waiting[i - 1]
            loc_ = self.lock_waiting.pop(lkr)

            def undo() -> None:
                self.lock_waiting[lkr] = loc_

            self._push(undo)
            self._make_ready(self.g.events[lkr].tid)
            lkw = self.g.events[lkr].rmw
            self._co_insert(loc, len(self.g.co[loc]), lkw)
            return ("co", lkw, -1)

        self._branch(len(waiting) + 1, apply, cont)

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
        final = self._final_state(graph, read_value)
        if any(type(v) is Undetermined and v.derived for regs in final.regs for v in regs.values()):
            self.stats.unsolvable += 1  # a register computed from an undetermined value
            return
        verdict = self.model.check(graph)
        self.stats.explored += 1
        if not verdict.consistent:
            return
        self.stats.consistent += 1
        self._record(graph, final, verdict)
        self._check_limits()

    def _final_state(self, graph: ExecutionGraph, read_value: Callable[[int], Any]) -> FinalState:
        memory: dict[Loc, Any] = dict(self.program.init)
        for loc, ws in graph.lock_co().items():
            memory[loc] = graph.events[ws[-1]].value
        regs: list[Mapping[str, Any]] = []
        for t in self.threads:
            ret = t.retval if isinstance(t.retval, Mapping) else {}
            regs.append({k: _solved(v, read_value) for k, v in ret.items()})
        oopses = tuple((t.tid, t.oops) for t in self.threads if t.oops is not None)
        return FinalState(memory, regs, oopses)

    def _record(self, graph: ExecutionGraph, final: FinalState, verdict: Verdict) -> None:
        cond = self.program.condition
        if cond.filter is not None and not cond.filter(final):
            return
        key = tuple(final.get(v) for v in cond.observed)
        self.states[key] = self.states.get(key, 0) + 1
        choices = tuple(self.path)
        if cond.satisfied_by(final):
            self.positive += 1
            if self.witness is None:
                self.witness = choices
            if self.limits.stop_at_witness:
                self.flags |= verdict.flags
                if self.on_execution is not None:
                    self.on_execution(Execution(graph, final, verdict, choices))
                self.outcome = Outcome.WITNESS
                raise _Stop
        else:
            self.negative += 1
            if self.counterexample is None:
                self.counterexample = choices
        self.flags |= verdict.flags
        if self.on_execution is not None:
            self.on_execution(Execution(graph, final, verdict, choices))
        if self.limits.stop_at_first:
            if self.outcome is Outcome.COMPLETE:
                self.outcome = Outcome.FIRST  # (a loop cut so far stays BOUND: herd7's "Loop")
            raise _Stop


def _solved(v: Any, read_value: Callable[[int], Any]) -> Any:
    v = unwrap(v)
    return evaluate(v, read_value) if type(v) is Sym else v


def explore(
    program: Program,
    model: Model | str = "sc",
    *,
    limits: Limits | None = None,
    on_execution: Callable[[Execution], None] | None = None,
    replay: Iterable[int] | None = None,
    record_src: bool = False,
    analyse: bool = True,
) -> ExplorationResult:
    """Explore every consistent execution of ``program`` under ``model``.

    ``replay`` follows a saved choice list instead of branching (one
    execution, or none when the list ends in an inconsistent one).
    """
    from pinlab.engine.models import get_model  # the registry imports every model

    m = get_model(model) if isinstance(model, str) else model
    explorer = Explorer(
        program, m, limits=limits, on_execution=on_execution, replay=replay,
        record_src=record_src, analyse=analyse,
    )  # fmt: skip
    return explorer.run()


__all__ += ["Explorer", "Val"]
