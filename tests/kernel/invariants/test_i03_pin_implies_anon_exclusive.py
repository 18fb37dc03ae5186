"""I3 pin-implies-anon-exclusive."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.process import PinSession


def test_pin_on_a_page_that_lost_exclusivity(k: Any, broken: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    assert isinstance(proc.pin_longterm_test_start(addr, 4096, 0), PinSession)
    folio = k.folio(proc, addr)
    assert broken(system, lambda: system.memory.__setitem__(folio.flags, 0)) in (
        "pin-implies-anon-exclusive",
        "writable-implies-exclusive",
    )


def test_ro_pin_of_shared_page_unshares_since_v5_19(k: Any) -> None:
    system, proc = k.boot("v5.19")
    addr = k.anon_page(proc)
    proc.fork()
    assert isinstance(proc.pin_longterm_test_start(addr, 4096, 0), PinSession)
    assert system.checker.observed == {}
