"""A scenario's race as a C litmus test, for the LKMM maintainers and herd7.

:func:`export` takes the counterexample of a scenario (or, for a variant where
the race is fixed, the counterexample of a sibling variant where it is not,
run again on the fixed variant's code) and keeps the accesses of its weak
cycle (:func:`pinlab.report.why.weak_cycle`): for each CPU, the cycle's
accesses in program order and every barrier, fully ordered atomic, lock and
RCU read-side section between them, as the path ran them.  The ``exists``
clause asks for the values the cycle's reads saw; the initial values are the
ones they read from outside the cycle.  A comment names the kernel function
each access comes from.

So the test asks the LKMM exactly the question the kernel paths pose,
without the rest of the path: for the racy variant the answer is Sometimes,
and for the fixed one (the same path, with the barriers the fix adds) Never.
What is left out is said in the test's comment: the accesses outside the
cycle, and the dependencies (address, data, control) the kernel code has
between the kept accesses, which a straight-line test does not carry.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pinlab.engine import Event, EvKind, ExecutionGraph, Limits, ReplayError, get_model, replay
from pinlab.report.kterms import describe_loc, source_of
from pinlab.report.why import weak_cycle
from pinlab.scenarios.base import Scenario, Verdict
from pinlab.scenarios.explain import Counterexample, find_counterexample

__all__ = ["ExportError", "Exported", "Undecided", "export"]

_FENCES = {
    "mb": "smp_mb()",
    "rmb": "smp_rmb()",
    "wmb": "smp_wmb()",
    "before-atomic": "smp_mb__before_atomic()",
    "after-atomic": "smp_mb__after_atomic()",
    "after-spinlock": "smp_mb__after_spinlock()",
    "after-unlock-lock": "smp_mb__after_unlock_lock()",
    "sync-rcu": "synchronize_rcu()",
    "rcu-lock": "rcu_read_lock()",
    "rcu-unlock": "rcu_read_unlock()",
}
_XCHG = {"mb": "xchg", "acquire": "xchg_acquire", "release": "xchg_release"}


class ExportError(ValueError):
    """The scenario has no race to export (or its path cannot be followed)."""


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
) -> Counterexample:
    """``scenario``'s counterexample, else the first of ``candidates``' whose path
    runs on ``scenario``; each search within ``limits``."""
    deadline = None if limits is None or limits.time_limit is None else (
        time.monotonic() + limits.time_limit
    )  # fmt: skip
    for s in (scenario, *candidates):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise Undecided(f"stopped by the time limit before a path was found for {scenario.key}")
        explanation = find_counterexample(s, Limits(time_limit=left))
        if explanation.best is not None and s is scenario:
            return explanation.best
        if explanation.best is not None:
            try:
                _follow(scenario, explanation.best)
            except ExportError:
                continue
            return explanation.best
        if explanation.verdict is Verdict.INCONCLUSIVE:
            why = explanation.exploration.outcome.value
            raise Undecided(f"could not decide {s.key}: stopped by its {why}")
    raise ExportError(
        f"{scenario.key} has no counterexample, and no variant of {scenario.name} under "
        f"{scenario.model} has one whose path runs on it"
    )


class _Names:
    """C names for locations and registers."""

    def __init__(self) -> None:
        self.locs: dict[str, str] = {}
        self.regs: dict[int, str] = {}
        self.locks: set[str] = set()  # (spinlock_t, not int)

    def loc(self, ev: Event) -> str:
        key = str(ev.loc)
        if key not in self.locs:
            base = re.sub(r"\W+", "_", key).strip("_") or "x"
            if base[0].isdigit():
                base = "v" + base
            name, n = base, 1
            while name in self.locs.values():
                n += 1
                name = f"{base}_{n}"
            self.locs[key] = name
        return self.locs[key]

    def reg(self, ev: Event, per_thread: dict[int, int]) -> str:
        if ev.eid not in self.regs:
            n = per_thread.get(ev.tid, 0)
            per_thread[ev.tid] = n + 1
            self.regs[ev.eid] = f"r{n}"
        return self.regs[ev.eid]


def _int(value: Any, ev: Event) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExportError(f"event {ev.eid} has a value litmus tests cannot hold: {value!r}")
    return value


def _statement(graph: ExecutionGraph, ev: Event, names: _Names, regs: dict[int, int]) -> str:
    """``ev`` as a C statement of herd7's dialect."""
    if ev.kind is EvKind.F:
        return f"{_FENCES[str(ev.tag)]};"
    if ev.kind is EvKind.LKW:
        names.locks.add(names.loc(ev))
        return f"spin_lock({names.loc(ev)});"
    if ev.kind is EvKind.UL:
        names.locks.add(names.loc(ev))
        return f"spin_unlock({names.loc(ev)});"
    x = names.loc(ev)
    if ev.kind is EvKind.R and ev.rmw >= 0:  # a successful atomic read-modify-write
        new = _int(graph.events[ev.rmw].value, graph.events[ev.rmw])
        op = _XCHG.get(str(ev.tag), "xchg_relaxed")
        return f"{names.reg(ev, regs)} = {op}({x}, {new});"
    if ev.kind is EvKind.R:
        r = names.reg(ev, regs)
        if ev.tag == "acquire":
            return f"{r} = smp_load_acquire({x});"
        return f"{r} = READ_ONCE(*{x});"  # (a failed cmpxchg: a marked read, unordered)
    value = _int(ev.value, ev)
    if ev.tag == "release":
        return f"smp_store_release({x}, {value});"
    return f"WRITE_ONCE(*{x}, {value});"


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
            or (e.kind is EvKind.F and str(e.tag) in _FENCES)
        ):
            out.append(e)
        elif e.kind is EvKind.R and e.rmw >= 0 and e.tag == "mb":
            out.append(e)  # a fully ordered atomic: a full barrier around it
        elif e.kind in (EvKind.LKW, EvKind.UL):
            out.append(e)
    return _balanced(events[: idx[0]], out, events[idx[-1] + 1 :])


def _balanced(before: list[Event], kept: list[Event], after: list[Event]) -> list[Event]:
    """``kept`` with the locks and RCU sections it is inside of opened before it
    and closed after it, and those it opens closed."""
    held: list[Event] = []  # locks and RCU sections open at the start of kept
    for e in before:
        if e.kind is EvKind.LKW or (e.kind is EvKind.F and e.tag == "rcu-lock"):
            held.append(e)
        elif e.kind is EvKind.UL:
            held = [h for h in held if not (h.kind is EvKind.LKW and h.loc == e.loc)]
        elif e.kind is EvKind.F and e.tag == "rcu-unlock":
            for i in range(len(held) - 1, -1, -1):
                if held[i].kind is EvKind.F:
                    del held[i]
                    break
    opened = list(held)
    for e in kept:
        if e.kind is EvKind.LKW or (e.kind is EvKind.F and e.tag == "rcu-lock"):
            opened.append(e)
        elif e.kind is EvKind.UL or (e.kind is EvKind.F and e.tag == "rcu-unlock"):
            rcu = e.kind is EvKind.F
            for i in range(len(opened) - 1, -1, -1):
                o = opened[i]
                if (rcu and o.kind is EvKind.F) or (
                    not rcu and o.kind is EvKind.LKW and o.loc == e.loc
                ):
                    del opened[i]
                    break
    closing = [
        next(a for a in after if (a.kind is EvKind.UL and a.loc == o.loc) or
             (o.kind is EvKind.F and a.kind is EvKind.F and a.tag == "rcu-unlock"))
        for o in reversed(opened)
    ]  # fmt: skip
    return [*held, *kept, *closing]


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
    cex = _counterexample(scenario, _siblings(scenario, pool), limits)
    source = cex.execution.graph
    cycle = weak_cycle(source)
    if cycle is None:
        raise ExportError(
            f"the counterexample of {cex.scenario.key} is an interleaving (sequential "
            "consistency allows it): a litmus test of it would ask nothing of the memory model"
        )
    graph = source if cex.scenario.key == scenario.key else _follow(scenario, cex)
    ids = _mapping(source, graph)
    cycle_eids = {ids[x.src] for x in cycle} | {ids[x.dst] for x in cycle}
    return Exported(scenario, cex.scenario, _render(scenario, cex, graph, source, cycle_eids, ids))


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
    names = _Names()
    regs: dict[int, int] = {}
    back = {v: k for k, v in ids.items()}
    program = scenario.program().program
    threads: list[tuple[int, list[str]]] = []
    init: dict[str, int] = {}
    exists: list[str] = []
    for tid in range(len(graph.threads)):
        body: list[str] = []
        for ev in _kept(graph, tid, cycle_eids):
            stmt = _statement(graph, ev, names, regs)
            where = source_of(ev.src)
            origin = f"{where.function}() {where.origin or ''}".strip() if where else ""
            if ev.label:
                origin = f"{ev.label} in {origin}" if origin else ev.label
            body.append(f"\t{stmt}" + (f"  /* {origin} */" if origin else ""))
            if ev.eid in cycle_eids and ev.kind is EvKind.R:
                seen = source.events[back[ev.eid]]  # the value the racy path read
                value = _int(seen.value, seen)
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
    return _text(scenario, cex, names, threads, init, exists)


def _text(
    scenario: Scenario,
    cex: Counterexample,
    names: _Names,
    threads: list[tuple[int, list[str]]],
    init: dict[str, int],
    exists: list[str],
) -> str:
    name = re.sub(r"[^\w.+-]+", "-", f"{scenario.name}-{scenario.variant}")
    program = scenario.program().program
    head = [
        f"C {name}",
        "",
        "(*",
        f" * {scenario.title}",
        f" * Exported by pinlab from {scenario.key} ({scenario.source}).",
        f" * Forbidden: {scenario.forbidden}.",
    ]
    if cex.scenario.key != scenario.key:
        head.append(
            f" * The path is the counterexample of {cex.scenario.key}, run on this era's code."
        )
    head += [
        " * Kept: each CPU's accesses of the weak cycle, in program order, and the",
        " * barriers, fully ordered atomics, locks and RCU sections between them;",
        " * left out: the rest of each path and the dependencies between the kept",
        " * accesses (address, data, control).  The exists clause asks for the",
        " * values the racy path read.",
        " * Locations:",
        *(f" *   {c}: {describe_loc(k)}" for k, c in names.locs.items()),
        f" * Expected under lkmm: {_expected(scenario)}",
        " *)",
        "",
        "{",
        *(f"\t{c}={v};" for c, v in sorted(init.items()) if c not in names.locks),
        "}",
    ]
    body: list[str] = []
    for tid, lines in threads:
        params = ", ".join(
            f"{'spinlock_t' if c in names.locks else 'int'} *{c}"
            for c in sorted(names.locs.values())
            if _uses(lines, c)
        )
        regs = sorted(
            {m for line in lines for m in re.findall(r"\b(r\d+) =", line)}, key=lambda r: int(r[1:])
        )
        body += ["", f"P{tid}({params})", "{", f"\t/* CPU{tid}: {program.thread_name(tid)} */"]
        body += [f"\tint {r};" for r in regs]
        body += [*lines, "}"]
    condition = " /\\ ".join(exists)
    return "\n".join([*head, *body, "", f"exists ({condition})", ""])


def _expected(scenario: Scenario) -> str:
    return "Sometimes" if scenario.expected.value == "reachable" else "Never"


def _uses(lines: list[str], name: str) -> bool:
    return any(re.search(rf"\b{re.escape(name)}\b", line) for line in lines)
