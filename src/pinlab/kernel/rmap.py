"""Reverse mapping: map counts, PageAnonExclusive handover, and the rmap walk.

Models mm/rmap.c and include/linux/rmap.h for order-0 folios (the ``_pte``
functions hand a large folio to :mod:`pinlab.kernel.rmap_large`):
``folio_add_new_anon_rmap``, ``folio_add_anon_rmap_pte``,
``folio_add_file_rmap_pte``, ``folio_remove_rmap_pte``,
``folio_try_dup_anon_rmap_pte`` (fork), ``folio_try_share_anon_rmap_pte``
(swap-out, migration, KSM) and the rmap walk that finds every PTE mapping a
folio.  The walk enumerates the machine's mms instead of anon_vma chains:
the VMAs it visits are the ones the chains would link (same mm layout after
fork, address computed from ``folio->index`` and ``vm_pgoff``).
"""

from __future__ import annotations

from collections.abc import Iterator

from pinlab.engine import kapi
from pinlab.kernel.barriers import barrier
from pinlab.kernel.defs import EBUSY, HPAGE_PMD_ORDER, RMAP_EXCLUSIVE, VM_MAYSHARE, VM_SHARED
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
from pinlab.kernel.mm_types import (
    Cpu,
    Folio,
    Machine,
    Page,
    Vma,
    folio_test_large,
    linear_page_index,
    vma_address,
)
from pinlab.kernel.rmap_large import (
    folio_add_anon_rmap_ptes,
    folio_add_file_rmap_ptes,
    folio_add_new_anon_rmap_large,
    folio_remove_rmap_ptes,
    folio_try_dup_anon_rmap_ptes,
)


def anon_vma_prepare(vma: Vma) -> Gen:
    """Model of mm/rmap.c:anon_vma_prepare(): the VMA gets its anon_vma at the first anon fault."""
    have = yield from kapi.READ_ONCE(vma.anon_vma)
    if not have:
        yield from kapi.spin_lock(vma.mm.page_table_lock)
        yield from kapi.WRITE_ONCE(vma.anon_vma, 1)
        yield from kapi.spin_unlock(vma.mm.page_table_lock)


def folio_add_new_anon_rmap(cpu: Cpu, folio: Folio, vma: Vma, address: int, flags: int) -> Gen:
    """Model of mm/rmap.c:folio_add_new_anon_rmap() (order 0).

    Before PageAnonExclusive existed (v5.19) this was page_add_new_anon_rmap()
    and ``RMAP_EXCLUSIVE`` had no bit to set.  A large folio is mapped by a
    PMD if it is PMD-sized (``pmd``), else by a PTE per page.
    """
    if folio_test_large(folio):
        pmd = folio.order == HPAGE_PMD_ORDER
        return (yield from folio_add_new_anon_rmap_large(cpu, folio, vma, address, flags, pmd=pmd))
    yield from __folio_set_swapbacked(folio)
    yield from kapi.WRITE_ONCE(folio.index, linear_page_index(vma, address))
    yield from __folio_set_anon(folio)
    yield from kapi.atomic_set(folio._mapcount, 0)
    if cpu.era.anon_exclusive and flags & RMAP_EXCLUSIVE:
        yield from __SetPageAnonExclusive(folio.page(0))


def folio_add_anon_rmap_pte(cpu: Cpu, folio: Folio, page: Page, vma: Vma, flags: int) -> Gen:
    """Model of mm/rmap.c:folio_add_anon_rmap_pte()."""
    if folio_test_large(folio):
        return (yield from folio_add_anon_rmap_ptes(cpu, folio, [page], vma, flags))
    yield from kapi.atomic_inc(folio._mapcount)
    if cpu.era.anon_exclusive and flags & RMAP_EXCLUSIVE:
        yield from SetPageAnonExclusive(page)


def folio_add_file_rmap_pte(folio: Folio, page: Page, vma: Vma) -> Gen:
    """Model of mm/rmap.c:folio_add_file_rmap_pte()."""
    if folio_test_large(folio):
        return (yield from folio_add_file_rmap_ptes(folio, [page], vma))
    yield from kapi.atomic_inc(folio._mapcount)


def folio_dup_file_rmap_pte(folio: Folio, page: Page) -> Gen:
    """Model of include/linux/rmap.h:folio_dup_file_rmap_pte()."""
    if folio_test_large(folio):
        yield from kapi.atomic_inc(page._mapcount)
        yield from kapi.atomic_inc(folio._large_mapcount)
        return
    yield from kapi.atomic_inc(folio._mapcount)


def folio_dup_anon_rmap_pte(folio: Folio, page: Page) -> Gen:
    """Model of page_dup_rmap() of v5.9-v5.18 fork (no PageAnonExclusive to clear)."""
    yield from folio_dup_file_rmap_pte(folio, page)


def folio_remove_rmap_pte(folio: Folio, page: Page, vma: Vma) -> Gen:
    """Model of mm/rmap.c:folio_remove_rmap_pte(): PageAnonExclusive stays set (until free)."""
    if folio_test_large(folio):
        return (yield from folio_remove_rmap_ptes(folio, [page], vma))
    yield from kapi.atomic_add_negative(-1, folio._mapcount)


def folio_move_anon_rmap(folio: Folio, vma: Vma) -> Gen:
    """Model of mm/rmap.c:folio_move_anon_rmap(): the folio now belongs to this VMA's anon_vma.

    anon_vma identity is not modelled; the store republishes the anon mapping.
    """
    yield from __folio_set_anon(folio)


def folio_try_dup_anon_rmap_pte(cpu: Cpu, folio: Folio, page: Page, src_vma: Vma) -> Gen:
    """Model of include/linux/rmap.h:folio_try_dup_anon_rmap_pte() (order 0), fork's half.

    Caller holds the source PTL and is inside fork's write_protect_seq write
    section.  A PageAnonExclusive page that may be pinned cannot be shared:
    -EBUSY makes fork copy it for the child.  Otherwise PageAnonExclusive is
    cleared (the page becomes COW-shared) and the map count goes up.
    """
    if folio_test_large(folio):
        return (yield from folio_try_dup_anon_rmap_ptes(cpu, folio, [page], src_vma))
    maybe_pinned = yield from folio_needs_cow_for_dma(cpu, src_vma, folio)
    exclusive = yield from PageAnonExclusive(page)
    if maybe_pinned and exclusive:
        return -EBUSY
    if exclusive:
        yield from ClearPageAnonExclusive(page)
    yield from kapi.atomic_inc(folio._mapcount)
    return 0


def folio_try_share_anon_rmap_pte(cpu: Cpu, folio: Folio, page: Page) -> Gen:
    """Model of include/linux/rmap.h:folio_try_share_anon_rmap_pte() (order 0).

    The caller holds the PTL and has cleared (or invalidated) the PTE.  The
    four steps (A1-A4) pair with GUP-fast's (L2, docs/labels.md): clear PTE; check pins;
    clear PageAnonExclusive; restore or replace the PTE.  The barriers exist
    since 088b8aa537c2 (v6.1); before, the TLB flush IPI was relied upon.
    """
    era = cpu.era
    if era.gup_fast_pae_barriers:
        # Clear/invalidate the PTE before checking for pins.  Pairs with the
        # smp_mb__after_atomic() after the pin in try_grab_folio_fast().
        yield from barrier(cpu, "folio_try_share_anon_rmap_pte:mb-before-pin-check")
    if (yield from folio_maybe_dma_pinned(cpu, folio)):
        return -EBUSY
    yield from ClearPageAnonExclusive(page)
    if era.gup_fast_pae_barriers:
        # Clear PageAnonExclusive before (eventually) restoring the PTE.
        # Pairs with the smp_rmb() in gup_must_unshare() under GUP-fast.
        yield from barrier(cpu, "folio_try_share_anon_rmap_pte:mb-after-exclusive-clear")
    return 0


def rmap_walk(machine: Machine, folio_index: int, anon: bool, file_id: int) -> Iterator[Vma]:
    """The VMAs that may map a folio with index ``folio_index`` (model of mm/rmap.c:rmap_walk()).

    Anonymous folios: private VMAs of every mm; file folios: every VMA of
    that file.  The caller checks each candidate PTE under its PTL.
    """
    for mm in list(machine.mms.values()):
        for vma in list(mm.vmas):
            if anon:
                if vma.vm_flags & (VM_SHARED | VM_MAYSHARE):
                    continue
            elif vma.vm_file is None or vma.vm_file.id != file_id:
                continue
            addr = vma_address(vma, folio_index)
            if vma.vm_start <= addr < vma.vm_end:
                yield vma
