"""``pinlab litmus``: herd7's output, --judge and --json, clean errors (under SC here)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pinlab.cli import app

RUNNER = CliRunner()

SB = """\
C SB
(*
 * Result: Sometimes
 *)
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\\ 1:r0=0)
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_herd7_output(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["litmus", "--model", "sc", write(tmp_path, "sb.litmus", SB)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:8] == [
        "Test SB Allowed", "States 3", "0:r0=0; 1:r0=1;", "0:r0=1; 1:r0=0;", "0:r0=1; 1:r0=1;",
        "No", "Witnesses", "Positive: 0 Negative: 3",
    ]  # fmt: skip
    assert lines[8:10] == ["Condition exists (0:r0=0 /\\ 1:r0=0)", "Observation SB Never 0 3"]
    assert lines[10].startswith("Time SB ")


def test_judge(tmp_path: Path) -> None:
    never = SB.replace("Result: Sometimes", "Result: Never")
    files = [write(tmp_path, "a.litmus", SB), write(tmp_path, "b.litmus", never),
             write(tmp_path, "c.litmus", SB.replace("Result:", "Outcome:"))]  # fmt: skip
    result = RUNNER.invoke(app, ["litmus", "--model", "sc", "--judge", *files])
    assert result.exit_code == 1
    out = result.stdout.splitlines()
    assert f" !!! Unexpected non-Sometimes verification {files[0]}" in out
    assert f" --- No Result: line, not judged {files[2]}" in out
    assert out[-1] == "1 passed, 1 failed"
    result = RUNNER.invoke(app, ["litmus", "--model", "sc", "--judge", files[1]])
    assert (result.exit_code, result.stdout.splitlines()[-1]) == (0, "1 passed, 0 failed")


def test_json(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["litmus", "--model", "sc", "--json", "--judge",
                                 write(tmp_path, "sb.litmus", SB)])  # fmt: skip
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["test"] == "SB" and records[0]["observation"] == "Never"
    assert records[0]["judge"]["passed"] is False
    assert records[-1] == {"passed": 0, "failed": 1}


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.litmus", "C bad\n{}\nP0(int *x) { smp_memb(); }\n")
    result = RUNNER.invoke(app, ["litmus", "--model", "sc", bad])
    assert result.exit_code == 1
    assert result.stderr == f"{bad}:3:14: unknown primitive 'smp_memb' (not in linux-kernel.def)\n"
    assert "Traceback" not in result.output
    result = RUNNER.invoke(app, ["litmus", "--model", "tso", bad])
    assert result.exit_code == 2
    assert "unknown memory model 'tso'" in result.stderr


def test_speedcheck(tmp_path: Path) -> None:
    sb = write(tmp_path, "sb.litmus", SB)
    result = RUNNER.invoke(app, ["litmus", "--model", "sc", "--speedcheck", "true", sb])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:4] == ["Test SB Allowed", "States 0", "No", "Witnesses"]
    assert lines[4:7] == [
        "Positive: 0 Negative: 0",
        "Condition exists (0:r0=0 /\\ 1:r0=0)",
        "Observation SB Never 0 0",
    ]
    result = RUNNER.invoke(app, ["litmus", "--speedcheck", "fast", "--json", sb])
    record = json.loads(result.stdout)
    assert (record["observation"], record["positive"], record["speedcheck"]) == (
        "Sometimes",
        1,
        "fast",
    )
    result = RUNNER.invoke(app, ["litmus", "--speedcheck", "maybe", sb])
    assert result.exit_code == 2
    assert "--speedcheck must be one of false, true, fast" in result.stderr


def test_time_limit_gives_no_verdict(tmp_path: Path) -> None:
    procs = "".join(
        f"P{i}(int *x) {{ int r0; WRITE_ONCE(*x, {i + 1}); WRITE_ONCE(*x, {i + 5}); "
        "r0 = READ_ONCE(*x); }\n"
        for i in range(4)
    )
    busy = write(tmp_path, "busy.litmus", f"C busy\n{{}}\n{procs}exists (0:r0=1)\n")
    result = RUNNER.invoke(app, ["litmus", "--time-limit", "1e-9", busy])
    assert result.exit_code == 1
    assert "Incomplete: time-limit, no verdict" in result.stdout
    assert f"{busy}: no verdict: stopped at the --time-limit of 1e-09 s" in result.stderr
    result = RUNNER.invoke(app, ["litmus", "--time-limit", "0", busy])
    assert result.exit_code == 2 and "--time-limit must be a positive number" in result.stderr


def test_jobs_keep_the_order_and_the_output(tmp_path: Path) -> None:
    """--jobs runs tests in other processes; what is printed, and in which order, is as
    with one process (but for the Time lines), errors included."""
    mp = SB.replace("C SB", "C MP").replace(
        "WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x);", "r0 = READ_ONCE(*x); WRITE_ONCE(*y, 1);"
    )
    bad = write(tmp_path, "bad.litmus", "C bad\n{}\nP0(int *x) { smp_memb(); }\n")
    files = [write(tmp_path, "sb.litmus", SB), bad, write(tmp_path, "mp.litmus", mp)]
    files += [write(tmp_path, f"sb{i}.litmus", SB.replace("C SB", f"C SB{i}")) for i in range(3)]

    def run(*opts: str) -> tuple[int, list[str], str]:
        result = RUNNER.invoke(app, ["litmus", "--model", "sc", *opts, *files])
        kept = [line for line in result.stdout.splitlines() if not line.startswith("Time ")]
        return result.exit_code, kept, result.stderr

    one = run()
    assert one[0] == 1 and "unknown primitive 'smp_memb'" in one[2]
    assert [line.split()[1] for line in one[1] if line.startswith("Test ")] == [
        "SB", "MP", "SB0", "SB1", "SB2",
    ]  # fmt: skip
    assert run("--jobs", "2") == one
    assert run("-j", "8") == one
    result = RUNNER.invoke(app, ["litmus", "--jobs", "0", files[0]])
    assert result.exit_code == 2 and "--jobs must be at least 1" in result.stderr
