"""A part of one exploration, as a worker explores it: :class:`Task` is what
the worker is given, :class:`Parts` explores the parts of it, whichever pool
carries the messages (forked processes here, or actors on a Ray cluster)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pinlab.engine import (
    Execution,
    ExplorationResult,
    Limits,
    Model,
    Program,
    Progress,
    RevisitExplorer,
    Share,
    Subtree,
    explore,
    get_model,
)
from pinlab.parallel.fold import Fold

__all__ = ["PROGRESS", "Cancelled", "PartError", "Parts", "Task"]

PROGRESS = 0.5  # seconds between two reports of a running part's progress, in any pool


@dataclass(frozen=True, slots=True)
class Task:
    """One exploration among those :func:`pinlab.parallel.decide_many` runs together.

    ``build`` makes the program, in each worker that explores a part of it
    (forked workers inherit it; Ray sends it, pickled by value as cloudpickle
    does, so it must not hold open files or locks); ``engine`` is ``auto``,
    ``revisit`` or ``explore`` as for :func:`pinlab.engine.decide`."""

    build: Callable[[], Program]
    model: str | Model  # (a name, or a model read from files: pinlab.cat)
    engine: str = "auto"
    limits: Limits = dataclasses.field(default_factory=Limits)
    fold: Fold[Any] | None = None
    record_src: bool = False
    # In a worker, once the result and fold are merged: the fold to report
    # instead (a last step that needs the program, such as finding a witness's
    # choice list again), so that it runs in parallel too.
    finish: Callable[[ExplorationResult, Any], Any] | None = None


class PartError(Exception):
    """An exception raised while task ``index`` was explored (``error``)."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(f"task {index}: {error}")
        self.index = index
        self.error = error


class Cancelled(Exception):
    """The coordinator no longer needs the part being explored (raised by ``wanted``)."""


class Parts:
    """A worker's side of the protocol: the parts it is given, each explored
    with sharing.  Its replies are the coordinator's messages:
    ``("done", task, result, fold, tallies)``, ``("cancelled", task)``,
    ``("error", task, exception)`` and ``("finished", task, fold)``."""

    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = tasks
        self.programs: dict[int, Program] = {}

    def program(self, i: int) -> Program:
        """Task ``i``'s program, built once while it is among the last few used
        (a worker that kept every program would only slow its collector)."""
        if i not in self.programs:
            if len(self.programs) >= 4:
                del self.programs[next(iter(self.programs))]
            self.programs[i] = self.tasks[i].build()
        return self.programs[i]

    def finish(self, i: int, result: ExplorationResult, acc: Any) -> tuple[Any, ...]:
        """Task ``i``'s :attr:`Task.finish` step."""
        task = self.tasks[i]
        assert task.finish is not None
        try:
            self.program(i)
            return ("finished", i, task.finish(result, acc))
        except Exception as err:
            return ("error", i, err)

    def part(
        self,
        i: int,
        procedure: str,
        payload: Any,
        left: float | None,
        wanted: Callable[[], bool],
        give: Callable[[list[Any]], None],
        progress: Progress | None = None,
    ) -> tuple[Any, ...]:
        """Explore the part ``payload`` of task ``i`` with ``procedure``, in at
        most ``left`` seconds; ``wanted()`` says when to ``give`` away work
        (and raises :class:`Cancelled` when the part is no longer needed);
        ``progress`` is told, now and then, the executions met so far.  Done:
        ``("done", i, result, fold, tally)``."""
        task = self.tasks[i]
        acc = [task.fold.start()] if task.fold is not None else None

        def keep(ex: Execution) -> None:
            assert acc is not None and task.fold is not None
            acc[0] = task.fold.add(acc[0], ex)

        limits = task.limits
        if left is not None:
            limits = dataclasses.replace(limits, time_limit=max(1e-3, left))
        on_execution = keep if acc is not None else None
        try:
            program = self.program(i)
            model = get_model(task.model) if isinstance(task.model, str) else task.model
            tally: Any = None
            if procedure == "revisit":
                explorer = RevisitExplorer(
                    program, model, limits=limits, on_execution=on_execution,
                    record_src=task.record_src, share=Share(payload, wanted, give),
                    progress=progress,
                )  # fmt: skip
                result = explorer.run()
                tally = explorer.tallies
            else:
                result = explore(
                    program, model, limits=limits, record_src=task.record_src,
                    on_execution=on_execution, subtree=Subtree(payload, wanted, give),
                    progress=progress,
                )  # fmt: skip
            return ("done", i, result, acc[0] if acc is not None else None, tally)
        except Cancelled:
            return ("cancelled", i)
        except Exception as err:
            return ("error", i, err)
