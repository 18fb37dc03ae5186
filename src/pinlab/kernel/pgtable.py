"""Page-table accessors: reading, writing and locking PTEs and PMDs.

Models include/linux/pgtable.h and the x86-64 implementations behind it.  A
PTE is one 64-bit word, so ``ptep_get_lockless()`` is a single READ_ONCE
(the split-word retry loop of L6a, docs/labels.md: :mod:`pinlab.kernel.pgtable_3level`).
``ptep_get_and_clear()`` is an xchg on x86, xchg_relaxed on arm64
(:mod:`pinlab.kernel.arch`).  No CPU caches a translation; what a TLB flush
does model is the wait for the flush IPI, which a GUP-fast walk with interrupts off holds off (x86).

The PMD level is one location per 2 MiB range holding ``PMD_TABLE`` once a
PTE table has been allocated (``pte_alloc``); do_munmap() leaves empty tables
behind, :mod:`pinlab.kernel.mmu_gather` (free_pgtables()) frees them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from pinlab.engine import Loc, kapi
from pinlab.kernel.contpte import contpte_try_unfold
from pinlab.kernel.defs import PAGE_SIZE
from pinlab.kernel.folio import Gen
from pinlab.kernel.mm_types import MmStruct, Vma
from pinlab.kernel.pte import _PAGE_RW, pte_advance_pfn, pte_present

PMD_TABLE: Final = 0x1  # pmd_present() and not a leaf: points to a PTE table
_PAGE_BIT_RW: Final = _PAGE_RW.bit_length() - 1


def pmd_none(pmd: Any) -> Any:
    return pmd == 0


def pmd_present(pmd: Any) -> Any:
    return pmd != 0


def pmdp_get_lockless(pmdp: Loc) -> Gen:
    """Model of include/linux/pgtable.h:pmdp_get_lockless()."""
    return (yield from kapi.READ_ONCE(pmdp))


def pte_alloc(mm: MmStruct, addr: int) -> Gen:
    """Model of mm/memory.c:__pte_alloc(): populate the PMD with a PTE table if none."""
    pmdp = mm.pmd(addr)
    pmd = yield from kapi.READ_ONCE(pmdp)
    if pmd_none(pmd):
        yield from kapi.spin_lock(mm.page_table_lock)
        pmd = yield from kapi.READ_ONCE(pmdp)
        if pmd_none(pmd):
            # pmd_populate(): the (zeroed) table is visible before the PMD.
            yield from kapi.smp_wmb()  # pairs with the address dependency of walkers
            yield from kapi.WRITE_ONCE(pmdp, PMD_TABLE)
        yield from kapi.spin_unlock(mm.page_table_lock)


def ptep_get(ptep: Loc) -> Gen:
    """Model of include/linux/pgtable.h:ptep_get()."""
    return (yield from kapi.READ_ONCE(ptep))


def ptep_get_lockless(ptep: Loc) -> Gen:
    """Model of include/linux/pgtable.h:ptep_get_lockless() (64-bit: one READ_ONCE)."""
    return (yield from kapi.READ_ONCE(ptep))


def set_pte_at(mm: MmStruct, addr: int, ptep: Loc, pte: Any) -> Gen:
    """Model of include/linux/pgtable.h:set_pte_at()."""
    yield from kapi.WRITE_ONCE(ptep, pte)


def pte_clear(mm: MmStruct, addr: int, ptep: Loc) -> Gen:
    """Model of include/linux/pgtable.h:pte_clear()."""
    yield from kapi.WRITE_ONCE(ptep, 0)


def ptep_get_and_clear(mm: MmStruct, addr: int, ptep: Loc) -> Gen:
    """Model of ptep_get_and_clear(): arch/x86 (``xchg``, fully ordered) or
    arch/arm64/include/asm/pgtable.h (``xchg_relaxed``, unordered; a contpte
    block is unfolded first, :func:`pinlab.kernel.contpte.contpte_try_unfold`)."""
    if mm.arch.contpte:
        yield from contpte_try_unfold(mm, addr, (yield from kapi.READ_ONCE(ptep)))
    if mm.arch.ptep_get_and_clear_ordered:
        return (yield from kapi.xchg(ptep, 0))
    return (yield from kapi.xchg_relaxed(ptep, 0))


def flush_tlb_page(vma: Vma, addr: int) -> Gen:
    """Model of flush_tlb_page(): on x86 an IPI to every CPU that may cache the
    translation, waited for; a CPU in GUP-fast (interrupts off) takes it only
    when its walk is over.  Written as synchronize_rcu() against GUP-fast's
    RCU read-side section (see :mod:`pinlab.kernel.arch`).  Pairs with
    local_irq_save() in gup_fast().  Broadcast TLBI (arm64) waits for nobody,
    but arch/arm64's sequence ends with dsb(ish): a full barrier (``arm64-dsb``)."""
    return (yield from flush_tlb_range(vma, addr, addr + PAGE_SIZE))


def flush_tlb_range(vma: Vma, start: int, end: int) -> Gen:
    """Model of flush_tlb_range(): the same as flush_tlb_page() for a range."""
    arch = vma.mm.arch
    if arch.tlb_flush_ipi:
        yield from barrier_ipi()
    elif arch.tlb_flush_dsb:
        # dsb(ish) after the TLBI: the PTE clear is complete before any later
        # access.  Pairs with GUP-fast's fully ordered reference grab
        # (folio_ref_try_add()) before its PTE re-check.
        for op in kapi.smp_mb():
            yield replace(op, label="flush_tlb:dsb-ish")  # type: ignore[arg-type]


def barrier_ipi() -> Gen:
    """The wait for the flush IPI to be taken everywhere (a grace period)."""
    for op in kapi.synchronize_rcu():
        yield replace(op, label="flush_tlb:ipi-wait")  # type: ignore[arg-type]


def ptep_clear_flush(vma: Vma, addr: int, ptep: Loc) -> Gen:
    """Model of mm/pgtable-generic.c:ptep_clear_flush(): clear the PTE, then flush."""
    pte = yield from ptep_get_and_clear(vma.mm, addr, ptep)
    if pte_present(pte):
        yield from flush_tlb_page(vma, addr)
    return pte


def ptep_set_wrprotect(mm: MmStruct, addr: int, ptep: Loc) -> Gen:
    """Model of arch/x86/include/asm/pgtable.h:ptep_set_wrprotect() (clear_bit of RW)."""
    yield from kapi.clear_bit(_PAGE_BIT_RW, ptep)


def wrprotect_ptes(mm: MmStruct, addr: int, nr: int) -> Gen:
    """Model of include/linux/pgtable.h:wrprotect_ptes() (the generic loop)."""
    for i in range(nr):
        a = addr + i * PAGE_SIZE
        yield from ptep_set_wrprotect(mm, a, mm.pte(a))


def set_ptes(mm: MmStruct, addr: int, pte: Any, nr: int) -> Gen:
    """Model of include/linux/pgtable.h:set_ptes(): ``nr`` PTEs mapping consecutive pages."""
    for i in range(nr):
        a = addr + i * PAGE_SIZE
        yield from set_pte_at(mm, a, mm.pte(a), pte_advance_pfn(pte, i))


def ptep_modify_prot_start(vma: Vma, addr: int, ptep: Loc) -> Gen:
    """Model of include/linux/pgtable.h:ptep_modify_prot_start(): get and clear."""
    return (yield from ptep_get_and_clear(vma.mm, addr, ptep))


def ptep_modify_prot_commit(vma: Vma, addr: int, ptep: Loc, old: Any, pte: Any) -> Gen:
    """Model of include/linux/pgtable.h:ptep_modify_prot_commit()."""
    yield from set_pte_at(vma.mm, addr, ptep, pte)


def ptep_set_access_flags(vma: Vma, addr: int, ptep: Loc, entry: Any) -> Gen:
    """Model of mm/pgtable-generic.c:ptep_set_access_flags()."""
    cur = yield from ptep_get(ptep)
    changed = cur != entry
    if changed:
        yield from set_pte_at(vma.mm, addr, ptep, entry)
    return changed


def pte_offset_map_lock(mm: MmStruct, addr: int) -> Gen:
    """Model of include/linux/mm.h:pte_offset_map_lock(): take the PTL, return the PTE slot."""
    yield from kapi.spin_lock(mm.ptl(addr))
    return mm.pte(addr)


def pte_unmap_unlock(mm: MmStruct, addr: int) -> Gen:
    """Model of include/linux/mm.h:pte_unmap_unlock()."""
    yield from kapi.spin_unlock(mm.ptl(addr))
