"""Values that remember the loads they came from.

A thread run by the explorer receives every loaded value as a :class:`Val`:
the plain value (an ``int`` or a :class:`~pinlab.engine.program.Loc` when the
memory holds a pointer) plus the set of the thread's own load events it was
computed from.  Arithmetic and comparisons on a ``Val`` return a ``Val`` whose
dependency set is the union of the operands', so dependencies flow through
local variables exactly as herd7 derives them from register data flow:

- a ``Val`` used as the value of a store (or of an RMW operand) gives a *data*
  dependency;
- a ``Val`` used as the location of an access (a pointer) gives an *address*
  dependency;
- a ``Val`` tested for truth (``if``, ``while``, ``and``, ``or``, ``not``)
  makes every later event of the thread *control* dependent on its loads: the
  test calls back into the thread's :class:`DepTracker`.  As in herd7, a
  control dependency does not end at the join point of the branch.

The sequential executor sends plain values instead; code written against this
module must therefore only use operators, ``int()``, ``bool()`` and
:func:`unwrap`, never the attributes of ``Val`` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

__all__ = ["DepTracker", "Val", "deps_of", "unwrap"]


class DepTracker:
    """Per-thread record of the loads that earlier branches depended on."""

    __slots__ = ("ctrl",)

    def __init__(self) -> None:
        self.ctrl: int = 0  # bitmask of thread-local load indices

    def branch(self, deps: int) -> None:
        self.ctrl |= deps


def unwrap(v: object) -> Any:
    """The plain value behind ``v`` (``v`` itself when it is not a :class:`Val`)."""
    return v.value if isinstance(v, Val) else v


def deps_of(v: object) -> int:
    """The dependency bitmask of ``v`` (0 for plain values)."""
    return v.deps if isinstance(v, Val) else 0


def _binop(fn: Callable[[Any, Any], Any]) -> Callable[[Val, object], Val]:
    def op(self: Val, other: object) -> Val:
        return Val(fn(self.value, unwrap(other)), self.deps | deps_of(other), self.tracker)

    return op


def _rbinop(fn: Callable[[Any, Any], Any]) -> Callable[[Val, object], Val]:
    def op(self: Val, other: object) -> Val:
        return Val(fn(unwrap(other), self.value), self.deps | deps_of(other), self.tracker)

    return op


def _cmp(fn: Callable[[Any, Any], bool]) -> Callable[[Val, object], Val]:
    def op(self: Val, other: object) -> Val:
        return Val(int(fn(self.value, unwrap(other))), self.deps | deps_of(other), self.tracker)

    return op


class Val:
    """A loaded value with its dependency set (a bitmask of thread-local load indices)."""

    __slots__ = ("deps", "tracker", "value")

    def __init__(self, value: Any, deps: int, tracker: DepTracker | None) -> None:
        self.value: Final[Any] = value.value if isinstance(value, Val) else value
        self.deps: Final[int] = deps
        self.tracker: Final[DepTracker | None] = tracker

    def __repr__(self) -> str:
        return f"Val({self.value!r}, deps={self.deps:#x})"

    def __str__(self) -> str:
        return str(self.value)

    # Truth tests are branches: they create control dependencies.
    def __bool__(self) -> bool:
        if self.deps and self.tracker is not None:
            self.tracker.branch(self.deps)
        return bool(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __index__(self) -> int:
        return int(self.value)

    def __hash__(self) -> int:
        return hash(self.value)

    __add__ = _binop(lambda a, b: a + b)
    __radd__ = _rbinop(lambda a, b: a + b)
    __sub__ = _binop(lambda a, b: a - b)
    __rsub__ = _rbinop(lambda a, b: a - b)
    __mul__ = _binop(lambda a, b: a * b)
    __rmul__ = _rbinop(lambda a, b: a * b)
    __floordiv__ = _binop(lambda a, b: a // b)
    __rfloordiv__ = _rbinop(lambda a, b: a // b)
    __mod__ = _binop(lambda a, b: a % b)
    __rmod__ = _rbinop(lambda a, b: a % b)
    __and__ = _binop(lambda a, b: a & b)
    __rand__ = _rbinop(lambda a, b: a & b)
    __or__ = _binop(lambda a, b: a | b)
    __ror__ = _rbinop(lambda a, b: a | b)
    __xor__ = _binop(lambda a, b: a ^ b)
    __rxor__ = _rbinop(lambda a, b: a ^ b)
    __lshift__ = _binop(lambda a, b: a << b)
    __rlshift__ = _rbinop(lambda a, b: a << b)
    __rshift__ = _binop(lambda a, b: a >> b)
    __rrshift__ = _rbinop(lambda a, b: a >> b)

    __eq__ = _cmp(lambda a, b: a == b)  # type: ignore[assignment]
    __ne__ = _cmp(lambda a, b: a != b)  # type: ignore[assignment]
    __lt__ = _cmp(lambda a, b: a < b)
    __le__ = _cmp(lambda a, b: a <= b)
    __gt__ = _cmp(lambda a, b: a > b)
    __ge__ = _cmp(lambda a, b: a >= b)

    def __neg__(self) -> Val:
        return Val(-self.value, self.deps, self.tracker)

    def __invert__(self) -> Val:
        return Val(~self.value, self.deps, self.tracker)

    def map(self, fn: Callable[[Any], Any]) -> Val:
        """Apply ``fn`` to the plain value, keeping the dependencies (e.g. pte -> folio)."""
        return Val(fn(self.value), self.deps, self.tracker)
