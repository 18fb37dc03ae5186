"""--jobs: one exploration (or many) split between worker processes gives the
one-process result: the same verdicts, states and counts, the same shortest
counterexample; and an interrupted or stopped run leaves no worker behind."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pinlab import parallel
from pinlab.cli import app
from pinlab.engine import ExplorationResult, Limits, Outcome
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text
from pinlab.scenarios import catalogue, run_many
from pinlab.scenarios.explain import find_counterexample
from pinlab.scenarios.replay import select_one
from tests.litmus.litmus_data import SHARED, corpus, litmus_files


def _summary(r: ExplorationResult) -> dict[str, Any]:
    stats = {f.name: getattr(r.stats, f.name) for f in dataclasses.fields(r.stats)}
    del stats["seconds"]
    return {"states": r.states, "positive": r.positive, "negative": r.negative,
            "flags": r.flags, "outcome": r.outcome, "stats": stats, "witness": r.witness,
            "counterexample": r.counterexample}  # fmt: skip


# Scenarios small enough for a test, under both models; the revisit explorer
# decides each (auto), and the waiting explorer too where it is given.
SAMPLE = [
    ("fork-vs-pin-fast", "v5.9", "sc", "explore"),
    ("fork-vs-pin-fast", "v5.11", "lkmm", "auto"),
    ("gup-fast-vs-try-share-anon", "v5.19", "lkmm", "auto"),
    ("gup-fast-vs-try-share-anon", "v6.1", "lkmm", "auto"),
    ("device-exclusive-fork", "current-locked", "lkmm", "auto"),
    ("ptep-get-lockless-split", "fault", "lkmm", "explore"),
    ("unshare-vs-slow-gup", "current", "sc", "auto"),
]


@pytest.mark.parametrize(("name", "era", "model", "engine"), SAMPLE, ids=lambda x: str(x))
def test_a_split_exploration_is_the_whole(name: str, era: str, model: str, engine: str) -> None:
    program = select_one(name, era, model).program().program
    one, _ = parallel.decide(program, model, engine=engine, jobs=1)
    two, _ = parallel.decide(program, model, engine=engine, jobs=2)
    assert _summary(two) == _summary(one)


@pytest.mark.parametrize(("name", "era", "model", "engine"), SAMPLE, ids=lambda x: str(x))
def test_explain_gives_the_same_counterexample(
    name: str, era: str, model: str, engine: str
) -> None:
    scenario = select_one(name, era, model)
    one = find_counterexample(scenario, engine=engine, jobs=1)
    two = find_counterexample(scenario, engine=engine, jobs=2)
    assert (one.verdict, one.reachable) == (two.verdict, two.reachable)
    if one.best is None:
        assert two.best is None
        return
    assert two.best is not None
    assert two.best.execution.choices == one.best.execution.choices
    assert two.best.order == one.best.order


def test_many_scenarios_side_by_side() -> None:
    """A slice of the catalogue, each stopping at its first witness as check
    does: the same verdicts with one worker, two, or none."""
    families = ("lazyfree-vs-gup-fast", "gup-fast-vs-try-share-anon", "ptep-get-lockless-split")
    chosen = [s for s in catalogue() if s.name in families]
    limits = Limits(stop_at_witness=True)
    one = [r.verdict for r in run_many(chosen, limits, "auto", 1)]
    two = list(run_many(chosen, limits, "auto", 2))
    assert one == [r.verdict for r in two]
    assert all(r.as_expected for r in two)
    assert [r.scenario.key for r in two] == [s.key for s in chosen]


@pytest.mark.parametrize("path", corpus(litmus_files("kernel")), ids=lambda p: p.stem)
def test_kernel_litmus_tests_split(path: Path) -> None:
    program = lower(parse_text(path.read_text(), str(path))).program
    limits = Limits(time_limit=30)
    for model in ("sc", "lkmm"):
        for engine in ("explore", "revisit"):
            one, _ = parallel.decide(program, model, engine=engine, jobs=1, limits=limits)
            if one.outcome not in (Outcome.COMPLETE, Outcome.INCOMPLETE):
                continue  # (not decided in 30 s: nothing to compare)
            two, _ = parallel.decide(program, model, engine=engine, jobs=2, limits=limits)
            assert _summary(two) == _summary(one), (model, engine)


def test_paulmck_sample_splits() -> None:
    folder = SHARED / "litmus" / "paulmck"
    if not folder.is_dir():
        pytest.skip("no paulmck litmus tests: set PINLAB_SHARED")
    files = sorted(folder.rglob("*.litmus"))[::25][:16]
    assert files
    for path in files:
        program = lower(parse_text(path.read_text(), str(path))).program
        limits = Limits(time_limit=60)
        one, _ = parallel.decide(program, "lkmm", engine="explore", jobs=1, limits=limits)
        if one.outcome is not Outcome.COMPLETE:
            continue
        two, _ = parallel.decide(program, "lkmm", engine="explore", jobs=2, limits=limits)
        assert _summary(two) == _summary(one), path.name


def test_the_command_line_takes_jobs(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["check", "gup-fast-vs-try-share-anon", "--era", "v5.19", "--model", "lkmm"]
    one = runner.invoke(app, [*args, "--jobs", "1", "--no-cache"])
    two = runner.invoke(app, [*args, "--jobs", "2", "--no-cache"])
    assert one.exit_code == two.exit_code == 0
    assert "reachable, expected reachable" in two.stdout
    bad = runner.invoke(app, [*args, "--jobs", "0"])
    assert bad.exit_code == 2 and "--jobs must be at least 1" in bad.stderr
    explain = ["explain", "gup-fast-vs-try-share-anon", "--era", "v5.19", "--model", "lkmm"]
    traces = [runner.invoke(app, [*explain, "-j", j]).stdout for j in ("1", "2")]
    assert _no_times(traces[0]) == _no_times(traces[1])


def _no_times(text: str) -> str:
    return re.sub(r"\d+\.\d+ s", "S s", text)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout  # fmt: skip
    return [int(x) for x in out.split()]


def test_a_time_limit_stops_every_worker() -> None:
    """The 52 s fork row with --time-limit 2 and two workers: no verdict, exit 1
    for an inconclusive check, in a few seconds, and no worker left."""
    start = time.monotonic()
    args = [sys.executable, "-m", "pinlab", "check", "fork-vs-pin-fast", "--era",
            "large-flag-set+mb", "--model", "lkmm", "--time-limit", "2", "-j", "2",
            "--no-cache"]  # fmt: skip
    run = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "PINLAB_JOBS": "2"})  # fmt: skip
    assert time.monotonic() - start < 30
    assert run.returncode == 1, run.stdout + run.stderr
    assert "inconclusive" in run.stdout


def test_an_interrupted_split_leaves_no_worker() -> None:
    args = [sys.executable, "-m", "pinlab", "check", "fork-vs-pin-fast", "--era",
            "large-flag-set+mb", "--model", "lkmm", "-j", "2", "--no-cache"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 30
    while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = _children(proc.pid)
    assert len(workers) >= 2
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted (SIGINT)" in err
    time.sleep(0.5)
    alive = [w for w in workers if Path(f"/proc/{w}").exists()]
    assert not alive, alive


def test_a_bad_pinlab_jobs_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINLAB_JOBS", "many")
    result = CliRunner().invoke(app, ["check", "fork-vs-pin-fast", "--era", "v5.9"])
    assert result.exit_code == 2
    assert "PINLAB_JOBS must be a number of processes, not 'many'" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("engine", ["explore", "revisit"])
def test_split_runs_report_their_progress(jobs: int, engine: str) -> None:
    """``on_progress`` (the progress bar's count) hears of executions as the
    workers (or the one process) meet them, never goes down, and ends at the
    result's count when no execution is counted twice (the waiting explorer,
    or one process)."""
    program = select_one("fork-vs-pin-fast", "v5.9", "sc").program().program
    told: list[int] = []
    result, _ = parallel.decide(program, "sc", engine=engine, jobs=jobs, on_progress=told.append)
    assert told and told == sorted(told)
    if engine == "explore" or jobs == 1:
        assert told[-1] == result.stats.consistent
