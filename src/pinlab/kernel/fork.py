"""fork(): duplicating the address space and sharing (or copying) its pages.

Models kernel/fork.c ``dup_mmap`` (VM_DONTCOPY, VM_WIPEONFORK) and mm/memory.c
``copy_page_range`` (with the ``write_protect_seq`` write section of
57efa1fe5957, v5.11; huge PMDs go to copy_huge_pmd(), hugetlb VMAs to
copy_hugetlb_page_range()), ``copy_pmd_range``, ``copy_pte_range``, ``copy_present_pte``,
``copy_present_page`` (the immediate copy of a maybe-pinned page, 70e806e4e645,
v5.9) and ``copy_nonpresent_pte`` (swap entries lose their exclusive bit,
writable migration entries become readable, device-exclusive entries are
restored first).

The child's mm and VMAs are new objects built here and published to the
process API only when fork returns; nothing that existed before is mutated
except through engine locations.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pinlab.engine import Loc, kapi
from pinlab.kernel.barriers import barrier
from pinlab.kernel.defs import (
    EAGAIN,
    EBUSY,
    ENOENT,
    ENOMEM,
    PAGE_SIZE,
    PMD_SIZE,
    RMAP_EXCLUSIVE,
    VM_DONTCOPY,
    VM_HUGETLB,
    VM_MIXEDMAP,
    VM_PFNMAP,
    VM_SHARED,
    VM_UFFD_WP,
    VM_WIPEONFORK,
)
from pinlab.kernel.folio import (
    Gen,
    __folio_mark_uptodate,
    copy_user_highpage,
    folio_add_lru,
    folio_alloc,
    folio_get,
    folio_put,
    folio_ref_add,
    folio_ref_sub,
    folio_test_anon,
    folio_trylock,
    folio_unlock,
)
from pinlab.kernel.huge_memory import copy_huge_pmd
from pinlab.kernel.huge_mm import pmd_trans_huge
from pinlab.kernel.hugetlb import copy_hugetlb_page_range
from pinlab.kernel.internal import (
    folio_needs_cow_for_dma,
    folio_pte_batch,
    is_cow_mapping,
    maybe_mkwrite,
    mk_pte,
    vm_normal_page,
)
from pinlab.kernel.mm_types import (
    Cpu,
    Folio,
    MmStruct,
    Page,
    Vma,
    folio_test_large,
    page_folio,
    pfn_to_page,
    vma_soft_dirty_enabled,
)
from pinlab.kernel.mmu_notifier import (
    MMU_NOTIFY_PROTECTION_PAGE,
    mmu_notifier_invalidate_range_end,
    mmu_notifier_invalidate_range_start,
    mmu_notifier_range_init,
)
from pinlab.kernel.pgtable import pte_alloc, ptep_get, set_pte_at, set_ptes, wrprotect_ptes
from pinlab.kernel.pte import (
    is_device_exclusive_entry,
    is_migration_entry,
    is_readable_exclusive_migration_entry,
    is_writable_migration_entry,
    make_readable_migration_entry,
    non_swap_entry,
    pte_clear_uffd_wp,
    pte_mkclean,
    pte_mkdirty,
    pte_mkold,
    pte_mkwrite,
    pte_none,
    pte_present,
    pte_swp_clear_exclusive,
    pte_swp_exclusive,
    pte_swp_mksoft_dirty,
    pte_swp_mkuffd_wp,
    pte_swp_soft_dirty,
    pte_swp_uffd_wp,
    pte_to_swp_entry,
    pte_write,
    pte_wrprotect,
    swp_entry_to_pte,
    swp_offset,
)
from pinlab.kernel.rmap import (
    folio_add_new_anon_rmap,
    folio_dup_anon_rmap_pte,
    folio_dup_file_rmap_pte,
    folio_try_dup_anon_rmap_pte,
)
from pinlab.kernel.rmap_large import folio_try_dup_anon_rmap_ptes
from pinlab.kernel.swap import restore_exclusive_pte
from pinlab.kernel.swap_state import swap_duplicate
from pinlab.kernel.zap import unmap_vmas


@dataclass
class _Prealloc:
    """The folio copy_pte_range() allocated outside the locks, for copy_present_page()."""

    folio: Folio | None = None


def dup_mmap(cpu: Cpu, oldmm: MmStruct) -> Gen:
    """Model of kernel/fork.c:dup_mmap(): the child's mm, with its VMAs and page tables.

    Returns the new mm, or -errno when copying failed (the child is torn down).

    The child's mm flags start clear: MMF_HAS_PINNED is not inherited.
    """
    yield from kapi.spin_lock(oldmm.mmap_lock)  # mmap_write_lock_killable(oldmm)
    mm = MmStruct(cpu.new_mm_name(), next_mmap=oldmm.next_mmap, arch=oldmm.arch)
    yield from kapi.WRITE_ONCE(mm.flags, 0)
    for vma in list(oldmm.vmas):
        if vma.vm_flags & VM_DONTCOPY:
            continue
        mm.anon_vmas += 1
        tmp = replace(vma, mm=mm, anon_vma=Loc(f"{mm.name}.anon_vma[{mm.anon_vmas}]"))
        if not (vma.vm_flags & VM_WIPEONFORK):
            # anon_vma_fork(): the child's anon_vma is chained to the parent's.
            have = yield from kapi.READ_ONCE(vma.anon_vma)
            yield from kapi.WRITE_ONCE(tmp.anon_vma, have)
        mm.vmas.append(tmp)
        if not (vma.vm_flags & VM_WIPEONFORK):
            ret = yield from copy_page_range(cpu, tmp, vma)
            if ret:
                # dup_mmap() fails; the caller's mmput() tears the child down.
                yield from unmap_vmas(cpu, list(mm.vmas))
                yield from kapi.spin_unlock(oldmm.mmap_lock)
                return ret
    yield from kapi.spin_unlock(oldmm.mmap_lock)
    return mm


def vma_needs_copy(dst_vma: Vma, src_vma: Vma) -> Gen:
    """Model of mm/memory.c:vma_needs_copy(): otherwise the child faults pages in lazily."""
    if dst_vma.vm_flags & VM_UFFD_WP:
        return True
    if src_vma.vm_flags & (VM_PFNMAP | VM_MIXEDMAP):
        return True
    return bool((yield from kapi.READ_ONCE(src_vma.anon_vma)))


def copy_page_range(cpu: Cpu, dst_vma: Vma, src_vma: Vma) -> Gen:
    """Model of mm/memory.c:copy_page_range()."""
    if not (yield from vma_needs_copy(dst_vma, src_vma)):
        return 0
    src_mm = src_vma.mm
    is_cow = is_cow_mapping(src_vma.vm_flags)
    seqcount = is_cow and cpu.era.write_protect_seq
    seq = 0
    rng = mmu_notifier_range_init(
        MMU_NOTIFY_PROTECTION_PAGE, src_mm, src_vma.vm_start, src_vma.vm_end
    )
    if is_cow:
        # Secondary MMUs must drop write access before the parent's PTEs are
        # write-protected; it is also what revokes a device's exclusive access
        # before try_restore_exclusive_pte() gives the page back to the CPU.
        yield from mmu_notifier_invalidate_range_start(cpu, rng)
    if seqcount:
        # raw_write_seqcount_begin(): odd while pages are being write-protected.
        seq = yield from kapi.READ_ONCE(src_mm.write_protect_seq)
        yield from kapi.WRITE_ONCE(src_mm.write_protect_seq, seq + 1)
        # Pairs with the smp_rmb() after GUP-fast's raw_seqcount_try_begin().
        yield from barrier(cpu, "copy_page_range:seq-begin-wmb")
        # What-if (era.added_barriers only; no kernel has it): pairs with the
        # smp_mb__after_atomic() after GUP-fast's pin, so that fork's reads of
        # MMF_HAS_PINNED and the pin count cannot both miss the pin while
        # GUP-fast's re-read of the count misses the odd value.
        yield from barrier(cpu, "copy_page_range:seq-begin-mb")
    if src_vma.vm_flags & VM_HUGETLB:
        ret = yield from copy_hugetlb_page_range(cpu, dst_vma, src_vma)
    else:
        ret = yield from copy_pmd_range(cpu, dst_vma, src_vma, src_vma.vm_start, src_vma.vm_end)
    if seqcount:
        # raw_write_seqcount_end().  Pairs with the smp_rmb() of GUP-fast's
        # read_seqcount_retry().
        yield from barrier(cpu, "copy_page_range:seq-end-wmb")
        yield from kapi.WRITE_ONCE(src_mm.write_protect_seq, seq + 2)
    if is_cow:
        yield from mmu_notifier_invalidate_range_end(cpu, rng)
    return ret


def copy_pmd_range(cpu: Cpu, dst_vma: Vma, src_vma: Vma, start: int, end: int) -> Gen:
    """Model of mm/memory.c:copy_pmd_range(): a huge PMD is shared whole or split first."""
    addr = start
    while addr < end:
        nxt = min(end, (addr | (PMD_SIZE - 1)) + 1)
        pmd = yield from kapi.READ_ONCE(src_vma.mm.pmd(addr))
        if pmd_trans_huge(pmd) and (yield from copy_huge_pmd(cpu, dst_vma, src_vma, addr)) == 0:
            addr = nxt
            continue
        # (-EAGAIN: the PMD was split; copy the PTEs, a maybe-pinned page gets copied)
        if (yield from copy_pte_range(cpu, dst_vma, src_vma, addr, nxt)):
            return -ENOMEM  # any failure of copy_pte_range() (e.g. -EBUSY) is -ENOMEM
        addr = nxt
    return 0


def copy_pte_range(cpu: Cpu, dst_vma: Vma, src_vma: Vma, start: int, end: int) -> Gen:
    """Model of mm/memory.c:copy_pte_range(): both PTLs held, dropped to allocate or wait."""
    dst_mm, src_mm = dst_vma.mm, src_vma.mm
    prealloc = _Prealloc()
    addr = start
    while addr < end:
        table_end = min(end, (addr | (PMD_SIZE - 1)) + 1)
        dst_ptl, src_ptl = dst_mm.ptl(addr), src_mm.ptl(addr)
        yield from pte_alloc(dst_mm, addr)
        yield from kapi.spin_lock(dst_ptl)
        yield from kapi.spin_lock(src_ptl)  # spin_lock_nested()
        # What-if (era.added_barriers only; no kernel has it): with the lock
        # acquisition it makes a full barrier between the write_protect_seq
        # increment and the reads below.  Pairs with the smp_mb__after_atomic()
        # after GUP-fast's pin, as copy_page_range:seq-begin-mb would.
        yield from barrier(cpu, "copy_pte_range:after-src-ptl-mb")
        ret = 0
        while addr < table_end:
            max_nr = (table_end - addr) // PAGE_SIZE
            ret = yield from _copy_one(cpu, dst_vma, src_vma, addr, prealloc, max_nr)
            if ret in (-EAGAIN, -EBUSY):
                break
            addr += PAGE_SIZE * max(ret, 1)
        yield from kapi.spin_unlock(src_ptl)
        yield from kapi.spin_unlock(dst_ptl)
        if ret == -EAGAIN:
            prealloc.folio = yield from folio_alloc(cpu)  # folio_prealloc()
        elif ret == -EBUSY:
            # A device-exclusive entry whose folio lock is held (a driver
            # still programming its device): give up, and fork() fails.
            # Since b756a3b5e7ea, as suggested in its review, rather than
            # sleeping on the folio lock with mmap_lock held for write.
            break
    if prealloc.folio is not None:
        yield from folio_put(prealloc.folio)
    return ret if ret == -EBUSY else 0


def _copy_one(
    cpu: Cpu, dst_vma: Vma, src_vma: Vma, addr: int, prealloc: _Prealloc, max_nr: int
) -> Gen:
    """One step of copy_pte_range()'s loop: -errno, or how many PTEs it copied (0: one,
    nothing to copy or not present)."""
    ptent = yield from ptep_get(src_vma.mm.pte(addr))
    if pte_none(ptent):
        return 0
    if not pte_present(ptent):
        ret = yield from copy_nonpresent_pte(cpu, dst_vma, src_vma, addr, ptent)
        if ret != -ENOENT:
            return ret
        ptent = yield from ptep_get(src_vma.mm.pte(addr))  # restored: copy it as present
    return (yield from copy_present_ptes(cpu, dst_vma, src_vma, addr, ptent, max_nr, prealloc))


def copy_present_ptes(
    cpu: Cpu, dst_vma: Vma, src_vma: Vma, addr: int, pte: Any, max_nr: int, prealloc: _Prealloc
) -> Gen:
    """Model of mm/memory.c:copy_present_ptes(): the PTEs from ``addr`` that map one large
    folio, copied as one batch (v6.9, f8d937761d65), or one PTE (copy_present_pte()).

    A batch takes its references and duplicates its rmap once, so fork reads
    whether the folio may be pinned once per batch.  If it may be, the batch
    fails with -EAGAIN: copy_pte_range() allocates a folio and comes back,
    and with a folio allocated the page goes the one-PTE way, to be copied.
    Returns -errno or how many PTEs were copied.
    """
    page = vm_normal_page(src_vma, addr, pte)
    if (
        cpu.era.fork_batches_ptes
        and page is not None
        and prealloc.folio is None
        and folio_test_large(page_folio(page))
        and max_nr != 1
    ):
        folio = page_folio(page)
        nr, any_writable = yield from folio_pte_batch(
            folio,
            src_vma.mm,
            addr,
            pte,
            max_nr,
            ignore_dirty=bool(src_vma.vm_flags & VM_SHARED),
            ignore_soft_dirty=not vma_soft_dirty_enabled(src_vma),
        )
        yield from folio_ref_add(folio, nr)
        pages = [pfn_to_page(page.pfn + i) for i in range(nr)]
        if (yield from folio_test_anon(folio)):
            if (yield from folio_try_dup_anon_rmap_ptes(cpu, folio, pages, src_vma)):
                yield from folio_ref_sub(folio, nr)
                return -EAGAIN
        else:
            for p in pages:  # folio_dup_file_rmap_ptes()
                yield from folio_dup_file_rmap_pte(folio, p)
        if any_writable:
            pte = pte_mkwrite(pte)
        yield from __copy_present_ptes(dst_vma, src_vma, addr, pte, nr)
        return nr
    ret = yield from copy_present_pte(cpu, dst_vma, src_vma, addr, pte, prealloc)
    return ret if ret < 0 else 1


def copy_present_pte(
    cpu: Cpu, dst_vma: Vma, src_vma: Vma, addr: int, pte: Any, prealloc: _Prealloc
) -> Gen:
    """Model of mm/memory.c:copy_present_pte(): one PTE."""
    era = cpu.era
    page = vm_normal_page(src_vma, addr, pte)
    if page is not None:
        folio = page_folio(page)
        if (yield from folio_test_anon(folio)):
            if era.anon_exclusive:
                yield from folio_get(folio)
                if (yield from folio_try_dup_anon_rmap_pte(cpu, folio, page, src_vma)):
                    yield from folio_put(folio)
                    return (yield from copy_present_page(cpu, dst_vma, addr, page, prealloc))
            else:
                # v5.9-v5.18: "has this mm ever pinned" and the inexact pin check.
                if (
                    era.fork_copies_maybe_pinned
                    and is_cow_mapping(src_vma.vm_flags)
                    and (yield from folio_needs_cow_for_dma(cpu, src_vma, folio))
                ):
                    return (yield from copy_present_page(cpu, dst_vma, addr, page, prealloc))
                yield from folio_get(folio)
                yield from folio_dup_anon_rmap_pte(folio, page)  # page_dup_rmap()
        else:
            yield from folio_get(folio)
            yield from folio_dup_file_rmap_pte(folio, page)
    yield from __copy_present_ptes(dst_vma, src_vma, addr, pte, 1)
    return 0


def __copy_present_ptes(dst_vma: Vma, src_vma: Vma, addr: int, pte: Any, nr: int) -> Gen:
    """Model of mm/memory.c:__copy_present_ptes(): map ``nr`` pages in the child."""
    if is_cow_mapping(src_vma.vm_flags) and pte_write(pte):
        # Write-protect the parent's PTEs first: both now share the pages.
        yield from wrprotect_ptes(src_vma.mm, addr, nr)
        pte = pte_wrprotect(pte)
    if src_vma.vm_flags & VM_SHARED:
        pte = pte_mkclean(pte)
    pte = pte_mkold(pte)
    if not (dst_vma.vm_flags & VM_UFFD_WP):
        pte = pte_clear_uffd_wp(pte)
    yield from set_ptes(dst_vma.mm, addr, pte, nr)


def copy_present_page(cpu: Cpu, dst_vma: Vma, addr: int, page: Page, prealloc: _Prealloc) -> Gen:
    """Model of mm/memory.c:copy_present_page(): the child gets its own copy at once.

    The parent's PTE is left as it is: writable, exclusive, pinned.
    """
    new = prealloc.folio
    if new is None:
        return -EAGAIN
    prealloc.folio = None
    yield from copy_user_highpage(new.page(0), page)
    yield from __folio_mark_uptodate(new)
    yield from folio_add_new_anon_rmap(cpu, new, dst_vma, addr, RMAP_EXCLUSIVE)
    yield from folio_add_lru(new)
    pte = maybe_mkwrite(pte_mkdirty(mk_pte(new, dst_vma.vm_page_prot)), dst_vma)
    yield from set_pte_at(dst_vma.mm, addr, dst_vma.mm.pte(addr), pte)
    return 0


def copy_nonpresent_pte(cpu: Cpu, dst_vma: Vma, src_vma: Vma, addr: int, orig: Any) -> Gen:
    """Model of mm/memory.c:copy_nonpresent_pte()."""
    src_mm, src_ptep = src_vma.mm, src_vma.mm.pte(addr)
    entry = pte_to_swp_entry(orig)
    pte = orig
    if not non_swap_entry(entry):
        yield from swap_duplicate(int(swp_offset(entry)))
        if cpu.era.anon_exclusive and pte_swp_exclusive(orig):
            # The slot is now shared with the child: neither side is exclusive.
            pte = pte_swp_clear_exclusive(orig)
            yield from set_pte_at(src_mm, addr, src_ptep, pte)
    elif is_migration_entry(entry):
        if (
            is_writable_migration_entry(entry) or is_readable_exclusive_migration_entry(entry)
        ) and is_cow_mapping(src_vma.vm_flags):
            pte = swp_entry_to_pte(make_readable_migration_entry(swp_offset(entry)))
            if pte_swp_soft_dirty(orig):
                pte = pte_swp_mksoft_dirty(pte)
            if pte_swp_uffd_wp(orig):
                pte = pte_swp_mkuffd_wp(pte)
            yield from set_pte_at(src_mm, addr, src_ptep, pte)
    elif is_device_exclusive_entry(entry):
        if is_cow_mapping(src_vma.vm_flags) and not cpu.era.fork_copies_device_exclusive_entry:
            return (yield from try_restore_exclusive_pte(cpu, src_vma, addr, orig))
        # The what-if: the child gets the entry too (a reference, and the
        # mapping where the entry keeps one).
        folio = page_folio(pfn_to_page(swp_offset(entry)))
        yield from folio_get(folio)
        if cpu.era.device_exclusive_keeps_mapcount:
            yield from kapi.atomic_inc(folio._mapcount)
    yield from set_pte_at(dst_vma.mm, addr, dst_vma.mm.pte(addr), pte)
    return 0


def try_restore_exclusive_pte(cpu: Cpu, src_vma: Vma, addr: int, orig: Any) -> Gen:
    """Model of mm/memory.c:try_restore_exclusive_pte(): the parent gets its PTE back first.

    -ENOENT: restored, copy it as a present PTE; -EBUSY: the folio is locked.
    """
    page = pfn_to_page(swp_offset(pte_to_swp_entry(orig)))
    folio = page_folio(page)
    if not (yield from folio_trylock(folio)):
        return -EBUSY
    yield from restore_exclusive_pte(cpu, src_vma, folio, page, addr, orig)
    yield from folio_unlock(folio)
    return -ENOENT
