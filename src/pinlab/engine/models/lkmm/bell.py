"""linux-kernel.bell, and lock.cat's events: what each event is, and the sections.

:func:`bell` reads an execution graph as the bell file does: the event sets
its tags make (``Acquire``, ``Release``, ``Mb``, the fence kinds, ...),
RCU and SRCU read-side critical sections and the flags their matching
raises, ``Marked`` and ``Plain`` accesses, and the dependencies carried
through reads of the thread's own data-dependent writes (``carry-dep``).
Names are the bell file's (``-`` becomes ``_``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pinlab.engine import relation as r
from pinlab.engine.graph import EvKind, ExecutionGraph
from pinlab.engine.models import sections
from pinlab.engine.models.base import Relations
from pinlab.engine.models.sections import rcu_read_side_pairs
from pinlab.engine.relation import Rel

__all__ = ["Bell", "bell", "fencerel"]


def fencerel(rel: Relations, s: int) -> Rel:
    """``fencerel(S) = (po & (_ * S)) ; po``."""
    po = rel.po
    if not s:
        return r.zero(rel.n)
    return r.compose(r.restrict(po, -1, s), po)


@dataclass(frozen=True, slots=True)
class Bell:
    """The sets and relations of linux-kernel.bell (and lock.cat's events) on one graph."""

    rel: Relations
    # event kinds (lock.cat: LKR, LKW, UL, LF, RU; mem: herd7's M, no lock events)
    LKR: int
    LKW: int
    UL: int
    LF: int
    RU: int
    mem: int
    # the bell's tags, failed RMWs dropped as the bell says
    RMW: int
    Acquire: int
    Release: int
    Mb: int
    Noreturn: int
    Rmb: int
    Wmb: int
    Barrier: int
    Rcu_lock: int
    Rcu_unlock: int
    Sync_rcu: int
    Before_atomic: int
    After_atomic: int
    After_spinlock: int
    After_unlock_lock: int
    After_srcu_read_unlock: int
    Srcu_lock: int
    Srcu_unlock: int
    Sync_srcu: int
    Marked: int
    Plain: int
    # sections
    rcu_rscs: Rel
    srcu_rscs: Rel
    srcu_inv: Rel
    # rmw with lock.cat's lk-rmw; dependencies through carry-dep
    rmw: Rel
    addr: Rel
    ctrl: Rel
    data: Rel
    rfi: Rel
    flags: frozenset[str]


def _rcu_rscs(g: ExecutionGraph, rel: Relations) -> tuple[Rel, int, int]:
    """``rcu-rscs`` as a relation (from :func:`~.sections.rcu_read_side_pairs`);
    and the unmatched locks, unlocks."""
    pairs, unmatched_l, unmatched_u = rcu_read_side_pairs(g, rel)
    rscs = [0] * rel.n
    for lock, unlock in pairs:
        rscs[lock] |= 1 << unlock
    return rscs, unmatched_l, unmatched_u


def _lk_rmw(rel: Relations) -> Rel:
    """lock.cat's ``lk-rmw``: each LKR to the LKW right after it."""
    out = [0] * rel.n
    for e in rel.g.events:
        if e.kind is EvKind.LKR and e.rmw >= 0:
            out[e.eid] = 1 << e.rmw
    return out


def _bits_of(eids: object) -> int:
    out = 0
    for e in eids:  # type: ignore[attr-defined]
        out |= 1 << e
    return out


def _srcu(
    g: ExecutionGraph, rel: Relations, Srcu_lock: int, Srcu_unlock: int, flags: set[str]
) -> tuple[Rel, Rel]:
    """``srcu-rscs`` (matched by the data flow of the lock's value) and its inverse,
    with the bell's flags on SRCU matching."""
    n = rel.n
    if not (Srcu_lock or Srcu_unlock):
        return r.zero(n), r.zero(n)
    srcu_rscs = sections.srcu_rscs(rel)
    if Srcu_lock & ~r.domain(srcu_rscs):
        flags.add("unmatched-srcu-lock")
    if Srcu_unlock & ~r.range_(srcu_rscs):
        flags.add("unmatched-srcu-unlock")
    srcu_inv = r.inverse(srcu_rscs) if Srcu_lock else r.zero(n)
    if Srcu_lock and not r.empty(r.diff(r.compose(srcu_inv, srcu_rscs), r.ident(n))):
        flags.add("multiple-srcu-matches")
    events = g.events
    for a, b in r.pairs(srcu_rscs) if Srcu_lock else ():
        if events[a].value != events[b].value:
            flags.add("srcu-bad-value-match")
            break
    return srcu_rscs, srcu_inv


def bell(g: ExecutionGraph, rel: Relations) -> Bell:
    """linux-kernel.bell on ``g`` (with lock.cat's events and its two flags)."""
    flags: set[str] = set()
    kinds = rel.kinds
    R, W, M, IW, F = rel.R, rel.W, rel.M, rel.IW, rel.F
    LKR, LKW, UL = kinds[EvKind.LKR], kinds[EvKind.LKW], kinds[EvKind.UL]
    LF = kinds[EvKind.LF] | kinds[EvKind.RL]
    RU = kinds[EvKind.RU]
    mem = M & ~(LKR | LKW | UL | LF | RU)

    rmw0 = rel.rmw
    RMW = rel.atomic
    failed_rmw = RMW & ~(r.domain(rmw0) | r.range_(rmw0))
    Acquire = (rel.tagged("acquire") & ~W & ~failed_rmw) | LKR
    Release = (rel.tagged("release") & ~R & ~failed_rmw) | UL
    Srcu_lock = rel.tagged("srcu-lock") & R
    Srcu_unlock = rel.tagged("srcu-unlock") & W
    Sync_srcu = kinds[EvKind.SRCU]
    Sync_rcu = rel.tagged("sync-rcu") & F

    rcu_rscs, unmatched_rl, unmatched_ru = rel.derived("lkmm-rcu", lambda: _rcu_rscs(g, rel))
    if unmatched_rl:
        flags.add("unmatched-rcu-lock")
    if unmatched_ru:
        flags.add("unmatched-rcu-unlock")
    srcu_rscs, srcu_inv = _srcu(g, rel, Srcu_lock, Srcu_unlock, flags)
    if Sync_srcu and not r.empty(r.inter(rcu_rscs, fencerel(rel, Sync_srcu))):
        flags.add("invalid-sleep")

    Marked = (rel.all & ~M) | IW | rel.tagged("once", "release", "acquire", "mb") | RMW
    Marked |= LKR | LKW | UL | LF | RU | Srcu_lock | Srcu_unlock

    # carry-dep: dependencies through reads of the thread's own data-dependent writes
    data0, addr0, ctrl0 = rel.data, rel.addr, rel.ctrl
    rfi = r.inter(rel.rf, rel.int_)
    data_rfi = r.compose(r.restrict(data0, -1, ~Srcu_unlock & rel.all), rfi)
    if any(data_rfi):
        carry_dep = r.star(data_rfi)
        addr = r.compose(carry_dep, addr0)
        ctrl = r.compose(carry_dep, ctrl0)
        data = r.compose(carry_dep, data0)
    else:  # carry-dep is the identity
        addr, ctrl, data = addr0, ctrl0, data0

    # lock.cat's flags
    all_locks = LKR | LKW | UL | LF | RU | Srcu_lock | Srcu_unlock | Sync_srcu
    if not r.empty(r.restrict(rel.loc, mem & ~IW & ~all_locks, all_locks)):
        flags.add("mixed-lock-accesses")
    if UL & ~_bits_of(g.critical().values()):
        flags.add("unmatched-unlock")

    return Bell(
        rel=rel,
        LKR=LKR,
        LKW=LKW,
        UL=UL,
        LF=LF,
        RU=RU,
        mem=mem,
        RMW=RMW,
        Acquire=Acquire,
        Release=Release,
        Mb=rel.tagged("mb") & ~failed_rmw,
        Noreturn=rel.tagged("noreturn") & ~W,
        Rmb=rel.tagged("rmb") & F,
        Wmb=rel.tagged("wmb") & F,
        Barrier=rel.tagged("barrier") & F,
        Rcu_lock=rel.tagged("rcu-lock") & F,
        Rcu_unlock=rel.tagged("rcu-unlock") & F,
        Sync_rcu=Sync_rcu,
        Before_atomic=rel.tagged("before-atomic") & F,
        After_atomic=rel.tagged("after-atomic") & F,
        After_spinlock=rel.tagged("after-spinlock") & F,
        After_unlock_lock=rel.tagged("after-unlock-lock") & F,
        After_srcu_read_unlock=rel.tagged("after-srcu-read-unlock") & F,
        Srcu_lock=Srcu_lock,
        Srcu_unlock=Srcu_unlock,
        Sync_srcu=Sync_srcu,
        Marked=Marked,
        Plain=M & ~Marked,
        rcu_rscs=rcu_rscs,
        srcu_rscs=srcu_rscs,
        srcu_inv=srcu_inv,
        rmw=r.union(rmw0, _lk_rmw(rel)),
        addr=addr,
        ctrl=ctrl,
        data=data,
        rfi=rfi,
        flags=frozenset(flags),
    )
