"""Progress on ``pinlab litmus`` and ``pinlab selftest``: on a terminal, never in the output.

A terminal is simulated in-process: the command's ``_console`` is replaced by
one that rich takes for a terminal (``force_terminal``) and that writes into a
buffer, so that the progress display and the command's own output (through
stdout) can be told apart.  Into a pipe there is no progress at all, and the
output -- herd7's format, kselftest's TAP: contracts -- is the same either way.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from pinlab.cli import app
from pinlab.cli.common import _shown

RUNNER = CliRunner()
REPO = Path(__file__).resolve().parents[2]
TESTS = [str(REPO / "examples" / "litmus" / n) for n in ("SB+onces.litmus", "MP+onces.litmus")]
_TIME = re.compile(r"^(Time \S+) \S+$", re.M)


def _console_into(buffer: io.StringIO, terminal: bool) -> Callable[..., Console]:
    def console(width: int | None = None, plain: bool = False) -> Console:
        return Console(file=buffer, force_terminal=terminal, width=width or 100)

    return console


def _run(monkeypatch: pytest.MonkeyPatch, module: str, args: list[str],
         terminal: bool) -> tuple[str, str, str]:  # fmt: skip
    """stdout, stderr and what went to the console, of ``pinlab ARGS``."""
    buffer = io.StringIO()
    with monkeypatch.context() as m:
        m.setattr(f"pinlab.cli.{module}._console", _console_into(buffer, terminal))
        result = RUNNER.invoke(app, args)
    assert result.exit_code in (0, 1), result.output  # (1: selftests of old eras fail)
    return result.stdout, result.stderr, buffer.getvalue()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_litmus_progress_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch, jobs: str) -> None:
    args = ["litmus", "-j", jobs, *TESTS]
    piped = RUNNER.invoke(app, args)  # the real console: not a terminal
    assert piped.exit_code == 0 and piped.stderr == ""
    out, err, shown = _run(monkeypatch, "litmus", args, terminal=True)
    assert _TIME.sub(r"\1 <T>", out) == _TIME.sub(r"\1 <T>", piped.stdout)
    assert err == ""
    for n, test in enumerate(TESTS):
        assert test in shown and f"{n}/2" in shown
    out, err, shown = _run(monkeypatch, "litmus", args, terminal=False)
    assert shown == "" and _TIME.sub("", out) == _TIME.sub("", piped.stdout)


def test_litmus_piped_output_is_herd7s(monkeypatch: pytest.MonkeyPatch) -> None:
    """Into a pipe, each test's output in order, nothing else (the examples' first)."""
    out, _, shown = _run(monkeypatch, "litmus", ["litmus", *TESTS], terminal=False)
    assert shown == ""
    assert out.startswith("Test SB+onces Allowed\nStates 4\n")
    assert out.count("\nTest MP+onces Allowed\n") == 1 and out.endswith("\n\n")


@pytest.mark.parametrize(
    ("args", "names", "total"),
    [
        (
            ["selftest", "gup_longterm", "--era", "v6.1"],
            [f"gup_longterm.c on v6.1, {fs}" for fs in ("tmpfs", "ext4", "xfs", "btrfs")],
            4,
        ),
        (["selftest", "cow", "--era", "v4.20"], ["cow.c on v4.20"], 1),
    ],
)
def test_selftest_progress_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, args: list[str], names: list[str], total: int
) -> None:
    from pinlab.selftests import cli_selftest

    runs = (cli_selftest.run_cow, cli_selftest.run_gup_longterm)
    out, err, shown = _run(monkeypatch, "selftest", args, terminal=True)
    piped, _, nothing = _run(monkeypatch, "selftest", args, terminal=False)
    assert out == piped and out.startswith("TAP version 13\n")
    assert nothing == "" and err == ""
    assert all(name in shown for name in names) and f"0/{total}" in shown
    assert (cli_selftest.run_cow, cli_selftest.run_gup_longterm) == runs  # (unwrapped again)


def test_shown_hands_on_every_item() -> None:
    for terminal in (True, False):
        buffer = io.StringIO()
        items = iter(range(3))
        got = list(_shown(items, ["a", "b", "c"], Console(file=buffer, force_terminal=terminal)))
        assert got == [0, 1, 2]
        assert ("c" in buffer.getvalue()) is terminal
    short = _shown(iter([1]), ["a", "b"], Console(file=io.StringIO(), force_terminal=True))
    assert list(short) == [1]
