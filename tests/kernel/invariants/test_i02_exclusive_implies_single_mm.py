"""I2 exclusive-implies-single-mm."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.defs import PG_anon_exclusive


def test_exclusive_bit_on_a_shared_page(k: Any, broken: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    proc.fork()  # shared now: PageAnonExclusive cleared
    folio = k.folio(proc, addr)
    system.settle("shared")
    mark = lambda: system.memory.__setitem__(folio.flags, 1 << PG_anon_exclusive)  # noqa: E731
    assert broken(system, mark) == "exclusive-implies-single-mm"
