"""What both explorers share: a graph built event by event with undo, and the tally.

The waiting explorer (:mod:`pinlab.engine.explore`) and the revisit explorer
(:mod:`pinlab.engine.revisit`) differ in how they choose (a read waits for
its write, or a later write revisits the read) and in how they undo (a trail
of closures each).  What they build is the same, and is defined here once:

- the initial write of a location, made on first use; a write put at a
  coherence position; an event replaced; an operation's dependencies as
  event sets;
- the final state of a complete execution and its count: the observed
  state, positive or negative, the flags, the ``on_execution`` callback, and
  the limits that stop the run after it;
- one run: threads started, the search, the result.
"""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pinlab.engine.explore.result import (
    Execution,
    ExplorationResult,
    Limits,
    Outcome,
    Progress,
    Stats,
    _Stop,
)
from pinlab.engine.graph import Event, EvKind, ExecutionGraph
from pinlab.engine.models.base import Model, Verdict
from pinlab.engine.program import FinalState, Loc, Program
from pinlab.engine.relation import bits
from pinlab.engine.values import deps_of

__all__ = ["GraphBuilding"]


class GraphBuilding(ABC):
    """The graph under construction and the tally of the executions it ended in."""

    program: Program
    model: Model
    limits: Limits
    on_execution: Callable[[Execution], None] | None
    progress: Progress | None
    g: ExecutionGraph
    threads: Sequence[Any]

    def _init_tally(self) -> None:
        self.stats = Stats()
        self.states: dict[tuple[Any, ...], int] = {}
        self.positive = 0
        self.negative = 0
        self.flags: set[str] = set()
        self.outcome = Outcome.COMPLETE
        limit = self.limits.time_limit
        self._deadline = time.monotonic() + limit if limit else None

    def _report(self) -> None:
        """Tell the progress hook the consistent executions met so far."""
        if self.progress is not None:
            self.progress(self.stats.consistent)

    # -- hooks ---------------------------------------------------------------------------
    @abstractmethod
    def _push(self, undo: Callable[[], object]) -> None:
        """Remember how to undo the change just made."""

    @abstractmethod
    def _add(self, t: Any, kind: EvKind, loc: Loc | None, **kw: Any) -> int:
        """Add an event of thread ``t`` (None: an initial write); its eid."""

    @abstractmethod
    def _op_eid(self, t: Any, op: int) -> int:
        """The first event of ``t``'s operation number ``op`` (-1: none)."""

    # -- the graph ---------------------------------------------------------------------
    def _ensure_init(self, loc: Loc) -> None:
        """The initial write of ``loc``, first in its coherence order, on first use."""
        if loc in self.g.init:
            return
        eid = self._add(None, EvKind.INIT, loc, value=self.program.initial_value(loc))
        self.g.init[loc] = eid
        self.g.co[loc] = [eid]

        def undo() -> None:
            del self.g.init[loc]
            del self.g.co[loc]

        self._push(undo)

    def _co_insert(self, loc: Loc, pos: int, w: int) -> None:
        co = self.g.co[loc]
        co.insert(pos, w)
        self._push(lambda: co.pop(pos))

    def _replace(self, ev: Event) -> None:
        g = self.g
        old = g.events[ev.eid]
        g.replace_event(ev)
        self._push(lambda: g.replace_event(old))

    def _eids(self, t: Any, mask: int) -> int:
        """The events (a bitmask of eids) of ``t``'s operations in ``mask``."""
        out = 0
        for i in bits(mask):
            e = self._op_eid(t, i)
            if e >= 0:
                out |= 1 << e
        return out

    def _deps(self, t: Any, loc: Any, data: Any = None) -> dict[str, Any]:
        """An access's dependencies: on its address, its value and ``t``'s branches."""
        return {
            "addr": self._eids(t, deps_of(loc)),
            "data": self._eids(t, deps_of(data)),
            "ctrl": self._eids(t, t.ctrl),
        }

    # -- executions ------------------------------------------------------------------------
    def _final_state(self, graph: ExecutionGraph, solve: Callable[[Any], Any]) -> FinalState:
        """Memory as coherence leaves it, each thread's returned values (``solve``d)
        and its oops."""
        memory: dict[Loc, Any] = dict(self.program.init)
        for loc, ws in graph.lock_co().items():
            memory[loc] = graph.events[ws[-1]].value
        regs: list[Mapping[str, Any]] = []
        for t in self.threads:
            ret = t.retval if isinstance(t.retval, Mapping) else {}
            regs.append({k: solve(v) for k, v in ret.items()})
        oopses = tuple((t.tid, t.oops) for t in self.threads if t.oops is not None)
        return FinalState(memory, regs, oopses)

    def _count(self, final: FinalState, n: int = 1) -> bool | None:
        """Count ``n`` executions ending in ``final``: whether they satisfy the
        condition, None when its filter leaves them out."""
        cond = self.program.condition
        if cond.filter is not None and not cond.filter(final):
            return None
        key = tuple(final.get(v) for v in cond.observed)
        self.states[key] = self.states.get(key, 0) + n
        if cond.satisfied_by(final):
            self.positive += n
            return True
        self.negative += n
        return False

    def _record(self, graph: ExecutionGraph, final: FinalState, verdict: Verdict) -> None:
        """One consistent complete execution: counted, reported, and the limits
        that end the run after it (a first witness, a first execution)."""
        hit = self._count(final)
        if hit is None:
            return
        self._remember(hit, graph)
        self.flags |= verdict.flags
        if self.on_execution is not None:
            self.on_execution(Execution(graph, final, verdict, self._choices_made()))
        if hit and self.limits.stop_at_witness:
            self.outcome = Outcome.WITNESS
            raise _Stop
        if self.limits.stop_at_first:
            if self.outcome is Outcome.COMPLETE:
                self.outcome = Outcome.FIRST  # (a loop cut so far stays BOUND: herd7's "Loop")
            raise _Stop

    @abstractmethod
    def _remember(self, hit: bool, graph: ExecutionGraph) -> None:
        """Keep what a procedure keeps of a first witness (or counterexample)."""

    @abstractmethod
    def _choices_made(self) -> tuple[int, ...]:
        """The choice list of the execution just ended (empty: not replayable)."""

    # -- one run ---------------------------------------------------------------------------
    def _run(self, search: Callable[[], None]) -> None:
        """Start the threads and ``search`` until done or stopped (the time in stats)."""
        start = time.perf_counter()
        old_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old_limit, 100_000))
        try:
            for t in self.threads:
                t.start()
            search()
        except _Stop:
            pass
        finally:
            sys.setrecursionlimit(old_limit)
        self.stats.seconds = time.perf_counter() - start
        self._report()

    def _result(self, procedure: str, **extra: Any) -> ExplorationResult:
        """What the run found (``extra``: a procedure's own fields)."""
        return ExplorationResult(
            program=self.program.name,
            model=self.model.name,
            states=self.states,
            positive=self.positive,
            negative=self.negative,
            flags=frozenset(self.flags),
            outcome=self.outcome,
            stats=self.stats,
            procedure=procedure,
            **extra,
        )
