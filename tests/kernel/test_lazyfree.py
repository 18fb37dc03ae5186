"""MADV_FREE: clean lazily freed pages are discarded by reclaim; written or referenced ones stay."""

from __future__ import annotations

from typing import Any

import pytest

from pinlab.engine.explore import explore
from pinlab.engine.program import Condition, CondKind, Program, RegVar
from pinlab.kernel.defs import FOLL_GET, PG_locked, PG_lru, PG_swapbacked
from pinlab.kernel.gup_fast import gup_fast
from pinlab.kernel.mm_types import Cpu
from pinlab.kernel.mmap import MADV_FREE, MADV_PAGEOUT
from pinlab.kernel.pte import pte_dirty, pte_none
from pinlab.kernel.vmscan import try_to_unmap_one
from pinlab.scenarios.common import gup_fast_writes

PAGE = 4096


def _swapbacked(system: Any, folio: Any) -> bool:
    return bool(int(system.memory[folio.flags]) >> PG_swapbacked & 1)


def test_madv_free_cleans_the_pte_and_clears_swapbacked(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc, 7)
    folio = k.folio(proc, addr)
    assert proc.madvise(addr, PAGE, MADV_FREE) == 0
    assert not pte_dirty(k.pte(proc, addr)) and not _swapbacked(system, folio)
    assert proc.read(addr) == 7, "until reclaim, the contents stay"


def test_reclaim_discards_a_clean_lazyfree_page(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc, 7)
    folio = k.folio(proc, addr)
    proc.madvise(addr, PAGE, MADV_FREE)
    proc.madvise(addr, PAGE, MADV_PAGEOUT)
    assert pte_none(k.pte(proc, addr)) and not proc.pagemap_is_swapped(addr)
    assert system.memory[folio._refcount] == 0, "freed, not written to swap"
    assert proc.read(addr) == 0


def test_a_page_written_after_madv_free_is_kept(k: Any) -> None:
    _system, proc = k.boot()
    addr = k.anon_page(proc, 7)
    proc.madvise(addr, PAGE, MADV_FREE)
    proc.write(addr, 8)
    proc.madvise(addr, PAGE, MADV_PAGEOUT)
    assert proc.read(addr) == 8


def test_a_page_shared_with_a_child_is_not_made_lazyfree(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc, 7)
    child = proc.fork()
    proc.madvise(addr, PAGE, MADV_FREE)
    assert _swapbacked(system, k.folio(proc, addr))
    assert child.read(addr) == 7


@pytest.mark.parametrize(("era", "discarded"), [("v5.11", True), ("v5.19", False)])
def test_a_gup_reference_keeps_a_lazyfree_page_mapped_since_v5_18(
    k: Any, era: str, discarded: bool
) -> None:
    """6c8e2a256915: a direct-IO read into a MADV_FREE page lost its data to the discard."""
    _system, proc = k.boot(era, strict=False)
    addr = k.anon_page(proc, 7)
    proc.madvise(addr, PAGE, MADV_FREE)
    pipe = proc.pipe()
    proc.vmsplice(pipe, addr, PAGE)  # a FOLL_GET reference, as direct IO takes
    proc.madvise(addr, PAGE, MADV_PAGEOUT)
    assert pte_none(k.pte(proc, addr)) == discarded
    assert proc.read(addr) == (0 if discarded else 7)
    assert pipe.read() == [7]


def _lazyfree_vs_gup_fast(k: Any, era: str) -> Program:
    """Spec 6 L3: try_to_unmap_one() discarding a clean lazyfree page vs GUP-fast (GET)."""
    system, proc = k.boot(era)
    addr = k.anon_page(proc)
    proc.madvise(addr, PAGE, MADV_FREE)
    mm, vma, folio = proc.mm, proc.mm.find_vma(addr), k.folio(proc, addr)
    memory = system.memory
    memory[folio._refcount] += 1  # the isolation reference
    memory[folio.flags] = (memory[folio.flags] | 1 << PG_locked) & ~(1 << PG_lru)

    def reclaim() -> Any:
        discarded = yield from try_to_unmap_one(Cpu(system.machine, id=1), folio, vma, addr)
        return {"discarded": int(bool(discarded))}

    def gup() -> Any:
        n = yield from gup_fast(Cpu(system.machine, id=2), mm, addr, 1, FOLL_GET, [])
        return {"n": n}

    both = Condition(
        CondKind.EXISTS,
        lambda s: s.get(RegVar(0, "discarded")) == 1 and s.get(RegVar(1, "n")) == 1,
    )
    hints = (
        None,  # reclaim writes swap slots too: left to the dry run
        gup_fast_writes(mm, folio),
    )
    return Program("lazyfree+gup-fast", (reclaim, gup), memory.snapshot(), both, may_write=hints)


def test_gup_fast_keeps_a_lazyfree_page_from_being_discarded_since_v5_18(k: Any) -> None:
    """Clear PTE; mb; read refcount vs grab (fully ordered); re-read PTE: store buffering."""
    assert explore(_lazyfree_vs_gup_fast(k, "v5.11"), "sc").observation == "Sometimes"
    assert explore(_lazyfree_vs_gup_fast(k, "current"), "sc").observation == "Never"
    assert explore(_lazyfree_vs_gup_fast(k, "current"), "lkmm").observation == "Never"
