"""hugetlb: faults, COW, fork, unmap and GUP of hugetlb folios.

Models mm/hugetlb.c ``hugetlb_fault``, ``hugetlb_no_page``, ``hugetlb_wp``,
``copy_hugetlb_page_range``, ``__unmap_hugepage_range``,
``hugetlb_follow_page_mask``, ``alloc_hugetlb_folio`` / ``free_huge_folio``
(the pool) and the hugetlbfs fallocate that fills a memfd.  The machine has
one huge page size, the PMD size; a huge PTE is a leaf in the PMD location
(:mod:`pinlab.kernel.huge_mm`) and its lock is the PMD-range lock.

hugetlb COW reuse has always counted mappings, not references: a folio
mapped once (and anonymous) is reused however many GUP references exist.
The kernel keeps it so on purpose (hugetlb pages cannot be overcommitted,
and the fault path holds an extra reference), so cow.c's vmsplice() cases
fail on hugetlb by design and are flagged XFAIL since May 2024.  Exclusive
folios can be pinned since 6c287605fd56 (v5.19): PageAnonExclusive is on the
head page only.  fork() copies a maybe-pinned hugetlb folio since
4eae4efa2c29 (v5.9, with the PTE-level early COW).

Left out: reservations (a private mapping's COW may fail with VM_FAULT_OOM
when the pool is empty, where the kernel would unmap the page from the
children), hugetlb VMA locks and PMD sharing, userfaultfd.
"""

from __future__ import annotations

from pinlab.engine import kapi
from pinlab.kernel.defs import (
    EBUSY,
    EMLINK,
    ENOSPC,
    FAULT_FLAG_UNSHARE,
    FAULT_FLAG_WRITE,
    FOLL_PIN,
    FOLL_WRITE,
    HPAGE_PMD_ORDER,
    PAGE_SIZE,
    PMD_MASK,
    PMD_SIZE,
    VM_FAULT_OOM,
    VM_SHARED,
    VM_WRITE,
)
from pinlab.kernel.folio import (
    Gen,
    PageAnonExclusive,
    SetPageAnonExclusive,
    __folio_mark_uptodate,
    copy_user_large_folio,
    folio_alloc_large,
    folio_get,
    folio_mapcount,
    folio_put,
    folio_test_anon,
)
from pinlab.kernel.huge_mm import (
    mk_huge_pmd,
    pmd_mkdirty,
    pmd_mkold,
    pmd_mkwrite,
    pmd_mkyoung,
    pmd_pfn,
    pmd_trans_huge,
    pmd_write,
    pmd_wrprotect,
    pmdp_get,
    pmdp_huge_get_and_clear,
    pmdp_set_wrprotect,
    set_pmd_at,
)
from pinlab.kernel.internal import folio_needs_cow_for_dma, gup_must_unshare, is_cow_mapping
from pinlab.kernel.mm_types import (
    FREE_HUGE_PAGES,
    AddressSpace,
    Cpu,
    Folio,
    Vma,
    linear_page_index,
    pfn_folio,
)
from pinlab.kernel.pin import KernelBug, try_grab_folio
from pinlab.kernel.rmap import anon_vma_prepare, folio_move_anon_rmap
from pinlab.kernel.rmap_large import (
    hugetlb_add_file_rmap,
    hugetlb_add_new_anon_rmap,
    hugetlb_remove_rmap,
    hugetlb_try_dup_anon_rmap,
)


def _lock(vma: Vma, haddr: int) -> Gen:
    """Model of include/linux/hugetlb.h:huge_pte_lock() (the PMD-range lock)."""
    yield from kapi.spin_lock(vma.mm.ptl(haddr))


def _unlock(vma: Vma, haddr: int) -> Gen:
    yield from kapi.spin_unlock(vma.mm.ptl(haddr))


def alloc_hugetlb_folio(cpu: Cpu) -> Gen:
    """Model of mm/hugetlb.c:alloc_hugetlb_folio(): a folio from the pool, or None."""
    while True:
        free = yield from kapi.atomic_read(FREE_HUGE_PAGES)
        if free <= 0:
            return None
        if (yield from kapi.atomic_cmpxchg(FREE_HUGE_PAGES, free, free - 1)) == free:
            break
    folio = yield from folio_alloc_large(cpu, HPAGE_PMD_ORDER, hugetlb=True)
    yield from __folio_mark_uptodate(folio)
    return folio


def make_huge_pte(vma: Vma, folio: Folio, writable: bool) -> int:
    """Model of mm/hugetlb.c:make_huge_pte()."""
    entry = int(mk_huge_pmd(folio, vma.vm_page_prot))
    if writable:
        entry = int(pmd_mkwrite(pmd_mkdirty(entry)))
    return int(pmd_mkyoung(entry))


def _index(vma: Vma, haddr: int) -> int:
    return linear_page_index(vma, haddr) >> HPAGE_PMD_ORDER


def hugetlbfs_fallocate(cpu: Cpu, file: AddressSpace, index: int) -> Gen:
    """Model of fs/hugetlbfs/inode.c:hugetlbfs_fallocate() for one huge page: -ENOSPC if none."""
    if (yield from kapi.READ_ONCE(file.i_pages(index))):
        return 0
    folio = yield from alloc_hugetlb_folio(cpu)
    if folio is None:
        return -ENOSPC
    yield from kapi.WRITE_ONCE(folio.index, index)
    yield from kapi.WRITE_ONCE(folio.mapping, file.mapping_value)
    yield from kapi.WRITE_ONCE(file.i_pages(index), folio.pfn)  # the cache keeps the reference
    return 0


def hugetlb_fault(cpu: Cpu, vma: Vma, address: int, flags: int) -> Gen:
    """Model of mm/hugetlb.c:hugetlb_fault()."""
    haddr = address & PMD_MASK
    ptep = vma.mm.pmd(haddr)
    entry = yield from pmdp_get(ptep)
    if entry == 0:
        return (yield from hugetlb_no_page(cpu, vma, haddr, flags))
    yield from _lock(vma, haddr)
    if (yield from pmdp_get(ptep)) != entry:
        yield from _unlock(vma, haddr)
        return 0
    if flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE) and not pmd_write(entry):
        return (yield from hugetlb_wp(cpu, vma, haddr, flags, int(entry)))  # releases the lock
    new = pmd_mkyoung(entry)
    if flags & FAULT_FLAG_WRITE:
        new = pmd_mkdirty(new)
    yield from set_pmd_at(vma.mm, haddr, ptep, new)
    yield from _unlock(vma, haddr)
    return 0


def hugetlb_no_page(cpu: Cpu, vma: Vma, haddr: int, flags: int) -> Gen:
    """Model of mm/hugetlb.c:hugetlb_no_page(): a new anon folio or the pagecache folio."""
    write = bool(flags & FAULT_FLAG_WRITE)
    file = vma.vm_file
    anon = file is None
    if anon:
        yield from anon_vma_prepare(vma)  # vmf_anon_prepare()
        folio = yield from alloc_hugetlb_folio(cpu)
        if folio is None:
            return VM_FAULT_OOM
    else:
        assert file is not None
        pfn = yield from kapi.READ_ONCE(file.i_pages(_index(vma, haddr)))
        if not pfn:
            return VM_FAULT_OOM  # holes are not faulted in: cow.c fallocate()s first
        folio = pfn_folio(int(pfn))
        yield from folio_get(folio)  # the mapping's reference
    ptep = vma.mm.pmd(haddr)
    yield from _lock(vma, haddr)
    if (yield from pmdp_get(ptep)) != 0:
        yield from _unlock(vma, haddr)
        yield from folio_put(folio)
        return 0
    if anon:
        yield from hugetlb_add_new_anon_rmap(cpu, folio, vma, haddr)
        entry = make_huge_pte(vma, folio, write and bool(vma.vm_flags & VM_WRITE))
    else:
        yield from hugetlb_add_file_rmap(folio)
        shared = bool(vma.vm_flags & VM_SHARED)
        entry = make_huge_pte(vma, folio, shared and write and bool(vma.vm_flags & VM_WRITE))
    yield from set_pmd_at(vma.mm, haddr, ptep, entry)
    if write and not (vma.vm_flags & VM_SHARED) and not anon:
        return (yield from hugetlb_wp(cpu, vma, haddr, flags, entry))  # COW the pagecache folio
    yield from _unlock(vma, haddr)
    return 0


def hugetlb_wp(cpu: Cpu, vma: Vma, haddr: int, flags: int, entry: int) -> Gen:
    """Model of mm/hugetlb.c:hugetlb_wp(): reuse if mapped once, else copy (lock held).

    Reuse is decided by the mapcount only (see the module docstring): GUP
    references do not prevent it.  An unshare fault leaves the PTE R/O.
    hugetlb has no FOLL_COW: a GUP write fault must leave a writable PTE
    behind, or follow_hugetlb_page() would fault again and again.
    """
    mm, ptep = vma.mm, vma.mm.pmd(haddr)
    unshare = bool(flags & FAULT_FLAG_UNSHARE)
    old = pfn_folio(int(pmd_pfn(entry)))
    anon = yield from folio_test_anon(old)
    if anon and (yield from folio_mapcount(old)) == 1:
        if cpu.era.anon_exclusive and not (yield from PageAnonExclusive(old.page(0))):
            yield from folio_move_anon_rmap(old, vma)
            yield from SetPageAnonExclusive(old.page(0))
        # set_huge_ptep_maybe_writable(); before 5535be309971 (v6.0) the
        # reuse was set_huge_ptep_writable() whatever VM_WRITE says, so a
        # FOLL_FORCE or v5.8 COW-breaking write fault made a R/O VMA's PTE
        # writable.
        if not unshare and (vma.vm_flags & VM_WRITE or not cpu.era.foll_force_needs_exclusive):
            yield from set_pmd_at(mm, haddr, ptep, pmd_mkdirty(pmd_mkwrite(pmd_mkyoung(entry))))
        yield from _unlock(vma, haddr)
        return 0
    if cpu.era.anon_exclusive and anon and (yield from PageAnonExclusive(old.page(0))):
        raise KernelBug(f"VM_BUG_ON_PAGE: COW of exclusive hugetlb {old}")
    yield from folio_get(old)
    yield from _unlock(vma, haddr)
    yield from anon_vma_prepare(vma)  # vmf_anon_prepare()
    new = yield from alloc_hugetlb_folio(cpu)
    if new is None:
        yield from folio_put(old)
        return VM_FAULT_OOM
    yield from copy_user_large_folio(new, old)
    yield from _lock(vma, haddr)
    if (yield from pmdp_get(ptep)) == entry:
        yield from pmdp_huge_get_and_clear(mm, haddr, ptep)  # huge_ptep_clear_flush()
        yield from hugetlb_add_new_anon_rmap(cpu, new, vma, haddr)
        writable = not unshare and bool(vma.vm_flags & VM_WRITE)
        yield from set_pmd_at(mm, haddr, ptep, make_huge_pte(vma, new, writable))
        yield from hugetlb_remove_rmap(old)
        yield from _unlock(vma, haddr)
        yield from folio_put(old)  # the old mapping's reference
    else:
        yield from _unlock(vma, haddr)
        yield from folio_put(new)
    yield from folio_put(old)
    return 0


def copy_hugetlb_page_range(cpu: Cpu, dst_vma: Vma, src_vma: Vma) -> Gen:
    """Model of mm/hugetlb.c:copy_hugetlb_page_range() (fork).

    A maybe-pinned exclusive anon folio is copied for the child at once
    (the pool must have a folio to spare, which cow.c makes sure of).
    """
    cow = is_cow_mapping(src_vma.vm_flags)
    for haddr in range(src_vma.vm_start, src_vma.vm_end, PMD_SIZE):
        entry = int((yield from pmdp_get(src_vma.mm.pmd(haddr))))
        if not pmd_trans_huge(entry):
            continue
        yield from _lock(dst_vma, haddr)
        yield from _lock(src_vma, haddr)
        yield from _copy_one(cpu, dst_vma, src_vma, haddr, entry, cow)
        yield from _unlock(src_vma, haddr)
        yield from _unlock(dst_vma, haddr)


def _copy_one(cpu: Cpu, dst_vma: Vma, src_vma: Vma, haddr: int, entry: int, cow: bool) -> Gen:
    era, folio = cpu.era, pfn_folio(int(pmd_pfn(entry)))
    if (yield from folio_test_anon(folio)):
        if era.anon_exclusive:
            busy = (yield from hugetlb_try_dup_anon_rmap(cpu, folio, src_vma)) == -EBUSY
        else:
            busy = era.fork_copies_maybe_pinned and (
                yield from folio_needs_cow_for_dma(cpu, src_vma, folio)
            )
            if not busy:
                yield from hugetlb_add_file_rmap(folio)  # the mapcount, as page_dup_rmap()
        if busy:
            new = yield from alloc_hugetlb_folio(cpu)
            if new is None:
                return  # -ENOMEM: the kernel's fork fails; not modelled further
            yield from copy_user_large_folio(new, folio)
            yield from hugetlb_add_new_anon_rmap(cpu, new, dst_vma, haddr)
            pte = make_huge_pte(dst_vma, new, bool(dst_vma.vm_flags & VM_WRITE))
            yield from set_pmd_at(dst_vma.mm, haddr, dst_vma.mm.pmd(haddr), pte)
            return
    else:
        yield from hugetlb_add_file_rmap(folio)
    yield from folio_get(folio)
    if cow and pmd_write(entry):
        yield from pmdp_set_wrprotect(src_vma.mm, haddr, src_vma.mm.pmd(haddr))
        entry = int(pmd_wrprotect(entry))
    yield from set_pmd_at(dst_vma.mm, haddr, dst_vma.mm.pmd(haddr), pmd_mkold(entry))


def __unmap_hugepage_range(cpu: Cpu, vma: Vma, start: int, end: int) -> Gen:
    """Model of mm/hugetlb.c:__unmap_hugepage_range(): pins are not consulted."""
    for haddr in range(start & PMD_MASK, end, PMD_SIZE):
        ptep = vma.mm.pmd(haddr)
        yield from _lock(vma, haddr)
        entry = int((yield from pmdp_huge_get_and_clear(vma.mm, haddr, ptep)))
        folio = pfn_folio(int(pmd_pfn(entry))) if pmd_trans_huge(entry) else None
        if folio is not None:
            yield from hugetlb_remove_rmap(folio)
        yield from _unlock(vma, haddr)
        if folio is not None:
            yield from folio_put(folio)


def hugetlb_follow_page_mask(cpu: Cpu, vma: Vma, address: int, flags: int) -> Gen:
    """Model of mm/hugetlb.c:hugetlb_follow_page_mask(): a Page, None (fault) or -errno.

    FOLL_FORCE never writes through a R/O hugetlb PTE (f347454d0341): a
    write needs a writable PTE.
    """
    haddr = address & PMD_MASK
    yield from _lock(vma, haddr)
    entry = int((yield from pmdp_get(vma.mm.pmd(haddr))))
    result: object = None
    if pmd_trans_huge(entry) and not (flags & FOLL_WRITE and not pmd_write(entry)):
        folio = pfn_folio(int(pmd_pfn(entry)))
        page = folio.page((address - haddr) // PAGE_SIZE)
        if not pmd_write(entry) and (yield from gup_must_unshare(cpu, vma, flags, page)):
            result = -EMLINK
        elif (
            cpu.era.anon_exclusive
            and flags & FOLL_PIN
            and (yield from folio_test_anon(folio))
            and not (yield from PageAnonExclusive(page))
        ):
            raise KernelBug(f"VM_BUG_ON_PAGE: pinning non-exclusive anonymous {page}")
        else:
            ret = yield from try_grab_folio(cpu, folio, 1, flags)
            result = ret if ret else page
    yield from _unlock(vma, haddr)
    return result
