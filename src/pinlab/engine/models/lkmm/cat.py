"""linux-kernel.cat: its relations, and one function per axiom, by the cat's names.

The relations come in the cat file's order: the fences (:func:`fences`),
then ``ppo``, ``cumul-fence``, ``prop``, ``hb`` and ``pb``
(:func:`ordering`), then RCU's ``rcu-order``, ``rcu-fence`` and ``rb``.
Each axiom is a function named as the cat's ``as`` clause, whose docstring
quotes the rule:

=====================  ==================================================
:func:`coherence`      ``acyclic po-loc | com as coherence``
:func:`atomic`         ``empty rmw & (fre ; coe) as atomic``
:func:`happens_before`  ``acyclic hb as happens-before``
:func:`propagation`    ``acyclic pb as propagation``
:func:`rcu`            ``irreflexive rb as rcu``
:func:`plain_coherence`  ``empty (wr-incoh | rw-incoh | ww-incoh) as plain-coherence``
=====================  ==================================================

and the flags ``data-race`` and ``mixed-accesses`` are :func:`data_race` and
:func:`mixed_accesses`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pinlab.engine import relation as r
from pinlab.engine.models.lkmm.bell import Bell, fencerel
from pinlab.engine.relation import Rel

__all__ = [
    "Fences",
    "Ordering",
    "atomic",
    "coherence",
    "data_race",
    "fences",
    "happens_before",
    "mixed_accesses",
    "ordering",
    "plain_coherence",
    "propagation",
    "rcu",
]


@dataclass(frozen=True, slots=True)
class Fences:
    """The cat's fence relations, ``po-unlock-lock-po`` among them."""

    po_loc: Rel
    po_opt: Rel  # po?
    po_unlock_lock_po: Rel
    acq_po: Rel
    po_rel: Rel
    rmb: Rel
    wmb: Rel
    mb: Rel
    gp: Rel
    strong_fence: Rel
    nonrw_fence: Rel
    fence: Rel


def fences(b: Bell) -> Fences:
    """``po-unlock-lock-po``, ``acq-po``, ``po-rel``, ``rmb``, ``wmb``, ``mb``, ``gp``,
    ``strong-fence``, ``nonrw-fence`` and ``fence``."""
    rel = b.rel
    n, po = rel.n, rel.po
    R, W, M = rel.R, rel.W, rel.M
    if b.UL and b.LKR:
        po_unlock_lock_po = r.compose(
            r.compose(r.restrict(po, -1, b.UL), r.restrict(r.union(po, rel.rf), -1, b.LKR)), po
        )
    else:
        po_unlock_lock_po = r.zero(n)
    po_opt = r.refl_closure(po)
    R4rmb = R & ~b.Noreturn

    def after(kind: int, fence_set: int) -> Rel:
        """``[M] ; po? ; [kind] ; fencerel(fence_set) ; [M]`` (an mb after an access)."""
        return r.restrict(r.compose(r.restrict(po_opt, -1, kind), fencerel(rel, fence_set)), M, M)

    def events_only() -> tuple[Rel, Rel, Rel, Rel, Rel, Rel, Rel]:
        """What of the fence relations depends on the events alone (cached per graph)."""
        acq_po = r.restrict(po, b.Acquire, M)
        po_rel = r.restrict(po, M, b.Release)
        rmb = r.restrict(fencerel(rel, b.Rmb), R4rmb, R4rmb)
        wmb = r.restrict(fencerel(rel, b.Wmb), W, W)
        # (each term only when its events exist: most tests use few of them)
        mb_terms: list[Rel] = [r.zero(n)]
        if b.Mb & rel.F:
            mb_terms.append(r.restrict(fencerel(rel, b.Mb), M, M))
        if b.Mb & R:
            mb_terms.append(r.restrict(po, M, b.Mb & R))
        if b.Mb & W:
            mb_terms.append(r.restrict(po, b.Mb & W, M))
        if b.Before_atomic and b.RMW:
            before = r.restrict(fencerel(rel, b.Before_atomic), -1, b.RMW)
            mb_terms.append(r.restrict(r.compose(before, po_opt), M, M))
        if b.After_atomic and b.RMW:
            mb_terms.append(after(b.RMW, b.After_atomic))
        if b.After_spinlock and b.LKW:
            mb_terms.append(after(b.LKW, b.After_spinlock))
        if b.After_srcu_read_unlock and b.Srcu_unlock:
            mb_terms.append(after(b.Srcu_unlock, b.After_srcu_read_unlock))
        mb = r.union(*mb_terms)
        if b.Sync_rcu or b.Sync_srcu:
            gp = r.compose(r.restrict(po, -1, b.Sync_rcu | b.Sync_srcu), po_opt)
        else:
            gp = r.zero(n)
        return rel.po_loc(), acq_po, po_rel, rmb, wmb, mb, gp

    po_loc, acq_po, po_rel, rmb, wmb, mb, gp = rel.derived("lkmm-fences", events_only)
    if b.After_unlock_lock and b.UL and b.LKR:  # (reads-from decides po-unlock-lock-po)
        ulk = r.compose(r.restrict(po_unlock_lock_po, -1, b.After_unlock_lock), po)
        mb = r.union(mb, r.restrict(ulk, M, M))
    strong_fence = r.union(mb, gp)
    nonrw_fence = r.union(strong_fence, po_rel, acq_po)
    return Fences(
        po_loc=po_loc,
        po_opt=po_opt,
        po_unlock_lock_po=po_unlock_lock_po,
        acq_po=acq_po,
        po_rel=po_rel,
        rmb=rmb,
        wmb=wmb,
        mb=mb,
        gp=gp,
        strong_fence=strong_fence,
        nonrw_fence=nonrw_fence,
        fence=r.union(nonrw_fence, wmb, rmb),
    )


def coherence(b: Bell, f: Fences) -> bool:
    """``acyclic po-loc | com as coherence``."""
    rel = b.rel
    return r.acyclic(r.union(f.po_loc, rel.rf, rel.co, rel.fr))


def atomic(b: Bell) -> bool:
    """``empty rmw & (fre ; coe) as atomic``."""
    rel = b.rel
    fre = r.inter(rel.fr, rel.ext)
    coe = r.inter(rel.co, rel.ext)
    return r.empty(r.inter(b.rmw, r.compose(r.restrict(fre, r.domain(b.rmw)), coe)))


@dataclass(frozen=True, slots=True)
class Ordering:
    """``ppo``, ``rmw-sequence``, ``cumul-fence``, ``prop`` and ``hb``."""

    ppo: Rel
    rmw_sequence: Rel
    cumul_fence: Rel
    prop: Rel
    hb: Rel


def ordering(b: Bell, f: Fences) -> Ordering:
    """Preserved program order and propagation: ``ppo`` (``to-r``, ``to-w``,
    ``fence``, ``po-unlock-lock-po``), ``cumul-fence``, ``prop`` and ``hb``."""
    rel = b.rel
    n, Marked = rel.n, b.Marked
    rf, co, fr, ext, int_ = rel.rf, rel.co, rel.fr, rel.ext, rel.int_
    rfe = r.inter(rf, ext)
    dep = r.union(b.addr, b.data)
    rwdep = r.restrict(r.union(dep, b.ctrl), -1, rel.W)
    overwrite = r.union(co, fr)
    to_w = r.union(
        rwdep, r.inter(overwrite, int_), r.compose(r.restrict(b.addr, -1, b.Plain), f.wmb)
    )
    to_r = r.union(r.restrict(b.addr, -1, rel.R), r.compose(r.restrict(dep, -1, Marked), b.rfi))
    ppo = r.union(to_r, to_w, r.inter(f.fence, int_), r.inter(f.po_unlock_lock_po, int_))

    rfe_marked_opt = r.refl_closure(r.restrict(rfe, -1, Marked))
    rmw_sequence = r.star(r.compose(rf, b.rmw))
    cumul = r.union(
        r.compose(rfe_marked_opt, r.union(f.strong_fence, f.po_rel)), f.wmb, f.po_unlock_lock_po
    )
    cumul_fence = r.compose(r.restrict(cumul, Marked, Marked), rmw_sequence)
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
    return Ordering(ppo, rmw_sequence, cumul_fence, prop, hb)


def happens_before(o: Ordering) -> Rel | None:
    """``acyclic hb as happens-before``: ``hb+``, or None where hb has a cycle."""
    return r.closure_if_acyclic(o.hb)


def propagation(b: Bell, f: Fences, o: Ordering, hb_star: Rel) -> Rel | None:
    """``acyclic pb as propagation``, ``pb = prop ; strong-fence ; hb* ; [Marked]``:
    ``pb``, or None where it has a cycle."""
    pb = r.restrict(r.compose(r.compose(o.prop, f.strong_fence), hb_star), -1, b.Marked)
    return pb if r.acyclic(pb) else None


def _rcu_order(b: Bell, link: Rel) -> Rel:
    """The least fixpoint of the recursive ``rcu-order`` (grace periods, read-side
    critical sections, and ``rcu-link`` between them)."""
    rel = b.rel
    loc = rel.loc
    rcu_gp = r.ident(rel.n, b.Sync_rcu)
    srcu_gp = r.ident(rel.n, b.Sync_srcu)
    rcu_rscsi = r.inverse(b.rcu_rscs)
    srcu_rscsi = b.srcu_inv

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


def rcu(b: Bell, f: Fences, o: Ordering, hb_star: Rel, pb: Rel) -> tuple[Rel, Rel] | None:
    """``irreflexive rb as rcu``, ``rb = prop ; rcu-fence ; hb* ; pb* ; [Marked]``.

    Returns ``(rcu-fence, rb)`` (both empty without grace periods), or None
    where rb is reflexive."""
    n = b.rel.n
    if not (b.Sync_rcu or b.Sync_srcu):  # rcu-order, rcu-fence and rb are empty
        return r.zero(n), r.zero(n)
    po = b.rel.po
    pb_star = r.star(pb)
    rcu_link = r.compose(r.compose(r.compose(r.compose(f.po_opt, hb_star), pb_star), o.prop), po)
    rcu_fence = r.compose(r.compose(po, _rcu_order(b, rcu_link)), f.po_opt)
    rb = r.restrict(
        r.compose(r.compose(r.compose(o.prop, rcu_fence), hb_star), pb_star), -1, b.Marked
    )
    return (rcu_fence, rb) if r.irreflexive(rb) else None


@dataclass(frozen=True, slots=True)
class _Visibility:
    """``ww-vis``, ``wr-vis``, ``rw-xbstar`` and ``pre-race``."""

    ww_vis: Rel
    wr_vis: Rel
    rw_xbstar: Rel
    pre_race: Rel


def _visibility(b: Bell, f: Fences, o: Ordering, pb: Rel, rb: Rel, rcu_fence: Rel) -> _Visibility:
    """The plain-access part of the cat: ``vis`` and the bounds around plain accesses."""
    rel = b.rel
    n, Marked = rel.n, b.Marked
    fence = r.union(f.fence, rcu_fence)
    strong_fence = r.union(f.strong_fence, rcu_fence)
    R4rmb = rel.R & ~b.Noreturn
    xbstar = r.star(r.union(o.hb, pb, rb))
    cumul_star = r.star(o.cumul_fence)
    rfe = r.inter(rel.rf, rel.ext)
    vis = r.compose(
        r.restrict(r.compose(cumul_star, r.refl_closure(rfe)), -1, Marked),
        r.union(r.compose(r.restrict(strong_fence, -1, Marked), xbstar), r.inter(xbstar, rel.int_)),
    )
    fence_opt = r.refl_closure(fence)
    not_noreturn = rel.all & ~b.Noreturn
    rmb_bound = r.restrict(fencerel(rel, b.Rmb), R4rmb, not_noreturn)
    w_pre_bounded = r.restrict(r.refl_closure(r.union(b.addr, fence)), Marked, -1)
    r_pre_bounded = r.restrict(
        r.refl_closure(r.union(b.addr, f.nonrw_fence, rmb_bound)), Marked, -1
    )
    w_post_bounded = r.compose(r.restrict(fence_opt, -1, Marked), o.rmw_sequence)
    r_post_bounded = r.restrict(
        r.refl_closure(
            r.union(f.nonrw_fence, r.restrict(fencerel(rel, b.Rmb), not_noreturn, R4rmb))
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
    Plain, M, IW = b.Plain, rel.M, rel.IW
    pre_race = r.inter(rel.ext, r.union(r.cross(n, Plain, M), r.cross(n, M & ~IW, Plain)))
    return _Visibility(ww_vis, wr_vis, rw_xbstar, pre_race)


def plain_coherence(
    b: Bell, f: Fences, o: Ordering, pb: Rel, rb: Rel, rcu_fence: Rel
) -> tuple[bool, bool]:
    """``empty (wr-incoh | rw-incoh | ww-incoh) as plain-coherence``.

    Returns (the axiom holds, :func:`data_race`'s flag)."""
    v = _visibility(b, f, o, pb, rb, rcu_fence)
    if not any(v.pre_race):
        return True, False
    rel = b.rel
    rf, co, fr = rel.rf, rel.co, rel.fr
    wr_incoh = r.inter(r.inter(v.pre_race, rf), r.inverse(v.rw_xbstar))
    rw_incoh = r.inter(r.inter(v.pre_race, fr), r.inverse(v.wr_vis))
    ww_incoh = r.inter(r.inter(v.pre_race, co), r.inverse(v.ww_vis))
    if not r.empty(r.union(wr_incoh, rw_incoh, ww_incoh)):
        return False, False
    return True, data_race(b, v)


def data_race(b: Bell, v: _Visibility) -> bool:
    """``flag ~empty (ww-race | wr-race | rw-race) as data-race``."""
    rel = b.rel
    n, Marked, W = rel.n, b.Marked, rel.W
    co, rf, fr = rel.co, rel.rf, rel.fr
    ww_nonrace = r.inter(
        r.inter(v.ww_vis, r.union(r.cross(n, Marked, W), v.rw_xbstar)),
        r.union(r.cross(n, W, Marked), v.wr_vis),
    )
    ww_race = r.diff(r.inter(v.pre_race, co), ww_nonrace)
    wr_race = r.diff(
        r.diff(r.inter(v.pre_race, r.compose(r.refl_closure(co), rf)), v.wr_vis),
        r.inverse(v.rw_xbstar),
    )
    rw_race = r.diff(r.inter(v.pre_race, fr), v.rw_xbstar)
    return not r.empty(r.union(ww_race, wr_race, rw_race))


def mixed_accesses(b: Bell, f: Fences) -> bool:
    """``flag ~empty mixed-accesses as mixed-accesses``: a plain write and a marked
    access of one location in program order with no barrier between."""
    rel = b.rel
    po = rel.po
    barrier_set = (
        b.Barrier | b.Rmb | b.Wmb | b.Mb | b.Sync_rcu | b.Sync_srcu | b.Before_atomic
        | b.After_atomic | b.Acquire | b.Release | b.Rcu_lock | b.Rcu_unlock | b.Srcu_lock
        | b.Srcu_unlock
    )  # fmt: skip
    barrier = r.union(
        fencerel(rel, barrier_set), r.restrict(po, -1, b.Release), r.restrict(po, b.Acquire, -1)
    )
    po_loc_nb = r.diff(f.po_loc, barrier)
    Plain, Marked, W = b.Plain, b.Marked, rel.W
    mixed = r.union(
        r.restrict(po_loc_nb, Plain & W, Marked), r.restrict(po_loc_nb, Marked, Plain & W)
    )
    return not r.empty(mixed)
