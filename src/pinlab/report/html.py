"""A counterexample as one self-contained HTML page (``--html`` of explain, replay, check).

The page holds everything itself -- its style in a ``<style>`` element, its
drawing as inline SVG, no script, no link to anything outside it -- so that it
can be mailed or attached to a bug report and opened anywhere.  Every piece of
text from the model goes through :func:`html.escape`.

A counterexample's section has:

- the per-CPU trace, a table with one column per CPU and one row per step, built
  from the rows of the text trace (:mod:`pinlab.report.trace`): the kernel
  function and file, the model's line, the operation and the value;
- the execution graph, drawn by :mod:`pinlab.report.svg` (po, rf, co, fr);
- the memory after each step: one column per location that some step writes
  (a folio's ``_refcount`` and ``flags``, a PTE, ``mm->has_pinned``, ...), the
  value each holds after the step, the changed one marked.  Under ``sc`` that
  is the memory of the run the trace shows; under ``lkmm`` it is, for each
  location, the newest write in coherence order among the steps so far (each
  step links to its row of the trace);
- the forbidden outcome, the final state as the scenario describes it
  (``Built.describe_state``, where it does), why the model allows it, and the
  barriers on the path.

``pinlab check --html`` adds the verdict table, each reachable row linking to
the section of its counterexample further down the same page.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Final

from pinlab.engine import Loc, ReplayError
from pinlab.report.dot import step_numbers
from pinlab.report.kterms import describe_loc, describe_value
from pinlab.report.svg import render_svg
from pinlab.report.trace import _barriers, _rows, _why
from pinlab.scenarios import ScenarioResult, Verdict
from pinlab.scenarios.explain import Counterexample, Explanation, NotForbidden, replay_execution
from pinlab.scenarios.files import ScenarioFileError

__all__ = [
    "MAX_COUNTEREXAMPLES",
    "check_counterexamples",
    "check_page",
    "counterexample_section",
    "explanation_page",
    "state_after_steps",
    "trace_page",
]

MAX_COUNTEREXAMPLES: Final = 40
"""``check --html`` draws at most this many counterexamples."""

_STYLE: Final = """
body { font-family: sans-serif; margin: 1.5em; color: #111; }
h1 { font-size: 1.4em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; text-align: left; }
th { background: #eee; }
table.trace td, table.state td { font-family: monospace; font-size: 12px; }
table.trace td.step, table.state td.step { color: #666; text-align: right; }
.func { color: #006b80; } .ctx { color: #777; } .what { font-weight: bold; }
td.changed { background: #fff3b0; font-weight: bold; }
td.same { color: #999; }
tr.differs td { background: #ffe0e0; }
.outcome { color: #b00000; font-weight: bold; }
div.graph { overflow: auto; border: 1px solid #ddd; max-height: 80vh; }
div.wide { overflow: auto; }
pre { background: #f6f6f6; padding: 0.5em; overflow: auto; }
.note { color: #555; }
"""


def _page(title: str, body: Iterable[str]) -> str:
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en">',
                '<head><meta charset="utf-8">',
                f"<title>{escape(title)}</title>",
                f"<style>{_STYLE}</style>",
                "</head>",
                "<body>",
                *body,
                "</body>",
                "</html>",
            ]
        )
        + "\n"
    )


def _trace_table(cex: Counterexample, anchor: str) -> str:
    """The per-CPU trace: one column per CPU, a row per step."""
    program = cex.built.program
    ncpus = len(program.threads)
    heads = "".join(f"<th>CPU{t}: {escape(program.thread_name(t))}</th>" for t in range(ncpus))
    out = ['<table class="trace">', f"<thead><tr><th>#</th>{heads}</tr></thead>", "<tbody>"]
    for r in _rows(cex):
        cell = f'<div class="func">{escape(r.function)}</div>'
        if r.context:
            cell += f'<div class="ctx">{escape(r.context)}</div>'
        cell += f'<div class="what">{escape(r.what)}</div>'
        if r.value:
            cell += f'<div class="value">{escape(r.value)}</div>'
        cells = ["<td></td>"] * ncpus
        cells[r.tid] = f"<td>{cell}</td>"
        out.append(f'<tr id="{escape(anchor)}-step{r.number}"><td class="step">{r.number}</td>'
                   + "".join(cells) + "</tr>")  # fmt: skip
    out.append("</tbody></table>")
    return "\n".join(out)


def state_after_steps(cex: Counterexample) -> tuple[list[Loc], list[list[tuple[str, bool]]]]:
    """The locations some step writes (in the order first written), and for the
    initial state and after each step the value of each, decoded, with
    whether that step changed it (see the module doc for ``lkmm``)."""
    graph = cex.execution.graph
    co = graph.lock_co()
    pos = {w: i for ws in co.values() for i, w in enumerate(ws)}
    locs: list[Loc] = []
    for eids in cex.order:
        for e in (graph.events[i] for i in eids):
            if e.is_write and e.loc is not None and e.loc not in locs:
                locs.append(e.loc)
    latest = {loc: co[loc][0] for loc in locs}  # the initial write
    rows = [[(describe_value(loc, graph.events[latest[loc]].value), False) for loc in locs]]
    for eids in cex.order:
        changed = set()
        for e in (graph.events[i] for i in eids):
            if e.is_write and e.loc in latest and pos[e.eid] > pos[latest[e.loc]]:
                latest[e.loc] = e.eid
                changed.add(e.loc)
        rows.append([
            (describe_value(loc, graph.events[latest[loc]].value), loc in changed) for loc in locs
        ])  # fmt: skip
    return locs, rows


def _state_table(cex: Counterexample, anchor: str) -> str:
    """The memory after each step, each step linked to its row of the trace."""
    locs, rows = state_after_steps(cex)
    if not locs:
        return '<p class="note">No step writes memory.</p>'
    heads = "".join(f"<th>{escape(describe_loc(loc))}</th>" for loc in locs)
    out = ['<div class="wide"><table class="state">',
           f"<thead><tr><th>after</th>{heads}</tr></thead>", "<tbody>"]  # fmt: skip
    for n, row in enumerate(rows):
        cells = "".join(
            f'<td class="{"changed" if changed else "same"}">{escape(value)}</td>'
            for value, changed in row
        )
        step = f'<a href="#{escape(anchor)}-step{n}">#{n}</a>' if n else "initial"
        out.append(f'<tr><td class="step">{step}</td>{cells}</tr>')
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _lines(lines: Sequence[str]) -> str:
    return f"<pre>{escape(chr(10).join(lines))}</pre>" if lines else ""


def counterexample_section(cex: Counterexample, summary: str = "", anchor: str = "cex") -> str:
    """One counterexample: heading, trace, graph, memory after each step, outcome."""
    s = cex.scenario
    program = cex.built.program
    svg = render_svg(
        cex.execution.graph,
        lambda tid: f"CPU{tid}: {program.thread_name(tid)}",
        step_numbers(cex),
        f"{s.key}: {cex.outcome}",
        id_prefix=anchor,
    )
    state = cex.built.describe_state(cex.execution.final)
    model_note = (" Under lkmm a value is the newest write in coherence order among the steps "
                  "so far." if s.model == "lkmm" else "")  # fmt: skip
    parts = [
        f'<section id="{escape(anchor)}" class="counterexample">',
        f"<h2>{escape(f'{s.name} [{s.variant}] under {s.model}')}: {escape(s.title)}</h2>",
        f"<p>source: {escape(s.source)}</p>",
        f"<p>{cex.events} events, {cex.switches} context switches"
        + (f"; {escape(summary)}" if summary else "") + "</p>",
        f'<p><span class="outcome">forbidden outcome:</span> {escape(cex.outcome)}</p>',
        "<h3>Trace</h3>",
        _trace_table(cex, anchor),
        "<h3>Execution graph</h3>",
        f'<div class="graph">{svg}</div>',
        "<h3>Memory after each step</h3>",
        f'<p class="note">The value of each location some step writes; the changed ones '
        f"marked.{model_note}</p>",
        _state_table(cex, anchor),
        *(["<h3>Final state</h3>", _lines(state)] if state else []),
    ]  # fmt: skip
    why = _why(cex)
    if why:
        parts += ["<h3>Why the model allows it</h3>", _lines(why)]
    parts += ["<h3>Barriers on the path</h3>", _lines(_barriers(cex)), "</section>"]
    return "\n".join(parts)


def trace_page(cex: Counterexample, summary: str = "") -> str:
    """``pinlab replay --html``: the page of one counterexample."""
    return _page(f"pinlab: {cex.scenario.key}", [counterexample_section(cex, summary)])


def explanation_page(ex: Explanation) -> str:
    """``pinlab explain --html``: the shortest counterexample, or why there is none."""
    s = ex.scenario
    stats = ex.exploration.stats
    if ex.best is not None:
        summary = (
            f"the shortest of {ex.reachable} executions with the forbidden outcome "
            f"({stats.consistent} consistent executions, {ex.seconds:.2f} s)"
        )
        return trace_page(ex.best, summary)
    head = f"{s.name} [{s.variant}] under {s.model}"
    if ex.verdict is Verdict.NEVER:
        words = f"never: no consistent execution shows the forbidden outcome: {s.forbidden}."
    else:
        words = f"inconclusive ({ex.exploration.outcome}): it stopped before it found one."
    body = [f"<h1>{escape(head)}</h1>", f"<p>{escape(words)}</p>",
            f"<p>{stats.consistent} executions explored in {ex.seconds:.2f} s.</p>"]  # fmt: skip
    return _page(f"pinlab: {s.key}", body)


# -------------------------------------------------------------- pinlab check


def _verdict_row(n: int, r: ScenarioResult, linked: bool) -> str:
    s = r.scenario
    era = s.variant if s.variant == s.era.name else f"{s.era.name}/{s.variant}"
    verdict = escape(r.verdict.value)
    if linked:
        verdict = f'<a href="#cex-{n}">{verdict}</a>'
    expected = "(what-if)" if s.what_if else s.expected.value
    mark = "" if r.as_expected else " ✗"
    time = "cached" if r.cached else f"{r.seconds:.2f} s"
    cells = [escape(s.name), escape(era), escape(s.model), verdict,
             escape(expected + mark), str(r.executions), time]  # fmt: skip
    cls = "" if r.as_expected else ' class="differs"'
    return f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _note_section(n: int, key: str, why: str) -> str:
    return (f'<section id="cex-{n}"><h2>{escape(key)}</h2>'
            f'<p class="note">no counterexample shown: {escape(why)}</p></section>')  # fmt: skip


def check_page(
    results: Sequence[ScenarioResult],
    found: Mapping[str, Counterexample | str],
    summary: str = "",
) -> str:
    """``pinlab check --html``: the verdict table, each reachable row linked to
    its counterexample below (``found``: by scenario key, a counterexample or
    why there is none)."""
    heads = "".join(f"<th>{h}</th>" for h in
                    ("scenario", "era/variant", "model", "verdict", "expected", "executions",
                     "time"))  # fmt: skip
    body = ["<h1>pinlab check</h1>", f"<p>{escape(summary)}</p>" if summary else "",
            f'<table class="verdicts"><thead><tr>{heads}</tr></thead><tbody>']  # fmt: skip
    sections: list[str] = []
    for n, r in enumerate(results, 1):
        reachable = r.verdict is Verdict.REACHABLE
        body.append(_verdict_row(n, r, reachable))
        if not reachable:
            continue
        got = found.get(r.scenario.key, "not replayed")
        if isinstance(got, str):
            sections.append(_note_section(n, r.scenario.key, got))
        else:
            note = ("the forbidden execution the check found, replayed from its choices "
                    "(pinlab explain gives the shortest)")  # fmt: skip
            sections.append(counterexample_section(got, note, f"cex-{n}"))
    body.append("</tbody></table>")
    return _page("pinlab check", itertools.chain(body, sections))


def check_counterexamples(
    results: Sequence[ScenarioResult], limit: int = MAX_COUNTEREXAMPLES
) -> dict[str, Counterexample | str]:
    """For each reachable result, its counterexample: the forbidden execution
    the check found, replayed from its choices (one execution each, so the
    page costs little more than the check); at most ``limit`` of them, the
    others (and those that cannot be replayed) with a note saying why."""
    out: dict[str, Counterexample | str] = {}
    for r in results:
        if r.verdict is not Verdict.REACHABLE:
            continue
        key = r.scenario.key
        if len(out) >= limit:
            out[key] = f"the page shows the first {limit}; pinlab explain shows this one"
        elif r.witness is None:
            out[key] = "no forbidden execution was recorded; pinlab explain finds one"
        else:
            try:
                out[key] = replay_execution(r.scenario, r.witness)
            except (ReplayError, NotForbidden, ScenarioFileError) as err:
                out[key] = f"its execution does not replay ({err}); pinlab explain finds one"
    return out
