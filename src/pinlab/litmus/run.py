"""Run one litmus file end to end: parse, lower, explore, summarise as herd7 does.

This is the whole of ``pinlab litmus FILE`` except printing: a
:class:`LitmusRun` holds the verdict (or the error that stopped the run at
``file:line:col``) and, when the test has a ``Result:`` line, what it expects.
Whatever the file holds, :func:`run_file` raises nothing: every input the
front end cannot run is a :class:`LitmusError` in the run (the bounds it
keeps to are :mod:`pinlab.litmus.bounds`).  An exception the front end does
not expect (a bug: the engine computing with a pointer as a number, say)
becomes one line too, ``internal error: ...``, so that a user sees what to
report rather than a traceback; the fuzz tests fail on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from pinlab.engine import (
    ENGINES,
    Declined,
    ExplorationResult,
    Limits,
    Model,
    decide,
    explore_factored,
    get_model,
)
from pinlab.litmus.errors import LitmusError
from pinlab.litmus.judge import Expectation, Judgement, expectation, judge
from pinlab.litmus.lower import SPEEDCHECK, Lowered, lower
from pinlab.litmus.observers import observers
from pinlab.litmus.parse import parse_text
from pinlab.litmus.source import read_source
from pinlab.litmus.verdict import Verdict, verdict

__all__ = ["SPEEDCHECK", "LitmusRun", "run_file"]


_TOO_DEEP = (
    "too deeply nested or too long a computation for pinlab (Python's recursion limit); "
    "expected a smaller test"
)


@dataclass(frozen=True, slots=True)
class LitmusRun:
    path: str
    model: str
    verdict: Verdict | None
    error: LitmusError | None
    expected: Expectation | None

    def judgement(self) -> Judgement | None:
        """The ``Result:`` judgement (None when the test has no ``Result:`` line)."""
        return judge(self.expected, self.verdict) if self.expected is not None else None


def _explore_factored(lowered: Lowered, time_limit: float | None) -> ExplorationResult | None:
    """The factored exploration of ``lowered``, or None where it does not apply."""
    observed = observers(lowered.test)
    if observed is None:
        return None
    program = lower(observed.test).program
    try:
        return explore_factored(
            program, observed.sites, lowered.program.init, limits=Limits(time_limit=time_limit)
        )
    except Declined:
        return None


def _check_arguments(model: str | Model, speedcheck: str, engine: str) -> str:
    """The model's name; a ValueError for arguments no file could make right."""
    if speedcheck not in SPEEDCHECK:
        raise ValueError(f"speedcheck must be one of {', '.join(SPEEDCHECK)}, not {speedcheck!r}")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    return get_model(model).name if isinstance(model, str) else model.name


def run_file(
    path: str | Path,
    model: str | Model = "lkmm",
    *,
    time_limit: float | None = None,
    speedcheck: str = "false",
    factor: bool = True,
    engine: str = "explore",
    jobs: int = 1,
) -> LitmusRun:
    """Run the test in ``path`` under ``model``; a bad test gives a run with ``error`` set.

    With ``time_limit`` (seconds) the exploration may stop early, and the
    verdict then says so (no observation).  ``speedcheck`` is one of
    :data:`SPEEDCHECK`, as herd7's option of that name.  ``engine`` picks the
    decision procedure (:func:`pinlab.engine.decide.decide`); the product-form
    count of observer locations is the waiting explorer's (``explore``) only.
    Other explorations are split between ``jobs`` worker processes
    (:mod:`pinlab.parallel`).
    """
    start = time.perf_counter()
    name = _check_arguments(model, speedcheck, engine)
    try:
        text = read_source(path)
    except LitmusError as err:
        return LitmusRun(str(path), name, None, err, None)
    expected = expectation(text)
    try:
        lowered = lower(parse_text(text, str(path)), speedcheck)
        limits = Limits(time_limit=time_limit, stop_at_first=speedcheck == "fast")
        result = None
        if factor and speedcheck == "false" and name == "lkmm" and engine == "explore":
            result = _explore_factored(lowered, time_limit)
        if result is None:
            if time_limit is not None:
                left = time_limit - (time.perf_counter() - start)
                limits = Limits(time_limit=max(left, 0.001), stop_at_first=speedcheck == "fast")
            from pinlab import parallel

            if jobs > 1 or parallel.onray.cluster() is not None:  # split (pinlab.parallel)
                result, _ = parallel.decide(
                    lowered.program, model, engine=engine, limits=limits, jobs=jobs
                )
            else:
                result = decide(lowered.program, model, engine=engine, limits=limits)
        seconds = time.perf_counter() - start
        return LitmusRun(str(path), name, verdict(lowered, result, seconds), None, expected)
    except LitmusError as err:
        return LitmusRun(str(path), name, None, err, expected)
    except RecursionError:  # (a last resort: the bounds are meant to keep far from it)
        error = LitmusError(str(path), 0, 0, _TOO_DEEP)
        return LitmusRun(str(path), name, None, error, expected)
    except Exception as err:  # (a last resort: one line, not a traceback)
        message = f"internal error: {type(err).__name__}: {err}; please report it with this test"
        return LitmusRun(str(path), name, None, LitmusError(str(path), 0, 0, message), expected)
