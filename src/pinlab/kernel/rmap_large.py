"""Reverse mapping of large folios: PTE batches, PMD mappings, hugetlb.

Models mm/rmap.c and include/linux/rmap.h for folios of order > 0:
``folio_add_new_anon_rmap`` (its large branches), ``folio_add_anon_rmap_ptes``
/ ``_pmd``, ``folio_remove_rmap_ptes`` / ``_pmd``,
``folio_try_dup_anon_rmap_ptes`` / ``_pmd`` (fork), ``folio_try_share_anon_rmap_pmd``,
``folio_add_file_rmap_pmd`` and the hugetlb helpers
``hugetlb_add_new_anon_rmap``, ``hugetlb_try_dup_anon_rmap``,
``hugetlb_add_file_rmap``, ``hugetlb_remove_rmap``.

Mapcounts (CONFIG_PAGE_MAPCOUNT, as the linux-next trees the model follows): each subpage's
``_mapcount`` counts its PTE mappings, ``_entire_mapcount`` the PMD
mappings, and ``_large_mapcount`` every mapping (a PTE or a PMD counts one),
so ``folio_mapcount()`` is ``_large_mapcount + 1``.  The model keeps this
accounting in every era (older kernels computed the same totals from
``compound_mapcount`` and per-page counts).  ``_nr_pages_mapped`` (only
statistics and the deferred split queue) is left out, as is CONFIG_MM_ID.

PageAnonExclusive is per page; hugetlb keeps it on the head page only.
"""

from __future__ import annotations

from pinlab.engine import kapi
from pinlab.kernel.barriers import barrier
from pinlab.kernel.defs import EBUSY, RMAP_EXCLUSIVE
from pinlab.kernel.folio import (
    ClearPageAnonExclusive,
    Gen,
    PageAnonExclusive,
    SetPageAnonExclusive,
    __folio_set_anon,
    __folio_set_swapbacked,
    __SetPageAnonExclusive,
    folio_maybe_dma_pinned,
)
from pinlab.kernel.internal import folio_needs_cow_for_dma
from pinlab.kernel.mm_types import Cpu, Folio, Page, Vma, linear_page_index


def _exclusive(cpu: Cpu, flags: int) -> bool:
    return cpu.era.anon_exclusive and bool(flags & RMAP_EXCLUSIVE)


def folio_add_new_anon_rmap_large(
    cpu: Cpu, folio: Folio, vma: Vma, address: int, flags: int, *, pmd: bool
) -> Gen:
    """Model of mm/rmap.c:folio_add_new_anon_rmap() for a large folio.

    A PMD-mappable folio is mapped by one PMD (``pmd``); an mTHP by a PTE per
    page.  With RMAP_EXCLUSIVE every page is PageAnonExclusive.
    """
    yield from __folio_set_swapbacked(folio)
    start = address & ~((folio.nr_pages << 12) - 1)
    yield from kapi.WRITE_ONCE(folio.index, linear_page_index(vma, start))
    yield from __folio_set_anon(folio)
    if pmd:
        yield from kapi.atomic_set(folio._entire_mapcount, 0)
        yield from kapi.atomic_set(folio._large_mapcount, 0)
    else:
        for page in folio.pages():
            yield from kapi.atomic_set(page._mapcount, 0)
        yield from kapi.atomic_set(folio._large_mapcount, folio.nr_pages - 1)
    if _exclusive(cpu, flags):
        for page in folio.pages():
            yield from __SetPageAnonExclusive(page)


def folio_add_anon_rmap_ptes(
    cpu: Cpu, folio: Folio, pages: list[Page], vma: Vma, flags: int
) -> Gen:
    """Model of mm/rmap.c:folio_add_anon_rmap_ptes(): map ``pages`` of the folio by PTEs."""
    for page in pages:
        yield from kapi.atomic_inc(page._mapcount)
        if _exclusive(cpu, flags):
            yield from SetPageAnonExclusive(page)
    yield from kapi.atomic_add(len(pages), folio._large_mapcount)


def folio_add_anon_rmap_pmd(cpu: Cpu, folio: Folio, vma: Vma, flags: int) -> Gen:
    """Model of mm/rmap.c:folio_add_anon_rmap_pmd()."""
    yield from kapi.atomic_inc(folio._entire_mapcount)
    yield from kapi.atomic_inc(folio._large_mapcount)
    if _exclusive(cpu, flags):
        for page in folio.pages():
            yield from SetPageAnonExclusive(page)


def folio_add_file_rmap_ptes(folio: Folio, pages: list[Page], vma: Vma) -> Gen:
    """Model of mm/rmap.c:folio_add_file_rmap_ptes()."""
    for page in pages:
        yield from kapi.atomic_inc(page._mapcount)
    yield from kapi.atomic_add(len(pages), folio._large_mapcount)


def folio_add_file_rmap_pmd(folio: Folio, vma: Vma) -> Gen:
    """Model of mm/rmap.c:folio_add_file_rmap_pmd()."""
    yield from kapi.atomic_inc(folio._entire_mapcount)
    yield from kapi.atomic_inc(folio._large_mapcount)


def folio_remove_rmap_ptes(folio: Folio, pages: list[Page], vma: Vma) -> Gen:
    """Model of mm/rmap.c:folio_remove_rmap_ptes(): PageAnonExclusive stays (until free)."""
    for page in pages:
        yield from kapi.atomic_add_negative(-1, page._mapcount)
    yield from kapi.atomic_sub(len(pages), folio._large_mapcount)


def folio_remove_rmap_pmd(folio: Folio, vma: Vma) -> Gen:
    """Model of mm/rmap.c:folio_remove_rmap_pmd()."""
    yield from kapi.atomic_add_negative(-1, folio._entire_mapcount)
    yield from kapi.atomic_dec(folio._large_mapcount)


def folio_try_dup_anon_rmap_ptes(cpu: Cpu, folio: Folio, pages: list[Page], src_vma: Vma) -> Gen:
    """Model of include/linux/rmap.h:folio_try_dup_anon_rmap_ptes() (fork, large folio).

    If the folio may be pinned and any page of the batch is exclusive, fork
    must copy (-EBUSY); otherwise every page becomes COW-shared.
    """
    maybe_pinned = yield from folio_needs_cow_for_dma(cpu, src_vma, folio)
    if maybe_pinned:
        for page in pages:
            if (yield from PageAnonExclusive(page)):
                return -EBUSY
    for page in pages:
        if (yield from PageAnonExclusive(page)):
            yield from ClearPageAnonExclusive(page)
        yield from kapi.atomic_inc(page._mapcount)
    yield from kapi.atomic_add(len(pages), folio._large_mapcount)
    return 0


def folio_try_dup_anon_rmap_pmd(cpu: Cpu, folio: Folio, src_vma: Vma) -> Gen:
    """Model of include/linux/rmap.h:folio_try_dup_anon_rmap_pmd() (copy_huge_pmd())."""
    maybe_pinned = yield from folio_needs_cow_for_dma(cpu, src_vma, folio)
    if maybe_pinned:
        for page in folio.pages():
            if (yield from PageAnonExclusive(page)):
                return -EBUSY
    for page in folio.pages():
        if (yield from PageAnonExclusive(page)):
            yield from ClearPageAnonExclusive(page)
    yield from kapi.atomic_inc(folio._entire_mapcount)
    yield from kapi.atomic_inc(folio._large_mapcount)
    return 0


def folio_try_share_anon_rmap_pmd(cpu: Cpu, folio: Folio) -> Gen:
    """Model of include/linux/rmap.h:folio_try_share_anon_rmap_pmd() (PMD cleared by caller).

    The barriers are those of folio_try_share_anon_rmap_pte(), with the same
    partners in GUP-fast (here: gup_fast_pmd_leaf()).
    """
    era = cpu.era
    if era.gup_fast_pae_barriers:
        # Pairs with the smp_mb__after_atomic() after the pin in try_grab_folio_fast().
        yield from barrier(cpu, "folio_try_share_anon_rmap_pte:mb-before-pin-check")
    if (yield from folio_maybe_dma_pinned(cpu, folio)):
        return -EBUSY
    for page in folio.pages():
        yield from ClearPageAnonExclusive(page)
    if era.gup_fast_pae_barriers:
        # Pairs with the smp_rmb() in gup_must_unshare() under GUP-fast.
        yield from barrier(cpu, "folio_try_share_anon_rmap_pte:mb-after-exclusive-clear")
    return 0


# --- hugetlb -----------------------------------------------------------------------------
def hugetlb_add_new_anon_rmap(cpu: Cpu, folio: Folio, vma: Vma, address: int) -> Gen:
    """Model of mm/rmap.c:hugetlb_add_new_anon_rmap(): mapped once, exclusive (head page)."""
    yield from kapi.WRITE_ONCE(folio.index, linear_page_index(vma, address))
    yield from __folio_set_anon(folio)
    yield from kapi.atomic_set(folio._entire_mapcount, 0)
    yield from kapi.atomic_set(folio._large_mapcount, 0)
    if cpu.era.anon_exclusive:
        yield from __SetPageAnonExclusive(folio.page(0))


def hugetlb_try_dup_anon_rmap(cpu: Cpu, folio: Folio, vma: Vma) -> Gen:
    """Model of include/linux/rmap.h:hugetlb_try_dup_anon_rmap() (copy_hugetlb_page_range())."""
    if cpu.era.anon_exclusive and (yield from PageAnonExclusive(folio.page(0))):
        if (yield from folio_needs_cow_for_dma(cpu, vma, folio)):
            return -EBUSY
        yield from ClearPageAnonExclusive(folio.page(0))
    yield from kapi.atomic_inc(folio._entire_mapcount)
    yield from kapi.atomic_inc(folio._large_mapcount)
    return 0


def hugetlb_add_file_rmap(folio: Folio) -> Gen:
    """Model of include/linux/rmap.h:hugetlb_add_file_rmap()."""
    yield from kapi.atomic_inc(folio._entire_mapcount)
    yield from kapi.atomic_inc(folio._large_mapcount)


def hugetlb_remove_rmap(folio: Folio) -> Gen:
    """Model of include/linux/rmap.h:hugetlb_remove_rmap()."""
    yield from kapi.atomic_dec(folio._entire_mapcount)
    yield from kapi.atomic_dec(folio._large_mapcount)
