"""The Linux-kernel memory model (LKMM) as named axioms.

Written from the kernel's ``tools/memory-model`` (linux-kernel.bell,
linux-kernel.cat, lock.cat, linux-kernel.def) as of the 2025 "softcoded tags"
change (herd7 variant ``lkmmv2``): failed RMWs lose Mb/Acquire/Release as the
bell says, void atomics are NORETURN, ``atomic_add_unless()`` is MB.  The
files are read in their order: :mod:`.bell` (linux-kernel.bell, lock.cat's
events), then :mod:`.cat` (linux-kernel.cat: the fences, ``ppo``,
``cumul-fence``, ``prop``, ``hb``, ``pb``, RCU, plain accesses), with one
function per axiom named as the cat's ``as`` clause.  Each ``let`` is a
name of the same spelling (``-`` becomes ``_``), so the two can be read
side by side; :meth:`LkmmModel.check` is the cat file's list of axioms.

Axioms (their ids are the cat file's names): ``lock-nest``,
``nested-is-locked``, ``unmatched-locks`` (lock.cat), ``coherence``,
``atomic``, ``happens-before``, ``propagation``, ``rcu``,
``plain-coherence``.  Flags, which do not filter executions: ``data-race``,
``mixed-accesses``, ``mixed-lock-accesses``, ``unmatched-unlock``,
``unmatched-rcu-lock``, ``unmatched-rcu-unlock``, ``unmatched-srcu-lock``,
``unmatched-srcu-unlock``, ``multiple-srcu-matches``, ``invalid-sleep``,
``srcu-bad-value-match``.

Not modelled: lock.cat's ``lock-final`` flag (it depends on which locations
the test observes, which a model of graphs does not know).
"""

from __future__ import annotations

from pinlab.engine import relation as r
from pinlab.engine.graph import EvKind, ExecutionGraph
from pinlab.engine.models.base import CONSISTENT, Change, Relations, Verdict, lock_rules
from pinlab.engine.models.lkmm import cat
from pinlab.engine.models.lkmm.bell import bell
from pinlab.engine.models.sparse import (
    acyclic_after,
    atomicity_after,
    atomicity_holds,
    coherence_acyclic,
    lock_rules_hold,
    porf_reaches,
)
from pinlab.engine.relation import Rel

__all__ = ["LKMM", "LkmmModel", "has_locks", "no_new_order_cycle"]


class LkmmModel:
    name = "lkmm"
    allows_porf_cycles = True
    acquire_orders_later = True  # acq-po, and mb for a fully ordered RMW

    def check_partial(self, g: ExecutionGraph, change: Change) -> bool:
        """Prune by coherence, atomicity and lock.cat's nesting rules (incrementally)."""
        if change[0] == "full":
            return lock_rules_hold(g) is None and coherence_acyclic(g) and atomicity_holds(g)
        if not (acyclic_after(g, change, po_loc=True) and atomicity_after(g, change)):
            return False
        # The ordering axioms cost a full computation: only where they are
        # likely to prune -- a new reads-from that closes a po|rf cycle (a
        # speculated read bound to a write that depends on it), or, once
        # the graph has locks (critical sections order everything around
        # them), any change that may close a cycle of hb or pb.
        kind, a, b = change
        if has_locks(g):
            if no_new_order_cycle(g, change):
                return True
            return self._check(g, partial=True).consistent
        if kind == "rf" and porf_reaches(g, a, b):
            return self._check(g, partial=True).consistent
        return True

    def check(self, g: ExecutionGraph) -> Verdict:
        return self._check(g, partial=False)

    def _check(
        self, g: ExecutionGraph, partial: bool, keep: dict[str, Rel] | None = None
    ) -> Verdict:
        """The axioms on ``g``, in the cat files' order; the first that fails names
        the verdict.  ``partial``: only those that adding events, reads-from and
        coherence edges can never make hold again (coherence, atomic,
        happens-before, propagation), to prune an incomplete graph.

        ``keep``, if given, receives the relations that order events
        (``hb_plus``, ``cumul_fence``, ``rfe``, ``strong_fence``) once
        happens-before is known to be acyclic."""
        rel = Relations(g)
        failed = lock_rules(g, rel)  # lock.cat's axioms
        if failed is not None:
            return Verdict(False, failed)
        b = bell(g, rel)
        f = cat.fences(b)
        if not cat.coherence(b, f):
            return Verdict(False, "coherence")
        if not cat.atomic(b):
            return Verdict(False, "atomic")
        o = cat.ordering(b, f)
        hb_plus = cat.happens_before(o)
        if hb_plus is None:
            return Verdict(False, "happens-before")
        if keep is not None:
            rfe = r.inter(rel.rf, rel.ext)
            keep.update(
                hb_plus=hb_plus, cumul_fence=o.cumul_fence, rfe=rfe, strong_fence=f.strong_fence
            )
        hb_star = r.refl_closure(hb_plus)
        pb = cat.propagation(b, f, o, hb_star)
        if pb is None:
            return Verdict(False, "propagation")
        if partial:
            return CONSISTENT
        fence_rb = cat.rcu(b, f, o, hb_star, pb)
        if fence_rb is None:
            return Verdict(False, "rcu")
        flags = set(b.flags)
        if b.Plain:
            rcu_fence, rb = fence_rb
            if cat.mixed_accesses(b, f):
                flags.add("mixed-accesses")
            holds, race = cat.plain_coherence(b, f, o, pb, rb, rcu_fence)
            if not holds:
                return Verdict(False, "plain-coherence")
            if race:
                flags.add("data-race")
        return Verdict(True, None, frozenset(flags)) if flags else CONSISTENT


def has_locks(g: ExecutionGraph) -> bool:
    """Whether ``g`` has taken a lock (then every change may be checked in full)."""
    return any(g.crit) or any(e.kind is EvKind.LKW for e in g.events)


def no_new_order_cycle(g: ExecutionGraph, change: Change) -> bool:
    """Whether ``change`` cannot have closed a cycle of hb or pb (if it had none).

    True when every po, rf, co and fr edge the change adds, and every event
    whose tags it changes, lies at one or two events, and po | rf | co | fr
    has no cycle through them.  (The search leaves out lock.cat's rf into
    lock reads: from an UL it reaches the next LKW by co, and from that LKW
    everything its LKR would lead to.)

    Every hb and pb edge is a path of po | rf | co | fr: ppo, the fences
    and the dependencies lie in po; prop is overwrite, cumul-fence (fences,
    rfe, rf ; rmw) and rfe; pb is prop, a strong fence and hb.  So a new
    cycle in hb or pb is a closed path of po | rf | co | fr through a new
    edge, or through an event that has just become an ordering one.  The
    changes and the events they touch:

    - a read gets its write (``rf``): edges into and out of the read;
    - a plain write takes its coherence position (``co``): edges at the
      write (an insertion keeps every other pair of ``co``);
    - an RMW's write takes its place: edges at the write, and the RMW is
      no longer failed, so its read may become Acquire or Mb (and the write
      Release), which adds fence edges through the read or the write;
    - a lock is taken (``co`` of an LKW): the explorer appends the LKW to
      its lock's coherence order, after the UL (or initial value) the LKR
      then reads from; no other lock read's rf moves, so the new edges lie
      at the LKR and the LKW.  lock.cat's nesting rules are scanned here.

    The search runs from the write (or LKW) and looks for it and for the
    events just before it, the read of its pair among them.  That covers
    the read too: its successors are the write (po) and, by fr, the write
    after its source, which atomicity (checked first) makes the same write.
    """
    kind, a, _ = change
    e = g.events[a]
    if kind == "rf":
        return e.kind is EvKind.R and acyclic_after(g, change, po_loc=False)
    if kind != "co" or e.kind not in (EvKind.W, EvKind.LKW):
        return False
    if not acyclic_after(g, change, po_loc=False):
        return False
    if e.kind is EvKind.LKW:
        return g.co[e.loc][-1] == a and lock_rules_hold(g) is None  # type: ignore[index]
    return True


LKMM = LkmmModel()
