"""Swap-out of large anonymous folios (THP_SWAP): the whole folio goes to swap at once.

Models the large-folio path of mm/vmscan.c ``shrink_folio_list``: ``add_to_swap``
allocates one swap slot per page (a contiguous cluster) and caches the folio
in all of them; ``try_to_unmap(TTU_SPLIT_HUGE_PMD)`` splits a PMD mapping and
replaces each PTE of the folio by a swap entry for its page's slot, carrying
the page's PageAnonExclusive (``folio_try_share_anon_rmap_pte`` per page: a
maybe-pinned folio makes the unmap back off); the pages are written out and
``__remove_mapping`` frees the folio if only the swap cache and the isolation
hold it.  Swap-in then reads each page back into an order-0 folio (no mTHP
swap-in is modelled); a folio the swap cache kept (a reference held it) is
mapped back a page per fault, each fault mapping the page of its own slot.
Where the kernel would split a folio that a range covers only in part, the
model swaps the whole folio out (folios never split).
"""

from __future__ import annotations

from pinlab.engine import kapi
from pinlab.kernel.defs import PG_swapcache, PG_writeback
from pinlab.kernel.folio import (
    Gen,
    PageAnonExclusive,
    folio_clear_dirty_for_io,
    folio_mapped,
    folio_mark_dirty,
    folio_maybe_dma_pinned,
    folio_put,
    folio_ref_add,
    folio_ref_freeze,
)
from pinlab.kernel.huge_memory import __split_huge_pmd
from pinlab.kernel.huge_mm import is_huge_zero_pmd, pmd_pfn, pmd_trans_huge, pmdp_get
from pinlab.kernel.mm_types import (
    Cpu,
    Folio,
    Machine,
    Page,
    Vma,
    pfn_folio,
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
    swp_entry,
    swp_entry_to_pte,
)
from pinlab.kernel.rmap import folio_remove_rmap_pte, folio_try_share_anon_rmap_pte, rmap_walk
from pinlab.kernel.swap_state import swap_duplicate, swap_free


def add_to_swap_large(cpu: Cpu, folio: Folio) -> Gen:
    """Model of mm/swap_state.c:add_to_swap() with THP_SWAP: a slot per page, cached in each.

    The slots are one naturally aligned cluster, as get_swap_pages() hands out.
    """
    first = cpu.new_swap_cluster(folio.nr_pages)
    for i, page in enumerate(folio.pages()):
        offset = first + i
        yield from kapi.atomic_set(swap_slot(offset).count, 0)
        yield from kapi.WRITE_ONCE(swap_slot(offset).cache, page.pfn)
    yield from folio_ref_add(folio, folio.nr_pages)  # the swap cache holds one per page
    yield from kapi.WRITE_ONCE(folio.swap, first)
    yield from kapi.set_bit(PG_swapcache, folio.flags)
    yield from folio_mark_dirty(folio)
    return first


def try_to_unmap_one_page(
    cpu: Cpu, folio: Folio, page: Page, vma: Vma, address: int, offset: int
) -> Gen:
    """try_to_unmap_one() for one PTE of a large folio: False if it must stay mapped."""
    mm = vma.mm
    ptep = yield from pte_offset_map_lock(mm, address)
    pteval = yield from ptep_get(ptep)
    if not pte_present(pteval) or pte_pfn(pteval) != page.pfn:
        yield from pte_unmap_unlock(mm, address)
        return True
    anon_exclusive = cpu.era.anon_exclusive and (yield from PageAnonExclusive(page))
    pteval = yield from ptep_clear_flush(vma, address, ptep)
    if pte_dirty(pteval):
        yield from folio_mark_dirty(folio)
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
    yield from set_pte_at(mm, address, ptep, swp_pte)
    yield from folio_remove_rmap_pte(folio, page, vma)
    yield from pte_unmap_unlock(mm, address)
    yield from folio_put(folio)  # the mapping's reference
    return True


def try_to_unmap_large(cpu: Cpu, machine: Machine, folio: Folio, first: int) -> Gen:
    """Model of mm/rmap.c:try_to_unmap(folio, TTU_SPLIT_HUGE_PMD) for a large anon folio."""
    index = int((yield from kapi.READ_ONCE(folio.index)))
    for vma in list(rmap_walk(machine, index, anon=True, file_id=0)):
        for i, page in enumerate(folio.pages()):
            address = vma_address(vma, index + i)
            if not vma.vm_start <= address < vma.vm_end:
                continue
            pmd = yield from pmdp_get(vma.mm.pmd(address))
            if pmd_trans_huge(pmd) and pmd_pfn(pmd) == folio.pfn:
                yield from __split_huge_pmd(cpu, vma, address)
            if not (yield from try_to_unmap_one_page(cpu, folio, page, vma, address, first + i)):
                return


def reclaim_large_anon_folio(cpu: Cpu, machine: Machine, folio: Folio) -> Gen:
    """shrink_folio_list() for one isolated, locked large anon folio: True if freed."""
    if cpu.era.reclaim_skips_pinned and (yield from folio_maybe_dma_pinned(cpu, folio)):
        return False
    first = yield from add_to_swap_large(cpu, folio)
    if (yield from folio_mapped(folio)):
        yield from try_to_unmap_large(cpu, machine, folio, first)
        if (yield from folio_mapped(folio)):
            return False
    if (yield from folio_clear_dirty_for_io(folio)):
        yield from kapi.set_bit(PG_writeback, folio.flags)
        for i, page in enumerate(folio.pages()):
            data = yield from kapi.READ_ONCE(page.data)
            yield from kapi.WRITE_ONCE(swap_slot(first + i).data, data)
        yield from kapi.clear_bit(PG_writeback, folio.flags)
    # __remove_mapping(): only the swap cache (one per page) and the isolation hold it.
    if not (yield from folio_ref_freeze(folio, folio.nr_pages + 1)):
        return False
    for i in range(folio.nr_pages):
        yield from kapi.WRITE_ONCE(swap_slot(first + i).cache, 0)
    yield from kapi.WRITE_ONCE(folio.swap, 0)
    yield from kapi.WRITE_ONCE(folio.flags, 0)  # freed (and unlocked)
    yield from kapi.WRITE_ONCE(folio.mapping, 0)
    return True


def pageout_pmd_folio(vma: Vma, addr: int) -> Gen:
    """The folio a huge PMD at ``addr`` maps (not the huge zero folio), or None."""
    pmd = yield from pmdp_get(vma.mm.pmd(addr))
    if not pmd_trans_huge(pmd) or is_huge_zero_pmd(pmd):
        return None
    return pfn_folio(int(pmd_pfn(pmd)))
