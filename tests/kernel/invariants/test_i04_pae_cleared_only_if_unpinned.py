"""I4 pae-cleared-only-if-unpinned (judged on the step that clears the bit)."""

from __future__ import annotations

from typing import Any

import pytest

from pinlab.engine import kapi
from pinlab.kernel.checker import InvariantViolation
from pinlab.kernel.defs import PG_anon_exclusive
from pinlab.kernel.process import PinSession


def test_clearing_the_bit_of_a_pinned_page(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    assert isinstance(proc.pin_longterm_test_start(addr, 4096, 0), PinSession)
    folio = k.folio(proc, addr)
    with pytest.raises(InvariantViolation) as info:
        system.run("clear", kapi.clear_bit(PG_anon_exclusive, folio.flags))
    assert info.value.violation.invariant.id == "pae-cleared-only-if-unpinned"


def test_swapout_of_a_pinned_page_backs_off(k: Any) -> None:
    from pinlab.kernel.mmap import MADV_PAGEOUT

    system, proc = k.boot()
    addr = k.anon_page(proc)
    assert isinstance(proc.pin_longterm_test_start(addr, 4096, 0), PinSession)
    proc.madvise(addr, 4096, MADV_PAGEOUT)
    assert not proc.pagemap_is_swapped(addr) and system.checker.observed == {}
