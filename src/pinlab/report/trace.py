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

Two layouts of the same text.  The *table* (a column per CPU) is for a
terminal wide enough for it.  The *text* layout is for a mail: one step
after the other, ``#12 CPU1 pin_user_pages_fast: gup_fast_pte_range()
mm/gup.c``, the caller and the model's line, then the operation and its
value, indented below; a blank line where the trace switches CPUs; every
line wrapped at spaces to a width (80 unless told), nothing cut.  A folio's
flags read ``PG_locked | PG_lru`` in both, so that they wrap between flags.
:func:`explanation_record` is the same counterexample as one JSON object
(``pinlab explain --json``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

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
from pinlab.report.why import Edge, cycle_record, describe_cycle, weak_cycles
from pinlab.report.wrap import lines_text, wrap
from pinlab.scenarios.explain import Counterexample, Explanation, Step

__all__ = [
    "Layout",
    "explanation_record",
    "render_explanation",
    "render_trace",
    "trace_lines",
]

Layout = Literal["table", "text"]
_FLAG_BAR = re.compile(r"(?<=\w)\|(?=\w)")


def _spaced(value: str) -> str:
    """A folio's flags as C writes them, ``PG_locked | PG_lru``: wrappable between flags."""
    return _FLAG_BAR.sub(" | ", value)


@dataclass(frozen=True, slots=True)
class _Row:
    number: int
    tid: int
    where: str  # the whole source: "caller() › function() kernel/file.c  model.py:12"
    function: str  # "function() kernel/file.c"
    context: str  # "in caller()  model.py:12"
    what: str
    value: str
    step: tuple[Event, ...] = ()
    note: str = ""  # where a read's value comes from, when it matters: "from #7"


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
        return "; ".join(notes)

    def parts(self, step: tuple[Event, ...]) -> tuple[str, str]:
        """What the step read or changed, and the note on where a read's value comes from."""
        first, last = step[0], step[-1]
        loc = first.loc
        if first.kind in (EvKind.F, EvKind.SRCU, EvKind.LKR, EvKind.UL):
            return "", ""
        if first.kind in (EvKind.LF, EvKind.RL, EvKind.RU):
            return ("locked" if first.kind is not EvKind.RU else "unlocked"), ""
        if len(step) == 2:  # an RMW: what it read, what it wrote
            return _spaced(diff_value(loc, first.value, last.value)), self._read_note(first)
        if first.is_read:
            return f"= {_spaced(describe_value(loc, first.value))}", self._read_note(first)
        prev = self.co_prev.get(first.eid)
        if prev is None:
            return f":= {_spaced(describe_value(loc, first.value))}", ""
        return _spaced(diff_value(loc, self.graph.events[prev].value, first.value)), ""


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
        value, note = ctx.parts(step)
        full = value + (f"  ({note})" if note else "")
        rows.append(_Row(n, first.tid, where, function, context, what, full, step, note))
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


def _cycles(cex: Counterexample) -> tuple[list[list[Edge]], dict[int, int]]:
    graph = cex.execution.graph
    step_of = {e: n for n, step in enumerate(cex.order, 1) for e in step}
    return [list(c) for c in weak_cycles(graph)], step_of


def _fence(step_of: dict[int, int]) -> Callable[[Event], str]:
    def fence(ev: Event) -> str:
        src = source_of(ev.src)
        what = fence_name(ev) if ev.kind is EvKind.F else "fully ordered atomic"
        return f"{what} in {src.function if src else '?'}() (#{step_of[ev.eid]})"

    return fence


def _why(cex: Counterexample) -> list[str]:
    """The cycle that makes the outcome weak (none under sc), in kernel terms."""
    graph = cex.execution.graph
    cycles, step_of = _cycles(cex)
    if not cycles:
        return []
    program = cex.built.program

    def name(ev: Event) -> str:
        src = source_of(ev.src)
        func = f"{src.function}()" if src is not None else "?"
        access = "writes" if ev.is_write else "reads"
        return (
            f"#{step_of[ev.eid]} CPU{ev.tid} {program.thread_name(ev.tid)}: {func} {access} "
            f"{describe_loc(ev.loc or '')} ({_spaced(describe_value(ev.loc, ev.value))})"
        )

    lines: list[str] = []
    for n, cycle in enumerate(cycles):
        if n:
            lines.append("and also:")
        lines.extend(describe_cycle(graph, cycle, name, _fence(step_of)))
    return lines


def _header(cex: Counterexample) -> Text:
    s = cex.scenario
    text = Text()
    text.append(f"{s.name} [{s.variant}] under {s.model}", style="bold")
    text.append(f": {s.title}\n")
    text.append(f"source: {s.source}\n", style="dim")
    return text


def _tail(cex: Counterexample) -> list[Text]:
    """Below the trace: the forbidden outcome, why the model allows it, the barriers."""
    head = Text("forbidden outcome: ", style="bold red")
    head.append(_spaced(cex.outcome))
    lines = [head]
    lines += [Text(f"  {_spaced(line)}") for line in cex.built.describe_state(cex.execution.final)]
    why = _why(cex)
    if why:
        first = Text("why the model allows it: ", style="bold")
        first.append(why[0])
        lines += [first, *(Text(line) for line in why[1:])]
    lines.append(Text("barriers on the path:", style="bold"))
    lines += [Text(line) for line in _barriers(cex)]
    return lines


def _counts(cex: Counterexample, summary: str) -> list[str]:
    return [f"{cex.events} events, {cex.switches} context switches"] + (
        [summary] if summary else []
    )


def _steps_text(cex: Counterexample) -> list[tuple[Text, int]]:
    """The text layout's trace, each line with the hanging indent its
    continuation gets: a step after the other, a blank line at each switch."""
    program = cex.built.program
    lines = [(Text(""), 4)]
    lines += [
        (Text(f"CPU{tid}: {program.thread_name(tid)}"), 4) for tid in range(len(program.threads))
    ]
    previous = -1
    for r in _rows(cex):
        if r.tid != previous:
            lines.append((Text(""), 4))
        previous = r.tid
        head = Text(f"#{r.number} CPU{r.tid} {program.thread_name(r.tid)}: ")
        head.append(r.function, style="cyan")
        lines.append((head, 8))
        if r.context:
            lines.append((Text(f"    {r.context}", style="dim"), 4))
        what = Text(f"    {r.what}", style="bold")
        if r.value:
            what.append(" " if r.value.startswith(("=", ":=")) else ": ")
            what.append(r.value, style="not bold")
        lines.append((what, 4))
    return lines


def render_trace(
    cex: Counterexample,
    summary: str = "",
    layout: Layout = "table",
    width: int | None = None,
) -> RenderableType:
    """The trace of ``cex``: header, the steps (a table of CPUs, or one after the
    other), forbidden outcome, barriers.  With ``width``, every line of the
    text layout is wrapped to it at spaces."""
    if layout == "text":
        lines = [(line, 4) for line in _header(cex).split("\n")[:2]]
        lines += [(Text(line), 4) for line in ["", *_counts(cex, summary)]]
        lines += _steps_text(cex)
        lines += [(line, 4) for line in [Text(""), *_tail(cex)]]
        if width is None:
            return lines_text(line for line, _ in lines)
        return lines_text(piece for line, hang in lines for piece in wrap(line, width, hang))
    tail = Text("\n").join(_tail(cex))
    counts = Text("\n".join(_counts(cex, summary)))
    return Group(_header(cex), counts, _table(cex), tail)


def _summary(ex: Explanation) -> str:
    stats = ex.exploration.stats
    cut = "" if ex.exploration.outcome == "complete" else (
        f"; exploration stopped ({ex.exploration.outcome}): a shorter one may exist"
    )  # fmt: skip
    return (
        f"the shortest of {ex.reachable} executions with the forbidden outcome "
        f"({stats.consistent} consistent executions, {ex.seconds:.2f} s){cut}"
    )


def render_explanation(
    ex: Explanation, layout: Layout = "table", width: int | None = None
) -> RenderableType:
    """``pinlab explain``'s output: the shortest counterexample, or why there is none."""
    s = ex.scenario
    stats = ex.exploration.stats
    if ex.best is not None:
        return render_trace(ex.best, _summary(ex), layout, width)
    head = Text()
    head.append(f"{s.name} [{s.variant}] under {s.model}", style="bold")
    if ex.verdict == "never":
        head.append(": never\n")
        head.append(f"No consistent execution shows the forbidden outcome: {s.forbidden}.\n")
    else:
        head.append(f": inconclusive ({ex.exploration.outcome})\n")
        head.append("The exploration stopped before it found a counterexample.\n")
    head.append(f"{stats.consistent} executions explored in {ex.seconds:.2f} s.")
    if width is None:
        return head
    return lines_text([piece for line in head.split("\n") for piece in wrap(line, width)])


def _event_record(cex: Counterexample, r: _Row) -> dict[str, Any]:
    first = r.step[0]
    src = source_of(first.src)
    op = operation(r.step)
    label = first.label if first.kind is EvKind.F and first.label else None
    if label is not None and " [" in op:
        op = op[: op.index(" [")]
    value = r.value.removesuffix(f"  ({r.note})") if r.note else r.value
    return {
        "index": r.number,
        "cpu": r.tid,
        "thread": cex.built.program.thread_name(r.tid),
        "function": src.function if src is not None else None,
        "source": src.origin if src is not None else None,
        "caller": src.caller if src is not None else None,
        "model_source": (
            f"{src.file.removeprefix('kernel/')}:{src.line}"
            if src is not None and src.file
            else None
        ),
        "operation": op,
        "location": describe_loc(first.loc) if first.loc is not None else None,
        "value": value or None,
        "note": r.note or None,
        "barrier": label,
    }


def explanation_record(ex: Explanation) -> dict[str, Any]:
    """``pinlab explain --json``: the verdict and, when there is one, the shortest
    counterexample as records (docs/cli.md names the fields)."""
    s = ex.scenario
    record: dict[str, Any] = {
        "scenario": s.name,
        "variant": s.variant,
        "era": s.era.name,
        "model": s.model,
        "title": s.title,
        "verdict": ex.verdict.value,
        "exploration": str(ex.exploration.outcome),
        "executions": ex.exploration.stats.consistent,
        "witnesses": ex.reachable,
        "seconds": round(ex.seconds, 3),
        "outcome": None,
        "final_state": [],
        "context_switches": None,
        "events": [],
        "why": [],
        "removed_barriers": sorted(s.era.removed_barriers),
    }
    cex = ex.best
    if cex is None:
        return record
    graph = cex.execution.graph
    cycles, step_of = _cycles(cex)
    record |= {
        "outcome": cex.outcome,
        "final_state": cex.built.describe_state(cex.execution.final),
        "context_switches": cex.switches,
        "events": [_event_record(cex, r) for r in _rows(cex)],
        "why": [
            cycle_record(graph, c, lambda ev: step_of[ev.eid], _fence(step_of)) for c in cycles
        ],
    }
    return record
