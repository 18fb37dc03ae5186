"""``mprotect-vs-pin-fast``: mprotect(PROT_READ) write-protecting a page GUP-fast pins.

Source: mm/mprotect.c change_pte_range() (ptep_modify_prot_start() /
ptep_modify_prot_commit() under the PTL) against mm/gup.c
gup_fast_pte_range()'s PTE re-check after the grab (G6/B4, docs/labels.md).
A process has written one private anonymous page (writable, dirty,
PageAnonExclusive) and calls mprotect(PROT_READ) on it while a driver pins
it for DMA into it.

CPU0 runs change_pte_range() on the page with the VMA's new protection,
as mprotect_fixup() does once it has cleared VM_WRITE (mmap_lock held for
write, which GUP-fast never takes: left out): clear the PTE, build the
read-only one, write it back.  CPU1 runs pin_user_pages_fast(FOLL_PIN |
FOLL_WRITE), fast only (the variant ``longterm`` adds FOLL_LONGTERM).

Forbidden: the pin and the mapping disagree at the end.  GUP-fast returns a
write pin on anything but the folio the PTE still maps, or on a page that is
not PageAnonExclusive (I3), or without MMF_HAS_PINNED (I10); the PTE no
longer maps the folio read-only (mprotect's write-protection lost); or the
references and pin statistics do not add up to what GUP-fast returned (I11:
the back-out after a failed re-check must undo its grab exactly).  A pin
taken before the PTE was cleared and kept afterwards is legal: pins outlive
mprotect(), and the page stays exclusive, so the next write fault reuses it.

Pairing: none is needed.  mprotect changes neither the page nor
PageAnonExclusive and reads no reference count; the one shared word both
sides use is the PTE, and coherence on it is enough: GUP-fast's B1 read
passes pte_access_permitted() only on the old writable value, and its B4
re-read after the fully ordered grab (folio_ref_try_add(), then
smp_mb__after_atomic()) backs out unless it still reads that value, i.e.
unless the grab came before ptep_modify_prot_start()'s clear.  The
``no-mb`` what-if removes smp_mb__after_atomic() to show it orders nothing
here (it pairs with folio_try_share_anon_rmap_pte()'s smp_mb, L2).
The kernel's TLB flush (tlb_finish_mmu(), after the PTL is dropped; on x86
an IPI GUP-fast's interrupts-off walk holds off) only bounds when mprotect()
returns, which no final state sees; the model's change_pte_range() has none.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import FinalState
from pinlab.kernel.arch import ARM64, X86, Arch
from pinlab.kernel.defs import (
    FOLL_FAST_ONLY,
    FOLL_LONGTERM,
    FOLL_PIN,
    FOLL_WRITE,
    GUP_PIN_COUNTING_BIAS,
    MMF_HAS_PINNED,
    PAGE_SIZE,
    VM_WRITE,
    PG_anon_exclusive,
)
from pinlab.kernel.eras import Era, era_by_name
from pinlab.kernel.gup_fast import gup_fast_fallback
from pinlab.kernel.mm_types import (
    NR_FOLL_PIN_ACQUIRED,
    NR_FOLL_PIN_RELEASED,
    Cpu,
    Page,
    pfn_folio,
    pfn_to_page,
)
from pinlab.kernel.mprotect import change_pte_range
from pinlab.kernel.pte import describe_pte, pte_pfn, pte_present, pte_write
from pinlab.scenarios.base import NEVER, Built, Family, Scenario, row
from pinlab.scenarios.common import anon_page, gup_fast_writes, paths

__all__ = ["SCENARIOS", "build"]

NAME = "mprotect-vs-pin-fast"
SOURCE = "mm/mprotect.c:change_pte_range() vs mm/gup.c:gup_fast_pte_range()'s PTE re-check"
FAMILY = Family(
    NAME,
    title="mprotect(PROT_READ) write-protecting a page vs a GUP-fast write pin",
    source=SOURCE,
    forbidden="GUP-fast's write pin and the write-protected PTE disagree (page, PAE, counts)",
)
MB_AFTER_PIN = "try_grab_folio_fast:mb-after-pin"


def build(era: Era, arch: Arch = ARM64, longterm: bool = False) -> Built:
    """The setup, run sequentially, and the two CPUs' kernel paths."""
    setup = anon_page(era, arch)  # writable, dirty, exclusive
    system, mm, addr = setup.system, setup.mm, setup.addr
    machine = system.machine
    ptep = mm.pte(addr)
    folio = pfn_folio(pte_pfn(int(system.memory[ptep])))
    page = pfn_to_page(folio.pfn)
    vma = mm.find_vma(addr)
    assert vma is not None
    # mprotect_fixup(): the VMA loses VM_WRITE (under mmap_lock for write)
    # before change_protection() rewrites its PTEs.
    new = vma.replace(vm_flags=vma.vm_flags & ~VM_WRITE)
    mm.vmas[mm.vmas.index(vma)] = new
    ref0 = int(system.memory[folio._refcount])
    stat0 = int(system.memory.get(NR_FOLL_PIN_ACQUIRED, 0))
    stat0 -= int(system.memory.get(NR_FOLL_PIN_RELEASED, 0))
    flags = FOLL_PIN | FOLL_WRITE | FOLL_FAST_ONLY | (FOLL_LONGTERM if longterm else 0)

    def mprotect() -> Any:
        # No MM_CP_TRY_CHANGE_WRITABLE: the new VMA is not writable
        # (vma_wants_manual_pte_write_upgrade()).
        yield from change_pte_range(
            Cpu(machine, id=1), new, addr, addr + PAGE_SIZE, new.vm_page_prot, 0
        )
        return {}

    def gup() -> Any:
        pages: list[Page] = []
        n = yield from gup_fast_fallback(Cpu(machine, id=2), mm, addr, 1, flags, pages)
        return {"got": n, "pfn": pages[0].pfn if pages else 0}

    def bad(state: FinalState) -> str | None:
        def read(loc: Any) -> int:
            return int(state.memory.get(loc, 0))

        g = state.regs[1]
        got = 1 if g.get("got") == 1 else 0
        pte = read(ptep)
        if not pte_present(pte) or pte_pfn(pte) != folio.pfn:
            return f"after mprotect the PTE is {describe_pte(pte)}: it no longer maps {folio}"
        if pte_write(pte):
            return f"after mprotect(PROT_READ) the PTE is still writable ({describe_pte(pte)})"
        if got and g.get("pfn") != folio.pfn:
            return f"GUP-fast pinned pfn {g.get('pfn'):#x}, but the PTE maps {folio}"
        if got and not read(page.flags) >> PG_anon_exclusive & 1:
            return f"I3: GUP-fast returned a write pin on {folio}, not PageAnonExclusive"
        if got and not read(mm.flags) >> MMF_HAS_PINNED & 1:
            return f"I10: GUP-fast returned a pin on {folio} without MMF_HAS_PINNED"
        want = ref0 + got * GUP_PIN_COUNTING_BIAS
        if read(folio._refcount) != want:
            return f"I11: {folio} _refcount {read(folio._refcount)}, not {want} ({got} pins)"
        outstanding = read(NR_FOLL_PIN_ACQUIRED) - read(NR_FOLL_PIN_RELEASED) - stat0
        if outstanding != got:
            return f"I11: nr_foll_pin_acquired - released grew by {outstanding}, not {got}"
        return None

    def describe_state(state: FinalState) -> list[str]:
        return [
            f"pinned: {state.regs[1].get('got')}",
            f"PTE: {describe_pte(int(state.memory.get(ptep, 0)))}",
            f"{folio} _refcount: {state.memory.get(folio._refcount, 0)}",
        ]

    # What GUP-fast may write: the mm's pinned flag, the folio's references
    # and flags, the pin statistics.
    writes = {"pin_user_pages_fast": gup_fast_writes(mm, folio)}
    threads = {"change_pte_range": mprotect, "pin_user_pages_fast": gup}
    return Built(paths(NAME, system, threads, writes), bad, describe_state)


CURRENT = era_by_name("current")

SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row("current", CURRENT, sc=NEVER, lkmm=NEVER, notes={"lkmm": "coherence on the PTE suffices"}),
    row("current-longterm", CURRENT, sc=NEVER, lkmm=NEVER, longterm=True),
    row("current-x86", CURRENT, lkmm=NEVER, notes="xchg PTE clear", arch=X86),
    row(
        "current-no-mb",
        CURRENT.without(MB_AFTER_PIN),
        lkmm=NEVER,
        notes="what-if: the pin's smp_mb__after_atomic() orders nothing mprotect reads",
    ),
)
