"""The values of the cat language, and its operators on them.

Over one execution of ``n`` events:

- a set of events is an ``int`` bitmask; a relation is a ``list`` of ``n``
  bitmask rows (:mod:`pinlab.engine.relation`): the two are what nearly
  every expression computes, with no wrapping;
- :data:`EMPTY` is ``{}`` (and ``0``, and the first approximation of a
  recursive definition): empty as a set of events, a relation or a set of
  values alike, taking its type from what it meets;
- an event :class:`Ev` and a pair of events :class:`Pair` are what ``match``
  takes out of a set or a relation (``e ++ S``);
- a :class:`Tag` is a quoted tag (``'ONCE``);
- a set of other values (relations, sets, tuples) is a ``frozenset``, a
  relation in it frozen as :class:`FRel`; ``tuple`` is a tuple of values.

Rows are shared, never mutated: every operator makes new ones.  A value
of the wrong type for an operator raises :class:`CatTypeError`, which the
evaluator turns into a :class:`~pinlab.cat.errors.CatError` at the
operator's position.
"""

from __future__ import annotations

from typing import Any, Final

from pinlab.engine import relation as r

__all__ = [
    "EMPTY",
    "CatTypeError",
    "Ev",
    "FRel",
    "Pair",
    "Tag",
    "a_",
    "add",
    "binary",
    "is_empty",
    "same",
    "thaw",
    "type_name",
    "unary",
]

Value = Any


class CatTypeError(Exception):
    """An operator applied to a value of the wrong type (the evaluator adds where)."""


class _Empty:
    __slots__ = ()

    def __repr__(self) -> str:
        return "{}"


EMPTY: Final = _Empty()


class Ev(int):
    """One event (its id), as ``match`` takes it out of a set."""

    __slots__ = ()


class Pair(tuple[int, int]):
    """One pair of events, as ``match`` takes it out of a relation."""

    __slots__ = ()


class Tag(str):
    """A quoted tag, ``'ONCE``."""

    __slots__ = ()


class FRel(tuple[int, ...]):
    """A relation as an element of a set of values (hashable rows)."""

    __slots__ = ()


def type_name(v: Value) -> str:
    if isinstance(v, Ev):
        return "event"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "event set"
    if isinstance(v, list | FRel):
        return "relation"
    if v is EMPTY:
        return "empty set"
    if isinstance(v, Pair):
        return "pair"
    if isinstance(v, Tag):
        return "tag"
    if isinstance(v, frozenset):
        return "set"
    if isinstance(v, tuple):
        return "tuple"
    return "function"


def a_(v: Value) -> str:
    """The type of ``v`` with its article: "an event set", "a relation"."""
    name = type_name(v)
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def thaw(v: Value) -> Value:
    """A value taken out of a set: a frozen relation back to rows."""
    return list(v) if isinstance(v, FRel) else v


def _freeze(v: Value) -> Value:
    return FRel(v) if isinstance(v, list) else v


def is_empty(v: Value) -> bool:
    if v is EMPTY:
        return True
    if isinstance(v, list):
        return not any(v)
    if isinstance(v, int):
        return v == 0
    if isinstance(v, frozenset):
        return not v
    raise CatTypeError(f"expected a set or a relation, got {a_(v)}")


def same(a: Value, b: Value) -> bool:
    """Equality of values, the empty ones of every type being equal."""
    if a is EMPTY or b is EMPTY:
        try:
            return is_empty(a) and is_empty(b)
        except CatTypeError:
            return False
    if isinstance(a, list) and isinstance(b, list):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _kind(v: Value) -> str:
    """'s' (event set), 'r' (relation), 'v' (set of values), 'e' (empty), '?'."""
    if v is EMPTY:
        return "e"
    if isinstance(v, list):
        return "r"
    if isinstance(v, int) and not isinstance(v, Ev | bool):
        return "s"
    if isinstance(v, frozenset):
        return "v"
    return "?"


def binary(op: str, a: Value, b: Value, n: int) -> Value:
    """``a op b`` for ``op`` one of ``union inter diff seq cart``."""
    ka, kb = _kind(a), _kind(b)
    if op == "cart":
        if ka in "se" and kb in "se":
            if ka == "e" or kb == "e":
                return EMPTY
            return r.cross(n, a, b)
        raise CatTypeError(f"cartesian product of {a_(a)} and {a_(b)}")
    if op == "seq":
        if ka in "re" and kb in "re":
            return EMPTY if ka == "e" or kb == "e" else r.compose(a, b)
        raise CatTypeError(f"sequence of {a_(a)} and {a_(b)}")
    if ka == "e" or kb == "e":
        other, ko = (b, kb) if ka == "e" else (a, ka)
        if ko == "?":
            raise CatTypeError(f"set operation on {a_(other)}")
        if op == "union":
            return other
        if op == "inter":
            return EMPTY
        return EMPTY if ka == "e" else a  # diff
    if ka != kb or ka == "?":
        raise CatTypeError(f"{op} of {a_(a)} and {a_(b)}")
    if ka == "s":
        return a | b if op == "union" else a & b if op == "inter" else a & ~b
    if ka == "r":
        return r.union(a, b) if op == "union" else r.inter(a, b) if op == "inter" else r.diff(a, b)
    return a | b if op == "union" else a & b if op == "inter" else a - b


def unary(op: str, a: Value, n: int) -> Value:
    """``op`` one of ``compl inverse plus star opt ident domain range``."""
    k = _kind(a)
    if op == "ident":
        if k == "e":
            return EMPTY
        if k == "s":
            return r.ident(n, a)
        raise CatTypeError(f"[...] of {a_(a)}: expected an event set")
    if op in ("domain", "range"):
        if k == "e":
            return 0
        if k == "r":
            return r.domain(a) if op == "domain" else r.range_(a)
        raise CatTypeError(f"{op} of {a_(a)}: expected a relation")
    if op == "compl":
        everything = (1 << n) - 1
        if k == "s":
            return everything & ~a
        if k == "r":
            return [everything & ~row for row in a]
        raise CatTypeError(f"complement of {a_(a)}")
    if k == "e":
        return EMPTY if op in ("inverse", "plus") else r.ident(n)
    if k != "r":
        raise CatTypeError(f"{op} of {a_(a)}: expected a relation")
    if op == "inverse":
        return r.inverse(a)
    if op == "plus":
        return r.closure(a)
    if op == "star":
        return r.star(a)
    return r.refl_closure(a)


def add(x: Value, s: Value, n: int) -> Value:
    """``x ++ s``: an event into an event set, a pair into a relation, else a
    value into a set of values."""
    ks = _kind(s)
    if isinstance(x, Ev) and ks in "se":
        return (0 if ks == "e" else s) | (1 << x)
    if isinstance(x, Pair) and ks in "re":
        rows = [0] * n if ks == "e" else list(s)
        rows[x[0]] |= 1 << x[1]
        return rows
    if ks in "ve":
        return (frozenset() if ks == "e" else s) | {_freeze(x)}
    raise CatTypeError(f"cannot add {a_(x)} to {a_(s)}")


def elements(s: Value) -> list[Value]:
    """The members of a set, relation or set of values, in a fixed order."""
    k = _kind(s)
    if k == "e":
        return []
    if k == "s":
        return [Ev(i) for i in r.bits(s)]
    if k == "r":
        return [Pair((i, j)) for i, j in r.pairs(s)]
    if k == "v":
        return [thaw(v) for v in sorted(s, key=_order)]
    raise CatTypeError(f"expected a set, got {a_(s)}")


def _order(v: Value) -> tuple[str, Any]:
    if isinstance(v, FRel | tuple):
        return type(v).__name__, tuple(v)
    if isinstance(v, int | str):
        return type(v).__name__, v
    return type(v).__name__, repr(v)


def remove_first(s: Value, n: int) -> tuple[Value, Value] | None:
    """``e ++ rest = s``: the first member of ``s`` and the rest (None when empty)."""
    k = _kind(s)
    if k == "s":
        if not s:
            return None
        low = s & -s
        return Ev(low.bit_length() - 1), s ^ low
    if k == "r":
        for i, row in enumerate(s):
            if row:
                low = row & -row
                rest = list(s)
                rest[i] = row ^ low
                return Pair((i, low.bit_length() - 1)), rest
        return None
    if k == "v":
        if not s:
            return None
        first = min(s, key=_order)
        return thaw(first), s - {first}
    if k == "e":
        return None
    raise CatTypeError(f"match on {a_(s)}: expected a set")
