"""Anonymous multi-size THP (mTHP): a fault maps a whole small large folio by PTEs.

Models mm/memory.c ``alloc_anon_folio`` (the largest enabled order whose
aligned range fits the VMA and has no PTE yet) and the large-folio half of
``do_anonymous_page`` (map every page of the new folio, writable and
exclusive).  mTHP exists since 19eaf44954df (v6.8); the machine's THP
settings say which orders are enabled.  Left out: the fallback chain on
allocation failure (allocation never fails) and the memcg charge.
"""

from __future__ import annotations

from pinlab.kernel.defs import HPAGE_PMD_ORDER, PAGE_SIZE, RMAP_EXCLUSIVE, VM_WRITE
from pinlab.kernel.folio import (
    Gen,
    __folio_mark_uptodate,
    folio_add_lru,
    folio_alloc_large,
    folio_put,
    folio_ref_add,
)
from pinlab.kernel.huge_mm import thp_vma_allowable_orders
from pinlab.kernel.internal import VmFault, mk_pte
from pinlab.kernel.mm_types import Cpu, Folio
from pinlab.kernel.pgtable import pte_offset_map_lock, pte_unmap_unlock, ptep_get, set_pte_at
from pinlab.kernel.pte import pte_mkdirty, pte_mkwrite, pte_sw_mkyoung
from pinlab.kernel.rmap_large import folio_add_new_anon_rmap_large


def pte_range_none(cpu: Cpu, vmf: VmFault, start: int, nr: int) -> Gen:
    """Model of mm/memory.c:pte_range_none()."""
    mm = vmf.vma.mm
    for i in range(nr):
        if (yield from ptep_get(mm.pte(start + i * PAGE_SIZE))) != 0:
            return False
    return True


def alloc_anon_folio(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/memory.c:alloc_anon_folio(): a large folio for the fault, or None."""
    if not cpu.era.anon_mthp:
        return None
    orders = [o for o in thp_vma_allowable_orders(cpu, vmf.vma, vmf.address) if o < HPAGE_PMD_ORDER]
    for order in orders:
        nr = 1 << order
        start = vmf.address & ~(nr * PAGE_SIZE - 1)
        if (yield from pte_range_none(cpu, vmf, start, nr)):
            return (yield from folio_alloc_large(cpu, order))
    return None


def do_anonymous_page_large(cpu: Cpu, vmf: VmFault, folio: Folio) -> Gen:
    """The large-folio half of mm/memory.c:do_anonymous_page(): map all its pages."""
    vma, mm, nr = vmf.vma, vmf.vma.mm, folio.nr_pages
    start = vmf.address & ~(nr * PAGE_SIZE - 1)
    yield from __folio_mark_uptodate(folio)
    yield from pte_offset_map_lock(mm, start)
    if not (yield from pte_range_none(cpu, vmf, start, nr)):
        yield from pte_unmap_unlock(mm, start)
        yield from folio_put(folio)
        return 0
    yield from folio_ref_add(folio, nr - 1)  # one reference per PTE
    yield from folio_add_new_anon_rmap_large(cpu, folio, vma, start, RMAP_EXCLUSIVE, pmd=False)
    yield from folio_add_lru(folio)
    for i in range(nr):
        entry = pte_sw_mkyoung(mk_pte(folio, vma.vm_page_prot) + (i << 12))
        if vma.vm_flags & VM_WRITE:
            entry = pte_mkwrite(pte_mkdirty(entry))
        addr = start + i * PAGE_SIZE
        yield from set_pte_at(mm, addr, mm.pte(addr), entry)
    yield from pte_unmap_unlock(mm, start)
    return 0
