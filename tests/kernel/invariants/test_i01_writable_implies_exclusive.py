"""I1 writable-implies-exclusive."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.defs import PG_anon_exclusive


def test_mapcount_reuse_breaks_it_v5_7(k: Any) -> None:
    """CVE-2020-29374: the parent reuses a page the child's pipe still uses."""
    system, parent = k.boot("v5.7", strict=False)
    addr = k.anon_page(parent)
    child = parent.fork()
    pipe = child.pipe()
    child.vmsplice(pipe, addr, 4096)
    child.munmap(addr, 4096)
    parent.write(addr, 0xFF)
    assert pipe.read() == [0xFF], "the leak"
    v = system.checker.observed["writable-implies-exclusive"]
    assert not v.promised and "do_wp_page" in v.where and "vmsplice" in v.message


def test_current_keeps_it_and_catches_a_writable_shared_page(k: Any, broken: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    child = proc.fork()
    child.write(addr, 2)
    proc.write(addr, 3)
    folio = k.folio(proc, addr)
    assert broken(system, lambda: system.memory.__setitem__(folio.flags, 0)) == (
        "writable-implies-exclusive"
    )
    assert folio.flags != 1 << PG_anon_exclusive
