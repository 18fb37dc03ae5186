"""Helpers for the kernel-model tests.

``make_box(era)`` is a machine with one mm and one private anonymous VMA of
one page, driven directly through kernel paths.  ``k`` drives the model
through the process API: ``k.boot("v5.9", strict=False)`` gives a fresh
machine and its first process, ``k.anon_page(proc)`` a populated private
anonymous page, ``k.pte`` / ``k.folio`` read the state.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest

from pinlab.engine.program import Loc
from pinlab.engine.sequential import Memory, SequentialExecutor
from pinlab.kernel.defs import FAULT_FLAG_WRITE, PG_anon_exclusive, vm_flags_t
from pinlab.kernel.eras import era_by_name
from pinlab.kernel.memory import handle_mm_fault
from pinlab.kernel.mm_types import Cpu, Folio, Machine, MmStruct, Vma, pfn_folio
from pinlab.kernel.mmap import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from pinlab.kernel.pgtable import ptep_set_wrprotect
from pinlab.kernel.process import Process, System
from pinlab.kernel.pte import pte_present

ADDR = 0x1000_0000
RW = (
    vm_flags_t.VM_READ | vm_flags_t.VM_WRITE | vm_flags_t.VM_MAYREAD | vm_flags_t.VM_MAYWRITE
    | vm_flags_t.VM_SOFTDIRTY
)  # fmt: skip


class Box:
    """A machine with one mm and one private anonymous page-sized VMA."""

    def __init__(self, era: str) -> None:
        self.machine = Machine(era_by_name(era))
        self.cpu = Cpu(self.machine)
        self.ex = SequentialExecutor(Memory(self.machine.boot_memory()))
        self.mm = MmStruct("mm")
        self.machine.mms["mm"] = self.mm
        self.addr = ADDR
        self.vma = Vma(self.mm, ADDR, ADDR + 4096, RW, 0, ADDR >> 12, Loc("av")).replace()
        self.mm.vmas.append(self.vma)

    def run(self, gen: Generator[Any, Any, Any]) -> Any:
        return self.ex.run(gen)

    def fault(self, write: bool) -> int:
        flags = FAULT_FLAG_WRITE if write else 0
        return int(self.run(handle_mm_fault(self.cpu, self.vma, ADDR, flags)))

    @property
    def pte(self) -> int:
        return int(self.ex.memory[self.mm.pte(ADDR)])

    def pae(self) -> bool:
        return bool(int(self.ex.memory[pfn_folio(self.pte >> 12).flags]) >> PG_anon_exclusive & 1)

    def wrprotect(self) -> None:
        self.run(ptep_set_wrprotect(self.mm, ADDR, self.mm.pte(ADDR)))


@pytest.fixture
def make_box() -> Callable[[str], Box]:
    return Box


class Kit:
    PAGE = 4096

    def boot(self, era: str = "current", strict: bool = True) -> tuple[System, Process]:
        system = System(era_by_name(era), strict=strict)
        return system, system.spawn()

    def anon_page(self, proc: Process, value: int = 1) -> int:
        addr = proc.mmap(self.PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        proc.write(addr, value)
        return addr

    def pte(self, proc: Process, addr: int) -> int:
        return int(proc.system.memory[proc.mm.pte(addr)])

    def folio(self, proc: Process, addr: int) -> Folio:
        value = self.pte(proc, addr)
        assert pte_present(value), f"{addr:#x} is not mapped"
        return pfn_folio(value >> 12)


@pytest.fixture
def k() -> Kit:
    return Kit()
