"""The model reproduces gup_longterm.c's recorded history, era by era and filesystem by filesystem.

The expected results are data about kernel history (gup_longterm_expected.toml),
not output of the model: these tests run the model and compare.
"""

from __future__ import annotations

from functools import cache

import pytest

from pinlab.kernel.eras import ERAS, era_by_name
from pinlab.kernel.folio import folio_maybe_dma_pinned
from pinlab.kernel.huge_mm import pmd_pfn
from pinlab.kernel.mm_types import FILESYSTEMS, pfn_folio
from pinlab.kernel.mmap import MAP_SHARED, PROT_READ, PROT_WRITE
from pinlab.kernel.process import (
    PIN_LONGTERM_TEST_FLAG_USE_FAST,
    PIN_LONGTERM_TEST_FLAG_USE_WRITE,
    PinSession,
    System,
)
from pinlab.selftests.gup_longterm import (
    HUGETLB_SIZES,
    TEST_CASES,
    GupLongtermRun,
    kinds,
    run_gup_longterm,
)
from pinlab.selftests.gup_longterm_expected import CASES, entries, expected

ERA_NAMES = [e.name for e in ERAS]


@cache
def _run(era: str, fs: str) -> GupLongtermRun:
    return run_gup_longterm(era_by_name(era), fs)


@pytest.mark.parametrize("fs", FILESYSTEMS)
@pytest.mark.parametrize("era", ERA_NAMES)
def test_model_reproduces_the_recorded_results(era: str, fs: str) -> None:
    run = _run(era, fs)
    got = {(c.case, c.kind): c for c in run.results}
    assert set(got) == {(c, k) for c in CASES for k in kinds(fs)}
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
        if c.case in ("L1", "L2") and "tmpfile" in c.kind:
            assert c.invariants == ("no-writable-longterm-file-pin",)
            assert not any(v.promised for v in c.violations)
        elif c.case in ("L1", "L2"):  # memfd and memfd hugetlb need no dirty tracking
            assert (c.result, c.invariants) == ("pass", ())


@pytest.mark.parametrize("fs", FILESYSTEMS)
def test_current_passes_everything_without_a_violation(fs: str) -> None:
    run = _run("current", fs)
    assert run.exit_code == 0
    assert [c for c in run.results if c.result != "pass" or c.violations] == []


def test_tap_output_is_gup_longterm_c_s() -> None:
    lines = _run("v6.2", "ext4").ksft.lines
    assert lines[:6] == [
        "TAP version 13",
        "1..40",
        "# [RUN] R/W longterm GUP pin in MAP_SHARED file mapping ... with memfd",
        "ok 1 Should have worked",
        "# [RUN] R/W longterm GUP pin in MAP_SHARED file mapping ... with tmpfile",
        "not ok 2 Should have worked",
    ]
    assert "not ok 39 Should have failed (Operation not supported)" in lines
    assert lines[-2:] == [
        "ok 40 Should have worked",
        "# Totals: pass:34 fail:6 xfail:0 xpass:0 skip:0 error:0",
    ]
    assert lines[-3] == (
        "# [RUN] io_uring fixed buffer with MAP_PRIVATE file mapping ... with memfd hugetlb (64 kB)"
    )
    assert _run("v6.5", "ext4").ksft.lines[5] == "ok 2 Should have failed"


def test_table_entries_cite_commits() -> None:
    for e in entries():
        assert e.reason and e.commits, e
        assert all(len(c) == 12 for c in e.commits), e


def test_memfd_hugetlb_without_free_huge_pages_is_skipped() -> None:
    """gup_longterm.c skips (not fails) a hugetlb test whose fallocate() finds the pool empty."""
    for _, _, fn in TEST_CASES:
        system = System(era_by_name("current"), strict=True, hugetlb_pages=0)
        proc = system.spawn()
        fd = system.memfd_create(hugetlb=True)
        outcome = fn(proc, fd, HUGETLB_SIZES[0])
        assert (outcome.result, outcome.message) == ("skip", "need more free huge pages")


def test_memfd_hugetlb_pins_the_huge_page() -> None:
    """The hugetlb runs really pin: a writable longterm pin of the shared huge page
    raises its folio's _pincount, and stopping the test drops it again."""
    size = HUGETLB_SIZES[0]
    for flags in (0, PIN_LONGTERM_TEST_FLAG_USE_FAST):
        system = System(era_by_name("current"), strict=True, hugetlb_pages=2)
        proc = system.spawn()
        fd = system.memfd_create(hugetlb=True)
        assert system.fallocate(fd, 0, size) == 0
        mem = proc.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        proc.memset(mem, 0, size)
        folio = pfn_folio(int(pmd_pfn(int(system.memory[proc.mm.pmd(mem)]))))
        session = proc.pin_longterm_test_start(mem, size, flags | PIN_LONGTERM_TEST_FLAG_USE_WRITE)
        assert isinstance(session, PinSession)
        assert system.run("check", folio_maybe_dma_pinned(system.cpu, folio))
        proc.pin_longterm_test_stop(session)
        assert not system.run("check", folio_maybe_dma_pinned(system.cpu, folio))
