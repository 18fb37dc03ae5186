"""Read-side critical sections, defined once for both models.

linux-kernel.bell matches RCU and SRCU read-side critical sections; sc and
the LKMM both need them (the LKMM's ``rcu-rscs`` and ``srcu-rscs``; sc's
grace-period rule).  Both take them from here:

- :func:`rcu_read_side_pairs`: each ``rcu_read_lock()`` with its
  ``rcu_read_unlock()``, nesting as the bell's ``rcu-rscs`` does (a thread's
  unlock closes its innermost open lock), and the ones left unmatched;
- :func:`srcu_rscs`: the bell's ``srcu-rscs``, an ``srcu_read_lock()`` with
  the ``srcu_read_unlock()`` its returned index flows to (through data
  dependencies and reads-from) on the same ``srcu_struct``.
"""

from __future__ import annotations

from pinlab.engine import relation as r
from pinlab.engine.graph import ExecutionGraph
from pinlab.engine.models.base import Relations
from pinlab.engine.relation import Rel

__all__ = ["rcu_read_side_pairs", "srcu_rscs"]


def rcu_read_side_pairs(
    g: ExecutionGraph, rel: Relations
) -> tuple[list[tuple[int, int]], int, int]:
    """``(lock, unlock)`` of every matched RCU read-side section, innermost first
    within a thread; and the unmatched locks and unlocks (bitmasks)."""
    lock_f = rel.tagged("rcu-lock") & rel.F
    unlock_f = rel.tagged("rcu-unlock") & rel.F
    pairs: list[tuple[int, int]] = []
    unmatched_l = 0
    unmatched_u = 0
    for eids in g.threads:
        stack: list[int] = []
        for e in eids:
            bit = 1 << e
            if lock_f & bit:
                stack.append(e)
            elif unlock_f & bit:
                if stack:
                    pairs.append((stack.pop(), e))
                else:
                    unmatched_u |= bit
        for e in stack:
            unmatched_l |= 1 << e
    return pairs, unmatched_l, unmatched_u


def srcu_rscs(rel: Relations) -> Rel:
    """``srcu-rscs = ([Srcu-lock] ; carry-srcu-data ; data ; [Srcu-unlock]) & loc``,
    with ``carry-srcu-data = (data ; [~Srcu-unlock] ; rf)*``."""
    lock = rel.tagged("srcu-lock") & rel.R
    unlock = rel.tagged("srcu-unlock") & rel.W
    if not (lock and unlock):
        return r.zero(rel.n)
    data = rel.data
    carry = r.star(r.compose(r.restrict(data, -1, ~unlock & rel.all), rel.rf))
    return r.inter(r.restrict(r.compose(carry, data), lock, unlock), rel.loc)
