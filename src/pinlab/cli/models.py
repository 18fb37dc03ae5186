"""``pinlab check --cat NEW --against MODEL``: the model diff report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pinlab import interrupt
from pinlab.engine import Limits
from pinlab.litmus.verdict import State

if TYPE_CHECKING:
    from rich.console import Console

    from pinlab.scenarios import Scenario


def _state(s: State) -> str:
    return " ".join(f"{var}={value};" for var, value in s)


def _line(console: Console, text: str) -> None:
    """One line as it is: no markup (``[x]=1``), no folding of a long path."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def model_diff(
    console: Console,
    scenarios: list[Scenario],
    base: str,
    new: str,
    litmus: list[Path],
    limits: Limits,
    engine: str,
    jobs: int,
) -> int:
    """Print every verdict that differs between ``base`` and ``new``, with the
    witness of each new reachable; the exit status: 1 if any differs, else 0."""
    from pinlab.report.modeldiff import litmus_changes, litmus_files, scenario_changes
    from pinlab.report.trace import render_explanation
    from pinlab.scenarios.explain import find_counterexample

    changed = 0
    interrupt.status.progress = f"comparing {len(scenarios)} scenarios under {base} and {new}"
    for a, b in scenario_changes(scenarios, base, new, limits, engine, jobs):
        if a.verdict == b.verdict:
            continue
        changed += 1
        s = b.scenario
        _line(console, f"{s.name} [{s.variant}]: {a.verdict.value} under {base}, "
                       f"{b.verdict.value} under {new}")  # fmt: skip
        if b.verdict.value == "reachable":
            found = find_counterexample(s, Limits(time_limit=limits.time_limit), engine, jobs)
            console.print(render_explanation(found, "text", console.width), crop=False)
    files = litmus_files(litmus)
    differ = 0
    for done, (path, change) in enumerate(
        litmus_changes(files, base, new, limits.time_limit, jobs)
    ):
        interrupt.status.progress = f"after {done} of {len(files)} litmus tests"
        if change is None:
            continue
        differ += 1
        _line(console, f"{path}: {change.before} under {base}, {change.after} under {new}")
        for label, states in ((f"only under {new}", change.gained),
                              (f"only under {base}", change.lost)):  # fmt: skip
            for st in states:
                _line(console, f"    {label}: {_state(st)}")
    _line(console, f"{changed} of {len(scenarios)} scenarios and {differ} of {len(files)} "
                   f"litmus tests change under {new} (against {base})")  # fmt: skip
    return 1 if changed or differ else 0
