"""The Linux-kernel memory model (LKMM) as named axioms.

Written from the kernel's ``tools/memory-model`` (linux-kernel.bell,
linux-kernel.cat, lock.cat, linux-kernel.def) as of the 2025 "softcoded tags"
change (herd7 variant ``lkmmv2``): failed RMWs lose Mb/Acquire/Release as the
bell says, void atomics are NORETURN, ``atomic_add_unless()`` is MB.  Each
``let`` of the cat files is a local variable of the same name here (``-``
becomes ``_``), in the same order, so the two can be read side by side.

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


def _fencerel(rel: Relations, s: int) -> Rel:
    """``fencerel(S) = (po & (_ * S)) ; po``."""
    po = rel.po
    if not s:
        return r.zero(rel.n)
    return r.compose(r.restrict(po, -1, s), po)


def _rcu_rscs(g: ExecutionGraph, rel: Relations) -> tuple[Rel, int, int]:
    """Matched nested rcu_read_lock()/unlock() pairs; and the unmatched locks, unlocks."""
    n = rel.n
    rscs = [0] * n
    lock_f = rel.tagged("rcu-lock") & rel.F
    unlock_f = rel.tagged("rcu-unlock") & rel.F
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
                    rscs[stack.pop()] |= bit
                else:
                    unmatched_u |= bit
        for e in stack:
            unmatched_l |= 1 << e
    return rscs, unmatched_l, unmatched_u


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
        """The axioms on ``g``; ``partial``: only those that adding events, reads-from
        and coherence edges can never make hold again (coherence, atomic,
        happens-before, propagation), to prune an incomplete graph.

        ``keep``, if given, receives the relations that order events
        (``hb_plus``, ``cumul_fence``, ``rfe``, ``strong_fence``) once
        happens-before is known to be acyclic."""
        rel = Relations(g)
        failed = lock_rules(g, rel)
        if failed is not None:
            return Verdict(False, failed)
        flags: set[str] = set()
        n = rel.n
        all_ = rel.all
        po = rel.po
        kinds = rel.kinds
        R, W, M, IW, F = rel.R, rel.W, rel.M, rel.IW, rel.F
        LKR, LKW, UL = kinds[EvKind.LKR], kinds[EvKind.LKW], kinds[EvKind.UL]
        LF = kinds[EvKind.LF] | kinds[EvKind.RL]
        RU = kinds[EvKind.RU]
        sync_srcu = kinds[EvKind.SRCU]
        mem = M & ~(LKR | LKW | UL | LF | RU)  # herd7's primitive M: no lock events

        # --- linux-kernel.bell ---------------------------------------------------
        rmw0 = rel.rmw
        RMW = rel.atomic
        failed_rmw = RMW & ~(r.domain(rmw0) | r.range_(rmw0))
        Acquire = (rel.tagged("acquire") & ~W & ~failed_rmw) | LKR
        Release = (rel.tagged("release") & ~R & ~failed_rmw) | UL
        Mb = rel.tagged("mb") & ~failed_rmw
        Noreturn = rel.tagged("noreturn") & ~W
        Rmb = rel.tagged("rmb") & F
        Wmb = rel.tagged("wmb") & F
        Barrier = rel.tagged("barrier") & F
        Rcu_lock = rel.tagged("rcu-lock") & F
        Rcu_unlock = rel.tagged("rcu-unlock") & F
        Sync_rcu = rel.tagged("sync-rcu") & F
        Before_atomic = rel.tagged("before-atomic") & F
        After_atomic = rel.tagged("after-atomic") & F
        After_spinlock = rel.tagged("after-spinlock") & F
        After_unlock_lock = rel.tagged("after-unlock-lock") & F
        After_srcu_read_unlock = rel.tagged("after-srcu-read-unlock") & F
        Srcu_lock = rel.tagged("srcu-lock") & R
        Srcu_unlock = rel.tagged("srcu-unlock") & W
        Sync_srcu = sync_srcu

        rcu_rscs, unmatched_rl, unmatched_ru = rel.derived("lkmm-rcu", lambda: _rcu_rscs(g, rel))
        if unmatched_rl:
            flags.add("unmatched-rcu-lock")
        if unmatched_ru:
            flags.add("unmatched-rcu-unlock")

        data0, addr0, ctrl0 = rel.data, rel.addr, rel.ctrl
        rf = rel.rf
        if Srcu_lock or Srcu_unlock:
            carry_srcu_data = r.star(r.compose(r.restrict(data0, -1, ~Srcu_unlock & all_), rf))
            srcu_rscs = r.inter(
                r.restrict(r.compose(carry_srcu_data, data0), Srcu_lock, Srcu_unlock), rel.loc
            )
        else:  # (the relations below are empty: skip their computation)
            srcu_rscs = r.zero(n)
        if Srcu_lock & ~r.domain(srcu_rscs):
            flags.add("unmatched-srcu-lock")
        if Srcu_unlock & ~r.range_(srcu_rscs):
            flags.add("unmatched-srcu-unlock")
        srcu_inv = r.inverse(srcu_rscs) if Srcu_lock else r.zero(n)
        if Srcu_lock and not r.empty(r.diff(r.compose(srcu_inv, srcu_rscs), r.ident(n))):
            flags.add("multiple-srcu-matches")
        if Sync_srcu and not r.empty(r.inter(rcu_rscs, _fencerel(rel, Sync_srcu))):
            flags.add("invalid-sleep")
        events = g.events
        for a, b in r.pairs(srcu_rscs) if Srcu_lock else ():
            if events[a].value != events[b].value:
                flags.add("srcu-bad-value-match")
                break

        Marked = (all_ & ~M) | IW | rel.tagged("once", "release", "acquire", "mb") | RMW
        Marked |= LKR | LKW | UL | LF | RU | Srcu_lock | Srcu_unlock
        Plain = M & ~Marked

        rfi = r.inter(rf, rel.int_)
        data_rfi = r.compose(r.restrict(data0, -1, ~Srcu_unlock & all_), rfi)
        if any(data_rfi):
            carry_dep = r.star(data_rfi)
            addr = r.compose(carry_dep, addr0)
            ctrl = r.compose(carry_dep, ctrl0)
            data = r.compose(carry_dep, data0)
        else:  # carry-dep is the identity
            addr, ctrl, data = addr0, ctrl0, data0

        # --- lock.cat ------------------------------------------------------------
        all_locks = LKR | LKW | UL | LF | RU | Srcu_lock | Srcu_unlock | Sync_srcu
        if not r.empty(r.restrict(rel.loc, mem & ~IW & ~all_locks, all_locks)):
            flags.add("mixed-lock-accesses")
        crit = g.critical()
        if UL & ~_bits_of(crit.values()):
            flags.add("unmatched-unlock")
        rmw = r.union(rmw0, _lk_rmw(rel))
        co, fr = rel.co, rel.fr
        ext, int_ = rel.ext, rel.int_
        rfe = r.inter(rf, ext)
        fre = r.inter(fr, ext)
        coe = r.inter(co, ext)

        # --- linux-kernel.cat: basic relations --------------------------------------
        if UL and LKR:
            po_unlock_lock_po = r.compose(
                r.compose(r.restrict(po, -1, UL), r.restrict(r.union(po, rf), -1, LKR)), po
            )
        else:
            po_unlock_lock_po = r.zero(n)
        po_opt = r.refl_closure(po)
        R4rmb = R & ~Noreturn

        def fences() -> tuple[Rel, Rel, Rel, Rel, Rel, Rel, Rel]:
            """What of the fence relations depends on the events alone."""
            po_loc = rel.po_loc()
            acq_po = r.restrict(po, Acquire, M)
            po_rel = r.restrict(po, M, Release)
            rmb = r.restrict(_fencerel(rel, Rmb), R4rmb, R4rmb)
            wmb = r.restrict(_fencerel(rel, Wmb), W, W)
            # (each term only when its events exist: most tests use few of them)
            mb_terms: list[Rel] = [r.zero(n)]
            if Mb & F:
                mb_terms.append(r.restrict(_fencerel(rel, Mb), M, M))
            if Mb & R:
                mb_terms.append(r.restrict(po, M, Mb & R))
            if Mb & W:
                mb_terms.append(r.restrict(po, Mb & W, M))
            if Before_atomic and RMW:
                mb_terms.append(
                    r.restrict(
                        r.compose(r.restrict(_fencerel(rel, Before_atomic), -1, RMW), po_opt), M, M
                    )
                )
            if After_atomic and RMW:
                mb_terms.append(
                    r.restrict(
                        r.compose(r.restrict(po_opt, -1, RMW), _fencerel(rel, After_atomic)), M, M
                    )
                )
            if After_spinlock and LKW:
                mb_terms.append(
                    r.restrict(
                        r.compose(r.restrict(po_opt, -1, LKW), _fencerel(rel, After_spinlock)),
                        M,
                        M,
                    )
                )
            if After_srcu_read_unlock and Srcu_unlock:
                mb_terms.append(
                    r.restrict(
                        r.compose(
                            r.restrict(po_opt, -1, Srcu_unlock),
                            _fencerel(rel, After_srcu_read_unlock),
                        ),
                        M,
                        M,
                    )
                )
            mb = r.union(*mb_terms)
            if Sync_rcu or Sync_srcu:
                gp = r.compose(r.restrict(po, -1, Sync_rcu | Sync_srcu), po_opt)
            else:
                gp = r.zero(n)
            return po_loc, acq_po, po_rel, rmb, wmb, mb, gp

        po_loc, acq_po, po_rel, rmb, wmb, mb, gp = rel.derived("lkmm-fences", fences)
        if After_unlock_lock and UL and LKR:  # (reads-from decides po-unlock-lock-po)
            mb = r.union(
                mb,
                r.restrict(
                    r.compose(r.restrict(po_unlock_lock_po, -1, After_unlock_lock), po), M, M
                ),
            )
        strong_fence = r.union(mb, gp)
        nonrw_fence = r.union(strong_fence, po_rel, acq_po)
        fence = r.union(nonrw_fence, wmb, rmb)

        # --- coherence and atomicity -------------------------------------------------
        com = r.union(rf, co, fr)
        if not r.acyclic(r.union(po_loc, com)):
            return Verdict(False, "coherence")
        if not r.empty(r.inter(rmw, r.compose(r.restrict(fre, r.domain(rmw)), coe))):
            return Verdict(False, "atomic")

        # --- preserved program order, propagation, happens-before --------------------
        dep = r.union(addr, data)
        rwdep = r.restrict(r.union(dep, ctrl), -1, W)
        overwrite = r.union(co, fr)
        to_w = r.union(
            rwdep,
            r.inter(overwrite, int_),
            r.compose(r.restrict(addr, -1, Plain), wmb),
        )
        to_r = r.union(r.restrict(addr, -1, R), r.compose(r.restrict(dep, -1, Marked), rfi))
        ppo = r.union(to_r, to_w, r.inter(fence, int_), r.inter(po_unlock_lock_po, int_))

        rfe_marked_opt = r.refl_closure(r.restrict(rfe, -1, Marked))
        rmw_sequence = r.star(r.compose(rf, rmw))
        cumul_fence = r.compose(
            r.restrict(
                r.union(
                    r.compose(rfe_marked_opt, r.union(strong_fence, po_rel)),
                    wmb,
                    po_unlock_lock_po,
                ),
                Marked,
                Marked,
            ),
            rmw_sequence,
        )
        prop = r.restrict(
            r.compose(
                r.compose(
                    r.restrict(r.refl_closure(r.inter(overwrite, ext)), Marked, -1),
                    r.star(cumul_fence),
                ),
                r.restrict(r.refl_closure(rfe), Marked, Marked),
            ),
            Marked,
            Marked,
        )
        prop_not_id = r.diff(prop, r.ident(n))
        hb = r.restrict(r.union(ppo, rfe, r.inter(prop_not_id, int_)), Marked, Marked)
        hb_plus = r.closure_if_acyclic(hb)
        if hb_plus is None:
            return Verdict(False, "happens-before")
        if keep is not None:
            keep.update(
                hb_plus=hb_plus, cumul_fence=cumul_fence, rfe=rfe, strong_fence=strong_fence
            )
        hb_star = r.refl_closure(hb_plus)
        pb = r.restrict(r.compose(r.compose(prop, strong_fence), hb_star), -1, Marked)
        if not r.acyclic(pb):
            return Verdict(False, "propagation")
        if partial:
            return CONSISTENT

        # --- RCU -------------------------------------------------------------------
        # Without grace periods rcu-order, rcu-fence and rb are empty.
        rb = r.zero(n)
        if Sync_rcu or Sync_srcu:
            pb_star = r.star(pb)
            rcu_gp = r.ident(n, Sync_rcu)
            srcu_gp = r.ident(n, Sync_srcu)
            rcu_rscsi = r.inverse(rcu_rscs)
            srcu_rscsi = srcu_inv
            rcu_link = r.compose(
                r.compose(r.compose(r.compose(po_opt, hb_star), pb_star), prop), po
            )
            rcu_order = _rcu_order(rel, rcu_gp, srcu_gp, rcu_rscsi, srcu_rscsi, rcu_link)
            rcu_fence = r.compose(r.compose(po, rcu_order), po_opt)
            fence = r.union(fence, rcu_fence)
            strong_fence = r.union(strong_fence, rcu_fence)
            rb = r.restrict(
                r.compose(r.compose(r.compose(prop, rcu_fence), hb_star), pb_star), -1, Marked
            )
            if not r.irreflexive(rb):
                return Verdict(False, "rcu")

        # --- plain accesses and data races ---------------------------------------------
        if not Plain:
            return Verdict(True, None, frozenset(flags)) if flags else CONSISTENT
        barrier_set = (
            Barrier | Rmb | Wmb | Mb | Sync_rcu | Sync_srcu | Before_atomic | After_atomic
            | Acquire | Release | Rcu_lock | Rcu_unlock | Srcu_lock | Srcu_unlock
        )  # fmt: skip
        barrier = r.union(
            _fencerel(rel, barrier_set), r.restrict(po, -1, Release), r.restrict(po, Acquire, -1)
        )
        po_loc_nb = r.diff(po_loc, barrier)
        mixed = r.union(
            r.restrict(po_loc_nb, Plain & W, Marked), r.restrict(po_loc_nb, Marked, Plain & W)
        )
        if not r.empty(mixed):
            flags.add("mixed-accesses")
        xbstar = r.star(r.union(hb, pb, rb))
        cumul_star = r.star(cumul_fence)
        vis = r.compose(
            r.restrict(r.compose(cumul_star, r.refl_closure(rfe)), -1, Marked),
            r.union(r.compose(r.restrict(strong_fence, -1, Marked), xbstar), r.inter(xbstar, int_)),
        )
        fence_opt = r.refl_closure(fence)
        w_pre_bounded = r.restrict(r.refl_closure(r.union(addr, fence)), Marked, -1)
        not_noreturn = all_ & ~Noreturn
        r_pre_bounded = r.restrict(
            r.refl_closure(
                r.union(addr, nonrw_fence, r.restrict(_fencerel(rel, Rmb), R4rmb, not_noreturn))
            ),
            Marked,
            -1,
        )
        w_post_bounded = r.compose(r.restrict(fence_opt, -1, Marked), rmw_sequence)
        r_post_bounded = r.restrict(
            r.refl_closure(
                r.union(nonrw_fence, r.restrict(_fencerel(rel, Rmb), not_noreturn, R4rmb))
            ),
            -1,
            Marked,
        )
        ww_vis = r.union(
            fence,
            r.compose(r.compose(strong_fence, xbstar), w_pre_bounded),
            r.compose(r.compose(w_post_bounded, vis), w_pre_bounded),
        )
        wr_vis = r.union(
            fence,
            r.compose(r.compose(strong_fence, xbstar), r_pre_bounded),
            r.compose(r.compose(w_post_bounded, vis), r_pre_bounded),
        )
        rw_xbstar = r.union(fence, r.compose(r.compose(r_post_bounded, xbstar), w_pre_bounded))
        pre_race = r.inter(ext, r.union(r.cross(n, Plain, M), r.cross(n, M & ~IW, Plain)))
        if any(pre_race):
            wr_incoh = r.inter(r.inter(pre_race, rf), r.inverse(rw_xbstar))
            rw_incoh = r.inter(r.inter(pre_race, fr), r.inverse(wr_vis))
            ww_incoh = r.inter(r.inter(pre_race, co), r.inverse(ww_vis))
            if not r.empty(r.union(wr_incoh, rw_incoh, ww_incoh)):
                return Verdict(False, "plain-coherence")
            ww_nonrace = r.inter(
                r.inter(ww_vis, r.union(r.cross(n, Marked, W), rw_xbstar)),
                r.union(r.cross(n, W, Marked), wr_vis),
            )
            ww_race = r.diff(r.inter(pre_race, co), ww_nonrace)
            wr_race = r.diff(
                r.diff(r.inter(pre_race, r.compose(r.refl_closure(co), rf)), wr_vis),
                r.inverse(rw_xbstar),
            )
            rw_race = r.diff(r.inter(pre_race, fr), rw_xbstar)
            if not r.empty(r.union(ww_race, wr_race, rw_race)):
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


def _bits_of(eids: object) -> int:
    out = 0
    for e in eids:  # type: ignore[attr-defined]
        out |= 1 << e
    return out


def _lk_rmw(rel: Relations) -> Rel:
    """lock.cat's ``lk-rmw``: each LKR to the LKW right after it."""
    out = [0] * rel.n
    for e in rel.g.events:
        if e.kind is EvKind.LKR and e.rmw >= 0:
            out[e.eid] = 1 << e.rmw
    return out


def _rcu_order(
    rel: Relations,
    rcu_gp: Rel,
    srcu_gp: Rel,
    rcu_rscsi: Rel,
    srcu_rscsi: Rel,
    link: Rel,
) -> Rel:
    """The least fixpoint of linux-kernel.cat's recursive ``rcu-order``."""
    loc = rel.loc

    def seq(*rels: Rel) -> Rel:
        out = rels[0]
        for x in rels[1:]:
            out = r.compose(out, x)
        return out

    base = r.union(
        rcu_gp,
        srcu_gp,
        seq(rcu_gp, link, rcu_rscsi),
        r.inter(seq(srcu_gp, link, srcu_rscsi), loc),
        seq(rcu_rscsi, link, rcu_gp),
        r.inter(seq(srcu_rscsi, link, srcu_gp), loc),
    )
    order = base
    while True:
        nxt = r.union(
            base,
            seq(rcu_gp, link, order, link, rcu_rscsi),
            r.inter(seq(srcu_gp, link, order, link, srcu_rscsi), loc),
            seq(rcu_rscsi, link, order, link, rcu_gp),
            r.inter(seq(srcu_rscsi, link, order, link, srcu_gp), loc),
            seq(order, link, order),
        )
        if nxt == order:
            return order
        order = nxt


LKMM = LkmmModel()
