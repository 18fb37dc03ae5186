"""A counterexample as a per-CPU trace in kernel terms (``pinlab explain`` / ``replay``).

One column per CPU (thread), one row per step of the interleaving
(:func:`pinlab.scenarios.explain.interleave`).  Each step shows the kernel
function and line that performed it (with the kernel file its model names),
the operation (``READ_ONCE``, ``WRITE_ONCE``, an atomic, a named barrier, a
lock), the location in kernel terms and the value read, or what a write
changed (``old → new``; PTEs and folio flags decoded).  A read that does not
read the latest write before it in the trace -- possible only under a weak
model -- says so.  Below the table: the forbidden outcome, the barriers each
CPU executed on the way, and those the variant removed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from pinlab.engine import Event, EvKind, ExecutionGraph
from pinlab.kernel.barriers import BARRIERS
from pinlab.report.kterms import (
    describe_loc,
    describe_value,
    diff_value,
    fence_name,
    operation,
    source_of,
)
from pinlab.report.why import describe_cycle, weak_cycles
from pinlab.scenarios.explain import Counterexample, Explanation, Step

__all__ = ["render_explanation", "render_trace", "trace_lines"]


@dataclass(frozen=True, slots=True)
class _Row:
    number: int
    tid: int
    where: str  # the whole source: "caller() › function() kernel/file.c  model.py:12"
    function: str  # "function() kernel/file.c"
    context: str  # "in caller()  model.py:12"
    what: str
    value: str


class _Context:
    """What a step's description needs to know about the rest of the execution."""

    def __init__(self, graph: ExecutionGraph, order: tuple[Step, ...]) -> None:
        self.graph = graph
        self.rf = graph.reads_from()
        self.co = graph.lock_co()
        self.step_of = {e: n for n, step in enumerate(order, 1) for e in step}
        self.co_prev: dict[int, int] = {}
        for ws in self.co.values():
            for a, b in itertools.pairwise(ws):
                self.co_prev[b] = a

    def _read_note(self, ev: Event) -> str:
        """Where a read's value comes from, when that is worth a reader's attention."""
        w = self.rf.get(ev.eid, -1)
        if w < 0:
            return ""
        notes = []
        writer = self.graph.events[w]
        if writer.tid >= 0 and writer.tid != ev.tid:
            notes.append(f"from #{self.step_of[w]}")
        here = self.step_of[ev.eid]
        if self.step_of.get(w, 0) > here:
            notes.append("a later step: reordered")
        elif ev.loc is not None:
            ws = self.co[ev.loc]
            newer = [x for x in ws[ws.index(w) + 1 :] if 0 < self.step_of.get(x, 0) < here]
            if newer:
                notes.append(f"stale: #{self.step_of[newer[0]]} wrote a newer value")
        return f"  ({'; '.join(notes)})" if notes else ""

    def value(self, step: tuple[Event, ...]) -> str:
        first, last = step[0], step[-1]
        loc = first.loc
        if first.kind in (EvKind.F, EvKind.SRCU, EvKind.LKR, EvKind.UL):
            return ""
        if first.kind in (EvKind.LF, EvKind.RL, EvKind.RU):
            return "locked" if first.kind is not EvKind.RU else "unlocked"
        if len(step) == 2:  # an RMW: what it read, what it wrote
            return diff_value(loc, first.value, last.value) + self._read_note(first)
        if first.is_read:
            return f"= {describe_value(loc, first.value)}" + self._read_note(first)
        prev = self.co_prev.get(first.eid)
        if prev is None:
            return f":= {describe_value(loc, first.value)}"
        return diff_value(loc, self.graph.events[prev].value, first.value)


def _rows(cex: Counterexample) -> list[_Row]:
    graph = cex.execution.graph
    ctx = _Context(graph, cex.order)
    rows = []
    for n, eids in enumerate(cex.order, 1):
        step = tuple(graph.events[e] for e in eids)
        first = step[0]
        src = source_of(first.src)
        where = str(src) if src is not None else "?"
        function, context = "?", ""
        if src is not None:
            function = f"{src.function}()" + (f" {src.origin}" if src.origin else "")
            model = f"{src.file.removeprefix('kernel/')}:{src.line}" if src.file else ""
            caller = f"in {src.caller}()  " if src.caller else ""
            context = f"{caller}{model}".rstrip()
        what = operation(step)
        if first.loc is not None:
            what += f" {describe_loc(first.loc)}"
        rows.append(_Row(n, first.tid, where, function, context, what, ctx.value(step)))
    return rows


def trace_lines(cex: Counterexample) -> list[str]:
    """The trace as plain lines: ``#n [thread] where: what value`` (for tests and logs)."""
    names = cex.built.program.thread_names
    out = []
    for r in _rows(cex):
        name = names[r.tid] if r.tid < len(names) else f"P{r.tid}"
        out.append(f"#{r.number} [{name}] {r.where}: {r.what} {r.value}".rstrip())
    return out


def _table(cex: Counterexample) -> Table:
    program = cex.built.program
    table = Table(box=box.SIMPLE_HEAD, show_lines=False, pad_edge=False, expand=False)
    table.add_column("#", justify="right", style="dim")
    ntheads = len(program.threads)
    for tid in range(ntheads):
        table.add_column(f"CPU{tid}: {program.thread_name(tid)}", overflow="fold")
    for r in _rows(cex):
        cell = Text()
        cell.append(r.function, style="cyan")
        if r.context:
            cell.append("\n  " + r.context, style="dim")
        cell.append("\n" + r.what, style="bold")
        if r.value:
            cell.append("\n  " + r.value)
        cells: list[RenderableType] = [Text("")] * ntheads
        cells[r.tid] = cell
        table.add_row(str(r.number), *cells)
    return table


def _barriers(cex: Counterexample) -> list[str]:
    graph = cex.execution.graph
    program = cex.built.program
    lines = []
    for tid, eids in enumerate(graph.threads):
        fences = []
        for e in (graph.events[i] for i in eids):
            if e.kind is EvKind.F and e.tag not in ("rcu-lock", "rcu-unlock"):
                fences.append(f"{fence_name(e)} in {source_of(e.src) or '?'}")
            elif e.kind is EvKind.R and e.tag == "mb" and e.rmw >= 0:
                fences.append(f"fully ordered atomic in {source_of(e.src) or '?'}")
        head = f"  CPU{tid} {program.thread_name(tid)}:"
        lines.append(head + ("" if fences else " none"))
        lines.extend(f"    {f}" for f in fences)
    removed = sorted(cex.scenario.era.removed_barriers)
    if removed:
        lines.append("  removed in this variant:")
        for name in removed:
            b = BARRIERS.get(name)
            why = f" ({b.primitive}, pairs with {b.pairs_with})" if b else ""
            lines.append(f"    {name}{why}")
    return lines


def _why(cex: Counterexample) -> list[str]:
    """The cycle that makes the outcome weak (none under sc), in kernel terms."""
    graph = cex.execution.graph
    cycles = weak_cycles(graph)
    if not cycles:
        return []
    step_of = {e: n for n, step in enumerate(cex.order, 1) for e in step}
    program = cex.built.program

    def name(ev: Event) -> str:
        src = source_of(ev.src)
        func = f"{src.function}()" if src is not None else "?"
        access = "writes" if ev.is_write else "reads"
        return (
            f"#{step_of[ev.eid]} CPU{ev.tid} {program.thread_name(ev.tid)}: {func} {access} "
            f"{describe_loc(ev.loc or '')} ({describe_value(ev.loc, ev.value)})"
        )

    def fence(ev: Event) -> str:
        src = source_of(ev.src)
        what = fence_name(ev) if ev.kind is EvKind.F else "fully ordered atomic"
        return f"{what} in {src.function if src else '?'}() (#{step_of[ev.eid]})"

    lines: list[str] = []
    for n, cycle in enumerate(cycles):
        if n:
            lines.append("and also:")
        lines.extend(describe_cycle(graph, cycle, name, fence))
    return lines


def _header(cex: Counterexample) -> Text:
    s = cex.scenario
    text = Text()
    text.append(f"{s.name} [{s.variant}] under {s.model}", style="bold")
    text.append(f": {s.title}\n")
    text.append(f"source: {s.source}\n", style="dim")
    return text


def render_trace(cex: Counterexample, summary: str = "") -> RenderableType:
    """The trace of ``cex``: header, per-CPU table, forbidden outcome, barriers."""
    tail = Text()
    tail.append("forbidden outcome: ", style="bold red")
    tail.append(cex.outcome + "\n")
    for line in cex.built.describe_state(cex.execution.final):
        tail.append(f"  {line}\n")
    why = _why(cex)
    if why:
        tail.append("why the model allows it: ", style="bold")
        tail.append("\n".join(why) + "\n")
    tail.append("barriers on the path:\n", style="bold")
    tail.append("\n".join(_barriers(cex)))
    counts = Text(
        f"{cex.events} events, {cex.switches} context switches"
        + (f"\n{summary}" if summary else "")
    )
    return Group(_header(cex), counts, _table(cex), tail)


def render_explanation(ex: Explanation) -> RenderableType:
    """``pinlab explain``'s output: the shortest counterexample, or why there is none."""
    s = ex.scenario
    stats = ex.exploration.stats
    if ex.best is not None:
        cut = "" if ex.exploration.outcome == "complete" else (
            f"; exploration stopped ({ex.exploration.outcome}): a shorter one may exist"
        )  # fmt: skip
        summary = (
            f"the shortest of {ex.reachable} executions with the forbidden outcome "
            f"({stats.consistent} consistent executions, {ex.seconds:.2f} s){cut}"
        )
        return render_trace(ex.best, summary)
    head = Text()
    head.append(f"{s.name} [{s.variant}] under {s.model}", style="bold")
    if ex.verdict == "never":
        head.append(": never\n")
        head.append(f"No consistent execution shows the forbidden outcome: {s.forbidden}.\n")
    else:
        head.append(f": inconclusive ({ex.exploration.outcome})\n")
        head.append("The exploration stopped before it found a counterexample.\n")
    head.append(f"{stats.consistent} executions explored in {ex.seconds:.2f} s.")
    return head
