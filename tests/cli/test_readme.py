"""Every ``pinlab`` command of the README runs as written and exits as it should.

The README's litmus lines run in tests/litmus/test_examples.py, with herd7's
verdicts.  The bare ``pinlab check`` (the whole catalogue, about two minutes)
is left to tests/scenarios/test_catalogue.py, which computes the same verdicts
one by one; running it here would compute each of them twice.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pinlab.cli import app

REPO = Path(__file__).resolve().parents[2]

# Commands whose exit status is not 0, and why.
EXIT = {
    "selftest cow --era v5.9": 1,  # kselftest's own status: v5.9 fails cases by design
}
ELSEWHERE = {"check"}  # see the module docstring


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Ray cluster's head on this machine, as the README's ``ray start --head``
    makes one (in a session of its own, ended with it: ``ray stop`` would end
    every Ray process of the machine, another test's too); its address.  One
    for the module: Ray keeps the first token it reads for the process."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield from _ray_head(monkeypatch, tmp_path_factory)


def _ray_head(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if shutil.which("ray") is None and not (Path(sys.executable).parent / "ray").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("needs Ray (CI=true installs it: pip install -e '.[dev,ray]')")
        pytest.skip("needs Ray, an optional extra: pip install -e '.[ray]'")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray = str(Path(sys.executable).parent / "ray")
    log = tmp_path_factory.mktemp("ray-head") / "head.log"
    address = f"127.0.0.1:{port}"
    monkeypatch.setenv("RAY_ADDRESS", address)  # (where auto looks first)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # (as the README says for an address)
    with log.open("w") as out:
        head = subprocess.Popen(
            [ray, "start", "--head", "--block", "--port", str(port), "--num-cpus", "2",
             "--include-dashboard=false"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in log.read_text() and time.monotonic() < deadline:
            assert head.poll() is None, log.read_text()
            time.sleep(0.2)
        yield address
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):  # (gcs_server outlives a SIGTERM)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(head.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                head.wait(5)


def readme_commands() -> list[tuple[str, ...]]:
    """The README's indented ``pinlab ...`` lines, each ``&&`` part on its own,
    comments dropped, in order."""
    out: list[tuple[str, ...]] = []
    for line in (REPO / "README.md").read_text().splitlines():
        if not line.startswith("    pinlab "):
            continue
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words[:1] == ["pinlab"] and words[1:2] != ["litmus"]:
                out.append(tuple(words[1:]))
    return out


COMMANDS = readme_commands()


def test_the_readme_shows_these_commands() -> None:
    assert ("check", "--list") in COMMANDS
    assert ("check", "examples/scenarios/race.py") in COMMANDS
    assert {" ".join(c) for c in COMMANDS} >= set(EXIT) | ELSEWHERE


@pytest.mark.parametrize(
    "args",
    [c for c in COMMANDS if " ".join(c) not in ELSEWHERE],
    ids=" ".join,
)
def test_the_readme_command_runs_as_written(
    args: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    if args[0] == "replay":  # (after the explain --save of the same line)
        explain = next(c for c in COMMANDS if "--save" in c and args[1] in c)
        assert CliRunner().invoke(app, list(explain)).exit_code == 0
    if "--ray" in args:  # (in a process of its own: a Ray driver's state stays in it)
        address = request.getfixturevalue("ray_head")
        args = tuple(address if a == "HEAD:6379" else a for a in args)
        run = subprocess.run([sys.executable, "-m", "pinlab", *args], capture_output=True,
                             text=True, timeout=300, check=False)  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Traceback" not in run.stderr
        return
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == EXIT.get(" ".join(args), 0), result.output
    assert "Traceback" not in result.output
