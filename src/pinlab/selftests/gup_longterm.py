"""tools/testing/selftests/mm/gup_longterm.c on the kernel model.

gup_longterm.c (David Hildenbrand, 2023) pins one page of a file mapping for
the long term -- R/W or R/O, through GUP or GUP-fast, in a MAP_SHARED or a
MAP_PRIVATE mapping, or as an io_uring fixed buffer -- and checks that the
pin succeeds exactly where the kernel supports it: R/O pins and private
mappings always, writable pins of shared mappings only on filesystems that
need no dirty tracking (tmpfs, hugetlbfs).

Each case runs on a memfd, a tmpfile() (in /tmp) and a "local" tmpfile
(mkstemp() + unlink() in the current directory), then on a memfd hugetlb per
huge page size the machine offers.  The model's machine is a kernel without
hugetlb: ``detect_hugetlb_page_sizes()`` finds none, so, as on such a
machine, the hugetlb runs do not exist and the plan is 10 x 3 = 30 tests.

Which filesystem /tmp and the current directory live on is the machine's
configuration: one run puts both on one of tmpfs, ext4, xfs, btrfs
(``--fs``).  liburing is assumed available (the io_uring cases are built), as
for cow.c.  Each test runs on a fresh :class:`~pinlab.kernel.process.System`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
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
from pinlab.selftests.cow_kinds import DEFAULT_SETUP
from pinlab.selftests.cow_tests import FAIL, PASS, SKIP, Outcome
from pinlab.selftests.ksft import Ksft

PAGESIZE: Final = 4096
HUGETLB_SIZES: Final[tuple[int, ...]] = ()  # detect_hugetlb_page_sizes(): no hugetlb
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
    if proc.system.fallocate(fd, 0, size):
        return Outcome(FAIL, "fallocate() failed")
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


def _runner(fn: TestFn, memfd: bool, fstype: str) -> Callable[[Process], Outcome]:
    """run_with_memfd() / run_with_tmpfile() / run_with_local_tmpfile()."""

    def body(proc: Process) -> Outcome:
        system = proc.system
        fd = system.memfd_create() if memfd else system.tmpfile(fstype)
        return fn(proc, fd, PAGESIZE)

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

# run_with_memfd / run_with_tmpfile / run_with_local_tmpfile: (label, memfd?)
RUNNERS: Final = (("memfd", True), ("tmpfile", False), ("local tmpfile", False))


def kind_name(label: str, fstype: str) -> str:
    """The record's kind: ``memfd``, or the tmpfile label with its filesystem."""
    return label if label == "memfd" else f"{label} ({fstype})"


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
    k.set_plan(len(TEST_CASES) * (len(RUNNERS) + len(HUGETLB_SIZES)))
    for case, desc, fn in TEST_CASES:
        for label, memfd in RUNNERS:
            k.print_msg(f"[RUN] {desc} ... with {label}")
            outcome, violations = _isolated(era, _runner(fn, memfd, fstype), DEFAULT_SETUP)
            {
                PASS: k.test_result_pass,
                FAIL: k.test_result_fail,
                SKIP: k.test_result_skip,
                "xfail": k.test_result_xfail,
                "error": k.test_result_error,
            }[outcome.result](outcome.message)
            kind = kind_name(label, fstype)
            run.results.append(CaseResult(case, kind, desc, era.name, outcome, violations))
            if annotate is not None:
                k.lines.extend(f"# {line}" for line in annotate(run.results[-1]))
    run.exit_code = k.finished()
    return run
