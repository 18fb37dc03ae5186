"""I7 fork-never-shares-pinned."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.process import PinSession


def _pin_then_fork(k: Any, era: str) -> Any:
    system, proc = k.boot(era, strict=False)
    addr = k.anon_page(proc)
    assert isinstance(proc.io_uring_register_buffers(addr, 4096), PinSession)
    proc.fork()
    return system


def test_fork_shares_the_pinned_page_before_v5_9(k: Any) -> None:
    v = _pin_then_fork(k, "v5.7").checker.observed["fork-never-shares-pinned"]
    assert "forked after the pin" in v.message


def test_fork_copies_it_since_v5_9(k: Any) -> None:
    assert "fork-never-shares-pinned" not in _pin_then_fork(k, "v5.9").checker.observed
    assert _pin_then_fork(k, "current").checker.observed == {}
