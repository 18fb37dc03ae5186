"""What ``pinlab litmus`` prints for one run: herd7's block, a JSON record, or a judgement.

- plain: herd7's output (:mod:`pinlab.report.herd7`);
- ``--judge``: the Observation line, as judgelitmus.sh echoes it, and the
  judge's remark (`` !!! `` for a failure, `` --- `` for a forgiven mismatch
  or a test without ``Result:`` line), then ``N passed, M failed`` at the end;
- ``--json``: one JSON record per line (:mod:`pinlab.report.litmus_json`),
  with the judgement when ``--judge`` is given, and the tally as a last record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pinlab.litmus.judge import Judgement
from pinlab.litmus.run import LitmusRun
from pinlab.report import herd7, litmus_json

__all__ = ["Tally", "render_run"]


def _judged(run: LitmusRun, j: Judgement | None) -> str:
    v, lines = run.verdict, []
    if v is not None and v.observation is not None:
        lines.append(f"Observation {v.name} {v.observation} {v.positive} {v.negative}")
    if j is None:
        lines.append(f" --- No Result: line, not judged {run.path}")
    elif not j.passed:
        lines.append(f" !!! {j.message} {run.path}")
    elif j.message:
        lines.append(f" --- {j.message} {run.path}")
    return "\n".join(lines) + "\n"


def _record(run: LitmusRun, j: Judgement | None, judge: bool) -> str:
    judged: dict[str, Any] | None = None
    if judge:
        judged = {
            "expected": run.expected.line if run.expected is not None else None,
            "passed": j.passed if j is not None else None,
            "message": j.message if j is not None else "no Result: line",
        }
    rec: dict[str, Any]
    if run.verdict is None:
        rec = {"path": run.path, "model": run.model, "error": str(run.error)}
        if judged is not None:
            rec["judge"] = judged
    else:
        rec = litmus_json.record(run.verdict, path=run.path, model=run.model, judged=judged)
    return json.dumps(rec) + "\n"


def render_run(run: LitmusRun, *, judge: bool = False, as_json: bool = False) -> str:
    """The standard output of ``pinlab litmus`` for ``run``."""
    j = run.judgement() if judge else None
    if as_json:
        return _record(run, j, judge)
    if judge:
        return _judged(run, j)
    return herd7.render(run.verdict) if run.verdict is not None else ""


@dataclass(slots=True)
class Tally:
    """The ``--judge`` count: tests without ``Result:`` line are not counted."""

    passed: int = 0
    failed: int = 0

    def add(self, run: LitmusRun) -> None:
        j = run.judgement()
        if j is not None:
            self.passed += j.passed
            self.failed += not j.passed

    def render(self, *, as_json: bool = False) -> str:
        if as_json:
            return json.dumps({"passed": self.passed, "failed": self.failed}) + "\n"
        return f"{self.passed} passed, {self.failed} failed\n"
