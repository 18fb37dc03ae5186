"""Swap-in and swap-out of order-0 anonymous folios, and device-exclusive restore.

Models mm/memory.c ``do_swap_page`` (both the reuse_swap_page() shape of
v5.17 and older and the streamlined shape of c145e0b47c77, v5.18, with the
swp-exclusive bit of 1493a1913e34, v5.19), ``remove_device_exclusive_entry``
and ``restore_exclusive_pte``; and the swap-out that MADV_PAGEOUT triggers:
mm/madvise.c ``madvise_cold_or_pageout_pte_range`` (pageout half),
mm/vmscan.c ``shrink_folio_list`` / ``__remove_mapping`` and mm/rmap.c
``try_to_unmap_one`` for anonymous folios.

Left out: swap readahead, SWP_SYNCHRONOUS_IO, memcg swap limits, mlock.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import kapi
from pinlab.engine.ops import Assume
from pinlab.kernel.defs import (
    FAULT_FLAG_WRITE,
    PAGE_SIZE,
    RMAP_EXCLUSIVE,
    RMAP_NONE,
    VM_FAULT_SIGBUS,
    VM_FAULT_WRITE,
    VM_WRITE,
    PG_lru,
    PG_swapcache,
)
from pinlab.kernel.folio import (
    Gen,
    PageAnonExclusive,
    __folio_mark_uptodate,
    __folio_set_swapbacked,
    folio_add_lru,
    folio_alloc,
    folio_clear_dirty_for_io,
    folio_lock,
    folio_mapped,
    folio_mark_dirty,
    folio_maybe_dma_pinned,
    folio_put,
    folio_ref_count,
    folio_ref_freeze,
    folio_test_anon,
    folio_test_dirty,
    folio_test_ksm,
    folio_test_swapbacked,
    folio_test_swapcache,
    folio_try_get,
    folio_trylock,
    folio_unlock,
)
from pinlab.kernel.internal import VmFault, maybe_mkwrite, mk_pte, vm_normal_page
from pinlab.kernel.mm_types import (
    Cpu,
    Folio,
    Machine,
    Page,
    Vma,
    page_folio,
    pfn_to_page,
    swap_slot,
    vma_address,
)
from pinlab.kernel.mprotect import can_change_pte_writable, pte_needs_soft_dirty_wp
from pinlab.kernel.pgtable import (
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_clear_flush,
    ptep_get,
    set_pte_at,
)
from pinlab.kernel.pte import (
    SWP_SWAPFILE,
    is_device_exclusive_entry,
    is_migration_entry,
    non_swap_entry,
    pte_dirty,
    pte_mkdirty,
    pte_mkold,
    pte_mksoft_dirty,
    pte_mkuffd_wp,
    pte_mkwrite,
    pte_pfn,
    pte_present,
    pte_soft_dirty,
    pte_swp_exclusive,
    pte_swp_mkexclusive,
    pte_swp_mksoft_dirty,
    pte_swp_mkuffd_wp,
    pte_swp_soft_dirty,
    pte_swp_uffd_wp,
    pte_to_swp_entry,
    pte_uffd_wp,
    swp_entry,
    swp_entry_to_pte,
    swp_offset,
)
from pinlab.kernel.rmap import (
    folio_add_anon_rmap_pte,
    folio_add_new_anon_rmap,
    folio_remove_rmap_pte,
    folio_try_share_anon_rmap_pte,
    rmap_walk,
)
from pinlab.kernel.swap_state import (
    folio_alloc_swap,
    folio_free_swap,
    folio_swap_offset,
    swap_cache_get_folio,
    swap_duplicate,
    swap_free,
    swap_read_folio,
    swap_writepage,
)
from pinlab.kernel.wp import do_wp_page, reuse_swap_page


def swapin_folio(cpu: Cpu, offset: int) -> Gen:
    """Model of mm/swap_state.c:__read_swap_cache_async(): find or read the slot's folio.

    Returns a referenced folio in the swap cache (the cache holds another).
    """
    while True:
        folio = yield from swap_cache_get_folio(offset)
        if folio is not None:
            return folio
        folio = yield from folio_alloc(cpu)
        yield from __folio_set_swapbacked(folio)
        # swapcache_prepare(): only one CPU may read the slot in.
        old = yield from kapi.cmpxchg(swap_slot(offset).cache, 0, folio.pfn)
        if old != 0:
            yield from folio_put(folio)
            continue
        yield from kapi.atomic_inc(folio._refcount)  # the swap cache's reference
        yield from kapi.WRITE_ONCE(folio.swap, offset)
        yield from kapi.set_bit(PG_swapcache, folio.flags)
        yield from swap_read_folio(folio, offset)
        yield from __folio_mark_uptodate(folio)
        yield from folio_add_lru(folio)
        return folio


def should_try_to_free_swap(folio: Folio, vma: Vma, fault_flags: int) -> Gen:
    """Model of mm/memory.c:should_try_to_free_swap() (v5.18+)."""
    if not (yield from folio_test_swapcache(folio)):
        return False
    # Free only if the swap cache and we are the only users and we write.
    if not (fault_flags & FAULT_FLAG_WRITE) or (yield from folio_test_ksm(folio)):
        return False
    return (yield from folio_ref_count(folio)) == 2


def do_swap_page(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/memory.c:do_swap_page(): fault on a non-present, non-none PTE."""
    entry = pte_to_swp_entry(vmf.orig_pte)
    if non_swap_entry(entry):
        if is_migration_entry(entry):
            # migration_entry_wait(): sleep until migration replaced the entry.
            cur = yield from ptep_get(vmf.pte)
            yield Assume(cur != vmf.orig_pte)
            return 0
        if is_device_exclusive_entry(entry):
            return (yield from remove_device_exclusive_entry(cpu, vmf))
        return VM_FAULT_SIGBUS
    offset = int(swp_offset(entry))
    folio = yield from swapin_folio(cpu, offset)
    yield from folio_lock(folio)
    mm = vmf.vma.mm
    still_cached = (yield from folio_test_swapcache(folio)) and (
        (yield from folio_swap_offset(folio)) == offset
    )
    yield from pte_offset_map_lock(mm, vmf.address)
    if not still_cached or (yield from ptep_get(vmf.pte)) != vmf.orig_pte:
        yield from pte_unmap_unlock(mm, vmf.address)
        yield from folio_unlock(folio)
        yield from folio_put(folio)
        return 0
    if not cpu.era.swapin_cow_streamlined:
        ret = yield from _map_swapped_folio_v5(cpu, vmf, folio, offset)
    else:
        ret = yield from _map_swapped_folio(cpu, vmf, folio, offset)
    if vmf.flags & FAULT_FLAG_WRITE:
        return ret | (yield from do_wp_page(cpu, vmf))  # releases the PTL
    yield from pte_unmap_unlock(mm, vmf.address)
    return ret


def _map_swapped_folio_v5(cpu: Cpu, vmf: VmFault, folio: Folio, offset: int) -> Gen:
    """do_swap_page() up to v5.17: map writable if reuse_swap_page() says so."""
    vma, ret = vmf.vma, 0
    pte = mk_pte(folio, vma.vm_page_prot)
    flags = RMAP_NONE
    if vmf.flags & FAULT_FLAG_WRITE:
        reuse, _total = yield from reuse_swap_page(folio)
        if reuse:
            pte = maybe_mkwrite(pte_mkdirty(pte), vma)
            vmf.flags &= ~FAULT_FLAG_WRITE
            ret |= int(VM_FAULT_WRITE)
            flags = RMAP_EXCLUSIVE
    if pte_swp_soft_dirty(vmf.orig_pte):
        pte = pte_mksoft_dirty(pte)
    yield from set_pte_at(vma.mm, vmf.address, vmf.pte, pte)
    yield from _swapin_rmap(cpu, vmf, folio, flags)
    vmf.orig_pte = pte
    yield from swap_free(offset)
    yield from folio_unlock(folio)
    return ret


def _map_swapped_folio(cpu: Cpu, vmf: VmFault, folio: Folio, offset: int) -> Gen:
    """do_swap_page() since v5.18: reuse only certainly-exclusive folios."""
    vma, era = vmf.vma, cpu.era
    ksm = yield from folio_test_ksm(folio)
    exclusive = era.anon_exclusive and not ksm and pte_swp_exclusive(vmf.orig_pte)
    yield from swap_free(offset)
    if (yield from should_try_to_free_swap(folio, vma, vmf.flags)):
        yield from folio_free_swap(folio)
    pte = mk_pte(folio, vma.vm_page_prot)
    if pte_swp_soft_dirty(vmf.orig_pte):
        pte = pte_mksoft_dirty(pte)
    if pte_swp_uffd_wp(vmf.orig_pte):
        pte = pte_mkuffd_wp(pte)
    flags = RMAP_NONE
    if not ksm and (exclusive or (yield from folio_ref_count(folio)) == 1):
        if era.swapin_maps_exclusive_writable:
            if vma.vm_flags & VM_WRITE and not pte_needs_soft_dirty_wp(vma, pte):
                pte = pte_mkwrite(pte)
                if vmf.flags & FAULT_FLAG_WRITE:
                    pte = pte_mkdirty(pte)
                    vmf.flags &= ~FAULT_FLAG_WRITE
        elif vmf.flags & FAULT_FLAG_WRITE:
            pte = maybe_mkwrite(pte_mkdirty(pte), vma)
            vmf.flags &= ~FAULT_FLAG_WRITE
        flags = RMAP_EXCLUSIVE
    yield from _swapin_rmap(cpu, vmf, folio, flags)
    yield from set_pte_at(vma.mm, vmf.address, vmf.pte, pte)
    vmf.orig_pte = pte
    yield from folio_unlock(folio)
    return 0


def _swapin_rmap(cpu: Cpu, vmf: VmFault, folio: Folio, flags: int) -> Gen:
    if (yield from folio_test_anon(folio)):
        yield from folio_add_anon_rmap_pte(cpu, folio, folio.page(0), vmf.vma, flags)
    else:
        yield from folio_add_new_anon_rmap(cpu, folio, vmf.vma, vmf.address, flags)


def remove_device_exclusive_entry(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/memory.c:remove_device_exclusive_entry(): give the page back to the CPU."""
    page = pfn_to_page(swp_offset(pte_to_swp_entry(vmf.orig_pte)))
    folio = page_folio(page)
    if not (yield from folio_try_get(folio)):
        return 0
    yield from folio_lock(folio)
    mm = vmf.vma.mm
    yield from pte_offset_map_lock(mm, vmf.address)
    if (yield from ptep_get(vmf.pte)) == vmf.orig_pte:
        yield from restore_exclusive_pte(cpu, vmf.vma, folio, page, vmf.address, vmf.orig_pte)
    yield from pte_unmap_unlock(mm, vmf.address)
    yield from folio_unlock(folio)
    yield from folio_put(folio)
    return 0


def restore_exclusive_pte(
    cpu: Cpu, vma: Vma, folio: Folio, page: Page, address: int, orig_pte: Any
) -> Gen:
    """Model of mm/memory.c:restore_exclusive_pte(): a present PTE again, not young.

    Since the 2025 rework the folio stayed mapped (mapcount unchanged); before,
    the entry held no mapcount and restoring added the mapping back.
    """
    pte = pte_mkold(mk_pte(folio, vma.vm_page_prot))
    if pte_swp_soft_dirty(orig_pte):
        pte = pte_mksoft_dirty(pte)
    if pte_swp_uffd_wp(orig_pte):
        pte = pte_mkuffd_wp(pte)
    if (vma.vm_flags & VM_WRITE) and (yield from can_change_pte_writable(cpu, vma, address, pte)):
        if (yield from folio_test_dirty(folio)):
            pte = pte_mkdirty(pte)
        pte = pte_mkwrite(pte)
    if not cpu.era.device_exclusive_keeps_mapcount:
        yield from folio_add_anon_rmap_pte(cpu, folio, page, vma, RMAP_NONE)
    yield from set_pte_at(vma.mm, address, vma.mm.pte(address), pte)


# --- swap-out ----------------------------------------------------------------------
def try_to_unmap_one(cpu: Cpu, folio: Folio, vma: Vma, address: int) -> Gen:
    """Model of mm/rmap.c:try_to_unmap_one() for an anonymous folio in the swap cache.

    Returns False if the folio must stay mapped (it may be pinned).
    """
    mm = vma.mm
    ptep = yield from pte_offset_map_lock(mm, address)
    pteval = yield from ptep_get(ptep)
    if not pte_present(pteval) or pte_pfn(pteval) != folio.pfn:
        yield from pte_unmap_unlock(mm, address)
        return True
    page = folio.page(0)
    anon_exclusive = cpu.era.anon_exclusive and (yield from PageAnonExclusive(page))
    pteval = yield from ptep_clear_flush(vma, address, ptep)
    if pte_dirty(pteval):
        yield from folio_mark_dirty(folio)
    offset = int((yield from folio_swap_offset(folio)))
    yield from swap_duplicate(offset)
    if anon_exclusive and (yield from folio_try_share_anon_rmap_pte(cpu, folio, page)):
        yield from swap_free(offset)
        yield from set_pte_at(mm, address, ptep, pteval)
        yield from pte_unmap_unlock(mm, address)
        return False
    swp_pte = swp_entry_to_pte(swp_entry(SWP_SWAPFILE, offset))
    if anon_exclusive:
        swp_pte = pte_swp_mkexclusive(swp_pte)
    if pte_soft_dirty(pteval):
        swp_pte = pte_swp_mksoft_dirty(swp_pte)
    if pte_uffd_wp(pteval):
        swp_pte = pte_swp_mkuffd_wp(swp_pte)
    yield from set_pte_at(mm, address, ptep, swp_pte)
    yield from folio_remove_rmap_pte(folio, page, vma)
    yield from pte_unmap_unlock(mm, address)
    yield from folio_put(folio)  # the mapping's reference
    return True


def try_to_unmap(cpu: Cpu, machine: Machine, folio: Folio) -> Gen:
    """Model of mm/rmap.c:try_to_unmap(): unmap the folio from every VMA that maps it."""
    index = yield from kapi.READ_ONCE(folio.index)
    for vma in rmap_walk(machine, int(index), anon=True, file_id=0):
        address = vma_address(vma, int(index))
        if not (yield from try_to_unmap_one(cpu, folio, vma, address)):
            return


def shrink_folio_list(cpu: Cpu, machine: Machine, folios: list[Folio]) -> Gen:
    """Model of mm/vmscan.c:shrink_folio_list() for isolated anonymous folios (MADV_PAGEOUT).

    Each folio comes with the isolation reference.  Returns how many were freed.
    """
    freed = 0
    for folio in folios:
        if not (yield from folio_trylock(folio)):
            yield from _putback(folio)
            continue
        if (yield from _reclaim_one(cpu, machine, folio)):
            freed += 1
            continue
        yield from folio_unlock(folio)
        yield from _putback(folio)
    return freed


def _reclaim_one(cpu: Cpu, machine: Machine, folio: Folio) -> Gen:
    """One folio of shrink_folio_list(), locked: True if it was freed."""
    anon = yield from folio_test_anon(folio)
    if not anon or not (yield from folio_test_swapbacked(folio)):
        return False  # file pageout is not modelled
    if not (yield from folio_test_swapcache(folio)):
        # feb889fb40fa (v5.11): a pinned page would be faulted back R/O and COWed.
        if cpu.era.reclaim_skips_pinned and (yield from folio_maybe_dma_pinned(cpu, folio)):
            return False
        yield from folio_alloc_swap(cpu, folio)
    if (yield from folio_mapped(folio)):
        yield from try_to_unmap(cpu, machine, folio)
        if (yield from folio_mapped(folio)):
            return False
    if (yield from folio_clear_dirty_for_io(folio)):
        yield from swap_writepage(folio)
    # __remove_mapping(): only the swap cache and the isolation hold it.
    if not (yield from folio_ref_freeze(folio, 2)):
        return False
    offset = yield from folio_swap_offset(folio)
    yield from kapi.WRITE_ONCE(swap_slot(int(offset)).cache, 0)
    yield from kapi.WRITE_ONCE(folio.swap, 0)
    yield from kapi.WRITE_ONCE(folio.flags, 0)  # freed (and unlocked)
    yield from kapi.WRITE_ONCE(folio.mapping, 0)
    return True


def _putback(folio: Folio) -> Gen:
    yield from kapi.set_bit(PG_lru, folio.flags)
    yield from folio_put(folio)


def madvise_pageout(cpu: Cpu, machine: Machine, vma: Vma, start: int, end: int) -> Gen:
    """Model of mm/madvise.c:madvise_pageout(): isolate the range's private folios and reclaim."""
    mm, isolated = vma.mm, []
    for addr in range(start, end, PAGE_SIZE):
        yield from pte_offset_map_lock(mm, addr)
        ptent = yield from ptep_get(mm.pte(addr))
        page = vm_normal_page(vma, addr, ptent) if pte_present(ptent) else None
        if page is not None:
            folio = page_folio(page)
            # Only folios this mm maps alone are paged out.
            if (
                (yield from folio_mapped(folio))
                and (yield from kapi.atomic_read(folio._mapcount)) == 0
                and (yield from kapi.test_and_clear_bit(PG_lru, folio.flags))
            ):
                yield from kapi.atomic_inc(folio._refcount)  # folio_isolate_lru()
                isolated.append(folio)
        yield from pte_unmap_unlock(mm, addr)
    return (yield from shrink_folio_list(cpu, machine, isolated))
