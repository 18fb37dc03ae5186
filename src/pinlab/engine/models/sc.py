"""Sequential consistency as named axioms.

- ``sc``: ``acyclic po | rf | co | fr`` -- there is one total order of all
  events, consistent with program order, in which each read reads the latest
  write to its location;
- ``atomic``: ``empty rmw & (fre ; coe)`` -- no write comes between the write
  an RMW reads from and the RMW's own write;
- the lock rules of lock.cat (``lock-nest``, ``nested-is-locked``,
  ``unmatched-locks``), with lock reads-from and coherence formed as lock.cat
  forms them (see :mod:`pinlab.engine.graph`).

Every axiom is an acyclicity or emptiness condition on relations that only
grow as a graph is extended, so the same check prunes partial graphs.
"""

from __future__ import annotations

from typing import Final

from pinlab.engine import relation as r
from pinlab.engine.graph import ExecutionGraph
from pinlab.engine.models.base import CONSISTENT, Relations, Verdict, lock_rules

__all__ = ["SC"]


class ScModel:
    name = "sc"
    # po | rf is acyclic in every SC execution: a thread never has to run on
    # past a read whose write does not exist yet.
    allows_porf_cycles = False

    def _failed(self, g: ExecutionGraph) -> str | None:
        rel = Relations(g)
        com = r.union(rel.po, rel.rf, rel.co, rel.fr)
        if not r.acyclic(com):
            return "sc"
        fre = r.inter(rel.fr, rel.ext)
        coe = r.inter(rel.co, rel.ext)
        if not r.empty(r.inter(rel.rmw, r.compose(fre, coe))):
            return "atomic"
        return lock_rules(g, rel)

    def check(self, g: ExecutionGraph) -> Verdict:
        failed = self._failed(g)
        return CONSISTENT if failed is None else Verdict(False, failed)

    def check_partial(self, g: ExecutionGraph) -> bool:
        return self._failed(g) is None


SC: Final = ScModel()
