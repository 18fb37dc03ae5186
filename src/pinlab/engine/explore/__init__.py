"""The explorer: every consistent execution of a program under a memory model.

Executions are graphs (:mod:`pinlab.engine.graph`), built event by event.
The search is a depth-first walk over *choices*; its whole state is the list
of choices taken so far, so any execution can be replayed from its choice
list (``explore(..., replay=choices)``).  The choices are:

- **reads-from**: a read reads from one of the writes to its location that
  exist when it is added, or it *waits* for a write that does not exist yet
  (when another unfinished thread may still write that location).  A waiting
  read answers its thread with a symbolic value (:class:`~pinlab.engine.values.Sym`)
  and the thread runs on, as herd7 runs a thread's code before it knows what
  its loads read; a branch on such a value forks on both outcomes and the
  outcome becomes a constraint checked once values are known;
- **binding**: when a write is added, each waiting read of its location in
  another thread either reads from it or keeps waiting;
- **coherence**: where a new write goes in its location's coherence order;
- **locks**: whether a ``spin_trylock()`` succeeds, whether
  ``spin_is_locked()`` says locked, and what lock-fail / read-unlocked events
  read from (chosen last, as lock.cat's ``with ... from`` does);
- ``Choose`` operations and symbolic branches.

Each complete, solvable candidate is generated exactly once: at a read, its
eventual write either exists already (one option) or does not (the waiting
option, then exactly one binding); coherence orders are built by insertion,
each total order once.  A candidate whose values depend on themselves (a
cycle through reads-from and data flow) has no solution and is dropped, as
herd7 drops it.

After every choice the model's ``check_partial`` prunes graphs that cannot be
completed consistently; each complete candidate is decided by ``check``.
Statistics count complete candidates checked (``explored``), the consistent
ones, dead ends (``blocked``: a read that waited for a write that never came,
a failed ``Assume``, a thread stuck on a value), candidates cut by a loop
bound (``bounded``), unsolvable and infeasible candidates, and pruned
partial graphs.
"""

from __future__ import annotations

from pinlab.engine.explore.explorer import Explorer, explore
from pinlab.engine.explore.result import (
    CountHook,
    Execution,
    ExplorationResult,
    Limits,
    Outcome,
    Progress,
    ReplayError,
    Share,
    Stats,
    Subtree,
)

__all__ = [
    "CountHook",
    "Execution",
    "ExplorationResult",
    "Explorer",
    "Limits",
    "Outcome",
    "Progress",
    "ReplayError",
    "Share",
    "Stats",
    "Subtree",
    "explore",
]
