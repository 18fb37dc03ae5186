"""Decide a program under a model: the engine's one entry point over its procedures.

Two decision procedures answer the same :class:`~pinlab.engine.program.Program`
and :class:`~pinlab.engine.models.base.Model`, and return the same frozen
:class:`~pinlab.engine.explore.ExplorationResult`:

- ``explore`` -- the waiting explorer (:mod:`pinlab.engine.explore`): a read
  may wait for a write still to come.  It produces herd7's candidates one for
  one, including those whose values are undetermined (``S1``), names each
  execution by a choice list, and is what the litmus front end counts with;
  on kernel paths under the LKMM most of its partial graphs are dead ends.
- ``revisit`` -- exploration by revisits (:mod:`pinlab.engine.revisit`): a read
  reads a write that exists and later writes revisit it, so no exploration
  waits for a write that never comes.  It ends ``incomplete`` when it met load
  buffering it cannot re-run a thread through.

``auto`` runs ``revisit`` and, where it ends incomplete, ``explore`` with the
time that is left: a verdict never rests on an exploration that could not
see every execution.  Protocol: :class:`Procedure`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final, Protocol

from pinlab.engine.explore import (
    Execution,
    ExplorationResult,
    Limits,
    Outcome,
    Progress,
    explore,
)
from pinlab.engine.models import Model, get_model
from pinlab.engine.program import Program
from pinlab.engine.revisit import RevisitExplorer

__all__ = ["ENGINES", "Procedure", "decide", "replay"]

ENGINES: Final = ("auto", "revisit", "explore")


class Procedure(Protocol):
    """A decision procedure: every consistent execution of a program under a model,
    or as many as its limits allow, summarised as an :class:`ExplorationResult`."""

    def __call__(
        self,
        program: Program,
        model: Model,
        *,
        limits: Limits | None,
        on_execution: Callable[[Execution], None] | None,
        record_src: bool,
        progress: Progress | None = None,
    ) -> ExplorationResult: ...


def _explore(
    program: Program,
    model: Model,
    *,
    limits: Limits | None,
    on_execution: Callable[[Execution], None] | None,
    record_src: bool,
    progress: Progress | None = None,
) -> ExplorationResult:
    return explore(program, model, limits=limits, on_execution=on_execution,
                   record_src=record_src, progress=progress)  # fmt: skip


def _revisit(
    program: Program,
    model: Model,
    *,
    limits: Limits | None,
    on_execution: Callable[[Execution], None] | None,
    record_src: bool,
    progress: Progress | None = None,
) -> ExplorationResult:
    explorer = RevisitExplorer(program, model, limits=limits, on_execution=on_execution,
                               record_src=record_src, progress=progress)  # fmt: skip
    return explorer.run()


PROCEDURES: Final[dict[str, Procedure]] = {"explore": _explore, "revisit": _revisit}


def decide(
    program: Program,
    model: Model | str,
    *,
    engine: str = "auto",
    limits: Limits | None = None,
    on_execution: Callable[[Execution], None] | None = None,
    record_src: bool = False,
    progress: Progress | None = None,
) -> ExplorationResult:
    """Every consistent execution of ``program`` under ``model``, by ``engine``.

    With ``auto``, an incomplete revisit exploration is done again by the
    waiting explorer, and ``on_execution`` sees only the executions of the run
    whose result is returned.  ``progress`` is told now and then the
    consistent executions met (by the run going on: after an incomplete
    revisit run, the waiting explorer's counts from 0 again).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    m = get_model(model) if isinstance(model, str) else model
    if engine != "auto":
        return PROCEDURES[engine](program, m, limits=limits, on_execution=on_execution,
                                  record_src=record_src, progress=progress)  # fmt: skip
    start = time.monotonic()
    seen: list[Execution] = []  # delivered once the run is known to stand
    keep = seen.append if on_execution is not None else None
    first = _revisit(program, m, limits=limits, on_execution=keep, record_src=record_src,
                     progress=progress)  # fmt: skip
    if first.outcome is not Outcome.INCOMPLETE:
        if on_execution is not None:
            for ex in seen:
                on_execution(ex)
        return first
    rest = limits
    if limits is not None and limits.time_limit is not None:
        left = limits.time_limit - (time.monotonic() - start)
        if left <= 0:
            return replace(first, outcome=Outcome.TIME)
        rest = replace(limits, time_limit=left)
    return _explore(program, m, limits=rest, on_execution=on_execution, record_src=record_src,
                    progress=progress)  # fmt: skip


def replay(
    program: Program,
    model: Model | str,
    choices: Sequence[int],
    *,
    on_execution: Callable[[Execution], None] | None = None,
    record_src: bool = False,
) -> ExplorationResult:
    """The one execution the choice list ``choices`` names.

    Choice lists are the waiting explorer's (what :func:`decide` hands out in
    :attr:`Execution.choices` and :func:`~pinlab.engine.guide.choices_for`
    finds for an execution of any procedure).  Raises
    :class:`~pinlab.engine.explore.ReplayError` when they do not fit the
    program; the execution reaches ``on_execution`` if it is consistent.
    """
    m = get_model(model) if isinstance(model, str) else model
    return explore(program, m, on_execution=on_execution, replay=choices, record_src=record_src)
