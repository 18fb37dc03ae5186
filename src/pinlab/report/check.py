"""``pinlab check`` output: a table of verdicts, or one JSON record per scenario.

The table has one row per scenario variant: scenario, era / variant, model,
verdict, expected, executions, time.  A verdict that differs from its
expectation is marked; an inconclusive one says which bound stopped it.

JSON: one object per line per scenario and era, with exactly the fields
``name``, ``era``, ``model``, ``verdict`` (``never``, ``reachable`` or
``inconclusive``), ``expected``, ``executions``, ``seconds`` and ``variant``.
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

__all__ = [
    "bound_hit",
    "differences",
    "json_record",
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
        "expected": s.expected.value,
        "executions": result.executions,
        "seconds": round(result.seconds, 3),
    }


def render_json(results: Sequence[ScenarioResult]) -> str:
    return "".join(json.dumps(json_record(r)) + "\n" for r in results)


def _verdict_cell(result: ScenarioResult) -> Text:
    verdict = result.verdict.value
    if result.verdict is Verdict.INCONCLUSIVE:
        return Text(f"{verdict} ({bound_hit(result)})", style="yellow")
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
        table.add_row(
            s.name, era, s.model, _verdict_cell(r), s.expected.value + mark,
            str(r.executions), f"{r.seconds:.2f} s",
        )  # fmt: skip
    return Group(table, Text(summary(results)))


def summary(results: Sequence[ScenarioResult]) -> str:
    """One line: how many ran, and which differ from their expectation."""
    wrong = [r for r in results if not r.as_expected]
    total = sum(r.seconds for r in results)
    head = f"{len(results)} scenario{'s' if len(results) != 1 else ''} in {total:.1f} s: "
    if not wrong:
        return head + "all as expected"
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
