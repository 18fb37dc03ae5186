"""I12 longterm-pin-pinnable."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.invariants import GupRef
from pinlab.kernel.mm_types import ZONE_MOVABLE_START_PFN, pfn_folio
from pinlab.kernel.process import PinSession


def test_longterm_pin_of_movable_memory_is_caught(k: Any) -> None:
    system, proc = k.boot(strict=False)
    addr = k.anon_page(proc)
    assert isinstance(proc.pin_longterm_test_start(addr, 4096, 0), PinSession)
    system.settle("holds")
    assert system.checker.observed == {}
    pfn = ZONE_MOVABLE_START_PFN + 1
    system.memory[pfn_folio(pfn)._refcount] = 1025
    system.refs.append(GupRef(True, "test", proc.mm.name, addr, pfn, True, True, longterm=True))
    system.settle("a pin on ZONE_MOVABLE")
    assert "longterm-pin-pinnable" in system.checker.observed
