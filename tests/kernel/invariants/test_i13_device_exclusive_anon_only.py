"""I13 device-exclusive-anon-only."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.mm_types import pfn_folio
from pinlab.kernel.pte import SWP_DEVICE_EXCLUSIVE, pte_present, swp_entry


def test_device_exclusive_entry_of_anon_page_restores_on_access(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc, 6)
    pfn = k.folio(proc, addr).pfn
    system.memory[proc.mm.pte(addr)] = swp_entry(SWP_DEVICE_EXCLUSIVE, pfn)
    system.settle("device-exclusive")
    assert proc.read(addr) == 6 and pte_present(k.pte(proc, addr))
    assert k.pte(proc, addr) >> 12 == pfn


def test_device_exclusive_entry_of_a_file_page_is_caught(k: Any, broken: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    file = system.memfd_create()
    system.fallocate(file, 0, 4096)
    pfn = int(system.memory[file.i_pages(0)])
    assert pfn_folio(pfn).pfn == pfn
    entry = swp_entry(SWP_DEVICE_EXCLUSIVE, pfn)
    assert broken(system, lambda: system.memory.__setitem__(proc.mm.pte(addr), entry)) == (
        "device-exclusive-anon-only"
    )
