"""Device-exclusive entries: giving a device atomic access to an anonymous page.

Models mm/rmap.c in its two designs (pattern L11 in docs/labels.md):

- ``make_device_exclusive_range`` (b756a3b5e7ea, v5.14 up to v6.14): GUP the
  range (FOLL_GET | FOLL_WRITE | FOLL_SPLIT_PMD, which breaks COW), then for
  each page ``folio_trylock`` and an rmap walk (``folio_make_device_exclusive``
  -> ``page_make_device_exclusive_one``) that replaces *every* mapping of the
  folio by a device-exclusive entry, each under an ``MMU_NOTIFY_EXCLUSIVE``
  invalidation carrying the caller's ``owner``, and drops the mapcount of each
  (``page_remove_rmap``) while the GUP reference stays with the entry.  It
  succeeds only if the walk found the requested (mm, address) writable and no
  mapping is left.  A page whose lock is taken is skipped (its slot is None).
- ``make_device_exclusive`` (the 2025 rework, lore
  20250210193801.781278-1-david@redhat.com, v6.15): one page; ``folio_lock``
  (sleeping) instead of a trylock; one ``MMU_NOTIFY_EXCLUSIVE`` invalidation;
  re-walk the page table and require the same page mapped writable by a PTE,
  else retry from GUP; the entry keeps the mapcount (the folio stays
  "mapped", which is what lets swap-out, migration and split see it).

Both return with the folio locked and referenced: the driver programs its
device while holding the folio lock, then unlocks and puts it.  Since a CPU
fault on the entry (``remove_device_exclusive_entry``) must take the folio lock
before it restores the PTE, the device is programmed before any CPU can take
the page back.

Which design runs is the era switch ``device_exclusive_keeps_mapcount``;
before ``device_exclusive`` (v5.14) neither exists.  Left out: hugetlb
refusal (only order-0 anonymous folios exist here), the readable (R/O)
device-exclusive entry of the old design (the target mapping must be
writable in both), soft-dirty carried into the entry.
"""

from __future__ import annotations

from typing import Final

from pinlab.engine import Cutoff, kapi
from pinlab.kernel.defs import (
    EBUSY,
    EINVAL,
    EOPNOTSUPP,
    FOLL_GET,
    FOLL_SPLIT_PMD,
    FOLL_WRITE,
    PAGE_SIZE,
)
from pinlab.kernel.folio import (
    Gen,
    folio_lock,
    folio_mapcount,
    folio_mark_dirty,
    folio_put,
    folio_test_anon,
    folio_trylock,
    folio_unlock,
)
from pinlab.kernel.gup_api import get_user_pages_remote
from pinlab.kernel.mm_types import Cpu, Folio, MmStruct, Page, Vma, page_folio, vma_address
from pinlab.kernel.mmu_notifier import (
    MMU_NOTIFY_EXCLUSIVE,
    mmu_notifier_invalidate_range_end,
    mmu_notifier_invalidate_range_start,
    mmu_notifier_range_init,
)
from pinlab.kernel.pgtable import (
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_clear_flush,
    ptep_get,
    set_pte_at,
)
from pinlab.kernel.pte import (
    SWP_DEVICE_EXCLUSIVE,
    pte_dirty,
    pte_pfn,
    pte_present,
    pte_soft_dirty,
    pte_swp_mksoft_dirty,
    pte_write,
    swp_entry,
    swp_entry_to_pte,
)
from pinlab.kernel.rmap import folio_remove_rmap_pte, rmap_walk

__all__ = [
    "device_exclusive_page",
    "make_device_exclusive",
    "make_device_exclusive_entry",
    "make_device_exclusive_range",
]

# make_device_exclusive() retries from GUP when the page table changed under
# it; the model bounds that loop (a Cutoff, never a verdict).
_RETRIES: Final = 3


def make_device_exclusive_entry(pfn: int) -> int:
    """Model of include/linux/swapops.h:make_device_exclusive_entry() (as a PTE value)."""
    return int(swp_entry_to_pte(swp_entry(SWP_DEVICE_EXCLUSIVE, pfn)))


def make_device_exclusive(cpu: Cpu, mm: MmStruct, addr: int, owner: object) -> Gen:
    """Model of mm/rmap.c:make_device_exclusive() (v6.15): one page, mapcount kept.

    The caller holds mmap_lock for read.  Returns the page, locked and
    referenced, or -errno.
    """
    if addr % PAGE_SIZE:
        return -EINVAL
    for _ in range(_RETRIES):
        pages: list[Page] = []
        got = yield from get_user_pages_remote(
            cpu, mm, addr, 1, FOLL_GET | FOLL_WRITE | FOLL_SPLIT_PMD, pages
        )
        if got != 1:
            return got if got < 0 else -EBUSY
        page = pages[0]
        folio = page_folio(page)
        if not (yield from folio_test_anon(folio)):
            yield from folio_put(folio)
            return -EOPNOTSUPP
        yield from folio_lock(folio)  # folio_lock_killable()
        rng = mmu_notifier_range_init(MMU_NOTIFY_EXCLUSIVE, mm, addr, addr + PAGE_SIZE, owner)
        yield from mmu_notifier_invalidate_range_start(cpu, rng)
        vma = mm.find_vma(addr)
        assert vma is not None, "GUP succeeded on an address without a VMA"
        # folio_walk_start(): the same page, mapped writable by a PTE.
        ptep = yield from pte_offset_map_lock(mm, addr)
        pte = yield from ptep_get(ptep)
        if pte_present(pte) and pte_pfn(pte) == page.pfn and pte_write(pte):
            yield from _install_entry(vma, folio, page, addr, ptep)
            yield from pte_unmap_unlock(mm, addr)
            yield from mmu_notifier_invalidate_range_end(cpu, rng)
            return page
        yield from pte_unmap_unlock(mm, addr)
        yield from mmu_notifier_invalidate_range_end(cpu, rng)
        yield from folio_unlock(folio)
        yield from folio_put(folio)
    yield Cutoff("make_device_exclusive: the page table keeps changing under it")
    return -EBUSY


def _install_entry(vma: Vma, folio: Folio, page: Page, addr: int, ptep: object) -> Gen:
    """Clear and flush the PTE (for its dirty bit), then install the device-exclusive entry."""
    pte = yield from ptep_clear_flush(vma, addr, ptep)  # type: ignore[arg-type]
    if pte_dirty(pte):
        yield from folio_mark_dirty(folio)
    entry = make_device_exclusive_entry(page.pfn)
    if pte_soft_dirty(pte):
        entry = pte_swp_mksoft_dirty(entry)
    yield from set_pte_at(vma.mm, addr, ptep, entry)  # type: ignore[arg-type]
    return pte


def make_device_exclusive_range(cpu: Cpu, mm: MmStruct, start: int, end: int, owner: object) -> Gen:
    """Model of mm/rmap.c:make_device_exclusive_range() (v5.14-v6.14).

    The caller holds mmap_lock for read.  Returns ``(npages, pages)``: each
    slot a page locked and referenced whose mappings are all device-exclusive
    entries, or None when its lock was taken or the walk failed.
    """
    npages = (end - start) // PAGE_SIZE
    got: list[Page] = []
    n = yield from get_user_pages_remote(
        cpu, mm, start, npages, FOLL_GET | FOLL_WRITE | FOLL_SPLIT_PMD, got
    )
    if n <= 0:
        return n, []
    pages: list[Page | None] = list(got)
    for i, page in enumerate(got):
        assert page is not None
        folio = page_folio(page)
        address = start + i * PAGE_SIZE
        if not (yield from folio_trylock(folio)):
            yield from folio_put(folio)
            pages[i] = None
            continue
        if not (yield from folio_make_device_exclusive(cpu, folio, page, mm, address, owner)):
            yield from folio_unlock(folio)
            yield from folio_put(folio)
            pages[i] = None
    return n, pages


def folio_make_device_exclusive(
    cpu: Cpu, folio: Folio, page: Page, mm: MmStruct, address: int, owner: object
) -> Gen:
    """Model of mm/rmap.c:folio_make_device_exclusive() (v5.14-v6.14): walk every mapping.

    True only if the walk replaced the requested writable mapping and no
    mapping is left (the folio is then unmapped as far as rmap can tell).
    """
    if not (yield from folio_test_anon(folio)):
        return False
    valid = False
    index = int((yield from kapi.READ_ONCE(folio.index)))
    for vma in rmap_walk(cpu.machine, index, anon=True, file_id=0):
        addr = vma_address(vma, index)
        if (
            yield from page_make_device_exclusive_one(
                cpu, folio, page, vma, addr, mm, address, owner
            )
        ):
            valid = True
    return valid and (yield from folio_mapcount(folio)) == 0


def page_make_device_exclusive_one(
    cpu: Cpu,
    folio: Folio,
    page: Page,
    vma: Vma,
    addr: int,
    mm: MmStruct,
    address: int,
    owner: object,
) -> Gen:
    """Model of mm/rmap.c:page_make_device_exclusive_one() for one PTE mapping.

    Returns whether this was the requested mapping, writable.  The mapping's
    mapcount is dropped; its page reference now belongs to the entry.
    """
    rng = mmu_notifier_range_init(MMU_NOTIFY_EXCLUSIVE, vma.mm, addr, addr + PAGE_SIZE, owner)
    yield from mmu_notifier_invalidate_range_start(cpu, rng)
    ptep = yield from pte_offset_map_lock(vma.mm, addr)
    pte = yield from ptep_get(ptep)
    requested = False
    if pte_present(pte) and pte_pfn(pte) == page.pfn:
        pte = yield from _install_entry(vma, folio, page, addr, ptep)
        requested = vma.mm is mm and addr == address and bool(pte_write(pte))
        yield from folio_remove_rmap_pte(folio, page, vma)  # page_remove_rmap()
    yield from pte_unmap_unlock(vma.mm, addr)
    yield from mmu_notifier_invalidate_range_end(cpu, rng)
    return requested


def device_exclusive_page(cpu: Cpu, mm: MmStruct, addr: int, owner: object) -> Gen:
    """What a driver calls for one page, in its era: the page (locked, referenced) or -errno.

    v6.15+: ``make_device_exclusive()``; v5.14-v6.14: a one-page
    ``make_device_exclusive_range()`` (a None slot is -EBUSY to the caller).
    """
    if not cpu.era.device_exclusive:
        return -EOPNOTSUPP
    if cpu.era.device_exclusive_keeps_mapcount:
        return (yield from make_device_exclusive(cpu, mm, addr, owner))
    n, pages = yield from make_device_exclusive_range(cpu, mm, addr, addr + PAGE_SIZE, owner)
    if n <= 0:
        return n if n < 0 else -EBUSY
    return pages[0] if pages[0] is not None else -EBUSY
