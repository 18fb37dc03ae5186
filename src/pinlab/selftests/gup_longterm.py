"""tools/testing/selftests/mm/gup_longterm.c on the kernel model.

gup_longterm.c (David Hildenbrand, 2023) pins one page of a file mapping for
the long term -- R/W or R/O, through GUP or GUP-fast, in a MAP_SHARED or a
MAP_PRIVATE mapping, or as an io_uring fixed buffer -- and checks that the
pin succeeds exactly where the kernel supports it: R/O pins and private
mappings always, writable pins of shared mappings only on filesystems that
need no dirty tracking (tmpfs, hugetlbfs).

Each case runs on a memfd, a tmpfile() (in /tmp) and a "local" tmpfile
(mkstemp() + unlink() in the current directory), then on a memfd hugetlb per
huge page size the machine offers.  The model's machine is cow.c's (see
:mod:`pinlab.selftests.cow_kinds`): one hugetlb size, 64 KiB, with two free
huge pages, so ``detect_hugetlb_page_sizes()`` finds one size and the plan is
10 x 4 = 40 tests.  hugetlbfs needs no dirty tracking: every pin on it is
expected to work.  With the pool empty, fallocate() fails and the hugetlb
test is skipped ("need more free huge pages"), as gup_longterm.c does.

Which filesystem /tmp and the current directory live on is the machine's
configuration: one run puts both on one of tmpfs, ext4, xfs, btrfs
(``--fs``).  liburing is assumed available (the io_uring cases are built), as
for cow.c.  Each test runs on a fresh :class:`~pinlab.kernel.process.System`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from pinlab.kernel.defs import EFAULT, EINVAL, ENOSPC, EOPNOTSUPP
from pinlab.kernel.eras import Era
from pinlab.kernel.mm_types import AddressSpace
from pinlab.kernel.mmap import MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE
from pinlab.kernel.process import (
    PIN_LONGTERM_TEST_FLAG_USE_FAST,
    PIN_LONGTERM_TEST_FLAG_USE_WRITE,
    PinSession,
    Process,
)
from pinlab.selftests.cow import CaseResult, _isolated
from pinlab.selftests.cow_kinds import DEFAULT_SETUP, HUGETLBSIZE
from pinlab.selftests.cow_tests import FAIL, PASS, SKIP, Outcome
from pinlab.selftests.ksft import Ksft

PAGESIZE: Final = 4096
HUGETLB_SIZES: Final[tuple[int, ...]] = (HUGETLBSIZE,)  # detect_hugetlb_page_sizes()
_STRERROR: Final = {
    EFAULT: "Bad address",
    EINVAL: "Invalid argument",
    ENOSPC: "No space left on device",
    EOPNOTSUPP: "Operation not supported",
}
_ENOSYS: Final = 38


def strerror(errno: int) -> str:
    return _STRERROR.get(errno, f"Unknown error {errno}")


class TestType(enum.Enum):
    """enum test_type."""

    RO = "ro"
    RO_FAST = "ro-fast"
    RW = "rw"
    RW_FAST = "rw-fast"
    IOURING = "iouring"


def fs_is_unknown(fstype: str) -> bool:
    """gup_longterm.c:fs_is_unknown(): filesystems whose R/W longterm pin support is known."""
    return fstype not in ("tmpfs", "hugetlbfs", "btrfs", "ext4", "xfs")


def fs_supports_writable_longterm_pinning(fstype: str) -> bool:
    """gup_longterm.c:fs_supports_writable_longterm_pinning()."""
    return fstype in ("tmpfs", "hugetlbfs")


def do_test(proc: Process, fd: AddressSpace, size: int, type_: TestType, shared: bool) -> Outcome:
    """gup_longterm.c:do_test()."""
    ret = proc.system.fallocate(fd, 0, size)
    if ret:
        if size == PAGESIZE:
            return Outcome(FAIL, f"fallocate() failed ({strerror(-ret)})")
        return Outcome(SKIP, "need more free huge pages")
    mem = proc.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED if shared else MAP_PRIVATE, fd, 0)
    proc.memset(mem, 0, size)  # fault in the page such that GUP-fast can pin it directly
    if type_ is TestType.IOURING:
        outcome = _iouring(proc, fd, mem, size, shared)
    else:
        outcome = _pin(proc, fd, mem, size, type_, shared)
    proc.munmap(mem, size)
    return outcome


def _pin(
    proc: Process, fd: AddressSpace, mem: int, size: int, type_: TestType, shared: bool
) -> Outcome:
    if type_ in (TestType.RO, TestType.RO_FAST) and proc.mprotect(mem, size, PROT_READ):
        return Outcome(FAIL, "mprotect() failed")
    fast = type_ in (TestType.RO_FAST, TestType.RW_FAST)
    rw = type_ in (TestType.RW, TestType.RW_FAST)
    if rw and shared and fs_is_unknown(fd.fstype):
        return Outcome(SKIP, "Unknown filesystem")
    # R/O pinning or pinning in a private mapping is always expected to
    # work; long-term R/W pinning only on some filesystems.
    should_work = not shared or not rw or fs_supports_writable_longterm_pinning(fd.fstype)
    flags = PIN_LONGTERM_TEST_FLAG_USE_FAST if fast else 0
    flags |= PIN_LONGTERM_TEST_FLAG_USE_WRITE if rw else 0
    ret = proc.pin_longterm_test_start(mem, size, flags)
    if ret == -EINVAL:
        return Outcome(SKIP, "PIN_LONGTERM_TEST_START failed (EINVAL)n")
    if ret == -EFAULT:
        return Outcome(PASS if not should_work else FAIL, "Should have failed")
    if not isinstance(ret, PinSession):
        return Outcome(FAIL, f"PIN_LONGTERM_TEST_START failed ({strerror(-ret)})")
    proc.pin_longterm_test_stop(ret)
    return Outcome(PASS if should_work else FAIL, "Should have worked")


def _iouring(proc: Process, fd: AddressSpace, mem: int, size: int, shared: bool) -> Outcome:
    # io_uring always pins pages writable.
    if shared and fs_is_unknown(fd.fstype):
        return Outcome(SKIP, "Unknown filesystem")
    should_work = not shared or fs_supports_writable_longterm_pinning(fd.fstype)
    if not proc.system.era.io_uring:
        # Skip on errors, as we might just lack kernel support.
        return Outcome(SKIP, f"io_uring_queue_init() failed ({_ENOSYS_MSG})")
    ret = proc.io_uring_register_buffers(mem, size)
    if isinstance(ret, PinSession):
        proc.io_uring_unregister_buffers(ret)
        return Outcome(PASS if should_work else FAIL, "Should have worked")
    if -ret in (ENOSPC, EOPNOTSUPP, EFAULT):  # only new kernels return EFAULT
        return Outcome(PASS if not should_work else FAIL, f"Should have failed ({strerror(-ret)})")
    return Outcome(SKIP, f"io_uring_register_buffers() failed ({strerror(-ret)})")


_ENOSYS_MSG: Final = "Function not implemented"


TestFn = Callable[[Process, AddressSpace, int], Outcome]


def _case(type_: TestType, shared: bool) -> TestFn:
    def fn(proc: Process, fd: AddressSpace, size: int) -> Outcome:
        return do_test(proc, fd, size, type_, shared)

    return fn


Body = Callable[[Process], Outcome]


def run_with_memfd(fn: TestFn) -> Body:
    """gup_longterm.c:run_with_memfd(): a memfd (shmem) of one page."""

    def body(proc: Process) -> Outcome:
        return fn(proc, proc.system.memfd_create(), PAGESIZE)

    return body


def run_with_tmpfile(fn: TestFn, fstype: str) -> Body:
    """run_with_tmpfile() and run_with_local_tmpfile(): an unlinked file of one page.

    tmpfile() lives in /tmp, the local one (mkstemp() + unlink()) in the
    current directory; one run puts both on ``fstype``, so both are the
    same to the model.
    """

    def body(proc: Process) -> Outcome:
        return fn(proc, proc.system.tmpfile(fstype), PAGESIZE)

    return body


def run_with_memfd_hugetlb(fn: TestFn, hugetlbsize: int) -> Body:
    """gup_longterm.c:run_with_memfd_hugetlb(): a MFD_HUGETLB memfd of one huge page."""

    def body(proc: Process) -> Outcome:
        return fn(proc, proc.system.memfd_create(hugetlb=True), hugetlbsize)

    return body


# (case id, description, test function); ids are the model's (spec 4.2 order).
TEST_CASES: Final = (
    ("L1", "R/W longterm GUP pin in MAP_SHARED file mapping", _case(TestType.RW, True)),
    ("L2", "R/W longterm GUP-fast pin in MAP_SHARED file mapping", _case(TestType.RW_FAST, True)),
    ("L3", "R/O longterm GUP pin in MAP_SHARED file mapping", _case(TestType.RO, True)),
    ("L4", "R/O longterm GUP-fast pin in MAP_SHARED file mapping", _case(TestType.RO_FAST, True)),
    ("L5", "R/W longterm GUP pin in MAP_PRIVATE file mapping", _case(TestType.RW, False)),
    ("L6", "R/W longterm GUP-fast pin in MAP_PRIVATE file mapping", _case(TestType.RW_FAST, False)),
    ("L7", "R/O longterm GUP pin in MAP_PRIVATE file mapping", _case(TestType.RO, False)),
    ("L8", "R/O longterm GUP-fast pin in MAP_PRIVATE file mapping", _case(TestType.RO_FAST, False)),
    ("L9", "io_uring fixed buffer with MAP_SHARED file mapping", _case(TestType.IOURING, True)),
    ("L10", "io_uring fixed buffer with MAP_PRIVATE file mapping", _case(TestType.IOURING, False)),
)

Runner = Callable[[TestFn], Body]


def runs(fstype: str) -> list[tuple[str, str, Runner]]:
    """run_test_case(): (kind, label, runner) in gup_longterm.c's order.

    The kind is the record's name (a tmpfile's names its filesystem); the
    label is what gup_longterm.c prints after "... with".
    """
    on_fs = partial(_on_fs, fstype=fstype)
    out: list[tuple[str, str, Runner]] = [
        ("memfd", "memfd", run_with_memfd),
        (f"tmpfile ({fstype})", "tmpfile", on_fs),
        (f"local tmpfile ({fstype})", "local tmpfile", on_fs),
    ]
    for size in HUGETLB_SIZES:
        kind = hugetlb_kind(size)
        out.append((kind, kind, partial(_hugetlb, hugetlbsize=size)))
    return out


def _on_fs(fn: TestFn, fstype: str) -> Body:
    return run_with_tmpfile(fn, fstype)


def _hugetlb(fn: TestFn, hugetlbsize: int) -> Body:
    return run_with_memfd_hugetlb(fn, hugetlbsize)


def hugetlb_kind(size: int) -> str:
    return f"memfd hugetlb ({size // 1024} kB)"


def kinds(fstype: str) -> list[str]:
    return [kind for kind, _, _ in runs(fstype)]


@dataclass
class GupLongtermRun:
    """A whole gup_longterm.c run on one era and one filesystem."""

    era: Era
    fstype: str
    ksft: Ksft = field(default_factory=Ksft)
    results: list[CaseResult] = field(default_factory=list)
    exit_code: int = 0


def run_gup_longterm(
    era: Era, fstype: str, annotate: Callable[[CaseResult], list[str]] | None = None
) -> GupLongtermRun:
    """gup_longterm.c's main() on ``era``, /tmp and the cwd on ``fstype``."""
    run = GupLongtermRun(era, fstype)
    k = run.ksft
    k.print_header()
    k.set_plan(len(TEST_CASES) * len(runs(fstype)))
    for case, desc, fn in TEST_CASES:
        for kind, label, runner in runs(fstype):
            k.print_msg(f"[RUN] {desc} ... with {label}")
            outcome, violations = _isolated(era, runner(fn), DEFAULT_SETUP)
            {
                PASS: k.test_result_pass,
                FAIL: k.test_result_fail,
                SKIP: k.test_result_skip,
                "xfail": k.test_result_xfail,
                "error": k.test_result_error,
            }[outcome.result](outcome.message)
            run.results.append(CaseResult(case, kind, desc, era.name, outcome, violations))
            if annotate is not None:
                k.lines.extend(f"# {line}" for line in annotate(run.results[-1]))
    run.exit_code = k.finished()
    return run
