"""``--speedcheck``: herd7's output with its -speedcheck option, on the kernel and catalogue tests.

tests/litmus/data/herd7-speedcheck-{true,fast}.out hold herd7 7.58's output
for each test (Time and Hash lines dropped).  With ``true`` only the
executions that settle the condition are counted, and pinlab must print the
same lines; with ``fast`` the run stops at the first of them, so which final
state is printed depends on the search order and only the state count is
compared on the state lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pinlab.litmus.run import run_file
from pinlab.report.herd7 import render
from tests.litmus.litmus_data import LITMUS, NEEDS_CORPUS

DATA = Path(__file__).parent / "data"


def _blocks(mode: str) -> dict[str, list[str]]:
    """herd7's output for each test, by path under the shared litmus folder."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (DATA / f"herd7-speedcheck-{mode}.out").read_text().splitlines():
        if line.startswith("# ") and line.endswith(".litmus"):
            current = out.setdefault(line[2:], [])
        elif current is not None and line.strip():
            current.append(line)
    return out


TRUE, FAST = _blocks("true"), _blocks("fast")


def _pinlab(path: str, mode: str) -> list[str]:
    run = run_file(LITMUS / path, "lkmm", speedcheck=mode)
    assert run.error is None and run.verdict is not None, run.error
    text = render(run.verdict)
    return [x for x in text.splitlines() if x.strip() and not x.startswith(("Time ", "Hash="))]


def test_the_data_covers_kernel_and_catalogue() -> None:
    assert len(TRUE) == len(FAST) == 47 + 79


@NEEDS_CORPUS
@pytest.mark.parametrize("path", sorted(TRUE))
def test_speedcheck_true_as_herd7(path: str) -> None:
    assert _pinlab(path, "true") == TRUE[path]


def _states_blurred(lines: list[str]) -> list[str]:
    n = int(lines[1].split()[1])
    return lines[:2] + ["<state>"] * n + lines[2 + n :]


@NEEDS_CORPUS
@pytest.mark.parametrize("path", sorted(FAST))
def test_speedcheck_fast_as_herd7(path: str) -> None:
    assert _states_blurred(_pinlab(path, "fast")) == _states_blurred(FAST[path])


def test_speedcheck_counts_only_what_settles_the_condition(tmp_path: Path) -> None:
    test = tmp_path / "sb.litmus"
    test.write_text(
        "C SB\n{}\n"
        "P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }\n"
        "P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }\n"
        "forall (0:r0=1)\n"
    )
    full = run_file(test, "lkmm").verdict
    settled = run_file(test, "lkmm", speedcheck="true").verdict
    first = run_file(test, "lkmm", speedcheck="fast").verdict
    assert full is not None and settled is not None and first is not None
    assert (full.observation, full.positive, full.negative) == ("Sometimes", 2, 2)
    # only the two counterexamples (0:r0=0) are counted, and herd7 calls that Sometimes 0 2
    assert (settled.observation, settled.positive, settled.negative) == ("Sometimes", 0, 2)
    assert settled.states == ((("0:r0", "0"),),)
    assert (first.observation, first.negative, first.ok) == ("Sometimes", 1, False)


@NEEDS_CORPUS
def test_an_unknown_speedcheck_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="speedcheck must be one of false, true, fast"):
        run_file(LITMUS / sorted(TRUE)[0], "lkmm", speedcheck="quick")
