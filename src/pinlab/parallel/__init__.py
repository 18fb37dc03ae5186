"""One exploration split between worker processes: ``--jobs N``.

The waiting explorer walks a tree of choice lists depth first, and can explore
one subtree of it, handing the options it has not yet taken at its shallowest
open choice to someone else when asked (:class:`pinlab.engine.Subtree`).  So
:func:`decide` with ``jobs`` above one starts that many workers (forked, with
the signal handling of :mod:`pinlab.interrupt`), gives the first the whole
tree, and whenever a worker is idle with nothing queued asks the busy ones to
share: work stealing, so that one deep subtree does not leave the others idle.

The parts partition the executions, so their results add up to the one-process
result exactly: the same states and counts, the same flags, and as the first
witness the smallest choice list, which is the first the one-process walk
meets.  What a caller wants of the executions themselves (the first forbidden
one, the shortest counterexample) is a :class:`Fold`: each worker folds the
executions it sees, and the folds merge.  A part that stops at a witness, a
time limit or an execution limit stops every worker; the merged result then
says so in its outcome, and claims only what was seen.

The revisit explorer splits too: a part is the empty graph or one pending
revisit job, and a worker asked to share gives away the older half of its
jobs (:class:`pinlab.engine.Share`); an execution two jobs both reach is
counted once when the parts merge.

Where the workers run is a :class:`~pinlab.parallel.coordinator.Pool`: forked
processes on this machine (:mod:`.forked`), or, inside :func:`ray_cluster`,
actors on a Ray cluster (:mod:`.onray`); the coordinator and the results are
the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from pinlab.engine import Execution, ExplorationResult, Limits, Model, Program
from pinlab.engine import decide as decide_here
from pinlab.parallel import onray
from pinlab.parallel.coordinator import Coordinator, OnProgress, Pool
from pinlab.parallel.fold import Fold, canonical, cores, first_of, merge
from pinlab.parallel.forked import ForkPool
from pinlab.parallel.onray import RayError, ray_cluster
from pinlab.parallel.part import PartError, Task

__all__ = [
    "Fold",
    "OnProgress",
    "PartError",
    "RayError",
    "Task",
    "canonical",
    "cores",
    "decide",
    "decide_many",
    "first_of",
    "merge",
    "ray_cluster",
]

A = TypeVar("A")


def _pool(jobs: int) -> Pool:
    """``jobs`` workers: forked here, or on the Ray cluster of :func:`ray_cluster`."""
    cluster = onray.cluster()
    return ForkPool(jobs) if cluster is None else cluster.pool(jobs)


def decide_many(
    tasks: list[Task], jobs: int, on_progress: OnProgress | None = None
) -> Iterator[tuple[ExplorationResult, Any]]:
    """Each task's result and fold, in the order of ``tasks``: the tasks run side
    by side and each is split between ``jobs`` worker processes, which share
    the work of whichever is left (see the module docstring).  ``on_progress``
    is told now and then the executions met so far."""
    if jobs <= 1 and onray.cluster() is None:
        met = 0
        for i, task in enumerate(tasks):

            def told(executions: int, met: int = met) -> None:
                assert on_progress is not None
                on_progress(met + executions)

            try:
                result, acc = decide(task.build(), task.model, engine=task.engine,
                                     limits=task.limits, fold=task.fold,
                                     record_src=task.record_src,
                                     on_progress=told if on_progress else None)  # fmt: skip
                if task.finish is not None:
                    acc = task.finish(result, acc)
            except Exception as err:
                raise PartError(i, err) from err
            met += result.stats.consistent
            yield result, acc
        return
    yield from Coordinator(tasks, _pool(jobs), on_progress).results()


def decide(
    program: Program,
    model: str | Model,
    *,
    engine: str = "auto",
    limits: Limits | None = None,
    jobs: int = 1,
    fold: Fold[A] | None = None,
    record_src: bool = False,
    on_progress: OnProgress | None = None,
) -> tuple[ExplorationResult, A | None]:
    """:func:`pinlab.engine.decide`, split between ``jobs`` workers, and ``fold``
    (when given) folded over the executions of the run whose result is returned
    (``on_progress``: as :func:`decide_many`'s, of the one task)."""
    limits = limits or Limits()
    if jobs > 1 or onray.cluster() is not None:
        task = Task(lambda: program, model, engine, limits, fold, record_src)
        result, acc = next(Coordinator([task], _pool(jobs), on_progress).results())
        return result, acc
    kept: list[Any] = [fold.start()] if fold is not None else []

    def keep(ex: Execution) -> None:
        assert fold is not None
        kept[0] = fold.add(kept[0], ex)

    result = decide_here(program, model, engine=engine, limits=limits,
                         on_execution=keep if fold is not None else None,
                         record_src=record_src, progress=on_progress)  # fmt: skip
    return result, (kept[0] if fold is not None else None)
