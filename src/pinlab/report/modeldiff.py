"""``pinlab check --cat NEW --against lkmm``: which verdicts a change of model changes.

The same scenarios (those checked under the LKMM) and litmus tests run under
both models; every verdict that differs is listed, and for each scenario that
becomes reachable under the new model, its shortest counterexample (the
witness the new model allows); for a litmus test, the final states only one
of the models allows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pinlab.engine import Limits
from pinlab.litmus.run import LitmusRun, run_file
from pinlab.litmus.verdict import State
from pinlab.scenarios import Scenario, ScenarioResult, run_many

__all__ = ["LitmusChange", "litmus_changes", "litmus_files", "scenario_changes"]


@dataclass(frozen=True, slots=True)
class LitmusChange:
    path: str
    before: str  # Never, Sometimes or Always (or why there is none)
    after: str
    gained: tuple[State, ...]  # final states the new model allows and the other not
    lost: tuple[State, ...]


def scenario_changes(
    scenarios: Sequence[Scenario], base: str, new: str, limits: Limits, engine: str, jobs: int
) -> Iterator[tuple[ScenarioResult, ScenarioResult]]:
    """Each scenario's result under ``base`` and under ``new`` (run side by side)."""
    both = [s.under(base) for s in scenarios] + [s.under(new) for s in scenarios]
    results = list(run_many(both, limits, engine, jobs))
    n = len(scenarios)
    yield from zip(results[:n], results[n:], strict=True)


def litmus_files(paths: Sequence[Path]) -> list[Path]:
    """The litmus tests of ``paths``: files as given, folders searched for ``*.litmus``."""
    out: list[Path] = []
    for p in paths:
        out += sorted(p.rglob("*.litmus")) if p.is_dir() else [p]
    return out


def _observation(run: LitmusRun) -> str:
    if run.error is not None:
        return f"error: {run.error}"
    assert run.verdict is not None
    return run.verdict.observation or f"no verdict ({run.verdict.outcome})"


def litmus_changes(
    files: Sequence[Path], base: str, new: str, time_limit: float | None, jobs: int
) -> Iterator[tuple[Path, LitmusChange | None]]:
    """Each test's change of verdict or of final states (None: the same)."""
    for path in files:
        a = run_file(path, base, time_limit=time_limit, jobs=jobs)
        b = run_file(path, new, time_limit=time_limit, jobs=jobs)
        before, after = _observation(a), _observation(b)
        old = set(a.verdict.states) if a.verdict is not None else set()
        now = set(b.verdict.states) if b.verdict is not None else set()
        if before == after and old == now:
            yield path, None
            continue
        gained = tuple(s for s in (b.verdict.states if b.verdict else ()) if s not in old)
        lost = tuple(s for s in (a.verdict.states if a.verdict else ()) if s not in now)
        yield path, LitmusChange(str(path), before, after, gained, lost)
