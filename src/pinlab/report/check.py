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
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from pinlab.engine import Outcome
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


def render_list(scenarios: Sequence[Scenario]) -> RenderableType:
    """``pinlab check --list``: what would run, with the spec 6 patterns each one covers."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("scenario", "era/variant", "model", "expected", "patterns", "notes"):
        table.add_column(column)
    for s in scenarios:
        variant = s.variant if s.variant == s.era.name else f"{s.variant} ({s.era.name})"
        table.add_row(s.name, variant, s.model, s.expected.value, " ".join(s.patterns), s.notes)
    return table


def render_table(results: Sequence[ScenarioResult]) -> RenderableType:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("scenario")
    table.add_column("era/variant")
    table.add_column("model")
    table.add_column("verdict")
    table.add_column("expected")
    table.add_column("executions", justify="right")
    table.add_column("time", justify="right")
    for r in results:
        s = r.scenario
        era = s.variant if s.variant == s.era.name else f"{s.era.name}/{s.variant}"
        mark = "" if r.as_expected else "  ✗"
        time = "cached" if r.cached else f"{r.seconds:.2f} s"
        expected = "(what-if)" if s.what_if else s.expected.value
        table.add_row(
            s.name, era, s.model, _verdict_cell(r), expected + mark,
            str(r.executions), time,
        )  # fmt: skip
    return Group(table, Text(summary(results)))


def summary(results: Sequence[ScenarioResult]) -> str:
    """One line: how many ran (and how many came from the cache), and which
    differ from their expectation."""
    wrong = [r for r in results if not r.as_expected]
    ran = [r for r in results if not r.cached]
    total = sum(r.seconds for r in ran)
    head = f"{len(results)} scenario{'s' if len(results) != 1 else ''} in {total:.1f} s"
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


def render_barriers(scenario: Scenario, uses: Sequence[BarrierUse]) -> RenderableType:
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
    return Text("\n".join(lines))


def render_barrier_table(
    scenario: Scenario, rows: Sequence[tuple[BarrierUse, ScenarioResult]]
) -> RenderableType:
    """``--each-barrier``: the verdict of ``scenario`` without each barrier."""
    title = f"{scenario.key}: without each barrier (expected {scenario.expected.value} with all)"
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=Text(title), title_justify="left")
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
    return table
