"""What the invariant predicates see: memory, the machine, and the callers' GUP references.

A :class:`View` reads kernel memory through a function (plain memory in a
sequential run; a final state under the explorer), lists the machine's PTEs
once per check, and holds the :class:`GupRef` s: the pages GUP users (pipe
buffers, io_uring buffers, gup_test pins) believe they hold.  That belief is
ghost state, kept by whoever drives the kernel paths, not by the kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pinlab.engine import Loc
from pinlab.kernel.defs import (
    PAGE_MAPPING_ANON,
    PAGE_MAPPING_FLAGS,
    PAGE_SIZE,
    PMD_MASK,
    PMD_SIZE,
    PG_anon_exclusive,
)
from pinlab.kernel.eras import Era
from pinlab.kernel.huge_mm import pmd_pte, pmd_trans_huge
from pinlab.kernel.mm_types import (
    Machine,
    MmStruct,
    Vma,
    folio_test_hugetlb,
    folio_test_large,
    pfn_folio,
    pfn_to_page,
)
from pinlab.kernel.pte import describe_pte, pte_present, pte_special


@dataclass(eq=False)
class GupRef:
    """A reference or pin a caller holds on a page it got from GUP (ghost state)."""

    pin: bool  # FOLL_PIN requested (before v5.7 it is still only a reference)
    holder: str  # "vmsplice", "io_uring", "gup_test"
    mm: str
    addr: int
    pfn: int
    anon: bool  # the page was anonymous when GUP returned it
    cow: bool  # the VMA was a COW mapping
    longterm: bool = False
    write: bool = False
    fast: bool = False
    dirty_tracked: bool = False  # a shared mapping of a file that needs writeback
    attached: bool = True  # False once the caller unmapped the range itself
    epoch: int = 0  # when GUP returned it, on the process API's clock

    def __str__(self) -> str:
        kind = "FOLL_PIN" if self.pin else "FOLL_GET"
        return f"{self.holder}'s {kind} of {pfn_folio(self.pfn)} (via {self.mm} {self.addr:#x})"


@dataclass(frozen=True)
class PteView:
    mm: MmStruct
    vma: Vma
    addr: int
    pte: int
    locked: bool

    def __str__(self) -> str:
        return f"{self.mm.name} {self.addr:#x} -> {describe_pte(self.pte)}"


@dataclass
class View:
    """What the predicates see: memory, the machine, the callers' GUP references."""

    era: Era
    machine: Machine
    read: Callable[[Loc], Any]
    refs: list[GupRef]
    births: Mapping[str, int] = field(default_factory=dict)  # mm name -> creation epoch
    # ptes and mappers already listed (the sequential checker keeps them up to date)
    tables: Callable[[], tuple[list[PteView], dict[int, set[str]]]] | None = None

    @cached_property
    def ptes(self) -> list[PteView]:
        """Every non-none PTE; a huge PMD counts as the PTEs of its pages (``pmd_pte``)."""
        if self.tables is not None:
            return self.tables()[0]
        out = []
        for mm in self.machine.mms.values():
            for vma in mm.vmas:
                addr = vma.vm_start
                while addr < vma.vm_end:
                    end = min(vma.vm_end, (addr & PMD_MASK) + PMD_SIZE)
                    pmd = int(self.read(mm.pmd(addr)))
                    if pmd:
                        locked = bool(self.read(mm.ptl(addr)))
                        huge = bool(pmd_trans_huge(pmd))
                        for a in range(addr, end, PAGE_SIZE):
                            i = (a & ~PMD_MASK) // PAGE_SIZE
                            pte = pmd_pte(pmd, i) if huge else int(self.read(mm.pte(a)))
                            if pte:
                                out.append(PteView(mm, vma, a, pte, locked))
                    addr = end
        return out

    def pte_at(self, mm: MmStruct, addr: int) -> int:
        """What maps ``addr``: its PTE, or the PTE a huge PMD amounts to there."""
        pmd = int(self.read(mm.pmd(addr)))
        if pmd_trans_huge(pmd):
            return pmd_pte(pmd, (addr & ~PMD_MASK) // PAGE_SIZE)
        return int(self.read(mm.pte(addr)))

    @cached_property
    def mappers(self) -> dict[int, set[str]]:
        """pfn -> the mms mapping it with a present, unlocked, non-special PTE."""
        if self.tables is not None:
            return self.tables()[1]
        out: dict[int, set[str]] = {}
        for p in self.ptes:
            if pte_present(p.pte) and not pte_special(p.pte) and not p.locked:
                out.setdefault(p.pte >> 12, set()).add(p.mm.name)
        return out

    def flags(self, pfn: int) -> int:
        return int(self.read(pfn_folio(pfn).flags))

    def pae(self, pfn: int) -> bool:
        """PageAnonExclusive of the page (of a hugetlb folio: its head page)."""
        folio = pfn_folio(pfn)
        page = folio.page(0) if folio_test_hugetlb(folio) else pfn_to_page(pfn)
        return bool(int(self.read(page.flags)) >> PG_anon_exclusive & 1)

    def mapcount(self, pfn: int) -> int:
        """folio_mapcount() of the folio ``pfn`` belongs to."""
        folio = pfn_folio(pfn)
        if folio_test_large(folio):
            return int(self.read(folio._large_mapcount)) + 1
        return int(self.read(folio._mapcount)) + 1

    def anon(self, pfn: int) -> bool:
        return bool(int(self.read(pfn_folio(pfn).mapping)) & PAGE_MAPPING_ANON)

    def ksm(self, pfn: int) -> bool:
        return int(self.read(pfn_folio(pfn).mapping)) & PAGE_MAPPING_FLAGS == PAGE_MAPPING_FLAGS

    def refcount(self, pfn: int) -> int:
        return int(self.read(pfn_folio(pfn)._refcount))

    def pins(self, attached_only: bool = True) -> list[GupRef]:
        return [r for r in self.refs if r.pin and (r.attached or not attached_only)]


def flags_loc_pfn(loc: Loc) -> int | None:
    """The pfn whose flags word ``loc`` is (a folio's or a subpage's), else None."""
    name = loc.name
    if name.endswith(".flags") and name.startswith("folio"):
        return int(name[5:-6], 16)
    if name.endswith(".flags") and name.startswith("page"):
        return int(name[4:-6], 16)
    return None


def memory_reader(memory: Mapping[Loc, Any]) -> Callable[[Loc], Any]:
    def read(loc: Loc) -> Any:
        return memory.get(loc, 0)

    return read
