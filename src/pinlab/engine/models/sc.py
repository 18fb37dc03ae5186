"""Sequential consistency as named axioms.

- ``sc``: ``acyclic po | rf | co | fr`` -- there is one total order of all
  events, consistent with program order, in which each read reads the latest
  write to its location;
- ``atomic``: ``empty rmw & (fre ; coe)`` -- no write comes between the write
  an RMW reads from and the RMW's own write;
- ``rcu``: no RCU (or SRCU) read-side critical section both begins before
  a grace period starts and ends after it ends; a grace period is an
  interval, so sections begun once it started need not end before it
  (:func:`~pinlab.engine.models.sparse.rcu_sc_holds`);
- the lock rules of lock.cat (``lock-nest``, ``nested-is-locked``,
  ``unmatched-locks``), with lock reads-from and coherence formed as lock.cat
  forms them (see :mod:`pinlab.engine.graph`).

Every axiom is an acyclicity or emptiness condition on relations that only
grow as a graph is extended (``rcu`` looks only at sections already closed),
so the same check prunes partial graphs.  The
checks run on sparse edges (:mod:`pinlab.engine.models.sparse`).
"""

from __future__ import annotations

from typing import Final

from pinlab.engine.graph import ExecutionGraph
from pinlab.engine.models.base import CONSISTENT, Change, Verdict
from pinlab.engine.models.sparse import (
    acyclic_after,
    atomicity_after,
    atomicity_holds,
    lock_rules_hold,
    rcu_sc_holds,
    sc_acyclic,
    unmatched_lock_rules_hold,
)

__all__ = ["SC"]


class ScModel:
    name = "sc"
    # po | rf is acyclic in every SC execution: a thread never has to run on
    # past a read whose write does not exist yet.
    allows_porf_cycles = False
    acquire_orders_later = True  # everything is ordered (never asked: no speculation)

    def _failed(self, g: ExecutionGraph) -> str | None:
        failed = lock_rules_hold(g)
        if failed is not None:
            return failed
        if g.complete:
            failed = unmatched_lock_rules_hold(g)
            if failed is not None:
                return failed
        if not sc_acyclic(g):
            return "sc"
        if not atomicity_holds(g):
            return "atomic"
        if not rcu_sc_holds(g):
            return "rcu"
        return None

    def check(self, g: ExecutionGraph) -> Verdict:
        failed = self._failed(g)
        return CONSISTENT if failed is None else Verdict(False, failed)

    def check_partial(self, g: ExecutionGraph, change: Change) -> bool:
        if change[0] == "full":
            return self._failed(g) is None
        return acyclic_after(g, change, po_loc=False) and atomicity_after(g, change)


SC: Final = ScModel()
