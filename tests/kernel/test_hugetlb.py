"""hugetlb on its own: fork of a pinned page, COW reuse, the pool, GUP of huge PTEs."""

from __future__ import annotations

from pinlab.kernel.defs import PMD_SIZE
from pinlab.kernel.eras import era_by_name
from pinlab.kernel.folio import PageAnonExclusive, folio_mapcount, folio_maybe_dma_pinned
from pinlab.kernel.huge_mm import pmd_pfn, pmd_trans_huge, pmd_write
from pinlab.kernel.mm_types import Folio, pfn_folio
from pinlab.kernel.mmap import (
    MAP_ANONYMOUS,
    MAP_HUGETLB,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_READ,
    PROT_WRITE,
)
from pinlab.kernel.process import PIN_LONGTERM_TEST_FLAG_USE_WRITE, PinSession, Process, System


def boot(era: str = "current", pages: int = 2) -> tuple[System, Process]:
    system = System(era_by_name(era), strict=True, hugetlb_pages=pages)
    return system, system.spawn()


def huge_anon(proc: Process, value: int = 5) -> int:
    mem = proc.mmap(PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB)
    proc.memset(mem, value, PMD_SIZE)
    return mem


def folio_at(proc: Process, addr: int) -> Folio:
    value = int(proc.system.memory[proc.mm.pmd(addr)])
    assert pmd_trans_huge(value), f"{addr:#x} has no huge PTE"
    return pfn_folio(int(pmd_pfn(value)))


def writable(proc: Process, addr: int) -> bool:
    return bool(pmd_write(int(proc.system.memory[proc.mm.pmd(addr)])))


def pin(proc: Process, addr: int, write: bool) -> PinSession:
    flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE if write else 0
    s = proc.pin_longterm_test_start(addr, PMD_SIZE, flags)
    assert isinstance(s, PinSession), s
    return s


def test_fork_shares_an_unpinned_hugetlb_page() -> None:
    system, proc = boot()
    mem = huge_anon(proc)
    folio = folio_at(proc, mem)
    child = proc.fork()
    assert folio_at(child, mem) == folio
    assert not writable(proc, mem) and not writable(child, mem)
    assert system.run("check", folio_mapcount(folio)) == 2
    assert system.memory_free_huge_pages() == 1


def test_fork_copies_a_pinned_hugetlb_page_for_the_child() -> None:
    """copy_hugetlb_page_range(): hugetlb_try_dup_anon_rmap() says -EBUSY for the
    maybe-pinned exclusive folio, so the child gets its own copy from the pool and the
    parent keeps its page mapped writable and exclusive."""
    system, proc = boot()
    mem = huge_anon(proc)
    folio = folio_at(proc, mem)
    s = pin(proc, mem, write=True)
    child = proc.fork()
    copy = folio_at(child, mem)
    assert copy != folio and folio_at(proc, mem) == folio
    assert writable(proc, mem) and system.run("check", PageAnonExclusive(folio.page(0)))
    assert system.run("check", PageAnonExclusive(copy.page(0)))
    assert system.memory_free_huge_pages() == 0
    assert child.read(mem) == 5
    child.write(mem, 9)  # the child's own page: the pinned one does not change
    assert proc.read(mem) == 5
    assert system.run("check", folio_maybe_dma_pinned(system.cpu, folio))
    proc.pin_longterm_test_stop(s)


def test_fork_before_v5_9_shares_a_pinned_hugetlb_page() -> None:
    """Before 4eae4efa2c29 fork shared the pinned folio: the parent's next write COWs
    away from the pinned page (hugetlb COW then counted mappings)."""
    _, proc = boot("v5.8")
    mem = huge_anon(proc)
    folio = folio_at(proc, mem)
    s = pin(proc, mem, write=True)
    child = proc.fork()
    assert folio_at(child, mem) == folio == folio_at(proc, mem)
    proc.write(mem, 6)
    assert folio_at(proc, mem) != folio
    proc.pin_longterm_test_stop(s)


def test_private_write_fault_copies_the_pagecache_page() -> None:
    """hugetlb_no_page() + hugetlb_wp(): a write to a MAP_PRIVATE hugetlbfs mapping gets an
    anonymous copy; the file's page stays as it was."""
    system, proc = boot()
    fd = system.memfd_create(hugetlb=True)
    assert system.fallocate(fd, 0, PMD_SIZE) == 0
    shared = proc.mmap(PMD_SIZE, PROT_READ, MAP_SHARED, fd, 0)
    private = proc.mmap(PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
    assert proc.read(shared) == 0
    proc.write(private, 3)
    assert folio_at(proc, private) != folio_at(proc, shared)
    assert system.run("check", PageAnonExclusive(folio_at(proc, private).page(0)))
    assert (proc.read(private), proc.read(shared)) == (3, 0)
    assert system.memory_free_huge_pages() == 0


def test_fallocate_with_an_empty_pool_fails_with_enospc() -> None:
    system, _ = boot(pages=0)
    fd = system.memfd_create(hugetlb=True)
    assert system.fallocate(fd, 0, PMD_SIZE) == -28  # -ENOSPC


def test_ro_pin_of_a_ro_private_mapping_in_v5_8_makes_the_pte_writable() -> None:
    """v5.8's GUP breaks COW with FOLL_WRITE even for R/O pins; hugetlb has no FOLL_COW, and
    hugetlb COW reuse then made the huge PTE writable whatever VM_WRITE said
    (set_huge_ptep_writable()).  Since 5535be309971 (v6.0) reuse checks VM_WRITE."""
    for era, expect_writable in (("v5.8", True), ("current", False)):
        system, proc = boot(era)
        mem = huge_anon(proc)
        assert proc.mprotect(mem, PMD_SIZE, PROT_READ) == 0
        assert not writable(proc, mem)
        s = pin(proc, mem, write=False)
        assert writable(proc, mem) == expect_writable, era
        assert system.run("check", folio_maybe_dma_pinned(system.cpu, folio_at(proc, mem)))
        proc.pin_longterm_test_stop(s)
