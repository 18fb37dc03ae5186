"""The shortest counterexample of a scenario, as an interleaving of kernel steps.

``pinlab explain`` wants one execution that shows the forbidden outcome, and
the easiest one to read: the fewest context switches, then the fewest events.
An execution graph has no single order, so this module fixes one:

- a **step** is what a reader sees as one action of one CPU: a single event,
  or the two halves of an atomic read-modify-write (``R`` + ``W``) or of a
  ``spin_lock()`` (``LKR`` + ``LKW``), which are never split;
- the **interleaving** of an execution is a topological order of its steps
  under ``po | rf | co | fr`` that stays on the current CPU as long as it can
  (so it switches CPUs only when the execution forces it).  Under ``sc`` that
  order always exists and is a sequentially consistent run of the threads;
  under ``lkmm`` those relations may form a cycle (that is what a weak
  outcome is), and then the step with the smallest event id whose
  program-order predecessors are done goes next -- the trace marks the reads
  that then read from a later or an overwritten write;
- the **context switches** of an execution are the changes of CPU along its
  interleaving.

Initial writes are not steps.  Everything here is a pure function of the
graph, so a replayed execution has the very same interleaving.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pinlab.engine import (
    EvKind,
    Execution,
    ExecutionGraph,
    ExplorationResult,
    Limits,
    Outcome,
    get_model,
    replay,
    witness_choices,
)
from pinlab.parallel import Fold, canonical
from pinlab.parallel import decide as parallel_decide
from pinlab.scenarios.base import Built, Scenario, Verdict

_Best = tuple[tuple[int, int, Any], Execution]  # ((switches, events, canonical key), execution)

__all__ = [
    "Counterexample",
    "Explanation",
    "NotForbidden",
    "Step",
    "find_counterexample",
    "interleave",
    "replay_execution",
]

Step = tuple[int, ...]  # the eids of one step, in program order


def _steps(graph: ExecutionGraph) -> list[list[Step]]:
    """Each thread's steps in program order."""
    out: list[list[Step]] = []
    for eids in graph.threads:
        steps: list[Step] = []
        i = 0
        while i < len(eids):
            e = graph.events[eids[i]]
            pair = i + 1 < len(eids) and e.rmw == eids[i + 1]
            if pair and e.kind in (EvKind.R, EvKind.LKR):
                steps.append((eids[i], eids[i + 1]))
                i += 2
            else:
                steps.append((eids[i],))
                i += 1
        out.append(steps)
    return out


def _edges(graph: ExecutionGraph) -> dict[int, set[int]]:
    """eid -> the eids that must come before it by rf, co or fr (not po)."""
    before: dict[int, set[int]] = {}
    for _rel, a, b in graph.communications():
        before.setdefault(b, set()).add(a)
    return before


def interleave(graph: ExecutionGraph) -> list[Step]:
    """The steps of ``graph`` in the order a trace shows them (see the module doc)."""
    threads = _steps(graph)
    before = _edges(graph)
    done: set[int] = {e.eid for e in graph.events if e.tid < 0}
    nxt = [0] * len(threads)
    order: list[Step] = []
    current = -1

    def ready(tid: int) -> bool:
        step = threads[tid][nxt[tid]]
        inside = set(step)
        return all(b in done or b in inside for e in step for b in before.get(e, ()))

    while True:
        live = [t for t in range(len(threads)) if nxt[t] < len(threads[t])]
        if not live:
            return order
        enabled = [t for t in live if ready(t)]
        if current in enabled:
            tid = current
        else:  # the earliest enabled step; on a cycle (lkmm) the earliest step at all
            pool = enabled or live
            tid = min(pool, key=lambda t: threads[t][nxt[t]][0])
        step = threads[tid][nxt[tid]]
        order.append(step)
        done.update(step)
        nxt[tid] += 1
        current = tid


def context_switches(graph: ExecutionGraph, order: Sequence[Step]) -> int:
    tids = [graph.events[s[0]].tid for s in order]
    return sum(1 for a, b in itertools.pairwise(tids) if a != b)


@dataclass(frozen=True, slots=True)
class Counterexample:
    """One execution with the forbidden outcome, and the order its trace shows."""

    scenario: Scenario
    built: Built
    execution: Execution
    order: tuple[Step, ...]
    switches: int
    outcome: str  # Built.bad(final): the forbidden outcome, in words

    @property
    def events(self) -> int:
        return sum(len(s) for s in self.order)

    @property
    def choices(self) -> tuple[int, ...]:
        return self.execution.choices


@dataclass(frozen=True, slots=True)
class Explanation:
    """An exploration that kept its shortest counterexample."""

    scenario: Scenario
    verdict: Verdict
    exploration: ExplorationResult
    seconds: float
    reachable: int  # executions with the forbidden outcome
    best: Counterexample | None


class NotForbidden(ValueError):
    """A replayed execution does not show the scenario's forbidden outcome."""


def _counterexample(scenario: Scenario, built: Built, ex: Execution) -> Counterexample | None:
    outcome = built.bad(ex.final)
    if outcome is None:
        return None
    order = interleave(ex.graph)
    switches = context_switches(ex.graph, order)
    return Counterexample(scenario, built, ex, tuple(order), switches, outcome)


def find_counterexample(
    scenario: Scenario, limits: Limits | None = None, engine: str = "auto", jobs: int = 1
) -> Explanation:
    """Decide ``scenario`` and keep its shortest counterexample.

    The counterexample is the waiting explorer's execution, with its choice
    list and the kernel source of every event: when another procedure found
    it, that explorer finds it again (:func:`~pinlab.engine.witness_choices`).
    Of equally short ones, the one with the smallest
    :func:`~pinlab.parallel.canonical` key: the same whatever ``jobs``.
    """
    built = scenario.program()

    def add(best: _Best | None, ex: Execution) -> _Best | None:
        cex = _counterexample(scenario, built, ex)
        if cex is None:
            return best
        mine = (cex.switches, cex.events, canonical(ex.graph))
        return (mine, ex) if best is None or mine < best[0] else best

    def merge2(a: _Best | None, b: _Best | None) -> _Best | None:
        return b if a is None or (b is not None and b[0] < a[0]) else a

    start = time.perf_counter()
    result, kept = parallel_decide(
        built.program, scenario.model, engine=engine, limits=limits, jobs=jobs,
        fold=Fold(lambda: None, add, merge2), record_src=True,
    )  # fmt: skip
    best: list[Counterexample] = []
    if kept is not None:
        found = _counterexample(scenario, built, kept[1])
        assert found is not None
        best.append(found)
    reachable = result.positive  # (the condition is bad(final): what keep() counted)
    if best and result.witness is None:  # (found by another procedure than the explorer)
        model = get_model(scenario.model)
        ex = witness_choices(built.program, model, best[0].execution.graph, record_src=True)
        again = _counterexample(scenario, built, ex)
        assert again is not None
        best[:] = [again]
    seconds = time.perf_counter() - start
    if reachable:
        verdict = Verdict.REACHABLE
    elif result.outcome is Outcome.COMPLETE:
        verdict = Verdict.NEVER
    else:
        verdict = Verdict.INCONCLUSIVE
    return Explanation(scenario, verdict, result, seconds, reachable, best[0] if best else None)


def replay_execution(scenario: Scenario, choices: Sequence[int]) -> Counterexample:
    """Re-run the one execution ``choices`` names.

    Raises :class:`~pinlab.engine.ReplayError` when the choices do not
    fit the program, :class:`NotForbidden` when the execution they give is not
    a counterexample (or is no consistent execution at all).
    """
    built = scenario.program()
    found: list[Execution] = []
    replay(built.program, scenario.model, choices, on_execution=found.append,
            record_src=True)  # fmt: skip
    if not found:
        raise NotForbidden("the saved choices give no consistent execution")
    cex = _counterexample(scenario, built, found[0])
    if cex is None:
        raise NotForbidden("the saved execution no longer shows the forbidden outcome")
    return cex
