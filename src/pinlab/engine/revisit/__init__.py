"""Exploration by revisits: every consistent execution, no read ever waits.

This is the second decision procedure of the engine, after the waiting
explorer of :mod:`pinlab.engine.explore`.  It follows GenMC's TruSt
(Kokologiannakis et al., POPL 2022): events are added one at a time, each
read reads from a write that *already exists*, and a write, when it is
added, may *revisit* an earlier read of its location: the graph is cut back
to what existed before that read plus everything the write depends on, and
the read now reads from the write.  A read never waits for a write that may
not come, so no exploration ends in a dead end for want of a write; the only
executions given up are those that really block (a lock never released, an
``Assume`` that fails).

Revisits are restricted so that each graph is produced once (TruSt's
*maximality* condition, as GenMC implements it): a read may be revisited only
when every event the revisit deletes, and the read itself, was added
"maximally" (a read reading the coherence-latest write when it was added, a
write placed last in coherence), none of them is older in coherence than a
write that stays, and none lies in the prefix of a write that revisited
before.  Complete executions are also recognised by a canonical key, so a
count is exact even where the restriction lets a graph through twice.

Load buffering.  The LKMM allows a read to read from a write that is
po|rf-after it (``LB+poonceonces``), which TruSt alone never produces.  A
read may therefore also be revisited by a write whose po|rf-prefix holds the
read, as HMC does (ASPLOS 2020), when nothing of that prefix past the read
depends on it (address, data or control dependency, through local values or
the thread's own writes, or a truth test of the thread on it): the thread is
then re-run with the new value and must produce the same events.

Values are concrete throughout: a read's value is its write's value, known
when it is added.  Herd7's candidates whose values form a cycle through
reads-from and data flow (``S1`` values) are not produced; the waiting
explorer keeps those.

Locks follow lock.cat as the waiting explorer does: a ``spin_lock()`` is an
LKR/LKW pair reading the unlock (or initial value) right before it in
coherence.  A thread whose lock is held is not scheduled; when it takes the
lock, it may also take it *before* a critical section that already took it
(a "steal"): that critical section's thread is cut back to its lock and
waits.
"""

from __future__ import annotations

from collections.abc import Callable

from pinlab.engine.explore import Execution, ExplorationResult, Limits
from pinlab.engine.models.base import Model
from pinlab.engine.program import Program
from pinlab.engine.revisit.explorer import RevisitExplorer
from pinlab.engine.revisit.threads import ReplayMismatch

__all__ = ["ReplayMismatch", "RevisitExplorer", "explore_revisits"]


def explore_revisits(
    program: Program,
    model: Model | str = "sc",
    *,
    limits: Limits | None = None,
    on_execution: Callable[[Execution], None] | None = None,
) -> ExplorationResult:
    """Every consistent execution of ``program`` under ``model``, by revisits."""
    from pinlab.engine.models import get_model

    m = get_model(model) if isinstance(model, str) else model
    return RevisitExplorer(program, m, limits=limits, on_execution=on_execution).run()
