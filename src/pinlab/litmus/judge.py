"""Judge a verdict against the test's own ``Result:`` line, as the kernel's judgelitmus.sh does.

The kernel's litmus tests state their expected outcome in their header
comment: `` * Result: Never`` (or ``(* Result: Sometimes *)``).  The rules of
``tools/memory-model/scripts/judgelitmus.sh``:

- The expectation is the third word of the first line starting with `` *
  Result: `` or ``(* Result: ``; a ``DATARACE`` later on that line predicts
  a data race.
- A predicted data race must be flagged (``Flag data-race``), and a flagged
  one must have been predicted.
- ``DEADLOCK`` means that no execution survives: ``Observation ... Never 0 0``.
  Conversely, ``Never 0 0`` for any other expectation is an unexpected deadlock.
- ``Never``, ``Sometimes``, ``Always`` must be the observation; ``Maybe``
  always passes.  When the model flags a data race, a mismatch is forgiven.

A test without a ``Result:`` line is not judged.

A verdict of ``--speedcheck true`` or ``fast`` counted only the executions
that settle the condition, so it cannot tell a deadlock from a condition
nothing satisfies, nor show that a predicted data race is absent: those
judgements fail, saying why, rather than pass on what was not examined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from pinlab.litmus.verdict import Verdict

__all__ = ["Expectation", "Judgement", "expectation", "judge"]

_RESULT: Final = re.compile(r"^[( ]\* Result: .*$", re.M)


@dataclass(frozen=True, slots=True)
class Expectation:
    outcome: str  # Never | Sometimes | Always | DEADLOCK | Maybe | (anything else fails)
    datarace: bool
    line: str


@dataclass(frozen=True, slots=True)
class Judgement:
    passed: bool
    message: str  # judgelitmus.sh's wording, or "" for a plain pass


def expectation(source: str) -> Expectation | None:
    """The ``Result:`` expectation of the test whose text is ``source``, if it has one."""
    m = _RESULT.search(source)
    if m is None:
        return None
    line = m.group()
    words = line.split()
    outcome = words[2] if len(words) > 2 else ""
    return Expectation(outcome, " DATARACE" in line[line.index("Result: ") :], line.strip())


def judge(expected: Expectation, v: Verdict | None) -> Judgement:
    """Judge ``v`` (None: the run failed) against ``expected``."""
    modeled = v is not None and "data-race" in v.flags
    partial = v is not None and v.speedcheck != "false"
    if expected.datarace and not modeled:
        if partial:
            return Judgement(False, "Predicted data race not checked under --speedcheck")
        return Judgement(False, "Predicted data race not modeled")
    if modeled and not expected.datarace:
        return Judgement(False, "Unexpected data race modeled")
    if v is None or v.observation is None:
        return Judgement(False, "Verification error")
    deadlock = v.observation == "Never" and v.positive == 0 and v.negative == 0 and not partial
    outcome = expected.outcome
    if outcome == "DEADLOCK" and partial:
        return Judgement(False, "DEADLOCK cannot be told under --speedcheck")
    if outcome == "DEADLOCK":
        if deadlock:
            return Judgement(True, "")
        return Judgement(False, f"Unexpected non-{outcome} verification")
    if deadlock:
        return Judgement(False, f"Unexpected non-{outcome} deadlock")
    if v.observation == outcome or outcome == "Maybe":
        return Judgement(True, "")
    if modeled:
        return Judgement(True, f"Forgiven non-{outcome} verification")
    return Judgement(False, f"Unexpected non-{outcome} verification")
