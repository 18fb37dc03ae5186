"""What the parts of one exploration add up to: :func:`merge` of their
results, and :class:`Fold` of what a caller keeps of their executions."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pinlab.engine import Execution, ExecutionGraph, ExplorationResult, Outcome, Stats

__all__ = ["Fold", "canonical", "cores", "first_of", "merge"]

A = TypeVar("A")


@dataclass(frozen=True, slots=True)
class Fold(Generic[A]):
    """What to keep of the executions: ``start()`` for a part, ``add`` one
    execution, ``merge`` two parts' (in any order: merge must not depend on it)."""

    start: Callable[[], A]
    add: Callable[[A, Execution], A]
    merge: Callable[[A, A], A]


def canonical(graph: ExecutionGraph) -> tuple[Any, ...]:
    """``graph`` up to the numbering of its events, as a key to order executions
    by: where two are equally good, the one with the smaller key is kept, so the
    choice does not depend on the order in which workers (or procedures) met them.
    """
    return graph.key()


def _first_add(
    best: tuple[Any, Execution] | None, ex: Execution, hit: Callable[[Execution], bool]
) -> tuple[Any, Execution] | None:
    if not hit(ex):
        return best
    key = canonical(ex.graph)
    return (key, ex) if best is None or key < best[0] else best


def first_of(hit: Callable[[Execution], bool]) -> Fold[tuple[Any, Execution] | None]:
    """The fold that keeps, of the executions ``hit`` accepts, the one with the
    smallest :func:`canonical` key (whichever process met it first)."""

    def merge2(
        a: tuple[Any, Execution] | None, b: tuple[Any, Execution] | None
    ) -> tuple[Any, Execution] | None:
        if a is None or (b is not None and b[0] < a[0]):
            return b
        return a

    return Fold(lambda: None, lambda best, ex: _first_add(best, ex, hit), merge2)


def cores() -> int:
    """The cores this process may run on (the default of ``--jobs``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # (not Linux)
        return max(1, os.cpu_count() or 1)


def merge(
    parts: Iterable[ExplorationResult],
    seconds: float,
    tallies: Iterable[dict[Any, tuple[tuple[Any, ...] | None, bool]]] = (),
) -> ExplorationResult:
    """The results of the parts of one exploration, as one result.

    ``tallies`` (revisit parts: each execution counted -> its state and
    whether it satisfies the condition) lets an execution two parts both
    counted be counted once, as one explorer counts it."""
    parts = list(parts)
    assert parts, "no part to merge"
    states: dict[tuple[Any, ...], int] = {}
    stats = Stats()
    for r in parts:
        for key, n in r.states.items():
            states[key] = states.get(key, 0) + n
        for f in dataclasses.fields(Stats):
            if f.name not in ("seconds", "cut_thread"):
                setattr(stats, f.name, getattr(stats, f.name) + getattr(r.stats, f.name))
        stats.cut_thread = max(stats.cut_thread, r.stats.cut_thread)
    stats.seconds = seconds
    positive = sum(r.positive for r in parts)
    negative = sum(r.negative for r in parts)
    counted: dict[Any, int] = {}
    for tally in tallies:
        for key, (state, hit) in tally.items():
            if key not in counted:
                counted[key] = 0
                continue
            counted[key] += 1  # (again: count it once)
            stats.consistent -= 1
            stats.explored -= 1
            if state is not None:
                states[state] -= 1
                if not states[state]:
                    del states[state]
                if hit:
                    positive -= 1
                else:
                    negative -= 1
    order = (Outcome.TIME, Outcome.EXECUTIONS, Outcome.WITNESS, Outcome.FIRST, Outcome.INCOMPLETE)
    stopped = sorted(
        (r.outcome for r in parts if r.outcome not in (Outcome.COMPLETE, Outcome.BOUND)),
        key=order.index,
    )
    outcome: Outcome
    if stopped:
        outcome = stopped[0]
    elif any(r.outcome is Outcome.BOUND for r in parts):
        outcome = Outcome.BOUND
    else:
        outcome = Outcome.COMPLETE
    witnesses = [r.witness for r in parts if r.witness is not None]
    others = [r.counterexample for r in parts if r.counterexample is not None]
    first = parts[0]
    return ExplorationResult(
        program=first.program,
        model=first.model,
        states=states,
        positive=positive,
        negative=negative,
        flags=frozenset().union(*(r.flags for r in parts)),
        outcome=outcome,
        stats=stats,
        witness=min(witnesses, default=None),
        counterexample=min(others, default=None),
        procedure=first.procedure,
    )
