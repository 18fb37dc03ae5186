"""Writeback of shared file pages: cleaning the PTEs, then the folio, then writing it.

Models mm/rmap.c ``folio_mkclean`` / ``page_vma_mkclean_one`` (write-protect
and clean every shared PTE of the folio, so that the next write faults and
->page_mkwrite sees it), mm/page-writeback.c ``folio_clear_dirty_for_io``
(``clear_page_dirty_for_io`` in older kernels: PTE dirty bits move into the
folio before PG_dirty is tested and cleared) and the per-folio loop of
``write_cache_pages`` for one file (lock, clear dirty for I/O, PG_writeback,
write ``data`` to the disk, end writeback).

What writeback does *not* do is look at pins (pattern L12, docs/labels.md): a pin
holder may write through its kernel mapping while the folio is clean or
under writeback, and only ``unpin_user_pages_dirty_lock()`` re-dirties it,
without ->page_mkwrite.  That is why v6.5 refuses writable longterm pins on
dirty-tracked mappings (8ac268436e6d, a6e79df92e4a).

Design what-if (``Era.writeback_handles_pins``, never merged): after
cleaning a folio, writeback asks folio_maybe_dma_pinned() -- whatever the
era's way of telling pins from references makes of that -- and, as Jan Kara
put it in the put_user_page*() thread (Dec 2018), memory-cleaning writeback
(WB_SYNC_NONE) skips a pinned folio and redirties it, while data integrity
writeback (WB_SYNC_ALL) must write it, from a bounce copy, and leaves it
dirty because the device may write again at any moment.  What it cannot do
is stop the device: the pin holder writes whenever it likes.  A page is one
word here, so a bounce copy cannot be torn and the I/O of a page cannot
tear; what bouncing buys for checksums and stable pages is not modelled.

Left out: the writeback control and tagging, stable pages (waiting for
writeback before a write), buffer heads and the filesystems' own paths.
"""

from __future__ import annotations

import enum
from typing import Final

from pinlab.engine import kapi
from pinlab.kernel.defs import PAGE_MAPPING_ANON, PAGE_SIZE, VM_SHARED, PG_dirty, PG_writeback
from pinlab.kernel.folio import (
    Gen,
    folio_lock,
    folio_mapped,
    folio_mark_dirty,
    folio_maybe_dma_pinned,
    folio_put,
    folio_unlock,
)
from pinlab.kernel.memory import filemap_get_folio
from pinlab.kernel.mm_types import AddressSpace, Cpu, Folio, Machine, Vma, vma_address
from pinlab.kernel.mmu_notifier import (
    MMU_NOTIFY_PROTECTION_PAGE,
    mmu_notifier_invalidate_range_end,
    mmu_notifier_invalidate_range_start,
    mmu_notifier_range_init,
)
from pinlab.kernel.page_vma_mapped import DEFINE_FOLIO_VMA_WALK, page_vma_mapped_walk
from pinlab.kernel.pgtable import ptep_clear_flush, set_pte_at
from pinlab.kernel.pte import pte_dirty, pte_mkclean, pte_present, pte_write, pte_wrprotect
from pinlab.kernel.rmap import rmap_walk


def page_vma_mkclean_one(cpu: Cpu, folio: Folio, vma: Vma, address: int) -> Gen:
    """Model of mm/rmap.c:page_vma_mkclean_one(): how many PTEs it cleaned in ``vma``."""
    cleaned = 0
    rng = mmu_notifier_range_init(MMU_NOTIFY_PROTECTION_PAGE, vma.mm, address, address + PAGE_SIZE)
    yield from mmu_notifier_invalidate_range_start(cpu, rng)
    pvmw = DEFINE_FOLIO_VMA_WALK(folio, vma, address, 0)
    while (yield from page_vma_mapped_walk(pvmw)):
        assert pvmw.pte is not None
        pte = pvmw.pteval
        if not pte_present(pte):
            continue  # a device entry: nothing the CPU could write through
        if not pte_dirty(pte) and not pte_write(pte):
            continue
        # Clear and flush first, so no CPU keeps writing through a stale TLB
        # entry, then put back a clean, write-protected PTE.
        entry = yield from ptep_clear_flush(vma, pvmw.address, pvmw.pte)
        yield from set_pte_at(vma.mm, pvmw.address, pvmw.pte, pte_mkclean(pte_wrprotect(entry)))
        cleaned += 1
    yield from mmu_notifier_invalidate_range_end(cpu, rng)
    return cleaned


def folio_mkclean(cpu: Cpu, machine: Machine, folio: Folio) -> Gen:
    """Model of mm/rmap.c:folio_mkclean(): clean every shared mapping; how many were dirty.

    The folio is locked.  Private mappings are left alone (invalid_mkclean_vma()):
    a write to them copies the page first.
    """
    if not (yield from folio_mapped(folio)):
        return 0
    mapping = int((yield from kapi.READ_ONCE(folio.mapping)))
    if not mapping or mapping & PAGE_MAPPING_ANON:
        return 0
    index = int((yield from kapi.READ_ONCE(folio.index)))
    cleaned = 0
    for vma in rmap_walk(machine, index, anon=False, file_id=mapping >> 2):
        if not (vma.vm_flags & VM_SHARED):
            continue
        cleaned += yield from page_vma_mkclean_one(cpu, folio, vma, vma_address(vma, index))
    return cleaned


def clear_page_dirty_for_io(cpu: Cpu, machine: Machine, folio: Folio) -> Gen:
    """Model of mm/page-writeback.c:folio_clear_dirty_for_io() (clear_page_dirty_for_io()).

    For a mapping that writes back: first clean the PTEs (their dirty bits
    move into the folio), then test-and-clear PG_dirty.  True if the folio
    was dirty and must be written.
    """
    mapping = int((yield from kapi.READ_ONCE(folio.mapping)))
    file = machine.file_of_mapping(mapping) if not mapping & PAGE_MAPPING_ANON else None
    # A dirty PTE cleaned here must leave the folio dirty, or the data
    # written through it would never reach the disk.
    if (
        file is not None
        and file.mapping_can_writeback
        and (yield from folio_mkclean(cpu, machine, folio))
    ):
        yield from folio_mark_dirty(folio)
    return (yield from kapi.test_and_clear_bit(PG_dirty, folio.flags))


WB_SYNC_NONE: Final = 0  # memory-cleaning writeback (flusher threads, reclaim)
WB_SYNC_ALL: Final = 1  # data integrity writeback (fsync, sync)


class WbOutcome(enum.IntEnum):
    """What writeback did with one folio (the model's record, not a kernel type)."""

    CLEAN = 0  # not dirty: nothing to write
    WRITTEN = 1  # written from the page itself
    BOUNCED = 2  # seen pinned: written from a copy, left dirty
    SKIPPED = 3  # seen pinned, memory-cleaning writeback: redirtied, not written

    @property
    def written(self) -> bool:
        return self in (WbOutcome.WRITTEN, WbOutcome.BOUNCED)


def folio_redirty_for_writepage(folio: Folio) -> Gen:
    """Model of mm/page-writeback.c:folio_redirty_for_writepage(): dirty again, not written."""
    yield from folio_mark_dirty(folio)


def writeback_folio(
    cpu: Cpu, machine: Machine, file: AddressSpace, folio: Folio, sync_mode: int = WB_SYNC_ALL
) -> Gen:
    """One folio of mm/page-writeback.c:write_cache_pages(), folio locked: write it if dirty.

    Returns a :class:`WbOutcome`.  The pin check is the what-if of the
    put_user_page*() thread (``Era.writeback_handles_pins``); it comes after
    folio_mkclean(), so a GUP that wants to write from now on must fault and
    wait for the folio lock.
    """
    if not (yield from clear_page_dirty_for_io(cpu, machine, folio)):
        return WbOutcome.CLEAN
    bounce = False
    if cpu.era.writeback_handles_pins and (yield from folio_maybe_dma_pinned(cpu, folio)):
        if sync_mode == WB_SYNC_NONE:
            yield from folio_redirty_for_writepage(folio)
            return WbOutcome.SKIPPED
        bounce = True
    yield from kapi.set_bit(PG_writeback, folio.flags)  # folio_start_writeback()
    index = int((yield from kapi.READ_ONCE(folio.index)))
    # The device reads the page (DMA), or the block layer copies it to a
    # bounce page first: one read of the page either way.
    data = yield from kapi.READ_ONCE(folio.data)
    if bounce:
        # The pin holder may write the page the moment the copy is taken:
        # the page must not be left clean.
        yield from folio_redirty_for_writepage(folio)
    yield from kapi.WRITE_ONCE(file.disk(index), data)
    yield from kapi.clear_bit(PG_writeback, folio.flags)  # folio_end_writeback()
    return WbOutcome.BOUNCED if bounce else WbOutcome.WRITTEN


def write_cache_pages(
    cpu: Cpu, machine: Machine, file: AddressSpace, nr_pages: int, sync_mode: int
) -> Gen:
    """Model of mm/page-writeback.c:write_cache_pages() over the file's first ``nr_pages``.

    Returns each cached folio's :class:`WbOutcome`, by index.
    """
    outcomes: dict[int, WbOutcome] = {}
    for index in range(nr_pages):
        folio = yield from filemap_get_folio(file, index)
        if folio is None:
            continue
        yield from folio_lock(folio)
        outcomes[index] = yield from writeback_folio(cpu, machine, file, folio, sync_mode)
        yield from folio_unlock(folio)
        yield from folio_put(folio)
    return outcomes


def writeback_mapping(
    cpu: Cpu,
    machine: Machine,
    file: AddressSpace,
    nr_pages: int = 1,
    sync_mode: int = WB_SYNC_ALL,
) -> Gen:
    """Model of mm/filemap.c:filemap_write_and_wait() for the file's first ``nr_pages``.

    Returns how many folios were written.  shmem files do not write back.
    """
    if not file.mapping_can_writeback:
        return 0
    outcomes = yield from write_cache_pages(cpu, machine, file, nr_pages, sync_mode)
    return sum(1 for o in outcomes.values() if o.written)
