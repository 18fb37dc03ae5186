"""Page faults, write-protect faults per era, swap-out and swap-in (without the process API)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pinlab.engine import kapi
from pinlab.kernel.folio import folio_get
from pinlab.kernel.mm_types import ZERO_PFN, pfn_folio
from pinlab.kernel.pte import pte_pfn, pte_present, pte_special, pte_swp_exclusive, pte_write
from pinlab.kernel.vmscan import madvise_pageout


def test_read_fault_maps_the_zero_page_then_write_copies(make_box: Callable[[str], Any]) -> None:
    box = make_box("current")
    box.fault(write=False)
    assert pte_special(box.pte) and pte_pfn(box.pte) == ZERO_PFN and not pte_write(box.pte)
    box.fault(write=True)
    assert pte_write(box.pte) and pte_pfn(box.pte) != ZERO_PFN and box.pae()


def test_write_fault_on_exclusive_page_reuses_it(make_box: Callable[[str], Any]) -> None:
    for era in ("v4.20", "v5.9", "current"):
        box = make_box(era)
        box.fault(write=True)
        pfn = pte_pfn(box.pte)
        box.wrprotect()
        box.fault(write=True)
        assert pte_pfn(box.pte) == pfn and pte_write(box.pte), era


def test_extra_reference_decides_reuse_per_era(make_box: Callable[[str], Any]) -> None:
    """A GUP reference on an exclusive, R/O-mapped page: copy in v5.9, reuse otherwise."""
    results = {}
    for era in ("v5.7", "v5.9", "current"):
        box = make_box(era)
        box.fault(write=True)
        pfn = pte_pfn(box.pte)
        box.run(folio_get(pfn_folio(pfn)))
        box.wrprotect()
        box.fault(write=True)
        results[era] = "reuse" if pte_pfn(box.pte) == pfn else "copy"
    assert results == {"v5.7": "reuse", "v5.9": "copy", "current": "reuse"}


def test_pageout_and_swapin_keep_data_and_exclusivity(make_box: Callable[[str], Any]) -> None:
    box = make_box("current")
    box.fault(write=True)
    folio = pfn_folio(pte_pfn(box.pte))
    box.run(kapi.WRITE_ONCE(folio.data, 7))
    assert box.run(madvise_pageout(box.cpu, box.machine, box.vma, box.addr, box.addr + 4096)) == 1
    assert not pte_present(box.pte) and pte_swp_exclusive(box.pte)
    assert box.ex.memory[folio._refcount] == 0, "the folio was freed"
    box.fault(write=False)
    assert pte_present(box.pte) and box.pae()
    assert pte_write(box.pte), "current maps an exclusive swap-in writable (c18160dba5ff)"
    assert box.ex.memory[pfn_folio(pte_pfn(box.pte)).data] == 7


def test_swapin_read_fault_stays_read_only_before_v6_11(make_box: Callable[[str], Any]) -> None:
    box = make_box("v6.5")
    box.fault(write=True)
    box.run(madvise_pageout(box.cpu, box.machine, box.vma, box.addr, box.addr + 4096))
    box.fault(write=False)
    assert pte_present(box.pte) and not pte_write(box.pte) and box.pae()
