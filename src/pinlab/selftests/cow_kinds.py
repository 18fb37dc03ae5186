"""The memory kinds of cow.c: how each test's memory is set up, as cow.c's run_with_*().

A kind is an id (what cow.c prints after "... with"), and a runner that
sets the memory up, calls the test function, and cleans up.  The machine
(model geometry: 4 KiB pages, 64 KiB PMDs) has THP with a PMD size of
64 KiB, anonymous mTHP sizes 16 and 32 KiB where the era has mTHP (v6.8+),
one hugetlb size (64 KiB, two free huge pages), a swap device, and the huge
zero page enabled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from pinlab.kernel.defs import HPAGE_PMD_ORDER, PAGE_SIZE, PMD_SIZE
from pinlab.kernel.eras import Era
from pinlab.kernel.mmap import (
    MADV_DOFORK,
    MADV_DONTFORK,
    MADV_DONTNEED,
    MADV_HUGEPAGE,
    MADV_PAGEOUT,
    MAP_ANONYMOUS,
    MAP_HUGETLB,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)
from pinlab.kernel.process import Process
from pinlab.selftests.cow_tests import FAIL, SKIP, AnonTest, NonAnonTest, Outcome

PMDSIZE: Final = PMD_SIZE
HUGETLBSIZE: Final = PMD_SIZE
HUGETLB_PAGES: Final = 2
MTHP_ORDERS: Final = (2, 3)

Body = Callable[[Process], Outcome]


@dataclass(frozen=True)
class Setup:
    """How a test's machine is booted: the enabled anon THP orders."""

    thp_orders: frozenset[int]


DEFAULT_SETUP: Final = Setup(frozenset({HPAGE_PMD_ORDER}))


def thp_sizes(era: Era) -> list[int]:
    """detect_thp_sizes(): the PMD size, and the mTHP sizes if the era has them (ascending)."""
    orders = {HPAGE_PMD_ORDER} | (set(MTHP_ORDERS) if era.anon_mthp else set())
    return [PAGE_SIZE << o for o in sorted(orders)]


def _order(size: int) -> int:
    return (size // PAGE_SIZE).bit_length() - 1


def range_is_swapped(proc: Process, addr: int, size: int) -> bool:
    return all(proc.pagemap_is_swapped(a) for a in range(addr, addr + size, PAGE_SIZE))


THP_RUN_PMD, THP_RUN_PMD_SWAPOUT, THP_RUN_PTE, THP_RUN_PTE_SWAPOUT = range(4)
THP_RUN_SINGLE_PTE, THP_RUN_SINGLE_PTE_SWAPOUT, THP_RUN_PARTIAL_MREMAP = range(4, 7)
THP_RUN_PARTIAL_SHARED = 7

THP_RUNS: Final = (
    (THP_RUN_PMD, "THP"),
    (THP_RUN_PMD_SWAPOUT, "swapped-out THP"),
    (THP_RUN_PTE, "PTE-mapped THP"),
    (THP_RUN_PTE_SWAPOUT, "swapped-out, PTE-mapped THP"),
    (THP_RUN_SINGLE_PTE, "single PTE of THP"),
    (THP_RUN_SINGLE_PTE_SWAPOUT, "single PTE of swapped-out THP"),
    (THP_RUN_PARTIAL_MREMAP, "partially mremap()'ed THP"),
    (THP_RUN_PARTIAL_SHARED, "partially shared THP"),
)


def _thp_setup(proc: Process, thp_run: int, thpsize: int, mem: int) -> Outcome | int:
    """The switch of do_run_with_thp(): the size to test, or a result."""
    size = thpsize
    if thp_run in (THP_RUN_PTE, THP_RUN_PTE_SWAPOUT):
        # Trigger PTE-mapping the THP by temporarily mapping a single subpage R/O.
        if proc.mprotect(mem + PAGE_SIZE, PAGE_SIZE, PROT_READ):
            return Outcome(FAIL, "mprotect() failed")
        if proc.mprotect(mem + PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE):
            return Outcome(FAIL, "mprotect() failed")
    elif thp_run in (THP_RUN_SINGLE_PTE, THP_RUN_SINGLE_PTE_SWAPOUT):
        # Discard all but a single subpage of that PTE-mapped THP.
        if proc.madvise(mem + PAGE_SIZE, thpsize - PAGE_SIZE, MADV_DONTNEED):
            return Outcome(FAIL, "MADV_DONTNEED failed")
        size = PAGE_SIZE
    elif thp_run == THP_RUN_PARTIAL_SHARED:
        # Share the first page of the THP with a child and quit the child.
        if proc.madvise(mem + PAGE_SIZE, thpsize - PAGE_SIZE, MADV_DONTFORK):
            return Outcome(FAIL, "MADV_DONTFORK failed")
        proc.fork().exit()
        if proc.madvise(mem + PAGE_SIZE, thpsize - PAGE_SIZE, MADV_DOFORK):
            return Outcome(FAIL, "MADV_DOFORK failed")
    if thp_run in (THP_RUN_PMD_SWAPOUT, THP_RUN_PTE_SWAPOUT, THP_RUN_SINGLE_PTE_SWAPOUT):
        proc.madvise(mem, size, MADV_PAGEOUT)
        if not range_is_swapped(proc, mem, size):
            return Outcome(SKIP, "MADV_PAGEOUT did not work, is swap enabled?")
    return size


def do_run_with_thp(fn: AnonTest, thp_run: int, thpsize: int) -> Body:
    def body(proc: Process) -> Outcome:
        mmap_size = 2 * thpsize  # for alignment purposes
        mmap_mem = proc.mmap(mmap_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        mem = (mmap_mem + thpsize) & ~(thpsize - 1)
        mremap_mem, mremap_size = 0, thpsize // 2
        outcome = _thp_body(proc, fn, thp_run, thpsize, mem)
        if isinstance(outcome, tuple):
            outcome, mremap_mem = outcome
        proc.munmap(mmap_mem, mmap_size)
        if mremap_mem:
            proc.munmap(mremap_mem, mremap_size)
        return outcome

    return body


def _thp_body(
    proc: Process, fn: AnonTest, thp_run: int, thpsize: int, mem: int
) -> Outcome | tuple[Outcome, int]:
    if proc.madvise(mem, thpsize, MADV_HUGEPAGE):
        return Outcome(FAIL, "MADV_HUGEPAGE failed")
    proc.write(mem, 1)  # touch the first subpage: is the last one populated?
    if not proc.pagemap_is_populated(mem + thpsize - PAGE_SIZE):
        return Outcome(SKIP, "Did not get a THP populated")
    proc.memset(mem, 1, thpsize)
    if thp_run == THP_RUN_PARTIAL_MREMAP:
        mremap_size = thpsize // 2
        mremap_mem = proc.mmap(mremap_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS)
        if proc.mremap(mem + mremap_size, mremap_size, mremap_mem) != mremap_mem:
            return Outcome(FAIL, "mremap() failed"), mremap_mem
        return fn(proc, mem, mremap_size, False), mremap_mem
    size = _thp_setup(proc, thp_run, thpsize, mem)
    if isinstance(size, Outcome):
        return size
    return fn(proc, mem, size, False)


def run_with_hugetlb(fn: AnonTest) -> Body:
    def body(proc: Process) -> Outcome:
        flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB
        mem = proc.mmap(HUGETLBSIZE, PROT_READ | PROT_WRITE, flags)
        try:
            proc.memset(mem, 1, HUGETLBSIZE)  # populate a huge page
        except MemoryError:
            proc.munmap(mem, HUGETLBSIZE)
            return Outcome(SKIP, "need more free huge pages")
        # We need a total of two hugetlb pages to handle COW/unsharing properly.
        if proc.system.memory_free_huge_pages() < 1:
            proc.munmap(mem, HUGETLBSIZE)
            return Outcome(SKIP, "need more free huge pages")
        outcome = fn(proc, mem, HUGETLBSIZE, True)
        proc.munmap(mem, HUGETLBSIZE)
        return outcome

    return body


def run_with_huge_zeropage(fn: NonAnonTest) -> Body:
    def body(proc: Process) -> Outcome:
        mmap_size = 2 * PMDSIZE
        mmap_mem = proc.mmap(mmap_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        mmap_smem = proc.mmap(mmap_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS)
        mem = (mmap_mem + PMDSIZE) & ~(PMDSIZE - 1)
        smem = (mmap_smem + PMDSIZE) & ~(PMDSIZE - 1)
        ret = proc.madvise(mem, PMDSIZE, MADV_HUGEPAGE)
        ret |= proc.madvise(smem, PMDSIZE, MADV_HUGEPAGE)
        if ret:
            outcome = Outcome(FAIL, "MADV_HUGEPAGE failed")
        else:
            proc.read(mem) + proc.read(smem)  # populate the huge shared zeropage
            if not proc.pagemap_is_populated(mem + PAGE_SIZE) or not proc.pagemap_is_populated(
                smem + PAGE_SIZE
            ):
                outcome = Outcome(SKIP, "Did not get THPs populated")
            else:
                outcome = fn(proc, mem, smem, PMDSIZE)
        proc.munmap(mmap_mem, mmap_size)
        proc.munmap(mmap_smem, mmap_size)
        return outcome

    return body


def run_with_memfd_hugetlb(fn: NonAnonTest) -> Body:
    def body(proc: Process) -> Outcome:
        system = proc.system
        fd = system.memfd_create(hugetlb=True)
        if system.fallocate(fd, 0, HUGETLBSIZE):
            return Outcome(SKIP, "need more free huge pages")
        mem = proc.mmap(HUGETLBSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        smem = proc.mmap(HUGETLBSIZE, PROT_READ, MAP_SHARED, fd, 0)
        proc.read(mem) + proc.read(smem)  # fault the page in
        outcome = fn(proc, mem, smem, HUGETLBSIZE)
        proc.munmap(mem, HUGETLBSIZE)
        proc.munmap(smem, HUGETLBSIZE)
        return outcome

    return body


def thp_setup(size: int) -> Setup:
    """thp_push_settings(): only this size enabled ("always"), the PMD size "never" if other."""
    return Setup(frozenset({_order(size)}))
