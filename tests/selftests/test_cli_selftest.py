"""``pinlab selftest``: TAP, JSON records, the era list, exit codes, and the time budget."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from pinlab.cli import app
from pinlab.selftests import cli_selftest
from pinlab.selftests.expected_table import Expected

runner = CliRunner()
TOTALS = re.compile(
    r"# Totals: pass:(\d+) fail:(\d+) xfail:(\d+) xpass:(\d+) skip:(\d+) error:(\d+)"
)  # ksft_print_cnts() in tools/testing/selftests/kselftest.h
RESULT = re.compile(r"(not )?ok (\d+) ")


def tap_documents(text: str) -> list[list[str]]:
    """Split the output into its TAP documents; check each is TAP 13 as kselftest prints it.

    Whatever follows the last document (the summary) is returned as a last list of lines.
    """
    docs: list[list[str]] = []
    for line in text.splitlines():
        if line == "TAP version 13":
            docs.append([])
        assert docs, f"output before the first TAP version line: {line!r}"
        docs[-1].append(line)
    summary: list[str] = []
    for doc in docs:
        plan = next(line for line in doc if line.startswith("1.."))
        assert all(line.startswith("#") for line in doc[1 : doc.index(plan)])
        n = int(plan[3:])
        numbers = [int(m[2]) for line in doc if (m := RESULT.match(line))]
        assert numbers == list(range(1, n + 1))
        totals = [i for i, line in enumerate(doc) if TOTALS.fullmatch(line)]
        assert totals, "a run without its Totals line"
        assert all(line.startswith("#") for line in doc[totals[0] :])
        counts = [int(c) for c in TOTALS.fullmatch(doc[totals[0]]).groups()]  # type: ignore[union-attr]
        assert sum(counts) == n
        if len(totals) > 1:  # the summary after the last run's Totals
            summary = doc[totals[0] + 1 :]
    return [*docs, summary]


def test_list_eras() -> None:
    result = runner.invoke(app, ["selftest", "--list-eras"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("v4.20")
    assert "09854ba94c6a mm: do_wp_page() simplification (v5.9)" in result.stdout


def test_cow_current_passes() -> None:
    result = runner.invoke(app, ["selftest", "cow"])
    assert result.exit_code == 0
    assert result.stdout.rstrip().endswith(
        "# Totals: pass:337 fail:0 xfail:4 xpass:0 skip:0 error:0"
    )


def test_cow_old_era_fails_with_diagnostics() -> None:
    result = runner.invoke(app, ["selftest", "cow", "--era", "v5.7"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    i = lines.index("not ok 23 Leak from parent into child")
    assert lines[i + 1].startswith("# [MODEL] I1 writable-implies-exclusive broken at step")
    assert lines[i + 2].startswith("# [HISTORY] v5.7: CVE-2020-29374")


def test_cow_json_records() -> None:
    result = runner.invoke(app, ["selftest", "cow", "--era", "v5.9", "--json"])
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 173
    a7 = next(r for r in records if r["case"] == "A7" and r["kind"] == "base page")
    assert {k: a7[k] for k in ("case", "kind", "era", "result")} == {
        "case": "A7", "kind": "base page", "era": "v5.9", "result": "fail",
    }  # fmt: skip
    assert "pin-never-replaced" in a7["reason"] and a7["invariants"] == ["pin-never-replaced"]


def test_unknown_era() -> None:
    result = runner.invoke(app, ["selftest", "cow", "--era", "v2.6"])
    assert result.exit_code == 2
    assert result.stderr == (
        "pinlab selftest cow: unknown era 'v2.6'; see pinlab selftest --list-eras\n"
    )


def test_all_eras_in_one_run() -> None:
    # Speed is measured by bench/selftest.py, never asserted in a test.
    result = runner.invoke(app, ["selftest", "cow", "--era", "all"])
    assert result.stdout.count("TAP version 13") == 10
    *docs, summary = tap_documents(result.stdout)
    assert len(docs) == 10 and docs[0][1].startswith("# [ERA] v4.20: ")
    # every result as history records it for its era: exit 0, and one Totals line over all
    assert result.exit_code == 0, summary
    assert summary == [
        "# [SUMMARY] 10 runs of cow.c: each result against the one recorded for its era "
        "(xfail: a known failure)",
        "# Totals: pass:1426 fail:0 xfail:378 xpass:0 skip:94 error:0",
    ]


def test_gup_longterm_current_passes_on_every_filesystem() -> None:
    result = runner.invoke(app, ["selftest", "gup_longterm"])
    assert result.exit_code == 0
    assert result.stdout.count("TAP version 13") == 4
    assert result.stdout.count("# Totals: pass:40 fail:0 xfail:0 xpass:0 skip:0 error:0") == 4
    *docs, summary = tap_documents(result.stdout)
    assert docs[1][1] == "# [FS] /tmp and the current directory on ext4"
    assert summary == [
        "# [SUMMARY] 4 runs of gup_longterm.c: kselftest's counters added up",
        "# Totals: pass:160 fail:0 xfail:0 xpass:0 skip:0 error:0",
    ]


def test_gup_longterm_one_old_era_fails_as_kselftest_would() -> None:
    result = runner.invoke(app, ["selftest", "gup_longterm", "--era", "v6.2"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == (
        "# Totals: pass:142 fail:18 xfail:0 xpass:0 skip:0 error:0"
    )


def test_gup_longterm_all_eras_match_history() -> None:
    """The tester's case: ~1,600 results, each as recorded for its era, exited 1."""
    result = runner.invoke(app, ["selftest", "gup_longterm", "--era", "all"])
    *docs, summary = tap_documents(result.stdout)
    assert len(docs) == 40
    assert docs[0][1:3] == [
        "# [ERA] v4.20: FOLL_GET only: a pin is an ordinary reference; COW reuse counts mappings",
        "# [FS] /tmp and the current directory on tmpfs",
    ]
    assert result.exit_code == 0, summary
    assert summary[-1] == "# Totals: pass:1430 fail:0 xfail:138 xpass:0 skip:32 error:0"
    assert result.stdout.rstrip().endswith(summary[-1])
    records = runner.invoke(app, ["selftest", "gup_longterm", "--era", "all", "--json"])
    assert records.exit_code == 0
    assert len(records.stdout.splitlines()) == 1600


def test_all_eras_counts_disagreements(monkeypatch: pytest.MonkeyPatch) -> None:
    """A history claiming every test passes: the old eras' failures (and the skips) are
    fail, exit 1; one claiming every test fails: the passes are xpass, the failures xfail."""
    monkeypatch.setattr(
        cli_selftest.gup_longterm_expected,
        "expected",
        lambda era, case, kind: Expected("pass", None),
    )
    text, code = cli_selftest.gup_longterm("all", "ext4", False)
    assert code == 1
    assert text.splitlines()[-1] == "# Totals: pass:346 fail:54 xfail:0 xpass:0 skip:0 error:0"
    monkeypatch.setattr(
        cli_selftest.gup_longterm_expected,
        "expected",
        lambda era, case, kind: Expected("fail", None),
    )
    text, code = cli_selftest.gup_longterm("all", "ext4", False)
    assert code == 1
    assert text.splitlines()[-1] == "# Totals: pass:0 fail:8 xfail:46 xpass:346 skip:0 error:0"


def test_gup_longterm_before_v6_5_fails_on_ext4_with_history() -> None:
    result = runner.invoke(app, ["selftest", "gup_longterm", "--era", "v6.2", "--fs", "ext4"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    i = lines.index("not ok 2 Should have worked")
    assert lines[i + 1].startswith("# [MODEL] I14 no-writable-longterm-file-pin")
    assert lines[i + 2].startswith("# [HISTORY] v6.2: Before v6.5 GUP granted")
    assert "(8ac268436e6d, a6e79df92e4a)" in lines[i + 2]


def test_gup_longterm_json_records() -> None:
    args = ["selftest", "gup_longterm", "--era", "v6.5", "--fs", "xfs", "--json"]
    records = [json.loads(line) for line in runner.invoke(app, args).stdout.splitlines()]
    assert len(records) == 40
    l1 = next(r for r in records if r["case"] == "L1" and r["kind"] == "tmpfile (xfs)")
    assert {k: l1[k] for k in ("case", "kind", "era", "result", "reason")} == {
        "case": "L1", "kind": "tmpfile (xfs)", "era": "v6.5", "result": "pass",
        "reason": "Should have failed",
    }  # fmt: skip
    h1 = next(r for r in records if r["case"] == "L1" and r["kind"] == "memfd hugetlb (64 kB)")
    assert (h1["result"], h1["reason"], h1["fs"]) == ("pass", "Should have worked", "xfs")


def test_gup_longterm_unknown_filesystem() -> None:
    result = runner.invoke(app, ["selftest", "gup_longterm", "--fs", "ntfs"])
    assert result.exit_code == 2
    assert result.stderr == (
        "pinlab selftest gup_longterm: unknown filesystem 'ntfs'; see pinlab selftest --help\n"
    )
