"""Unmapping: munmap(), MADV_DONTNEED and exit tear page tables down.

Models mm/memory.c ``zap_pte_range`` (with ``zap_present_ptes`` and the
non-present cases) and the mmu_gather rule that the references of unmapped
pages are dropped only after the TLB flush, i.e. after the PTL is released.

Pins are not consulted (spec §2.9 in docs/labels.md): a pinned page is simply unmapped and the
pin keeps the folio alive, PageAnonExclusive still set.
"""

from __future__ import annotations

from pinlab.engine import kapi
from pinlab.kernel.defs import PAGE_SIZE, PMD_SIZE, VM_HUGETLB
from pinlab.kernel.folio import (
    Gen,
    folio_mark_accessed,
    folio_mark_dirty,
    folio_put,
    folio_test_anon,
)
from pinlab.kernel.huge_memory import __split_huge_pmd, zap_huge_pmd
from pinlab.kernel.huge_mm import pmd_trans_huge
from pinlab.kernel.hugetlb import __unmap_hugepage_range
from pinlab.kernel.internal import vm_normal_page
from pinlab.kernel.mm_types import Cpu, Folio, Vma, page_folio, pfn_to_page
from pinlab.kernel.pgtable import pte_clear, ptep_get, ptep_get_and_clear
from pinlab.kernel.pte import (
    is_device_exclusive_entry,
    is_device_private_entry,
    non_swap_entry,
    pte_dirty,
    pte_none,
    pte_present,
    pte_to_swp_entry,
    pte_young,
    swp_offset,
)
from pinlab.kernel.rmap import folio_remove_rmap_pte
from pinlab.kernel.swap_state import free_swap_and_cache


def zap_pte_range(cpu: Cpu, vma: Vma, start: int, end: int) -> Gen:
    """Model of mm/memory.c:zap_pte_range(): clear the range's PTEs, then drop references."""
    mm = vma.mm
    to_put: list[Folio] = []
    addr = start
    while addr < end:
        ptl = mm.ptl(addr)
        yield from kapi.spin_lock(ptl)
        while addr < end and mm.ptl(addr) == ptl:
            yield from _zap_one(cpu, vma, addr, to_put)
            addr += PAGE_SIZE
        yield from kapi.spin_unlock(ptl)
    # tlb_finish_mmu(): the TLB is flushed, now the pages may go.
    for folio in to_put:
        yield from folio_put(folio)


def _zap_one(cpu: Cpu, vma: Vma, addr: int, to_put: list[Folio]) -> Gen:
    mm, ptep = vma.mm, vma.mm.pte(addr)
    ptent = yield from ptep_get(ptep)
    if pte_none(ptent):
        return
    if pte_present(ptent):
        page = vm_normal_page(vma, addr, ptent)
        ptent = yield from ptep_get_and_clear(mm, addr, ptep)
        if page is None:
            return  # the shared zero page: nothing to drop
        folio = page_folio(page)
        if not (yield from folio_test_anon(folio)):
            if pte_dirty(ptent):
                yield from folio_mark_dirty(folio)
            if pte_young(ptent):
                yield from folio_mark_accessed(folio)
        yield from folio_remove_rmap_pte(folio, page, vma)
        to_put.append(folio)
        return
    entry = pte_to_swp_entry(ptent)
    if is_device_exclusive_entry(entry) or is_device_private_entry(entry):
        folio = page_folio(pfn_to_page(swp_offset(entry)))
        yield from folio_remove_rmap_pte(folio, folio.page(0), vma)
        to_put.append(folio)
    elif not non_swap_entry(entry):
        yield from free_swap_and_cache(int(swp_offset(entry)))
    yield from pte_clear(mm, addr, ptep)


def zap_pmd_range(cpu: Cpu, vma: Vma, start: int, end: int) -> Gen:
    """Model of mm/memory.c:unmap_page_range() down to zap_pmd_range().

    A huge PMD the range covers whole is zapped as one (zap_huge_pmd()); one
    it covers in part is split first.  hugetlb VMAs are unmapped by
    __unmap_hugepage_range().
    """
    if vma.vm_flags & VM_HUGETLB:
        yield from __unmap_hugepage_range(cpu, vma, start, end)
        return
    addr = start
    while addr < end:
        haddr = addr & ~(PMD_SIZE - 1)
        nxt = min(end, haddr + PMD_SIZE)
        pmd = yield from kapi.READ_ONCE(vma.mm.pmd(addr))
        if pmd_trans_huge(pmd):
            if addr == haddr and nxt == haddr + PMD_SIZE:
                yield from zap_huge_pmd(cpu, vma, addr)
                addr = nxt
                continue
            yield from __split_huge_pmd(cpu, vma, addr)
        if pmd:
            yield from zap_pte_range(cpu, vma, addr, nxt)
        addr = nxt


def unmap_vmas(cpu: Cpu, vmas: list[Vma]) -> Gen:
    """Model of mm/memory.c:unmap_vmas() (exit_mmap()'s zap of every VMA)."""
    for vma in vmas:
        yield from zap_pmd_range(cpu, vma, vma.vm_start, vma.vm_end)
