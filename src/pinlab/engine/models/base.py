"""What every memory model sees: base relations of a graph, and the model interface.

A model is a set of named axioms over an execution graph.  It implements
:class:`Model`: ``check`` decides a complete execution (which axiom fails, and
which flags -- data-race, ... -- it raises), ``check_partial`` prunes a partial
one during exploration.  ``check_partial`` must be *sound*: it may only reject
a partial graph when no completion of it can be consistent.  Every relation
built here from a partial graph is contained in the same relation of each
completion (reads-from of a bound read never changes, coherence only gains
writes, program order only grows at its end), so an axiom that is an
acyclicity or emptiness condition on a union of such relations is safe to
check early.

:class:`Relations` computes the base relations the cat files start from
(``po``, ``rf``, ``co``, ``fr``, ``rmw``, ``loc``, ``int``/``ext``, ``addr``,
``data``, ``ctrl``) once per graph, and the lock rules of lock.cat that both
models share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from pinlab.engine import relation as r
from pinlab.engine.graph import READ_KINDS, WRITE_KINDS, EvKind, ExecutionGraph

__all__ = ["FULL_CHECK", "Change", "Model", "Relations", "Verdict", "lock_rules"]


@dataclass(frozen=True, slots=True)
class Verdict:
    consistent: bool
    failed: str | None = None  # id of the first axiom that fails
    flags: frozenset[str] = frozenset()


CONSISTENT = Verdict(True)

# What a choice changed, for incremental pruning: ("rf", read, write) -- the
# read now reads from the write; ("co", write, -1) -- a new ordinary write took
# its place in coherence; FULL_CHECK -- anything else (check everything).
Change = tuple[str, int, int]
FULL_CHECK: Change = ("full", -1, -1)


class Model(Protocol):
    name: str
    # Whether a consistent execution may have a cycle in po | rf (LKMM: yes,
    # load buffering; SC: no).  The explorer speculates only when it may.
    allows_porf_cycles: bool
    # Whether every marked access po-after an acquire read (or a successful
    # fully ordered RMW's read) is ordered after it in happens-before
    # (LKMM: acq-po and mb are in ppo).  The explorer uses it to give up on
    # speculation that can only close a happens-before cycle.
    acquire_orders_later: bool

    def check(self, g: ExecutionGraph) -> Verdict: ...

    def check_partial(self, g: ExecutionGraph, change: Change) -> bool: ...


class _Shape:
    """What the relations of a graph owe to its events and program order alone.

    Consecutive graphs of one exploration mostly share their events and differ
    in reads-from and coherence, so this part is computed once per shape and
    cached (:func:`_shape`); ``derived`` caches, by name, the relations a
    model builds from it alone (fences, program-order restrictions).
    """

    __slots__ = (
        "F", "IW", "M", "R", "W", "addr", "all", "atomic", "ctrl", "data", "derived",
        "ext", "int_", "kinds", "loc", "n", "po", "rmw", "tags",
    )  # fmt: skip

    def __init__(self, g: ExecutionGraph) -> None:
        events = g.events
        n = len(events)
        self.n = n
        kind_set = [0] * (max(EvKind) + 1)
        tag_set: dict[str, int] = {}
        atomic = 0
        loc_set: dict[object, int] = {}
        for e in events:
            bit = 1 << e.eid
            kind_set[e.kind] |= bit
            if e.tag:
                tag_set[e.tag] = tag_set.get(e.tag, 0) | bit
            if e.atomic:
                atomic |= bit
            if e.loc is not None:
                loc_set[e.loc] = loc_set.get(e.loc, 0) | bit
        self.kinds = kind_set
        self.tags = tag_set
        self.atomic = atomic
        self.R = 0
        for k in READ_KINDS:
            self.R |= kind_set[k]
        self.W = 0
        for k in WRITE_KINDS:
            self.W |= kind_set[k]
        self.IW = kind_set[EvKind.INIT]
        self.F = kind_set[EvKind.F]
        self.M = self.R | self.W
        self.all = (1 << n) - 1

        self.loc = [0] * n
        for e in events:
            if e.loc is not None:
                self.loc[e.eid] = loc_set[e.loc]

        # program order, and int/ext (initial writes are external to everyone)
        self.po = [0] * n
        self.int_ = [0] * n
        for eids in g.threads:
            later = 0
            thread_bits = 0
            for eid in eids:
                thread_bits |= 1 << eid
            for eid in reversed(eids):
                self.po[eid] = later
                later |= 1 << eid
                self.int_[eid] = thread_bits
        self.ext = [self.all & ~row & ~(1 << i) for i, row in enumerate(self.int_)]

        self.rmw = [0] * n
        for e in events:
            if e.rmw >= 0 and e.kind in READ_KINDS:
                self.rmw[e.eid] = 1 << e.rmw
        self.addr = _dependents(g, [e.addr for e in events])
        self.data = _dependents(g, [e.data for e in events])
        self.ctrl = _dependents(g, [e.ctrl for e in events])
        self.derived: dict[str, object] = {}


def _dependents(g: ExecutionGraph, masks: list[int]) -> list[int]:
    """Rows ``read -> events depending on it``, from each event's mask of reads.

    Along a thread the masks change little from one event to the next (every
    event after a branch has the branch's control dependency), so each thread
    is walked in program order and a read's row gets the whole run of events
    whose masks hold it at once: the work is the number of changes, not the
    number of dependency edges.
    """
    rows = [0] * len(masks)
    for eids in g.threads:
        suffix = [0] * (len(eids) + 1)  # suffix[j]: the thread's events from position j on
        for j in range(len(eids) - 1, -1, -1):
            suffix[j] = suffix[j + 1] | (1 << eids[j])
        start: dict[int, int] = {}  # read -> position where its run began
        prev = 0
        for j, eid in enumerate(eids):
            mask = masks[eid]
            if mask != prev:
                for rd in r.bits(mask & ~prev):
                    start[rd] = j
                for rd in r.bits(prev & ~mask):
                    rows[rd] |= suffix[start.pop(rd)] & ~suffix[j]
                prev = mask
        for rd, j in start.items():
            rows[rd] |= suffix[j]
    return rows


_T = TypeVar("_T")
_SHAPES: dict[tuple[object, ...], _Shape] = {}
_SHAPES_MAX = 4096
# A shape and the relations derived from it hold a few dozen n x n bit
# matrices: the cache is bounded by their total size too (kernel scenarios
# have ~600 events; 4096 of their shapes took 13 GB).
_SHAPES_MAX_CELLS = 1 << 26
_shapes_cells = 0


def _shape(g: ExecutionGraph) -> _Shape:
    """The (cached) shape of ``g``: keyed by everything of each event but its
    value -- program order is the order of a thread's event ids."""
    key = tuple(
        (e.kind, e.tid, e.loc, e.tag, e.atomic, e.rmw, e.addr, e.data, e.ctrl) for e in g.events
    )
    global _shapes_cells
    shape = _SHAPES.get(key)
    if shape is None:
        cells = len(key) * len(key)
        if len(_SHAPES) >= _SHAPES_MAX or _shapes_cells + cells > _SHAPES_MAX_CELLS:
            _SHAPES.clear()
            _shapes_cells = 0
        shape = _SHAPES[key] = _Shape(g)
        _shapes_cells += cells
    return shape


class Relations:
    """The base relations of ``g`` as bitset rows (see :mod:`pinlab.engine.relation`).

    The rows are shared with other graphs of the same shape: never mutate them.
    """

    def __init__(self, g: ExecutionGraph) -> None:
        self.g = g
        shape = _shape(g)
        self.shape = shape
        n = self.n = shape.n
        self.kinds = shape.kinds
        self.tags = shape.tags
        self.atomic = shape.atomic
        self.R, self.W, self.IW, self.F, self.M = shape.R, shape.W, shape.IW, shape.F, shape.M
        self.all = shape.all
        self.loc = shape.loc
        self.po = shape.po
        self.int_ = shape.int_
        self.ext = shape.ext
        self.rmw, self.addr, self.data, self.ctrl = shape.rmw, shape.addr, shape.data, shape.ctrl

        # reads-from and coherence, with lock.cat's derived lock edges (the explorer
        # takes a lock only after the unlock it reads from: they never change)
        co_lists = g.lock_co()
        rf_map = {e: w for e, w in enumerate(g.rf) if w >= 0}
        rf_map.update(g.lock_rf(co_lists))
        self.rf = [0] * n
        for rd, w in rf_map.items():
            self.rf[w] |= 1 << rd
        self.co = co = [0] * n
        for ws in co_lists.values():
            later = 0
            for i in range(len(ws) - 1, -1, -1):
                co[ws[i]] = later
                later |= 1 << ws[i]
        # fr = rf^-1 ; co: a read is fr-before the writes co-after its own
        self.fr = fr = [0] * n
        for rd, w in rf_map.items():
            fr[rd] = co[w]

    def derived(self, name: str, build: Callable[[], _T]) -> _T:
        """Relation ``name``, which ``build`` makes from the graph's shape alone
        (events and program order, never reads-from or coherence): cached."""
        got = self.shape.derived.get(name)
        if got is None:
            got = self.shape.derived[name] = build()
        return got  # type: ignore[return-value]  # (``name`` fixes the type)

    def tagged(self, *tags: str) -> int:
        s = 0
        for t in tags:
            s |= self.tags.get(t, 0)
        return s

    def po_loc(self) -> r.Rel:
        return r.inter(self.po, self.loc)


def lock_rules(g: ExecutionGraph, rel: Relations) -> str | None:
    """lock.cat's axioms (and its rule on candidate coherence orders); the failing id."""
    lkw = rel.kinds[EvKind.LKW]
    lkr = rel.kinds[EvKind.LKR]
    ul = rel.kinds[EvKind.UL]
    ru = rel.kinds[EvKind.RU]
    if not (lkw or ul or ru):
        return None
    po_loc = rel.po_loc()
    through_ul = r.compose(r.restrict(po_loc, -1, ul), po_loc)
    if not r.empty(r.diff(r.restrict(po_loc, lkw, lkr), through_ul)):
        return "lock-nest"
    if not r.empty(r.diff(r.restrict(po_loc, lkw, ru), through_ul)):
        return "nested-is-locked"
    if not g.complete:
        return None
    crit = g.critical()
    unmatched = 0
    for e in r.bits(lkw):
        if e not in crit:
            unmatched |= 1 << e
    for e in r.bits(unmatched):
        if rel.loc[e] & unmatched & ~(1 << e):
            return "unmatched-locks"
    # co0: an unmatched LKW is co-after every other LKW of its location
    for e in r.bits(unmatched):
        if rel.co[e] & lkw & rel.loc[e]:
            return "unmatched-lkw-co-last"
    return None
