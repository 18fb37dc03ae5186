"""I15 gup-fast-no-resurrection."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.mm_types import page_folio


def test_a_referenced_folio_never_has_refcount_zero(k: Any) -> None:
    system, proc = k.boot(strict=False)
    addr = k.anon_page(proc)
    pipe = proc.pipe()
    proc.vmsplice(pipe, addr, 4096)
    proc.munmap(addr, 4096)
    folio = page_folio(pipe.bufs[0][0])
    assert system.memory[folio._refcount] == 1, "only the pipe holds it now"
    system.settle("holds")
    assert system.checker.observed == {}
    system.memory[folio._refcount] = 0
    system.settle("freed under the pipe")
    assert "gup-fast-no-resurrection" in system.checker.observed
