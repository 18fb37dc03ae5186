"""Swap-out: MADV_PAGEOUT, reclaim, and unmapping a folio from every page table.

Models the pageout half of mm/madvise.c ``madvise_cold_or_pageout_pte_range``
(isolate the folios this mm maps alone), mm/vmscan.c ``shrink_folio_list``
and ``__remove_mapping`` (add to the swap cache, unmap, write out, free if
only the swap cache and the isolation hold the folio), and mm/rmap.c
``try_to_unmap`` / ``try_to_unmap_one`` for anonymous folios, where
PageAnonExclusive moves into the swap entry and a maybe-pinned page makes
the unmap back off (v5.19).  Lazily freed folios (MADV_FREE, no longer
swap-backed) are discarded instead of swapped, unless they were written again
or -- since 6c8e2a256915 (v5.18) -- someone holds a reference to them beyond
the mappings (a GUP user that may still write: L3 in docs/labels.md).  File pageout is
not modelled.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import Loc, kapi
from pinlab.kernel.barriers import barrier
from pinlab.kernel.defs import PAGE_SIZE, PG_lru, PG_swapbacked
from pinlab.kernel.folio import (
    Gen,
    PageAnonExclusive,
    folio_clear_dirty_for_io,
    folio_mapcount,
    folio_mapped,
    folio_mark_dirty,
    folio_maybe_dma_pinned,
    folio_put,
    folio_ref_count,
    folio_ref_freeze,
    folio_test_anon,
    folio_test_dirty,
    folio_test_swapbacked,
    folio_test_swapcache,
    folio_trylock,
    folio_unlock,
)
from pinlab.kernel.internal import vm_normal_page
from pinlab.kernel.mm_types import (
    Cpu,
    Folio,
    Machine,
    Vma,
    folio_test_large,
    page_folio,
    swap_slot,
    vma_address,
)
from pinlab.kernel.pgtable import (
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_clear_flush,
    ptep_get,
    set_pte_at,
)
from pinlab.kernel.pte import (
    SWP_SWAPFILE,
    pte_dirty,
    pte_pfn,
    pte_present,
    pte_soft_dirty,
    pte_swp_mkexclusive,
    pte_swp_mksoft_dirty,
    pte_swp_mkuffd_wp,
    pte_uffd_wp,
    swp_entry,
    swp_entry_to_pte,
)
from pinlab.kernel.rmap import folio_remove_rmap_pte, folio_try_share_anon_rmap_pte, rmap_walk
from pinlab.kernel.swap_state import (
    folio_alloc_swap,
    folio_swap_offset,
    swap_duplicate,
    swap_free,
    swap_writepage,
)
from pinlab.kernel.vmscan_large import pageout_pmd_folio, reclaim_large_anon_folio


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
    if not (yield from folio_test_swapbacked(folio)):
        discarded = yield from _discard_lazyfree_pte(cpu, folio, vma, address, ptep, pteval)
        yield from pte_unmap_unlock(mm, address)
        if discarded:
            yield from folio_put(folio)  # the mapping's reference
        return discarded
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


def _discard_lazyfree_pte(
    cpu: Cpu, folio: Folio, vma: Vma, address: int, ptep: Loc, pteval: Any
) -> Gen:
    """The MADV_FREE branch of try_to_unmap_one(), PTE cleared, PTL held: True if discarded."""
    mm = vma.mm
    if cpu.era.lazyfree_checks_refs:
        # Syncing against concurrent GUP-fast: clear PTE; barrier; read
        # refcount -- pairs with GUP-fast's fully ordered reference grab
        # (folio_ref_try_add()) before it re-reads the PTE.  Reclaim defers
        # the TLB flush (TTU_BATCH_FLUSH), so no flush orders them here.
        yield from barrier(cpu, "try_to_unmap_one:lazyfree-mb")
        ref_count = yield from folio_ref_count(folio)
        map_count = yield from folio_mapcount(folio)
        # Read the refcount before the dirty flag: a GUP user that wrote
        # through its reference dirties the folio only later (pairs with the
        # ordering that __remove_mapping() documents).
        yield from barrier(cpu, "try_to_unmap_one:lazyfree-rmb")
        dirty = yield from folio_test_dirty(folio)
        # The only references: the isolation's and the mappings'.
        if not dirty and ref_count == 1 + map_count:
            yield from folio_remove_rmap_pte(folio, folio.page(0), vma)
            return True
    elif not (yield from folio_test_dirty(folio)):
        yield from folio_remove_rmap_pte(folio, folio.page(0), vma)
        return True
    # Written again (or referenced): keep it, as a swap-backed folio if dirty.
    yield from set_pte_at(mm, address, ptep, pteval)
    if (yield from folio_test_dirty(folio)):
        yield from kapi.set_bit(PG_swapbacked, folio.flags)  # folio_set_swapbacked()
    return False


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
    if anon and folio_test_large(folio):
        return (yield from reclaim_large_anon_folio(cpu, machine, folio))
    if not anon:
        return False  # file pageout is not modelled
    if not (yield from folio_test_swapbacked(folio)):
        return (yield from _reclaim_lazyfree(cpu, machine, folio))
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


def _reclaim_lazyfree(cpu: Cpu, machine: Machine, folio: Folio) -> Gen:
    """shrink_folio_list() for a MADV_FREE folio: unmap, then free without writing it."""
    if (yield from folio_mapped(folio)):
        yield from try_to_unmap(cpu, machine, folio)
        if (yield from folio_mapped(folio)):
            return False
    # Only the isolation's reference may be left (a GUP user's makes it stay).
    if not (yield from folio_ref_freeze(folio, 1)):
        return False
    if (yield from folio_test_dirty(folio)):
        yield from kapi.atomic_set(folio._refcount, 1)  # folio_ref_unfreeze()
        return False
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
        folio = page_folio(page) if page is not None else None
        if folio is None:
            folio = yield from pageout_pmd_folio(vma, addr)  # a huge PMD: the whole THP
        if folio is not None:
            # Only folios this mm maps alone are paged out (a large folio: its
            # first isolation takes it whole, see vmscan_large).
            alone = folio_test_large(folio) or ((yield from kapi.atomic_read(folio._mapcount)) == 0)
            if (
                (yield from folio_mapped(folio))
                and alone
                and (yield from kapi.test_and_clear_bit(PG_lru, folio.flags))
            ):
                yield from kapi.atomic_inc(folio._refcount)  # folio_isolate_lru()
                isolated.append(folio)
        yield from pte_unmap_unlock(mm, addr)
    return (yield from shrink_folio_list(cpu, machine, isolated))
