"""I11 pin-accounting."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.mm_types import NR_FOLL_PIN_RELEASED
from pinlab.kernel.process import PinSession


def test_refcount_covers_the_pin(k: Any, broken: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    assert isinstance(proc.pin_longterm_test_start(addr, 4096, 0), PinSession)
    folio = k.folio(proc, addr)
    assert system.memory[folio._refcount] == 1025
    assert broken(system, lambda: system.memory.__setitem__(folio._refcount, 2)) == (
        "pin-accounting"
    )


def test_vmstat_covers_the_pin(k: Any, broken: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    assert isinstance(proc.pin_longterm_test_start(addr, 4096, 0), PinSession)
    assert broken(system, lambda: system.memory.__setitem__(NR_FOLL_PIN_RELEASED, 1)) == (
        "pin-accounting"
    )
