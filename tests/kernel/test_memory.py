"""Page faults, write-protect faults per era, swap-out and swap-in (without the process API)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pinlab.engine import kapi
from pinlab.engine.program import Loc
from pinlab.engine.sequential import Memory, SequentialExecutor
from pinlab.kernel.defs import FAULT_FLAG_WRITE, PG_anon_exclusive, vm_flags_t
from pinlab.kernel.eras import era_by_name
from pinlab.kernel.folio import folio_get
from pinlab.kernel.memory import handle_mm_fault
from pinlab.kernel.mm_types import ZERO_PFN, Cpu, Machine, MmStruct, Vma, pfn_folio
from pinlab.kernel.pgtable import ptep_set_wrprotect
from pinlab.kernel.pte import pte_pfn, pte_present, pte_special, pte_swp_exclusive, pte_write
from pinlab.kernel.swap import madvise_pageout

ADDR = 0x1000_0000
RW = (
    vm_flags_t.VM_READ | vm_flags_t.VM_WRITE | vm_flags_t.VM_MAYREAD | vm_flags_t.VM_MAYWRITE
    | vm_flags_t.VM_SOFTDIRTY
)  # fmt: skip


class Box:
    """A machine with one mm and one private anonymous page-sized VMA."""

    def __init__(self, era: str) -> None:
        self.machine = Machine(era_by_name(era))
        self.cpu = Cpu(self.machine)
        self.ex = SequentialExecutor(Memory(self.machine.boot_memory()))
        self.mm = MmStruct("mm")
        self.machine.mms["mm"] = self.mm
        self.vma = Vma(self.mm, ADDR, ADDR + 4096, RW, 0, ADDR >> 12, Loc("av")).replace()
        self.mm.vmas.append(self.vma)

    def run(self, gen: Generator[Any, Any, Any]) -> Any:
        return self.ex.run(gen)

    def fault(self, write: bool) -> int:
        flags = FAULT_FLAG_WRITE if write else 0
        return int(self.run(handle_mm_fault(self.cpu, self.vma, ADDR, flags)))

    @property
    def pte(self) -> int:
        return int(self.ex.memory[self.mm.pte(ADDR)])

    def pae(self) -> bool:
        return bool(int(self.ex.memory[pfn_folio(self.pte >> 12).flags]) >> PG_anon_exclusive & 1)

    def wrprotect(self) -> None:
        self.run(ptep_set_wrprotect(self.mm, ADDR, self.mm.pte(ADDR)))


def test_read_fault_maps_the_zero_page_then_write_copies() -> None:
    box = Box("current")
    box.fault(write=False)
    assert pte_special(box.pte) and pte_pfn(box.pte) == ZERO_PFN and not pte_write(box.pte)
    box.fault(write=True)
    assert pte_write(box.pte) and pte_pfn(box.pte) != ZERO_PFN and box.pae()


def test_write_fault_on_exclusive_page_reuses_it() -> None:
    for era in ("v4.20", "v5.9", "current"):
        box = Box(era)
        box.fault(write=True)
        pfn = pte_pfn(box.pte)
        box.wrprotect()
        box.fault(write=True)
        assert pte_pfn(box.pte) == pfn and pte_write(box.pte), era


def test_extra_reference_decides_reuse_per_era() -> None:
    """A GUP reference on an exclusive, R/O-mapped page: copy in v5.9, reuse otherwise."""
    results = {}
    for era in ("v5.7", "v5.9", "current"):
        box = Box(era)
        box.fault(write=True)
        pfn = pte_pfn(box.pte)
        box.run(folio_get(pfn_folio(pfn)))
        box.wrprotect()
        box.fault(write=True)
        results[era] = "reuse" if pte_pfn(box.pte) == pfn else "copy"
    assert results == {"v5.7": "reuse", "v5.9": "copy", "current": "reuse"}


def test_pageout_and_swapin_keep_data_and_exclusivity() -> None:
    box = Box("current")
    box.fault(write=True)
    folio = pfn_folio(pte_pfn(box.pte))
    box.run(kapi.WRITE_ONCE(folio.data, 7))
    assert box.run(madvise_pageout(box.cpu, box.machine, box.vma, ADDR, ADDR + 4096)) == 1
    assert not pte_present(box.pte) and pte_swp_exclusive(box.pte)
    assert box.ex.memory[folio._refcount] == 0, "the folio was freed"
    box.fault(write=False)
    assert pte_present(box.pte) and box.pae()
    assert pte_write(box.pte), "current maps an exclusive swap-in writable (c18160dba5ff)"
    assert box.ex.memory[pfn_folio(pte_pfn(box.pte)).data] == 7


def test_swapin_read_fault_stays_read_only_before_v6_11() -> None:
    box = Box("v6.5")
    box.fault(write=True)
    box.run(madvise_pageout(box.cpu, box.machine, box.vma, ADDR, ADDR + 4096))
    box.fault(write=False)
    assert pte_present(box.pte) and not pte_write(box.pte) and box.pae()
