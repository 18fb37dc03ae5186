"""Incremental invariant checking: judge again only what a step may have changed.

The sequential checker evaluates every invariant after almost every step,
and a selftest run takes hundreds of thousands of steps.  An invariant is a
function of what it reads -- memory locations, and the machine's structure
(mms, VMAs, the callers' GUP references, the mms' births) -- so if none of
that changed since it last held, it still holds.  This module keeps the
bookkeeping that makes that exact:

- :class:`TrackedMemory` tells a listener every location a write changes;
- :class:`Readers` remembers which locations each invariant read when it
  was last judged, and marks it stale when one of them is written;
- :class:`PageTables` lists the machine's PTEs the way :attr:`View.ptes`
  does, one PMD-sized segment at a time, redoing a segment only when one of
  the PTE, PMD or PTL words it read was written.  An invariant that looked at
  the page tables is stale when the listing changed.

Any change of structure (an mm or VMA added, removed or replaced, a GUP
reference added, dropped or changed) makes every invariant stale.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pinlab.engine import Loc, Memory
from pinlab.kernel.defs import PAGE_SIZE, PMD_MASK, PMD_SIZE
from pinlab.kernel.huge_mm import pmd_pte, pmd_trans_huge
from pinlab.kernel.mm_types import Machine, MmStruct, Vma
from pinlab.kernel.pte import pte_present, pte_special
from pinlab.kernel.view import GupRef, PteView

# What an invariant that looked at the page tables (View.ptes or View.mappers) depends on.
TABLES: Final = Loc("<page tables>")

_PTES_PER_PMD: Final = PMD_SIZE // PAGE_SIZE


class TrackedMemory(Memory):
    """Plain memory that reports each location whose value a write changes."""

    def __init__(self, init: Mapping[Loc, Any], on_write: Callable[[Loc], None]) -> None:
        super().__init__(init)
        self._on_write = on_write

    def __setitem__(self, loc: Loc, value: Any) -> None:
        old = self[loc]
        super().__setitem__(loc, value)
        if type(old) is not type(value) or old != value:
            self._on_write(loc)

    def __delitem__(self, loc: Loc) -> None:
        super().__delitem__(loc)
        self._on_write(loc)


class Readers:
    """Which keys (invariant ids, page-table segments) read which locations; which are stale."""

    def __init__(self) -> None:
        self._readers: dict[Loc, set[Hashable]] = {}
        self._reads: dict[Hashable, set[Loc]] = {}
        self.stale: set[Hashable] = set()

    def written(self, loc: Loc) -> None:
        keys = self._readers.get(loc)
        if keys:
            self.stale |= keys

    def record(self, key: Hashable, reads: set[Loc]) -> None:
        """``key`` was judged again and read ``reads``: it is fresh until one is written."""
        self.stale.discard(key)
        old = self._reads.get(key)
        if old == reads:
            return
        for loc in self._reads.pop(key, ()):
            keys = self._readers[loc]
            keys.discard(key)
            if not keys:
                del self._readers[loc]
        self._reads[key] = reads
        for loc in reads:
            self._readers.setdefault(loc, set()).add(key)

    def forget(self, key: Hashable) -> None:
        self.record(key, set())


@dataclass(eq=False)
class _Segment:
    """The PTEs of one VMA inside one PMD: [start, end)."""

    mm: MmStruct
    vma: Vma
    start: int
    end: int
    pmd: Loc
    ptl: Loc
    pte_locs: list[Loc]
    ptes: list[PteView] = field(default_factory=list)
    fingerprint: tuple[Any, ...] = ()


def _segments(machine: Machine) -> list[tuple[MmStruct, Vma, int, int]]:
    """The walk order of View.ptes: mms, their VMAs, each VMA by PMD."""
    out = []
    for mm in machine.mms.values():
        for vma in mm.vmas:
            addr = vma.vm_start
            while addr < vma.vm_end:
                end = min(vma.vm_end, (addr & PMD_MASK) + PMD_SIZE)
                out.append((mm, vma, addr, end))
                addr = end
    return out


class PageTables:
    """View.ptes and View.mappers of the current memory, kept up to date segment by segment."""

    def __init__(self, read: Callable[[Loc], Any], readers: Readers) -> None:
        self._read = read
        self._readers = readers
        self._segments: dict[tuple[int, int, int, int], _Segment] = {}
        self._order: list[_Segment] = []
        self.ptes: list[PteView] = []
        self.mappers: dict[int, set[str]] = {}

    def refresh(self, machine: Machine, structure_changed: bool) -> bool:
        """Bring the listing up to date; True if it differs from the last one."""
        changed = False
        if structure_changed:
            order = []
            keep = {}
            for mm, vma, start, end in _segments(machine):
                key = (id(mm), id(vma), start, end)
                seg = self._segments.get(key)
                if seg is None:
                    seg = _Segment(
                        mm, vma, start, end, mm.pmd(start), mm.ptl(start),
                        [mm.pte(a) for a in range(start, end, PAGE_SIZE)],
                    )  # fmt: skip
                    self._readers.stale.add(seg)
                keep[key] = seg
                order.append(seg)
            for key, seg in self._segments.items():
                if key not in keep:
                    self._readers.forget(seg)
            self._segments = keep
            changed = [id(s) for s in order] != [id(s) for s in self._order]
            self._order = order
        for seg in self._order:
            if seg in self._readers.stale:
                changed |= self._redo(seg)
        if changed:
            self.ptes = [p for seg in self._order for p in seg.ptes]
            mappers: dict[int, set[str]] = {}
            for p in self.ptes:
                if pte_present(p.pte) and not pte_special(p.pte) and not p.locked:
                    mappers.setdefault(p.pte >> 12, set()).add(p.mm.name)
            self.mappers = mappers
        return changed

    def _redo(self, seg: _Segment) -> bool:
        """Walk one segment as View.ptes does; True if its PTEs changed."""
        read = self._read
        reads = {seg.pmd}
        out: list[PteView] = []
        pmd = int(read(seg.pmd))
        if pmd:
            reads.add(seg.ptl)
            locked = bool(read(seg.ptl))
            huge = bool(pmd_trans_huge(pmd))
            first = (seg.start & ~PMD_MASK) // PAGE_SIZE
            for i, loc in enumerate(seg.pte_locs):
                if huge:
                    pte = pmd_pte(pmd, (first + i) % _PTES_PER_PMD)
                else:
                    reads.add(loc)
                    pte = int(read(loc))
                if pte:
                    out.append(PteView(seg.mm, seg.vma, seg.start + i * PAGE_SIZE, pte, locked))
        self._readers.record(seg, reads)
        fingerprint = tuple((p.addr, p.pte, p.locked) for p in out)
        if fingerprint == seg.fingerprint and len(out) == len(seg.ptes):
            return False
        seg.ptes, seg.fingerprint = out, fingerprint
        return True


def structure(machine: Machine, refs: list[GupRef], births: Mapping[str, int]) -> tuple[Any, ...]:
    """What the invariants read besides memory, compared by identity and value."""
    return (
        tuple((mm, tuple(mm.vmas)) for mm in machine.mms.values()),
        tuple((r, *vars(r).values()) for r in refs),
        tuple(births.items()),
    )
