"""Litmus-test text for :mod:`pinlab.scenarios.export`: C names, statements, the header.

Each event of a kept path becomes one statement of herd7's C dialect (a
marked access, a barrier, a lock, an atomic exchange for a read-modify-write
as the path ran it); the test's header comment says where it comes from and
what was kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pinlab.engine import Event, EvKind, ExecutionGraph
from pinlab.report.kterms import describe_loc
from pinlab.scenarios.base import Scenario

__all__ = ["FENCES", "ExportError", "Names", "balanced", "int_value", "statement", "text"]


class ExportError(ValueError):
    """The scenario has no race to export (or its path cannot be followed, or held
    by a litmus test)."""


FENCES = {
    "mb": "smp_mb()",
    "rmb": "smp_rmb()",
    "wmb": "smp_wmb()",
    "before-atomic": "smp_mb__before_atomic()",
    "after-atomic": "smp_mb__after_atomic()",
    "after-spinlock": "smp_mb__after_spinlock()",
    "after-unlock-lock": "smp_mb__after_unlock_lock()",
    "sync-rcu": "synchronize_rcu()",
    "rcu-lock": "rcu_read_lock()",
    "rcu-unlock": "rcu_read_unlock()",
}
_XCHG = {"mb": "xchg", "acquire": "xchg_acquire", "release": "xchg_release"}


class Names:
    """C names for locations and registers."""

    def __init__(self) -> None:
        self.locs: dict[str, str] = {}
        self.regs: dict[int, str] = {}
        self.locks: set[str] = set()  # (spinlock_t, not int)

    def loc(self, ev: Event) -> str:
        key = str(ev.loc)
        if key not in self.locs:
            base = re.sub(r"\W+", "_", key).strip("_") or "x"
            if base[0].isdigit():
                base = "v" + base
            name, n = base, 1
            while name in self.locs.values():
                n += 1
                name = f"{base}_{n}"
            self.locs[key] = name
        return self.locs[key]

    def reg(self, ev: Event, per_thread: dict[int, int]) -> str:
        if ev.eid not in self.regs:
            n = per_thread.get(ev.tid, 0)
            per_thread[ev.tid] = n + 1
            self.regs[ev.eid] = f"r{n}"
        return self.regs[ev.eid]


def int_value(value: Any, ev: Event) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExportError(f"event {ev.eid} has a value litmus tests cannot hold: {value!r}")
    return value


def statement(graph: ExecutionGraph, ev: Event, names: Names, regs: dict[int, int]) -> str:
    """``ev`` as a C statement of herd7's dialect."""
    if ev.kind is EvKind.F:
        return f"{FENCES[str(ev.tag)]};"
    if ev.kind is EvKind.LKW:
        names.locks.add(names.loc(ev))
        return f"spin_lock({names.loc(ev)});"
    if ev.kind is EvKind.UL:
        names.locks.add(names.loc(ev))
        return f"spin_unlock({names.loc(ev)});"
    x = names.loc(ev)
    if ev.kind is EvKind.R and ev.rmw >= 0:  # a successful atomic read-modify-write
        new = int_value(graph.events[ev.rmw].value, graph.events[ev.rmw])
        op = _XCHG.get(str(ev.tag), "xchg_relaxed")
        return f"{names.reg(ev, regs)} = {op}({x}, {new});"
    if ev.kind is EvKind.R:
        r = names.reg(ev, regs)
        if ev.tag == "acquire":
            return f"{r} = smp_load_acquire({x});"
        return f"{r} = READ_ONCE(*{x});"  # (a failed cmpxchg: a marked read, unordered)
    value = int_value(ev.value, ev)
    if ev.tag == "release":
        return f"smp_store_release({x}, {value});"
    return f"WRITE_ONCE(*{x}, {value});"


def balanced(before: list[Event], kept: list[Event], after: list[Event]) -> list[Event]:
    """``kept`` with the locks and RCU sections it is inside of opened before it
    and closed after it, and those it opens closed."""
    held: list[Event] = []  # locks and RCU sections open at the start of kept
    for e in before:
        if e.kind is EvKind.LKW or (e.kind is EvKind.F and e.tag == "rcu-lock"):
            held.append(e)
        elif e.kind is EvKind.UL:
            held = [h for h in held if not (h.kind is EvKind.LKW and h.loc == e.loc)]
        elif e.kind is EvKind.F and e.tag == "rcu-unlock":
            for i in range(len(held) - 1, -1, -1):
                if held[i].kind is EvKind.F:
                    del held[i]
                    break
    opened = list(held)
    for e in kept:
        if e.kind is EvKind.LKW or (e.kind is EvKind.F and e.tag == "rcu-lock"):
            opened.append(e)
        elif e.kind is EvKind.UL or (e.kind is EvKind.F and e.tag == "rcu-unlock"):
            rcu = e.kind is EvKind.F
            for i in range(len(opened) - 1, -1, -1):
                o = opened[i]
                if (rcu and o.kind is EvKind.F) or (
                    not rcu and o.kind is EvKind.LKW and o.loc == e.loc
                ):
                    del opened[i]
                    break
    closing = [
        next(a for a in after if (a.kind is EvKind.UL and a.loc == o.loc) or
             (o.kind is EvKind.F and a.kind is EvKind.F and a.tag == "rcu-unlock"))
        for o in reversed(opened)
    ]  # fmt: skip
    return [*held, *kept, *closing]


def text(
    scenario: Scenario,
    path_from: Scenario,
    kept: Sequence[str],
    names: Names,
    threads: list[tuple[int, list[str]]],
    init: dict[str, int],
    exists: list[str],
) -> str:
    name = re.sub(r"[^\w.+-]+", "-", f"{scenario.name}-{scenario.variant}")
    program = scenario.program().program
    head = [
        f"C {name}",
        "",
        "(*",
        f" * {scenario.title}",
        f" * Exported by pinlab from {scenario.key} ({scenario.source}).",
        f" * Forbidden: {scenario.forbidden}.",
    ]
    if path_from.key != scenario.key:
        head.append(
            f" * The path is the counterexample of {path_from.key}, run on this era's code."
        )
    head += [
        *(f" * {line}" for line in kept),
        " * Locations:",
        *(f" *   {c}: {describe_loc(k)}" for k, c in names.locs.items()),
        f" * Expected under {scenario.model}: {_expected(scenario)}",
        " *)",
        "",
        "{",
        *(f"\t{c}={v};" for c, v in sorted(init.items()) if c not in names.locks),
        "}",
    ]
    body: list[str] = []
    for tid, lines in threads:
        params = ", ".join(
            f"{'spinlock_t' if c in names.locks else 'int'} *{c}"
            for c in sorted(names.locs.values())
            if _uses(lines, c)
        )
        regs = sorted(
            {m for line in lines for m in re.findall(r"\b(r\d+) =", line)}, key=lambda r: int(r[1:])
        )
        body += ["", f"P{tid}({params})", "{", f"\t/* CPU{tid}: {program.thread_name(tid)} */"]
        body += [f"\tint {r};" for r in regs]
        body += [*lines, "}"]
    condition = " /\\ ".join(exists)
    return "\n".join([*head, *body, "", f"exists ({condition})", ""])


def _expected(scenario: Scenario) -> str:
    return "Sometimes" if scenario.expected.value == "reachable" else "Never"


def _uses(lines: list[str], name: str) -> bool:
    return any(re.search(rf"\b{re.escape(name)}\b", line) for line in lines)
