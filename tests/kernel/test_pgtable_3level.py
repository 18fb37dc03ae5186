"""Split-word PTEs (x86-32 PAE): the writers and ptep_get_lockless(), run sequentially."""

from __future__ import annotations

from pinlab.engine.sequential import Memory, SequentialExecutor
from pinlab.kernel.barriers import BARRIERS
from pinlab.kernel.eras import CURRENT
from pinlab.kernel.mm_types import Cpu, Machine
from pinlab.kernel.pgtable_3level import (
    SplitPte,
    native_pte_clear,
    native_ptep_get_and_clear,
    native_set_pte,
    pte_high,
    pte_join,
    pte_low,
    ptep_get_lockless,
)

PTE = 0x2_0012_3067  # pfn 0x200123: bits in both halves


def _run(mem: Memory, gen: object) -> object:
    return SequentialExecutor(mem).run(gen)  # type: ignore[arg-type]


def test_halves_join_back() -> None:
    assert pte_join(pte_low(PTE), pte_high(PTE)) == PTE
    assert pte_high(PTE) == 2 and pte_low(PTE) == 0x0012_3067


def test_set_read_clear() -> None:
    cpu = Cpu(Machine(CURRENT))
    ptep = SplitPte.at("t")
    mem = Memory({})
    _run(mem, native_set_pte(cpu, ptep, PTE))
    assert (mem[ptep.low], mem[ptep.high]) == (pte_low(PTE), pte_high(PTE))
    assert _run(mem, ptep_get_lockless(cpu, ptep)) == PTE
    _run(mem, native_pte_clear(cpu, ptep))
    assert _run(mem, ptep_get_lockless(cpu, ptep)) == 0


def test_get_and_clear_returns_the_whole_pte() -> None:
    cpu = Cpu(Machine(CURRENT))
    ptep = SplitPte.at("t")
    mem = Memory({})
    _run(mem, native_set_pte(cpu, ptep, PTE))
    assert _run(mem, native_ptep_get_and_clear(ptep)) == PTE
    assert (mem[ptep.low], mem[ptep.high]) == (0, 0)


def test_the_split_pte_barriers_pair_up() -> None:
    names = [n for n in BARRIERS if n.startswith(("native_", "ptep_get_lockless:"))]
    assert len(names) == 4
    for n in names:
        assert BARRIERS[BARRIERS[n].pairs_with].pairs_with == n
