"""Kernel primitives as generator functions, for the kernel model.

Each function runs the :mod:`pinlab.engine.primitives` table entry of the same
name, so kernel model code reads like C::

    pte = yield from READ_ONCE(ptep)
    yield from smp_mb()
    if not (yield from atomic_add_unless(folio._refcount, refs, 0)):
        ...

Nothing here adds semantics: the table is the single source of truth.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pinlab.engine.ops import Op
from pinlab.engine.primitives import PRIMITIVES

Gen = Generator[Op, Any, Any]


def READ_ONCE(x: Any) -> Gen:
    return (yield from PRIMITIVES["READ_ONCE"].run(x))


def smp_load_acquire(x: Any) -> Gen:
    return (yield from PRIMITIVES["smp_load_acquire"].run(x))


def rcu_dereference(x: Any) -> Gen:
    return (yield from PRIMITIVES["rcu_dereference"].run(x))


def atomic_read(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_read"].run(x))


def atomic_read_acquire(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_read_acquire"].run(x))


def spin_trylock(x: Any) -> Gen:
    return (yield from PRIMITIVES["spin_trylock"].run(x))


def spin_is_locked(x: Any) -> Gen:
    return (yield from PRIMITIVES["spin_is_locked"].run(x))


def srcu_read_lock(x: Any) -> Gen:
    return (yield from PRIMITIVES["srcu_read_lock"].run(x))


def srcu_down_read(x: Any) -> Gen:
    return (yield from PRIMITIVES["srcu_down_read"].run(x))


def atomic_inc_return(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_inc_return"].run(x))


def atomic_inc_return_relaxed(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_inc_return_relaxed"].run(x))


def atomic_inc_return_acquire(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_inc_return_acquire"].run(x))


def atomic_inc_return_release(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_inc_return_release"].run(x))


def atomic_dec_return(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_dec_return"].run(x))


def atomic_dec_return_relaxed(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_dec_return_relaxed"].run(x))


def atomic_dec_return_acquire(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_dec_return_acquire"].run(x))


def atomic_dec_return_release(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_dec_return_release"].run(x))


def atomic_fetch_inc(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_inc"].run(x))


def atomic_fetch_inc_relaxed(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_inc_relaxed"].run(x))


def atomic_fetch_dec(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_dec"].run(x))


def atomic_fetch_dec_relaxed(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_dec_relaxed"].run(x))


def atomic_dec_and_test(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_dec_and_test"].run(x))


def atomic_inc_and_test(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_inc_and_test"].run(x))


def spin_lock(x: Any) -> Gen:
    return (yield from PRIMITIVES["spin_lock"].run(x))


def spin_unlock(x: Any) -> Gen:
    return (yield from PRIMITIVES["spin_unlock"].run(x))


def synchronize_srcu(x: Any) -> Gen:
    return (yield from PRIMITIVES["synchronize_srcu"].run(x))


def synchronize_srcu_expedited(x: Any) -> Gen:
    return (yield from PRIMITIVES["synchronize_srcu_expedited"].run(x))


def atomic_inc(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_inc"].run(x))


def atomic_dec(x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_dec"].run(x))


def WRITE_ONCE(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["WRITE_ONCE"].run(x, v))


def smp_store_release(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["smp_store_release"].run(x, v))


def rcu_assign_pointer(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["rcu_assign_pointer"].run(x, v))


def smp_store_mb(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["smp_store_mb"].run(x, v))


def atomic_set(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_set"].run(x, v))


def atomic_set_release(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_set_release"].run(x, v))


def srcu_read_unlock(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["srcu_read_unlock"].run(x, v))


def srcu_up_read(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["srcu_up_read"].run(x, v))


def smp_mb() -> Gen:
    return (yield from PRIMITIVES["smp_mb"].run())


def smp_rmb() -> Gen:
    return (yield from PRIMITIVES["smp_rmb"].run())


def smp_wmb() -> Gen:
    return (yield from PRIMITIVES["smp_wmb"].run())


def smp_mb__before_atomic() -> Gen:
    return (yield from PRIMITIVES["smp_mb__before_atomic"].run())


def smp_mb__after_atomic() -> Gen:
    return (yield from PRIMITIVES["smp_mb__after_atomic"].run())


def smp_mb__after_spinlock() -> Gen:
    return (yield from PRIMITIVES["smp_mb__after_spinlock"].run())


def smp_mb__after_unlock_lock() -> Gen:
    return (yield from PRIMITIVES["smp_mb__after_unlock_lock"].run())


def smp_mb__after_srcu_read_unlock() -> Gen:
    return (yield from PRIMITIVES["smp_mb__after_srcu_read_unlock"].run())


def barrier() -> Gen:
    return (yield from PRIMITIVES["barrier"].run())


def rcu_read_lock() -> Gen:
    return (yield from PRIMITIVES["rcu_read_lock"].run())


def rcu_read_unlock() -> Gen:
    return (yield from PRIMITIVES["rcu_read_unlock"].run())


def synchronize_rcu() -> Gen:
    return (yield from PRIMITIVES["synchronize_rcu"].run())


def synchronize_rcu_expedited() -> Gen:
    return (yield from PRIMITIVES["synchronize_rcu_expedited"].run())


def xchg(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["xchg"].run(x, v))


def xchg_relaxed(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["xchg_relaxed"].run(x, v))


def xchg_release(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["xchg_release"].run(x, v))


def xchg_acquire(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["xchg_acquire"].run(x, v))


def atomic_xchg(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_xchg"].run(x, v))


def atomic_xchg_relaxed(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_xchg_relaxed"].run(x, v))


def atomic_xchg_release(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_xchg_release"].run(x, v))


def atomic_xchg_acquire(x: Any, v: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_xchg_acquire"].run(x, v))


def cmpxchg(x: Any, old: Any, new: Any) -> Gen:
    return (yield from PRIMITIVES["cmpxchg"].run(x, old, new))


def cmpxchg_relaxed(x: Any, old: Any, new: Any) -> Gen:
    return (yield from PRIMITIVES["cmpxchg_relaxed"].run(x, old, new))


def cmpxchg_release(x: Any, old: Any, new: Any) -> Gen:
    return (yield from PRIMITIVES["cmpxchg_release"].run(x, old, new))


def cmpxchg_acquire(x: Any, old: Any, new: Any) -> Gen:
    return (yield from PRIMITIVES["cmpxchg_acquire"].run(x, old, new))


def atomic_cmpxchg(x: Any, old: Any, new: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_cmpxchg"].run(x, old, new))


def atomic_cmpxchg_relaxed(x: Any, old: Any, new: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_cmpxchg_relaxed"].run(x, old, new))


def atomic_cmpxchg_release(x: Any, old: Any, new: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_cmpxchg_release"].run(x, old, new))


def atomic_cmpxchg_acquire(x: Any, old: Any, new: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_cmpxchg_acquire"].run(x, old, new))


def atomic_add(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_add"].run(v, x))


def atomic_sub(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_sub"].run(v, x))


def atomic_and(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_and"].run(v, x))


def atomic_or(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_or"].run(v, x))


def atomic_xor(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_xor"].run(v, x))


def atomic_andnot(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_andnot"].run(v, x))


def set_bit(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["set_bit"].run(v, x))


def clear_bit(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["clear_bit"].run(v, x))


def atomic_add_return(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_add_return"].run(v, x))


def atomic_add_return_relaxed(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_add_return_relaxed"].run(v, x))


def atomic_add_return_acquire(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_add_return_acquire"].run(v, x))


def atomic_add_return_release(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_add_return_release"].run(v, x))


def atomic_sub_return(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_sub_return"].run(v, x))


def atomic_sub_return_relaxed(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_sub_return_relaxed"].run(v, x))


def atomic_fetch_add(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_add"].run(v, x))


def atomic_fetch_add_relaxed(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_add_relaxed"].run(v, x))


def atomic_fetch_add_acquire(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_add_acquire"].run(v, x))


def atomic_fetch_add_release(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_add_release"].run(v, x))


def atomic_fetch_sub(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_sub"].run(v, x))


def atomic_fetch_sub_relaxed(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_sub_relaxed"].run(v, x))


def atomic_fetch_or(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_or"].run(v, x))


def atomic_fetch_or_relaxed(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_or_relaxed"].run(v, x))


def atomic_fetch_andnot(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_andnot"].run(v, x))


def atomic_fetch_andnot_relaxed(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_andnot_relaxed"].run(v, x))


def atomic_fetch_and(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_and"].run(v, x))


def atomic_fetch_xor(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_xor"].run(v, x))


def atomic_sub_and_test(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_sub_and_test"].run(v, x))


def atomic_add_negative(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_add_negative"].run(v, x))


def test_bit(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["test_bit"].run(v, x))


def test_and_set_bit(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["test_and_set_bit"].run(v, x))


def test_and_clear_bit(v: Any, x: Any) -> Gen:
    return (yield from PRIMITIVES["test_and_clear_bit"].run(v, x))


def atomic_add_unless(x: Any, a: Any, u: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_add_unless"].run(x, a, u))


def atomic_fetch_add_unless(x: Any, a: Any, u: Any) -> Gen:
    return (yield from PRIMITIVES["atomic_fetch_add_unless"].run(x, a, u))
