"""What herd gives a cat file, read off a pinlab execution graph.

:data:`PRIMITIVES` names the sets, relations and functions a cat file may
use without defining them, as herd's C front end provides them, each built
from :class:`~pinlab.engine.models.base.Relations`.  Choices, where pinlab's
graph and herd's events differ:

- ``R``, ``W``, ``M``: ordinary reads and writes (initial writes in ``W``);
  lock events are only in their own sets ``LKR LKW UL LF RL RU`` (lock.cat
  adds them to ``R`` and ``W`` itself, "leaving UL out of W until after the
  co relation has been generated").  ``F``: fences.  ``RMW`` and ``X``: the
  events of atomic read-modify-writes, failed ones included.  ``Exp``: every
  memory access (C has no implicit ones), ``NExp``: none.
- ``rf``: reads-from into ordinary reads only (herd leaves the reads of
  lock events to lock.cat's ``with`` choices and its ``lk-rmw``); ``co``
  and ``fr`` are the graph's, lock events included as lock.cat forms them
  (a model that generates ``co`` with ``with co from`` rebinds it).
- ``same-instance``: identity, and the two events of each RMW or lock pair;
  ``iico_data``: empty (pinlab records no dependencies inside one
  instruction; the LKMM's files use it only under stdlib's ``PTE``, which C
  tests never have); ``rmw``: the RMW pairs (stdlib.cat rebuilds it as
  ``amo``).
- ``FW``: empty.  herd's final writes are those of the locations the test's
  final condition observes, which a model of graphs does not know; the
  LKMM uses ``FW`` only in cos-opt.cat's ``co0`` (whose choices are then
  filtered against the graph's ``co`` anyway) and in lock.cat's
  ``lock-final`` flag, which is therefore never raised (the built-in model
  does not raise it either).
- ``ADDR`` and ``B`` exist (stdlib.cat names them) but pinlab's graphs have no
  such events: using one is an error at its position.

The tag sets (``ONCE``, ``Wmb``, ``Rcu-lock``, ...) are made by the bell's
``enum`` declarations, each tag's set named by capitalising its first letter
as herd does; :class:`TagMap` says which events carry which tag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from pinlab.cat.deffile import DefTable
from pinlab.cat.values import EMPTY, FRel, Tag, a_
from pinlab.engine import relation as r
from pinlab.engine.graph import EvKind, ExecutionGraph
from pinlab.engine.models.base import Relations

__all__ = ["PRIMITIVES", "Context", "Prim", "Primitive", "TagMap", "Unavailable"]

_LOCK_KINDS: Final = (EvKind.LKR, EvKind.LKW, EvKind.UL, EvKind.LF, EvKind.RL, EvKind.RU)
_LOCK_BUILTINS: Final = ("lock", "unlock", "trylock", "islocked")


class Unavailable(Exception):
    """A herd primitive pinlab's graphs cannot give (the evaluator adds where)."""


class TagMap:
    """Which annotation (a tag of the bell's enums) each pinlab event carries.

    pinlab's events keep the annotation of the primitive that made them
    (:mod:`pinlab.engine.primitives`, a copy of linux-kernel.def), lower-case:
    ``once``, ``mb``, ``rcu-lock``.  With a ``.def`` table, the vocabulary is
    the annotations it uses, and an event's tag is the one spelled the same
    but for case (``once`` -> ``ONCE``, ``wmb`` -> ``wmb``).  ``plain`` is
    herd's unmarked C access, which carries no annotation.  Lock events carry
    none (the ``.def``'s ``__lock``, ``__unlock``, ``__trylock`` and
    ``__islocked`` have none; lock.cat gives LKR and UL their ordering).
    """

    def __init__(self, defs: DefTable | None, enum_tags: frozenset[str]) -> None:
        vocab = set(enum_tags)
        if defs is not None:
            vocab |= defs.annotations()
            noted = {b: defs.annotations_of(b) for b in _LOCK_BUILTINS if defs.annotations_of(b)}
            if noted:
                raise Unavailable(f"annotated lock operations in {defs.path}: {noted}")
        self.by_fold = {t.casefold(): t for t in vocab}
        self.source = defs.path if defs is not None else "the model's enums"

    def annotation(self, pinlab_tag: str) -> str | None:
        if pinlab_tag == "plain":
            return None
        found = self.by_fold.get(pinlab_tag.casefold())
        if found is None:
            raise Unavailable(f"pinlab's annotation {pinlab_tag!r} is not one of {self.source}")
        return found


@dataclass(slots=True)
class Context:
    """One graph, as the evaluator sees it: slot 0 of every evaluation."""

    g: ExecutionGraph
    rel: Relations
    n: int
    tags: TagMap
    cache: dict[str, object]  # shape-only values (the shape's ``derived`` cache)
    token: object  # whose entries in ``cache`` are ours

    def tagged(self, annotation: str) -> int:
        key = f"{self.token}tag:{annotation}"
        got = self.cache.get(key)
        if got is None:
            mask = 0
            lock = 0
            for k in _LOCK_KINDS:
                lock |= self.rel.kinds[k]
            for pinlab_tag, events in self.rel.tags.items():
                if self.tags.annotation(pinlab_tag) == annotation:
                    mask |= events & ~lock
            got = self.cache[key] = mask
        return got  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Prim:
    """A built-in function (``domain``, ``linearisations``, ...)."""

    name: str
    fn: Callable[[Context, Any], Any]


@dataclass(frozen=True, slots=True)
class Primitive:
    build: Callable[[Context], Any]
    shape_only: bool = True  # depends on the events and program order alone


def _kinds(*kinds: EvKind) -> Callable[[Context], int]:
    def build(c: Context) -> int:
        s = 0
        for k in kinds:
            s |= c.rel.kinds[k]
        return s

    return build


def _lock_mask(c: Context) -> int:
    return _kinds(*_LOCK_KINDS)(c)


def _rf(c: Context) -> list[int]:
    reads = c.rel.kinds[EvKind.R]
    return [row & reads for row in c.rel.rf]


def _rmw(c: Context) -> list[int]:
    lock = _lock_mask(c)
    return [0 if (lock >> i) & 1 else row for i, row in enumerate(c.rel.rmw)]


def _same_instance(c: Context) -> list[int]:
    out = r.ident(c.n)
    for i, row in enumerate(c.rel.rmw):
        for j in r.bits(row):
            out[i] |= 1 << j
            out[j] |= 1 << i
    return out


def _unavailable(name: str) -> Callable[[Context], Any]:
    def build(c: Context) -> Any:
        raise Unavailable(f"herd's {name} has no counterpart in pinlab's graphs")

    return build


def _arg_rel(name: str, v: Any, n: int) -> list[int]:
    if v is EMPTY:
        return [0] * n
    if isinstance(v, list):
        return v
    raise Unavailable(f"{name}: expected a relation, got {a_(v)}")


def _arg_set(name: str, v: Any) -> int:
    if v is EMPTY:
        return 0
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    raise Unavailable(f"{name}: expected an event set, got {a_(v)}")


def _classes_loc(c: Context, s: Any) -> frozenset[Any]:
    """``classes-loc S``: ``S`` split by location (a set of event sets)."""
    s = _arg_set("classes-loc", s)
    out: set[int] = set()
    left = s
    for e in r.bits(s):
        if (left >> e) & 1:
            same = c.rel.loc[e] & s or (1 << e)
            out.add(same)
            left &= ~same
    return frozenset(out)


def _linearisations(c: Context, arg: Any) -> frozenset[Any]:
    """``linearisations(S, r)``: every strict total order of ``S`` that holds ``r``."""
    if not (isinstance(arg, tuple) and len(arg) == 2):
        raise Unavailable("linearisations: expected (set, relation)")
    s = _arg_set("linearisations", arg[0])
    pco = _arg_rel("linearisations", arg[1], c.n)
    members = list(r.bits(s))
    before = {e: 0 for e in members}
    for e in members:
        for f in r.bits(pco[e] & s):
            if f != e:
                before[f] |= 1 << e
    out: set[FRel] = set()

    def extend(order: list[int], placed: int) -> None:
        if len(order) == len(members):
            rows = [0] * c.n
            later = 0
            for e in reversed(order):
                rows[e] = later
                later |= 1 << e
            out.add(FRel(rows))
            return
        for e in members:
            if not (placed >> e) & 1 and before[e] & ~placed == 0:
                order.append(e)
                extend(order, placed | (1 << e))
                order.pop()

    extend([], 0)
    return frozenset(out)


def _different_values(c: Context, v: Any) -> list[int]:
    rel = _arg_rel("different-values", v, c.n)
    events = c.g.events
    out = [0] * c.n
    for a, b in r.pairs(rel):
        if events[a].value != events[b].value:
            out[a] |= 1 << b
    return out


def _tag2events(c: Context, v: Any) -> int:
    if not isinstance(v, Tag):
        raise Unavailable(f"tag2events: expected a tag, got {a_(v)}")
    return c.tagged(str(v))


def _domain(c: Context, v: Any) -> int:
    return r.domain(_arg_rel("domain", v, c.n))


def _range(c: Context, v: Any) -> int:
    return r.range_(_arg_rel("range", v, c.n))


def _prim(name: str, fn: Callable[[Context, Any], Any]) -> Primitive:
    return Primitive(lambda c: Prim(name, fn))


PRIMITIVES: Final[dict[str, Primitive]] = {
    "R": Primitive(_kinds(EvKind.R)),
    "W": Primitive(_kinds(EvKind.W, EvKind.INIT)),
    "M": Primitive(_kinds(EvKind.R, EvKind.W, EvKind.INIT)),
    "F": Primitive(_kinds(EvKind.F)),
    "IW": Primitive(_kinds(EvKind.INIT)),
    "FW": Primitive(lambda c: 0),
    "LKR": Primitive(_kinds(EvKind.LKR)),
    "LKW": Primitive(_kinds(EvKind.LKW)),
    "UL": Primitive(_kinds(EvKind.UL)),
    "LF": Primitive(_kinds(EvKind.LF)),
    "RL": Primitive(_kinds(EvKind.RL)),
    "RU": Primitive(_kinds(EvKind.RU)),
    "RMW": Primitive(lambda c: c.rel.atomic & ~_lock_mask(c)),
    "X": Primitive(lambda c: c.rel.atomic & ~_lock_mask(c)),
    "Exp": Primitive(_kinds(EvKind.R, EvKind.W, EvKind.INIT, *_LOCK_KINDS)),
    "NExp": Primitive(lambda c: 0),
    "ADDR": Primitive(_unavailable("ADDR")),
    "B": Primitive(_unavailable("B (branch events)")),
    "po": Primitive(lambda c: c.rel.po),
    "loc": Primitive(lambda c: c.rel.loc),
    "int": Primitive(lambda c: c.rel.int_),
    "ext": Primitive(lambda c: c.rel.ext),
    "id": Primitive(lambda c: r.ident(c.n)),
    "addr": Primitive(lambda c: c.rel.addr),
    "data": Primitive(lambda c: c.rel.data),
    "ctrl": Primitive(lambda c: c.rel.ctrl),
    "rmw": Primitive(_rmw),
    "same-instance": Primitive(_same_instance),
    "iico_data": Primitive(lambda c: r.zero(c.n)),
    "rf": Primitive(_rf, shape_only=False),
    "co": Primitive(lambda c: c.rel.co, shape_only=False),
    "fr": Primitive(lambda c: c.rel.fr, shape_only=False),
    "domain": _prim("domain", _domain),
    "range": _prim("range", _range),
    "classes-loc": _prim("classes-loc", _classes_loc),
    "linearisations": _prim("linearisations", _linearisations),
    "tag2events": _prim("tag2events", _tag2events),
    "different-values": Primitive(
        lambda c: Prim("different-values", _different_values), shape_only=False
    ),
}
