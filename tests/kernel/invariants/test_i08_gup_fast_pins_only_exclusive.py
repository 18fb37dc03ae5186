"""I8 gup-fast-pins-only-exclusive."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.process import PIN_LONGTERM_TEST_FLAG_USE_FAST, PinSession


def _pin(k: Any, fast: bool) -> Any:
    system, proc = k.boot(strict=False)
    addr = k.anon_page(proc)
    flags = PIN_LONGTERM_TEST_FLAG_USE_FAST if fast else 0
    assert isinstance(proc.pin_longterm_test_start(addr, 4096, flags), PinSession)
    system.memory[k.folio(proc, addr).flags] = 0  # lose PageAnonExclusive
    system.settle("test")
    return system.checker.observed


def test_only_fast_pins_are_judged(k: Any) -> None:
    assert "gup-fast-pins-only-exclusive" in _pin(k, fast=True)
    assert "gup-fast-pins-only-exclusive" not in _pin(k, fast=False)
