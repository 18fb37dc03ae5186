"""The model reproduces gup_longterm.c's recorded history, era by era and filesystem by filesystem.

The expected results are data about kernel history (gup_longterm_expected.toml),
not output of the model: these tests run the model and compare.
"""

from __future__ import annotations

from functools import cache

import pytest

from pinlab.kernel.eras import ERAS, era_by_name
from pinlab.kernel.mm_types import FILESYSTEMS
from pinlab.selftests.gup_longterm import GupLongtermRun, kind_name, run_gup_longterm
from pinlab.selftests.gup_longterm_expected import CASES, entries, expected

ERA_NAMES = [e.name for e in ERAS]


@cache
def _run(era: str, fs: str) -> GupLongtermRun:
    return run_gup_longterm(era_by_name(era), fs)


@pytest.mark.parametrize("fs", FILESYSTEMS)
@pytest.mark.parametrize("era", ERA_NAMES)
def test_model_reproduces_the_recorded_results(era: str, fs: str) -> None:
    run = _run(era, fs)
    kinds = [kind_name(label, fs) for label in ("memfd", "tmpfile", "local tmpfile")]
    got = {(c.case, c.kind): c for c in run.results}
    assert set(got) == {(c, k) for c in CASES for k in kinds}
    wrong = [
        f"{c.case} on {c.kind}: model {c.result}, history {expected(era, c.case, c.kind).result}"
        for c in got.values()
        if c.result != expected(era, c.case, c.kind).result
    ]
    assert wrong == []
    for c in got.values():
        assert c.result != "error", c.outcome.message
        exp = expected(era, c.case, c.kind)
        if exp.entry is not None and exp.entry.message and exp.result != "pass":
            assert c.outcome.message == exp.entry.message


@pytest.mark.parametrize("era", ["v4.20", "v5.9", "v6.2"])
def test_a_refused_pin_that_succeeded_breaks_i14(era: str) -> None:
    """Before v6.5 the writable shared pin on ext4 succeeds: the model says which promise
    (of later kernels) it breaks."""
    for c in _run(era, "ext4").results:
        if c.case in ("L1", "L2") and c.kind != "memfd":
            assert c.invariants == ("no-writable-longterm-file-pin",)
            assert not any(v.promised for v in c.violations)


@pytest.mark.parametrize("fs", FILESYSTEMS)
def test_current_passes_everything_without_a_violation(fs: str) -> None:
    run = _run("current", fs)
    assert run.exit_code == 0
    assert [c for c in run.results if c.result != "pass" or c.violations] == []


def test_tap_output_is_gup_longterm_c_s() -> None:
    lines = _run("v6.2", "ext4").ksft.lines
    assert lines[:6] == [
        "TAP version 13",
        "1..30",
        "# [RUN] R/W longterm GUP pin in MAP_SHARED file mapping ... with memfd",
        "ok 1 Should have worked",
        "# [RUN] R/W longterm GUP pin in MAP_SHARED file mapping ... with tmpfile",
        "not ok 2 Should have worked",
    ]
    assert "not ok 30 Should have failed (Operation not supported)" in lines
    assert lines[-1] == "# Totals: pass:24 fail:6 xfail:0 xpass:0 skip:0 error:0"
    assert _run("v6.5", "ext4").ksft.lines[5] == "ok 2 Should have failed"


def test_table_entries_cite_commits() -> None:
    for e in entries():
        assert e.reason and e.commits, e
        assert all(len(c) == 12 for c in e.commits), e
