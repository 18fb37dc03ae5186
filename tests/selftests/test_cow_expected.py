"""The model reproduces cow.c's recorded history, era by era.

The expected results are data about kernel history (cow_expected.toml), not
output of the model: these tests run the model and compare.
"""

from __future__ import annotations

from functools import cache

import pytest

from pinlab.kernel.eras import ERAS, era_by_name
from pinlab.selftests.cow import CowRun, run_cow
from pinlab.selftests.cow_expected import CASES, entries, expected, kinds_for

ERA_NAMES = [e.name for e in ERAS]


@cache
def _run(era: str) -> CowRun:
    return run_cow(era_by_name(era))


@pytest.mark.parametrize("era", ERA_NAMES)
def test_model_reproduces_the_recorded_results(era: str) -> None:
    run = _run(era)
    got = {(c.case, c.kind): c for c in run.results}
    assert set(got) == {(c, k) for c in CASES for k in kinds_for(era_by_name(era), c)}
    wrong = [
        f"{c.case} on {c.kind}: model {c.result}, history {expected(era, c.case, c.kind).result}"
        for c in got.values()
        if c.result != expected(era, c.case, c.kind).result
    ]
    assert wrong == []
    for c in got.values():
        exp = expected(era, c.case, c.kind)
        if exp.entry is not None and exp.entry.message:
            assert c.outcome.message == exp.entry.message


@pytest.mark.parametrize("era", ERA_NAMES)
def test_every_failure_names_what_the_era_breaks(era: str) -> None:
    for c in _run(era).results:
        assert c.result != "error", f"{c.case} {c.kind}: {c.outcome.message}"
        if c.result == "fail":
            assert c.violations, f"{c.case} on {c.kind} fails without a broken invariant"
            assert not any(v.promised for v in c.violations)


def test_current_passes_everything_without_a_violation() -> None:
    run = _run("current")
    assert run.exit_code == 0
    assert [c for c in run.results if c.result not in ("pass", "xfail") or c.violations] == []
    xfails = {(c.case, c.kind) for c in run.results if c.result == "xfail"}
    assert xfails == {(c, "hugetlb (64 kB)") for c in ("A3", "A4", "A5", "A6")}


def test_tap_output_is_cow_c_s() -> None:
    lines = _run("current").ksft.lines
    assert lines[:9] == [
        "TAP version 13",
        "# [INFO] detected PMD size: 64 KiB",
        "# [INFO] detected THP size: 16 KiB",
        "# [INFO] detected THP size: 32 KiB",
        "# [INFO] detected THP size: 64 KiB",
        "# [INFO] huge zeropage is enabled",
        "1..341",
        "# [INFO] Anonymous memory tests in private mappings",
        "# [RUN] Basic COW after fork() ... with base page",
    ]
    assert "# [RUN] Basic COW after fork() ... with partially mremap()'ed THP (16 kB)" in lines
    assert "# [RUN] Basic COW after fork() when collapsing after fork() (upper shared)" in lines
    assert "# [RUN] vmsplice() + unmap in child ... with swapped out base page" in lines
    assert "# [RUN] Non-anonymous memory tests in private mappings" in lines
    assert lines[-3:] == [
        "# [RUN] R/O longterm GUP-fast pin ... with memfd hugetlb (64 kB)",
        "ok 341 Longterm R/O pin is reliable",
        "# Totals: pass:337 fail:0 xfail:4 xpass:0 skip:0 error:0",
    ]


def test_table_entries_cite_commits() -> None:
    for e in entries():
        assert e.reason and e.commits, e
        assert all(len(c) == 12 for c in e.commits), e
