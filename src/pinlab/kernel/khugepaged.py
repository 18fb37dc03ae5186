"""THP collapse: MADV_COLLAPSE (and khugepaged's collapse_huge_page()).

Models mm/khugepaged.c ``madvise_collapse``, ``collapse_huge_page``,
``__collapse_huge_page_isolate`` and ``__collapse_huge_page_copy``: the
PTE table of a PMD-sized range is replaced by a huge PMD mapping a new,
exclusive THP holding a copy of the old pages.

The race with GUP-fast (L5 in docs/labels.md, 70cbc3cc78a9, v6.1): the PMD is cleared
(``pmdp_collapse_flush``) *before* the references of the old pages are
checked, and GUP-fast rechecks the PMD after taking its reference; so either
GUP-fast sees the PMD change and backs off, or collapse sees its reference
and gives up.  A page with a reference beyond its mappings (a pin, a GUP
reference) is not collapsed.

Left out: khugepaged's scanner thread and its max_ptes_* limits (MADV_COLLAPSE
ignores them), swap-in of swapped-out PTEs (a swap PTE makes the collapse
fail here), file and shmem collapse, the LRU isolation reference.
MADV_COLLAPSE exists since 7d8faaf15545 (v6.1).
"""

from __future__ import annotations

from pinlab.engine import kapi
from pinlab.kernel.defs import (
    EAGAIN,
    EINVAL,
    HPAGE_PMD_ORDER,
    HPAGE_PMD_SIZE,
    PAGE_SIZE,
    PMD_MASK,
    PMD_SIZE,
    RMAP_EXCLUSIVE,
    VM_HUGETLB,
    VM_NOHUGEPAGE,
)
from pinlab.kernel.folio import (
    Gen,
    __folio_mark_uptodate,
    copy_user_highpage,
    folio_add_lru,
    folio_alloc_large,
    folio_mapcount,
    folio_put,
    folio_ref_count,
    folio_test_anon,
    folio_test_swapcache,
    folio_trylock,
    folio_unlock,
)
from pinlab.kernel.huge_memory import maybe_pmd_mkwrite
from pinlab.kernel.huge_mm import (
    mk_huge_pmd,
    pmd_lock,
    pmd_mkdirty,
    pmd_trans_huge,
    pmd_unlock,
    pmdp_get,
    pmdp_huge_get_and_clear,
    set_pmd_at,
)
from pinlab.kernel.internal import vm_normal_page
from pinlab.kernel.mm_types import Cpu, Folio, MmStruct, Page, Vma, page_folio, vma_is_anonymous
from pinlab.kernel.pgtable import flush_tlb_range, pte_clear, ptep_get
from pinlab.kernel.pte import pte_none, pte_present
from pinlab.kernel.rmap import folio_add_new_anon_rmap, folio_remove_rmap_pte

SCAN_SUCCEED = 1
SCAN_FAIL = 0


def pmdp_collapse_flush(vma: Vma, haddr: int) -> Gen:
    """Model of mm/pgtable-generic.c:pmdp_collapse_flush(): clear the PMD, flush the range.

    After this no new GUP-fast walk reaches the old PTE table.  One that
    already did is waited for by x86's flush IPI (it runs with interrupts
    off); where the flush waits for nobody (arm64, RCU-freed page tables)
    it fails its PMD recheck in gup_fast_pte_range() instead (70cbc3cc78a9).
    """
    pmd = yield from pmdp_huge_get_and_clear(vma.mm, haddr, vma.mm.pmd(haddr))
    yield from flush_tlb_range(vma, haddr, haddr + HPAGE_PMD_SIZE)
    return pmd


def is_refcount_suitable(folio: Folio) -> Gen:
    """Model of mm/khugepaged.c:is_refcount_suitable(): only mappings and swap cache hold it."""
    expected = yield from folio_mapcount(folio)
    if (yield from folio_test_swapcache(folio)):
        expected += folio.nr_pages
    return (yield from folio_ref_count(folio)) == expected


def __collapse_huge_page_isolate(vma: Vma, haddr: int) -> Gen:
    """Model of mm/khugepaged.c:__collapse_huge_page_isolate(): lock every folio, check refs.

    Returns the (page or None) of every PTE and the locked folios, or None.
    """
    pages: list[Page | None] = []
    locked: list[Folio] = []
    ok = True
    for i in range(1 << HPAGE_PMD_ORDER):
        addr = haddr + i * PAGE_SIZE
        pte = yield from ptep_get(vma.mm.pte(addr))
        if pte_none(pte):
            pages.append(None)
            continue
        if not pte_present(pte):
            ok = False  # SCAN_PTE_NON_PRESENT (no swap-in modelled)
            break
        page = vm_normal_page(vma, addr, pte)
        pages.append(page)
        if page is None:
            continue  # the shared zero page: a zero-filled subpage
        folio = page_folio(page)
        if not (yield from folio_test_anon(folio)):
            ok = False  # SCAN_PAGE_ANON
            break
        if folio in locked:
            continue
        if not (yield from folio_trylock(folio)):
            ok = False  # SCAN_PAGE_LOCK
            break
        locked.append(folio)
        if not (yield from is_refcount_suitable(folio)):
            ok = False  # SCAN_PAGE_COUNT: someone (GUP) holds a reference
            break
    if not ok:
        for folio in locked:
            yield from folio_unlock(folio)
        return None
    return pages, locked


def collapse_huge_page(cpu: Cpu, vma: Vma, haddr: int) -> Gen:
    """Model of mm/khugepaged.c:collapse_huge_page(): SCAN_SUCCEED or SCAN_FAIL."""
    mm = vma.mm
    new = yield from folio_alloc_large(cpu, HPAGE_PMD_ORDER, zeroed=True)
    yield from pmd_lock(mm, haddr)
    old_pmd = yield from pmdp_collapse_flush(vma, haddr)
    yield from pmd_unlock(mm, haddr)
    yield from kapi.spin_lock(mm.ptl(haddr))  # the PTE table's lock
    isolated = yield from __collapse_huge_page_isolate(vma, haddr)
    yield from kapi.spin_unlock(mm.ptl(haddr))
    if isolated is None:
        # Put the PTE table back: nothing changed.
        yield from pmd_lock(mm, haddr)
        yield from set_pmd_at(mm, haddr, mm.pmd(haddr), old_pmd)
        yield from pmd_unlock(mm, haddr)
        yield from folio_put(new)
        return SCAN_FAIL
    pages, locked = isolated
    yield from __collapse_huge_page_copy(vma, haddr, new, pages)
    for folio in locked:
        yield from folio_unlock(folio)
    yield from __folio_mark_uptodate(new)
    entry = maybe_pmd_mkwrite(pmd_mkdirty(mk_huge_pmd(new, vma.vm_page_prot)), vma)
    yield from pmd_lock(mm, haddr)
    yield from folio_add_new_anon_rmap(cpu, new, vma, haddr, RMAP_EXCLUSIVE)
    yield from folio_add_lru(new)
    yield from set_pmd_at(mm, haddr, mm.pmd(haddr), entry)
    yield from pmd_unlock(mm, haddr)
    return SCAN_SUCCEED


def __collapse_huge_page_copy(vma: Vma, haddr: int, new: Folio, pages: list[Page | None]) -> Gen:
    """Model of mm/khugepaged.c:__collapse_huge_page_copy(): copy, then drop the old PTEs."""
    mm = vma.mm
    for i, page in enumerate(pages):
        if page is not None:
            yield from copy_user_highpage(new.page(i), page)
    for i, page in enumerate(pages):
        addr = haddr + i * PAGE_SIZE
        yield from kapi.spin_lock(mm.ptl(addr))
        yield from pte_clear(mm, addr, mm.pte(addr))
        if page is not None:
            folio = page_folio(page)
            yield from folio_remove_rmap_pte(folio, page, vma)
        yield from kapi.spin_unlock(mm.ptl(addr))
        if page is not None:
            yield from folio_put(page_folio(page))  # the old mapping's reference


def madvise_collapse(cpu: Cpu, mm: MmStruct, start: int, end: int) -> Gen:
    """Model of mm/khugepaged.c:madvise_collapse(): 0, -EINVAL, or -EAGAIN if one failed."""
    hstart = (start + PMD_SIZE - 1) & PMD_MASK
    hend = end & PMD_MASK
    ret = 0
    for haddr in range(hstart, hend, PMD_SIZE):
        vma = mm.find_vma(haddr)
        if (
            vma is None
            or not vma_is_anonymous(vma)
            or vma.vm_flags & (VM_HUGETLB | VM_NOHUGEPAGE)
            or not (vma.vm_start <= haddr and haddr + PMD_SIZE <= vma.vm_end)
        ):
            return -EINVAL
        pmd = yield from pmdp_get(mm.pmd(haddr))
        if pmd_trans_huge(pmd):
            continue  # SCAN_PMD_MAPPED
        if not pmd or (yield from collapse_huge_page(cpu, vma, haddr)) != SCAN_SUCCEED:
            ret = -EAGAIN
    return ret
