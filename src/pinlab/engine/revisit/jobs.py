"""Revisits as jobs: the graph they keep, and re-running threads on it."""

from __future__ import annotations

from typing import Any

from pinlab.engine.graph import READ_KINDS, Event, EvKind
from pinlab.engine.models.base import FULL_CHECK
from pinlab.engine.ops import (
    Assume,
    Load,
    Rmw,
    RmwKind,
    Store,
    TryLock,
)
from pinlab.engine.program import Oops
from pinlab.engine.relation import bits
from pinlab.engine.revisit.choice import Revisits
from pinlab.engine.revisit.threads import (
    _WRITE_KINDS,
    ReplayMismatch,
    _Job,
    _OpRec,
    _rmw_answer,
    _rmw_new_value,
    _rmw_succeeds,
    _signature,
    _Thread,
    _Tracker,
    _with_rmw,
)
from pinlab.engine.values import unwrap


class Jobs(Revisits):
    """Installing a revisit's graph and re-running its threads on it."""

    def _make_job(
        self, keep: set[int], prefix: set[int], read: int = -1, write: int = -1,
        in_place: bool = False,
    ) -> _Job:  # fmt: skip
        """The graph of ``keep`` (and every initial write), renumbered in stamp order,
        with ``read`` reading from ``write``."""
        g = self.g
        events = g.events
        used = {events[e].loc for e in keep if events[e].kind is not EvKind.INIT}
        keep_list = [
            e.eid for e in events
            if e.eid in keep or (e.kind is EvKind.INIT and e.loc in used)
        ]  # fmt: skip
        if read >= 0 and events[read].rmw in keep_list:
            keep_list.remove(events[read].rmw)  # the RMW's write is made again
        if read >= 0 and not in_place:
            keep_list.remove(read)
            keep_list.append(read)  # it now comes after the write it reads
        new_id = {e: i for i, e in enumerate(keep_list)}

        def remap(mask: int) -> int:
            out = 0
            for b in bits(mask):
                j = new_id.get(b)
                if j is not None:
                    out |= 1 << j
            return out

        new_events: list[Event] = []
        rf: list[int] = []
        for i, e in enumerate(keep_list):
            ev = events[e]
            rmw = new_id.get(ev.rmw, -1) if ev.rmw >= 0 else -1
            src = write if e == read else g.rf[e]
            value = events[write].value if e == read else ev.value
            new_events.append(Event(i, ev.tid, ev.idx, ev.kind, ev.loc, value, ev.tag, ev.atomic,
                                    rmw, remap(ev.addr), remap(ev.data), remap(ev.ctrl), ev.op,
                                    ev.src, ev.label))  # fmt: skip
            rf.append(new_id[src] if src >= 0 and src in new_id else -1)
        co = {loc: [new_id[w] for w in ws if w in new_id] for loc, ws in g.co.items()
              if loc in used}  # fmt: skip
        init = {loc: new_id[e] for loc, e in g.init.items() if loc in used}
        crit = {new_id[a]: new_id[b] for a, b in g.crit.items() if a in new_id and b in new_id}
        cut = read if read >= 0 else min((e for e in range(len(events)) if e not in keep),
                                         default=len(events))  # fmt: skip
        ops: list[list[_OpRec]] = []
        for t in self.threads:
            ops.append(self._kept_ops(t, new_id, cut))
        return _Job(
            new_events, rf, co, init, crit, ops,
            [self.maximal[e] for e in keep_list],
            [self.revisitable[e] and e not in prefix for e in keep_list],
            new_id.get(read, -1), new_id.get(write, -1), in_place,
        )  # fmt: skip

    def _kept_ops(self, t: _Thread, new_id: dict[int, int], cut: int) -> list[_OpRec]:
        """The operations of ``t`` the cut graph keeps: those whose events stay, and
        those without events done before the cut, up to the first one dropped."""
        out: list[_OpRec] = []
        last_kept = -1
        for i, rec in enumerate(t.ops):
            if rec.eids and rec.eids[0] in new_id:
                last_kept = i
        for i, rec in enumerate(t.ops):
            if rec.eids:
                if rec.eids[0] not in new_id:
                    break
                eids = [new_id[e] for e in rec.eids if e in new_id]
            elif i < last_kept or rec.time < cut:
                eids = []
            else:
                break
            out.append(_OpRec(rec.answer, eids, 0, rec.tested, rec.is_read, rec.sig, rec.op))
        return out

    # -- running a job -------------------------------------------------------------
    def _install(self, job: _Job) -> None:
        self._reset_state()
        g = self.g
        g.events = list(job.events)
        g.rf = list(job.rf)
        g.co = {loc: list(ws) for loc, ws in job.co.items()}
        g.init = dict(job.init)
        g.crit = dict(job.crit)
        for e in sorted(g.events, key=lambda e: (e.tid, e.idx)):  # po, not stamps
            if e.tid >= 0:
                order = g.threads[e.tid]
                if e.idx != len(order):  # (a dropped RMW write left a gap)
                    e = g.events[e.eid] = Event(e.eid, e.tid, len(order), e.kind, e.loc, e.value,
                                                e.tag, e.atomic, e.rmw, e.addr, e.data, e.ctrl,
                                                e.op, e.src, e.label)  # fmt: skip
                order.append(e.eid)
            if e.loc is not None and (e.kind in _WRITE_KINDS or e.kind in READ_KINDS):
                index = self.writes if e.kind in _WRITE_KINDS else self.reads
                index.setdefault(e.loc, []).append(e.eid)
        for r, w in enumerate(g.rf):
            if w >= 0:
                g.readers.setdefault(w, []).append(r)
        self.maximal = list(job.maximal)
        self.revisitable = list(job.revisitable)
        self.op_of = [(-1, -1)] * len(g.events)
        for t, ops in zip(self.threads, job.ops, strict=True):
            t.ops = [
                _OpRec(o.answer, list(o.eids), 0, o.tested, o.is_read, o.sig, o.op) for o in ops
            ]
            for i, o in enumerate(t.ops):
                for x in o.eids:
                    self.op_of[x] = (t.tid, i)

    def _run_job(self, job: _Job) -> None:
        self._install(job)
        self._trace = ("job", job.read, job.write, job.in_place)
        g = self.g
        r, w = job.read, job.write
        if r < 0:  # a steal: the victim's thread waits at its lock
            if self._check(FULL_CHECK) and self._hb_ok():
                self._visit()
            return
        t = self.threads[g.events[r].tid]
        opi = self.op_of[r][1]
        rec = t.ops[opi]
        if job.in_place:
            self._run_in_place(t, rec, r, w)
            return
        del t.ops[opi:]
        t.sync()
        op = t.pending
        if isinstance(op, TryLock) and g.events[w].kind is EvKind.UL:
            self._trylock_after(t, op, r, w)
            return
        if isinstance(op, Rmw):
            self._rmw_write(t, op, r, w, r, self._after_finish)
            return
        if isinstance(op, Load):
            self._record_op(t, g.events[w].value, [r], True, r)
        else:  # an LF, RL or RU: its answer does not change
            self._record_op(t, rec.answer, [r], False, r)
        if self._check(("rf", r, w) if g.events[r].kind is EvKind.R else FULL_CHECK):
            self._after_finish()

    def _trylock_after(self, t: _Thread, op: TryLock, lf: int, ul: int) -> None:
        """A failed trylock revisited by unlock ``ul``: it succeeds right after
        that critical section (its LF event, the last one added, goes)."""
        g = self.g
        assert lf == len(g.events) - 1 and g.threads[t.tid][-1] == lf
        loc = g.events[lf].loc
        assert loc is not None
        g.pop()
        self.maximal.pop()
        self.revisitable.pop()
        self.op_of.pop()
        self.reads[loc].remove(lf)
        if not self._lock_free(loc):
            return
        self._acquire(t, loc, self._deps(t, op.loc), 1, lf, steal=False)

    def _run_in_place(self, t: _Thread, rec: _OpRec, r: int, w: int) -> None:
        """Load buffering: ``r`` reads ``w`` and ``t`` re-runs through its later
        events.  An RMW's write (dropped when the job was made) comes back if the
        RMW now succeeds, right after its read in program order."""
        g = self.g
        value = g.events[w].value
        op = rec.op
        ok = isinstance(op, Rmw) and _rmw_succeeds(op, value)
        rec.answer = _rmw_answer(op, value, ok)[0] if isinstance(op, Rmw) else value
        patched: list[int] = []
        if ok:
            assert isinstance(op, Rmw)
            self._insert_rmw_write(t, rec, op, r, w)
        else:
            got = self._repatch(t, w)
            if got is None:
                self.lb_holes += 1  # the thread did something else: not established
                return
            patched = got
        try:
            for tt in self.threads:
                tt.sync()
        except ReplayMismatch:
            self.stats.infeasible += 1
            return
        if not self._check(("rf", r, w)):
            return
        for x in patched:  # a write with a new value may be read by earlier reads
            self._revisits(x)
        if ok:
            wr = rec.eids[1]
            self._revisits(wr)
            if not self._check(("co", wr, -1)):
                return
        # Earlier reads that must read ``w`` too could not be revisited by it while
        # ``r`` did not: they may be now.
        self._revisits(w)
        self._visit()

    def _repatch(self, t: _Thread, w: int) -> list[int] | None:
        """Re-run the threads a revisit changed: ``t``, whose read now has a new
        value, then every thread that reads a write whose value changed, until
        nothing changes (load buffering through events that depend on the read).

        Every re-run must do the same operations at the same places; a write takes
        its new value, a read of a changed write the new value, an RMW reading one
        its new values if it still succeeds (or still fails).  Returns the writes
        whose value changed, or None where that does not hold, or where the change
        reaches ``w`` itself (a value that would justify itself).
        """
        g = self.g
        changed: set[int] = set()
        todo = [t.tid]
        rounds = 0
        while todo:
            rounds += 1
            if rounds > 4 * len(self.threads) + 4:
                return None
            thread = self.threads[todo.pop()]
            got = self._rerun(thread, changed)
            if got is None or w in got:
                return None
            for e in got:
                for x in g.readers.get(e, ()):
                    tid = g.events[x].tid
                    if tid != thread.tid and tid not in todo:
                        todo.append(tid)
        return sorted(changed)

    def _rerun(self, t: _Thread, changed: set[int]) -> set[int] | None:
        """Re-run ``t`` on its events' current values (see :meth:`_repatch`)."""
        g = self.g
        t.tracker, t.gen, t.live = _Tracker(), t.factory(), 0
        new: set[int] = set()

        def renew(e: int, value: Any) -> None:
            if g.events[e].value != value:
                g.events[e] = g.events[e].with_value(value)
                changed.add(e)
                new.add(e)

        try:
            op = t.gen.send(None)
            for i, rec in enumerate(t.ops):
                if rec.sig and rec.sig != _signature(op):
                    return None
                if isinstance(op, Store):
                    renew(rec.eids[0], unwrap(op.value))
                elif isinstance(op, Load) and rec.eids and g.rf[rec.eids[0]] >= 0:
                    e = rec.eids[0]
                    value = g.events[g.rf[e]].value
                    g.events[e] = g.events[e].with_value(value)
                    rec.answer = value
                elif isinstance(op, Rmw) and rec.eids and g.rf[rec.eids[0]] >= 0:
                    e = rec.eids[0]
                    old = g.events[g.rf[e]].value
                    ok = _rmw_succeeds(op, old)
                    if ok != (len(rec.eids) == 2):
                        return None  # it succeeds where it failed, or the other way
                    g.events[e] = g.events[e].with_value(old)
                    rec.answer = _rmw_answer(op, old, ok)[0]
                    if ok:
                        renew(rec.eids[1], _rmw_new_value(op, old))
                elif isinstance(op, Assume) and not unwrap(op.cond):
                    return None
                t.steps += 1
                op = t.gen.send(t._send(i))
                t.live = i + 1
            t._set(op)
        except StopIteration as stop:
            t.live = len(t.ops)
            t.status, t.pending, t.retval = "done", None, stop.value
        except Oops as oops:
            t.live = -1
            t.status, t.pending, t.retval = "done", None, None
            t.oops = f"{type(oops).__name__}: {oops}"
        return new

    def _insert_rmw_write(self, t: _Thread, rec: _OpRec, op: Rmw, r: int, w: int) -> None:
        """Add the write of RMW ``op`` (read ``r``, from ``w``) as a new event placed
        right after ``r`` in program order and right after ``w`` in coherence."""
        g = self.g
        rev = g.events[r]
        loc = rev.loc
        assert loc is not None
        old = g.events[w].value
        data = 0 if op.kind in (RmwKind.XCHG, RmwKind.CMPXCHG) else 1 << r
        wr = len(g.events)
        g.events.append(Event(wr, t.tid, rev.idx + 1, EvKind.W, loc, _rmw_new_value(op, old),
                              op.tag.value, True, r, rev.addr, data, rev.ctrl, rev.op))  # fmt: skip
        g.rf.append(-1)
        self.maximal.append(False)
        self.revisitable.append(True)
        self.op_of.append((t.tid, self.op_of[r][1]))
        order = g.threads[t.tid]
        order.insert(rev.idx + 1, wr)
        for i in range(rev.idx + 2, len(order)):
            ev = g.events[order[i]]
            g.events[ev.eid] = Event(ev.eid, ev.tid, i, ev.kind, ev.loc, ev.value, ev.tag,
                                     ev.atomic, ev.rmw, ev.addr, ev.data, ev.ctrl, ev.op, ev.src,
                                     ev.label)  # fmt: skip
        g.events[r] = _with_rmw(rev, wr)
        rec.eids = [r, wr]
        self.writes.setdefault(loc, []).append(wr)
        co = g.co[loc]
        co.insert(co.index(w) + 1, wr)
