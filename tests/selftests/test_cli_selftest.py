"""``pinlab selftest``: TAP, JSON records, the era list, exit codes, and the time budget."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pinlab.cli import app

runner = CliRunner()


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


def test_all_eras_in_one_run() -> None:
    # Speed is measured by bench/selftest.py, never asserted in a test.
    result = runner.invoke(app, ["selftest", "cow", "--era", "all"])
    assert result.stdout.count("TAP version 13") == 10


def test_gup_longterm_current_passes_on_every_filesystem() -> None:
    result = runner.invoke(app, ["selftest", "gup_longterm"])
    assert result.exit_code == 0
    assert result.stdout.count("TAP version 13") == 4
    assert result.stdout.count("# Totals: pass:40 fail:0 xfail:0 xpass:0 skip:0 error:0") == 4


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
