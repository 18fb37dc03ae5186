"""Folio reference counts, flags, lock, allocation and freeing.

Models include/linux/page_ref.h, include/linux/page-flags.h (the folio and
PageAnonExclusive accessors), include/linux/mm.h (folio_get/put,
folio_maybe_dma_pinned) and the parts of mm/page_alloc.c and mm/swap.c that
allocate and free order-0 folios.  Atomic bitops are the kernel's (set_bit,
clear_bit, test_and_set_bit); the non-atomic ``__set_bit`` family is a plain
read and write, as in C.

Large folios (THP, mTHP, hugetlb) have their pins in ``_pincount`` and their
mappings counted in ``_large_mapcount`` / ``_entire_mapcount`` and the
per-page ``_mapcount`` (see :mod:`pinlab.kernel.mm_types`).

Left out: LRU batching (a folio goes straight onto the LRU, so the kernel's
``lru_add_drain()`` has nothing to drain), memcg, the page allocator's free
lists (a pfn is never reused, so a freed folio simply stays at refcount 0).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pinlab.engine import Assume, Load, Store, Tag, kapi
from pinlab.kernel.defs import (
    GUP_PIN_COUNTING_BIAS,
    PAGE_MAPPING_ANON,
    PAGE_MAPPING_FLAGS,
    PAGE_MAPPING_KSM,
    PG_anon_exclusive,
    PG_dirty,
    PG_locked,
    PG_lru,
    PG_referenced,
    PG_swapbacked,
    PG_swapcache,
    PG_uptodate,
    PG_writeback,
)
from pinlab.kernel.eras import PinProposal
from pinlab.kernel.mm_types import (
    FREE_HUGE_PAGES,
    Cpu,
    Folio,
    Page,
    folio_test_hugetlb,
    folio_test_large,
    is_zero_folio,
    pfn_folio,
)

Gen = Generator[Any, Any, Any]


# --- non-atomic bitops ----------------------------------------------------------
def __set_bit(nr: int, loc: Any) -> Gen:
    """Model of include/asm-generic/bitops/non-atomic.h:__set_bit()."""
    old = yield Load(loc, Tag.PLAIN)
    yield Store(loc, old | (1 << nr), Tag.PLAIN)


def __clear_bit(nr: int, loc: Any) -> Gen:
    """Model of include/asm-generic/bitops/non-atomic.h:__clear_bit()."""
    old = yield Load(loc, Tag.PLAIN)
    yield Store(loc, old & ~(1 << nr), Tag.PLAIN)


def clear_bit_unlock(nr: int, loc: Any) -> Gen:
    """Model of include/asm-generic/bitops/lock.h:clear_bit_unlock().

    A release: everything before it is ordered before the bit clears.
    """
    yield from kapi.smp_mb__before_atomic()  # release ordering for the unlock
    yield from kapi.clear_bit(nr, loc)


# --- reference count -------------------------------------------------------------
def folio_ref_count(folio: Folio) -> Gen:
    """Model of include/linux/page_ref.h:folio_ref_count()."""
    return (yield from kapi.atomic_read(folio._refcount))


def folio_ref_add(folio: Folio, nr: Any) -> Gen:
    """Model of include/linux/page_ref.h:folio_ref_add()."""
    yield from kapi.atomic_add(nr, folio._refcount)


def folio_ref_sub(folio: Folio, nr: Any) -> Gen:
    """Model of include/linux/page_ref.h:folio_ref_sub()."""
    yield from kapi.atomic_sub(nr, folio._refcount)


def folio_get(folio: Folio) -> Gen:
    """Model of include/linux/mm.h:folio_get()."""
    yield from kapi.atomic_inc(folio._refcount)


def folio_ref_try_add(folio: Folio, count: Any) -> Gen:
    """Model of include/linux/page_ref.h:folio_ref_try_add(): add unless zero (fully ordered)."""
    return (yield from kapi.atomic_add_unless(folio._refcount, count, 0))


def folio_try_get(folio: Folio) -> Gen:
    """Model of include/linux/page_ref.h:folio_try_get()."""
    return (yield from folio_ref_try_add(folio, 1))


def folio_ref_freeze(folio: Folio, count: int) -> Gen:
    """Model of include/linux/page_ref.h:folio_ref_freeze(): cmpxchg count -> 0."""
    old = yield from kapi.atomic_cmpxchg(folio._refcount, count, 0)
    return old == count


def folio_put_refs(folio: Folio, refs: Any) -> Gen:
    """Model of include/linux/mm.h:folio_put_refs()."""
    if (yield from kapi.atomic_sub_and_test(refs, folio._refcount)):
        yield from __folio_put(folio)


def folio_put(folio: Folio) -> Gen:
    """Model of include/linux/mm.h:folio_put()."""
    if (yield from kapi.atomic_dec_and_test(folio._refcount)):
        yield from __folio_put(folio)


def __folio_put(folio: Folio) -> Gen:
    """Model of mm/swap.c:__folio_put() and free_pages_prepare(): the last reference is gone.

    PG_anon_exclusive stays set until here (spec §1.1 in docs/labels.md); freeing clears the
    flags word and ``folio->mapping``.  The pfn is never handed out again.
    """
    assert not is_zero_folio(folio), "the shared zero page is never freed"
    yield from kapi.WRITE_ONCE(folio.flags, 0)
    yield from kapi.WRITE_ONCE(folio.mapping, 0)
    if folio_test_hugetlb(folio):
        # free_huge_folio(): back into the hugetlb pool.
        yield from kapi.atomic_inc(FREE_HUGE_PAGES)


# --- mapping -----------------------------------------------------------------------
def folio_mapping_value(folio: Folio) -> Gen:
    """Model of READ_ONCE(folio->mapping)."""
    return (yield from kapi.READ_ONCE(folio.mapping))


def folio_test_anon(folio: Folio) -> Gen:
    """Model of include/linux/page-flags.h:folio_test_anon()."""
    mapping = yield from kapi.READ_ONCE(folio.mapping)
    return (mapping & PAGE_MAPPING_ANON) != 0


def PageAnon(page: Page) -> Gen:
    """Model of include/linux/page-flags.h:PageAnon()."""
    return (yield from folio_test_anon(pfn_folio(page.pfn)))


def folio_test_ksm(folio: Folio) -> Gen:
    """Model of include/linux/page-flags.h:folio_test_ksm()."""
    mapping = yield from kapi.READ_ONCE(folio.mapping)
    return (mapping & PAGE_MAPPING_FLAGS) == (PAGE_MAPPING_ANON | PAGE_MAPPING_KSM)


def __folio_set_anon(folio: Folio) -> Gen:
    """Model of mm/rmap.c:__folio_set_anon(): publish the anon_vma in folio->mapping."""
    yield from kapi.WRITE_ONCE(folio.mapping, PAGE_MAPPING_ANON)


# --- page flags ----------------------------------------------------------------------
def _test(nr: int, folio: Folio) -> Gen:
    return (yield from kapi.test_bit(nr, folio.flags))


def folio_test_locked(folio: Folio) -> Gen:
    """Model of include/linux/page-flags.h:folio_test_locked()."""
    return (yield from _test(PG_locked, folio))


def folio_test_dirty(folio: Folio) -> Gen:
    """Model of include/linux/page-flags.h:folio_test_dirty()."""
    return (yield from _test(PG_dirty, folio))


def folio_test_writeback(folio: Folio) -> Gen:
    """Model of include/linux/page-flags.h:folio_test_writeback()."""
    return (yield from _test(PG_writeback, folio))


def folio_test_lru(folio: Folio) -> Gen:
    """Model of include/linux/page-flags.h:folio_test_lru()."""
    return (yield from _test(PG_lru, folio))


def folio_test_swapcache(folio: Folio) -> Gen:
    """Model of include/linux/page-flags.h:folio_test_swapcache()."""
    return (yield from _test(PG_swapcache, folio))


def folio_test_swapbacked(folio: Folio) -> Gen:
    """Model of include/linux/page-flags.h:folio_test_swapbacked()."""
    return (yield from _test(PG_swapbacked, folio))


def folio_mark_dirty(folio: Folio) -> Gen:
    """Model of mm/page-writeback.c:folio_mark_dirty() (the flag; no inode dirtying)."""
    yield from kapi.set_bit(PG_dirty, folio.flags)


def folio_clear_dirty_for_io(folio: Folio) -> Gen:
    """Model of mm/page-writeback.c:folio_clear_dirty_for_io()."""
    return (yield from kapi.test_and_clear_bit(PG_dirty, folio.flags))


def folio_mark_accessed(folio: Folio) -> Gen:
    """Model of mm/swap.c:folio_mark_accessed() (only PG_referenced: no LRU aging)."""
    yield from kapi.set_bit(PG_referenced, folio.flags)


def folio_set_referenced(folio: Folio) -> Gen:
    """Model of include/linux/page-flags.h:folio_set_referenced()."""
    yield from kapi.set_bit(PG_referenced, folio.flags)


def folio_add_lru(folio: Folio) -> Gen:
    """Model of mm/swap.c:folio_add_lru(): straight onto the LRU (no per-CPU batch)."""
    yield from kapi.set_bit(PG_lru, folio.flags)


def __folio_set_swapbacked(folio: Folio) -> Gen:
    """Model of include/linux/page-flags.h:__folio_set_swapbacked() (non-atomic)."""
    yield from __set_bit(PG_swapbacked, folio.flags)


def __folio_mark_uptodate(folio: Folio) -> Gen:
    """Model of include/linux/page-flags.h:__folio_mark_uptodate().

    The data written into the folio must be visible before PG_uptodate, and
    PG_uptodate before the PTE that maps the folio.
    """
    yield from kapi.smp_wmb()  # pairs with the smp_rmb() of folio_test_uptodate()
    yield from __set_bit(PG_uptodate, folio.flags)


def _pae_page(page: Page) -> Page:
    """hugetlb keeps PG_anon_exclusive on the head page only."""
    folio = pfn_folio(page.pfn)
    return folio.page(0) if folio_test_hugetlb(folio) else page


def PageAnonExclusive(page: Page) -> Gen:
    """Model of include/linux/page-flags.h:PageAnonExclusive()."""
    return (yield from kapi.test_bit(PG_anon_exclusive, _pae_page(page).flags))


def SetPageAnonExclusive(page: Page) -> Gen:
    """Model of include/linux/page-flags.h:SetPageAnonExclusive() (atomic set_bit)."""
    yield from kapi.set_bit(PG_anon_exclusive, _pae_page(page).flags)


def __SetPageAnonExclusive(page: Page) -> Gen:
    """Model of include/linux/page-flags.h:__SetPageAnonExclusive() (new folios only)."""
    yield from __set_bit(PG_anon_exclusive, _pae_page(page).flags)


def ClearPageAnonExclusive(page: Page) -> Gen:
    """Model of include/linux/page-flags.h:ClearPageAnonExclusive() (atomic clear_bit)."""
    yield from kapi.clear_bit(PG_anon_exclusive, _pae_page(page).flags)


# --- folio lock -------------------------------------------------------------------------
def folio_trylock(folio: Folio) -> Gen:
    """Model of include/linux/pagemap.h:folio_trylock() (test_and_set_bit_lock)."""
    old = yield from kapi.test_and_set_bit(PG_locked, folio.flags)
    return old == 0


def folio_lock(folio: Folio) -> Gen:
    """Model of mm/filemap.c:folio_lock(): sleep until the lock is ours.

    Blocking is modelled as "this execution continues only if the lock was
    free": executions in which another CPU holds it are discarded, as herd7
    and GenMC do for blocking locks.  A sequential run that blocks fails.
    """
    got = yield from folio_trylock(folio)
    yield Assume(got)


def folio_unlock(folio: Folio) -> Gen:
    """Model of mm/filemap.c:folio_unlock()."""
    yield from clear_bit_unlock(PG_locked, folio.flags)


# --- pins --------------------------------------------------------------------------------
def folio_maybe_dma_pinned(cpu: Cpu, folio: Folio) -> Gen:
    """Model of include/linux/mm.h:folio_maybe_dma_pinned() (order 0: the refcount bias).

    False positives (1024 or more plain references) are possible, false
    negatives are not.  Before FOLL_PIN existed (v4.20) nothing is "pinned".
    """
    if not cpu.era.foll_pin:
        return (yield from _proposal_maybe_dma_pinned(cpu, folio))
    if folio_test_large(folio):
        # Exact for large folios (47e29d32afba, v5.7; folio->_pincount today).
        return (yield from kapi.atomic_read(folio._pincount)) > 0
    ref = yield from folio_ref_count(folio)
    return ref >= GUP_PIN_COUNTING_BIAS


def _proposal_maybe_dma_pinned(cpu: Cpu, folio: Folio) -> Gen:
    """What "is it pinned?" reads under a pre-FOLL_PIN proposal (eras.PinProposal).

    The separate counter is exact.  With ``_mapcount`` overloading the
    put_user_page*() thread has consumers treat page_mapped() as "maybe DMA
    pinned", for file pages only: every mapped file page looks pinned.
    """
    proposal = cpu.era.pin_proposal
    if proposal is PinProposal.DMA_PINNED_COUNT:
        return (yield from kapi.atomic_read(folio.dma_pinned_count)) > 0
    if proposal is PinProposal.MAPCOUNT:
        if (yield from folio_test_anon(folio)):
            return False
        return (yield from folio_mapped(folio))
    return False


# --- allocation -----------------------------------------------------------------------------
def folio_alloc(cpu: Cpu, *, movable: bool = True) -> Gen:
    """Model of mm/page_alloc.c:folio_alloc(): a fresh order-0 folio, refcount 1.

    User memory is a movable allocation (GFP_HIGHUSER_MOVABLE); kernel
    allocations and migration targets for longterm pins are not.  The new
    folio's name comes from the CPU's own counter, so a replayed thread
    allocates the same folio again.
    """
    folio = pfn_folio(cpu.new_pfn(movable))
    yield from kapi.atomic_set(folio._refcount, 1)
    yield from kapi.atomic_set(folio._mapcount, -1)
    yield from kapi.WRITE_ONCE(folio.flags, 0)
    yield from kapi.WRITE_ONCE(folio.mapping, 0)
    return folio


def folio_alloc_large(cpu: Cpu, order: int, *, zeroed: bool = True, hugetlb: bool = False) -> Gen:
    """Model of mm/page_alloc.c:folio_alloc() for order > 0 (prep_compound_page()).

    Every subpage starts unmapped (``_mapcount`` -1); the folio has one
    reference, no pins and no mappings.
    """
    folio = pfn_folio(cpu.new_large_pfn(order, hugetlb))
    yield from kapi.atomic_set(folio._refcount, 1)
    yield from kapi.atomic_set(folio._entire_mapcount, -1)
    yield from kapi.atomic_set(folio._large_mapcount, -1)
    yield from kapi.atomic_set(folio._pincount, 0)
    yield from kapi.WRITE_ONCE(folio.flags, 0)
    yield from kapi.WRITE_ONCE(folio.mapping, 0)
    for page in folio.pages():
        yield from kapi.atomic_set(page._mapcount, -1)
        if zeroed:
            yield from kapi.WRITE_ONCE(page.data, 0)
    return folio


def vma_alloc_zeroed_movable_folio(cpu: Cpu) -> Gen:
    """Model of include/linux/highmem.h:vma_alloc_zeroed_movable_folio()."""
    folio = yield from folio_alloc(cpu)
    yield from kapi.WRITE_ONCE(folio.data, 0)
    return folio


def copy_user_highpage(to: Page, frm: Page) -> Gen:
    """Model of include/linux/highmem.h:copy_user_highpage(): copy the page contents."""
    v = yield from kapi.READ_ONCE(frm.data)
    yield from kapi.WRITE_ONCE(to.data, v)


def folio_mapcount(folio: Folio) -> Gen:
    """Model of include/linux/mm.h:folio_mapcount(): every PTE and PMD mapping."""
    if folio_test_large(folio):
        return (yield from kapi.atomic_read(folio._large_mapcount)) + 1
    v = yield from kapi.atomic_read(folio._mapcount)
    return v + 1


def page_mapcount(page: Page) -> Gen:
    """Model of include/linux/mm.h:page_mapcount(): the page's PTE mappings plus PMD mappings.

    Of a large folio's head page, ``_mapcount`` counts only PTE mappings; the
    PMD mappings are the folio's ``_entire_mapcount``.
    """
    folio = pfn_folio(page.pfn)
    n = (yield from kapi.atomic_read(page._mapcount)) + 1
    if folio_test_large(folio):
        n += (yield from kapi.atomic_read(folio._entire_mapcount)) + 1
    return n


def copy_user_large_folio(dst: Folio, src: Folio) -> Gen:
    """Model of mm/memory.c:copy_user_large_folio(): copy every subpage."""
    for i in range(src.nr_pages):
        yield from copy_user_highpage(dst.page(i), src.page(i))


def folio_mapped(folio: Folio) -> Gen:
    """Model of include/linux/mm.h:folio_mapped()."""
    return (yield from folio_mapcount(folio)) > 0
