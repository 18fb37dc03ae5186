"""Locks after lock.cat: taking, releasing and stealing a critical section."""

from __future__ import annotations

from functools import partial
from typing import Any

from pinlab.engine.graph import EvKind
from pinlab.engine.models.base import FULL_CHECK
from pinlab.engine.ops import (
    IsLocked,
    Lock,
    TryLock,
    Unlock,
)
from pinlab.engine.program import Loc
from pinlab.engine.revisit.jobs import Jobs
from pinlab.engine.revisit.threads import (
    _NO_ANSWER,
    _Thread,
    _with_rmw,
)


class Locks(Jobs):
    """spin_lock() and friends as LKR/LKW/UL events, with steals."""

    def _op_lock(self, t: _Thread, op: Lock | TryLock | IsLocked | Unlock) -> None:
        loc = self._loc(t, op.loc)
        deps = self._deps(t, op.loc)
        now = len(self.g.events)
        if isinstance(op, Unlock):
            ul = self._add(t, EvKind.UL, loc, value=0, tag="release", **deps)
            self._match_unlock(ul)
            self._record_op(t, _NO_ANSWER, [ul], False, now)
            self._revisits(ul)  # (its place in lock_co is right after its LKW)
            if self._check(FULL_CHECK):
                self._continue()
        elif isinstance(op, Lock):
            self._acquire(t, loc, deps, _NO_ANSWER, now)
        elif isinstance(op, TryLock):
            self._acquire(t, loc, deps, 1, now)
            self._lock_read(t, EvKind.LF, loc, deps, 0, now)
        else:
            self._lock_read(t, EvKind.RL, loc, deps, 1, now)
            self._lock_read(t, EvKind.RU, loc, deps, 0, now)

    def _lock_read_sources(self, kind: EvKind, tid: int, loc: Loc) -> list[int]:
        """lock.cat's possible reads-from of an LF/RL or RU event of ``tid``."""
        g = self.g
        own = [g.events[x] for x in g.threads[tid]]
        same = [x for x in own if x.loc == loc and x.kind in (EvKind.LKW, EvKind.UL)]
        writes = self.writes.get(loc, [])
        if kind is EvKind.RU:
            internal = [x.eid for x in same if x.kind is EvKind.UL][-1:]
            external = [
                w for w in writes
                if g.events[w].kind in (EvKind.UL, EvKind.INIT) and g.events[w].tid != tid
            ]  # fmt: skip
            return internal + external
        if same and same[-1].kind is EvKind.LKW:
            return [same[-1].eid]
        return [w for w in writes if g.events[w].kind is EvKind.LKW and g.events[w].tid != tid]

    def _lock_read(
        self, t: _Thread, kind: EvKind, loc: Loc, deps: dict[str, Any], answer: int, now: int
    ) -> None:
        """An LF, RL or RU event: it reads a lock write that exists, or one still to
        come (a later lock write revisits it; unbound at the end, it blocks)."""
        sources: list[int | None] = [*self._lock_read_sources(kind, t.tid, loc), None]
        for w in sources:
            mark = self._mark()
            e = self._add(t, kind, loc, maximal=w is None, **deps)
            if w is not None:
                self._set_rf(e, w)
            self._record_op(t, answer, [e], False, now)
            if self._check(FULL_CHECK):
                self._continue()
            self._undo_to(mark)

    def _match_unlock(self, ul: int) -> None:
        """lock.cat's ``critical``: the nearest earlier LKW|UL of the lock, if an LKW."""
        g = self.g
        e = g.events[ul]
        for x in reversed(g.threads[e.tid][: e.idx]):
            prev = g.events[x]
            if prev.loc == e.loc and prev.kind in (EvKind.LKW, EvKind.UL):
                if prev.kind is EvKind.LKW:
                    g.crit[x] = ul
                    self._push(partial(g.crit.pop, x))
                return

    def _acquire(
        self,
        t: _Thread,
        loc: Loc,
        deps: dict[str, Any],
        answer: Any,
        now: int,
        *,
        steal: bool = True,
        only_steal: bool = False,
    ) -> None:
        """spin_lock(): take the free lock after the last critical section, or take
        it where an earlier critical section did (that section's thread is then cut
        back to its lock and waits: a backward revisit)."""
        g = self.g
        lock_co = self._lock_co(loc)
        free = [w for w in lock_co if g.events[w].kind in (EvKind.INIT, EvKind.UL)]
        for w in reversed(free):
            victim = self._lock_taker(w)
            if victim < 0 and (only_steal or not self._lock_free(loc)):
                continue
            if victim >= 0 and not steal:
                continue
            mark = self._mark()
            lkr = self._add(t, EvKind.LKR, loc, maximal=victim < 0, tag="acquire", **deps)
            lkw = self._add(t, EvKind.LKW, loc, maximal=victim < 0, value=1, rmw=lkr, **deps)
            self._replace(_with_rmw(g.events[lkr], lkw).with_value(0))
            self._record_op(t, answer, [lkr, lkw], False, now)
            if victim < 0:
                self._co_insert(loc, len(g.co[loc]), lkw)
                self._revisits(lkw)  # failed trylocks and spin_is_locked() reading it
                if self._check(("co", lkw, -1)):
                    self._continue()
            else:
                self._steal(victim, lkr, lkw)
            self._undo_to(mark)

    def _lock_taker(self, w: int) -> int:
        """The LKR that reads free lock write ``w`` (its LKW follows ``w``), or -1."""
        g = self.g
        loc = g.events[w].loc
        assert loc is not None
        lco = self._lock_co(loc)
        i = lco.index(w)
        if i + 1 < len(lco) and g.events[lco[i + 1]].kind is EvKind.LKW:
            return g.events[lco[i + 1]].rmw
        return -1

    def _steal(self, victim: int, lkr: int, lkw: int) -> None:
        """``lkw`` takes the place in coherence of ``victim``'s LKW, whose thread is
        cut back to its lock."""
        g = self.g
        prefix = self._prefix(lkw)
        if victim in prefix:
            return
        keep = self._closed(set(range(victim)) | prefix)
        if victim in keep or not self._maximal_extension(victim, lkw, keep, steal=True):
            return
        loc = g.events[lkw].loc
        assert loc is not None
        co = g.co[loc]
        mark = self._mark()
        self._co_insert(loc, co.index(g.events[victim].rmw), lkw)
        self.jobs.append(self._make_job(keep, self._dep_prefix(lkw)))
        self._undo_to(mark)
