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
  makes the later events of the thread *control* dependent on its loads: the
  test calls back into the thread's :class:`DepTracker`.  The dependency lasts
  until the code that branched says where its branches join
  (:func:`ctrl_mark` / :func:`ctrl_restore`): herd7's C semantics makes only
  the events inside an ``if``'s branches dependent, while a kernel path that
  leaves early (``if (!pte_present(pte)) return 0;``) makes everything after
  the test dependent, which is what a tracker does when nobody restores it.

A value may also be *symbolic* (:class:`Sym`): the explorer lets a read wait
for a write that has not been generated yet (herd7 likewise enumerates thread
paths before it picks reads-from), and the thread runs on with an expression
over such pending reads.  Testing a symbolic value for truth asks the tracker
for a decision (the explorer forks on both outcomes and checks the guess once
the value is known, as herd7 checks the constraints of a branch); asking for
its concrete value (``int()``, ``hash()``, an address) raises
:class:`NeedsConcrete`, and the explorer resumes the thread once the reads it
waits for have their values.

The sequential executor sends plain values instead; code written against this
module must therefore only use operators, ``int()``, ``bool()`` and
:func:`unwrap`, never the attributes of ``Val`` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

__all__ = [
    "BranchMismatch",
    "CtrlMark",
    "DepTracker",
    "ForkNeeded",
    "NeedsConcrete",
    "Sym",
    "Undetermined",
    "Val",
    "ctrl_mark",
    "ctrl_restore",
    "deps_of",
    "evaluate",
    "is_symbolic",
    "unwrap",
]


class Sym:
    """An expression over reads whose writes are not known yet.

    A leaf is ``Sym(None, (eid,))``: the value read by event ``eid``.  Inner
    nodes apply ``fn`` to their evaluated ``args``.  ``reads`` is the bitmask of
    the leaves below.
    """

    __slots__ = ("args", "fn", "reads")

    def __init__(self, fn: Callable[..., Any] | None, args: tuple[Any, ...], reads: int) -> None:
        self.fn = fn
        self.args = args
        self.reads = reads

    @staticmethod
    def leaf(eid: int) -> Sym:
        return Sym(None, (eid,), 1 << eid)

    @staticmethod
    def apply(fn: Callable[..., Any], *args: Any) -> Sym:
        reads = 0
        for a in args:
            if type(a) is Sym:
                reads |= a.reads
        return Sym(fn, args, reads)

    def __repr__(self) -> str:
        if self.fn is None:
            return f"<read e{self.args[0]}>"
        return f"<{getattr(self.fn, '__name__', 'op')}{self.args!r}>"

    def __bool__(self) -> bool:
        raise NeedsConcrete(self)

    def __hash__(self) -> int:
        raise NeedsConcrete(self)

    def __int__(self) -> int:
        raise NeedsConcrete(self)

    def __index__(self) -> int:
        raise NeedsConcrete(self)


def is_symbolic(v: object) -> bool:
    return type(unwrap(v)) is Sym


def evaluate(v: Any, read_value: Callable[[int], Any]) -> Any:
    """The concrete value of ``v`` given the value of each pending read."""
    if type(v) is not Sym:
        return v
    if v.fn is None:
        return read_value(v.args[0])
    return v.fn(*(evaluate(a, read_value) for a in v.args))


class Undetermined:
    """A value no write determines: it depends on itself through reads-from.

    A candidate execution whose values form a cycle (``r1 = *x; *y = r1`` on
    one CPU, ``r2 = *y; *x = r2`` on the other, each read reading the other's
    write) has no solution.  herd7 keeps such a candidate, with the value
    left as a symbol it prints ``S<n>``, as long as no branch condition needs
    it; so does the explorer.  An undetermined value equals only itself;
    arithmetic on it is undetermined too, and *derived*: herd7 solves a value
    cycle only by unification (each value a copy of another), so a candidate
    in which any value is computed from an undetermined one keeps an equation
    it cannot solve, and herd7 drops it; so does the explorer.
    """

    __slots__ = ("key",)

    def __init__(self, key: object) -> None:
        self.key = key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Undetermined) and other.key == self.key

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(("undetermined", self.key))

    def __str__(self) -> str:
        key = self.key
        while isinstance(key, tuple):
            key = key[1]
        return f"S{key}"

    __repr__ = __str__

    @property
    def derived(self) -> bool:
        """Whether this value was computed from an undetermined one (not a copy)."""
        return isinstance(self.key, tuple) and self.key[:1] == ("derived",)

    def _derived(self, *_: object) -> Undetermined:
        return Undetermined(("derived", self.key))

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _derived
    __and__ = __rand__ = __or__ = __ror__ = __xor__ = __rxor__ = _derived
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _derived
    __lshift__ = __rlshift__ = __rshift__ = __rrshift__ = _derived
    __neg__ = __invert__ = _derived


class ForkNeeded(BaseException):
    """A branch on a symbolic value with no decision recorded yet."""

    def __init__(self, sym: Sym) -> None:
        super().__init__(sym)
        self.sym = sym


class NeedsConcrete(BaseException):
    """A thread needs the concrete value of a symbolic one (``int()``, an address)."""

    def __init__(self, sym: Sym) -> None:
        super().__init__(sym)
        self.sym = sym


class BranchMismatch(BaseException):
    """A replayed branch went the other way than the decision recorded for it."""


class DepTracker:
    """Per-thread run state behind its values.

    ``ctrl`` is the bitmask of the thread's loads that earlier branches
    depended on.  Every truth test of a tracked value is numbered; for test
    ``i``, ``decisions[i]`` is its outcome.  A test of a concrete value
    records its outcome (and, on a replay, must agree with the recorded one);
    a test of a symbolic value takes the recorded outcome, or raises
    :class:`ForkNeeded` when there is none yet.  ``constraints`` collects each
    (expression, outcome) taken on trust, for the explorer to check once the
    values are known.
    """

    __slots__ = ("constraints", "ctrl", "cursor", "decisions")

    def __init__(self, decisions: list[bool] | None = None) -> None:
        self.ctrl: int = 0  # bitmask of thread-local load indices
        self.decisions: list[bool] = list(decisions) if decisions is not None else []
        self.cursor = 0
        self.constraints: list[tuple[int, Sym, bool]] = []  # (test index, expr, outcome)

    def branch(self, deps: int) -> None:
        self.ctrl |= deps

    def truth(self, value: Any, deps: int) -> bool:
        self.ctrl |= deps
        i = self.cursor
        self.cursor = i + 1
        if type(value) is Sym:
            if i >= len(self.decisions):
                self.cursor = i
                raise ForkNeeded(value)
            outcome = self.decisions[i]
            self.constraints.append((i, value, outcome))
            return outcome
        outcome = bool(value)
        if i < len(self.decisions):
            if self.decisions[i] != outcome:
                raise BranchMismatch()
        else:
            self.decisions.append(outcome)
        return outcome


def unwrap(v: object) -> Any:
    """The plain value behind ``v`` (``v`` itself when it is not a :class:`Val`)."""
    return v.value if isinstance(v, Val) else v


def deps_of(v: object) -> int:
    """The dependency bitmask of ``v`` (0 for plain values)."""
    return v.deps if isinstance(v, Val) else 0


def _combine(fn: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    if type(a) is Sym or type(b) is Sym:
        return Sym.apply(fn, a, b)
    return fn(a, b)


def _binop(fn: Callable[[Any, Any], Any]) -> Callable[[Val, object], Val]:
    def op(self: Val, other: object) -> Val:
        v = _combine(fn, self.value, unwrap(other))
        return Val(v, self.deps | deps_of(other), self.tracker)

    return op


def _rbinop(fn: Callable[[Any, Any], Any]) -> Callable[[Val, object], Val]:
    def op(self: Val, other: object) -> Val:
        v = _combine(fn, unwrap(other), self.value)
        return Val(v, self.deps | deps_of(other), self.tracker)

    return op


def _cmp(fn: Callable[[Any, Any], bool]) -> Callable[[Val, object], Val]:
    def as_int(a: Any, b: Any) -> int:
        return int(fn(a, b))

    def op(self: Val, other: object) -> Val:
        v = _combine(as_int, self.value, unwrap(other))
        return Val(v, self.deps | deps_of(other), self.tracker)

    return op


def _neg(a: Any) -> Any:
    return -a


def _inv(a: Any) -> Any:
    return ~a


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
        tracker = self.tracker
        if tracker is not None:
            return tracker.truth(self.value, self.deps)
        return bool(self.value)  # a Sym raises NeedsConcrete

    def __int__(self) -> int:
        return int(self.value)  # a Sym raises NeedsConcrete

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
        v = Sym.apply(_neg, self.value) if type(self.value) is Sym else -self.value
        return Val(v, self.deps, self.tracker)

    def __invert__(self) -> Val:
        v = Sym.apply(_inv, self.value) if type(self.value) is Sym else ~self.value
        return Val(v, self.deps, self.tracker)

    def with_value(self, value: Any) -> Val:
        """A known ``value`` that keeps this value's dependencies (herd7's ``x ^ x`` is 0)."""
        return Val(value, self.deps, self.tracker)

    def map(self, fn: Callable[[Any], Any]) -> Val:
        """Apply ``fn`` to the plain value, keeping the dependencies (e.g. pte -> folio)."""
        v = Sym.apply(fn, self.value) if type(self.value) is Sym else fn(self.value)
        return Val(v, self.deps, self.tracker)


CtrlMark = tuple[DepTracker, int] | None


def ctrl_mark(v: object) -> CtrlMark:
    """Where the thread's control dependencies stand before a branch on ``v``."""
    if isinstance(v, Val) and v.tracker is not None:
        return v.tracker, v.tracker.ctrl
    return None


def ctrl_restore(mark: CtrlMark) -> None:
    """End the control dependencies taken since ``mark``: the branches have joined."""
    if mark is not None:
        mark[0].ctrl = mark[1]
