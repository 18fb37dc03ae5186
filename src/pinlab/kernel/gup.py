"""Slow GUP: the page loop, VMA checks, follow_page_pte() and faultin_page().

Models mm/gup.c behind the entry points (spec §2.1, docs/labels.md; in
:mod:`pinlab.kernel.gup_api`): ``__gup_longterm_locked``,
``__get_user_pages_locked``, ``__get_user_pages``, ``check_vma_flags``,
``follow_page_mask`` / ``follow_page_pte``, ``can_follow_write_pte`` and
``faultin_page``.  GUP-fast is in :mod:`pinlab.kernel.gup_fast`.

``mmap_lock`` is modelled with the engine's spinlock operations: readers
therefore exclude each other too, an approximation that only removes
interleavings of two slow-GUP/fault readers.  Faults never drop the lock
(no VM_FAULT_RETRY), so the retry loop of __get_user_pages_locked() runs once.

Eras: the forced COW break of 17839856fd58 (v5.8), FOLL_COW and
VM_FAULT_WRITE until 5535be309971 (v6.0), the unshare request (-EMLINK) of
a7f226604170 (v5.19), the file-mapping refusal of 8ac268436e6d (v6.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pinlab.engine import Cutoff, Loc, kapi
from pinlab.kernel.defs import (
    EAGAIN,
    EEXIST,
    EFAULT,
    EHWPOISON,
    EMLINK,
    ENOMEM,
    FAULT_FLAG_UNSHARE,
    FAULT_FLAG_WRITE,
    FOLL_ANON,
    FOLL_COW,
    FOLL_DUMP,
    FOLL_FORCE,
    FOLL_GET,
    FOLL_LONGTERM,
    FOLL_NOFAULT,
    FOLL_PIN,
    FOLL_REMOTE,
    FOLL_TOUCH,
    FOLL_TRIED,
    FOLL_UNLOCKABLE,
    FOLL_WRITE,
    PAGE_SIZE,
    VM_FAULT_ERROR,
    VM_FAULT_WRITE,
    VM_HUGETLB,
    VM_IO,
    VM_MAYREAD,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_PFNMAP,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
    fault_flag,
    vm_fault_reason,
)
from pinlab.kernel.folio import (
    Gen,
    PageAnon,
    PageAnonExclusive,
    folio_alloc,
    folio_mark_accessed,
    folio_mark_dirty,
    folio_test_dirty,
)
from pinlab.kernel.huge_memory import follow_huge_pmd
from pinlab.kernel.huge_mm import pmd_lock, pmd_trans_huge, pmd_unlock
from pinlab.kernel.hugetlb import hugetlb_follow_page_mask
from pinlab.kernel.internal import (
    gup_must_unshare,
    is_cow_mapping,
    mm_set_has_pinned_flag,
    vm_normal_page,
)
from pinlab.kernel.memory import handle_mm_fault
from pinlab.kernel.migrate import MR_LONGTERM_PIN, folio_isolate_lru, migrate_pages
from pinlab.kernel.mm_types import (
    Cpu,
    Folio,
    MmStruct,
    Page,
    Vma,
    folio_is_longterm_pinnable,
    is_zero_pfn,
    page_folio,
    pfn_to_page,
)
from pinlab.kernel.mprotect import pte_needs_soft_dirty_wp
from pinlab.kernel.pgtable import (
    pmd_none,
    pmdp_get_lockless,
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_get,
)
from pinlab.kernel.pin import KernelBug, gup_put_folio, try_grab_folio
from pinlab.kernel.pte import pte_dirty, pte_pfn, pte_present, pte_uffd_wp, pte_write


@dataclass
class Locked:
    """``int *locked``: whether the caller holds mmap_lock (1) or GUP should take it (0)."""

    value: int = 1


def mmap_read_lock(mm: MmStruct) -> Gen:
    """Model of include/linux/mmap_lock.h:mmap_read_lock() (an exclusive spinlock here)."""
    yield from kapi.spin_lock(mm.mmap_lock)


def mmap_read_unlock(mm: MmStruct) -> Gen:
    """Model of include/linux/mmap_lock.h:mmap_read_unlock()."""
    yield from kapi.spin_unlock(mm.mmap_lock)


def __gup_longterm_locked(
    cpu: Cpu,
    mm: MmStruct,
    start: int,
    nr_pages: int,
    pages: list[Page] | None,
    locked: Locked,
    gup_flags: int,
) -> Gen:
    """Model of mm/gup.c:__gup_longterm_locked(): pin, then make sure the pages may stay pinned.

    Pages that may not be pinned for long (ZONE_MOVABLE) are unpinned and
    migrated, and the pinning starts over (-EAGAIN), with allocations kept
    out of ZONE_MOVABLE meanwhile (memalloc_pin_save()).
    """
    if not (gup_flags & FOLL_LONGTERM) or pages is None:
        return (
            yield from __get_user_pages_locked(cpu, mm, start, nr_pages, pages, locked, gup_flags)
        )
    saved, cpu.memalloc_pin = cpu.memalloc_pin, True
    base, rc = len(pages), 0
    for _ in range(_LONGTERM_PASSES):
        rc = yield from __get_user_pages_locked(cpu, mm, start, nr_pages, pages, locked, gup_flags)
        if rc <= 0:
            break
        ret = yield from check_and_migrate_movable_pages(cpu, pages, base)
        if ret != -EAGAIN:
            rc = ret if ret else rc
            break
    else:
        yield Cutoff("__gup_longterm_locked: migration keeps asking for another pass")
    cpu.memalloc_pin = saved
    return rc


_LONGTERM_PASSES: Final = 4


def check_and_migrate_movable_pages(cpu: Cpu, pages: list[Page], base: int) -> Gen:
    """Model of mm/gup.c:check_and_migrate_movable_pages().

    All pinned folios longterm-pinnable: keep the pins (0).  Otherwise
    collect_longterm_unpinnable_folios() isolates the offenders,
    migrate_longterm_unpinnable_folios() drops every pin and migrates them
    out of ZONE_MOVABLE: -EAGAIN (pin again), or -ENOMEM if migration failed.
    Before d1e153fea2a8 (v5.13) only CMA pages were migrated; ZONE_MOVABLE
    ones stayed pinned where they were.
    """
    pinned = pages[base:]
    offenders: list[Folio] = []
    for page in pinned:
        folio = page_folio(page)
        if not folio_is_longterm_pinnable(folio) and folio not in offenders:
            offenders.append(folio)
    if not offenders or not cpu.era.longterm_pin_migrates_movable:
        return 0
    isolated = []
    for folio in offenders:
        if (yield from folio_isolate_lru(folio)):
            isolated.append(folio)
    for page in pinned:
        yield from gup_put_folio(cpu, page_folio(page), 1, FOLL_PIN)  # unpin_folio()
    del pages[base:]
    failed = yield from migrate_pages(
        cpu, cpu.machine, isolated, alloc_longterm_target, MR_LONGTERM_PIN
    )
    return -ENOMEM if failed else -EAGAIN


def alloc_longterm_target(cpu: Cpu, src: Folio) -> Gen:
    """alloc_migration_target() with GFP_USER: not movable, so never in ZONE_MOVABLE."""
    return (yield from folio_alloc(cpu, movable=False))


def __get_user_pages_locked(
    cpu: Cpu,
    mm: MmStruct,
    start: int,
    nr_pages: int,
    pages: list[Page] | None,
    locked: Locked,
    flags: int,
) -> Gen:
    """Model of mm/gup.c:__get_user_pages_locked()."""
    must_unlock = False
    if not locked.value:
        yield from mmap_read_lock(mm)
        must_unlock, locked.value = True, 1
    if flags & FOLL_PIN:
        yield from mm_set_has_pinned_flag(cpu, mm)  # before any page is pinned (I10)
    if pages is not None and not (flags & FOLL_PIN):
        flags |= FOLL_GET
    ret = yield from __get_user_pages(cpu, mm, start, nr_pages, flags, pages)
    if must_unlock and locked.value:
        yield from mmap_read_unlock(mm)
        locked.value = 0
    return ret


def check_vma_flags(cpu: Cpu, vma: Vma, gup_flags: int) -> int:
    """Model of mm/gup.c:check_vma_flags()."""
    vm_flags = vma.vm_flags
    if vm_flags & (VM_IO | VM_PFNMAP):
        return -EFAULT
    if gup_flags & FOLL_ANON and vma.vm_file is not None:
        return -EFAULT
    if gup_flags & FOLL_WRITE:
        if (
            cpu.era.no_writable_longterm_file_pins
            and vma.vm_file is not None
            and not writable_file_mapping_allowed(vma, gup_flags)
        ):
            return -EFAULT
        if not (vm_flags & VM_WRITE):
            if not (gup_flags & FOLL_FORCE):
                return -EFAULT
            if not is_cow_mapping(vm_flags):
                return -EFAULT
    elif not (vm_flags & VM_READ):
        if not (gup_flags & FOLL_FORCE):
            return -EFAULT
        if not (vm_flags & VM_MAYREAD):
            return -EFAULT
    return 0


def writable_file_mapping_allowed(vma: Vma, gup_flags: int) -> bool:
    """Model of mm/gup.c:writable_file_mapping_allowed() (8ac268436e6d, v6.5)."""
    if (gup_flags & (FOLL_PIN | FOLL_LONGTERM)) != (FOLL_PIN | FOLL_LONGTERM):
        return True
    return not vma_needs_dirty_tracking(vma)


def vma_needs_dirty_tracking(vma: Vma) -> bool:
    """Model of mm/mmap.c:vma_needs_dirty_tracking(): shared mappings of writeback filesystems."""
    if not (vma.vm_flags & VM_SHARED):
        return False
    return vma.vm_file is not None and not vma.vm_file.shmem


def should_force_cow_break(vma: Vma, flags: int) -> bool:
    """Model of mm/gup.c:should_force_cow_break() (17839856fd58, v5.8 only)."""
    return is_cow_mapping(vma.vm_flags) and bool(flags & (FOLL_GET | FOLL_PIN))


def can_follow_write_pte(cpu: Cpu, pte: int, page: Page | None, vma: Vma, flags: int) -> Gen:
    """Model of mm/gup.c:can_follow_write_pte().

    Since 5535be309971 (v6.0) FOLL_FORCE may write through a R/O PTE only to
    an exclusive anonymous page of a private mapping; before, a dirty PTE
    after a COW cycle (FOLL_COW) sufficed.
    """
    if pte_write(pte):
        return True
    if not cpu.era.foll_force_needs_exclusive:
        forced = bool(flags & FOLL_FORCE) or cpu.era.gup_breaks_cow
        return forced and bool(flags & FOLL_COW) and pte_dirty(pte)
    if not (flags & FOLL_FORCE):
        return False
    if vma.vm_flags & (VM_MAYSHARE | VM_SHARED) or not (vma.vm_flags & VM_MAYWRITE):
        return False
    if vma.vm_flags & VM_WRITE:
        return False
    if page is None or not (yield from PageAnon(page)):
        return False
    if not (yield from PageAnonExclusive(page)):
        return False
    if pte_needs_soft_dirty_wp(vma, pte):
        return False
    return not pte_uffd_wp(pte)


def follow_page_mask(cpu: Cpu, vma: Vma, address: int, flags: int) -> Gen:
    """Model of mm/gup.c:follow_page_mask(): a Page, None (fault), or -errno.

    hugetlb VMAs go to hugetlb_follow_page_mask(), a huge PMD to
    follow_huge_pmd() under the PMD lock.
    """
    if vma.vm_flags & VM_HUGETLB:
        return (yield from hugetlb_follow_page_mask(cpu, vma, address, flags))
    pmd = yield from pmdp_get_lockless(vma.mm.pmd(address))
    if pmd_trans_huge(pmd):
        yield from pmd_lock(vma.mm, address)
        pmd = yield from pmdp_get_lockless(vma.mm.pmd(address))
        if pmd_trans_huge(pmd):
            page = yield from follow_huge_pmd(cpu, vma, address, pmd, flags)
            yield from pmd_unlock(vma.mm, address)
            return page
        yield from pmd_unlock(vma.mm, address)
    if pmd_none(pmd):
        if flags & FOLL_DUMP and vma.vm_file is None:
            return -EFAULT
        return None
    return (yield from follow_page_pte(cpu, vma, address, flags))


def follow_page_pte(cpu: Cpu, vma: Vma, address: int, flags: int) -> Gen:
    """Model of mm/gup.c:follow_page_pte(): look at the PTE and grab the page, under the PTL."""
    mm = vma.mm
    ptep = yield from pte_offset_map_lock(mm, address)
    result = yield from _follow_locked(cpu, vma, address, ptep, flags)
    yield from pte_unmap_unlock(mm, address)
    return result


def _follow_locked(cpu: Cpu, vma: Vma, address: int, ptep: Loc, flags: int) -> Gen:
    pte = yield from ptep_get(ptep)
    if not pte_present(pte):
        return None
    page = vm_normal_page(vma, address, pte)
    if flags & FOLL_WRITE and not (yield from can_follow_write_pte(cpu, pte, page, vma, flags)):
        return None
    if page is None:
        if flags & FOLL_DUMP:
            return -EFAULT
        if not is_zero_pfn(pte_pfn(pte)):
            return -EFAULT if flags & (FOLL_GET | FOLL_PIN) else -EEXIST
        page = pfn_to_page(pte_pfn(pte))
    folio = page_folio(page)
    if not pte_write(pte) and (yield from gup_must_unshare(cpu, vma, flags, page)):
        return -EMLINK
    if (
        cpu.era.anon_exclusive
        and flags & FOLL_PIN
        and (yield from PageAnon(page))
        and not (yield from PageAnonExclusive(page))
    ):
        raise KernelBug(f"VM_BUG_ON_PAGE: pinning non-exclusive anonymous {page}")
    ret = yield from try_grab_folio(cpu, folio, 1, flags)
    if ret:
        return ret
    if flags & FOLL_TOUCH:
        if flags & FOLL_WRITE and not pte_dirty(pte) and not (yield from folio_test_dirty(folio)):
            yield from folio_mark_dirty(folio)
        yield from folio_mark_accessed(folio)
    return page


def vm_fault_to_errno(ret: int, foll_flags: int) -> int:
    """Model of include/linux/mm.h:vm_fault_to_errno()."""
    if ret & vm_fault_reason.VM_FAULT_OOM:
        return -ENOMEM
    if ret & vm_fault_reason.VM_FAULT_HWPOISON:
        return -EHWPOISON
    return -EFAULT


def faultin_page(cpu: Cpu, vma: Vma, address: int, flags: int, unshare: bool) -> Gen:
    """Model of mm/gup.c:faultin_page(): returns (0 or -errno, the possibly updated flags)."""
    fault_flags = 0
    if flags & FOLL_NOFAULT:
        return -EFAULT, flags
    if flags & FOLL_WRITE:
        fault_flags |= FAULT_FLAG_WRITE
    if flags & FOLL_REMOTE:
        fault_flags |= fault_flag.FAULT_FLAG_REMOTE
    if flags & FOLL_UNLOCKABLE:
        fault_flags |= fault_flag.FAULT_FLAG_ALLOW_RETRY | fault_flag.FAULT_FLAG_KILLABLE
    if flags & FOLL_TRIED:
        fault_flags |= fault_flag.FAULT_FLAG_TRIED
    if unshare:
        fault_flags |= FAULT_FLAG_UNSHARE
    ret = yield from handle_mm_fault(cpu, vma, address, fault_flags)
    if ret & VM_FAULT_ERROR:
        return vm_fault_to_errno(ret, flags), flags
    if ret & VM_FAULT_WRITE and not (vma.vm_flags & VM_WRITE):
        flags |= FOLL_COW  # we broke COW: a dirty R/O PTE may now be followed
    return 0, flags


def __get_user_pages(
    cpu: Cpu, mm: MmStruct, start: int, nr_pages: int, gup_flags: int, pages: list[Page] | None
) -> Gen:
    """Model of mm/gup.c:__get_user_pages(): follow each page, faulting as needed."""
    i, ret = 0, 0
    vma: Vma | None = None
    foll_flags = gup_flags
    while nr_pages:
        if vma is None or start >= vma.vm_end:
            vma = mm.find_vma(start)
            ret = -EFAULT if vma is None else check_vma_flags(cpu, vma, gup_flags)
            if vma is None or ret:
                break
            foll_flags = gup_flags
            if cpu.era.gup_breaks_cow and should_force_cow_break(vma, foll_flags):
                foll_flags |= FOLL_WRITE  # break COW even for reads (v5.8)
        page = yield from follow_page_mask(cpu, vma, start, foll_flags)
        if page is None or page == -EMLINK:
            ret, foll_flags = yield from faultin_page(cpu, vma, start, foll_flags, page == -EMLINK)
            if ret:
                break
            continue  # retry the same address
        if isinstance(page, int):
            if page == -EEXIST and pages is None:
                page = None  # a PTE without a struct page: fine if no pages wanted
            else:
                ret = page
                break
        if pages is not None and page is not None:
            pages.append(page)
        i += 1
        start += PAGE_SIZE
        nr_pages -= 1
    return i if i else ret
