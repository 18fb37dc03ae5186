"""KSM: merging identical anonymous pages into one write-protected KSM page.

Models mm/ksm.c ``write_protect_page``, ``replace_page``,
``try_to_merge_one_page``, ``try_to_merge_with_ksm_page``,
``try_to_merge_two_pages`` and the page lookup of ``get_mergeable_page``,
plus a one-pass ``ksm_do_scan`` over the pages a caller names.

The race that matters is write_protect_page() against GUP-fast (patterns
L2 and L4, docs/labels.md).  KSM must not merge a page somebody may write through a GUP
reference, so it clears the PTE *before* it compares the reference count
with the map count (GUP-fast re-checks the PTE after taking its reference
and backs off if it changed), and it clears PageAnonExclusive through
folio_try_share_anon_rmap_pte(), whose barriers (088b8aa537c2, v6.1) pair
with GUP-fast's.  The hard case is a page that is already mapped R/O and
clean: the PTE is cleared and restored to the very same value, so GUP-fast's
PTE recheck passes and only PageAnonExclusive tells it to back off.

Left out: the stable and unstable trees (``ksm_do_scan`` merges the pages it
is given, grouped by content), checksums, the KSM zero page, ``break_cow``
after a failed merge, rmap_item bookkeeping, large folios (split first: not
modelled, such folios are skipped).
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import kapi
from pinlab.kernel.defs import EFAULT, PAGE_MAPPING_ANON, PAGE_MAPPING_KSM, RMAP_NONE
from pinlab.kernel.folio import (
    Gen,
    PageAnonExclusive,
    folio_get,
    folio_mapcount,
    folio_mapped,
    folio_mark_accessed,
    folio_mark_dirty,
    folio_put,
    folio_ref_count,
    folio_test_anon,
    folio_test_dirty,
    folio_test_swapcache,
    folio_trylock,
    folio_unlock,
)
from pinlab.kernel.gup import mmap_read_lock, mmap_read_unlock
from pinlab.kernel.internal import mk_pte, vm_normal_page
from pinlab.kernel.mm_types import Cpu, Folio, MmStruct, Page, Vma, page_folio, vma_address
from pinlab.kernel.mmu_notifier import (
    MMU_NOTIFY_CLEAR,
    mmu_notifier_invalidate_range_end,
    mmu_notifier_invalidate_range_start,
    mmu_notifier_range_init,
)
from pinlab.kernel.page_vma_mapped import (
    DEFINE_FOLIO_VMA_WALK,
    page_vma_mapped_walk,
    page_vma_mapped_walk_done,
)
from pinlab.kernel.pgtable import (
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_clear_flush,
    ptep_get,
    set_pte_at,
)
from pinlab.kernel.pin import KernelBug
from pinlab.kernel.pte import (
    pte_dirty,
    pte_mkclean,
    pte_present,
    pte_write,
    pte_wrprotect,
)
from pinlab.kernel.rmap import (
    folio_add_anon_rmap_pte,
    folio_remove_rmap_pte,
    folio_try_share_anon_rmap_pte,
)
from pinlab.kernel.swap_state import folio_free_swap

PAGE_MAPPING_KSM_VALUE = PAGE_MAPPING_ANON | PAGE_MAPPING_KSM


def folio_set_stable_node(folio: Folio) -> Gen:
    """Model of mm/ksm.c:folio_set_stable_node(folio, NULL): the folio becomes a KSM folio.

    ``folio->mapping`` gets the KSM bits (the stable node itself is not modelled).
    """
    yield from kapi.WRITE_ONCE(folio.mapping, PAGE_MAPPING_KSM_VALUE)


def page_address_in_vma(folio: Folio, page: Page, vma: Vma) -> Gen:
    """Model of mm/rmap.c:page_address_in_vma(): the address of ``page`` in ``vma``, or -EFAULT."""
    index = yield from kapi.READ_ONCE(folio.index)
    addr = vma_address(vma, int(index) + (page.pfn - folio.pfn))
    if not vma.vm_start <= addr < vma.vm_end:
        return -EFAULT
    return addr


def get_mergeable_page(cpu: Cpu, vma: Vma, addr: int) -> Gen:
    """Model of mm/ksm.c:get_mergeable_page(): the anonymous page mapped at ``addr``, referenced.

    The kernel walks with folio_walk_start() under mmap_lock; the caller holds it.
    """
    mm = vma.mm
    ptep = yield from pte_offset_map_lock(mm, addr)
    pte = yield from ptep_get(ptep)
    page = vm_normal_page(vma, addr, pte) if pte_present(pte) else None
    if page is not None:
        folio = page_folio(page)
        if (yield from folio_test_anon(folio)) and folio.nr_pages == 1:
            yield from folio_get(folio)
        else:
            page = None
    yield from pte_unmap_unlock(mm, addr)
    return page


def write_protect_page(cpu: Cpu, vma: Vma, folio: Folio) -> Gen:
    """Model of mm/ksm.c:write_protect_page(): map the page R/O and clean, unless GUP holds it.

    Returns ``(0, orig_pte)`` or ``(-EFAULT, 0)``.  The caller holds the
    folio lock and one reference (from get_mergeable_page()).
    """
    mm, err, orig_pte = vma.mm, -EFAULT, 0
    address = yield from page_address_in_vma(folio, folio.page(0), vma)
    if address == -EFAULT:
        return err, orig_pte
    rng = mmu_notifier_range_init(MMU_NOTIFY_CLEAR, mm, address, address + 4096)
    yield from mmu_notifier_invalidate_range_start(cpu, rng)
    pvmw = DEFINE_FOLIO_VMA_WALK(folio, vma, address, 0)
    if (yield from page_vma_mapped_walk(pvmw)):
        assert pvmw.pte is not None
        err, orig_pte = yield from _write_protect_locked(cpu, vma, folio, address, pvmw.pte)
        yield from page_vma_mapped_walk_done(pvmw)
    yield from mmu_notifier_invalidate_range_end(cpu, rng)
    return err, orig_pte


def _write_protect_locked(cpu: Cpu, vma: Vma, folio: Folio, address: int, ptep: Any) -> Gen:
    """write_protect_page() with the PTL held: returns ``(err, orig_pte)``."""
    mm, era = vma.mm, cpu.era
    entry = yield from ptep_get(ptep)
    # A PFN swap PTE (device-exclusive) maps the page too: give up, as the
    # next folio walk would (the 2025 fixes; before, KSM did not expect one).
    if not pte_present(entry):
        return -EFAULT, 0
    anon_exclusive = era.anon_exclusive and (yield from PageAnonExclusive(folio.page(0)))
    if pte_write(entry) or pte_dirty(entry) or anon_exclusive:
        swapped = 1 if (yield from folio_test_swapcache(folio)) else 0
        # GUP-fast takes no lock, so the reference check below is racy
        # unless the PTE is cleared (and the TLB flushed) first: a GUP-fast
        # that took its reference from the old PTE sees the change and backs
        # off; one that comes later finds no PTE.
        entry = yield from ptep_clear_flush(vma, address, ptep)
        # Check that no O_DIRECT or similar I/O is in progress on the page.
        mapcount = yield from folio_mapcount(folio)
        if mapcount + 1 + swapped != (yield from folio_ref_count(folio)):
            yield from set_pte_at(mm, address, ptep, entry)
            return -EFAULT, 0
        # See folio_try_share_anon_rmap_pte(): the PTE is clear first.
        if anon_exclusive and (yield from folio_try_share_anon_rmap_pte(cpu, folio, folio.page(0))):
            yield from set_pte_at(mm, address, ptep, entry)
            return -EFAULT, 0
        if pte_dirty(entry):
            yield from folio_mark_dirty(folio)
        entry = pte_mkclean(entry)
        if pte_write(entry):
            entry = pte_wrprotect(entry)
        # An entry that was R/O and clean is restored unchanged (L2).
        yield from set_pte_at(mm, address, ptep, entry)
    return 0, entry


def replace_page(cpu: Cpu, vma: Vma, page: Page, kpage: Page, orig_pte: Any) -> Gen:
    """Model of mm/ksm.c:replace_page(): map ``kpage`` where ``page`` was mapped R/O.

    Returns 0 or -EFAULT (the PTE changed since write_protect_page()).
    """
    mm, folio, kfolio = vma.mm, page_folio(page), page_folio(kpage)
    addr = yield from page_address_in_vma(folio, page, vma)
    if addr == -EFAULT:
        return -EFAULT
    rng = mmu_notifier_range_init(MMU_NOTIFY_CLEAR, mm, addr, addr + 4096)
    yield from mmu_notifier_invalidate_range_start(cpu, rng)
    ptep = yield from pte_offset_map_lock(mm, addr)
    err = -EFAULT
    if (yield from ptep_get(ptep)) == orig_pte:
        if cpu.era.anon_exclusive:
            if (yield from PageAnonExclusive(page)):
                raise KernelBug(f"VM_BUG_ON_PAGE: KSM replacing exclusive {page}")
            if (yield from PageAnonExclusive(kpage)):
                raise KernelBug(f"VM_BUG_ON_FOLIO: KSM page {kpage} is exclusive")
        yield from folio_get(kfolio)
        yield from folio_add_anon_rmap_pte(cpu, kfolio, kpage, vma, RMAP_NONE)
        newpte = mk_pte(kfolio, vma.vm_page_prot)
        # R/O to R/O with the same content: no notification needed here.
        yield from ptep_clear_flush(vma, addr, ptep)
        yield from set_pte_at(mm, addr, ptep, newpte)
        yield from folio_remove_rmap_pte(folio, page, vma)
        if not (yield from folio_mapped(folio)):
            yield from folio_free_swap(folio)
        yield from folio_put(folio)
        err = 0
    yield from pte_unmap_unlock(mm, addr)
    yield from mmu_notifier_invalidate_range_end(cpu, rng)
    return err


def pages_identical(page1: Page, page2: Page) -> Gen:
    """Model of include/linux/mm.h:pages_identical() (memcmp of the contents)."""
    a = yield from kapi.READ_ONCE(page1.data)
    b = yield from kapi.READ_ONCE(page2.data)
    return a == b


def try_to_merge_one_page(cpu: Cpu, vma: Vma, page: Page, kpage: Page | None) -> Gen:
    """Model of mm/ksm.c:try_to_merge_one_page(): write-protect ``page``, then merge it.

    With ``kpage`` None the page itself becomes a KSM page; otherwise it is
    replaced by ``kpage`` if the contents are still identical.  The caller
    holds a reference on ``page``.  Returns 0 or -EFAULT.
    """
    if kpage is not None and page.pfn == kpage.pfn:
        return 0
    folio = page_folio(page)
    err = -EFAULT
    if not (yield from folio_test_anon(folio)):
        return err
    # We hold a reference, so the folio cannot be freed; its lock keeps
    # swap-out and migration away while we look at it.
    if not (yield from folio_trylock(folio)):
        return err
    werr, orig_pte = yield from write_protect_page(cpu, vma, folio)
    if werr == 0:
        if kpage is None:
            # Upgrade the page from PageAnon to PageKsm while we hold its lock.
            yield from folio_set_stable_node(folio)
            yield from folio_mark_accessed(folio)
            # Reclaim frees a clean page with no dirty PTEs: make sure a KSM
            # page gets written to swap instead.
            if not (yield from folio_test_dirty(folio)):
                yield from folio_mark_dirty(folio)
            err = 0
        elif (yield from pages_identical(page, kpage)):
            err = yield from replace_page(cpu, vma, page, kpage, orig_pte)
    yield from folio_unlock(folio)
    return err


def try_to_merge_with_ksm_page(cpu: Cpu, vma: Vma, page: Page, kpage: Page | None) -> Gen:
    """Model of mm/ksm.c:try_to_merge_with_ksm_page(): the same, under mmap_lock."""
    mm = vma.mm
    yield from mmap_read_lock(mm)
    err = yield from try_to_merge_one_page(cpu, vma, page, kpage)
    yield from mmap_read_unlock(mm)
    return err


def try_to_merge_two_pages(cpu: Cpu, vma: Vma, page: Page, tree_vma: Vma, tree_page: Page) -> Gen:
    """Model of mm/ksm.c:try_to_merge_two_pages(): ``page`` becomes the KSM page, then
    ``tree_page`` is merged into it.  Returns the KSM page, or None.

    (On failure of the second merge the kernel breaks COW on the first page
    again; the model leaves it a KSM page mapped once.)
    """
    err = yield from try_to_merge_with_ksm_page(cpu, vma, page, None)
    if err:
        return None
    err = yield from try_to_merge_with_ksm_page(cpu, tree_vma, tree_page, page)
    return None if err else page


def ksm_do_scan(cpu: Cpu, targets: list[tuple[MmStruct, int]]) -> Gen:
    """One pass of mm/ksm.c:ksm_do_scan() over ``targets`` (mm, address): merge equal pages.

    Each page is compared with the KSM pages already made (the stable tree)
    and then with the unmerged pages seen so far (the unstable tree), by
    content.  Returns how many pages now share a KSM page.
    """
    stable: list[tuple[Vma, Page]] = []
    unstable: list[tuple[Vma, Page]] = []
    merged = 0
    for mm, addr in targets:
        vma = mm.find_vma(addr)
        if vma is None:
            continue
        yield from mmap_read_lock(mm)
        page = yield from get_mergeable_page(cpu, vma, addr)
        yield from mmap_read_unlock(mm)
        if page is None:
            continue
        merged += yield from _cmp_and_merge_page(cpu, vma, page, stable, unstable)
    for _vma, page in stable + unstable:
        yield from folio_put(page_folio(page))
    return merged


def _cmp_and_merge_page(
    cpu: Cpu,
    vma: Vma,
    page: Page,
    stable: list[tuple[Vma, Page]],
    unstable: list[tuple[Vma, Page]],
) -> Gen:
    """Model of mm/ksm.c:cmp_and_merge_page() over the lists standing in for the trees."""
    for _kvma, kpage in stable:
        if (yield from pages_identical(page, kpage)):
            err = yield from try_to_merge_with_ksm_page(cpu, vma, page, kpage)
            yield from folio_put(page_folio(page))
            return 1 if err == 0 else 0
    for i, (tvma, tpage) in enumerate(unstable):
        if (yield from pages_identical(page, tpage)):
            kpage = yield from try_to_merge_two_pages(cpu, vma, page, tvma, tpage)
            if kpage is None:
                break
            del unstable[i]
            yield from folio_put(page_folio(tpage))
            stable.append((vma, kpage))
            return 2
    unstable.append((vma, page))
    return 0
