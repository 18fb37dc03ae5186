"""Execution graphs: events, program order, reads-from, coherence, dependencies.

An event is one memory action of one thread (or an initial write).  An
execution graph holds the events, each thread's events in program order, the
reads-from map ``rf`` (read -> write), the coherence order ``co`` of each
location (a list of writes, the initial write first) and, through the events
themselves, the ``rmw`` pairs and the addr/data/ctrl dependencies.

Locks follow the kernel's ``tools/memory-model/lock.cat``.  A ``spin_lock()``
is a lock-read (LKR) and lock-write (LKW) pair; ``spin_unlock()`` an unlock
(UL); a failed ``spin_trylock()`` a lock-fail read (LF); ``spin_is_locked()`` a
read-locked (RL) or read-unlocked (RU) event.  The explorer orders the LKW
events (with the ordinary writes) in ``co``; :meth:`ExecutionGraph.lock_co`
then merges each UL right after the LKW of its critical section, and
:meth:`ExecutionGraph.lock_rf` makes each LKR read from the initial write or
unlock immediately before its LKW, exactly as lock.cat forms them.  The
reads-from of LF, RL and RU events are chosen by the explorer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pinlab.engine.program import Loc

__all__ = ["READ_KINDS", "WRITE_KINDS", "EvKind", "Event", "ExecutionGraph"]


class EvKind(enum.IntEnum):
    INIT = 0  # initial write (IW)
    R = 1
    W = 2
    F = 3  # fence
    LKR = 4
    LKW = 5
    UL = 6
    LF = 7
    RL = 8
    RU = 9
    SRCU = 10  # synchronize_srcu() on its srcu_struct location


READ_KINDS: Final = frozenset({EvKind.R, EvKind.LKR, EvKind.LF, EvKind.RL, EvKind.RU})
WRITE_KINDS: Final = frozenset({EvKind.INIT, EvKind.W, EvKind.LKW, EvKind.UL})


@dataclass(frozen=True, slots=True)
class Event:
    """One event.  ``addr``, ``data`` and ``ctrl`` are bitmasks of read eids."""

    eid: int
    tid: int  # -1 for an initial write
    idx: int  # position among the thread's events (program order)
    kind: EvKind
    loc: Loc | None
    value: Any = None  # value written, or read (known once the execution is complete)
    tag: str | None = None  # Tag / FenceTag value (``once``, ``mb``, ...)
    atomic: bool = False  # part of an atomic RMW instruction (also a failed one)
    rmw: int = -1  # eid of the other half of a successful RMW pair (or lock pair)
    addr: int = 0
    data: int = 0
    ctrl: int = 0
    op: int = 0  # index of the thread operation that produced the event
    # The yielding call stack outside the engine, outermost first: (function, line).
    src: tuple[tuple[str, int], ...] | None = None
    label: str = ""  # a fence's name in the code that yields it

    def with_value(self, v: Any) -> Event:
        """This event carrying value ``v`` (``dataclasses.replace``, without its cost)."""
        return Event(
            self.eid, self.tid, self.idx, self.kind, self.loc, v, self.tag, self.atomic,
            self.rmw, self.addr, self.data, self.ctrl, self.op, self.src, self.label,
        )  # fmt: skip

    @property
    def is_read(self) -> bool:
        return self.kind in READ_KINDS

    @property
    def is_write(self) -> bool:
        return self.kind in WRITE_KINDS

    def describe(self) -> str:
        where = f" {self.loc}" if self.loc is not None else ""
        tag = f"[{self.tag}]" if self.tag else ""
        val = "" if self.value is None else f"={self.value}"
        return f"{self.kind.name}{tag}{where}{val}"


@dataclass(slots=True)
class ExecutionGraph:
    """A (possibly partial) execution.  ``rf[e] == -1``: read ``e`` reads from no write yet."""

    events: list[Event] = field(default_factory=list)
    threads: list[list[int]] = field(default_factory=list)
    rf: list[int] = field(default_factory=list)
    co: dict[Loc, list[int]] = field(default_factory=dict)
    init: dict[Loc, int] = field(default_factory=dict)
    complete: bool = False
    readers: dict[int, list[int]] = field(default_factory=dict)  # rf inverse: write -> reads
    crit: dict[int, int] = field(default_factory=dict)  # lock.cat's critical: LKW -> UL

    # -- construction --------------------------------------------------------
    def add(self, ev: Event) -> None:
        assert ev.eid == len(self.events)
        self.events.append(ev)
        self.rf.append(-1)
        if ev.tid >= 0:
            self.threads[ev.tid].append(ev.eid)

    def pop(self) -> Event:
        ev = self.events.pop()
        self.rf.pop()
        if ev.tid >= 0:
            popped = self.threads[ev.tid].pop()
            assert popped == ev.eid
        return ev

    def replace_event(self, ev: Event) -> None:
        self.events[ev.eid] = ev

    def with_values(self, values: Sequence[Any]) -> ExecutionGraph:
        """A copy whose events carry ``values`` (the solved value of each event)."""
        events = [
            e if e.value is v else e.with_value(v) for e, v in zip(self.events, values, strict=True)
        ]
        return ExecutionGraph(
            events=events,
            threads=[list(t) for t in self.threads],
            rf=list(self.rf),
            co={loc: list(ws) for loc, ws in self.co.items()},
            init=dict(self.init),
            complete=self.complete,
            readers={w: list(rs) for w, rs in self.readers.items()},
            crit=dict(self.crit),
        )

    # -- queries ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.events)

    def key(self) -> tuple[Any, ...]:
        """The execution up to the numbering of its events: per thread, each
        event's kind, location, value and source (by thread and index), and each
        location's coherence order likewise.  Two graphs of one execution have
        the same key; keys are ordered, so that of two executions the one with
        the smaller key can be kept whatever the order they were met in."""
        events = self.events

        def name(e: int) -> str:
            ev = events[e]
            return f"{ev.tid}:{ev.idx}" if ev.tid >= 0 else f"init:{ev.loc}"

        rf = self.rf
        threads = tuple(
            tuple(
                (
                    int(events[e].kind),
                    str(events[e].loc),
                    repr(events[e].value),
                    name(rf[e]) if rf[e] >= 0 else "",
                )
                for e in eids
            )
            for eids in self.threads
        )
        co = tuple(sorted((str(loc), tuple(name(w) for w in ws)) for loc, ws in self.co.items()))
        return (threads, co)

    def writes_to(self, loc: Loc) -> Iterator[Event]:
        for e in self.events:
            if e.loc == loc and e.kind in WRITE_KINDS:
                yield e

    def critical(self) -> dict[int, int]:
        """lock.cat's ``critical``: each LKW -> the UL that ends its critical section.

        Kept up to date by whoever adds UL events (the explorer).
        """
        return self.crit

    def co_floor(self, w: int) -> int:
        """The first coherence position (insertion index into ``co[loc]``) that new
        write ``w`` may take without breaking coherence with its own thread:
        after every earlier write of its thread to the location (coWW), and
        after the write each earlier read of its thread to it read (coRW).
        Every model here has these (sc, and the LKMM's ``coherence``)."""
        ev = self.events[w]
        co = self.co.get(ev.loc) if ev.loc is not None else None
        if not co or ev.tid < 0:
            return 1
        floor = 1
        pos = {x: i for i, x in enumerate(co)}
        for x in self.threads[ev.tid][: ev.idx]:
            e = self.events[x]
            if e.loc != ev.loc:
                continue
            src = x if x in pos else self.rf[x] if x < len(self.rf) else -1
            if src in pos:
                floor = max(floor, pos[src] + 1)
        return floor

    def lock_co(self) -> dict[Loc, list[int]]:
        """The coherence order with each matched UL placed right after its LKW."""
        crit = self.critical()
        if not crit:
            return self.co
        out: dict[Loc, list[int]] = {}
        for loc, ws in self.co.items():
            merged: list[int] = []
            for w in ws:
                merged.append(w)
                ul = crit.get(w, -1)
                if ul >= 0:
                    merged.append(ul)
            out[loc] = merged
        return out

    def lock_rf(self, co: dict[Loc, list[int]]) -> dict[int, int]:
        """Each LKR -> the IW or UL immediately co-before its LKW (lock.cat)."""
        out: dict[int, int] = {}
        events = self.events
        for ws in co.values():
            for i in range(1, len(ws)):
                lkw = events[ws[i]]
                if lkw.kind is not EvKind.LKW:
                    continue
                prev = events[ws[i - 1]]
                if prev.kind in (EvKind.INIT, EvKind.UL):
                    out[lkw.rmw] = prev.eid
        return out

    def reads_from(self, co: dict[Loc, list[int]] | None = None) -> dict[int, int]:
        """Every read's write, lock reads included (lock.cat's rf of LKR events)."""
        rf = {e: w for e, w in enumerate(self.rf) if w >= 0}
        rf.update(self.lock_rf(self.lock_co() if co is None else co))
        return rf

    def communications(self, *, transitive: bool = False) -> Iterator[tuple[str, int, int]]:
        """The ``rf``, ``co`` and ``fr`` edges as ``(relation, source, target)``.

        Lock events are included as lock.cat forms them.  By default ``co``
        and ``fr`` are immediate (each write to the next, each read to the
        first write after the one it read): with program order and ``rf``
        they have the cycles of the whole relations, at a fraction of the
        edges.  With ``transitive`` every pair is given.  A read is never
        ``fr``-before the write of its own RMW (that pair is ``rmw``).
        """
        co = self.lock_co()
        position: dict[int, int] = {}
        for ws in co.values():
            for i, w in enumerate(ws):
                position[w] = i
                for later in ws[i + 1 :] if transitive else ws[i + 1 : i + 2]:
                    yield "co", w, later
        events = self.events
        for r, w in self.reads_from(co).items():
            yield "rf", w, r
            i = position.get(w, -1)
            if i < 0:
                continue
            own = events[r].rmw
            for later in co[events[r].loc][i + 1 :]:  # type: ignore[index]
                if later != own:
                    yield "fr", r, later
                    if not transitive:
                        break
