"""Finding where a folio is mapped in one VMA: page_vma_mapped_walk().

Models mm/page_vma_mapped.c for the rmap walkers (KSM, swap-out, migration,
mkclean, device-exclusive): visit every page-table entry of ``vma`` that maps
a page of ``folio``, with the page-table lock held while the caller looks at
it.  ``PVMW_MIGRATION`` looks for migration entries instead of mappings.
Device-private and device-exclusive entries count as mappings (they map a
page the CPU cannot access), as ``check_pte()`` says.

The walk is a Python object local to the walking thread; every entry it
reads is an engine location read under the PTL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pinlab.engine import Loc, kapi
from pinlab.kernel.defs import PAGE_SIZE
from pinlab.kernel.folio import Gen
from pinlab.kernel.mm_types import Folio, Vma
from pinlab.kernel.pgtable import ptep_get
from pinlab.kernel.pte import (
    is_device_exclusive_entry,
    is_device_private_entry,
    is_migration_entry,
    is_swap_pte,
    pte_pfn,
    pte_present,
    pte_to_swp_entry,
    swp_offset,
)

PVMW_SYNC: Final = 1 << 0
PVMW_MIGRATION: Final = 1 << 1


@dataclass
class PageVmaMappedWalk:
    """struct page_vma_mapped_walk: the folio's pfn range, the VMA, and where the walk is."""

    pfn: int
    nr_pages: int
    vma: Vma
    address: int  # the first address to look at
    flags: int = 0
    end: int = 0  # one past the last address (set on the first step)
    pte: Loc | None = None  # the entry found, PTL held
    ptl: Loc | None = None
    pteval: Any = 0  # the value read under the PTL


def DEFINE_FOLIO_VMA_WALK(folio: Folio, vma: Vma, address: int, flags: int) -> PageVmaMappedWalk:
    """Model of include/linux/rmap.h:DEFINE_FOLIO_VMA_WALK()."""
    return PageVmaMappedWalk(folio.pfn, folio.nr_pages, vma, address, flags)


def check_pte(pvmw: PageVmaMappedWalk, pte: Any) -> Any:
    """Model of mm/page_vma_mapped.c:check_pte(): does ``pte`` map a page of the folio?"""
    if pvmw.flags & PVMW_MIGRATION:
        if not is_swap_pte(pte):
            return False
        entry = pte_to_swp_entry(pte)
        if not is_migration_entry(entry):
            return False
        pfn = swp_offset(entry)
    elif is_swap_pte(pte):
        entry = pte_to_swp_entry(pte)
        if not is_device_private_entry(entry) and not is_device_exclusive_entry(entry):
            return False
        pfn = swp_offset(entry)
    elif pte_present(pte):
        pfn = pte_pfn(pte)
    else:
        return False
    return (pfn >= pvmw.pfn) & (pfn < pvmw.pfn + pvmw.nr_pages)


def page_vma_mapped_walk(pvmw: PageVmaMappedWalk) -> Gen:
    """Model of mm/page_vma_mapped.c:page_vma_mapped_walk() (PTE level).

    True: ``pvmw.pte`` maps a page of the folio and its PTL is held; call
    again for the next one.  False: no more (no lock held).
    """
    mm = pvmw.vma.mm
    if pvmw.pte is not None:
        addr = pvmw.address + PAGE_SIZE
    else:
        addr = pvmw.address
        pvmw.end = min(pvmw.vma.vm_end, addr + pvmw.nr_pages * PAGE_SIZE)
    while pvmw.vma.vm_start <= addr < pvmw.end:
        ptl = mm.ptl(addr)
        if pvmw.ptl != ptl:
            if pvmw.ptl is not None:
                yield from kapi.spin_unlock(pvmw.ptl)
            yield from kapi.spin_lock(ptl)
            pvmw.ptl = ptl
        ptep = mm.pte(addr)
        pte = yield from ptep_get(ptep)
        if check_pte(pvmw, pte):
            pvmw.pte, pvmw.address, pvmw.pteval = ptep, addr, pte
            return True
        addr += PAGE_SIZE
    yield from page_vma_mapped_walk_done(pvmw)
    return False


def page_vma_mapped_walk_done(pvmw: PageVmaMappedWalk) -> Gen:
    """Model of include/linux/rmap.h:page_vma_mapped_walk_done(): stop the walk early."""
    pvmw.pte = None
    if pvmw.ptl is not None:
        yield from kapi.spin_unlock(pvmw.ptl)
        pvmw.ptl = None
