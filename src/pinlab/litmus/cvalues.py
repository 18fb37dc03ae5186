"""C operators on the values a litmus thread computes with.

A value is an ``int``, a :class:`~pinlab.engine.program.Loc` (a pointer), or
a :class:`~pinlab.engine.values.Val` wrapping either one with the loads it
depends on.  The operators here give C's meaning on the plain values
(division truncates toward zero, comparisons give 0 or 1, a pointer plus an
integer is a pointer) and carry the union of the operands' dependencies to
the result, using only ``Val.map`` and ``+`` on ``Val`` as the engine's value
contract asks (so values the explorer has not resolved yet stay expressions).

Integers are C's 64-bit ones as far as range goes: a result of ``+ - * <<``
and the like outside ``-(2**64 - 1) .. 2**64 - 1`` (the bound on literals,
:data:`~pinlab.litmus.bounds.MAX_LITERAL`) is an error, not a number of any
size (a few ``r = r * r;`` would otherwise fill memory).

Pointer arithmetic follows herd7's symbolic addresses: ``x + 0`` is ``x``;
``x + k`` is a distinct location named ``x+k``; two pointers compare equal
only when they are the same location, and every integer orders below every
pointer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from pinlab.engine import Loc, Val, unwrap
from pinlab.litmus.bounds import MAX_LITERAL

__all__ = ["CValueError", "apply1", "apply2", "binary", "cancels", "not_pointer", "unary"]


class CValueError(ValueError):
    """An operation C (or herd7) does not define on these values, e.g. a division by zero."""


def _single(x: Any) -> tuple[Any]:
    return (x,)


def apply2(fn: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """``fn`` on the plain values of ``a`` and ``b``, with the union of their dependencies.

    Only ``Val.map`` and ``+`` on ``Val`` are used, so a value the explorer
    has not resolved yet stays an expression that it evaluates later: the
    two operands are paired by tuple concatenation, then ``fn`` is mapped.
    """
    if isinstance(a, Val):
        if isinstance(b, Val):
            pair = a.map(_single) + b.map(_single)
            return pair.map(lambda ab: fn(ab[0], ab[1]))
        return a.map(lambda x: fn(x, b))
    if isinstance(b, Val):
        return b.map(lambda y: fn(a, y))
    return fn(a, b)


def cancels(op: str, a: Any, b: Any) -> Any | None:
    """``a op b`` when it is 0 whatever the value: ``x ^ x`` and ``x - x``; else None.

    herd7 simplifies ``x ^ x`` to 0 even when ``x`` is not known yet (a
    "fake" dependency, kept as a dependency), so that an address such as
    ``y + (r1 ^ r1)`` is ``y`` before ``r1`` is read.  The result here is a
    known 0 that keeps the operand's dependencies, so the explorer need not
    wait for ``x`` either.
    """
    if a is b and op in ("^", "-") and isinstance(a, Val):
        return a.with_value(0)
    return None


def apply1(fn: Callable[[Any], Any], a: Any) -> Any:
    """``fn`` on the plain value of ``a``, keeping its dependencies."""
    return a.map(fn) if isinstance(a, Val) else fn(a)


def not_pointer(v: Any) -> bool:
    """Whether ``v`` is certainly not a location (an integer); unresolved values may be."""
    return isinstance(unwrap(v), int)


def _split(loc: Loc) -> tuple[str, int]:
    return loc.base_offset()


def _offset(loc: Loc, k: int) -> Loc:
    return loc.offset(k)


def _order(v: Any) -> tuple[int, Any]:
    """herd7's order on values: integers first, then symbolic addresses by name."""
    return (1, _split(v)) if isinstance(v, Loc) else (0, v)


def _cdiv(a: int, b: int) -> int:
    if b == 0:
        raise CValueError("division by zero")
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _cmod(a: int, b: int) -> int:
    return a - b * _cdiv(a, b)


def _shl(a: int, b: int) -> int:
    if b < 0:
        raise CValueError("negative shift count")
    if _plain_ints(a, b) and a != 0 and b >= MAX_LITERAL.bit_length():
        raise CValueError(f"integer overflow: {a} << {b} does not fit in 64 bits")
    return a << b


def _shr(a: int, b: int) -> int:
    if b < 0:
        raise CValueError("negative shift count")
    return a >> b


_INT_OPS: Final[dict[str, Callable[[int, int], int]]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _cdiv,
    "%": _cmod,
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
    "<<": _shl,
    ">>": _shr,
}

_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _pointer_op(op: str, a: Any, b: Any) -> Any:
    if op == "+" and isinstance(a, Loc) and isinstance(b, int):
        return _offset(a, b)
    if op == "+" and isinstance(b, Loc) and isinstance(a, int):
        return _offset(b, a)
    if op == "-" and isinstance(a, Loc) and isinstance(b, int):
        return _offset(a, -b)
    if op == "-" and isinstance(a, Loc) and isinstance(b, Loc):
        (base_a, off_a), (base_b, off_b) = _split(a), _split(b)
        if base_a == base_b:
            return off_a - off_b
    raise CValueError(f"invalid operands to '{op}': {a} and {b}")


def _plain_binary(op: str, a: Any, b: Any) -> Any:
    if op in _COMPARE:
        if isinstance(a, Loc) or isinstance(b, Loc):
            if op in ("==", "!="):
                return int(_COMPARE[op](a, b))
            return int(_COMPARE[op](_order(a), _order(b)))
        return int(_COMPARE[op](a, b))
    if isinstance(a, Loc) or isinstance(b, Loc):
        return _pointer_op(op, a, b)
    return _in_range(_INT_OPS[op](a, b), op, a, b)


def _plain_ints(*values: object) -> bool:
    """Whether ``values`` are all known integers (not the engine's undetermined values)."""
    return all(type(v) is int for v in values)


def _in_range(value: int, op: str, a: int, b: int) -> int:
    if not _plain_ints(value) or -MAX_LITERAL <= value <= MAX_LITERAL:
        return value
    raise CValueError(f"integer overflow: {a} {op} {b} does not fit in 64 bits")


def binary(op: str) -> Callable[[Any, Any], Any]:
    """The plain function of a C binary operator (not ``&&``/``||``): use with :func:`apply2`."""
    return lambda a, b: _plain_binary(op, a, b)


def _plain_unary(op: str, a: Any) -> Any:
    if op == "!":
        return int(not a)
    if op == "+":
        return a
    if isinstance(a, Loc):
        raise CValueError(f"invalid operand to unary '{op}': {a}")
    return -a if op == "-" else ~a


def unary(op: str) -> Callable[[Any], Any]:
    """The plain function of ``+ - ! ~``: use with :func:`apply1`.

    ``!`` is a value, not a branch, so it makes no control dependency.
    """
    return lambda a: _plain_unary(op, a)
