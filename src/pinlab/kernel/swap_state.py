"""The swap device and the swap cache.

Models mm/swapfile.c and mm/swap_state.c for one swap device: a slot's
``swap_map`` count (how many swap PTEs refer to it), the swap cache (which
folio, if any, holds the slot's data in memory; the cache holds one folio
reference), and the slot's data on the device.

The device behaves like a disk without ``SWP_SYNCHRONOUS_IO``: swap-in always
goes through the swap cache.  Writeback completes at once.  The kernel
updates ``swap_map`` under the device lock; the model uses atomics on the
count, which orders the same way for the paths modelled.
"""

from __future__ import annotations

from pinlab.engine import kapi
from pinlab.kernel.defs import PG_swapcache, PG_writeback
from pinlab.kernel.folio import (
    Gen,
    folio_mapped,
    folio_mark_dirty,
    folio_put,
    folio_ref_add,
    folio_ref_sub,
    folio_test_swapcache,
    folio_test_writeback,
    folio_try_get,
    folio_trylock,
    folio_unlock,
)
from pinlab.kernel.mm_types import Cpu, Folio, Page, folio_page_idx, pfn_folio, swap_slot


def __swap_count(offset: int) -> Gen:
    """Model of mm/swapfile.c:__swap_count(): how many swap PTEs use the slot."""
    return (yield from kapi.atomic_read(swap_slot(offset).count))


def folio_swapped(folio: Folio) -> Gen:
    """Model of mm/swapfile.c:folio_swapped(): does a swap PTE still use any of its slots?

    For a THP in v5.9, swap_page_trans_huge_swapped() scanned its cluster.
    """
    offset = int((yield from folio_swap_offset(folio)))
    for i in range(folio.nr_pages):
        if (yield from __swap_count(offset + i)) > 0:
            return True
    return False


def swap_duplicate(offset: int) -> Gen:
    """Model of mm/swapfile.c:swap_duplicate(): one more swap PTE (fork, unmap)."""
    yield from kapi.atomic_inc(swap_slot(offset).count)
    return 0


def swap_free(offset: int) -> Gen:
    """Model of mm/swapfile.c:swap_free(): one swap PTE fewer."""
    yield from kapi.atomic_dec(swap_slot(offset).count)


def folio_swap_offset(folio: Folio) -> Gen:
    """Model of READ_ONCE(folio->swap): the slot a swapcache folio caches."""
    return (yield from kapi.READ_ONCE(folio.swap))


def add_to_swap_cache(folio: Folio, offset: int) -> Gen:
    """Model of mm/swap_state.c:add_to_swap_cache(): the cache takes a reference."""
    yield from folio_ref_add(folio, 1)
    yield from kapi.WRITE_ONCE(folio.swap, offset)
    yield from kapi.set_bit(PG_swapcache, folio.flags)
    yield from kapi.WRITE_ONCE(swap_slot(offset).cache, folio.pfn)


def delete_from_swap_cache(folio: Folio) -> Gen:
    """Model of mm/swap_state.c:delete_from_swap_cache(): drop the cache and its references.

    A large folio leaves all its slots at once, and the cache drops the
    reference it held for each page.
    """
    offset = int((yield from folio_swap_offset(folio)))
    for i in range(folio.nr_pages):
        yield from kapi.WRITE_ONCE(swap_slot(offset + i).cache, 0)
    yield from kapi.clear_bit(PG_swapcache, folio.flags)
    yield from kapi.WRITE_ONCE(folio.swap, 0)
    yield from folio_ref_sub(folio, folio.nr_pages)


def folio_file_page(folio: Folio, offset: int) -> Page:
    """Model of include/linux/pagemap.h:folio_file_page(): the page caching slot ``offset``.

    The slots of a large folio are naturally aligned (Cpu.new_swap_cluster()),
    so the offset's low bits index the folio.  v5.9 found the same page with
    find_get_page(), whose find_subpage() did this for the head it looked up.
    """
    return folio.page(offset & (folio.nr_pages - 1))


def page_swap_entry(folio: Folio, page: Page) -> Gen:
    """Model of include/linux/swapops.h:page_swap_entry(): the slot ``page`` caches.

    Up to v5.x, page_private() of each subpage, which add_to_swap_cache()
    set to the folio's first entry plus the page's index.
    """
    first = yield from folio_swap_offset(folio)
    return int(first) + folio_page_idx(folio, page)


def swap_cache_get_folio(offset: int) -> Gen:
    """Model of mm/swap_state.c:swap_cache_get_folio(): a referenced cached folio, or None."""
    pfn = yield from kapi.READ_ONCE(swap_slot(offset).cache)
    if not pfn:
        return None
    folio = pfn_folio(int(pfn))
    if not (yield from folio_try_get(folio)):
        return None
    return folio


def folio_alloc_swap(cpu: Cpu, folio: Folio) -> Gen:
    """Model of mm/swap_state.c:add_to_swap(): allocate a slot and cache the folio in it.

    The slot's count starts at 0: try_to_unmap() adds one per swap PTE.
    """
    offset = cpu.new_swap_offset()
    yield from kapi.atomic_set(swap_slot(offset).count, 0)
    yield from add_to_swap_cache(folio, offset)
    yield from folio_mark_dirty(folio)
    return offset


def swap_writepage(folio: Folio) -> Gen:
    """Model of mm/page_io.c:swap_writepage(): write the data out; writeback ends at once."""
    offset = yield from folio_swap_offset(folio)
    yield from kapi.set_bit(PG_writeback, folio.flags)
    data = yield from kapi.READ_ONCE(folio.data)
    yield from kapi.WRITE_ONCE(swap_slot(int(offset)).data, data)
    yield from kapi.clear_bit(PG_writeback, folio.flags)


def swap_read_folio(folio: Folio, offset: int) -> Gen:
    """Model of mm/page_io.c:swap_read_folio()."""
    data = yield from kapi.READ_ONCE(swap_slot(offset).data)
    yield from kapi.WRITE_ONCE(folio.data, data)


def folio_free_swap(folio: Folio) -> Gen:
    """Model of mm/swapfile.c:folio_free_swap() (try_to_free_swap()).

    Drop the folio from the swap cache if no swap PTE uses its slot any more;
    the folio is then the only copy of the data, so it is dirty.
    """
    if not (yield from folio_test_swapcache(folio)):
        return False
    if (yield from folio_test_writeback(folio)):
        return False
    if (yield from folio_swapped(folio)):
        return False
    yield from delete_from_swap_cache(folio)
    yield from folio_mark_dirty(folio)
    return True


def free_swap_cache(folio: Folio) -> Gen:
    """Model of mm/swap_state.c:free_swap_cache(): drop an unmapped folio's swap cache."""
    if (
        (yield from folio_test_swapcache(folio))
        and not (yield from folio_mapped(folio))
        and (yield from folio_trylock(folio))
    ):
        yield from folio_free_swap(folio)
        yield from folio_unlock(folio)


def free_swap_and_cache(offset: int) -> Gen:
    """Model of mm/swapfile.c:free_swap_and_cache(): a swap PTE is zapped."""
    left = yield from kapi.atomic_dec_return(swap_slot(offset).count)
    if left == 0:
        folio = yield from swap_cache_get_folio(offset)
        if folio is not None:
            yield from free_swap_cache(folio)
            yield from folio_put(folio)
