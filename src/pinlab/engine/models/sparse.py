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

from pinlab.engine import relation as r
from pinlab.engine.graph import Event, EvKind, ExecutionGraph
from pinlab.engine.models.base import Relations
from pinlab.engine.models.sections import rcu_read_side_pairs, srcu_rscs
from pinlab.engine.program import Loc

__all__ = [
    "acyclic_after",
    "atomicity_after",
    "atomicity_holds",
    "coherence_acyclic",
    "lock_rules_hold",
    "porf_reaches",
    "rcu_sc_holds",
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


def _sc_graph(g: ExecutionGraph) -> list[list[int]]:
    """Successor lists of ``po | rf | co | fr`` (immediate po, co and fr edges)."""
    succ: list[list[int]] = [[] for _ in range(len(g.events))]
    for eids in g.threads:
        for a, b in itertools.pairwise(eids):
            succ[a].append(b)
    for _rel, a, b in g.communications():
        succ[a].append(b)
    return succ


def _po_next(g: ExecutionGraph, ev: Event) -> int:
    """The event right after ``ev`` in its thread (-1: none yet)."""
    eids = g.threads[ev.tid]
    return eids[ev.idx + 1] if ev.idx + 1 < len(eids) else -1


def sc_acyclic(g: ExecutionGraph) -> bool:
    """``acyclic po | rf | co | fr``."""
    return _acyclic(len(g.events), _sc_graph(g))


def _read_side_sections(g: ExecutionGraph) -> list[tuple[int, int, object]]:
    """Each thread's outermost read-side critical sections: (lock, unlock, domain).

    The sections are the bell's (:mod:`pinlab.engine.models.sections`, as the
    LKMM matches them): of nested RCU sections the outermost counts; an SRCU
    section is matched by where its index flows, on its ``srcu_struct`` (its
    domain).  Sections still open are left out: their end may yet come.
    """
    rel = Relations(g)
    pairs, _, _ = rcu_read_side_pairs(g, rel)
    ev = g.events
    out: list[tuple[int, int, object]] = [
        (lock, unlock, None)
        for lock, unlock in pairs
        if not any(
            ev[outer].tid == ev[lock].tid and ev[outer].idx < ev[lock].idx < ev[end].idx
            for outer, end in pairs
            if outer != lock
        )
    ]
    out += [(lock, unlock, g.events[lock].loc) for lock, unlock in r.pairs(srcu_rscs(rel))]
    return out


def rcu_sc_holds(g: ExecutionGraph) -> bool:
    """The grace-period guarantee in a sequentially consistent execution.

    A grace period (``synchronize_rcu()``, or ``synchronize_srcu()`` for
    sections of its ``srcu_struct``) is an interval [Gs, Ge] of the total
    order, not a point: it waits for every read-side critical section that
    began before it started, and sections that begin once it has started
    need not end before it does (RCU's fundamental law).  So for each grace
    period and each section [L, U] of another thread, either U comes before
    Ge or Gs comes before L; the execution is consistent when some choice of
    those edges keeps ``po | rf | co | fr`` acyclic (a backtracking search
    over the few pairs a program has).  The grace-period event stands for
    Gs; a node added after it stands for Ge, and its po successor follows Ge.

    (A point would be stronger than the kernel: two overlapping sections,
    the first begun before the grace period and the second after it
    started, would both have to end before it.)
    """
    gps = [
        e
        for e in g.events
        if e.tid >= 0 and ((e.kind is EvKind.F and e.tag == "sync-rcu") or e.kind is EvKind.SRCU)
    ]
    if not gps:
        return True
    sections = _read_side_sections(g)
    pairs = [
        (gp.eid, lock, unlock)
        for gp in gps
        for lock, unlock, domain in sections
        if g.events[lock].tid != gp.tid
        and (domain is None) == (gp.kind is EvKind.F)
        and (domain is None or domain == gp.loc)
    ]
    if not pairs:
        return True
    n = len(g.events)
    succ = _sc_graph(g)
    end: dict[int, int] = {}  # grace period -> its end node (Ge)
    for gp in gps:
        e = end[gp.eid] = n + len(end)
        succ.append([])
        po_next = _po_next(g, gp)
        if po_next >= 0:
            succ[gp.eid].remove(po_next)
            succ[e].append(po_next)
        succ[gp.eid].append(e)
    n += len(end)

    def search(k: int) -> bool:
        if not _acyclic(n, succ):
            return False
        if k == len(pairs):
            return True
        gp, lock, unlock = pairs[k]
        for a, b in ((unlock, end[gp]), (gp, lock)):
            succ[a].append(b)
            ok = search(k + 1)
            succ[a].pop()
            if ok:
                return True
        return False

    return search(0)


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
    for _rel, a, b in g.communications():
        succ[a].append(b)
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


# --- incremental checks -------------------------------------------------------------
#
# A choice adds edges that all touch one event (the read that got its write,
# or the write that took its coherence position), so a new cycle, if any,
# passes through that event: search from its successors for it (or for its
# new predecessors).  New events sit at the end of the graph, so what they
# reach is small; this is what makes checking after every choice cheap.


class _Succ:
    """Successors in po | rf | co | fr (or po-loc | rf | co | fr), computed on demand."""

    def __init__(self, g: ExecutionGraph, po_loc: bool) -> None:
        self.g = g
        self.po_loc = po_loc
        self.co = g.lock_co()
        self._pos: dict[object, dict[int, int]] = {}

    def co_next(self, w: int) -> int:
        loc = self.g.events[w].loc
        ws = self.co.get(loc)  # type: ignore[arg-type]
        if ws is None:
            return -1
        pos = self._pos.get(loc)
        if pos is None:
            pos = {x: i for i, x in enumerate(ws)}
            self._pos[loc] = pos
        i = pos.get(w, -1)
        return ws[i + 1] if 0 <= i < len(ws) - 1 else -1

    def co_prev(self, w: int) -> int:
        loc = self.g.events[w].loc
        ws = self.co.get(loc)  # type: ignore[arg-type]
        if not ws:
            return -1
        i = ws.index(w)
        return ws[i - 1] if i > 0 else -1

    def po_next(self, e: int) -> int:
        ev = self.g.events[e]
        if ev.tid < 0:
            return -1
        eids = self.g.threads[ev.tid]
        if not self.po_loc:
            return eids[ev.idx + 1] if ev.idx + 1 < len(eids) else -1
        events = self.g.events
        for x in eids[ev.idx + 1 :]:
            if events[x].loc == ev.loc:
                return x
        return -1

    def po_prev(self, e: int) -> int:
        ev = self.g.events[e]
        if ev.tid < 0:
            return -1
        eids = self.g.threads[ev.tid]
        if not self.po_loc:
            return eids[ev.idx - 1] if ev.idx > 0 else -1
        events = self.g.events
        for x in reversed(eids[: ev.idx]):
            if events[x].loc == ev.loc:
                return x
        return -1

    def __call__(self, e: int) -> list[int]:
        g = self.g
        out = []
        nxt = self.po_next(e)
        if nxt >= 0:
            out.append(nxt)
        ev = g.events[e]
        if ev.loc is None:
            return out
        if ev.kind in _WRITES:
            c = self.co_next(e)
            if c >= 0:
                out.append(c)
            out.extend(g.readers.get(e, ()))
        else:
            w = g.rf[e]
            if w >= 0:
                c = self.co_next(w)
                if c >= 0:
                    out.append(c)
        return out


_WRITES = frozenset({EvKind.INIT, EvKind.W, EvKind.LKW, EvKind.UL})


def _reaches(succ: _Succ, starts: list[int], targets: set[int]) -> bool:
    seen: set[int] = set()
    stack = list(starts)
    while stack:
        e = stack.pop()
        if e in targets:
            return True
        if e in seen:
            continue
        seen.add(e)
        stack.extend(succ(e))
    return False


def _loc_atomicity_holds(g: ExecutionGraph, loc: Loc | None) -> bool:
    ws = g.co.get(loc) if loc is not None else None
    if not ws:
        return True
    events = g.events
    pos = {w: i for i, w in enumerate(ws)}
    for w in ws:
        e = events[w]
        if e.rmw < 0 or e.kind is not EvKind.W:
            continue
        src = g.rf[e.rmw]
        if src < 0 or src not in pos:
            continue
        i, j = pos[src], pos[w]
        if j < i:
            continue
        tid = events[e.rmw].tid
        if any(events[x].tid != tid for x in ws[i + 1 : j]):
            return False
    return True


def acyclic_after(g: ExecutionGraph, change: tuple[str, int, int], po_loc: bool) -> bool:
    """Whether po (or po-loc) | rf | co | fr is still acyclic after ``change``."""
    succ = _Succ(g, po_loc)
    kind, a, b = change
    if kind == "rf":
        r, w = a, b
        return not _reaches(succ, succ(r), {r, w})
    # "co": write a took its place
    w = a
    targets = {w}
    prev = succ.co_prev(w)
    if prev >= 0:
        targets.add(prev)
        targets.update(g.readers.get(prev, ()))
    pp = succ.po_prev(w)
    if pp >= 0:
        targets.add(pp)
    return not _reaches(succ, succ(w), targets)


def atomicity_after(g: ExecutionGraph, change: tuple[str, int, int]) -> bool:
    """Atomicity of the RMWs of the location ``change`` touched."""
    loc = g.events[change[1]].loc
    return _loc_atomicity_holds(g, loc)


def porf_reaches(g: ExecutionGraph, src: int, dst: int) -> bool:
    """Whether ``dst`` is reachable from ``src`` by po | rf (a read bound to such a
    write closes a load-buffering cycle)."""
    events, threads, readers = g.events, g.threads, g.readers
    seen: set[int] = set()
    stack = [src]
    while stack:
        e = stack.pop()
        if e == dst:
            return True
        if e in seen:
            continue
        seen.add(e)
        ev = events[e]
        if ev.tid >= 0 and ev.idx + 1 < len(threads[ev.tid]):
            stack.append(threads[ev.tid][ev.idx + 1])  # po is the chain of next events
        stack.extend(readers.get(e, ()))
    return False
