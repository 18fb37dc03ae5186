"""I14 no-writable-longterm-file-pin (gup_longterm.c's MAP_SHARED R/W case)."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.defs import EFAULT
from pinlab.kernel.mmap import MAP_SHARED, PROT_READ, PROT_WRITE
from pinlab.kernel.process import PIN_LONGTERM_TEST_FLAG_USE_WRITE, PinSession


def _pin_shared_file(k: Any, era: str, fast: int) -> tuple[Any, Any]:
    system, proc = k.boot(era, strict=False)
    file = system.tmpfile()
    system.fallocate(file, 0, 4096)
    mem = proc.mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0)
    proc.write(mem, 1)
    return system, proc.pin_longterm_test_start(mem, 4096, PIN_LONGTERM_TEST_FLAG_USE_WRITE | fast)


def test_allowed_before_v6_5(k: Any) -> None:
    system, pin = _pin_shared_file(k, "v6.2", 0)
    assert isinstance(pin, PinSession)
    assert not system.checker.observed["no-writable-longterm-file-pin"].promised


def test_refused_since_v6_5_slow_and_fast(k: Any) -> None:
    for fast in (0, 2):
        system, pin = _pin_shared_file(k, "current", fast)
        assert pin == -EFAULT and system.checker.observed == {}
