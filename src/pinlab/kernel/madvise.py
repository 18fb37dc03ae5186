"""MADV_FREE: marking private anonymous memory lazily freeable.

Models mm/madvise.c ``madvise_free_single_vma`` / ``madvise_free_pte_range``
(clean and age each PTE this mm maps alone, drop an unneeded swap-cache
copy) and mm/swap.c ``folio_mark_lazyfree`` (PG_swapbacked goes away: reclaim
may now discard the folio instead of swapping it out, unless it is written
again).  The discard itself is in :mod:`pinlab.kernel.vmscan`
(``try_to_unmap_one`` and ``shrink_folio_list``).

Left out: swap entries in the range (the kernel frees their slots and
clears the PTEs), large folios (the kernel splits them first; here a huge PMD
is split into PTEs and a large folio is left as it is), the LRU list moves,
mlock.
"""

from __future__ import annotations

from pinlab.engine import Loc, kapi
from pinlab.kernel.defs import (
    PAGE_SIZE,
    PMD_SIZE,
    PG_active,
    PG_dirty,
    PG_referenced,
    PG_swapbacked,
)
from pinlab.kernel.folio import (
    Gen,
    folio_mapcount,
    folio_test_anon,
    folio_test_dirty,
    folio_test_swapbacked,
    folio_test_swapcache,
    folio_trylock,
    folio_unlock,
)
from pinlab.kernel.huge_memory import __split_huge_pmd
from pinlab.kernel.huge_mm import pmd_trans_huge
from pinlab.kernel.internal import vm_normal_page
from pinlab.kernel.mm_types import Cpu, Folio, Vma, folio_test_large, page_folio
from pinlab.kernel.pgtable import (
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_get,
    ptep_get_and_clear,
    set_pte_at,
)
from pinlab.kernel.pte import pte_dirty, pte_mkclean, pte_mkold, pte_present, pte_young
from pinlab.kernel.swap_state import folio_free_swap


def folio_mark_lazyfree(folio: Folio) -> Gen:
    """Model of mm/swap.c:folio_mark_lazyfree(): a clean anonymous folio reclaim may drop."""
    if not (yield from folio_test_anon(folio)) or not (yield from folio_test_swapbacked(folio)):
        return
    if (yield from folio_test_swapcache(folio)):
        return
    # lru_lazyfree(): off the active list, not referenced, not swap-backed.
    yield from kapi.clear_bit(PG_active, folio.flags)
    yield from kapi.clear_bit(PG_referenced, folio.flags)
    yield from kapi.clear_bit(PG_swapbacked, folio.flags)


def madvise_free_pte_range(cpu: Cpu, vma: Vma, addr: int, end: int) -> Gen:
    """Model of mm/madvise.c:madvise_free_pte_range() (order-0 folios, present PTEs)."""
    mm = vma.mm
    for haddr in range(addr & ~(PMD_SIZE - 1), end, PMD_SIZE):
        if pmd_trans_huge((yield from kapi.READ_ONCE(mm.pmd(haddr)))):
            yield from __split_huge_pmd(cpu, vma, haddr)
    while addr < end:
        ptep = yield from pte_offset_map_lock(mm, addr)
        yield from _madvise_free_one(cpu, vma, addr, ptep)
        yield from pte_unmap_unlock(mm, addr)
        addr += PAGE_SIZE
    return 0


def _madvise_free_one(cpu: Cpu, vma: Vma, addr: int, ptep: Loc) -> Gen:
    """One PTE of madvise_free_pte_range(), PTL held."""
    mm = vma.mm
    ptent = yield from ptep_get(ptep)
    if not pte_present(ptent):
        return
    page = vm_normal_page(vma, addr, ptent)
    if page is None:
        return
    folio = page_folio(page)
    if folio_test_large(folio):
        return  # not modelled: the kernel splits it (split_folio()) and goes on
    # A folio other processes map too must keep its contents for them.
    if (yield from folio_mapcount(folio)) != 1:
        return
    if (yield from folio_test_swapcache(folio)) or (yield from folio_test_dirty(folio)):
        if not (yield from folio_trylock(folio)):
            return
        if (yield from folio_test_swapcache(folio)) and not (yield from folio_free_swap(folio)):
            yield from folio_unlock(folio)
            return
        yield from kapi.clear_bit(PG_dirty, folio.flags)  # folio_clear_dirty()
        yield from folio_unlock(folio)
    if pte_young(ptent) or pte_dirty(ptent):
        # ptep_get_and_clear_full(), then an old, clean PTE: a later write
        # sets the dirty bit again, which reclaim reads as "keep it".
        ptent = yield from ptep_get_and_clear(mm, addr, ptep)
        yield from set_pte_at(mm, addr, ptep, pte_mkclean(pte_mkold(ptent)))
    yield from folio_mark_lazyfree(folio)
