"""The one table from kernel primitive to annotated operation.

This follows ``tools/memory-model/linux-kernel.def`` as of the 2025
"softcoded tags" change (herd7 variant ``lkmmv2``): each line of that file is
one :class:`Primitive` here, with the same name, the same parameters and the
same annotation.  Parameters are described as in the ``.def`` file:

- ``lv``:  an lvalue whose location is accessed (``READ_ONCE(*x)``);
- ``ptr``: a pointer to the location accessed (``smp_load_acquire(x)``);
- ``val``: a value.

The litmus front end looks primitives up by name and calls ``build`` with
evaluated arguments; kernel model code calls the generator functions of the
same names in :mod:`pinlab.engine.kapi` (``v = yield from READ_ONCE(loc)``).
A handful of kernel primitives that linux-kernel.def does not list (bit
operations, ``atomic_fetch_add_unless``) are added in a separate section,
each expressed in the ``.def`` vocabulary as the kernel's
Documentation/atomic_bitops.txt and atomic_t.txt describe them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pinlab.engine.ops import (
    Arith,
    Fence,
    FenceTag,
    IsLocked,
    Load,
    Lock,
    Op,
    Rmw,
    RmwKind,
    SrcuSync,
    Store,
    Tag,
    TryLock,
    Unlock,
)

__all__ = ["PRIMITIVES", "Primitive", "lookup"]


@dataclass(frozen=True, slots=True)
class Primitive:
    """One line of linux-kernel.def: a name, its parameters and the operations it yields."""

    name: str
    params: tuple[str, ...]
    build: Callable[..., tuple[Op, ...]]
    returns: bool = False
    # Applied to the last operation's answer and the arguments, e.g. the
    # ``== 0`` of atomic_dec_and_test() or the bit extraction of test_bit().
    post: Callable[[Any, tuple[Any, ...]], Any] | None = None
    kernel_only: bool = False  # not in linux-kernel.def (see the module docstring)

    def run(self, *args: Any) -> Generator[Any, Any, Any]:
        """Yield the primitive's operations; return the value of the last one (after ``post``)."""
        result: Any = None
        for op in self.build(*args):
            result = yield op
        if self.post is not None:
            return self.post(result, args)
        return result if self.returns else None


_table: dict[str, Primitive] = {}


def _def(
    name: str,
    params: Sequence[str],
    build: Callable[..., tuple[Op, ...]],
    *,
    returns: bool = False,
    post: Callable[[Any, tuple[Any, ...]], Any] | None = None,
    kernel_only: bool = False,
) -> None:
    assert name not in _table, name
    _table[name] = Primitive(name, tuple(params), build, returns, post, kernel_only)


# ONCE
_def("READ_ONCE", ["lv"], lambda x: (Load(x, Tag.ONCE),), returns=True)
_def("WRITE_ONCE", ["lv", "val"], lambda x, v: (Store(x, v, Tag.ONCE),))

# Release, acquire and friends
_def("smp_store_release", ["ptr", "val"], lambda x, v: (Store(x, v, Tag.RELEASE),))
_def("smp_load_acquire", ["ptr"], lambda x: (Load(x, Tag.ACQUIRE),), returns=True)
_def("rcu_assign_pointer", ["lv", "val"], lambda x, v: (Store(x, v, Tag.RELEASE),))
_def("rcu_dereference", ["lv"], lambda x: (Load(x, Tag.ONCE),), returns=True)
_def(
    "smp_store_mb",
    ["lv", "val"],
    lambda x, v: (Store(x, v, Tag.ONCE), Fence(FenceTag.MB)),
)

# Fences
for _name, _ftag in (
    ("smp_mb", FenceTag.MB),
    ("smp_rmb", FenceTag.RMB),
    ("smp_wmb", FenceTag.WMB),
    ("smp_mb__before_atomic", FenceTag.BEFORE_ATOMIC),
    ("smp_mb__after_atomic", FenceTag.AFTER_ATOMIC),
    ("smp_mb__after_spinlock", FenceTag.AFTER_SPINLOCK),
    ("smp_mb__after_unlock_lock", FenceTag.AFTER_UNLOCK_LOCK),
    ("smp_mb__after_srcu_read_unlock", FenceTag.AFTER_SRCU_READ_UNLOCK),
    ("barrier", FenceTag.BARRIER),
    ("rcu_read_lock", FenceTag.RCU_LOCK),
    ("rcu_read_unlock", FenceTag.RCU_UNLOCK),
    ("synchronize_rcu", FenceTag.SYNC_RCU),
    ("synchronize_rcu_expedited", FenceTag.SYNC_RCU),
):
    _def(_name, [], lambda _t=_ftag: (Fence(_t),))

# Exchange
_ORDERINGS: Final = (("", Tag.MB), ("_relaxed", Tag.ONCE), ("_release", Tag.RELEASE),
                     ("_acquire", Tag.ACQUIRE))  # fmt: skip
for _prefix in ("", "atomic_"):
    for _suffix, _tag in _ORDERINGS:
        _def(
            f"{_prefix}xchg{_suffix}",
            ["ptr", "val"],
            lambda x, v, _t=_tag: (Rmw(x, RmwKind.XCHG, v, tag=_t),),
            returns=True,
        )
        _def(
            f"{_prefix}cmpxchg{_suffix}",
            ["ptr", "val", "val"],
            lambda x, old, new, _t=_tag: (Rmw(x, RmwKind.CMPXCHG, old, new, tag=_t),),
            returns=True,
        )

# Spinlocks
_def("spin_lock", ["ptr"], lambda x: (Lock(x),))
_def("spin_unlock", ["ptr"], lambda x: (Unlock(x),))
_def("spin_trylock", ["ptr"], lambda x: (TryLock(x),), returns=True)
_def("spin_is_locked", ["ptr"], lambda x: (IsLocked(x),), returns=True)

# SRCU
_def("srcu_read_lock", ["ptr"], lambda x: (Load(x, Tag.SRCU_LOCK),), returns=True)
_def("srcu_read_unlock", ["ptr", "val"], lambda x, v: (Store(x, v, Tag.SRCU_UNLOCK),))
_def("srcu_down_read", ["ptr"], lambda x: (Load(x, Tag.SRCU_LOCK),), returns=True)
_def("srcu_up_read", ["ptr", "val"], lambda x, v: (Store(x, v, Tag.SRCU_UNLOCK),))
_def("synchronize_srcu", ["ptr"], lambda x: (SrcuSync(x),))
_def("synchronize_srcu_expedited", ["ptr"], lambda x: (SrcuSync(x),))

# Atomic
_def("atomic_read", ["ptr"], lambda x: (Load(x, Tag.ONCE),), returns=True)
_def("atomic_set", ["ptr", "val"], lambda x, v: (Store(x, v, Tag.ONCE),))
_def("atomic_read_acquire", ["ptr"], lambda x: (Load(x, Tag.ACQUIRE),), returns=True)
_def("atomic_set_release", ["ptr", "val"], lambda x, v: (Store(x, v, Tag.RELEASE),))

_VOID_OPS: Final = (("add", Arith.ADD), ("sub", Arith.SUB), ("and", Arith.AND),
                    ("or", Arith.OR), ("xor", Arith.XOR), ("andnot", Arith.ANDNOT))  # fmt: skip
for _name, _arith in _VOID_OPS:
    _def(
        f"atomic_{_name}",
        ["val", "ptr"],
        lambda v, x, _a=_arith: (Rmw(x, RmwKind.ATOMIC_OP, v, arith=_a, tag=Tag.NORETURN),),
    )
for _name, _arith in (("inc", Arith.ADD), ("dec", Arith.SUB)):
    _def(
        f"atomic_{_name}",
        ["ptr"],
        lambda x, _a=_arith: (Rmw(x, RmwKind.ATOMIC_OP, 1, arith=_a, tag=Tag.NORETURN),),
    )


def _value_op(name: str, kind: RmwKind, arith: Arith, tag: Tag, unary: bool) -> None:
    if unary:
        _def(name, ["ptr"], lambda x: (Rmw(x, kind, 1, arith=arith, tag=tag),), returns=True)
    else:
        _def(
            name,
            ["val", "ptr"],
            lambda v, x: (Rmw(x, kind, v, arith=arith, tag=tag),),
            returns=True,
        )


for _suffix, _tag in _ORDERINGS:
    for _name, _arith in (("add", Arith.ADD), ("sub", Arith.SUB)):
        _value_op(f"atomic_{_name}_return{_suffix}", RmwKind.OP_RETURN, _arith, _tag, False)
        _value_op(f"atomic_fetch_{_name}{_suffix}", RmwKind.FETCH_OP, _arith, _tag, False)
    for _name, _arith in (("inc", Arith.ADD), ("dec", Arith.SUB)):
        _value_op(f"atomic_{_name}_return{_suffix}", RmwKind.OP_RETURN, _arith, _tag, True)
        _value_op(f"atomic_fetch_{_name}{_suffix}", RmwKind.FETCH_OP, _arith, _tag, True)
    for _name, _arith in (("and", Arith.AND), ("or", Arith.OR), ("xor", Arith.XOR),
                          ("andnot", Arith.ANDNOT)):  # fmt: skip
        _value_op(f"atomic_fetch_{_name}{_suffix}", RmwKind.FETCH_OP, _arith, _tag, False)


def _is_zero(v: Any, _args: tuple[Any, ...]) -> Any:
    return v == 0


def _is_negative(v: Any, _args: tuple[Any, ...]) -> Any:
    return v < 0


def _bit(v: Any, args: tuple[Any, ...]) -> Any:
    return (v >> args[0]) & 1


def _op_return(v: Any, x: Any, arith: Arith, tag: Tag = Tag.MB) -> tuple[Op, ...]:
    return (Rmw(x, RmwKind.OP_RETURN, v, arith=arith, tag=tag),)


_def(
    "atomic_sub_and_test",
    ["val", "ptr"],
    lambda v, x: _op_return(v, x, Arith.SUB),
    returns=True,
    post=_is_zero,
)
_def("atomic_dec_and_test", ["ptr"], lambda x: _op_return(1, x, Arith.SUB), post=_is_zero)
_def("atomic_inc_and_test", ["ptr"], lambda x: _op_return(1, x, Arith.ADD), post=_is_zero)
for _suffix, _tag in _ORDERINGS:
    _def(
        f"atomic_add_negative{_suffix}",
        ["val", "ptr"],
        lambda v, x, _t=_tag: _op_return(v, x, Arith.ADD, _t),
        post=_is_negative,
    )

_def(
    "atomic_add_unless",
    ["ptr", "val", "val"],
    lambda x, a, u: (Rmw(x, RmwKind.ADD_UNLESS, a, u, arith=Arith.ADD, tag=Tag.MB),),
    returns=True,
)

# --- Kernel primitives that linux-kernel.def does not list -----------------
# atomic_t.txt: atomic_fetch_add_unless() is a fully ordered conditional RMW
# returning the old value.
_def(
    "atomic_fetch_add_unless",
    ["ptr", "val", "val"],
    lambda x, a, u: (Rmw(x, RmwKind.ADD_UNLESS, a, u, arith=Arith.ADD, tag=Tag.MB, ret_old=True),),
    returns=True,
    kernel_only=True,
)
# atomic_bitops.txt: set_bit()/clear_bit() are unordered void RMWs; the
# value-returning test_and_*() are fully ordered; test_bit() is a plain
# marked load.  ``nr`` is a bit number.
_def(
    "set_bit",
    ["val", "ptr"],
    lambda nr, x: (Rmw(x, RmwKind.ATOMIC_OP, 1 << nr, arith=Arith.OR, tag=Tag.NORETURN),),
    kernel_only=True,
)
_def(
    "clear_bit",
    ["val", "ptr"],
    lambda nr, x: (Rmw(x, RmwKind.ATOMIC_OP, 1 << nr, arith=Arith.ANDNOT, tag=Tag.NORETURN),),
    kernel_only=True,
)
_def(
    "test_bit",
    ["val", "ptr"],
    lambda nr, x: (Load(x, Tag.ONCE),),
    returns=True,
    post=_bit,
    kernel_only=True,
)
_def(
    "test_and_set_bit",
    ["val", "ptr"],
    lambda nr, x: (Rmw(x, RmwKind.FETCH_OP, 1 << nr, arith=Arith.OR, tag=Tag.MB),),
    returns=True,
    post=_bit,
    kernel_only=True,
)
_def(
    "test_and_clear_bit",
    ["val", "ptr"],
    lambda nr, x: (Rmw(x, RmwKind.FETCH_OP, 1 << nr, arith=Arith.ANDNOT, tag=Tag.MB),),
    returns=True,
    post=_bit,
    kernel_only=True,
)

PRIMITIVES: Final[dict[str, Primitive]] = _table


def lookup(name: str) -> Primitive | None:
    """The primitive called ``name``, or None when the model does not define it."""
    return PRIMITIVES.get(name)
