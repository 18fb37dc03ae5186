"""Shared helpers of mm/: COW mappings, normal pages, pin bookkeeping, gup_must_unshare().

Models mm/internal.h (gup_must_unshare, folio_needs_cow_for_dma), the
is_cow_mapping() and vm_normal_page() helpers of include/linux/mm.h and
mm/memory.c, and mm_set_has_pinned_flag() of mm/gup.c.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pinlab.engine import Loc, kapi
from pinlab.kernel.barriers import barrier
from pinlab.kernel.defs import (
    FOLL_LONGTERM,
    FOLL_PIN,
    FOLL_WRITE,
    MMF_HAS_PINNED,
    PAGE_SIZE,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_SHARED,
    VM_WRITE,
    vm_flags_t,
)
from pinlab.kernel.eras import HasPinned
from pinlab.kernel.folio import (
    Gen,
    PageAnon,
    PageAnonExclusive,
    folio_maybe_dma_pinned,
)
from pinlab.kernel.mm_types import Cpu, Folio, MmStruct, Page, Vma, is_zero_pfn, pfn_to_page
from pinlab.kernel.pte import (
    pfn_pte,
    pte_advance_pfn,
    pte_clear_soft_dirty,
    pte_mkclean,
    pte_mkold,
    pte_mkwrite,
    pte_pfn,
    pte_special,
    pte_write,
    pte_wrprotect,
)


@dataclass
class VmFault:
    """struct vm_fault: one fault's working state (local to the faulting thread)."""

    vma: Vma
    address: int
    flags: int
    pte: Loc
    orig_pte: Any = 0


def maybe_mkwrite(pte: Any, vma: Vma) -> Any:
    """Model of include/linux/mm.h:maybe_mkwrite()."""
    if vma.vm_flags & VM_WRITE:
        return pte_mkwrite(pte)
    return pte


def mk_pte(folio: Folio, prot: int) -> Any:
    """Model of include/linux/mm.h:mk_pte() (folio_mk_pte())."""
    return pfn_pte(folio.pfn, prot)


def is_cow_mapping(vm_flags: vm_flags_t) -> bool:
    """Model of include/linux/mm.h:is_cow_mapping(): private and may be written."""
    return (vm_flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE


def vm_normal_page(vma: Vma, addr: int, pte: Any) -> Page | None:
    """Model of mm/memory.c:vm_normal_page(): None for special PTEs (the zero page)."""
    if pte_special(pte):
        return None
    if is_zero_pfn(pte_pfn(pte)):
        return None
    return pfn_to_page(pte_pfn(pte))


def mm_has_pinned(cpu: Cpu, mm: MmStruct) -> Gen:
    """Model of test_bit(MMF_HAS_PINNED, &mm->flags) (mm->has_pinned before v5.15)."""
    kind = cpu.era.has_pinned
    if kind is HasPinned.MMF_BIT:
        return (yield from kapi.test_bit(MMF_HAS_PINNED, mm.flags))
    if kind is HasPinned.ATOMIC:
        return (yield from kapi.atomic_read(mm.has_pinned)) != 0
    if kind is HasPinned.ONCE:
        return (yield from kapi.READ_ONCE(mm.has_pinned)) != 0
    return False


def mm_set_has_pinned_flag(cpu: Cpu, mm: MmStruct) -> Gen:
    """Model of mm/gup.c:mm_set_has_pinned_flag(): test first, to avoid bouncing the line.

    Before 292648ac5cf1 (v5.15) this was ``atomic_set(&mm->has_pinned, 1)``
    (008cfe4418b3, v5.9); before that nothing was recorded.  The design first
    posted for 008cfe4418b3 (``HasPinned.ONCE``) used ``WRITE_ONCE()``.  Under
    the LKMM both are the same event: linux-kernel.def defines atomic_set() as
    WRITE_ONCE() and atomic_read() as READ_ONCE(); neither orders anything.
    """
    kind = cpu.era.has_pinned
    if kind is HasPinned.MMF_BIT:
        if not (yield from kapi.test_bit(MMF_HAS_PINNED, mm.flags)):
            yield from kapi.set_bit(MMF_HAS_PINNED, mm.flags)
    elif kind is HasPinned.ATOMIC:
        yield from kapi.atomic_set(mm.has_pinned, 1)
    elif kind is HasPinned.ONCE:
        yield from kapi.WRITE_ONCE(mm.has_pinned, 1)


def __pte_batch_clear_ignored(pte: Any, ignore_dirty: bool, ignore_soft_dirty: bool) -> Any:
    """Model of mm/internal.h:__pte_batch_clear_ignored(): the bits a batch may differ in."""
    if ignore_dirty:
        pte = pte_mkclean(pte)
    if ignore_soft_dirty:
        pte = pte_clear_soft_dirty(pte)
    return pte_wrprotect(pte_mkold(pte))


def folio_pte_batch(
    folio: Folio,
    mm: MmStruct,
    addr: int,
    pte: Any,
    max_nr: int,
    ignore_dirty: bool,
    ignore_soft_dirty: bool,
) -> Gen:
    """Model of mm/internal.h:folio_pte_batch(): a batch of present PTEs.

    From ``addr`` (whose PTE, ``pte``, maps a page of the large ``folio``),
    the consecutive PTEs that map the folio's consecutive pages with the same
    bits, leaving out the accessed and writable bits (and dirty, soft-dirty
    when asked).  Returns ``(nr, any_writable)``: how many PTEs, at least one
    and at most ``max_nr``, and whether any PTE but the first is writable.
    """
    max_nr = min(max_nr, folio.pfn + folio.nr_pages - pte_pfn(pte))
    expected = __pte_batch_clear_ignored(pte_advance_pfn(pte, 1), ignore_dirty, ignore_soft_dirty)
    nr, any_writable = 1, False
    while nr < max_nr:
        cur = yield from kapi.READ_ONCE(mm.pte(addr + nr * PAGE_SIZE))  # ptep_get()
        if __pte_batch_clear_ignored(cur, ignore_dirty, ignore_soft_dirty) != expected:
            break
        any_writable = any_writable or bool(pte_write(cur))
        expected = pte_advance_pfn(expected, 1)
        nr += 1
    return nr, any_writable


def folio_needs_cow_for_dma(cpu: Cpu, vma: Vma, folio: Folio) -> Gen:
    """Model of include/linux/mm.h:folio_needs_cow_for_dma() (fork, under write_protect_seq)."""
    if not (yield from mm_has_pinned(cpu, vma.mm)):
        return False
    return (yield from folio_maybe_dma_pinned(cpu, folio))


def gup_must_unshare(cpu: Cpu, vma: Vma | None, flags: int, page: Page) -> Gen:
    """Model of mm/internal.h:gup_must_unshare().

    Whether a R/O pin of ``page`` (mapped R/O) must first trigger an unshare
    fault.  ``vma`` is None when called from GUP-fast, which cannot look at
    VMAs and falls back to the slow path for non-anonymous LONGTERM pins.
    Anonymous pages: since a7f226604170 (v5.19); anything in a COW mapping:
    since 84209e87c696 (v6.2).
    """
    era = cpu.era
    if not era.ro_pin_unshare_anon:
        return False
    if (flags & (FOLL_WRITE | FOLL_PIN)) != FOLL_PIN:
        return False
    if not (yield from PageAnon(page)):
        if not era.ro_longterm_unshare_cow:
            return False
        if not (flags & FOLL_LONGTERM):
            return False
        if vma is None:
            return True
        return is_cow_mapping(vma.vm_flags)
    if vma is None and era.gup_fast_pae_barriers:
        # GUP-fast (IRQs off): read PageAnonExclusive only after the pin and
        # the PTE recheck.  Pairs with the smp_mb__after_atomic() after
        # ClearPageAnonExclusive() in folio_try_share_anon_rmap_pte().
        yield from barrier(cpu, "gup_must_unshare:rmb-before-exclusive")
    return not (yield from PageAnonExclusive(page))


def is_shared_maywrite(vm_flags: vm_flags_t) -> bool:
    return bool(vm_flags & (VM_SHARED | VM_MAYSHARE))
