"""Reads and writes: reads-from, waiting reads, binding, RMWs and coherence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pinlab.engine.analysis import may_write_from
from pinlab.engine.explore.state import (
    _apply,
    _orders_later,
    _State,
)
from pinlab.engine.graph import EvKind
from pinlab.engine.models.base import FULL_CHECK, Change
from pinlab.engine.ops import (
    Load,
    Rmw,
    RmwKind,
    Store,
    Tag,
    apply_arith,
)
from pinlab.engine.program import Loc
from pinlab.engine.threads import Answer, Status, ThreadRun
from pinlab.engine.values import Sym, deps_of, unwrap


class _ReadsWrites(_State):
    """Reads (each source, or waiting), writes (each place in coherence, each binding)."""

    # -- reads and writes -----------------------------------------------------------
    def _writer_may_come(self, loc: Loc, tid: int) -> bool:
        """Whether a thread other than ``tid`` may still write ``loc`` (as far as
        ``Program.may_write`` and the dry run of its code can tell)."""
        may_write = self.program.may_write
        for t in self.threads:
            if t.tid == tid or t.status is Status.DONE or t.status is Status.DEAD:
                continue
            hint = may_write[t.tid] if t.tid < len(may_write) else None
            if hint is not None and loc not in hint:
                continue
            if may_write_from(self.futures[t.tid], len(t.answers), loc):
                return True
        return False

    def _committed_cycle(self) -> bool:
        """Whether every read still waiting can only be bound by closing a
        happens-before cycle (so the exploration below is hopeless).

        A waiting read can only get a write that another thread makes from now
        on.  Call a waiting read *committing* when every later write of its
        thread is ppo-after it: it is an acquire (or a fully ordered RMW that
        cannot fail; ``Model.acquire_orders_later``), or, with
        ``Program.ctrl_persists``, the thread has run on past a branch on it
        (every later write is then control-dependent on it).  If every live
        thread has a committing read, each write still to come is ppo-after a
        waiting read which itself waits for a write still to come, so the chain
        "read <-rfe- write ppo-after a waiting read <-rfe- ..." can only close
        into a cycle of ppo and rfe edges, which LKMM's happens-before axiom
        forbids.  It needs every access in such a chain to be marked: the
        waiting reads are checked, and no thread may write their locations
        with a plain store.
        """
        plain = self.plain_written
        if plain is None:
            return False
        g = self.g
        ctrl_persists = self.program.ctrl_persists
        ordering = self.ordering_reads
        committing: dict[int, list[int]] = {}
        for r, loc in self.awaiting.items():
            ev = g.events[r]
            sus = self.suspended.get(ev.tid)
            if sus is not None and sus[0] == r and not ordering >> r & 1:
                continue  # still suspended, and nothing of its thread depends on it yet
            if ev.tag == "plain" or loc in plain:
                return False
            committing.setdefault(ev.tid, []).append(r)
        if not committing:
            return False
        for t in self.threads:
            if t.status is Status.DONE or t.status is Status.DEAD:
                continue
            reads = committing.get(t.tid)
            if not reads:
                return False
            fork = t.fork_on if t.status is Status.FORK and ctrl_persists else None
            if not any(
                ordering >> r & 1
                or (ctrl_persists and t.ctrl >> g.events[r].op & 1)
                or (fork is not None and fork.reads >> r & 1)
                for r in reads
            ):
                return False
        return True

    def _hopeless_wait(self) -> bool:
        """Whether some waiting read can no longer get a write."""
        for r, loc in self.awaiting.items():
            if not self._writer_may_come(loc, self.g.events[r].tid):
                return True
        for r, loc in self.lock_waiting.items():
            if not self._writer_may_come(loc, self.g.events[r].tid):
                return True
        return False

    def _op_read(self, t: ThreadRun, op: Load | Rmw) -> bool:
        loc = self._loc(t, op.loc)
        if loc is None:
            return True
        is_rmw = isinstance(op, Rmw)
        r = self._add(t, EvKind.R, loc, tag=op.tag.value, atomic=is_rmw, **self._deps(t, op.loc))
        if self._acquire_orders and _orders_later(op):
            self._mark_ordering(r)
        known = list(self.writes[loc])
        may_wait = self._writer_may_come(loc, t.tid)
        opi = len(t.answers)

        if is_rmw:
            assert isinstance(op, Rmw)
            go_on: Callable[[], None] = lambda: self._rmw(t, op, r, loc)  # noqa: E731
        else:
            answer = Answer(compute=lambda: self._current(r), deps=1 << opi)
            go_on = lambda: self._after(t, answer, r)  # noqa: E731

        def body(i: int) -> None:
            if i < len(known):
                change = self._set_rf(r, known[i])
                if self.model.check_partial(self.g, change):
                    go_on()
                else:
                    self.stats.pruned += 1
                return
            self._await(r, loc)
            self._suspend(t.tid, r, go_on)
            self._search()

        self._choice(len(known) + (1 if may_wait else 0), body)
        return False

    def _mark_ordering(self, r: int) -> None:
        if self.ordering_reads >> r & 1:
            return
        self.ordering_reads |= 1 << r

        def undo() -> None:
            self.ordering_reads &= ~(1 << r)

        self._push(undo)

    def _suspend(self, tid: int, r: int, go_on: Callable[[], None]) -> None:
        self.suspended[tid] = (r, go_on)
        self._push(lambda: self.suspended.pop(tid))

    def _make_ready(self, tid: int) -> None:
        self.ready.append(tid)
        self._push(self.ready.pop)

    def _go_on(self, tid: int) -> None:
        """Let a suspended thread go on from its waiting read."""
        r, go_on = self.suspended.pop(tid)
        self.ready.pop()

        def undo() -> None:
            self.suspended[tid] = (r, go_on)
            self.ready.append(tid)

        self._push(undo)
        go_on()

    def _speculate(self) -> bool:
        """Every thread is stuck: run the ones suspended at a read on with symbolic
        values (a thread waiting for a lock has nothing to speculate on)."""
        woke = False
        for tid in sorted(self.suspended):
            if self.suspended[tid][0] not in self.lock_waiting:
                self._make_ready(tid)
                woke = True
        return woke

    def _rmw(self, t: ThreadRun, op: Rmw, r: int, loc: Loc) -> None:
        old = self._current(r)
        opi = len(t.answers)
        kind = op.kind
        arg = unwrap(op.arg)
        if kind is RmwKind.CMPXCHG or kind is RmwKind.ADD_UNLESS:
            if kind is RmwKind.CMPXCHG:
                cond = _apply(lambda a, b: a == b, old, arg)
            else:
                cond = _apply(lambda a, b: a != b, old, unwrap(op.arg2))
            if type(cond) is Sym:

                def decide(i: int) -> Change | None:
                    self._constrain(cond, i == 0)
                    return None

                self._branch(2, decide, lambda: self._rmw_finish(t, op, r, loc, opi))
                return
        self._rmw_finish(t, op, r, loc, opi)

    def _rmw_succeeds(self, op: Rmw, old: Any) -> bool:
        if op.kind is RmwKind.CMPXCHG:
            cond = _apply(lambda a, b: a == b, old, unwrap(op.arg))
        elif op.kind is RmwKind.ADD_UNLESS:
            cond = _apply(lambda a, b: a != b, old, unwrap(op.arg2))
        else:
            return True
        if type(cond) is Sym:  # decided by the branch just taken
            return self.constraints[-1][1]
        return bool(cond)

    def _rmw_finish(self, t: ThreadRun, op: Rmw, r: int, loc: Loc, opi: int) -> None:
        old = self._current(r)
        ok = self._rmw_succeeds(op, old)
        kind = op.kind
        bit = 1 << opi
        if kind is RmwKind.ADD_UNLESS and not op.ret_old:
            answer = Answer(const=int(ok))
        elif kind is RmwKind.OP_RETURN:
            answer = Answer(compute=lambda: self._new_value(op, self._current(r)), deps=bit)
        elif kind is RmwKind.ATOMIC_OP:
            answer = Answer()
        else:
            answer = Answer(compute=lambda: self._current(r), deps=bit)
        if not ok:
            self._after(t, answer, r)
            return
        if self._acquire_orders and op.tag in (Tag.ACQUIRE, Tag.MB):
            self._mark_ordering(r)  # a conditional RMW orders once it succeeds
        data = 0 if kind in (RmwKind.XCHG, RmwKind.CMPXCHG) else 1 << r
        w = self._add(
            t,
            EvKind.W,
            loc,
            value=self._new_value(op, old),
            tag=op.tag.value,
            atomic=True,
            rmw=r,
            addr=self.g.events[r].addr,
            data=data | self._eids(t, deps_of(op.arg) | deps_of(op.arg2)),
            ctrl=self.g.events[r].ctrl,
        )
        self._replace(replace(self.g.events[r], atomic=True, rmw=w))
        self._place(w, loc, lambda: self._after(t, answer, r))

    @staticmethod
    def _new_value(op: Rmw, old: Any) -> Any:
        arg = unwrap(op.arg)
        if op.kind is RmwKind.XCHG:
            return arg
        if op.kind is RmwKind.CMPXCHG:
            return unwrap(op.arg2)
        if op.kind is RmwKind.ADD_UNLESS:
            return _apply(lambda a, b: a + b, old, arg)
        assert op.arith is not None
        arith = op.arith
        return _apply(lambda a, b: apply_arith(arith, a, b), old, arg)

    def _op_store(self, t: ThreadRun, op: Store) -> bool:
        loc = self._loc(t, op.loc)
        if loc is None:
            return True
        w = self._add(
            t, EvKind.W, loc, value=unwrap(op.value), tag=op.tag.value,
            **self._deps(t, op.loc, op.value),
        )  # fmt: skip
        self._place(w, loc, lambda: self._after(t, Answer(), w))
        return False

    def _positions(self, w: int, loc: Loc) -> list[int]:
        """Where new write ``w`` may go in ``loc``'s coherence order (insertion indices).

        An RMW's write goes right after the write its read took, and nothing
        goes between such a pair: any other position breaks atomicity, so it
        is not offered at all (the atomic axioms would reject it anyway).
        """
        g = self.g
        co = g.co[loc]
        events, rf = g.events, g.rf
        forced = -1
        ev = events[w]
        if ev.rmw >= 0 and ev.kind is EvKind.W and rf[ev.rmw] >= 0:
            forced = co.index(rf[ev.rmw]) + 1
        out = []
        floor = g.co_floor(w)
        for k in range(len(co), floor - 1, -1):
            if forced >= 0 and k != forced:
                continue
            if k < len(co):
                nxt = events[co[k]]
                if nxt.rmw >= 0 and nxt.kind is EvKind.W and rf[nxt.rmw] == co[k - 1]:
                    continue  # between an RMW's two halves
            out.append(k)
        return out

    def _place(self, w: int, loc: Loc, cont: Callable[[], None]) -> None:
        """Choose the coherence position of new write ``w``, then bind waiting reads."""
        positions = self._positions(w, loc)
        kind = self.g.events[w].kind

        def apply(i: int) -> Change | None:
            self._co_insert(loc, positions[i], w)
            if len(self.g.co[loc]) == 2:
                return None  # the first write after the initial one
            return ("co", w, -1) if kind is EvKind.W else FULL_CHECK

        if kind is EvKind.W:
            self._branch(len(positions), apply, lambda: self._bind(w, loc, cont))
        else:
            self._branch(len(positions), apply, cont)

    def _bind(self, w: int, loc: Loc, cont: Callable[[], None]) -> None:
        tid = self.g.events[w].tid
        # (in event order: the trail's undo re-inserts into ``awaiting``, so its
        # order differs between a search and the replay of one of its choice lists)
        waiting = sorted(
            r for r, rl in self.awaiting.items() if rl == loc and self.g.events[r].tid != tid
        )
        self._bind_each(w, waiting, 0, cont)

    def _bind_each(self, w: int, waiting: list[int], j: int, cont: Callable[[], None]) -> None:
        if j == len(waiting):
            cont()
            return
        r = waiting[j]

        def apply(i: int) -> Change | None:
            if i == 0:
                return None
            self._unawait(r)
            tid = self.g.events[r].tid
            if tid in self.suspended and self.suspended[tid][0] == r and tid not in self.ready:
                self._make_ready(tid)
            return self._set_rf(r, w)

        self._branch(2, apply, lambda: self._bind_each(w, waiting, j + 1, cont))
