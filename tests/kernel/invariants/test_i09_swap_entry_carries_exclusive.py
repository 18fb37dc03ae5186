"""I9 swap-entry-carries-exclusive."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.mmap import MADV_PAGEOUT
from pinlab.kernel.pte import pte_swp_exclusive, pte_swp_mkexclusive


def test_fork_clears_it_and_a_shared_exclusive_entry_is_caught(k: Any, broken: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    proc.madvise(addr, 4096, MADV_PAGEOUT)
    assert pte_swp_exclusive(k.pte(proc, addr))
    proc.fork()
    assert not pte_swp_exclusive(k.pte(proc, addr))
    mark = lambda: system.memory.__setitem__(  # noqa: E731
        proc.mm.pte(addr), pte_swp_mkexclusive(k.pte(proc, addr))
    )
    assert broken(system, mark) == "swap-entry-carries-exclusive"
