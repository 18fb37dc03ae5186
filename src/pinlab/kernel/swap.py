"""Swap-in of anonymous folios a page at a time, and device-exclusive restore.

Models mm/memory.c ``do_swap_page`` (both the reuse_swap_page() shape of
v5.17 and older and the streamlined shape of c145e0b47c77, v5.18, with the
swp-exclusive bit of 1493a1913e34, v5.19), ``remove_device_exclusive_entry``
and ``restore_exclusive_pte``.  A fault reads its slot into a new order-0
folio, or finds the folio in the swap cache; of a large folio there, it maps
the page of its own slot.  Swap-out is in :mod:`pinlab.kernel.vmscan`.

Left out: swap readahead, SWP_SYNCHRONOUS_IO, memcg swap limits, mlock, and
mapping all PTEs of a large folio found in the swap cache in one fault ("mm:
swap: entirely map large folios found in swapcache", Barry Song, 2024; lore
20240508224040.190469-7-21cnbao@gmail.com): every era here maps one page per
fault, as the kernel did before.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import Assume, kapi
from pinlab.kernel.defs import (
    FAULT_FLAG_WRITE,
    PAGE_SIZE,
    RMAP_EXCLUSIVE,
    RMAP_NONE,
    VM_FAULT_SIGBUS,
    VM_FAULT_WRITE,
    VM_WRITE,
    PG_swapcache,
)
from pinlab.kernel.folio import (
    Gen,
    __folio_mark_uptodate,
    __folio_set_swapbacked,
    folio_add_lru,
    folio_alloc,
    folio_lock,
    folio_put,
    folio_ref_count,
    folio_test_anon,
    folio_test_dirty,
    folio_test_ksm,
    folio_test_swapcache,
    folio_try_get,
    folio_unlock,
)
from pinlab.kernel.internal import VmFault, maybe_mkwrite, mk_pte
from pinlab.kernel.mm_types import (
    Cpu,
    Folio,
    Page,
    Vma,
    page_folio,
    pfn_to_page,
    swap_slot,
)
from pinlab.kernel.mmu_notifier import (
    MMU_NOTIFY_CLEAR,
    MMU_NOTIFY_EXCLUSIVE,
    mmu_notifier_invalidate_range_end,
    mmu_notifier_invalidate_range_start,
    mmu_notifier_range_init,
)
from pinlab.kernel.mprotect import can_change_pte_writable, pte_needs_soft_dirty_wp
from pinlab.kernel.pgtable import (
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_get,
    set_pte_at,
)
from pinlab.kernel.pte import (
    is_device_exclusive_entry,
    is_migration_entry,
    non_swap_entry,
    pfn_pte,
    pte_mkdirty,
    pte_mkold,
    pte_mksoft_dirty,
    pte_mkuffd_wp,
    pte_mkwrite,
    pte_swp_exclusive,
    pte_swp_soft_dirty,
    pte_swp_uffd_wp,
    pte_to_swp_entry,
    swp_offset,
)
from pinlab.kernel.rmap import (
    folio_add_anon_rmap_pte,
    folio_add_new_anon_rmap,
)
from pinlab.kernel.swap_state import (
    folio_file_page,
    folio_free_swap,
    page_swap_entry,
    swap_cache_get_folio,
    swap_free,
    swap_read_folio,
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
    # A large folio the swap cache kept caches each page in its own slot:
    # map the page of the faulting entry's slot (v5.9: lookup_swap_cache()
    # returned that subpage, find_get_page() having applied find_subpage()).
    page = folio_file_page(folio, offset)
    yield from folio_lock(folio)
    mm = vmf.vma.mm
    # Freed from the swap cache (or moved to other slots) while we slept?
    still_cached = (yield from folio_test_swapcache(folio)) and (
        (yield from page_swap_entry(folio, page)) == offset
    )
    yield from pte_offset_map_lock(mm, vmf.address)
    if not still_cached or (yield from ptep_get(vmf.pte)) != vmf.orig_pte:
        yield from pte_unmap_unlock(mm, vmf.address)
        yield from folio_unlock(folio)
        yield from folio_put(folio)
        return 0
    if not cpu.era.swapin_cow_streamlined:
        ret = yield from _map_swapped_folio_v5(cpu, vmf, folio, page, offset)
    else:
        ret = yield from _map_swapped_folio(cpu, vmf, folio, page, offset)
    if vmf.flags & FAULT_FLAG_WRITE:
        return ret | (yield from do_wp_page(cpu, vmf))  # releases the PTL
    yield from pte_unmap_unlock(mm, vmf.address)
    return ret


def _map_swapped_folio_v5(cpu: Cpu, vmf: VmFault, folio: Folio, page: Page, offset: int) -> Gen:
    """do_swap_page() up to v5.17: map writable if reuse_swap_page() says so."""
    vma, ret = vmf.vma, 0
    pte = pfn_pte(page.pfn, vma.vm_page_prot)  # mk_pte(page, ...)
    flags = RMAP_NONE
    if vmf.flags & FAULT_FLAG_WRITE:
        reuse, _total = yield from reuse_swap_page(folio, page)
        if reuse:
            pte = maybe_mkwrite(pte_mkdirty(pte), vma)
            vmf.flags &= ~FAULT_FLAG_WRITE
            ret |= int(VM_FAULT_WRITE)
            flags = RMAP_EXCLUSIVE
    if pte_swp_soft_dirty(vmf.orig_pte):
        pte = pte_mksoft_dirty(pte)
    yield from set_pte_at(vma.mm, vmf.address, vmf.pte, pte)
    yield from _swapin_rmap(cpu, vmf, folio, page, flags)
    vmf.orig_pte = pte
    yield from swap_free(offset)
    yield from folio_unlock(folio)
    return ret


def _map_swapped_folio(cpu: Cpu, vmf: VmFault, folio: Folio, page: Page, offset: int) -> Gen:
    """do_swap_page() since v5.18: reuse only certainly-exclusive folios."""
    vma, era = vmf.vma, cpu.era
    ksm = yield from folio_test_ksm(folio)
    exclusive = era.anon_exclusive and not ksm and pte_swp_exclusive(vmf.orig_pte)
    yield from swap_free(offset)
    if (yield from should_try_to_free_swap(folio, vma, vmf.flags)):
        yield from folio_free_swap(folio)
    pte = pfn_pte(page.pfn, vma.vm_page_prot)  # mk_pte(page, ...)
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
    yield from _swapin_rmap(cpu, vmf, folio, page, flags)
    yield from set_pte_at(vma.mm, vmf.address, vmf.pte, pte)
    vmf.orig_pte = pte
    yield from folio_unlock(folio)
    return 0


def _swapin_rmap(cpu: Cpu, vmf: VmFault, folio: Folio, page: Page, flags: int) -> Gen:
    if (yield from folio_test_anon(folio)):
        yield from folio_add_anon_rmap_pte(cpu, folio, page, vmf.vma, flags)
    else:
        yield from folio_add_new_anon_rmap(cpu, folio, vmf.vma, vmf.address, flags)


def remove_device_exclusive_entry(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/memory.c:remove_device_exclusive_entry(): give the page back to the CPU."""
    page = pfn_to_page(swp_offset(pte_to_swp_entry(vmf.orig_pte)))
    folio = page_folio(page)
    if not (yield from folio_try_get(folio)):
        return 0
    yield from folio_lock(folio)  # folio_lock_or_retry()
    mm = vmf.vma.mm
    # No owner: every device mirroring the range revokes its exclusive access
    # before the CPU gets the page back.  Until the 2025 rework the event was
    # MMU_NOTIFY_EXCLUSIVE (owner NULL), which a driver could only tell from
    # its own conversions by the owner; since, MMU_NOTIFY_EXCLUSIVE means only
    # "converting to device-exclusive" and the revocation is MMU_NOTIFY_CLEAR.
    start = vmf.address & ~(PAGE_SIZE - 1)
    event = MMU_NOTIFY_CLEAR if cpu.era.device_exclusive_keeps_mapcount else MMU_NOTIFY_EXCLUSIVE
    rng = mmu_notifier_range_init(event, mm, start, start + PAGE_SIZE)
    yield from mmu_notifier_invalidate_range_start(cpu, rng)
    yield from pte_offset_map_lock(mm, vmf.address)
    if (yield from ptep_get(vmf.pte)) == vmf.orig_pte:
        yield from restore_exclusive_pte(cpu, vmf.vma, folio, page, vmf.address, vmf.orig_pte)
    yield from pte_unmap_unlock(mm, vmf.address)
    yield from folio_unlock(folio)
    yield from folio_put(folio)
    yield from mmu_notifier_invalidate_range_end(cpu, rng)
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
