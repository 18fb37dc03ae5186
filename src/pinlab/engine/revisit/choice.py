"""Which reads a new write may revisit, and the graph each revisit keeps."""

from __future__ import annotations

from pinlab.engine.graph import EvKind
from pinlab.engine.ops import (
    Rmw,
)
from pinlab.engine.program import Loc
from pinlab.engine.relation import bits
from pinlab.engine.revisit.state import GraphState
from pinlab.engine.revisit.threads import (
    _WRITE_KINDS,
)


class Revisits(GraphState):
    """Choosing the revisits of a new write (TruSt's maximality, HMC's load buffering)."""

    def _prefix(self, w: int) -> set[int]:
        """The porf-prefix of ``w``: the events it is reachable from by po and rf."""
        g = self.g
        lock_rf = self._lock_rf()
        out: set[int] = set()
        stack = [w]
        events, threads, rf = g.events, g.threads, g.rf
        while stack:
            e = stack.pop()
            if e in out:
                continue
            out.add(e)
            ev = events[e]
            if ev.tid >= 0 and ev.idx > 0:
                stack.append(threads[ev.tid][ev.idx - 1])
            src = rf[e] if rf[e] >= 0 else lock_rf.get(e, -1)
            if src >= 0:
                stack.append(src)
        return out

    def _closed(self, keep: set[int]) -> set[int]:
        """``keep`` with the porf-prefix of each of its events (a read kept keeps
        its write, even one added after the cut)."""
        g = self.g
        lock_rf = self._lock_rf()
        out = set(keep)
        stack = list(keep)
        events, threads, rf = g.events, g.threads, g.rf
        while stack:
            e = stack.pop()
            ev = events[e]
            nxt = []
            if ev.tid >= 0 and ev.idx > 0:
                nxt.append(threads[ev.tid][ev.idx - 1])
            src = rf[e] if rf[e] >= 0 else lock_rf.get(e, -1)
            if src >= 0:
                nxt.append(src)
            for x in nxt:
                if x not in out:
                    out.add(x)
                    stack.append(x)
        return out

    def _value_cycle(self, r: int, w: int) -> str:
        """Whether ``w``'s value comes from ``r`` (through data and address
        dependencies, RMWs and reads-from): ``r`` reading ``w`` then closes a
        cycle of values.  herd7 solves such a cycle only by unification: a cycle
        of copies keeps its values undetermined (``S1``), which this procedure
        cannot produce (``"copies"``: the exploration is then not established);
        a cycle through an RMW's arithmetic (``old | bit``) it drops as
        unsolvable, and so does this one (``"computed"``).  ``""``: no cycle.
        A store's data dependency may be a computation too, but counts as a
        copy, which errs on the side of an incomplete run.
        """
        g = self.g
        lock_rf = self._lock_rf()
        events, rf = g.events, g.rf
        found = ""
        for copies_only in (True, False):
            seen: set[int] = set()
            stack = [w]
            while stack:
                e = stack.pop()
                if e == r:
                    return "copies" if copies_only else "computed"
                if e in seen:
                    continue
                seen.add(e)
                ev = events[e]
                src = rf[e] if rf[e] >= 0 else lock_rf.get(e, -1)
                if src >= 0:
                    stack.append(src)
                deps = ev.addr | ev.data
                if copies_only and ev.rmw >= 0 and ev.kind is EvKind.W:
                    deps &= ~(1 << ev.rmw)  # old <op> arg: computed, not copied
                stack.extend(bits(deps))
        return found

    def _dep_prefix(self, w: int) -> set[int]:
        """What ``w`` depends on: the events it is reachable from by rf, rmw and the
        address, data and control dependencies (HMC's prefix for models with load
        buffering).  A revisit leaves these alone from then on."""
        g = self.g
        lock_rf = self._lock_rf()
        out: set[int] = set()
        stack = [w]
        events, rf = g.events, g.rf
        while stack:
            e = stack.pop()
            if e in out:
                continue
            out.add(e)
            ev = events[e]
            src = rf[e] if rf[e] >= 0 else lock_rf.get(e, -1)
            if src >= 0:
                stack.append(src)
            if ev.rmw >= 0 and ev.kind is EvKind.W:
                stack.append(ev.rmw)
            stack.extend(bits(ev.addr | ev.data | ev.ctrl))
        return out

    def _revisable(self, r: int, w: int) -> bool:
        """Whether read ``r`` may read from new write ``w`` at all."""
        g = self.g
        re, we = g.events[r], g.events[w]
        if re.tid == we.tid or r == we.rmw or g.rf[r] == w:
            return False
        if re.kind is EvKind.R:
            return we.kind in (EvKind.W, EvKind.INIT)
        if re.kind is EvKind.RL:
            return we.kind is EvKind.LKW
        if re.kind is EvKind.LF:  # a failed trylock: it fails on w, or succeeds after w
            return we.kind is EvKind.LKW or (we.kind is EvKind.UL and self._lock_free_at(w))
        if re.kind is EvKind.RU:
            return we.kind is EvKind.UL
        return False  # an LKR: see _steal

    def _revisits(self, w: int) -> None:
        """Queue the backward revisits of earlier reads of ``w``'s location by ``w``."""
        loc = self.g.events[w].loc
        assert loc is not None
        candidates = [r for r in self.reads.get(loc, ()) if self._revisable(r, w)]
        if not candidates:
            return
        g = self.g
        prefix = self._prefix(w)
        for r in candidates:
            in_place = r in prefix
            if in_place:
                if g.events[r].kind is EvKind.LF and g.events[w].kind is EvKind.UL:
                    continue  # (a trylock that would succeed: not in place)
                why = self._independent_after(r, w, prefix)
                if why == "patch":
                    cycle = self._value_cycle(r, w)
                    if cycle == "computed":
                        continue  # unsolvable for herd7: no execution
                    if cycle == "copies":
                        why = "hole"
                if why == "hole":
                    self.lb_holes += 1  # (the result is then not established)
                if why not in ("ok", "patch"):
                    continue
                keep = self._closed(set(range(r)) | prefix)
            else:
                keep = self._closed(set(range(r)) | prefix) | {r}
                if any(e in keep for e in g.threads[g.events[r].tid][g.events[r].idx + 1 :]):
                    continue  # (a kept read needs what follows r: not this revisit)
            if not in_place and not self._maximal_extension(r, w, keep):
                continue
            self.jobs.append(
                self._make_job(keep, self._dep_prefix(w), read=r, write=w, in_place=in_place)
            )

    def _independent_after(self, r: int, w: int, prefix: set[int]) -> str:
        """Whether the events of ``r``'s thread kept past ``r`` (those in ``w``'s
        prefix) can stay as they are when ``r`` reads ``w`` and its thread is re-run:
        ``"ok"`` when none of them depends on ``r`` (address, data or control
        dependency, through local values, the thread's own writes, or a truth test
        on it; an RMW only when nobody read its write).

        Otherwise the answer says whether an execution is lost by not revisiting.
        ``"ordered"``: the last kept event (where the path to ``w`` leaves the
        thread) is a marked write that depends on ``r``, so ``r`` is before it in
        happens-before; a consistent execution with ``r`` reading ``w`` then needs
        a po step outside happens-before elsewhere on the cycle, and that step's
        read is revisited in its own right.  ``"hole"``: the path leaves through an
        event that does not depend on ``r`` (or a plain one) after one that does;
        this procedure cannot re-run a thread through such a gap.
        """
        g = self.g
        ev = g.events[r]
        t = self.threads[ev.tid]
        r_op = self.op_of[r][1]
        if ev.rmw >= 0 and any(x in prefix for x in g.readers.get(ev.rmw, ())):
            return "ordered"  # someone read its write: the RMW's halves are atomic
        dep_ops = 1 << r_op
        later = [e for e in g.threads[ev.tid][ev.idx + 1 :] if e in prefix]
        if not later:
            return "ok"
        last_op = self.op_of[later[-1]][1]
        joins = not self.program.ctrl_persists  # (branches end: litmus ifs)
        dependent = False  # (a kept event may change when the thread is re-run)
        ordered = 1 << r  # events after r in LKMM's dependency sense (ppo's dep, ctrl)
        for i in range(r_op + 1, last_op + 1):
            rec = t.ops[i]
            if rec.tested & dep_ops:
                dependent = True  # a branch on r: what follows may move or go
            for e in rec.eids:
                if e == ev.rmw:
                    continue  # the RMW's own write: made again from the new value
                x = g.events[e]
                if joins and rec.tested & dep_ops and not x.ctrl >> r & 1:
                    # The branch on r has joined (a litmus if), yet what its arms
                    # computed may flow on in plain Python values: a value that
                    # justifies itself through control (herd7 solves for those).
                    return "hole"
                src = g.rf[e]
                if (x.addr | x.data | x.ctrl) & ordered or (src >= 0 and ordered >> src & 1):
                    ordered |= 1 << e
                    dependent = True
        if not dependent:
            return "ok"
        exit_ = g.events[later[-1]]
        marked_write = exit_.kind in (EvKind.W, EvKind.UL, EvKind.LKW) and exit_.tag != "plain"
        if marked_write and ordered >> exit_.eid & 1:
            return "ordered"
        if isinstance(t.ops[r_op].op, Rmw):
            return "hole"
        return "patch"

    def _maximal_extension(
        self, r: int, w: int, keep: set[int], steal: bool = False, in_place: bool = False
    ) -> bool:
        """TruSt's condition for ``w`` to revisit ``r``, keeping ``keep``."""
        g = self.g
        events = g.events
        wev = events[w]
        loc = wev.loc
        assert loc is not None
        if not steal and wev.rmw < 0 and wev.kind is EvKind.W:
            co = g.co[loc]
            i = co.index(w)
            if i + 1 < len(co) and co[i + 1] not in keep:
                return False
        lock_co: dict[Loc, list[int]] = {}
        lock_rf: dict[int, int] | None = None
        for e in range(len(events)):
            if e in keep and e != r:
                continue
            ev = events[e]
            if ev.kind is EvKind.INIT:
                continue
            if not self.revisitable[e] or not (self.maximal[e] or (in_place and e == r)):
                return False
            if ev.loc is None:
                continue
            if ev.kind in _WRITE_KINDS:
                base = e
            else:
                base = g.rf[e]
                if base < 0 and ev.kind is EvKind.LKR:
                    if lock_rf is None:
                        lock_rf = self._lock_rf()
                    base = lock_rf.get(e, -1)
            if base < 0:
                continue
            order = lock_co.get(ev.loc)
            if order is None:
                order = lock_co[ev.loc] = self._lock_co(ev.loc) if ev.loc in g.co else []
            if base not in order:
                continue
            for x in order[order.index(base) + 1 :]:
                if x != w and x in keep:
                    return False
        return True
