"""Write-protect faults: reuse the page, or copy it (COW), or unshare it.

Models mm/memory.c ``do_wp_page``, ``wp_can_reuse_anon_folio``,
``wp_page_reuse``, ``wp_page_copy`` and ``wp_page_shared`` for order-0
folios, and the older reuse tests they replaced:

- up to v5.8, ``reuse_swap_page()`` (mm/swapfile.c): reuse when the page has
  one mapping and no other swap user.  GUP references are not counted, so a
  page a GUP holder still uses can be taken over by the writer: the
  "missed COW" of CVE-2020-29374.
- v5.9 (09854ba94c6a): reuse only when ``page_count() == 1``.  Any extra
  reference (a pin, the swap cache) forces a copy: the "wrong COW" that
  breaks pins of pages mapped R/O.
- v5.18 (53a05ad9f21d): tolerate the swap cache's reference and drop it.
- v5.19 (6c287605fd56): a PageAnonExclusive page is reused without further
  checks, and an FAULT_FLAG_UNSHARE fault only marks the page exclusive or
  replaces it by an exclusive copy, leaving the PTE read-only.

The caller holds the PTL; every path here releases it.
"""

from __future__ import annotations

from pinlab.engine import kapi
from pinlab.kernel.defs import (
    FAULT_FLAG_UNSHARE,
    RMAP_EXCLUSIVE,
    VM_FAULT_WRITE,
    VM_MAYSHARE,
    VM_SHARED,
)
from pinlab.kernel.eras import CowReuse
from pinlab.kernel.folio import (
    Gen,
    PageAnonExclusive,
    SetPageAnonExclusive,
    __folio_mark_uptodate,
    copy_user_highpage,
    folio_add_lru,
    folio_alloc,
    folio_get,
    folio_mapcount,
    folio_mark_dirty,
    folio_put,
    folio_ref_count,
    folio_test_anon,
    folio_test_ksm,
    folio_test_swapcache,
    folio_test_writeback,
    folio_trylock,
    folio_unlock,
    vma_alloc_zeroed_movable_folio,
)
from pinlab.kernel.internal import VmFault, maybe_mkwrite, mk_pte, vm_normal_page
from pinlab.kernel.mm_types import Cpu, Folio, Page, Vma, folio_test_large, page_folio
from pinlab.kernel.pgtable import (
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_clear_flush,
    ptep_get,
    ptep_set_access_flags,
    set_pte_at,
)
from pinlab.kernel.pte import (
    pte_mkdirty,
    pte_mksoft_dirty,
    pte_mkuffd_wp,
    pte_mkyoung,
    pte_soft_dirty,
    pte_sw_mkyoung,
    pte_uffd_wp,
)
from pinlab.kernel.rmap import (
    anon_vma_prepare,
    folio_add_new_anon_rmap,
    folio_move_anon_rmap,
    folio_remove_rmap_pte,
)
from pinlab.kernel.swap_state import (
    __swap_count,
    delete_from_swap_cache,
    folio_free_swap,
    folio_swap_offset,
    free_swap_cache,
    page_swap_entry,
)


def page_trans_huge_map_swapcount(folio: Folio, page: Page) -> Gen:
    """Model of mm/swapfile.c:page_trans_huge_map_swapcount() (removed in v5.18).

    Returns ``(map_swapcount, total_mapcount, total_swapcount)``.  For a THP
    in the swap cache, ``map_swapcount`` is the largest mappings-plus-swap-PTEs
    count of any of its pages, plus its PMD mappings: not just ``page``'s.
    """
    if not folio_test_large(folio):
        mapcount = yield from folio_mapcount(folio)
        swapcount = 0
        if (yield from folio_test_swapcache(folio)):
            swapcount = yield from __swap_count(int((yield from folio_swap_offset(folio))))
        return mapcount + swapcount, mapcount, swapcount
    cached = yield from folio_test_swapcache(folio)
    offset = int((yield from folio_swap_offset(folio))) if cached else 0
    map_swapcount = total_mapcount = total_swapcount = 0
    for i, subpage in enumerate(folio.pages()):
        mapcount = (yield from kapi.atomic_read(subpage._mapcount)) + 1
        swapcount = (yield from __swap_count(offset + i)) if cached else 0
        total_mapcount += mapcount
        total_swapcount += swapcount
        map_swapcount = max(map_swapcount, mapcount + swapcount)
    entire = (yield from kapi.atomic_read(folio._entire_mapcount)) + 1
    return map_swapcount + entire, total_mapcount + entire, total_swapcount


def reuse_swap_page(folio: Folio, page: Page) -> Gen:
    """Model of mm/swapfile.c:reuse_swap_page() (removed in v5.18, "COW fixes part 1").

    Returns ``(reuse, total_map_swapcount)``.  Counts mappings and swap PTEs,
    never references: a page a GUP holder (or a pipe) still uses is reused
    if it is mapped once.  A THP leaves the swap cache only once no other of
    its slots is in use.
    """
    if (yield from folio_test_ksm(folio)):
        return False, 0
    count, total_mapcount, total_swapcount = yield from page_trans_huge_map_swapcount(folio, page)
    if count == 1 and (yield from folio_test_swapcache(folio)):
        last = True
        if folio_test_large(folio):
            # Only if no other page's slot is still in use.
            own = yield from __swap_count((yield from page_swap_entry(folio, page)))
            last = total_swapcount == own
        if last and not (yield from folio_test_writeback(folio)):
            yield from delete_from_swap_cache(folio)
            yield from folio_mark_dirty(folio)
    return count <= 1, total_mapcount + total_swapcount


def wp_can_reuse_anon_folio(cpu: Cpu, folio: Folio, page: Page, vma: Vma) -> Gen:
    """Model of mm/memory.c:wp_can_reuse_anon_folio() and the tests it replaced (module doc).

    ``page`` is the faulting page: up to v5.8, reuse_swap_page() was given
    it, and for a PTE-mapped THP counted the mappings of every subpage.
    """
    kind = cpu.era.cow_reuse
    if kind is CowReuse.MAPCOUNT:
        # v5.8 and older: do_wp_page() sleeps for the page lock if the
        # trylock fails; the model copies instead (no other CPU holds it
        # in a sequential run).
        if not (yield from folio_trylock(folio)):
            return False
        reuse, total = yield from reuse_swap_page(folio, page)
        if reuse and total == 1:
            yield from folio_move_anon_rmap(folio, vma)
        yield from folio_unlock(folio)
        return reuse
    if kind is CowReuse.REFCOUNT:
        if (yield from folio_test_ksm(folio)) or (yield from folio_ref_count(folio)) != 1:
            return False
        if not (yield from folio_trylock(folio)):
            return False
        if (
            (yield from folio_test_ksm(folio))
            or (yield from folio_mapcount(folio)) != 1
            or (yield from folio_ref_count(folio)) != 1
        ):
            yield from folio_unlock(folio)
            return False
        yield from folio_move_anon_rmap(folio, vma)
        yield from folio_unlock(folio)
        return True
    # v5.18+: the swap cache's reference is expected; drop it if we can.
    if (yield from folio_test_ksm(folio)) or (yield from folio_ref_count(folio)) > 3:
        return False
    swapcache = 1 if (yield from folio_test_swapcache(folio)) else 0
    if (yield from folio_ref_count(folio)) > 1 + swapcache:
        return False
    if not (yield from folio_trylock(folio)):
        return False
    if (yield from folio_test_swapcache(folio)):
        yield from folio_free_swap(folio)
    if (yield from folio_test_ksm(folio)) or (yield from folio_ref_count(folio)) != 1:
        yield from folio_unlock(folio)
        return False
    yield from folio_move_anon_rmap(folio, vma)
    yield from folio_unlock(folio)
    return True


def wp_page_reuse(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/memory.c:wp_page_reuse(): make the PTE young, dirty and writable."""
    entry = maybe_mkwrite(pte_mkdirty(pte_mkyoung(vmf.orig_pte)), vmf.vma)
    yield from ptep_set_access_flags(vmf.vma, vmf.address, vmf.pte, entry)
    yield from pte_unmap_unlock(vmf.vma.mm, vmf.address)
    return _fault_write(cpu)


def _fault_write(cpu: Cpu) -> int:
    # VM_FAULT_WRITE told GUP that COW was broken (FOLL_COW); both went in v6.0.
    return 0 if cpu.era.foll_force_needs_exclusive else int(VM_FAULT_WRITE)


def do_wp_page(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/memory.c:do_wp_page(): a write (or unshare) fault on a R/O-mapped page."""
    vma, era = vmf.vma, cpu.era
    unshare = bool(vmf.flags & FAULT_FLAG_UNSHARE)
    page = vm_normal_page(vma, vmf.address, vmf.orig_pte)
    folio = page_folio(page) if page is not None else None
    if vma.vm_flags & (VM_SHARED | VM_MAYSHARE):
        if unshare or folio is None:
            yield from pte_unmap_unlock(vma.mm, vmf.address)
            return 0
        return (yield from wp_page_shared(cpu, vmf, folio))
    if folio is not None and page is not None and (yield from folio_test_anon(folio)):
        if (yield from _anon_reusable(cpu, folio, page, vma)):
            if era.anon_exclusive and not (yield from PageAnonExclusive(page)):
                yield from SetPageAnonExclusive(page)
            if unshare:
                yield from pte_unmap_unlock(vma.mm, vmf.address)
                return 0
            return (yield from wp_page_reuse(cpu, vmf))
    elif unshare and not era.ro_longterm_unshare_cow:
        # v5.19-v6.1: no anonymous page, nothing to unshare.
        yield from pte_unmap_unlock(vma.mm, vmf.address)
        return 0
    if folio is not None:
        yield from folio_get(folio)
    yield from pte_unmap_unlock(vma.mm, vmf.address)
    return (yield from wp_page_copy(cpu, vmf, folio, page))


def _anon_reusable(cpu: Cpu, folio: Folio, page: Page, vma: Vma) -> Gen:
    if cpu.era.anon_exclusive and (yield from PageAnonExclusive(page)):
        return True  # exclusive pages are reused without further checks (I2, docs/labels.md)
    return (yield from wp_can_reuse_anon_folio(cpu, folio, page, vma))


def wp_page_copy(cpu: Cpu, vmf: VmFault, old_folio: Folio | None, old_page: Page | None) -> Gen:
    """Model of mm/memory.c:wp_page_copy(): map an exclusive copy instead of the old page.

    Called without the PTL and with a reference on ``old_folio`` (None for
    the shared zero page).  An unshare fault keeps the new PTE read-only.
    """
    vma, mm = vmf.vma, vmf.vma.mm
    unshare = bool(vmf.flags & FAULT_FLAG_UNSHARE)
    # vmf_anon_prepare(): the VMA gets its anon_vma here when its only pages
    # so far were the shared zero page (a read fault, an R/O pin), so that
    # fork copies its page tables afterwards (vma_needs_copy()).
    yield from anon_vma_prepare(vma)
    if old_page is None:
        new_folio = yield from vma_alloc_zeroed_movable_folio(cpu)
    else:
        new_folio = yield from folio_alloc(cpu)
        yield from copy_user_highpage(new_folio.page(0), old_page)
    yield from __folio_mark_uptodate(new_folio)
    yield from pte_offset_map_lock(mm, vmf.address)
    copied = False
    if (yield from ptep_get(vmf.pte)) == vmf.orig_pte:
        entry = pte_sw_mkyoung(mk_pte(new_folio, vma.vm_page_prot))
        if unshare:
            if pte_soft_dirty(vmf.orig_pte):
                entry = pte_mksoft_dirty(entry)
            if pte_uffd_wp(vmf.orig_pte):
                entry = pte_mkuffd_wp(entry)
        else:
            entry = maybe_mkwrite(pte_mkdirty(entry), vma)
        # Clear the old PTE (and flush) before installing the new one, so no
        # CPU ever sees both the old and the new page writable at once.
        yield from ptep_clear_flush(vma, vmf.address, vmf.pte)
        yield from folio_add_new_anon_rmap(cpu, new_folio, vma, vmf.address, RMAP_EXCLUSIVE)
        yield from folio_add_lru(new_folio)
        yield from set_pte_at(mm, vmf.address, vmf.pte, entry)
        if old_folio is not None and old_page is not None:
            yield from folio_remove_rmap_pte(old_folio, old_page, vma)
        copied = True
    yield from pte_unmap_unlock(mm, vmf.address)
    if copied:
        if old_folio is not None:
            yield from folio_put(old_folio)  # the old mapping's reference
    else:
        yield from folio_put(new_folio)
    if old_folio is not None:
        if copied:
            yield from free_swap_cache(old_folio)
        yield from folio_put(old_folio)  # the reference do_wp_page() took
    return _fault_write(cpu) if copied and not unshare else 0


def wp_page_shared(cpu: Cpu, vmf: VmFault, folio: Folio) -> Gen:
    """Model of mm/memory.c:wp_page_shared(): reuse a shared page and dirty it.

    ->page_mkwrite() drops and retakes the PTL in the kernel; with no
    truncation modelled, the PTE cannot change meanwhile, so the model keeps it.
    """
    yield from folio_get(folio)
    ret = yield from wp_page_reuse(cpu, vmf)
    yield from folio_mark_dirty(folio)  # fault_dirty_shared_page()
    yield from folio_put(folio)
    return ret
