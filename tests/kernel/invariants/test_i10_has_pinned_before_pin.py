"""I10 has-pinned-before-pin."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.process import PinSession


def test_pinning_records_it_and_losing_it_is_caught(k: Any, broken: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    assert isinstance(proc.pin_longterm_test_start(addr, 4096, 0), PinSession)
    assert proc.has_pinned()
    assert broken(system, lambda: system.memory.__setitem__(proc.mm.flags, 0)) == (
        "has-pinned-before-pin"
    )


def test_no_such_record_before_v5_9(k: Any) -> None:
    system, _proc = k.boot("v5.7")
    assert "has-pinned-before-pin" not in [i.id for i in system.checker.active]
