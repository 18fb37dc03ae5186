"""Barrier what-ifs: which named barriers a scenario's paths run, and which it needs.

- :func:`barriers_of` explores a scenario (every barrier in, every what-if
  barrier added) and lists the named barriers (:mod:`pinlab.kernel.barriers`)
  its CPUs run: the barrier, the kernel function and line that runs it, the
  barrier it pairs with.
- :func:`variant` is the scenario with barriers removed (``--without``) or
  what-if barriers added (``--with``).
- :func:`each_barrier` runs the scenario once without each barrier its paths
  run: the necessity table of docs/findings.md section 2, for any scenario.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pinlab.engine import EvKind, Execution, Limits, decide
from pinlab.kernel.barriers import BARRIERS, NamedBarrier
from pinlab.kernel.index import functions
from pinlab.scenarios.base import Scenario, ScenarioResult

__all__ = ["BarrierUse", "barriers_of", "check_names", "each_barrier", "variant"]

# Enough executions to pass every barrier of a kernel path, in seconds.
SURVEY = Limits(max_executions=200, time_limit=30.0)


@dataclass(frozen=True, slots=True)
class BarrierUse:
    """A named barrier one of a scenario's CPUs runs."""

    barrier: NamedBarrier
    function: str  # the kernel function that runs it
    where: str  # its file and line, "src/pinlab/kernel/gup.py:123"
    cpus: tuple[str, ...]  # the paths (thread names) that run it
    removed: bool  # left out by the scenario's era
    added: bool  # a what-if barrier the scenario's era adds


def _where(function: str, line: int, origin: str) -> str:
    """The file and line of ``function``: the kernel model's, or the scenario file's."""
    for d in functions().get(function, []):
        if d.first <= line <= d.last:
            return f"src/pinlab/{d.path}:{line}"
    return f"{origin}:{line}" if origin else f"line {line}"  # a path of the scenario's own


def barriers_of(scenario: Scenario, limits: Limits = SURVEY) -> list[BarrierUse]:
    """The named barriers ``scenario``'s paths run, in the order first met.

    The survey runs the scenario's era with nothing removed and every what-if
    barrier added, under sc, over up to ``limits`` executions (a barrier on a
    path no explored execution takes is not listed).
    """
    era = scenario.era
    survey_era = dataclasses.replace(
        era,
        removed_barriers=frozenset(),
        added_barriers=frozenset(n for n, b in BARRIERS.items() if b.what_if),
    )
    built = dataclasses.replace(scenario, era=survey_era, model="sc").program()
    program = built.program
    seen: dict[str, tuple[str, str, set[str]]] = {}

    def note(ex: Execution) -> None:
        for ev in ex.graph.events:
            if ev.kind is not EvKind.F or ev.label not in BARRIERS or ev.tid < 0:
                continue
            function, line = ev.src[-2] if ev.src and len(ev.src) > 1 else ("?", 0)
            _f, _w, cpus = seen.setdefault(
                ev.label, (function, _where(function, line, scenario.origin), set())
            )
            cpus.add(program.thread_name(ev.tid))

    decide(program, "sc", engine="explore", limits=limits, on_execution=note, record_src=True)
    return [
        BarrierUse(
            BARRIERS[name],
            function,
            where,
            tuple(sorted(cpus)),
            removed=name in era.removed_barriers,
            added=name in era.added_barriers,
        )
        for name, (function, where, cpus) in seen.items()
    ]


def check_names(names: Iterable[str], what_if: bool | None = None) -> None:
    """Raise :class:`LookupError` for a name that is no barrier (or, with
    ``what_if`` set, not a barrier of that kind), suggesting near names."""
    for name in names:
        b = BARRIERS.get(name)
        if b is None:
            near = difflib.get_close_matches(name, BARRIERS, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else "; see pinlab barriers NAME"
            raise LookupError(f"no barrier {name!r}{hint}")
        if what_if is True and not b.what_if:
            raise LookupError(
                f"{name} is in the kernel already: --with adds a what-if barrier "
                f"(one of {', '.join(n for n, x in BARRIERS.items() if x.what_if)})"
            )
        if what_if is False and b.what_if:
            raise LookupError(f"{name} is a what-if barrier: add it with --with, not --without")


def variant(scenario: Scenario, without: Sequence[str] = (), with_: Sequence[str] = ()) -> Scenario:
    """``scenario`` with the barriers ``without`` removed and the what-if barriers
    ``with_`` added; its variant name says which."""
    check_names(without, what_if=False)
    check_names(with_, what_if=True)
    if not without and not with_:
        return scenario
    name = scenario.variant
    name += "".join(f"-no-{b}" for b in without) + "".join(f"+{b}" for b in with_)
    era = scenario.era.without(*without) if without else scenario.era
    if with_:
        era = era.adding(f"{era.name}+{'+'.join(with_)}", *with_)
    return dataclasses.replace(
        scenario,
        variant=name,
        era=era,
        base=scenario.base or scenario.variant,
        without=(*scenario.without, *without),
        added=(*scenario.added, *with_),
    )


def each_barrier(
    scenario: Scenario, limits: Limits | None = None, engine: str = "auto"
) -> list[tuple[BarrierUse, ScenarioResult]]:
    """The scenario run without each barrier its paths run (that its era has not
    removed already, and not the what-ifs): which of them it needs."""
    out: list[tuple[BarrierUse, ScenarioResult]] = []
    for use in barriers_of(scenario):
        if use.removed or use.barrier.what_if:
            continue
        result = variant(scenario, without=(use.barrier.name,)).run(limits, engine)
        out.append((use, result))
    return out
