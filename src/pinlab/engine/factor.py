"""Counting LKMM executions in product form over observer locations.

Some litmus tests have locations whose accesses only *observe*: marked reads
whose values go nowhere but the final state, and marked writes of constants
(see :mod:`pinlab.litmus.observers`).  C-ManfredSpraul-L1G2xchg has two, and
their choices of reads-from and coherence multiply its few tens of thousands
of lock executions into millions, more than anyone can enumerate one by one
(herd7 gives up on it).  Here each observer access has a location of its
own in the program explored (so it has one write to read from and one place
in coherence), and for each consistent execution of that program ("the
skeleton") the ways to put the accesses back on their real locations are
counted, together and without building them.

Why this is exact, under the LKMM (linux-kernel.cat), for the executions this
module accepts: no lock events, no plain accesses, no ``smp_wmb()``, no
strong fence (so ``pb`` and ``rb`` are empty), and observer accesses that
are ``once``-tagged, non-atomic, have no address or data dependency and are
the source of no dependency.  Then:

- coherence and atomicity are per location, so they hold for the whole
  execution when they hold on the skeleton and on each observer location;
- the only axiom left is acyclic ``hb`` (``ppo | rfe | (prop \\ id) & int``),
  and ``hb`` is the union of the skeleton's ``hb`` (computed by the model on
  the skeleton, where observer accesses are still there, on their own
  locations), the ``(co | fr) & int`` edges between observer accesses of
  one location (coherence makes them exactly the program-order pairs ending
  in a write), and, for each observer location, edges that depend on that
  location's reads-from and coherence alone:
  ``rfe`` between its accesses, and ``prop & int`` from its accesses.  A
  ``prop`` path is ``(overwrite & ext)? ; cumul-fence* ; rfe?``.  A
  cumul-fence ends at a release or RMW write (no wmb or strong fence), which
  is a skeleton event, so only its first link can start at an observer
  write (by ``rfe`` into an observer read, then ``po-rel``), and the
  overwrite, when there is one, lies at one location.  So no ``hb`` edge
  needs the choices of two observer locations at once; a *cycle* may, and
  the choices of several locations are checked together (:func:`_cyclic`).
- the flags: without plain accesses, locks or strong fences only the RCU
  nesting flags can arise, and those depend on the skeleton alone.

For each skeleton and observer location, every coherence order of its writes
(in program order per thread) and every choice of write for each read that
keeps the location coherent is one *binding*; bindings with the same new
``hb`` edges form one class.  A combination of classes, one per location,
whose edges keep ``hb`` acyclic contributes the product of its classes'
counts, per values of the observer registers.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pinlab.engine import relation as r
from pinlab.engine.explore import ExplorationResult, Explorer, Limits
from pinlab.engine.graph import Event, EvKind, ExecutionGraph
from pinlab.engine.models.base import Verdict
from pinlab.engine.models.lkmm import LkmmModel
from pinlab.engine.program import FinalState, Loc, Program
from pinlab.engine.relation import Rel

__all__ = ["Declined", "Site", "explore_factored"]


@dataclass(frozen=True, slots=True)
class Site:
    """What an access on a location of its own really is."""

    loc: Loc  # the observer location it accesses
    write: bool
    value: int = 0  # the value written (a write)
    reg: str = ""  # the register the value read goes to (a read)


class Declined(Exception):
    """An execution falls outside what the product form covers (say why)."""


_LOCKS = frozenset({EvKind.LKR, EvKind.LKW, EvKind.UL, EvKind.LF, EvKind.RL, EvKind.RU})
_MARKED_TAGS = frozenset({"once", "release", "acquire", "mb"})


class _Keeping(LkmmModel):
    """LKMM, keeping the ordering relations of the last graph it found consistent."""

    def __init__(self) -> None:
        self.kept: dict[str, Rel] = {}

    def check(self, g: ExecutionGraph) -> Verdict:
        self.kept = {}
        return self._check(g, partial=False, keep=self.kept)


# A binding's new hb edges, as the events they start from and what they reach:
# ("E", i) is observer access i, ("PC", i) what cumul-fence* ; rfe? leads to
# from it, ("A", i) what cumul-fence ; cumul-fence* ; rfe? leads to from it.
_Atom = tuple[str, int]


@dataclass(frozen=True, slots=True)
class _Binding:
    rfe: tuple[tuple[int, int], ...]  # (write, read) indices, different threads
    prop: tuple[tuple[int, tuple[_Atom, ...]], ...]  # (start, what it reaches)
    values: tuple[tuple[int, str, int], ...]  # (thread, register, value read)


@dataclass(slots=True)
class _Shape:
    """One observer location's accesses in one skeleton, in (thread, po) order."""

    tids: tuple[int, ...]
    sites: tuple[Site, ...]
    bindings: list[_Binding] = field(default_factory=list)
    fixed: tuple[tuple[int, int], ...] = ()  # (co | fr) & int: program-order pairs to a write


def _interleavings(seqs: list[list[int]]) -> Iterator[tuple[int, ...]]:
    """Every merge of ``seqs`` that keeps the order within each."""
    if not any(seqs):
        yield ()
        return
    for k, seq in enumerate(seqs):
        if seq:
            rest = [*seqs[:k], seq[1:], *seqs[k + 1 :]]
            for tail in _interleavings(rest):
                yield (seq[0], *tail)


def _shape(
    tids: tuple[int, ...], sites: tuple[Site, ...], init: int, tick: Callable[[], None]
) -> _Shape:
    """Every coherent binding of accesses ``sites`` (of threads ``tids``).

    The coherence orders are the interleavings of the threads' writes
    (program order among one thread's writes is coherence order), made
    directly rather than filtered out of every permutation.  ``tick`` is
    called once per coherence order and every 1024 bindings: the explorer's
    time limit must reach an enumeration that grows this fast.
    """
    n = len(sites)
    idx = range(n)
    writes = [i for i in idx if sites[i].write]
    reads = [i for i in idx if not sites[i].write]
    fixed = tuple(
        (i, j) for i in idx for j in idx if i < j and tids[i] == tids[j] and sites[j].write
    )
    shape = _Shape(tids, sites, fixed=fixed)
    per_thread: dict[int, list[int]] = {}
    for w in writes:  # (index order is program order)
        per_thread.setdefault(tids[w], []).append(w)
    count = 0
    for perm in _interleavings(list(per_thread.values())):
        tick()
        co: list[int | None] = [None, *perm]  # None: the initial write
        values = [init, *(sites[w].value for w in perm)]
        pos = {w: k for k, w in enumerate(perm, 1)}
        for srcs in itertools.product(range(len(co)), repeat=len(reads)):
            count += 1
            if count & 0x3FF == 0:
                tick()
            if not _coherent(tids, sites, reads, srcs, pos):
                continue
            shape.bindings.append(_bind(tids, reads, srcs, co, values, sites))
    return shape


def _coherent(
    tids: Sequence[int],
    sites: Sequence[Site],
    reads: Sequence[int],
    srcs: Sequence[int],
    pos: Mapping[int, int],
) -> bool:
    """po-loc | rf | co | fr acyclic on one location (indices are program order)."""
    for read, s in zip(reads, srcs, strict=True):
        for w, k in pos.items():
            if tids[w] != tids[read]:
                continue
            if w > read and k <= s:  # reads its own later write, or fr against po
                return False
            if w < read and k > s:  # reads a write co-before its own earlier one
                return False
    for (r1, s1), (r2, s2) in itertools.combinations(zip(reads, srcs, strict=True), 2):
        if tids[r1] == tids[r2] and s1 > s2:  # (r1 < r2: po)
            return False
    return True


def _bind(
    tids: Sequence[int],
    reads: Sequence[int],
    srcs: Sequence[int],
    co: Sequence[int | None],
    values: Sequence[int],
    sites: Sequence[Site],
) -> _Binding:
    readers: dict[int, list[int]] = {}
    rfe: list[tuple[int, int]] = []
    for read, s in zip(reads, srcs, strict=True):
        w = co[s]
        if w is not None and tids[w] != tids[read]:
            readers.setdefault(w, []).append(read)
            rfe.append((w, read))

    def onward(y: int) -> list[_Atom]:
        """From write y: itself, cumul-fence* ; rfe? from it, and its first-link
        cumul-fences through the reads it feeds (rfe ; po-rel ; ...)."""
        out: list[_Atom] = [("E", y), ("PC", y)]
        for read in readers.get(y, ()):
            out += [("E", read), ("A", read)]
        return out

    prop: dict[int, list[_Atom]] = {}
    for read, s in zip(reads, srcs, strict=True):  # fr & ext
        for w in co[s + 1 :]:
            if w is not None and tids[w] != tids[read]:
                prop.setdefault(read, []).extend(onward(w))
    for k, w1 in enumerate(co):
        if w1 is None:
            continue  # (the initial write is in no thread: nothing reaches it)
        for w2 in co[k + 1 :]:  # co & ext
            if w2 is not None and tids[w2] != tids[w1]:
                prop.setdefault(w1, []).extend(onward(w2))
        for read in readers.get(w1, ()):  # no overwrite: rfe ; po-rel ; ...
            prop.setdefault(w1, []).extend([("E", read), ("A", read)])
    return _Binding(
        tuple(rfe),
        tuple((x, tuple(sorted(set(atoms)))) for x, atoms in sorted(prop.items())),
        tuple(
            (tids[read], sites[read].reg, values[s]) for read, s in zip(reads, srcs, strict=True)
        ),
    )


def _cyclic(reach: Sequence[int], edges: Mapping[int, int]) -> bool:
    """Whether the strict closure ``reach`` (acyclic) with ``edges`` added has a cycle."""
    out: dict[int, int] = {}
    for a, m in edges.items():
        acc = m
        for b in r.bits(m):
            acc |= reach[b]
        out[a] = acc
    changed = True
    while changed:
        changed = False
        for a, acc in out.items():
            new = acc
            for a2, acc2 in out.items():
                if new >> a2 & 1:
                    new |= acc2
            if new != acc:
                out[a] = new
                changed = True
    return any(acc >> a & 1 for a, acc in out.items())


_Values = tuple[tuple[int, str, int], ...]  # (thread, register, value read) of each read


class _Class:
    """Bindings of one location with the same new hb edges (and acyclic with them)."""

    __slots__ = ("counts", "edges", "reached", "sources")

    def __init__(self, edges: dict[int, int], counts: Counter[_Values], reach: Sequence[int]):
        self.edges = edges
        self.counts = counts
        self.sources = 0
        self.reached = 0  # what the edges lead to, in one or more steps of hb
        for a, m in edges.items():
            self.sources |= 1 << a
            self.reached |= m
            for b in r.bits(m):
                self.reached |= reach[b]


def _may_close(combo: Sequence[_Class]) -> bool:
    """Whether the classes' edges may form a cycle together: some classes lead
    to each other's edges round a loop (each class is acyclic on its own)."""
    k = len(combo)
    if k == 2:
        a, b = combo
        return bool(a.reached & b.sources and b.reached & a.sources)
    feeds = [
        [j for j in range(k) if j != i and combo[i].reached & combo[j].sources] for i in range(k)
    ]
    state = [0] * k  # depth-first search: 0 new, 1 on the stack, 2 done

    def visit(i: int) -> bool:
        state[i] = 1
        for j in feeds[i]:
            if state[j] == 1 or (state[j] == 0 and visit(j)):
                return True
        state[i] = 2
        return False

    return any(state[i] == 0 and visit(i) for i in range(k))


def _star_row(rel: Sequence[int], u: int) -> int:
    """Row ``u`` of ``rel*``."""
    seen = 1 << u
    todo = [u]
    while todo:
        new = rel[todo.pop()] & ~seen
        seen |= new
        todo.extend(r.bits(new))
    return seen


def _merge(*parts: Mapping[int, int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for part in parts:
        for a, m in part.items():
            out[a] = out.get(a, 0) | m
    return out


class _ProductCount:
    """The explorer's count hook (:class:`~pinlab.engine.explore.CountHook`): an
    execution of the skeleton stands for every binding of its observer accesses."""

    def __init__(self, sites: Mapping[Loc, Site], init: Mapping[Loc, Any]) -> None:
        self.keeping = _Keeping()
        self.sites = dict(sites)
        self.init = dict(init)
        self.shapes: dict[tuple[Loc, ...], _Shape] = {}

    def _accept(self, graph: ExecutionGraph) -> list[list[Event]]:
        """The observer accesses by location (raising Declined where not covered)."""
        if any(self.keeping.kept["strong_fence"]):
            raise Declined("a strong fence (pb)")
        groups: dict[Loc, list[Event]] = {}
        observer_reads = 0
        for e in graph.events:
            kind = e.kind
            if kind in _LOCKS or kind is EvKind.SRCU:
                raise Declined("a lock or SRCU event")
            if kind is EvKind.F:
                if e.tag == "wmb":
                    raise Declined("smp_wmb()")
                continue
            if kind is EvKind.INIT:
                continue
            if not e.atomic and e.tag not in _MARKED_TAGS:
                raise Declined(f"a {e.tag} access")
            site = self.sites.get(e.loc) if e.loc is not None else None
            if site is None:
                continue
            if e.tag != "once" or e.atomic or e.addr or e.data or e.is_write != site.write:
                raise Declined(f"observer access {e.describe()}")
            groups.setdefault(site.loc, []).append(e)
            if not site.write:
                observer_reads |= 1 << e.eid
        if observer_reads and any(
            (e.addr | e.data | e.ctrl) & observer_reads for e in graph.events
        ):
            raise Declined("a dependency on an observer read")
        return [sorted(evs, key=lambda e: (e.tid, e.idx)) for _, evs in sorted(groups.items())]

    def __call__(
        self,
        graph: ExecutionGraph,
        final: FinalState,
        verdict: Verdict,
        tick: Callable[[], None],
    ) -> list[tuple[FinalState, int]]:
        groups = self._accept(graph)
        kept = self.keeping.kept
        reach, cf, rfe = kept["hb_plus"], kept["cumul_fence"], kept["rfe"]
        tmask = [0] * len(graph.threads)
        for tid, eids in enumerate(graph.threads):
            for e in eids:
                tmask[tid] |= 1 << e
        cache: dict[tuple[str, int], int] = {}

        def atom(kind: str, eid: int) -> int:
            got = cache.get((kind, eid))
            if got is not None:
                return got
            if kind == "E":
                got = 1 << eid
            elif kind == "PC":  # cumul-fence* ; rfe?
                seen = _star_row(cf, eid)
                got = seen
                for v in r.bits(seen):
                    got |= rfe[v]
            else:  # cumul-fence ; cumul-fence* ; rfe?
                got = 0
                for c in r.bits(cf[eid]):
                    got |= atom("PC", c)
            cache[(kind, eid)] = got
            return got

        fixed: dict[int, int] = {}
        shapes: list[tuple[_Shape, list[Event]]] = []
        for evs in groups:
            site_names = tuple(e.loc for e in evs if e.loc is not None)
            shape = self.shapes.get(site_names)
            if shape is None:
                sites = tuple(self.sites[name] for name in site_names)
                init = self.init.get(sites[0].loc, 0)
                shape = _shape(tuple(e.tid for e in evs), sites, init, tick)
                self.shapes[site_names] = shape
            shapes.append((shape, evs))
            for i, j in shape.fixed:
                fixed[evs[i].eid] = fixed.get(evs[i].eid, 0) | 1 << evs[j].eid
        if fixed:
            hb = list(reach)
            for a, m in fixed.items():
                hb[a] |= m
            closed = r.closure_if_acyclic(hb)
            if closed is None:
                return []  # (no binding is consistent)
            reach = closed
        per_loc: list[list[_Class]] = []
        for shape, evs in shapes:
            classes: dict[tuple[tuple[int, int], ...], Counter[_Values]] = {}
            reached: dict[tuple[int, tuple[_Atom, ...]], tuple[int, int]] = {}
            for b in shape.bindings:
                edges: dict[int, int] = {}
                for w, read in b.rfe:
                    edges[evs[w].eid] = edges.get(evs[w].eid, 0) | 1 << evs[read].eid
                for item in b.prop:
                    got = reached.get(item)
                    if got is None:
                        x, atoms = item
                        ex = evs[x]
                        m = 0
                        for kind, i in atoms:
                            m |= atom(kind, evs[i].eid)
                        m &= tmask[ex.tid] & ~(1 << ex.eid)  # (prop \ id) & int
                        reached[item] = got = (ex.eid, m)
                    if got[1]:
                        edges[got[0]] = edges.get(got[0], 0) | got[1]
                key = tuple(sorted(edges.items()))
                classes.setdefault(key, Counter())[b.values] += 1
            kept_classes = []
            for key, counts in classes.items():
                edges = dict(key)
                if not _cyclic(reach, edges):
                    kept_classes.append(_Class(edges, counts, reach))
            per_loc.append(kept_classes)
        totals: Counter[_Values] = Counter()
        for combo in itertools.product(*per_loc):
            if (
                len(combo) > 1
                and _may_close(combo)
                and _cyclic(reach, _merge(*(c.edges for c in combo)))
            ):
                continue
            for parts in itertools.product(*(c.counts.items() for c in combo)):
                n = 1
                values: list[tuple[int, str, int]] = []
                for vals, k in parts:
                    n *= k
                    values.extend(vals)
                totals[tuple(values)] += n
        return [(_with_values(final, values), n) for values, n in totals.items()]


def _with_values(final: FinalState, values: _Values) -> FinalState:
    """``final`` with the registers the observer reads set to ``values``."""
    regs = [dict(m) for m in final.regs]
    for tid, reg, value in values:
        regs[tid][reg] = value
    return FinalState(final.memory, regs, final.oopses)


def explore_factored(
    program: Program,
    sites: Mapping[Loc, Site],
    init: Mapping[Loc, Any],
    *,
    limits: Limits | None = None,
) -> ExplorationResult:
    """Explore ``program`` under LKMM, counting ``sites`` in product form.

    ``program`` has each observer access on a location of its own
    (``sites``: what they stand for); ``init`` is the initial memory of the
    real test.  Raises :class:`Declined` when an execution falls outside
    what the product form covers; the caller then explores the real test.
    """
    limits = limits or Limits()
    if limits.stop_at_witness or limits.stop_at_first or limits.max_executions is not None:
        raise Declined("limits that stop at one execution")
    count = _ProductCount(sites, init)
    return Explorer(program, count.keeping, limits=limits, count=count).run()
