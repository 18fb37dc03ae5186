"""free_pgtables() and the mmu_gather: the PMD is cleared, the table freed (poisoned)
only after the IPI or the grace period that GUP-fast's interrupts-off section holds off."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pinlab.engine.ops import Fence, FenceTag, Store
from pinlab.kernel.arch import ARM64, X86, Arch
from pinlab.kernel.barriers import BARRIERS
from pinlab.kernel.defs import PAGE_SIZE
from pinlab.kernel.eras import era_by_name
from pinlab.kernel.mm_types import Cpu
from pinlab.kernel.mmap import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from pinlab.kernel.mmu_gather import PTE_POISON, free_pgtables, tlb_finish_mmu, tlb_gather_mmu
from pinlab.kernel.process import System
from pinlab.kernel.zap import unmap_vmas


def _recording(gen: Generator[Any, Any, Any], log: list[Any]) -> Generator[Any, Any, Any]:
    answer: Any = None
    try:
        op = gen.send(None)
        while True:
            log.append(op)
            answer = yield op
            op = gen.send(answer)
    except StopIteration as stop:
        return stop.value


def _unmap(arch: Arch, batch_alloc_fails: bool = False, era: str = "current") -> Any:
    system = System(era_by_name(era), arch=arch, strict=False)
    proc = system.spawn()
    addr = proc.mmap(2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    proc.write(addr, 7)
    mm = proc.mm
    vma = mm.find_vma(addr)
    assert vma is not None
    cpu = Cpu(system.machine, id=1)

    def region() -> Generator[Any, Any, Any]:
        tlb = tlb_gather_mmu(mm, batch_alloc_fails)
        yield from unmap_vmas(cpu, [vma])
        yield from free_pgtables(cpu, tlb, vma, 0, 0)
        yield from tlb_finish_mmu(cpu, tlb)

    log: list[Any] = []
    system.run("unmap_region", _recording(region(), log))
    return system, mm, addr, log


def _first(log: list[Any], pred: Any) -> int:
    return next(i for i, op in enumerate(log) if pred(op))


@pytest.mark.parametrize(
    ("arch", "nobatch", "label"),
    [
        (X86, False, "flush_tlb:ipi-wait"),
        (ARM64, False, "tlb_remove_table:rcu-gp"),
        (ARM64, True, "tlb_remove_table_sync_one:ipi"),
    ],
)
def test_table_freed_only_after_the_wait(arch: Arch, nobatch: bool, label: str) -> None:
    system, mm, addr, log = _unmap(arch, nobatch)
    assert int(system.memory[mm.pmd(addr)]) == 0, "the PMD no longer points to the table"
    for a in (addr, addr + PAGE_SIZE):
        assert int(system.memory[mm.pte(a)]) == PTE_POISON, "the freed table is poisoned"
    clear = _first(log, lambda op: isinstance(op, Store) and op.loc == mm.pmd(addr))
    wait = _first(
        log, lambda op: isinstance(op, Fence) and op.tag is FenceTag.SYNC_RCU and op.label == label
    )
    free = _first(log, lambda op: isinstance(op, Store) and op.value == PTE_POISON)
    assert clear < wait < free


def test_removing_the_grace_period_frees_at_once() -> None:
    era = era_by_name("current").without("tlb_remove_table:rcu-gp")
    system = System(era, arch=ARM64, strict=False)
    proc = system.spawn()
    addr = proc.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    proc.write(addr, 7)
    vma = proc.mm.find_vma(addr)
    assert vma is not None
    cpu = Cpu(system.machine, id=1)
    tlb = tlb_gather_mmu(proc.mm)
    log: list[Any] = []
    system.run("free_pgtables", _recording(free_pgtables(cpu, tlb, vma, 0, 0), log))
    system.run("tlb_finish_mmu", _recording(tlb_finish_mmu(cpu, tlb), log))
    assert not any(isinstance(op, Fence) and op.tag is FenceTag.SYNC_RCU for op in log)
    assert int(system.memory[proc.mm.pte(addr)]) == PTE_POISON


def test_a_table_shared_with_another_vma_range_is_kept() -> None:
    system = System(era_by_name("current"), arch=ARM64, strict=False)
    proc = system.spawn()
    addr = proc.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    proc.write(addr, 7)
    vma = proc.mm.find_vma(addr)
    assert vma is not None
    cpu = Cpu(system.machine, id=1)
    tlb = tlb_gather_mmu(proc.mm)
    # A floor above the table's start: a neighbour below still uses it.
    system.run("free_pgtables", free_pgtables(cpu, tlb, vma, addr + PAGE_SIZE, 0))
    system.run("tlb_finish_mmu", tlb_finish_mmu(cpu, tlb))
    assert int(system.memory[proc.mm.pmd(addr)]) != 0
    assert int(system.memory[proc.mm.pte(addr)]) != PTE_POISON


def test_the_l7_barriers_pair_with_gup_fast() -> None:
    for name in ("tlb_remove_table:rcu-gp", "tlb_remove_table_sync_one:ipi"):
        assert BARRIERS[name].primitive == "synchronize_rcu"
        assert "gup_fast" in BARRIERS[name].pairs_with
