"""Kernel paths are replayable: a deterministic function of the values they load.

The explorer replays threads from their start many times.  A kernel path
must therefore produce the same operations from the same memory, allocate
objects with the same names, and leave pre-existing Python objects alone.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine.ops import Op
from pinlab.engine.sequential import Memory, SequentialExecutor
from pinlab.kernel.defs import FOLL_WRITE
from pinlab.kernel.fork import dup_mmap
from pinlab.kernel.gup_fast import pin_user_pages_fast
from pinlab.kernel.mm_types import Cpu, Page


def _replay(system: Any, make: Any) -> tuple[list[Op], dict[Any, Any], Any]:
    ops: list[Op] = []
    ex = SequentialExecutor(Memory(system.memory.snapshot()))
    ex.after_step = lambda op, _ex: ops.append(op)
    result = ex.run(make(Cpu(system.machine, id=1)))
    return ops, ex.memory.snapshot(), result


def test_gup_fast_pin_replays_identically(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    vmas = list(proc.mm.vmas)

    def make(cpu: Cpu) -> Any:
        return pin_user_pages_fast(cpu, proc.mm, addr, 1, FOLL_WRITE, [])

    first, second = _replay(system, make), _replay(system, make)
    assert first[0] == second[0] and first[1] == second[1]
    assert proc.mm.vmas == vmas and all(a is b for a, b in zip(proc.mm.vmas, vmas, strict=True))


def test_fork_replays_identically_and_names_the_child_the_same(k: Any) -> None:
    system, proc = k.boot()
    k.anon_page(proc)
    before = [(v, v.vm_flags) for v in proc.mm.vmas]
    first, second = (_replay(system, lambda cpu: dup_mmap(cpu, proc.mm)) for _ in range(2))
    assert first[0] == second[0] and first[1] == second[1]
    assert first[2].name == second[2].name
    assert [(v, v.vm_flags) for v in proc.mm.vmas] == before
    assert first[2].name not in system.machine.mms, "published by the process API, not by fork"


def test_pages_list_is_the_callers(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    pages: list[Page] = []
    system.run("pin", pin_user_pages_fast(system.cpu, proc.mm, addr, 1, FOLL_WRITE, pages))
    assert [p.pfn for p in pages] == [k.folio(proc, addr).pfn]
