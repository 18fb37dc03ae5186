"""arm64 contpte: block reads, the hardware young/dirty update, norecency compares, unfold."""

from __future__ import annotations

from typing import Any

from pinlab.engine.explore import explore
from pinlab.engine.program import Condition, CondKind, FinalState, Program
from pinlab.kernel.arch import ARM64_CONTPTE
from pinlab.kernel.contpte import (
    CONT_PTES,
    PTE_CONT,
    arm64_hw_update_af_dirty,
    contpte_ptep_get_lockless,
    pte_same,
    pte_same_norecency,
    ptep_get_arch,
    ptep_get_lockless_norecency,
)
from pinlab.kernel.eras import era_by_name
from pinlab.kernel.mmap import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from pinlab.kernel.pgtable import ptep_get_and_clear
from pinlab.kernel.process import System
from pinlab.kernel.pte import _PAGE_ACCESSED, _PAGE_DIRTY, pte_wrprotect

PAGE = 4096


def _block() -> tuple[System, Any, int]:
    system = System(era_by_name("current"), arch=ARM64_CONTPTE, strict=False)
    proc = system.spawn()
    base = proc.mmap(CONT_PTES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    for i in range(CONT_PTES):
        proc.write(base + i * PAGE, i)
        loc = proc.mm.pte(base + i * PAGE)
        system.memory[loc] = (int(system.memory[loc]) & ~(_PAGE_ACCESSED | _PAGE_DIRTY)) | PTE_CONT
    return system, proc.mm, base


def test_lockless_read_ors_young_and_dirty_of_the_whole_block() -> None:
    system, mm, base = _block()
    system.run("hw", arm64_hw_update_af_dirty(mm, base + 9 * PAGE, dirty=True))
    target = base + 3 * PAGE
    raw = int(system.memory[mm.pte(target)])
    pte = system.run("read", contpte_ptep_get_lockless(mm, target))
    assert pte == raw | _PAGE_ACCESSED | _PAGE_DIRTY
    assert system.run("get", ptep_get_arch(mm, target)) == pte
    assert system.run("norecency", ptep_get_lockless_norecency(mm, target)) == raw


def test_norecency_compare_ignores_young_dirty_but_not_write() -> None:
    pte = 0x101907
    young_dirty = pte | _PAGE_ACCESSED | _PAGE_DIRTY
    assert not pte_same(pte, young_dirty) and pte_same_norecency(pte, young_dirty)
    assert not pte_same_norecency(pte, pte_wrprotect(pte))
    assert not pte_same_norecency(pte, pte + (1 << 12))


def test_clearing_one_entry_unfolds_the_block_first() -> None:
    system, mm, base = _block()
    system.run("hw", arm64_hw_update_af_dirty(mm, base + 9 * PAGE, dirty=False))
    system.run("clear", ptep_get_and_clear(mm, base + 3 * PAGE, mm.pte(base + 3 * PAGE)))
    assert int(system.memory[mm.pte(base + 3 * PAGE)]) == 0
    for i in (0, 9, 15):
        pte = int(system.memory[mm.pte(base + i * PAGE)])
        assert not pte & PTE_CONT and pte & _PAGE_ACCESSED, i  # young gathered into all


def test_a_lockless_reader_never_mixes_two_foldings() -> None:
    """Spec L6b: the result is the folded block before, or the unfolded entry after."""
    system, mm, base = _block()
    target = base + 3 * PAGE
    before = int(system.memory[mm.pte(target)])
    seen: set[int] = set()

    def reader() -> Any:
        return {"pte": (yield from contpte_ptep_get_lockless(mm, target))}

    def unfolder() -> Any:
        yield from ptep_get_and_clear(mm, base + 12 * PAGE, mm.pte(base + 12 * PAGE))
        return {}

    def observe(state: FinalState) -> bool:
        seen.add(int(state.regs[0]["pte"]))
        return False

    explore(
        Program(
            "contpte-read",
            (reader, unfolder),
            init=system.memory.snapshot(),
            condition=Condition(CondKind.EXISTS, observe, text="observe"),
        ),
        "sc",
    )
    assert seen <= {before, before & ~PTE_CONT, 0} and before in seen
