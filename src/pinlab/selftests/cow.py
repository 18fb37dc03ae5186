"""tools/testing/selftests/mm/cow.c on the kernel model: runners, main, and results.

The model's machine (see :mod:`pinlab.selftests.cow_kinds`) has THP (PMD size
64 KiB; mTHP 16 and 32 KiB from v6.8), one hugetlb size and the huge zero
page.  cow.c runs each anonymous case on a base page, a swapped-out base
page, the eight THP kinds per THP size (two of them only for the PMD size)
and hugetlb; the four anonymous-THP collapse cases on a PMD THP; and each
non-anonymous case on the shared zeropage, memfd, tmpfile, the huge zeropage
and memfd hugetlb (liburing assumed available, as in a full selftest build).

Each test runs on a fresh :class:`~pinlab.kernel.process.System`, so the
invariant violations found belong to that test.  Promised invariants stop the
test (reported as kselftest "error"); violations of invariants the era does
not promise are reported next to the result, as ``# [MODEL]`` lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from pinlab.kernel.checker import InvariantViolation, Violation
from pinlab.kernel.eras import Era
from pinlab.kernel.mmap import (
    MADV_NOHUGEPAGE,
    MADV_PAGEOUT,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_READ,
    PROT_WRITE,
)
from pinlab.kernel.pin import KernelBug
from pinlab.kernel.process import Process, System
from pinlab.selftests.cow_kinds import (
    DEFAULT_SETUP,
    HUGETLB_PAGES,
    HUGETLBSIZE,
    PMDSIZE,
    THP_RUN_PMD,
    THP_RUN_PMD_SWAPOUT,
    THP_RUNS,
    Setup,
    do_run_with_thp,
    run_with_huge_zeropage,
    run_with_hugetlb,
    run_with_memfd_hugetlb,
    thp_setup,
    thp_sizes,
)
from pinlab.selftests.cow_tests import (
    ANON_TEST_CASES,
    ANON_THP_TEST_CASES,
    ERROR,
    FAIL,
    NON_ANON_TEST_CASES,
    SKIP,
    AnonTest,
    NonAnonTest,
    Outcome,
)
from pinlab.selftests.ksft import Ksft

PAGESIZE: Final = 4096
EINVAL: Final = -22

ANON_KINDS: Final = (
    ("base page", "base page", False),
    ("swapped-out base page", "swapped out base page", True),
)
NON_ANON_KINDS: Final = (
    ("shared zeropage", "shared zeropage"),
    ("memfd", "memfd"),
    ("tmpfile", "tmpfile"),
)
HUGETLB_KIND: Final = f"hugetlb ({HUGETLBSIZE // 1024} kB)"
HUGE_ZEROPAGE_KIND: Final = "huge zeropage"
MEMFD_HUGETLB_KIND: Final = f"memfd hugetlb ({HUGETLBSIZE // 1024} kB)"
COLLAPSE_KIND: Final = f"THP ({PMDSIZE // 1024} kB)"


def thp_kinds(era: Era) -> list[tuple[str, int, int]]:
    """(kind, thp_run, size) in cow.c's order for each detected THP size."""
    out = []
    for size in thp_sizes(era):
        for run, name in THP_RUNS:
            if run in (THP_RUN_PMD, THP_RUN_PMD_SWAPOUT) and size != PMDSIZE:
                continue
            out.append((f"{name} ({size // 1024} kB)", run, size))
    return out


def anon_kinds(era: Era) -> list[str]:
    """Every anonymous kind cow.c runs on ``era``'s machine, in order."""
    return [k for k, _, _ in ANON_KINDS] + [k for k, _, _ in thp_kinds(era)] + [HUGETLB_KIND]


def non_anon_kinds(era: Era) -> list[str]:
    return [k for k, _ in NON_ANON_KINDS] + [HUGE_ZEROPAGE_KIND, MEMFD_HUGETLB_KIND]


@dataclass(frozen=True)
class CaseResult:
    """One test of one run: which case, on which kind of memory, and what happened."""

    case: str
    kind: str
    desc: str
    era: str
    outcome: Outcome
    violations: tuple[Violation, ...] = ()

    @property
    def result(self) -> str:
        return self.outcome.result

    @property
    def invariants(self) -> tuple[str, ...]:
        return tuple(v.invariant.id for v in self.violations)


@dataclass
class CowRun:
    """A whole cow.c run on one era: kselftest's lines and one record per test."""

    era: Era
    ksft: Ksft = field(default_factory=Ksft)
    results: list[CaseResult] = field(default_factory=list)
    exit_code: int = 0


Body = Callable[[Process], Outcome]


def _isolated(era: Era, body: Body, setup: Setup) -> tuple[Outcome, tuple[Violation, ...]]:
    """Run one test on a fresh machine; turn a broken promise into a kselftest error."""
    system = System(era, strict=True, thp_orders=setup.thp_orders, hugetlb_pages=HUGETLB_PAGES)
    proc = system.spawn()
    try:
        outcome = body(proc)
    except InvariantViolation as e:
        outcome = Outcome(ERROR, f"invariant {e.violation.invariant.id} violated")
    except KernelBug as e:
        outcome = Outcome(ERROR, str(e))
    return outcome, tuple(system.checker.observed.values())


def do_run_with_base_page(fn: AnonTest, swapout: bool) -> Body:
    def body(proc: Process) -> Outcome:
        mem = proc.mmap(PAGESIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        ret = proc.madvise(mem, PAGESIZE, MADV_NOHUGEPAGE)
        if ret and ret != EINVAL:  # ignore if not around on a kernel
            return Outcome(FAIL, "MADV_NOHUGEPAGE failed")
        proc.memset(mem, 1, PAGESIZE)  # populate a base page
        if swapout:
            proc.madvise(mem, PAGESIZE, MADV_PAGEOUT)
            if not proc.pagemap_is_swapped(mem):
                return Outcome(SKIP, "MADV_PAGEOUT did not work, is swap enabled?")
        outcome = fn(proc, mem, PAGESIZE, False)
        proc.munmap(mem, PAGESIZE)
        return outcome

    return body


def run_with_zeropage(fn: NonAnonTest) -> Body:
    def body(proc: Process) -> Outcome:
        mem = proc.mmap(PAGESIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        smem = proc.mmap(PAGESIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS)
        proc.read(mem) + proc.read(smem)  # read to populate the shared zeropage
        outcome = fn(proc, mem, smem, PAGESIZE)
        proc.munmap(mem, PAGESIZE)
        proc.munmap(smem, PAGESIZE)
        return outcome

    return body


def run_with_file(fn: NonAnonTest, memfd: bool) -> Body:
    def body(proc: Process) -> Outcome:
        system = proc.system
        fd = system.memfd_create() if memfd else system.tmpfile()
        if system.fallocate(fd, 0, PAGESIZE):  # a single page filled with zeroes
            return Outcome(FAIL, "fallocate() failed")
        mem = proc.mmap(PAGESIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        smem = proc.mmap(PAGESIZE, PROT_READ, MAP_SHARED, fd, 0)
        proc.read(mem) + proc.read(smem)  # fault the page in
        outcome = fn(proc, mem, smem, PAGESIZE)
        proc.munmap(mem, PAGESIZE)
        proc.munmap(smem, PAGESIZE)
        return outcome

    return body


def _non_anon_body(kind: str, fn: NonAnonTest) -> Body:
    if kind == "shared zeropage":
        return run_with_zeropage(fn)
    if kind == HUGE_ZEROPAGE_KIND:
        return run_with_huge_zeropage(fn)
    if kind == MEMFD_HUGETLB_KIND:
        return run_with_memfd_hugetlb(fn)
    return run_with_file(fn, memfd=kind == "memfd")


def _report(
    run: CowRun, case: str, kind: str, desc: str, body: Body, setup: Setup = DEFAULT_SETUP
) -> None:
    outcome, violations = _isolated(run.era, body, setup)
    k = run.ksft
    {
        "pass": k.test_result_pass,
        "fail": k.test_result_fail,
        "skip": k.test_result_skip,
        "xfail": k.test_result_xfail,
        "error": k.test_result_error,
    }[outcome.result](outcome.message)
    run.results.append(CaseResult(case, kind, desc, run.era.name, outcome, violations))


def run_cow(era: Era, annotate: Callable[[CaseResult], list[str]] | None = None) -> CowRun:
    """Run cow.c's main() on ``era``; ``annotate`` adds diagnostic lines after each result."""
    run = CowRun(era)
    k = run.ksft
    k.print_header()
    k.print_msg(f"[INFO] detected PMD size: {PMDSIZE // 1024} KiB")
    for size in thp_sizes(era):
        k.print_msg(f"[INFO] detected THP size: {size // 1024} KiB")
    k.print_msg("[INFO] huge zeropage is enabled")
    k.set_plan(
        len(ANON_TEST_CASES) * len(anon_kinds(era))
        + len(ANON_THP_TEST_CASES)
        + len(NON_ANON_TEST_CASES) * len(non_anon_kinds(era))
    )

    def after() -> None:
        if annotate is not None:
            k.lines.extend(f"# {line}" for line in annotate(run.results[-1]))

    k.print_msg("[INFO] Anonymous memory tests in private mappings")
    for case, desc, fn in ANON_TEST_CASES:
        for kind, label, swapout in ANON_KINDS:
            k.print_msg(f"[RUN] {desc} ... with {label}")
            _report(run, case, kind, desc, do_run_with_base_page(fn, swapout))
            after()
        for kind, thp_run, size in thp_kinds(era):
            k.print_msg(f"[RUN] {desc} ... with {kind}")
            body = do_run_with_thp(fn, thp_run, size)
            _report(run, case, kind, desc, body, thp_setup(size))
            after()
        k.print_msg(f"[RUN] {desc} ... with {HUGETLB_KIND}")
        _report(run, case, HUGETLB_KIND, desc, run_with_hugetlb(fn))
        after()
    k.print_msg("[INFO] Anonymous THP tests")
    for case, desc, fn in ANON_THP_TEST_CASES:
        k.print_msg(f"[RUN] {desc}")
        _report(run, case, COLLAPSE_KIND, desc, do_run_with_thp(fn, THP_RUN_PMD, PMDSIZE))
        after()
    k.print_msg("[RUN] Non-anonymous memory tests in private mappings")
    for case, desc, nfn in NON_ANON_TEST_CASES:
        for kind in non_anon_kinds(era):
            k.print_msg(f"[RUN] {desc} ... with {kind}")
            _report(run, case, kind, desc, _non_anon_body(kind, nfn))
            after()
    run.exit_code = k.finished()
    return run
