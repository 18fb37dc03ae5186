"""--cat on the command line: litmus, check and explain under a model read from
files, and ``check --cat NEW --against lkmm``, the model diff.

The weakened model is made here, at run time, from the kernel's own
linux-kernel.cat in $PINLAB_SHARED/lkmm (copied to a temporary folder and
changed there): one disjunct of ``ppo`` dropped, as the issue proposes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pinlab.cli import app
from tests.cat.lkmm_files import CFG, LKMM, NEEDS_LKMM
from tests.litmus.litmus_data import LITMUS, NEEDS_CORPUS

KERNEL = LITMUS / "kernel" / "tools-memory-model"
PPO = "let ppo = to-r | to-w | (fence & int) | (po-unlock-lock-po & int)"


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _no_times(text: str) -> str:
    return re.sub(r"^Time .*$", "Time", text, flags=re.M)


def _weakened(tmp_path: Path) -> Path:
    """The kernel's model with ``(fence & int)`` dropped from ``ppo``."""
    for f in LKMM.iterdir():
        if f.suffix in (".cat", ".bell", ".def", ".cfg"):
            shutil.copy(f, tmp_path / f.name)
    cat = tmp_path / "linux-kernel.cat"
    text = cat.read_text()
    assert PPO in text, "linux-kernel.cat changed: update the weakening of this test"
    cat.write_text(text.replace(PPO, "let ppo = to-r | to-w | (po-unlock-lock-po & int)"))
    return cat


def test_a_bad_cat_file_is_one_line_with_its_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cat"
    bad.write_text('"a model"\nlet x = po |\n')
    code, out, err = _invoke("litmus", "--cat", str(bad), "x.litmus")
    assert code == 2 and out == ""
    assert err.startswith(f"pinlab litmus: {bad}:2:13: ")
    assert len(err.splitlines()) == 1


def test_against_needs_cat() -> None:
    code, _, err = _invoke("check", "fork-vs-pin-fast", "--against", "lkmm")
    assert code == 2
    assert err == "pinlab check: --against and --litmus compare with a model of --cat FILE\n"


@NEEDS_LKMM
@NEEDS_CORPUS
def test_litmus_under_the_kernels_files_prints_what_lkmm_prints() -> None:
    files = [str(p) for p in sorted(KERNEL.glob("*.litmus"))]
    assert files
    one = _invoke("litmus", *files)
    two = _invoke("litmus", "--cat", str(CFG), *files)
    assert one[0] == two[0] == 0
    assert _no_times(two[1]) == _no_times(one[1])


@NEEDS_LKMM
def test_check_and_explain_under_the_kernels_files() -> None:
    code, out, _ = _invoke("check", "gup-fast-vs-try-share-anon", "--era", "v5.19", "--cat",
                           str(LKMM / "linux-kernel.cat"))  # fmt: skip
    assert code == 0
    assert out.count("under cat:linux-kernel.cat") == 3
    assert "all as expected" in out
    code, out, _ = _invoke("explain", "gup-fast-vs-try-share-anon", "--era", "v5.19", "--cat",
                           str(CFG), "--format", "text")  # fmt: skip
    assert code == 0
    assert "the shortest of 64 executions with the forbidden outcome (150 consistent" in out


@NEEDS_LKMM
@NEEDS_CORPUS
def test_the_diff_of_a_weakened_model_names_what_changes(tmp_path: Path) -> None:
    weak = _weakened(tmp_path)
    args = ["check", "fork-vs-pin-fast", "--era", "v5.11", "--against", "lkmm",
            "--litmus", str(KERNEL)]  # fmt: skip
    code, out, _ = _invoke(*args, "--cat", str(weak))
    assert code == 1
    # The message-passing tests whose order comes from a fence alone change.
    changed = re.findall(r"^(\S+\.litmus): Never under lkmm, Sometimes under", out, flags=re.M)
    names = {Path(p).name for p in changed}
    assert "MP+fencewmbonceonce+fencermbonceonce.litmus" in names
    assert "MP+pooncerelease+poacquireonce.litmus" in names
    assert "    only under cat:linux-kernel.cat: 1:r0=1; 1:r1=0;" in out
    n = len(list(KERNEL.glob("*.litmus")))
    assert out.splitlines()[-1] == (
        f"0 of 1 scenarios and {len(changed)} of {n} litmus tests change under "
        "cat:linux-kernel.cat (against lkmm)"
    )
    same = _invoke(*args, "--cat", str(CFG))
    assert same[0] == 0
    assert same[1].splitlines() == [
        f"0 of 1 scenarios and 0 of {n} litmus tests change under cat:linux-kernel.cat "
        "(against lkmm)"
    ]


@pytest.mark.parametrize("command", ["check", "explain"])
def test_cat_is_for_the_lkmm_scenarios(command: str) -> None:
    code, _, err = _invoke(command, "fork-vs-pin-fast", "--model", "sc", "--cat", "x.cat")
    assert code == 2
    assert "--model sc" in err
