"""Why a weak outcome is allowed: the cycle that sequential consistency forbids.

An execution that no interleaving can produce has a cycle in
``po | rf | co | fr``: each CPU's accesses in program order, joined by the
communications between CPUs.  A reviewer asking "which barrier is missing"
wants the shortest such cycle: its program-order edges are the places where
ordering would have to come from, and the kind of each edge (a write before
a write, a read before a read, a write before a read) says which barrier
could supply it.  Two edges with ``rf`` and ``fr`` between them is message
passing; two ``fr`` edges are store buffering; two ``rf`` edges are load
buffering -- the shapes the linux-mm threads argue in.

:func:`weak_cycle` finds the cycle with the fewest communication edges (then
the fewest events); :func:`describe_cycle` says it in kernel terms.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pinlab.engine import Event, EvKind, ExecutionGraph

__all__ = ["Edge", "cycle_record", "describe_cycle", "weak_cycle", "weak_cycles"]

_ORDERING: dict[tuple[bool, bool], str] = {
    (True, True): "W→W",
    (False, False): "R→R",
    (True, False): "W→R",
    (False, True): "R→W",
}
# What each kind of program-order edge needs, in the kernel's vocabulary.
_NEEDS: dict[str, str] = {
    "W→W": "smp_wmb(), smp_store_release() of the second or a full barrier",
    "R→R": "smp_rmb(), smp_load_acquire() of the first, a dependency or a full barrier",
    "W→R": "a full barrier: smp_mb() or a fully ordered atomic",
    "R→W": "a dependency, smp_load_acquire(), smp_store_release() or any barrier",
}


_FIRST: dict[str, str] = {"acquire": "an acquire read", "mb": "a fully ordered atomic"}
_SECOND: dict[str, str] = {"release": "a release write", "mb": "a fully ordered atomic"}


@dataclass(frozen=True, slots=True)
class Edge:
    src: int  # eid
    dst: int  # eid
    rel: str  # "po", "rf", "co" or "fr"


def _memory(ev: Event) -> bool:
    return ev.tid >= 0 and ev.loc is not None and ev.kind in (EvKind.R, EvKind.W)


def _communications(graph: ExecutionGraph) -> dict[int, list[Edge]]:
    """rf, co and fr edges between different CPUs, by source event."""
    out: dict[int, list[Edge]] = {}
    events = graph.events
    for rel, a, b in graph.communications(transitive=True):
        if events[a].tid >= 0 and events[b].tid >= 0 and events[a].tid != events[b].tid:
            out.setdefault(a, []).append(Edge(a, b, rel))
    return out


def weak_cycle(graph: ExecutionGraph) -> list[Edge] | None:
    """The shortest cycle of ``po | rf | co | fr`` (fewest communications first), or None."""
    cycles = weak_cycles(graph)
    return cycles[0] if cycles else None


def weak_cycles(graph: ExecutionGraph, limit: int = 3) -> list[list[Edge]]:
    """Up to ``limit`` different shortest cycles (an outcome is often weak in more than one way)."""
    comm = _communications(graph)
    events = graph.events
    memory = [e.eid for e in events if _memory(e)]
    later: dict[int, list[int]] = {}
    for eids in graph.threads:
        mem = [e for e in eids if _memory(events[e])]
        for i, e in enumerate(mem):
            later[e] = mem[i + 1 :]

    def successors(e: int) -> list[Edge]:
        out = [Edge(e, x.dst, x.rel) for x in comm.get(e, ()) if _memory(events[x.dst])]
        # a cycle never needs two po edges in a row: po is transitive
        return out + [Edge(e, d, "po") for d in later.get(e, ())]

    best: list[Edge] | None = None
    found: dict[frozenset[Edge], list[Edge]] = {}

    def cost(path: list[Edge]) -> tuple[int, int]:
        return sum(1 for x in path if x.rel != "po"), len(path)

    for start in memory:
        # breadth-first by (communications, length): 0-1 BFS over the state (event, last-was-po)
        seen: dict[tuple[int, bool], tuple[int, int]] = {}
        queue: deque[tuple[int, bool, list[Edge]]] = deque([(start, False, [])])
        while queue:
            e, after_po, path = queue.popleft()
            if best is not None and cost(path) >= cost(best):
                continue  # every extension costs more than the best cycle
            for edge in successors(e):
                if edge.rel == "po" and after_po:
                    continue
                step = [*path, edge]
                if edge.dst == start:
                    if not any(x.rel == "po" for x in step):
                        continue
                    if best is None or cost(step) < cost(best):
                        best = step
                        found = {frozenset(step): step}
                    elif cost(step) == cost(best):
                        found.setdefault(frozenset(step), step)
                    continue
                key = (edge.dst, edge.rel == "po")
                c = cost(step)
                if key in seen and seen[key] <= c:
                    continue
                seen[key] = c
                if edge.rel == "po":
                    queue.appendleft((edge.dst, True, step))
                else:
                    queue.append((edge.dst, False, step))
    return list(found.values())[:limit]


def _orders(e: Event) -> bool:
    """Does ``e`` order accesses around it (a barrier or a fully ordered atomic)?"""
    if e.kind is EvKind.F:
        return e.tag not in ("rcu-lock", "rcu-unlock", "barrier")
    return e.kind is EvKind.R and e.rmw >= 0 and e.tag == "mb"


def _between(graph: ExecutionGraph, a: Event, b: Event) -> list[Event]:
    """The ordering events of ``a``'s CPU strictly between ``a`` and ``b``."""
    events = (graph.events[eid] for eid in graph.threads[a.tid])
    return [e for e in events if a.idx < e.idx < b.idx and _orders(e)]


def shape(cycle: list[Edge]) -> str:
    comms = sorted(x.rel for x in cycle if x.rel != "po")
    pos = sum(1 for x in cycle if x.rel == "po")
    if pos == 2 and comms == ["fr", "rf"]:
        return "message passing (MP)"
    if pos == 2 and comms == ["fr", "fr"]:
        return "store buffering (SB)"
    if pos == 2 and comms == ["rf", "rf"]:
        return "load buffering (LB)"
    return f"a cycle through {pos} CPUs"


def _po_edge(
    graph: ExecutionGraph, a: Event, b: Event, fence: Callable[[Event], str]
) -> tuple[str, list[str]]:
    """A program-order edge's kind (``W→R``) and what orders it there (none: empty)."""
    kind = _ORDERING[(a.is_write, b.is_write)]
    present = [fence(f) for f in _between(graph, a, b)]
    if a.is_read and a.tag in _FIRST:
        present.insert(0, f"the first is {_FIRST[a.tag]}")
    if b.is_write and b.tag in _SECOND:
        present.append(f"the second is {_SECOND[b.tag]}")
    return kind, present


_WORDS = {"rf": "is read by", "co": "is overwritten by", "fr": "read the value before"}


def describe_cycle(
    graph: ExecutionGraph,
    cycle: list[Edge],
    name: Callable[[Event], str],
    fence: Callable[[Event], str],
) -> list[str]:
    """The cycle, one access per line, each program-order edge with what orders it.

    ``name(ev)`` says an access in kernel terms (step, CPU, function, location);
    ``fence(ev)`` names an ordering event between two accesses.
    """
    events = graph.events
    lines = [f"{shape(cycle)}, a cycle that sequential consistency forbids:"]
    for edge in cycle:
        a, b = events[edge.src], events[edge.dst]
        lines.append(f"  {name(a)}")
        if edge.rel == "po":
            kind, present = _po_edge(graph, a, b, fence)
            have = "; ".join(present) if present else "nothing"
            lines.append(f"    --po ({kind}; needs {_NEEDS[kind]}; has {have})-->")
        else:
            lines.append(f"    --{edge.rel} ({_WORDS[edge.rel]})-->")
    lines.append(f"  {name(events[cycle[0].src])}")
    return lines


def cycle_record(
    graph: ExecutionGraph,
    cycle: list[Edge],
    step: Callable[[Event], int],
    fence: Callable[[Event], str],
) -> dict[str, Any]:
    """The cycle as a record (``pinlab explain --json``): its shape and its edges,
    each from one access to the next by the trace's step numbers (``step(ev)``);
    a program-order edge with its kind, what could order it and what does."""
    events = graph.events
    edges: list[dict[str, Any]] = []
    for edge in cycle:
        a, b = events[edge.src], events[edge.dst]
        record: dict[str, Any] = {
            "from": step(a),
            "to": step(b),
            "relation": edge.rel,
            "access": "write" if a.is_write else "read",
        }
        if edge.rel == "po":
            kind, present = _po_edge(graph, a, b, fence)
            record |= {"ordering": kind, "needs": _NEEDS[kind], "has": present}
        else:
            record["meaning"] = _WORDS[edge.rel]
        edges.append(record)
    return {"shape": shape(cycle), "edges": edges}
