"""The model reproduces cow.c's recorded history, era by era.

The expected results are data about kernel history (cow_expected.toml), not
output of the model: these tests run the model and compare.
"""

from __future__ import annotations

from functools import cache

import pytest

from pinlab.kernel.eras import ERAS, era_by_name
from pinlab.selftests.cow import CowRun, run_cow
from pinlab.selftests.cow_expected import CASES, KINDS, entries, expected

ERA_NAMES = [e.name for e in ERAS]


@cache
def _run(era: str) -> CowRun:
    return run_cow(era_by_name(era))


@pytest.mark.parametrize("era", ERA_NAMES)
def test_model_reproduces_the_recorded_results(era: str) -> None:
    run = _run(era)
    got = {(c.case, c.kind): c for c in run.results}
    assert set(got) == {(c, k) for c in CASES for k in KINDS[c]}
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
    assert [c for c in run.results if c.result != "pass" or c.violations] == []


def test_tap_output_is_cow_c_s() -> None:
    lines = _run("current").ksft.lines
    assert lines[:5] == [
        "TAP version 13",
        "1..37",
        "# [INFO] Anonymous memory tests in private mappings",
        "# [RUN] Basic COW after fork() ... with base page",
        "ok 1 No leak from parent into child",
    ]
    assert "# [RUN] vmsplice() + unmap in child ... with swapped out base page" in lines
    assert "# [RUN] Non-anonymous memory tests in private mappings" in lines
    assert lines[-3:] == [
        "# [RUN] R/O longterm GUP-fast pin ... with tmpfile",
        "ok 37 Longterm R/O pin is reliable",
        "# Totals: pass:37 fail:0 xfail:0 xpass:0 skip:0 error:0",
    ]


def test_table_entries_cite_commits() -> None:
    for e in entries():
        assert e.reason and e.commits, e
        assert all(len(c) == 12 for c in e.commits), e
