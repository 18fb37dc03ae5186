"""I6 ro-longterm-pin-unshared."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.mmap import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from pinlab.kernel.process import PinSession


def _pin_zero_page(k: Any, era: str) -> Any:
    system, proc = k.boot(era, strict=False)
    addr = proc.mmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    proc.read(addr)  # the shared zero page
    assert isinstance(proc.pin_longterm_test_start(addr, 4096, 0), PinSession)
    return system


def test_zero_page_pinned_before_v6_2(k: Any) -> None:
    v = _pin_zero_page(k, "v6.1").checker.observed["ro-longterm-pin-unshared"]
    assert "zero page" in v.message and not v.promised


def test_zero_page_unshared_since_v6_2(k: Any) -> None:
    assert _pin_zero_page(k, "v6.2").checker.observed == {}
