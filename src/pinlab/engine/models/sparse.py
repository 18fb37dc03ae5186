"""Fast checks on sparse edges, for pruning during exploration.

``acyclic(po | rf | co | fr)`` holds exactly when ``acyclic(po-imm | rf |
co-imm | fr-imm)`` does: each transitive relation is replaced by its
immediate-successor edges (a path through the closure is a path through the
steps), and ``fr`` by the edge from a read to the write right after the one
it reads from (the rest follows by ``co``).  That is O(n) edges instead of
O(n^2), which is what makes checking after every choice affordable.

The same holds per location for ``coherence`` (``po-loc | rf | co | fr``).
Lock edges are formed as lock.cat forms them (:mod:`pinlab.engine.graph`).
"""

from __future__ import annotations

import itertools

from pinlab.engine.graph import EvKind, ExecutionGraph

__all__ = [
    "atomicity_holds",
    "coherence_acyclic",
    "lock_rules_hold",
    "sc_acyclic",
    "unmatched_lock_rules_hold",
]


def _acyclic(n: int, succ: list[list[int]]) -> bool:
    indeg = [0] * n
    for outs in succ:
        for j in outs:
            indeg[j] += 1
    stack = [i for i in range(n) if not indeg[i]]
    seen = 0
    while stack:
        i = stack.pop()
        seen += 1
        for j in succ[i]:
            indeg[j] -= 1
            if not indeg[j]:
                stack.append(j)
    return seen == n


def _rf_co_fr(g: ExecutionGraph, succ: list[list[int]], co: dict[object, list[int]]) -> None:
    """Add rf, co-imm and fr-imm edges."""
    rf = g.rf
    position: dict[int, int] = {}
    for ws in co.values():
        for i, w in enumerate(ws):
            position[w] = i
            if i + 1 < len(ws):
                succ[w].append(ws[i + 1])
    events = g.events
    lock_rf = g.lock_rf(co) if g.complete else {}  # type: ignore[arg-type]
    for e in events:
        w = rf[e.eid]
        if w < 0:
            w = lock_rf.get(e.eid, -1)
            if w < 0:
                continue
        succ[w].append(e.eid)
        i = position.get(w, -1)
        loc_ws = co.get(e.loc)
        if loc_ws is not None and 0 <= i < len(loc_ws) - 1:
            succ[e.eid].append(loc_ws[i + 1])


def sc_acyclic(g: ExecutionGraph) -> bool:
    """``acyclic po | rf | co | fr``."""
    n = len(g.events)
    succ: list[list[int]] = [[] for _ in range(n)]
    for eids in g.threads:
        for a, b in itertools.pairwise(eids):
            succ[a].append(b)
    _rf_co_fr(g, succ, g.lock_co())  # type: ignore[arg-type]
    return _acyclic(n, succ)


def coherence_acyclic(g: ExecutionGraph) -> bool:
    """``acyclic po-loc | rf | co | fr``."""
    n = len(g.events)
    succ: list[list[int]] = [[] for _ in range(n)]
    events = g.events
    for eids in g.threads:
        last: dict[object, int] = {}
        for e in eids:
            loc = events[e].loc
            if loc is None:
                continue
            prev = last.get(loc)
            if prev is not None:
                succ[prev].append(e)
            last[loc] = e
    _rf_co_fr(g, succ, g.lock_co())  # type: ignore[arg-type]
    return _acyclic(n, succ)


def atomicity_holds(g: ExecutionGraph) -> bool:
    """``empty rmw & (fre ; coe)``: no other thread's write between an RMW's two writes."""
    events = g.events
    rf = g.rf
    co = g.co
    for e in events:
        if e.kind is not EvKind.R or e.rmw < 0:
            continue
        src = rf[e.eid]
        if src < 0:
            continue
        ws = co.get(e.loc)  # type: ignore[arg-type]
        if ws is None:
            continue
        try:
            i, j = ws.index(src), ws.index(e.rmw)
        except ValueError:
            continue
        if j < i:
            continue  # a coherence cycle, caught elsewhere
        for w in ws[i + 1 : j]:
            if events[w].tid != e.tid:
                return False
    return True


def lock_rules_hold(g: ExecutionGraph) -> str | None:
    """lock.cat's ``lock-nest`` and ``nested-is-locked`` by a scan of each thread."""
    events = g.events
    for eids in g.threads:
        held: set[object] = set()
        for eid in eids:
            e = events[eid]
            if e.kind is EvKind.LKW:
                held.add(e.loc)
            elif e.kind is EvKind.UL:
                held.discard(e.loc)
            elif e.kind is EvKind.LKR and e.loc in held:
                return "lock-nest"
            elif e.kind is EvKind.RU and e.loc in held:
                return "nested-is-locked"
    return None


def unmatched_lock_rules_hold(g: ExecutionGraph) -> str | None:
    """lock.cat on a complete graph: at most one LKW without its UL per location
    (``unmatched-locks``), and it comes last in coherence (lock.cat's ``co0``)."""
    crit = g.critical()
    events = g.events
    for ws in g.co.values():
        lkws = [w for w in ws if events[w].kind is EvKind.LKW]
        unmatched = [w for w in lkws if w not in crit]
        if len(unmatched) > 1:
            return "unmatched-locks"
        if unmatched and lkws[-1] != unmatched[0]:
            return "unmatched-lkw-co-last"
    return None
