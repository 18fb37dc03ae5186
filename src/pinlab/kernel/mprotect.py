"""mprotect() and soft-dirty clearing: write-protecting and upgrading PTEs.

Models mm/mprotect.c ``change_pte_range`` with ``can_change_pte_writable``
(the write-upgrade optimisation of 64fe24a3e05e, v6.0: only exclusive
anonymous pages, and never while soft-dirty tracking needs a write fault),
include/linux/mm.h ``pte_needs_soft_dirty_wp``, and fs/proc/task_mmu.c
``clear_soft_dirty`` (``echo 4 > /proc/pid/clear_refs``) with the
``pte_is_pinned`` escape of 9348b73c2e1b (v5.11).

Before 64fe24a3e05e the only write upgrade was the ``dirty_accountable`` one
for shared mappings with dirty tracking; private anonymous PTEs stayed
read-only until the next write fault.
"""

from __future__ import annotations

from typing import Any

from pinlab.kernel.defs import (
    MM_CP_TRY_CHANGE_WRITABLE,
    PAGE_SIZE,
    PMD_MASK,
    PMD_SIZE,
    VM_HUGETLB,
    VM_SHARED,
    VM_WRITE,
)
from pinlab.kernel.folio import Gen, PageAnon, PageAnonExclusive, folio_maybe_dma_pinned
from pinlab.kernel.huge_memory import __split_huge_pmd, change_huge_pmd, clear_soft_dirty_pmd
from pinlab.kernel.huge_mm import pmd_trans_huge, pmdp_get
from pinlab.kernel.internal import is_cow_mapping, mm_has_pinned, vm_normal_page
from pinlab.kernel.mm_types import Cpu, Vma, page_folio, vma_soft_dirty_enabled
from pinlab.kernel.pgtable import (
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_get,
    ptep_modify_prot_commit,
    ptep_modify_prot_start,
    set_pte_at,
)
from pinlab.kernel.pte import (
    is_swap_pte,
    is_writable_migration_entry,
    make_readable_migration_entry,
    pte_clear_soft_dirty,
    pte_dirty,
    pte_mkwrite,
    pte_modify,
    pte_present,
    pte_soft_dirty,
    pte_swp_clear_soft_dirty,
    pte_swp_mksoft_dirty,
    pte_swp_soft_dirty,
    pte_to_swp_entry,
    pte_uffd_wp,
    pte_write,
    pte_wrprotect,
    swp_entry_to_pte,
    swp_offset,
)


def pte_needs_soft_dirty_wp(vma: Vma, pte: Any) -> Any:
    """Model of include/linux/mm.h:pte_needs_soft_dirty_wp()."""
    return vma_soft_dirty_enabled(vma) and not pte_soft_dirty(pte)


def can_change_pte_writable(cpu: Cpu, vma: Vma, addr: int, pte: Any) -> Gen:
    """Model of mm/mprotect.c:can_change_pte_writable().

    Private mappings: only an exclusive anonymous page may be mapped
    writable without a write fault (I1, docs/labels.md).  Shared: only an already dirty PTE.
    """
    if not (vma.vm_flags & VM_WRITE):
        return False
    if pte_needs_soft_dirty_wp(vma, pte):
        return False
    if pte_uffd_wp(pte):
        return False
    if not (vma.vm_flags & VM_SHARED):
        page = vm_normal_page(vma, addr, pte)
        if page is None or not (yield from PageAnon(page)):
            return False
        return (yield from PageAnonExclusive(page))
    return pte_dirty(pte)


def change_pte_range(cpu: Cpu, vma: Vma, start: int, end: int, newprot: int, cp_flags: int) -> Gen:
    """Model of mm/mprotect.c:change_pte_range(): apply ``newprot`` to the range's PTEs."""
    era, mm = cpu.era, vma.mm
    for addr in range(start, end, PAGE_SIZE):
        ptep = yield from pte_offset_map_lock(mm, addr)
        oldpte = yield from ptep_get(ptep)
        if pte_present(oldpte):
            oldpte = yield from ptep_modify_prot_start(vma, addr, ptep)
            ptent = pte_modify(oldpte, newprot)
            if era.mprotect_upgrade_exclusive:
                if (
                    cp_flags & MM_CP_TRY_CHANGE_WRITABLE
                    and not pte_write(ptent)
                    and (yield from can_change_pte_writable(cpu, vma, addr, ptent))
                ):
                    ptent = pte_mkwrite(ptent)
            elif (
                _dirty_accountable(vma)
                and pte_dirty(ptent)
                and (pte_soft_dirty(ptent) or vma_soft_dirty_enabled(vma))
            ):
                ptent = pte_mkwrite(ptent)  # the pre-v6.0 upgrade: shared mappings only
            yield from ptep_modify_prot_commit(vma, addr, ptep, oldpte, ptent)
        elif is_swap_pte(oldpte):
            entry = pte_to_swp_entry(oldpte)
            if is_writable_migration_entry(entry):
                newpte = swp_entry_to_pte(make_readable_migration_entry(swp_offset(entry)))
                if pte_swp_soft_dirty(oldpte):
                    newpte = pte_swp_mksoft_dirty(newpte)
                yield from set_pte_at(mm, addr, ptep, newpte)
        yield from pte_unmap_unlock(mm, addr)


def change_pmd_range(cpu: Cpu, vma: Vma, start: int, end: int, newprot: int, cp_flags: int) -> Gen:
    """Model of mm/mprotect.c:change_pmd_range(): whole huge PMDs at once, partial ones split.

    hugetlb VMAs: hugetlb_change_protection() (the same on each huge PTE).
    """
    addr = start
    while addr < end:
        haddr = addr & PMD_MASK
        nxt = min(end, haddr + PMD_SIZE)
        pmd = yield from pmdp_get(vma.mm.pmd(addr))
        if pmd_trans_huge(pmd):
            whole = addr == haddr and nxt == haddr + PMD_SIZE
            if whole or vma.vm_flags & VM_HUGETLB:
                yield from change_huge_pmd(cpu, vma, addr, newprot, cp_flags)
                addr = nxt
                continue
            yield from __split_huge_pmd(cpu, vma, addr)
        if pmd:
            yield from change_pte_range(cpu, vma, addr, nxt, newprot, cp_flags)
        addr = nxt


def _dirty_accountable(vma: Vma) -> bool:
    return bool(vma.vm_flags & VM_SHARED) and bool(vma.vm_flags & VM_WRITE)


def pte_is_pinned(cpu: Cpu, vma: Vma, addr: int, pte: Any) -> Gen:
    """Model of fs/proc/task_mmu.c:pte_is_pinned() (9348b73c2e1b, v5.11)."""
    if not pte_write(pte):
        return False
    if not is_cow_mapping(vma.vm_flags):
        return False
    if not (yield from mm_has_pinned(cpu, vma.mm)):
        return False
    page = vm_normal_page(vma, addr, pte)
    if page is None:
        return False
    return (yield from folio_maybe_dma_pinned(cpu, page_folio(page)))


def clear_soft_dirty(cpu: Cpu, vma: Vma, addr: int) -> Gen:
    """Model of fs/proc/task_mmu.c:clear_soft_dirty(): write-protect and clear soft-dirty.

    Called with the PTL held.  Since v5.11 a writable PTE of a maybe-pinned
    page in a COW mapping is skipped: write-protecting it would make the
    next write copy the page away from the pin.
    """
    ptep = vma.mm.pte(addr)
    ptent = yield from ptep_get(ptep)
    if pte_present(ptent):
        if cpu.era.clear_refs_skips_pinned and (yield from pte_is_pinned(cpu, vma, addr, ptent)):
            return
        old = yield from ptep_modify_prot_start(vma, addr, ptep)
        ptent = pte_clear_soft_dirty(pte_wrprotect(old))
        yield from ptep_modify_prot_commit(vma, addr, ptep, old, ptent)
    elif is_swap_pte(ptent):
        yield from set_pte_at(vma.mm, addr, ptep, pte_swp_clear_soft_dirty(ptent))


def clear_refs_soft_dirty_range(cpu: Cpu, vma: Vma) -> Gen:
    """Model of fs/proc/task_mmu.c:clear_refs_pte_range() for CLEAR_REFS_SOFT_DIRTY.

    A huge PMD is handled whole (clear_soft_dirty_pmd()); hugetlb VMAs are
    not walked (the kernel skips them too).
    """
    if vma.vm_flags & VM_HUGETLB:
        return
    for addr in range(vma.vm_start, vma.vm_end, PAGE_SIZE):
        pmd = yield from pmdp_get(vma.mm.pmd(addr))
        if pmd_trans_huge(pmd):
            if addr & ~PMD_MASK == 0:
                yield from pte_offset_map_lock(vma.mm, addr)  # pmd_trans_huge_lock()
                yield from clear_soft_dirty_pmd(cpu, vma, addr)
                yield from pte_unmap_unlock(vma.mm, addr)
            continue
        if not pmd:
            continue
        yield from pte_offset_map_lock(vma.mm, addr)
        yield from clear_soft_dirty(cpu, vma, addr)
        yield from pte_unmap_unlock(vma.mm, addr)
