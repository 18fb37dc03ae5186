"""Huge PMDs and the THP settings: the helpers of include/linux/huge_mm.h and pgtable.h.

A PMD is one location per PMD-sized range (see :mod:`pinlab.kernel.pgtable`).
It holds 0 (none), ``PMD_TABLE`` (it points to a PTE table), or a leaf: a
huge PMD mapping a PMD-sized folio, encoded like a PTE (pfn, present, RW,
user, dirty, young, soft-dirty) plus x86's ``_PAGE_PSE``.  A hugetlb folio of
PMD size is mapped by such a leaf as well (the kernel's "huge pte").

The THP settings (``/sys/kernel/mm/transparent_hugepage``) are the machine's:
which anonymous orders a fault may allocate in a ``VM_HUGEPAGE`` VMA, and
whether a read fault maps the huge zero folio.  Left out: the ``always`` /
``never`` policies per VMA other than MADV_HUGEPAGE (cow.c only uses
MADV_HUGEPAGE), NUMA hinting on PMDs, PMD migration entries, PUD leaves.
Follows the linux-next trees of the v6.15-v6.19 era (docs/labels.md, §0).
"""

from __future__ import annotations

from typing import Any, Final

from pinlab.engine import Loc, kapi
from pinlab.kernel.defs import (
    HPAGE_PMD_ORDER,
    PAGE_SHIFT,
    PMD_MASK,
    PMD_SIZE,
    VM_HUGEPAGE,
    VM_HUGETLB,
    VM_NOHUGEPAGE,
    VM_SHARED,
)
from pinlab.kernel.folio import Gen
from pinlab.kernel.mm_types import HUGE_ZERO_PFN, Cpu, Folio, MmStruct, Vma, vma_is_anonymous
from pinlab.kernel.pte import (
    _PAGE_ACCESSED,
    _PAGE_DIRTY,
    _PAGE_PRESENT,
    _PAGE_RW,
    _PAGE_SOFT_DIRTY,
    _PAGE_SPECIAL,
)

_PAGE_PSE: Final = 1 << 7
_PAGE_BIT_RW: Final = _PAGE_RW.bit_length() - 1

Pmd = Any  # an int, or a dependency-tracking value holding one


# --- the PMD value ----------------------------------------------------------------
def pmd_trans_huge(pmd: Pmd) -> Any:
    """A present leaf PMD (include/linux/pgtable.h:pmd_trans_huge(), pmd_leaf())."""
    return (pmd & (_PAGE_PRESENT | _PAGE_PSE)) == (_PAGE_PRESENT | _PAGE_PSE)


def pmd_leaf(pmd: Pmd) -> Any:
    return pmd_trans_huge(pmd)


def pmd_write(pmd: Pmd) -> Any:
    return (pmd & _PAGE_RW) != 0


def pmd_dirty(pmd: Pmd) -> Any:
    return (pmd & _PAGE_DIRTY) != 0


def pmd_pfn(pmd: Pmd) -> Any:
    return pmd >> PAGE_SHIFT


def pmd_mkwrite(pmd: Pmd) -> Any:
    return pmd | _PAGE_RW


def pmd_wrprotect(pmd: Pmd) -> Any:
    return pmd & ~_PAGE_RW


def pmd_mkdirty(pmd: Pmd) -> Any:
    return pmd | _PAGE_DIRTY | _PAGE_SOFT_DIRTY


def pmd_mkclean(pmd: Pmd) -> Any:
    return pmd & ~_PAGE_DIRTY


def pmd_mkyoung(pmd: Pmd) -> Any:
    return pmd | _PAGE_ACCESSED


def pmd_mkold(pmd: Pmd) -> Any:
    return pmd & ~_PAGE_ACCESSED


def pmd_modify(pmd: Pmd, newprot: int) -> Any:
    """The leaf PMD with protection ``newprot`` (pfn, PSE, dirty, young, soft-dirty kept)."""
    return (pmd & ~(_PAGE_PRESENT | _PAGE_RW | (1 << 2))) | newprot


def mk_huge_pmd(folio: Folio, prot: int) -> Any:
    """Model of include/linux/huge_mm.h:folio_mk_pmd() (mk_huge_pmd())."""
    return (folio.pfn << PAGE_SHIFT) | prot | _PAGE_PSE


def is_huge_zero_pmd(pmd: Pmd) -> Any:
    """Model of include/linux/huge_mm.h:is_huge_zero_pmd()."""
    return pmd_trans_huge(pmd) & (pmd_pfn(pmd) == HUGE_ZERO_PFN)


def pmd_pte(pmd: Pmd, index: int) -> int:
    """The PTE a leaf PMD amounts to for its ``index``-th page (for walkers and reports).

    The huge zero folio reads as a special PTE, like the shared zero page.
    """
    pmd = int(pmd)
    pte: int = (pmd & ~_PAGE_PSE) + (index << PAGE_SHIFT)
    if pmd >> PAGE_SHIFT == HUGE_ZERO_PFN:
        pte |= _PAGE_SPECIAL
    return pte


# --- accessors ------------------------------------------------------------------------
def pmdp_get(pmdp: Loc) -> Gen:
    """Model of include/linux/pgtable.h:pmdp_get()."""
    return (yield from kapi.READ_ONCE(pmdp))


def set_pmd_at(mm: MmStruct, addr: int, pmdp: Loc, pmd: Pmd) -> Gen:
    """Model of include/linux/pgtable.h:set_pmd_at()."""
    yield from kapi.WRITE_ONCE(pmdp, pmd)


def pmdp_huge_get_and_clear(mm: MmStruct, addr: int, pmdp: Loc) -> Gen:
    """Model of arch/x86 pmdp_huge_get_and_clear() (xchg, fully ordered)."""
    return (yield from kapi.xchg(pmdp, 0))


def pmdp_huge_clear_flush(vma: Vma, addr: int, pmdp: Loc) -> Gen:
    """Model of mm/pgtable-generic.c:pmdp_huge_clear_flush() (no TLB is modelled)."""
    return (yield from pmdp_huge_get_and_clear(vma.mm, addr, pmdp))


def pmdp_invalidate(vma: Vma, addr: int, pmdp: Loc) -> Gen:
    """Model of mm/pgtable-generic.c:pmdp_invalidate(): clear present, keep the rest.

    x86 clears _PAGE_PRESENT and _PAGE_PROTNONE; GUP-fast then sees no leaf.
    Returns the old value.
    """
    old = yield from kapi.READ_ONCE(pmdp)
    yield from kapi.WRITE_ONCE(pmdp, old & ~_PAGE_PRESENT)
    return old


def pmdp_set_wrprotect(mm: MmStruct, addr: int, pmdp: Loc) -> Gen:
    """Model of arch/x86 pmdp_set_wrprotect() (clear_bit of RW)."""
    yield from kapi.clear_bit(_PAGE_BIT_RW, pmdp)


def pmd_lock(mm: MmStruct, addr: int) -> Gen:
    """Model of include/linux/mm.h:pmd_lock().

    The model has one lock per PMD-sized range for the PMD and its PTE
    table alike (the kernel's split PMD lock and PTE table lock are two).
    """
    yield from kapi.spin_lock(mm.ptl(addr))


def pmd_unlock(mm: MmStruct, addr: int) -> Gen:
    yield from kapi.spin_unlock(mm.ptl(addr))


# --- THP settings -------------------------------------------------------------------------
def thp_vma_suitable_order(vma: Vma, addr: int, order: int) -> bool:
    """Model of include/linux/huge_mm.h:thp_vma_suitable_order(): the aligned range fits."""
    size = 1 << (order + PAGE_SHIFT)
    haddr = addr & ~(size - 1)
    if vma_is_anonymous(vma):
        # Anonymous VMAs have vm_pgoff == vm_start >> PAGE_SHIFT: always aligned.
        pass
    return vma.vm_start <= haddr and haddr + size <= vma.vm_end


def thp_vma_allowable_orders(cpu: Cpu, vma: Vma, addr: int) -> list[int]:
    """Model of mm/huge_memory.c:__thp_vma_allowable_orders() for anonymous faults.

    The orders a fault at ``addr`` may allocate, largest first: enabled on
    the machine ("madvise" needs VM_HUGEPAGE), fitting in the VMA.
    """
    if not vma_is_anonymous(vma) or vma.vm_flags & (VM_SHARED | VM_HUGETLB | VM_NOHUGEPAGE):
        return []
    if not (vma.vm_flags & VM_HUGEPAGE):
        return []
    orders = sorted(cpu.machine.thp_orders, reverse=True)
    return [o for o in orders if thp_vma_suitable_order(vma, addr, o)]


def vma_thp_pmd_allowed(cpu: Cpu, vma: Vma, addr: int) -> bool:
    return HPAGE_PMD_ORDER in thp_vma_allowable_orders(cpu, vma, addr)


def pmd_range(addr: int) -> tuple[int, int]:
    haddr = addr & PMD_MASK
    return haddr, haddr + PMD_SIZE
