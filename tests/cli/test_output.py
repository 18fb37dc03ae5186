"""Standard output that cannot be written: one line and exit status 74; a closed pipe: 141.

``pinlab`` runs as a program here (``python -m pinlab``): what is tested is what
the interpreter does with descriptor 1 (a full device, a closed or read-only
descriptor, a pipe whose reader is gone), which an in-process runner replaces.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "litmus"
LITMUS = ["litmus", "--model", "sc", str(EXAMPLES / "SB+mbs.litmus")]
COMMANDS = {
    "litmus": LITMUS,
    "check": ["check", "fork-vs-pin-fast", "--era", "v5.8", "--model", "sc"],
    "explain": ["explain", "fork-vs-pin-fast", "--era", "v5.8", "--model", "sc"],
    "selftest": ["selftest", "gup_longterm", "--era", "v6.5", "--fs", "xfs"],
}
PINLAB = [sys.executable, "-m", "pinlab"]


def _shell(redirect: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    """``python -m pinlab ARGS`` with stdout redirected by the shell (``>&-``, ...)."""
    return subprocess.run(
        ["sh", "-c", f'exec "$@" {redirect}', "sh", *PINLAB, *args],
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_device(command: str) -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [*PINLAB, *COMMANDS[command]], stdout=full, stderr=subprocess.PIPE, text=True,
            timeout=120, check=False,
        )  # fmt: skip
    assert result.returncode == 74
    who = " ".join(COMMANDS[command][:2]) if command == "selftest" else command
    assert result.stderr == f"pinlab {who}: cannot write output: No space left on device\n"


@pytest.mark.parametrize(
    ("redirect", "why"),
    [(">&-", "standard output is closed"), ("1</dev/null", "Bad file descriptor")],
    ids=["closed", "read-only"],
)
def test_no_writable_stdout(redirect: str, why: str) -> None:
    result = _shell(redirect, LITMUS)
    assert result.returncode == 74
    assert result.stderr == f"pinlab litmus: cannot write output: {why}\n"


def test_closed_stdout_is_found_before_the_run() -> None:
    result = _shell(">&-", ["--version"])
    assert (result.returncode, result.stderr) == (
        74, "pinlab: cannot write output: standard output is closed\n",
    )  # fmt: skip


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_reader_that_went_away(jobs: str) -> None:
    """``pinlab litmus ... | head -1``: exit status 141, as for a process killed by SIGPIPE,
    and nothing on stderr."""
    files = sorted(str(p) for p in EXAMPLES.glob("*.litmus"))
    proc = subprocess.Popen(
        [*PINLAB, "litmus", "-j", jobs, *files],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before pinlab writes anything
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141
    assert err == ""
