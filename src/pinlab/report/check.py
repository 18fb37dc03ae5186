"""``pinlab check`` output: a table of verdicts, or one JSON record per scenario.

The table has one row per scenario variant: scenario, era / variant, model,
verdict, expected, executions, time.  A verdict that differs from its
expectation is marked; an inconclusive one says which bound stopped it.

JSON: one object per line per scenario and era, with exactly the fields
``name``, ``era``, ``model``, ``verdict`` (``never``, ``reachable`` or
``inconclusive``), ``expected``, ``executions``, ``seconds``, ``variant`` and
``cached`` (true: the verdict came from the results cache, and ``seconds`` is
what it took when it ran).

``pinlab check --each-barrier``: a table per scenario of the named barriers
its paths run and the verdict without each (:func:`render_barrier_table`);
``pinlab barriers``: the list of them (:func:`render_barriers`).

Given a ``width``, each of them fits it without cutting a word
(:mod:`pinlab.report.wrap`): a table that rich cannot print at that width
without folding or shortening a name becomes one block per row, the row's
identity (``scenario [variant] under model``) on its first line and the rest
indented below; other lines wrap at spaces.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Group, JustifyMethod, RenderableType
from rich.table import Table
from rich.text import Text

from pinlab.engine import Outcome
from pinlab.report.wrap import fits, lines_text, wrap
from pinlab.scenarios import Scenario, ScenarioResult, Verdict
from pinlab.scenarios.barriers import BarrierUse

__all__ = [
    "bound_hit",
    "differences",
    "json_record",
    "render_barrier_table",
    "render_barriers",
    "render_json",
    "render_list",
    "render_table",
    "summary",
]

_BOUNDS = {
    Outcome.TIME: "the time limit",
    Outcome.EXECUTIONS: "the execution limit",
    Outcome.BOUND: "a loop bound",
}


def bound_hit(result: ScenarioResult) -> str | None:
    """Which bound made ``result`` inconclusive, in words (None if it is not)."""
    if result.verdict is not Verdict.INCONCLUSIVE:
        return None
    return _BOUNDS.get(result.exploration.outcome, str(result.exploration.outcome))


def json_record(result: ScenarioResult) -> dict[str, Any]:
    s = result.scenario
    return {
        "name": s.name,
        "era": s.era.name,
        "variant": s.variant,
        "model": s.model,
        "verdict": result.verdict.value,
        "expected": None if s.what_if else s.expected.value,
        "executions": result.executions,
        "seconds": round(result.seconds, 3),
        "cached": result.cached,
    }


def render_json(results: Sequence[ScenarioResult]) -> str:
    return "".join(json.dumps(json_record(r)) + "\n" for r in results)


def _verdict_cell(result: ScenarioResult) -> Text:
    verdict = result.verdict.value
    if result.verdict is Verdict.INCONCLUSIVE:
        return Text(f"{verdict} ({bound_hit(result)})", style="yellow")
    if result.scenario.what_if:
        return Text(verdict, style="bold")
    return Text(verdict, style="green" if result.as_expected else "bold red")


_IDENTITY = ("scenario", "era/variant")  # never wrapped: the other columns give way first


def _table(*columns: str, right: tuple[str, ...] = ()) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in columns:
        justify: JustifyMethod = "right" if column in right else "left"
        table.add_column(column, justify=justify, no_wrap=column in _IDENTITY)
    return table


def _era(s: Scenario) -> str:
    """The era/variant column: the variant, with its era when it is not named after it."""
    return s.variant if s.variant == s.era.name else f"{s.era.name}/{s.variant}"


def _identity(s: Scenario, era: str) -> Text:
    head = Text()
    head.append(s.name, style="bold")
    head.append(f" [{era}] under {s.model}")
    return head


def _blocks(blocks: Sequence[tuple[Text, Sequence[Text | str]]], width: int) -> RenderableType:
    """One block per row: its identity, then the rest indented by 4, all wrapped."""
    lines: list[Text] = []
    for head, rest in blocks:
        lines += wrap(head, width, hang=2)
        for line in rest:
            body = Text("    ")
            body.append_text(Text(line) if isinstance(line, str) else line)
            lines += wrap(body, width)
    return lines_text(lines)


def render_list(scenarios: Sequence[Scenario], width: int | None = None) -> RenderableType:
    """``pinlab check --list``: what would run, with the spec 6 patterns each one covers."""
    table = _table("scenario", "era/variant", "model", "expected", "patterns", "notes")
    for s in scenarios:
        variant = s.variant if s.variant == s.era.name else f"{s.variant} ({s.era.name})"
        table.add_row(s.name, variant, s.model, s.expected.value, " ".join(s.patterns), s.notes)
    if width is None or fits(table, width):
        return table
    blocks = []
    for s in scenarios:
        rest = [f"expected {s.expected.value}; patterns {' '.join(s.patterns) or 'none'}"]
        blocks.append((_identity(s, _era(s)), rest + ([s.notes] if s.notes else [])))
    return _blocks(blocks, width)


def render_table(
    results: Sequence[ScenarioResult], width: int | None = None, wall: float | None = None
) -> RenderableType:
    """The verdicts, a row each, and the :func:`summary` line."""
    table = _table("scenario", "era/variant", "model", "verdict", "expected", "executions",
                   "time", right=("executions", "time"))  # fmt: skip
    for r in results:
        s = r.scenario
        mark = "" if r.as_expected else "  ✗"
        time = "cached" if r.cached else f"{r.seconds:.2f} s"
        expected = "(what-if)" if s.what_if else s.expected.value
        table.add_row(
            s.name, _era(s), s.model, _verdict_cell(r), expected + mark,
            str(r.executions), time,
        )  # fmt: skip
    if width is None:
        return Group(table, Text(summary(results, wall)))
    last = lines_text([summary(results, wall)], width)
    if fits(table, width):
        return Group(table, last)
    blocks = []
    for r in results:
        s = r.scenario
        line = _verdict_cell(r)
        line.append(" (what-if)" if s.what_if else f", expected {s.expected.value}")
        line.append("" if r.as_expected else " ✗")
        runs = f"{r.executions} execution{'' if r.executions == 1 else 's'}"
        line.append(f": {runs}, " + ("cached" if r.cached else f"{r.seconds:.2f} s"))
        blocks.append((_identity(s, _era(s)), [line]))
    return Group(_blocks(blocks, width), Text(""), last)


def summary(results: Sequence[ScenarioResult], wall: float | None = None) -> str:
    """One line: how many ran (and how many came from the cache), in how long,
    and which differ from their expectation.  ``wall``: the run's own time, when
    worker processes ran scenarios side by side (then less than their sum)."""
    wrong = [r for r in results if not r.as_expected]
    ran = [r for r in results if not r.cached]
    total = sum(r.seconds for r in ran)
    head = f"{len(results)} scenario{'s' if len(results) != 1 else ''} in {total:.1f} s"
    if wall is not None:
        head = f"{len(results)} scenario{'s' if len(results) != 1 else ''} in {wall:.1f} s"
        head += f" ({total:.1f} s of exploration in all)"
    cached = len(results) - len(ran)
    if cached:
        head += f" ({cached} from the cache: pinlab check --no-cache runs them)"
    head += ": "
    asked = sum(1 for r in results if r.scenario.what_if)
    if asked:
        head += f"{asked} what-if{'s' if asked != 1 else ''} (no expectation), "
    if not wrong:
        return head + ("the rest as expected" if asked else "all as expected")
    verb = "differs" if len(wrong) == 1 else "differ"
    keys = ", ".join(r.scenario.key for r in wrong)
    return head + f"{len(wrong)} {verb} from their expectation: {keys}"


def differences(results: Sequence[ScenarioResult]) -> list[str]:
    """One line per result that differs from its expectation, saying how."""
    out = []
    for r in results:
        if r.as_expected:
            continue
        s = r.scenario
        if r.verdict is Verdict.INCONCLUSIVE:
            out.append(
                f"{s.key}: inconclusive: stopped by {bound_hit(r)} after {r.executions} "
                f"executions in {r.seconds:.1f} s (expected {s.expected.value})"
            )
        else:
            out.append(f"{s.key}: {r.verdict.value}, expected {s.expected.value}")
    return out


def render_barriers(
    scenario: Scenario, uses: Sequence[BarrierUse], width: int | None = None
) -> RenderableType:
    """``pinlab barriers NAME``: the named barriers on the scenario's paths, a
    block each: name and primitive; where it runs; what it pairs with; why."""
    era = scenario.era.name
    lines = [f"{scenario.name}[{scenario.variant}] ({era}): the named barriers on its paths"]
    if not uses:
        lines.append("  (none)")
    for u in uses:
        b = u.barrier
        state = ""
        if b.what_if:
            state = "  (what-if, added)" if u.added else "  (what-if: add it with --with)"
        elif u.removed:
            state = "  (removed in this variant)"
        lines.append(f"  {b.name}: {b.primitive}{state}")
        lines.append(f"      in {u.function}() at {u.where}, on {', '.join(u.cpus)}")
        lines.append(
            f"      pairs with {b.pairs_with}" + (f"; commit {b.commit}" if b.commit else "")
        )
        lines.append(f"      {b.why}")
    if width is None:
        return Text("\n".join(lines))
    return lines_text(lines, width)


def render_barrier_table(
    scenario: Scenario,
    rows: Sequence[tuple[BarrierUse, ScenarioResult]],
    width: int | None = None,
) -> RenderableType:
    """``--each-barrier``: the verdict of ``scenario`` without each barrier."""
    title = f"{scenario.key}: without each barrier (expected {scenario.expected.value} with all)"
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
                  title=Text(title), title_justify="left")  # fmt: skip
    table.add_column("barrier removed", no_wrap=True)
    table.add_column("primitive")
    table.add_column("verdict")
    table.add_column("executions", justify="right")
    table.add_column("time", justify="right")
    for use, r in rows:
        needed = r.verdict is Verdict.REACHABLE
        verdict = Text(r.verdict.value, style="bold" if needed else "")
        time = "cached" if r.cached else f"{r.seconds:.2f} s"
        table.add_row(use.barrier.name, use.barrier.primitive, verdict, str(r.executions), time)
    if width is None or fits(table, width):
        return table
    blocks = []
    for use, r in rows:
        runs = f"{r.executions} execution{'' if r.executions == 1 else 's'}"
        time = "cached" if r.cached else f"{r.seconds:.2f} s"
        head = Text(f"without {use.barrier.name} ({use.barrier.primitive})")
        verdict = Text(r.verdict.value, style="bold" if r.verdict is Verdict.REACHABLE else "")
        blocks.append((head, [verdict + f": {runs}, {time}"]))
    return Group(Text(""), lines_text([title], width), _blocks(blocks, width))
