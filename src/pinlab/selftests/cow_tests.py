"""The test functions of tools/testing/selftests/mm/cow.c, run on the kernel model.

Each function follows cow.c's steps and messages.  Where cow.c forks a child
that waits on a pipe, the child's code is a Python generator that yields at
the point where it waits: the parent's steps run in between, in exactly the
order the pipes impose, and the child's exit status is the generator's
return value.  Page contents are one value per page (cow.c's memset/memcmp
become a store and a comparison per page).

A test returns an :class:`Outcome`: kselftest's result and message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Final

from pinlab.kernel.defs import EINVAL, PAGE_SIZE
from pinlab.kernel.mmap import MADV_COLLAPSE, MADV_DOFORK, MADV_DONTFORK, PROT_READ, PROT_WRITE
from pinlab.kernel.process import (
    CLEAR_REFS_SOFT_DIRTY,
    PIN_LONGTERM_TEST_FLAG_USE_FAST,
    PinSession,
    Process,
)

PASS: Final = "pass"
FAIL: Final = "fail"
SKIP: Final = "skip"
XFAIL: Final = "xfail"
ERROR: Final = "error"


@dataclass(frozen=True)
class Outcome:
    """A kselftest result: ``pass``/``fail``/``skip``/``xfail``/``error`` and its message."""

    result: str
    message: str


def _result(condition: bool, msg: str) -> Outcome:
    return Outcome(PASS if condition else FAIL, msg)


Child = Generator[None, None, int]
ChildFn = Callable[[Process, int, int], Child]
AnonTest = Callable[[Process, int, int, bool], Outcome]
NonAnonTest = Callable[[Process, int, int, int], Outcome]


def _run_child(child: Child) -> int:
    """Let a waiting child run to its exit; its exit status."""
    try:
        next(child)
    except StopIteration as stop:
        return int(stop.value)
    raise RuntimeError("child waited twice")


def child_memcmp_fn(proc: Process, mem: int, size: int) -> Child:
    old = proc.memcpy(mem, size)  # backup the original content
    yield  # wait until the parent modified the page
    return 0 if proc.memcpy(mem, size) == old else 1


def child_vmsplice_memcmp_fn(proc: Process, mem: int, size: int) -> Child:
    old = proc.memcpy(mem, size)
    pipe = proc.pipe()
    transferred = proc.vmsplice(pipe, mem, size)  # trigger a read-only pin
    if transferred < 0:
        return transferred
    if transferred == 0:
        return -EINVAL
    if proc.munmap(mem, size) < 0:  # unmap it from our page tables
        return 1
    yield  # wait until the parent modified it
    new = pipe.read()  # see if we still read the old values via the pipe
    return 0 if new[: transferred // PAGE_SIZE] == old else 1


def do_test_cow_in_parent(
    proc: Process, mem: int, size: int, mprotect: bool, fn: ChildFn, xfail: bool
) -> Outcome:
    child = proc.fork()
    body = fn(child, mem, size)
    started = _start(body)
    if mprotect:
        # mprotect() optimizations might try avoiding write-faults by
        # directly mapping pages writable.
        ret = proc.mprotect(mem, size, PROT_READ)
        ret |= proc.mprotect(mem, size, PROT_READ | PROT_WRITE)
        if ret:
            _finish(child, body, started)
            return Outcome(FAIL, "mprotect() failed")
    proc.memset(mem, 0xFF, size)  # modify the page
    ret = _finish(child, body, started)
    if not ret:
        return Outcome(PASS, "No leak from parent into child")
    if xfail:
        # With hugetlb, some vmsplice() tests are expected to fail (cow.c).
        return Outcome(XFAIL, "Leak from parent into child")
    return Outcome(FAIL, "Leak from parent into child")


def _start(body: Child) -> int | None:
    """Run a child up to its wait; its exit status if it exited before waiting."""
    try:
        next(body)
    except StopIteration as stop:
        return int(stop.value)
    return None


def _finish(child: Process, body: Child, early: int | None) -> int:
    ret = early if early is not None else _run_child(body)
    child.exit()
    return ret


def test_cow_in_parent(proc: Process, mem: int, size: int, is_hugetlb: bool) -> Outcome:
    return do_test_cow_in_parent(proc, mem, size, False, child_memcmp_fn, False)


def test_cow_in_parent_mprotect(proc: Process, mem: int, size: int, is_hugetlb: bool) -> Outcome:
    return do_test_cow_in_parent(proc, mem, size, True, child_memcmp_fn, False)


def test_vmsplice_in_child(proc: Process, mem: int, size: int, is_hugetlb: bool) -> Outcome:
    return do_test_cow_in_parent(proc, mem, size, False, child_vmsplice_memcmp_fn, is_hugetlb)


def test_vmsplice_in_child_mprotect(
    proc: Process, mem: int, size: int, is_hugetlb: bool
) -> Outcome:
    return do_test_cow_in_parent(proc, mem, size, True, child_vmsplice_memcmp_fn, is_hugetlb)


def do_test_vmsplice_in_parent(
    proc: Process, mem: int, size: int, before_fork: bool, xfail: bool
) -> Outcome:
    old = proc.memcpy(mem, size)
    pipe = proc.pipe()
    transferred = 0
    if before_fork:
        transferred = proc.vmsplice(pipe, mem, size)
        if transferred <= 0:
            return Outcome(FAIL, "vmsplice() failed")
    child = proc.fork()
    if not before_fork:
        transferred = proc.vmsplice(pipe, mem, size)
        if transferred <= 0:
            child.exit()
            return Outcome(FAIL, "vmsplice() failed")
    if proc.munmap(mem, size) < 0:
        return Outcome(FAIL, "munmap() failed")
    child.memset(mem, 0xFF, size)  # modify page content in the child
    child.exit()
    new = pipe.read()
    if new[: transferred // PAGE_SIZE] == old:
        return Outcome(PASS, "No leak from child into parent")
    if xfail:
        return Outcome(XFAIL, "Leak from child into parent")
    return Outcome(FAIL, "Leak from child into parent")


def test_vmsplice_before_fork(proc: Process, mem: int, size: int, is_hugetlb: bool) -> Outcome:
    return do_test_vmsplice_in_parent(proc, mem, size, True, is_hugetlb)


def test_vmsplice_after_fork(proc: Process, mem: int, size: int, is_hugetlb: bool) -> Outcome:
    return do_test_vmsplice_in_parent(proc, mem, size, False, is_hugetlb)


def _ro_then_softdirty_then_rw(proc: Process, mem: int, size: int) -> int:
    """Map the page R/O; enable soft-dirty tracking so mprotect() cannot map it R/W again."""
    ret = proc.mprotect(mem, size, PROT_READ)
    proc.clear_refs(CLEAR_REFS_SOFT_DIRTY)
    ret |= proc.mprotect(mem, size, PROT_READ | PROT_WRITE)
    return ret


def do_test_iouring(proc: Process, mem: int, size: int, use_fork: bool) -> Outcome:
    file = proc.system.tmpfile()
    if not proc.system.era.io_uring:
        return Outcome(SKIP, "io_uring_queue_init() failed")
    # Register the range as a fixed buffer: FOLL_WRITE | FOLL_PIN | FOLL_LONGTERM.
    ring = proc.io_uring_register_buffers(mem, size)
    if not isinstance(ring, PinSession):
        return Outcome(SKIP, "io_uring_register_buffers() failed")
    child = proc.fork() if use_fork else None  # keep the child alive until done
    if child is None and _ro_then_softdirty_then_rw(proc, mem, size):
        proc.io_uring_unregister_buffers(ring)
        return Outcome(FAIL, "mprotect() failed")
    # Modify the page and write what the fixed buffer sees to the file.
    proc.memset(mem, 0xFF, size)
    if proc.io_uring_write_fixed(ring, file, 0) != size:
        outcome = Outcome(FAIL, "write_fixed failed")
    else:
        tmp = proc.system.pread(file, 0, size)
        outcome = _result(proc.memcpy(mem, size) == tmp, "Longterm R/W pin is reliable")
    if child is not None:
        child.exit()
    proc.io_uring_unregister_buffers(ring)
    return outcome


def test_iouring_ro(proc: Process, mem: int, size: int, is_hugetlb: bool) -> Outcome:
    return do_test_iouring(proc, mem, size, False)


def test_iouring_fork(proc: Process, mem: int, size: int, is_hugetlb: bool) -> Outcome:
    return do_test_iouring(proc, mem, size, True)


RO_PIN_TEST, RO_PIN_TEST_SHARED, RO_PIN_TEST_PREVIOUSLY_SHARED, RO_PIN_TEST_RO_EXCLUSIVE = range(4)


def do_test_ro_pin(proc: Process, mem: int, size: int, test: int, fast: bool) -> Outcome:
    child: Process | None = None
    if test in (RO_PIN_TEST_SHARED, RO_PIN_TEST_PREVIOUSLY_SHARED):
        # Share the pages with our child.  As the pages are not pinned, this
        # should just work.
        child = proc.fork()
        if test == RO_PIN_TEST_PREVIOUSLY_SHARED:
            child.exit()  # mapped R/O in our page tables, but no longer shared
            child = None
    elif test == RO_PIN_TEST_RO_EXCLUSIVE and _ro_then_softdirty_then_rw(proc, mem, size):
        return Outcome(FAIL, "mprotect() failed")
    # Take a R/O pin.  This should trigger unsharing.
    pin = proc.pin_longterm_test_start(mem, size, PIN_LONGTERM_TEST_FLAG_USE_FAST if fast else 0)
    if not isinstance(pin, PinSession):
        outcome = Outcome(SKIP if pin == -EINVAL else FAIL, "PIN_LONGTERM_TEST_START failed")
    else:
        proc.memset(mem, 0xFF, size)  # modify the page
        # Read back the content via the pin and test if we observed the modification.
        tmp = proc.pin_longterm_test_read(pin)
        outcome = _result(proc.memcpy(mem, size) == tmp, "Longterm R/O pin is reliable")
        proc.pin_longterm_test_stop(pin)
    if child is not None:
        child.exit()
    return outcome


def test_ro_pin_on_shared(proc: Process, mem: int, size: int, is_hugetlb: bool) -> Outcome:
    return do_test_ro_pin(proc, mem, size, RO_PIN_TEST_SHARED, False)


def test_ro_fast_pin_on_shared(proc: Process, mem: int, size: int, is_hugetlb: bool) -> Outcome:
    return do_test_ro_pin(proc, mem, size, RO_PIN_TEST_SHARED, True)


def test_ro_pin_on_ro_previously_shared(
    proc: Process, mem: int, size: int, is_hugetlb: bool
) -> Outcome:
    return do_test_ro_pin(proc, mem, size, RO_PIN_TEST_PREVIOUSLY_SHARED, False)


def test_ro_fast_pin_on_ro_previously_shared(
    proc: Process, mem: int, size: int, is_hugetlb: bool
) -> Outcome:
    return do_test_ro_pin(proc, mem, size, RO_PIN_TEST_PREVIOUSLY_SHARED, True)


def test_ro_pin_on_ro_exclusive(proc: Process, mem: int, size: int, is_hugetlb: bool) -> Outcome:
    return do_test_ro_pin(proc, mem, size, RO_PIN_TEST_RO_EXCLUSIVE, False)


def test_ro_fast_pin_on_ro_exclusive(
    proc: Process, mem: int, size: int, is_hugetlb: bool
) -> Outcome:
    return do_test_ro_pin(proc, mem, size, RO_PIN_TEST_RO_EXCLUSIVE, True)


def test_cow(proc: Process, mem: int, smem: int, size: int) -> Outcome:
    old = proc.memcpy(smem, size)  # backup the original content
    proc.memset(mem, 0xFF, size)  # modify the page
    # See if we still read the old values via the other mapping.
    return _result(proc.memcpy(smem, size) == old, "Other mapping not modified")


def test_ro_pin(proc: Process, mem: int, smem: int, size: int) -> Outcome:
    return do_test_ro_pin(proc, mem, size, RO_PIN_TEST, False)


def test_ro_fast_pin(proc: Process, mem: int, smem: int, size: int) -> Outcome:
    return do_test_ro_pin(proc, mem, size, RO_PIN_TEST, True)


# (case id, cow.c description, test function), in cow.c's order
ANON_TEST_CASES: Final[tuple[tuple[str, str, AnonTest], ...]] = (
    ("A1", "Basic COW after fork()", test_cow_in_parent),
    ("A2", "Basic COW after fork() with mprotect() optimization", test_cow_in_parent_mprotect),
    ("A3", "vmsplice() + unmap in child", test_vmsplice_in_child),
    (
        "A4",
        "vmsplice() + unmap in child with mprotect() optimization",
        test_vmsplice_in_child_mprotect,
    ),
    ("A5", "vmsplice() before fork(), unmap in parent after fork()", test_vmsplice_before_fork),
    ("A6", "vmsplice() + unmap in parent after fork()", test_vmsplice_after_fork),
    ("A7", "R/O-mapping a page registered as iouring fixed buffer", test_iouring_ro),
    ("A8", "fork() with an iouring fixed buffer", test_iouring_fork),
    ("A9", "R/O GUP pin on R/O-mapped shared page", test_ro_pin_on_shared),
    ("A10", "R/O GUP-fast pin on R/O-mapped shared page", test_ro_fast_pin_on_shared),
    (
        "A11",
        "R/O GUP pin on R/O-mapped previously-shared page",
        test_ro_pin_on_ro_previously_shared,
    ),
    (
        "A12",
        "R/O GUP-fast pin on R/O-mapped previously-shared page",
        test_ro_fast_pin_on_ro_previously_shared,
    ),
    ("A13", "R/O GUP pin on R/O-mapped exclusive page", test_ro_pin_on_ro_exclusive),
    ("A14", "R/O GUP-fast pin on R/O-mapped exclusive page", test_ro_fast_pin_on_ro_exclusive),
)
ANON_THP_COLLAPSE_UNSHARED, ANON_THP_COLLAPSE_FULLY_SHARED = range(2)
ANON_THP_COLLAPSE_LOWER_SHARED, ANON_THP_COLLAPSE_UPPER_SHARED = range(2, 4)


def do_test_anon_thp_collapse(proc: Process, mem: int, size: int, test: int) -> Outcome:
    """cow.c's do_test_anon_thp_collapse(): COW around MADV_COLLAPSE of a PTE-mapped THP."""
    # Trigger PTE-mapping the THP by temporarily mapping a single subpage R/O.
    if proc.mprotect(mem + PAGE_SIZE, PAGE_SIZE, PROT_READ):
        return Outcome(FAIL, "mprotect() failed")
    if proc.mprotect(mem + PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE):
        return Outcome(FAIL, "mprotect() failed")
    half = size // 2
    if test == ANON_THP_COLLAPSE_UNSHARED:
        ret = proc.madvise(mem, size, MADV_COLLAPSE)  # collapse before COW-sharing
        if ret:
            return Outcome(SKIP, f"MADV_COLLAPSE failed: {strerror(ret)}")
    elif test in (ANON_THP_COLLAPSE_LOWER_SHARED, ANON_THP_COLLAPSE_UPPER_SHARED):
        # Don't COW-share the upper (lower) part of the THP.
        lower = test == ANON_THP_COLLAPSE_UPPER_SHARED
        if proc.madvise(mem if lower else mem + half, half, MADV_DONTFORK):
            return Outcome(FAIL, "MADV_DONTFORK failed")
    child = proc.fork()
    if test == ANON_THP_COLLAPSE_LOWER_SHARED:
        body = child_memcmp_fn(child, mem, half)
    elif test == ANON_THP_COLLAPSE_UPPER_SHARED:
        body = child_memcmp_fn(child, mem + half, half)
    else:
        body = child_memcmp_fn(child, mem, size)
    started = _start(body)
    if test != ANON_THP_COLLAPSE_UNSHARED:
        if test != ANON_THP_COLLAPSE_FULLY_SHARED and proc.madvise(mem, size, MADV_DOFORK):
            _finish(child, body, started)
            return Outcome(FAIL, "MADV_DOFORK failed")
        ret = proc.madvise(mem, size, MADV_COLLAPSE)  # before anyone modified the page
        if ret:
            _finish(child, body, started)
            return Outcome(SKIP, f"MADV_COLLAPSE failed: {strerror(ret)}")
    proc.memset(mem, 0xFF, size)  # modify the page
    ret = _finish(child, body, started)
    return _result(not ret, "No leak from parent into child")


def strerror(ret: int) -> str:
    return os.strerror(-ret)


def test_anon_thp_collapse_unshared(proc: Process, mem: int, size: int, h: bool) -> Outcome:
    return do_test_anon_thp_collapse(proc, mem, size, ANON_THP_COLLAPSE_UNSHARED)


def test_anon_thp_collapse_fully_shared(proc: Process, mem: int, size: int, h: bool) -> Outcome:
    return do_test_anon_thp_collapse(proc, mem, size, ANON_THP_COLLAPSE_FULLY_SHARED)


def test_anon_thp_collapse_lower_shared(proc: Process, mem: int, size: int, h: bool) -> Outcome:
    return do_test_anon_thp_collapse(proc, mem, size, ANON_THP_COLLAPSE_LOWER_SHARED)


def test_anon_thp_collapse_upper_shared(proc: Process, mem: int, size: int, h: bool) -> Outcome:
    return do_test_anon_thp_collapse(proc, mem, size, ANON_THP_COLLAPSE_UPPER_SHARED)


ANON_THP_TEST_CASES: Final[tuple[tuple[str, str, AnonTest], ...]] = (
    (
        "C1",
        "Basic COW after fork() when collapsing before fork()",
        test_anon_thp_collapse_unshared,
    ),
    (
        "C2",
        "Basic COW after fork() when collapsing after fork() (fully shared)",
        test_anon_thp_collapse_fully_shared,
    ),
    (
        "C3",
        "Basic COW after fork() when collapsing after fork() (lower shared)",
        test_anon_thp_collapse_lower_shared,
    ),
    (
        "C4",
        "Basic COW after fork() when collapsing after fork() (upper shared)",
        test_anon_thp_collapse_upper_shared,
    ),
)
NON_ANON_TEST_CASES: Final[tuple[tuple[str, str, NonAnonTest], ...]] = (
    ("N1", "Basic COW", test_cow),
    ("N2", "R/O longterm GUP pin", test_ro_pin),
    ("N3", "R/O longterm GUP-fast pin", test_ro_fast_pin),
)
