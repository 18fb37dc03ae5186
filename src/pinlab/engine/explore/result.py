"""What an exploration returns: limits, outcome, statistics, executions, results."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from pinlab.engine.graph import ExecutionGraph
from pinlab.engine.models.base import Verdict
from pinlab.engine.program import FinalState


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
    cut_thread: int = -1  # a thread the per-thread event bound cut (-1: none)

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


# Told now and then, while a run goes on, and at its end, the consistent
# executions met so far.
Progress = Callable[[int], None]


def _never() -> bool:
    return False


def _drop(parts: list[Any]) -> None:
    raise AssertionError("wanted() said no")


@dataclass(frozen=True, slots=True)
class Subtree:
    """One part of an exploration, for splitting it between workers.

    The waiting explorer names each execution by its choice list, and takes
    the options of every choice in order: a depth-first walk of a tree whose
    nodes are choice-list prefixes.  Given a ``prefix``, it explores only the
    executions whose choice lists start with it.  Every ``every`` choices it asks
    ``wanted()``; when that says yes, it hands the options not yet taken of its
    shallowest open choice to ``give`` (as prefixes, possibly none) and does
    not take them itself.  The subtrees of a prefix and of every part given
    away partition the executions, so their results add up to the whole one's
    (pinlab.parallel merges them).
    """

    prefix: tuple[int, ...] = ()
    wanted: Callable[[], bool] = _never
    give: Callable[[list[tuple[int, ...]]], None] = _drop
    every: int = 256  # choices between two calls of wanted() (a power of two)


@dataclass(frozen=True, slots=True)
class Share:
    """One part of an exploration by revisits, for splitting it between workers.

    The revisit explorer explores from the empty graph and then runs its jobs
    (a revisit's graph, to explore from), each independent of the rest.  A part
    starts from ``job`` (None: the empty graph); every ``every`` steps it asks
    ``wanted()`` and, when that says yes, hands half of its pending jobs (the
    oldest, possibly none) to ``give``.  Two jobs may end in the same execution;
    the explorer keeps one of each, so a part records the executions it counted
    (``RevisitExplorer.tallies``) for the merge to keep one of each too.
    """

    job: Any = None
    wanted: Callable[[], bool] = _never
    give: Callable[[list[Any]], None] = _drop
    every: int = 4  # (a power of two; a step of a revisit exploration is long)


class ReplayError(RuntimeError):
    """A saved choice list does not fit the program (it changed since it was saved)."""


class _Stop(Exception):
    pass


class _Unsolvable(Exception):
    pass


class CountHook(Protocol):
    """How many executions one consistent complete execution stands for.

    The explorer's only extension point (:func:`pinlab.engine.explore_factored`
    is its one user): called with each consistent complete execution, its
    final state, its verdict and a ``tick`` to call in long computations (the
    time limit), it returns ``(final state, how many)`` pairs, which the
    explorer counts instead of the execution itself; no pairs at all when
    the execution stands for none.
    """

    def __call__(
        self,
        graph: ExecutionGraph,
        final: FinalState,
        verdict: Verdict,
        tick: Callable[[], None],
    ) -> Iterable[tuple[FinalState, int]]: ...
