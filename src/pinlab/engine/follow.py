"""Follow a path on another program: the executions that contain it.

:func:`follow` looks for an execution of ``program`` in which each thread
makes, among its own accesses and in program order, the accesses of a given
path (same kind and location), every read of the path seeing the value it saw
there.  The thread may make more accesses than the path (a fix that re-reads,
say), and those read whatever the model lets them.  It is how a race found on
one variant of a kernel path is asked again of the fixed variant: which values
must the fix's own reads see for the racy path to run through it?

The waiting explorer runs with a pruning rule on top of the model's: a partial
graph survives while each thread's accesses so far still match the path's
greedily (the next access of the same kind and location is the path's next
one) and no matched read has read another value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pinlab.engine.explore import Execution, Limits, explore
from pinlab.engine.graph import EvKind, ExecutionGraph
from pinlab.engine.guide import Pruning
from pinlab.engine.models.base import Model
from pinlab.engine.program import Loc, Program
from pinlab.engine.values import Sym

__all__ = ["PathStep", "follow", "path_of"]


@dataclass(frozen=True, slots=True)
class PathStep:
    """One access of a path: a read (with the value it saw) or a write."""

    kind: EvKind  # R or W
    loc: Loc
    value: Any = None  # a read's value (ignored for writes)


def path_of(graph: ExecutionGraph) -> list[list[PathStep]]:
    """Each thread's accesses in ``graph``, in program order."""
    out: list[list[PathStep]] = []
    for eids in graph.threads:
        steps = []
        for e in eids:
            ev = graph.events[e]
            if ev.kind in (EvKind.R, EvKind.W) and ev.loc is not None:
                steps.append(PathStep(ev.kind, ev.loc, ev.value if ev.kind is EvKind.R else None))
        out.append(steps)
    return out


def matching(graph: ExecutionGraph, tid: int, path: Sequence[PathStep]) -> dict[int, int]:
    """Thread ``tid``'s accesses in ``graph`` matched greedily to ``path``:
    path position -> eid."""
    out: dict[int, int] = {}
    i = 0
    for e in graph.threads[tid]:
        if i == len(path):
            break
        ev = graph.events[e]
        if ev.kind is path[i].kind and ev.loc == path[i].loc:
            out[i] = e
            i += 1
    return out


class _Following(Pruning):
    """``model``, pruning every partial graph that has left the path."""

    reason = "off-the-path"

    def __init__(self, model: Model, path: Sequence[Sequence[PathStep]]) -> None:
        super().__init__(model)
        self.path = path

    def _fits(self, g: ExecutionGraph, complete: bool) -> bool:
        for tid, path in enumerate(self.path):
            if tid >= len(g.threads):
                return False
            matched = matching(g, tid, path)
            if complete and len(matched) < len(path):
                return False
            for i, e in matched.items():
                if path[i].kind is not EvKind.R:
                    continue
                w = g.rf[e]
                if w < 0:
                    continue  # (not bound yet)
                value = g.events[w].value
                if type(value) is not Sym and value != path[i].value:
                    return False
                if complete and g.events[e].value != path[i].value:
                    return False
        return True


def follow(
    program: Program,
    model: Model,
    path: Sequence[Sequence[PathStep]],
    *,
    record_src: bool = False,
    time_limit: float | None = 60.0,
) -> Execution | None:
    """An execution of ``program`` under ``model`` that runs through ``path``
    (see the module docstring), or None when there is none.  Raises
    :class:`TimeoutError` when ``time_limit`` ends the search first."""
    found: list[Execution] = []
    result = explore(
        program,
        _Following(model, path),
        limits=Limits(stop_at_first=True, time_limit=time_limit),
        on_execution=found.append,
        record_src=record_src,
    )
    if found:
        return found[0]
    if result.outcome.value != "complete":
        raise TimeoutError(f"{program.name}: stopped by its {result.outcome.value}")
    return None
