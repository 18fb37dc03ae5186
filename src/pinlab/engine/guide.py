"""Find a given execution with the waiting explorer: its choice list, checked again.

Any decision procedure may find an execution; only the waiting explorer
(:mod:`pinlab.engine.explore`) names executions by a choice list, which is
what ``pinlab explain --save`` writes and ``pinlab replay`` reads.  Given a
target graph, :func:`choices_for` runs that explorer with a pruning rule on
top of the model's own: a partial graph survives only while it can still
grow into the target -- every event at the place (thread, index) the target
has one of the same kind and location, every bound read reading the write the
target's does, every write where the target has it in coherence, and no read
waiting for a write that already exists.  The first complete execution is
then the target, found again and checked again by the explorer's model, so a
witness from another back end is trusted exactly as far as the explorer is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pinlab.engine.explore import Execution, Limits, explore
from pinlab.engine.graph import EvKind, ExecutionGraph
from pinlab.engine.models.base import Change, Model, Verdict
from pinlab.engine.program import Program
from pinlab.engine.values import Sym

__all__ = ["NotFound", "Pruning", "choices_for"]

_Name = tuple[int, int] | str


class NotFound(RuntimeError):
    """The waiting explorer does not produce the target execution."""


def _name(g: ExecutionGraph, e: int) -> _Name:
    ev = g.events[e]
    return (ev.tid, ev.idx) if ev.tid >= 0 else f"init:{ev.loc}"


@dataclass(frozen=True, slots=True)
class _Target:
    events: dict[tuple[int, int], Any]  # (tid, idx) -> Event
    rf: dict[tuple[int, int], _Name]
    co: dict[Any, dict[_Name, int]]  # loc -> name -> position

    @staticmethod
    def of(g: ExecutionGraph) -> _Target:
        events = {(e.tid, e.idx): e for e in g.events if e.tid >= 0}
        rf = {(g.events[r].tid, g.events[r].idx): _name(g, w) for r, w in g.reads_from().items()}
        co = {loc: {_name(g, w): i for i, w in enumerate(ws)} for loc, ws in g.co.items()}
        return _Target(events, rf, co)


class Pruning:
    """``model``, with a pruning rule of its own on top: a graph (partial, or
    complete) survives only while :meth:`_fits` says it may still be wanted;
    a complete one that does not fit fails with ``reason``."""

    reason = "pruned"

    def __init__(self, model: Model) -> None:
        self.inner = model
        self.name = model.name
        self.allows_porf_cycles = model.allows_porf_cycles
        self.acquire_orders_later = model.acquire_orders_later

    def check(self, g: ExecutionGraph) -> Verdict:
        if not self._fits(g, complete=True):
            return Verdict(False, self.reason)
        return self.inner.check(g)

    def check_partial(self, g: ExecutionGraph, change: Change) -> bool:
        return self._fits(g, complete=False) and self.inner.check_partial(g, change)

    def _fits(self, g: ExecutionGraph, complete: bool) -> bool:
        raise NotImplementedError


class _GuidedModel(Pruning):
    """``model``, pruning every partial graph that is not part of the target."""

    reason = "not-the-target"

    def __init__(self, model: Model, target: _Target) -> None:
        super().__init__(model)
        self.target = target

    def _fits(self, g: ExecutionGraph, complete: bool) -> bool:
        t = self.target
        present = set()
        for e in g.events:
            if e.tid < 0:
                continue
            want = t.events.get((e.tid, e.idx))
            if want is None or want.kind is not e.kind or want.loc != e.loc:
                return False
            if (
                e.kind in (EvKind.W, EvKind.LKW, EvKind.UL)
                and type(e.value) is not Sym
                and complete
                and want.value != e.value
            ):
                return False
            present.add((e.tid, e.idx))
        last = g.events[-1] if g.events else None
        newest = (last.tid, last.idx) if last is not None and last.tid >= 0 else None
        for r, w in enumerate(g.rf):
            ev = g.events[r]
            if ev.tid < 0 or ev.kind is EvKind.LKR:
                continue
            src = t.rf.get((ev.tid, ev.idx))
            if w >= 0:
                if _name(g, w) != src:
                    return False
            # a read waits only for a write still to come (or the one being
            # placed now: it binds its readers once it has its place)
            elif (
                ev.kind is EvKind.R
                and src is not None
                and (isinstance(src, str) or (src in present and src != newest))
            ):
                return False
        for loc, ws in g.co.items():
            order = t.co.get(loc)
            if order is None:
                return False
            prev = -1
            for w in ws:
                pos = order.get(_name(g, w))
                if pos is None or pos < prev:
                    return False
                prev = pos
        if complete:
            return len(present) == len(t.events)
        return True


def choices_for(
    program: Program,
    model: Model,
    target: ExecutionGraph,
    *,
    record_src: bool = False,
    time_limit: float | None = 60.0,
) -> Execution:
    """The waiting explorer's execution equal to ``target`` (with its choices).

    Raises :class:`NotFound` when the explorer does not reach it: a bug in one
    of the two procedures, since both enumerate the same consistent executions.
    """
    found: list[Execution] = []
    guided = _GuidedModel(model, _Target.of(target))
    explore(
        program,
        guided,
        limits=Limits(stop_at_first=True, time_limit=time_limit),
        on_execution=found.append,
        record_src=record_src,
    )
    if not found:
        raise NotFound(f"{program.name}: the explorer does not reach the execution found")
    ex = found[0]
    return Execution(ex.graph, ex.final, model.check(ex.graph), ex.choices)
