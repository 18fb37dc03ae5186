"""A scenario's race as a C litmus test, for the LKMM maintainers and herd7.

:func:`export` takes the counterexample of a scenario (or, for a variant where
the race is fixed, the counterexample of a sibling variant where it is not,
run again on the fixed variant's code) and keeps, for each CPU, in program
order and as the path ran them:

- for a weak race, the accesses of its weak cycle
  (:func:`pinlab.report.why.weak_cycle`), the ``exists`` clause asking for
  the values the cycle's reads saw (the initial values: the ones they read
  from outside the cycle);
- for an interleaving (no weak cycle: sequential consistency allows it),
  every access to a location the CPUs share (one of them writing), the
  ``exists`` clause asking for every kept read's value;

with every barrier, fully ordered atomic, lock and RCU read-side section
between them.  A comment names the kernel function each access comes from.

So the test asks the memory model exactly the question the kernel paths
pose, without the rest of the path: for the racy variant the answer is
Sometimes, and for the fixed one (the same path, with the barriers, locks or
re-reads the fix adds) Never.  A weak race's path is followed on the fixed
code by its choices; an interleaving's by its accesses
(:func:`pinlab.engine.follow.follow`), the fix's own reads seeing whatever
lets the path through.  When no such path exists the fix is in what the code
decides, not in the order of its accesses, and :class:`ExportError` says so.
What is left out is said in the test's comment: the accesses outside the
slice, and the dependencies (address, data, control) the kernel code has
between the kept accesses, which a straight-line test does not carry.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pinlab.engine import (
    Event,
    EvKind,
    ExecutionGraph,
    Limits,
    ReplayError,
    follow,
    get_model,
    path_of,
    replay,
)
from pinlab.report.kterms import source_of
from pinlab.report.why import weak_cycle
from pinlab.scenarios.base import Scenario, Verdict
from pinlab.scenarios.explain import Counterexample, find_counterexample
from pinlab.scenarios.litmus_text import (
    FENCES,
    ExportError,
    Names,
    balanced,
    int_value,
    statement,
    text,
)

__all__ = ["ExportError", "Exported", "Undecided", "export"]


_CYCLE = (
    "Kept: each CPU's accesses of the weak cycle, in program order, and the",
    "barriers, fully ordered atomics, locks and RCU sections between them;",
    "left out: the rest of each path and the dependencies between the kept",
    "accesses (address, data, control).  The exists clause asks for the",
    "values the racy path read.",
)


_SHARED = (
    "The race is an interleaving: sequential consistency allows it.  Kept:",
    "each CPU's accesses to the locations the CPUs share (one of them writing),",
    "in program order, and the barriers, fully ordered atomics, shared locks",
    "and RCU sections between them; left out: the rest of each path, the locks",
    "only one CPU takes, and the dependencies between the kept accesses",
    "(address, data, control).  The exists clause asks for the value of every",
    "kept read on the racy path.",
)


class Undecided(ExportError):
    """A search for a counterexample stopped at a bound (the time limit, a loop
    bound) before it could say whether there is one."""


@dataclass(frozen=True, slots=True)
class Exported:
    scenario: Scenario
    path_from: Scenario  # the variant whose counterexample gave the path
    text: str  # the litmus test


def _permissive(model_name: str) -> Any:
    """``model_name``'s model, accepting every execution: to follow a path the
    fixed variant forbids."""
    model = get_model(model_name)

    class Follow:
        name = model.name
        allows_porf_cycles = model.allows_porf_cycles
        acquire_orders_later = model.acquire_orders_later

        def check(self, g: ExecutionGraph) -> Any:
            return dataclasses.replace(model.check(g), consistent=True, failed=None)

        def check_partial(self, g: ExecutionGraph, change: Any) -> bool:
            return True

    return Follow()


def _accesses(graph: ExecutionGraph, tid: int) -> list[Event]:
    return [
        graph.events[e] for e in graph.threads[tid] if graph.events[e].kind in (EvKind.R, EvKind.W)
    ]


def _follow(scenario: Scenario, cex: Counterexample) -> ExecutionGraph:
    """The path of ``cex`` on ``scenario``'s code (whose model may forbid it)."""
    built = scenario.program()
    found: list[Any] = []
    try:
        replay(built.program, _permissive(scenario.model), cex.choices,
               on_execution=found.append, record_src=True)  # fmt: skip
    except ReplayError as err:
        raise ExportError(
            f"the path of {cex.scenario.key} does not fit {scenario.key}: {err}"
        ) from None
    if not found:
        raise ExportError(f"the path of {cex.scenario.key} ends early on {scenario.key}")
    graph: ExecutionGraph = found[0].graph
    source = cex.execution.graph
    for tid in range(len(source.threads)):
        if _matched(_accesses(source, tid), _accesses(graph, tid)) is None:
            raise ExportError(
                f"{scenario.key} takes another path than {cex.scenario.key} on CPU{tid}"
            )
    return graph


def _along(scenario: Scenario, cex: Counterexample, limits: Limits | None) -> ExecutionGraph:
    """An execution of ``scenario``'s code that makes the accesses of ``cex``'s
    path, its reads seeing the same values; the fix's own reads see whatever
    lets the path run through (any write to their location: the model is not
    asked here, the exported test asks it)."""
    left = None if limits is None else limits.time_limit
    try:
        found = follow(
            scenario.program().program,
            _permissive(scenario.model),
            path_of(cex.execution.graph),
            record_src=True,
            time_limit=60.0 if left is None else left,
        )
    except TimeoutError:
        raise Undecided(
            f"stopped by the time limit while following the path of {cex.scenario.key} "
            f"on {scenario.key}"
        ) from None
    if found is None:
        raise ExportError(
            f"the path of {cex.scenario.key} cannot run on {scenario.key}'s code, whatever "
            "its reads see"
        )
    return found.graph


def _matched(source: list[Event], graph: list[Event]) -> dict[int, int] | None:
    """Each access of ``source`` -> the same access (kind and location) of ``graph``,
    in order; ``graph`` may have more (a fix that re-reads, say).  None: it lacks one."""
    out: dict[int, int] = {}
    rest = iter(graph)
    for a in source:
        b = next((b for b in rest if (b.kind, b.loc) == (a.kind, a.loc)), None)
        if b is None:
            return None
        out[a.eid] = b.eid
    return out


def _counterexample(
    scenario: Scenario, candidates: Sequence[Scenario], limits: Limits | None
) -> tuple[Counterexample, ExecutionGraph]:
    """``scenario``'s counterexample, else the first of ``candidates``' whose path
    runs on ``scenario``, with that path on ``scenario``'s code; each search
    within ``limits``."""
    deadline = None if limits is None or limits.time_limit is None else (
        time.monotonic() + limits.time_limit
    )  # fmt: skip
    misfits: list[str] = []
    for s in (scenario, *candidates):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise Undecided(f"stopped by the time limit before a path was found for {scenario.key}")
        explanation = find_counterexample(s, Limits(time_limit=left))
        best = explanation.best
        if best is not None and s is scenario:
            return best, best.execution.graph
        if best is not None:
            weak = weak_cycle(best.execution.graph) is not None
            try:
                if weak:
                    return best, _follow(scenario, best)
                return best, _along(scenario, best, Limits(time_limit=left))
            except Undecided:
                raise
            except ExportError:
                misfits.append(f"{s.variant} ({'weak' if weak else 'an interleaving'})")
                continue
        if explanation.verdict is Verdict.INCONCLUSIVE:
            why = explanation.exploration.outcome.value
            raise Undecided(f"could not decide {s.key}: stopped by its {why}")
    if misfits:
        raise ExportError(
            f"{scenario.key} has no counterexample, and the racy path of "
            f"{', '.join(misfits)} cannot run on its code whatever its reads see: the fix "
            "changes what the code does with the values it reads, not the order of its "
            "accesses, and a litmus test of the accesses cannot show that"
        )
    raise ExportError(
        f"{scenario.key} has no counterexample, and no variant of {scenario.name} under "
        f"{scenario.model} is expected to race"
    )


def _kept(graph: ExecutionGraph, tid: int, cycle_eids: set[int]) -> list[Event]:
    """CPU ``tid``'s events from its first cycle access to its last: the cycle's
    accesses and what orders them (fences, fully ordered atomics, locks, RCU)."""
    events = [graph.events[e] for e in graph.threads[tid]]
    idx = [i for i, e in enumerate(events) if e.eid in cycle_eids or e.rmw in cycle_eids]
    if not idx:
        return []
    out: list[Event] = []
    for e in events[idx[0] : idx[-1] + 1]:
        if e.kind is EvKind.W and e.rmw >= 0:
            continue  # (an atomic read-modify-write is one statement, at its read)
        if (
            e.eid in cycle_eids
            or (e.kind is EvKind.R and e.rmw in cycle_eids)
            or (e.kind is EvKind.F and str(e.tag) in FENCES)
        ):
            out.append(e)
        elif e.kind is EvKind.R and e.rmw >= 0 and e.tag == "mb":
            out.append(e)  # a fully ordered atomic: a full barrier around it
        elif e.kind in (EvKind.LKW, EvKind.UL):
            out.append(e)
    return balanced(events[: idx[0]], out, events[idx[-1] + 1 :])


def _siblings(scenario: Scenario, pool: Sequence[Scenario]) -> list[Scenario]:
    """The variants of ``scenario``'s family under its model expected to race,
    nearest era first (then in the catalogue's order)."""
    racy = [
        s
        for s in pool
        if s.name == scenario.name
        and s.model == scenario.model
        and s.key != scenario.key
        and s.expected.value == "reachable"
    ]
    return sorted(racy, key=lambda s: abs(s.era.order - scenario.era.order))


def export(
    scenario: Scenario, pool: Sequence[Scenario] = (), limits: Limits | None = None
) -> Exported:
    """``scenario``'s race as a litmus test (see the module docstring).

    ``pool`` holds the variants to take a path from when ``scenario`` has no
    counterexample of its own (the catalogue, or a scenario file's);
    ``limits.time_limit`` bounds the searches for a counterexample, together.
    """
    cex, graph = _counterexample(scenario, _siblings(scenario, pool), limits)
    source = cex.execution.graph
    cycle = weak_cycle(source)
    if cycle is None:  # an interleaving: sequential consistency allows it
        return Exported(scenario, cex.scenario, _render_shared(scenario, cex, graph))
    ids = _mapping(source, graph)
    cycle_eids = {ids[x.src] for x in cycle} | {ids[x.dst] for x in cycle}
    return Exported(scenario, cex.scenario, _render(scenario, cex, graph, source, cycle_eids, ids))


def _render_shared(scenario: Scenario, cex: Counterexample, graph: ExecutionGraph) -> str:
    """The test of an interleaving: each CPU's accesses to the locations the CPUs
    share, every read's value asked for."""
    users: dict[Any, set[int]] = {}
    written: set[Any] = set()
    for ev in graph.events:
        if ev.tid >= 0 and ev.kind in (EvKind.R, EvKind.W, EvKind.LKW):
            users.setdefault((ev.kind is EvKind.LKW, ev.loc), set()).add(ev.tid)
            if ev.kind is not EvKind.R:
                written.add((ev.kind is EvKind.LKW, ev.loc))
    shared = {k for k, tids in users.items() if len(tids) > 1 and k in written}
    keep = {
        ev.eid
        for ev in graph.events
        if ev.tid >= 0
        and ev.kind in (EvKind.R, EvKind.W, EvKind.LKW)
        and (ev.kind is EvKind.LKW, ev.loc) in shared
    }
    if not keep:
        raise ExportError(f"the path of {cex.scenario.key} shares no location between its CPUs")
    names = Names()
    regs: dict[int, int] = {}
    program = scenario.program().program
    threads: list[tuple[int, list[str]]] = []
    exists: list[str] = []
    for tid in range(len(graph.threads)):
        body: list[str] = []
        for ev in _kept(graph, tid, keep):
            if ev.kind in (EvKind.LKW, EvKind.UL) and (True, ev.loc) not in shared:
                continue  # a lock no other CPU takes
            body.append(f"\t{statement(graph, ev, names, regs)}" + _origin(ev))
            if ev.eid in keep and ev.kind is EvKind.R:
                exists.append(f"{tid}:{names.regs[ev.eid]}={int_value(ev.value, ev)}")
        if body:
            threads.append((tid, body))
    locs = {str(e.loc): e.loc for e in graph.events if e.loc is not None}
    init: dict[str, int] = {}
    for key, name in names.locs.items():
        initial = program.init.get(locs[key])
        if isinstance(initial, int) and not isinstance(initial, bool):
            init[name] = initial
    return text(scenario, cex.scenario, _SHARED, names, threads, init, exists)


def _origin(ev: Event) -> str:
    """`` /* the kernel function of ev */``, or nothing."""
    where = source_of(ev.src)
    origin = f"{where.function}() {where.origin or ''}".strip() if where else ""
    if ev.label:
        origin = f"{ev.label} in {origin}" if origin else ev.label
    return f"  /* {origin} */" if origin else ""


def _mapping(source: ExecutionGraph, graph: ExecutionGraph) -> dict[int, int]:
    """Each access of ``source`` -> the same access (CPU, position) in ``graph``."""
    out: dict[int, int] = {}
    for tid in range(len(source.threads)):
        matched = _matched(_accesses(source, tid), _accesses(graph, tid))
        assert matched is not None, "checked by _follow"
        out.update(matched)
    return out


def _render(
    scenario: Scenario,
    cex: Counterexample,
    graph: ExecutionGraph,
    source: ExecutionGraph,
    cycle_eids: set[int],
    ids: dict[int, int],
) -> str:
    names = Names()
    regs: dict[int, int] = {}
    back = {v: k for k, v in ids.items()}
    program = scenario.program().program
    threads: list[tuple[int, list[str]]] = []
    init: dict[str, int] = {}
    exists: list[str] = []
    for tid in range(len(graph.threads)):
        body: list[str] = []
        for ev in _kept(graph, tid, cycle_eids):
            body.append(f"\t{statement(graph, ev, names, regs)}" + _origin(ev))
            if ev.eid in cycle_eids and ev.kind is EvKind.R:
                seen = source.events[back[ev.eid]]  # the value the racy path read
                value = int_value(seen.value, seen)
                exists.append(f"{tid}:{names.regs[ev.eid]}={value}")
                if ids.get(source.rf[seen.eid]) not in cycle_eids:  # read from outside
                    init.setdefault(names.loc(ev), value)
        if body:
            threads.append((tid, body))
    locs = {str(e.loc): e.loc for e in graph.events if e.loc is not None}
    for key, name in names.locs.items():  # the rest start as the setup left them
        initial = program.init.get(locs[key])
        if name not in init and isinstance(initial, int) and not isinstance(initial, bool):
            init[name] = initial
    return text(scenario, cex.scenario, _CYCLE, names, threads, init, exists)
