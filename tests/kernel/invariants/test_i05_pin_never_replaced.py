"""I5 pin-never-replaced."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.mmap import PROT_READ, PROT_WRITE
from pinlab.kernel.process import PinSession


def _ro_then_write(k: Any, era: str, strict: bool = False) -> Any:
    system, proc = k.boot(era, strict=strict)
    addr = k.anon_page(proc)
    assert isinstance(proc.io_uring_register_buffers(addr, 4096), PinSession)
    proc.mprotect(addr, 4096, PROT_READ)
    proc.clear_refs(4)
    proc.mprotect(addr, 4096, PROT_READ | PROT_WRITE)
    proc.write(addr, 0xFF)
    return system


def test_refcount_cow_replaces_the_pinned_page_v5_9(k: Any) -> None:
    v = _ro_then_write(k, "v5.9").checker.observed["pin-never-replaced"]
    assert not v.promised and "wp_page_copy" in v.where


def test_current_reuses_the_exclusive_pinned_page(k: Any, broken: Any) -> None:
    system = _ro_then_write(k, "current", strict=True)
    assert system.checker.observed == {}
    proc = next(iter(system.machine.mms.values()))
    addr = system.refs[0].addr
    assert broken(system, lambda: system.memory.__setitem__(proc.pte(addr), 0)) == (
        "pin-never-replaced"
    )
