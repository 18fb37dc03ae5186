"""What scenario families share: the usual setup, the program glue, GUP-fast's writes.

A family module is a declaration: its :class:`~pinlab.scenarios.base.Family`,
one ``build`` function (setup, the CPUs' kernel paths, the forbidden state)
and a table of :func:`~pinlab.scenarios.base.row`.  The pieces every build
repeated live here:

- :func:`anon_page`: a process with one private anonymous mapping, written;
- :func:`paths`: the :class:`~pinlab.engine.Program` of the CPUs' paths, each
  named after the kernel function it runs, from the setup's memory;
- :func:`gup_fast_writes`: what GUP-fast may write, for the explorers'
  read-from pruning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pinlab.engine import Loc, Program
from pinlab.kernel.arch import ARM64, Arch
from pinlab.kernel.defs import PAGE_SIZE
from pinlab.kernel.eras import Era
from pinlab.kernel.mm_types import (
    NR_FOLL_PIN_ACQUIRED,
    NR_FOLL_PIN_RELEASED,
    Cpu,
    Folio,
    MmStruct,
    Vma,
    pfn_folio,
)
from pinlab.kernel.mmap import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from pinlab.kernel.process import Process, System
from pinlab.kernel.pte import pte_pfn, pte_present

__all__ = ["MAX_OPERATIONS", "AnonPage", "anon_page", "gup_fast_writes", "paths"]

MAX_OPERATIONS = 2000


@dataclass(frozen=True, slots=True)
class AnonPage:
    """The usual setup: ``proc`` maps ``size`` bytes private and anonymous at ``addr``."""

    system: System
    proc: Process
    addr: int

    @property
    def mm(self) -> MmStruct:
        return self.proc.mm

    @property
    def vma(self) -> Vma:
        """The VMA of the mapping."""
        vma = self.mm.find_vma(self.addr)
        assert vma is not None, "the mapping has no VMA"
        return vma

    @property
    def folio(self) -> Folio:
        """The folio the mapping's first page is, as the setup left it (faulted in)."""
        pte = int(self.system.memory[self.mm.pte(self.addr)])
        if not pte_present(pte):
            raise ValueError(f"no page mapped at {self.addr:#x} (write to it first)")
        return pfn_folio(pte_pfn(pte))

    def cpu(self, id: int) -> Cpu:
        """CPU ``id`` of the machine (CPU 0 ran the setup): give each path its own."""
        return Cpu(self.system.machine, id=id)


def anon_page(
    era: Era,
    arch: Arch = ARM64,
    *,
    size: int = PAGE_SIZE,
    value: int | None = 0x11,
    strict: bool = False,
    **system: Any,
) -> AnonPage:
    """A system of ``era`` on ``arch`` whose one process has mmap()ed ``size`` bytes
    MAP_PRIVATE | MAP_ANONYMOUS, read-write, and written ``value`` at the start
    (faulting in its first page) unless ``value`` is None.  ``strict`` and the
    other keywords go to :class:`~pinlab.kernel.process.System`."""
    machine = System(era, arch=arch, strict=strict, **system)
    proc = machine.spawn()
    addr = proc.mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    if value is not None:
        proc.write(addr, value)
    return AnonPage(machine, proc, addr)


def paths(
    name: str,
    system: System,
    threads: Mapping[str, Callable[[], Any]],
    may_write: Mapping[str, frozenset[Loc]] | None = None,
    **program: Any,
) -> Program:
    """The program of ``threads`` (a CPU's path per kernel function name, in CPU
    order) from ``system``'s memory as it is now.

    ``may_write`` bounds, by thread name, the locations a thread may write
    (see :func:`gup_fast_writes`); the other keywords go to
    :class:`~pinlab.engine.Program`.  A path may run :data:`MAX_OPERATIONS`
    operations (ten times the longest of the catalogue's, fork copying a
    4-page folio): one that runs more is reported as an endless loop.
    """
    program.setdefault("max_events_per_thread", MAX_OPERATIONS)
    names = tuple(threads)
    if may_write is not None and (unknown := set(may_write) - set(names)):
        raise ValueError(f"{name}: may_write names no thread {sorted(unknown)}")
    bounds = () if may_write is None else tuple(may_write.get(n) for n in names)
    return Program(
        name,
        tuple(threads.values()),
        init=system.memory.snapshot(),
        thread_names=names,
        may_write=bounds,
        **program,
    )


def gup_fast_writes(mm: MmStruct, folio: Folio) -> frozenset[Loc]:
    """Every location gup_fast_fallback(FOLL_FAST_ONLY) on ``folio`` may write: the
    mm's pinned flag, the folio's references and flags (freed: its mapping), the
    pin statistics."""
    return frozenset(
        {
            mm.flags,
            mm.has_pinned,
            folio._refcount,
            folio.flags,
            folio.mapping,
            NR_FOLL_PIN_ACQUIRED,
            NR_FOLL_PIN_RELEASED,
        }
    )
