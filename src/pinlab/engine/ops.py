"""The operations a thread yields.

A thread is a generator.  Each access to shared memory is a ``yield`` of one
of the operations below; the engine answers with the loaded value (or
``None``).  Every operation carries its LKMM annotation, named as in the
kernel's ``tools/memory-model/linux-kernel.def`` / ``linux-kernel.bell``.  Which
kernel primitive builds which operation is one table:
:mod:`pinlab.engine.primitives`.

Locations are :class:`~pinlab.engine.program.Loc` objects, or a
:class:`~pinlab.engine.values.Val` holding one (a pointer loaded from memory,
which gives the access an address dependency).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final

from pinlab.engine.program import Loc

__all__ = [
    "Arith",
    "Assume",
    "Choose",
    "Cutoff",
    "Fence",
    "FenceTag",
    "IsLocked",
    "Load",
    "Lock",
    "Op",
    "Rmw",
    "RmwKind",
    "SrcuSync",
    "Store",
    "Tag",
    "TryLock",
    "Unlock",
    "apply_arith",
]


class Tag(enum.StrEnum):
    """Annotation of a memory access (the ``Accesses`` and ``SRCU`` enums of the bell)."""

    PLAIN = "plain"  # a C access with no marking: ``*x = 1``, ``r = *x``
    ONCE = "once"
    ACQUIRE = "acquire"
    RELEASE = "release"
    MB = "mb"
    NORETURN = "noreturn"
    SRCU_LOCK = "srcu-lock"
    SRCU_UNLOCK = "srcu-unlock"


class FenceTag(enum.StrEnum):
    """Annotation of a fence (the ``Barriers`` enum of the bell)."""

    MB = "mb"
    RMB = "rmb"
    WMB = "wmb"
    BARRIER = "barrier"
    RCU_LOCK = "rcu-lock"
    RCU_UNLOCK = "rcu-unlock"
    SYNC_RCU = "sync-rcu"
    BEFORE_ATOMIC = "before-atomic"
    AFTER_ATOMIC = "after-atomic"
    AFTER_SPINLOCK = "after-spinlock"
    AFTER_UNLOCK_LOCK = "after-unlock-lock"
    AFTER_SRCU_READ_UNLOCK = "after-srcu-read-unlock"


class RmwKind(enum.Enum):
    """The read-modify-write shapes of linux-kernel.def."""

    XCHG = "xchg"  # write arg; return old
    CMPXCHG = "cmpxchg"  # if old == arg: write arg2; return old (failure: a lone read)
    ADD_UNLESS = "add_unless"  # if old != arg2: write old + arg; return success (or old)
    FETCH_OP = "fetch_op"  # write old <arith> arg; return old
    OP_RETURN = "op_return"  # write old <arith> arg; return new
    ATOMIC_OP = "atomic_op"  # write old <arith> arg; return nothing (NORETURN)


class Arith(enum.StrEnum):
    ADD = "+"
    SUB = "-"
    AND = "&"
    OR = "|"
    XOR = "^"
    ANDNOT = "&~"


def apply_arith(op: Arith, old: Any, arg: Any) -> Any:
    """Compute ``old <op> arg`` on plain values; a pointer (a :class:`Loc`) may be
    moved by adding or subtracting an integer, as herd7 does (``y+1``)."""
    if isinstance(old, Loc) or isinstance(arg, Loc):
        return _pointer_arith(op, old, arg)
    if op is Arith.ADD:
        return old + arg
    if op is Arith.SUB:
        return old - arg
    if op is Arith.AND:
        return old & arg
    if op is Arith.OR:
        return old | arg
    if op is Arith.XOR:
        return old ^ arg
    return old & ~arg


class PointerArith(ValueError):
    """Arithmetic on a pointer that is not a pointer moved by an integer."""


def _pointer_arith(op: Arith, old: Any, arg: Any) -> Any:
    if op is Arith.ADD and isinstance(old, Loc) and isinstance(arg, int):
        return old.offset(arg)
    if op is Arith.ADD and isinstance(arg, Loc) and isinstance(old, int):
        return arg.offset(old)
    if op is Arith.SUB and isinstance(old, Loc) and isinstance(arg, int):
        return old.offset(-arg)
    raise PointerArith(f"atomic {op.name.lower()} of {old!r} and {arg!r}: only a pointer plus "
                       "or minus an integer is defined")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Load:
    """A read: ``READ_ONCE``, ``smp_load_acquire``, a plain ``*x``, ``srcu_read_lock``."""

    loc: Any
    tag: Tag = Tag.ONCE


@dataclass(frozen=True, slots=True)
class Store:
    """A write: ``WRITE_ONCE``, ``smp_store_release``, a plain ``*x = v``, ``srcu_read_unlock``."""

    loc: Any
    value: Any
    tag: Tag = Tag.ONCE


@dataclass(frozen=True, slots=True)
class Rmw:
    """An atomic read-modify-write (see :class:`RmwKind` for ``arg``/``arg2``)."""

    loc: Any
    kind: RmwKind
    arg: Any
    arg2: Any = None
    arith: Arith | None = None
    tag: Tag = Tag.MB
    ret_old: bool = False  # ADD_UNLESS only: return the old value instead of success


@dataclass(frozen=True, slots=True)
class Fence:
    tag: FenceTag
    label: str = ""  # a name for this barrier in the code that yields it (for traces)


@dataclass(frozen=True, slots=True)
class Lock:
    """``spin_lock()``: a lock-read (acquire) and lock-write pair."""

    loc: Any


@dataclass(frozen=True, slots=True)
class Unlock:
    """``spin_unlock()``: an unlock write with release ordering."""

    loc: Any


@dataclass(frozen=True, slots=True)
class TryLock:
    """``spin_trylock()``: a lock pair and 1, or a lock-fail read and 0."""

    loc: Any


@dataclass(frozen=True, slots=True)
class IsLocked:
    """``spin_is_locked()``: a read-locked (1) or read-unlocked (0) event."""

    loc: Any


@dataclass(frozen=True, slots=True)
class SrcuSync:
    """``synchronize_srcu()``: a grace-period event on the srcu_struct location."""

    loc: Any


@dataclass(frozen=True, slots=True)
class Assume:
    """Keep only the executions in which ``cond`` holds (a filter, not a check)."""

    cond: Any


@dataclass(frozen=True, slots=True)
class Choose:
    """A nondeterministic choice among ``n`` alternatives; the engine answers 0..n-1."""

    n: int
    why: str = ""


@dataclass(frozen=True, slots=True)
class Cutoff:
    """A loop bound was reached: the execution is cut here and counted as bounded.

    Like herd7's ``CutOff`` event for unrolled loops: the run never claims a
    verdict for executions it did not finish.
    """

    why: str = "loop bound"


Op = (
    Load | Store | Rmw | Fence | Lock | Unlock | TryLock | IsLocked | SrcuSync | Assume | Choose
    | Cutoff
)  # fmt: skip

READS_MEMORY: Final = (Load, Rmw, TryLock, IsLocked)
