"""--ray: the same split explorations on a Ray cluster (a local instance of two
CPUs here) give the one-process results, and an interrupted run leaves no
process behind.  Ray is an optional extra: without it these tests skip, and
under CI=true (which installs it) they fail."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pinlab import parallel
from pinlab.cli import app
from pinlab.engine import Limits, Outcome
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text
from pinlab.scenarios.explain import find_counterexample
from pinlab.scenarios.replay import select_one
from tests.litmus.litmus_data import SHARED, corpus, litmus_files
from tests.parallel.test_jobs import SAMPLE, _no_times, _summary

try:
    import ray
except ImportError:
    ray = None


@pytest.fixture(autouse=True)
def _needs_ray() -> None:
    if ray is None:
        why = "needs Ray, an optional extra: pip install -e '.[ray]'"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (CI=true installs it)")
        pytest.skip(why)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A local Ray instance of two CPUs, as the issue asks: ray.init(num_cpus=2)."""
    if ray is None:
        pytest.skip("needs Ray")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
    )  # fmt: skip (a new instance, beside any other)
    try:
        with parallel.ray_cluster("local") as on:  # (uses the instance above)
            yield on
    finally:
        ray.shutdown()


@pytest.mark.parametrize(("name", "era", "model", "engine"), SAMPLE, ids=lambda x: str(x))
def test_on_ray_a_split_exploration_is_the_whole(
    cluster: Any, name: str, era: str, model: str, engine: str
) -> None:
    program = select_one(name, era, model).program().program
    two, _ = parallel.decide(program, model, engine=engine, jobs=2)
    token = parallel.onray._current.set(None)  # (one process, for the reference)
    try:
        one, _ = parallel.decide(program, model, engine=engine, jobs=1)
    finally:
        parallel.onray._current.reset(token)
    assert _summary(two) == _summary(one)


@pytest.mark.parametrize(("name", "era", "model", "engine"), SAMPLE[:4], ids=lambda x: str(x))
def test_on_ray_explain_gives_the_same_counterexample(
    cluster: Any, name: str, era: str, model: str, engine: str
) -> None:
    scenario = select_one(name, era, model)
    two = find_counterexample(scenario, engine=engine, jobs=2)
    token = parallel.onray._current.set(None)
    try:
        one = find_counterexample(scenario, engine=engine, jobs=1)
    finally:
        parallel.onray._current.reset(token)
    assert (one.verdict, one.reachable) == (two.verdict, two.reachable)
    assert (one.best is None) == (two.best is None)
    if one.best is not None and two.best is not None:
        assert two.best.execution.choices == one.best.execution.choices
        assert two.best.order == one.best.order


def _alone(program: Any, model: str, engine: str, limits: Limits) -> Any:
    token = parallel.onray._current.set(None)
    try:
        return parallel.decide(program, model, engine=engine, jobs=1, limits=limits)[0]
    finally:
        parallel.onray._current.reset(token)


@pytest.mark.parametrize("path", corpus(litmus_files("kernel"))[::4], ids=lambda p: p.stem)
def test_on_ray_kernel_litmus_tests(cluster: Any, path: Path) -> None:
    program = lower(parse_text(path.read_text(), str(path))).program
    limits = Limits(time_limit=30)
    for model in ("sc", "lkmm"):
        for engine in ("explore", "revisit"):
            one = _alone(program, model, engine, limits)
            if one.outcome not in (Outcome.COMPLETE, Outcome.INCOMPLETE):
                continue  # (not decided in 30 s: nothing to compare)
            two, _ = parallel.decide(program, model, engine=engine, jobs=2, limits=limits)
            assert _summary(two) == _summary(one), (model, engine)


def test_on_ray_paulmck_sample(cluster: Any) -> None:
    folder = SHARED / "litmus" / "paulmck"
    if not folder.is_dir():
        pytest.skip("no paulmck litmus tests: set PINLAB_SHARED")
    files = sorted(folder.rglob("*.litmus"))[::50][:8]
    assert files
    for path in files:
        program = lower(parse_text(path.read_text(), str(path))).program
        limits = Limits(time_limit=60)
        one = _alone(program, "lkmm", "explore", limits)
        if one.outcome is not Outcome.COMPLETE:
            continue
        two, _ = parallel.decide(program, "lkmm", engine="explore", jobs=2, limits=limits)
        assert _summary(two) == _summary(one), path.name


def _pinlab(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pinlab", *args], capture_output=True,
                          text=True, timeout=300, check=False, **kwargs)  # fmt: skip


def test_a_scenario_file_that_failed_to_load_is_not_sent(cluster: Any, tmp_path: Path) -> None:
    """The actors load again every scenario file loaded here: not one whose
    loading failed, which would fail there too and stop every later run."""
    from pinlab.scenarios.files import ScenarioFileError, load, loaded_files

    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('mine')\n")
    with pytest.raises(ScenarioFileError):
        load(str(broken))
    assert str(broken) not in {path for path, _ in loaded_files().values()}
    program = select_one("fork-vs-pin-fast", "v5.9", "sc").program().program
    result, _ = parallel.decide(program, "sc", engine="explore", jobs=2)
    assert result.outcome is Outcome.COMPLETE


def test_on_ray_progress_is_reported_while_parts_run(
    cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The actors are asked how far their parts are (they cannot tell by
    themselves): progress messages reach the coordinator while parts run, the
    count never goes down, and it ends at the result's count."""
    kinds: list[str] = []
    wait = parallel.onray.RayPool.wait

    def seen(pool: Any, timeout: float | None) -> list[tuple[int, tuple[Any, ...]]]:
        got = wait(pool, timeout)
        kinds.extend(msg[0] for _, msg in got)
        return got

    monkeypatch.setattr(parallel.onray.RayPool, "wait", seen)
    program = select_one("fork-vs-pin-fast", "current", "sc").program().program
    told: list[int] = []
    began = time.monotonic()
    result, _ = parallel.decide(program, "sc", engine="explore", jobs=2, on_progress=told.append)
    assert result.outcome is Outcome.COMPLETE
    assert time.monotonic() - began > 1.5, "too short to be asked on the way"
    assert "progress" in kinds
    assert told == sorted(told) and told[-1] == result.stats.consistent


def test_the_command_line_on_a_local_ray_instance() -> None:
    """``--ray local`` starts a Ray instance for the run: the output of --jobs 1,
    and nothing of Ray's on stderr."""
    args = ["check", "gup-fast-vs-try-share-anon", "--era", "v5.19", "--model", "lkmm",
            "--no-cache"]  # fmt: skip
    one = _pinlab(*args, "--jobs", "1")
    two = _pinlab(*args, "--ray", "local", "--jobs", "2")
    assert one.returncode == two.returncode == 0, two.stderr
    assert two.stderr == ""
    # (the summary of a run with workers adds its own time: compare the rows)
    rows = [_no_times(line) for line in two.stdout.splitlines()[:-1]]
    assert rows == [_no_times(line) for line in one.stdout.splitlines()[:-1]]


def _session(sid: int) -> list[int]:
    """The processes of session ``sid`` (Ray's processes stay in the session
    of the command that started them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def test_an_interrupted_ray_run_leaves_no_process() -> None:
    args = [sys.executable, "-m", "pinlab", "check", "fork-vs-pin-fast", "--era",
            "large-flag-set+mb", "--model", "lkmm", "--ray", "local", "-j", "2",
            "--no-cache"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 90

    def actors() -> int:
        n = 0
        for pid in _session(proc.pid):
            with contextlib.suppress(OSError):
                n += Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::_Actor")
        return n

    while actors() < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert actors() >= 2, proc.stderr.read() if proc.poll() is not None else "no actors"
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # (as Ctrl-C on a terminal)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted (SIGINT)" in err
    assert "Traceback" not in err
    deadline = time.monotonic() + 10
    while _session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _session(proc.pid)


def test_without_ray_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # (import ray raises ImportError)
    result = CliRunner().invoke(app, ["check", "fork-vs-pin-fast", "--ray", "local"])
    assert result.exit_code == 2
    assert result.stderr == (
        "pinlab check: --ray needs Ray, an optional extra: pip install -e '.[ray]'\n"
    )


def test_an_unreachable_cluster_is_one_line() -> None:
    run = _pinlab("litmus", "--ray", "127.0.0.1:1", "x.litmus")
    assert run.returncode == 2
    assert run.stderr.startswith("pinlab litmus: cannot reach the Ray cluster at '127.0.0.1:1'")
    assert len(run.stderr.splitlines()) == 1


@pytest.mark.parametrize("command", ["check", "explain", "litmus"])
def test_the_help_shows_the_option_and_its_extra(command: str) -> None:
    out = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
    assert "--ray" in out
    assert "pip install -e '.[ray]'" in out  # (not eaten as rich markup)
