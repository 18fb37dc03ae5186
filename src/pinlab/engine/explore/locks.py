"""Locks after lock.cat: spin_lock(), trylock, is_locked, unlock and hand-over."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from pinlab.engine.explore.readwrite import _ReadsWrites
from pinlab.engine.graph import EvKind
from pinlab.engine.models.base import Change
from pinlab.engine.ops import (
    IsLocked,
    Lock,
    TryLock,
    Unlock,
)
from pinlab.engine.program import Loc
from pinlab.engine.threads import Answer, ThreadRun


class _Locks(_ReadsWrites):
    """The lock operations, as LKR/LKW/UL events and lock.cat's reads-from."""

    # -- locks ---------------------------------------------------------------------
    def _op_lock(self, t: ThreadRun, op: Lock | TryLock | IsLocked | Unlock) -> bool:
        loc = self._loc(t, op.loc)
        if loc is None:
            return True
        deps = self._deps(t, op.loc)
        if isinstance(op, Unlock):
            ul = self._add(t, EvKind.UL, loc, value=0, tag="release", **deps)
            self._match_unlock(ul)
            if not any(rl == loc for rl in self.lock_waiting.values()):
                t.resume(Answer(), ul)
                return True
            self._hand_over(ul, lambda: self._after(t, Answer(), ul))
            return False
        if isinstance(op, Lock):
            self._acquire(t, loc, deps, Answer())
            return False
        fail_kind = EvKind.LF if isinstance(op, TryLock) else EvKind.RU

        def body(i: int) -> None:
            if i == 0 and isinstance(op, TryLock):
                self._acquire(t, loc, deps, Answer(const=1))
                return
            kind = EvKind.RL if i == 0 else fail_kind
            e = self._add(t, kind, loc, **deps)
            t.resume(Answer(const=1 if i == 0 else 0), e)
            self._search()

        self._choice(2, body)
        return False

    def _match_unlock(self, ul: int) -> None:
        """lock.cat's ``critical``: the nearest earlier LKW|UL of the lock, if an LKW."""
        g = self.g
        e = g.events[ul]
        for x in reversed(g.threads[e.tid][: e.idx]):
            prev = g.events[x]
            if prev.loc == e.loc and prev.kind in (EvKind.LKW, EvKind.UL):
                if prev.kind is EvKind.LKW:
                    self._set_crit(x, ul)
                return

    def _set_crit(self, lkw: int, ul: int) -> None:
        crit = self.g.crit
        crit[lkw] = ul

        def undo() -> None:
            del crit[lkw]

        self._push(undo)

    def _acquire(self, t: ThreadRun, loc: Loc, deps: dict[str, int], answer: Answer) -> None:
        """A spin_lock() (or successful trylock): an LKR/LKW pair.

        lock.cat makes each LKR read from the unlock (or initial write) right
        before its LKW in coherence, and the pair is atomic: so a lock is taken
        at the end of the lock's coherence order when the last holder has
        unlocked, or the thread waits for a later unlock (as a read waits for a
        later write).  Every order in which the threads take the lock is tried.
        """
        lkr = self._add(t, EvKind.LKR, loc, tag="acquire", **deps)
        lkw = self._add(t, EvKind.LKW, loc, value=1, rmw=lkr, **deps)
        self._replace(replace(self.g.events[lkr], rmw=lkw))
        go_on: Callable[[], None] = lambda: self._after(t, answer, lkr)  # noqa: E731
        free = self._lock_free(loc)
        may_wait = self._writer_may_come(loc, t.tid)

        def body(i: int) -> None:
            if i == 0 and free:
                self._co_insert(loc, len(self.g.co[loc]), lkw)
                if self.model.check_partial(self.g, ("co", lkw, -1)):
                    go_on()
                else:
                    self.stats.pruned += 1
                return
            self._lock_wait(lkr, loc)
            self._suspend(t.tid, lkr, go_on)
            self._search()

        self._choice(int(free) + int(may_wait), body)

    def _lock_free(self, loc: Loc) -> bool:
        """Whether the last LKW of ``loc`` in coherence (if any) has its unlock."""
        last = self.g.events[self.g.co[loc][-1]]
        return last.kind is not EvKind.LKW or last.eid in self.g.crit

    def _lock_wait(self, lkr: int, loc: Loc) -> None:
        self.lock_waiting[lkr] = loc
        self._push(lambda: self.lock_waiting.pop(lkr))

    def _hand_over(self, ul: int, cont: Callable[[], None]) -> None:
        """Unlock ``ul`` frees its lock: no waiter, or one of them, takes it next."""
        e = self.g.events[ul]
        loc = e.loc
        assert loc is not None
        waiting = [
            r for r, rl in self.lock_waiting.items() if rl == loc and self.g.events[r].tid != e.tid
        ]
        if not waiting or not self._lock_free(loc):
            cont()
            return

        def apply(i: int) -> Change | None:
            if i == 0:
                return None
            lkr = waiting[i - 1]
            loc_ = self.lock_waiting.pop(lkr)

            def undo() -> None:
                self.lock_waiting[lkr] = loc_

            self._push(undo)
            self._make_ready(self.g.events[lkr].tid)
            lkw = self.g.events[lkr].rmw
            self._co_insert(loc, len(self.g.co[loc]), lkw)
            return ("co", lkw, -1)

        self._branch(len(waiting) + 1, apply, cont)
