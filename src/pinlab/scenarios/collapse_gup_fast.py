"""``collapse-vs-gup-fast``: THP collapse vs GUP-fast walking the old PTE table (L5).

Source: 70cbc3cc78a9 "mm: gup: fix the fast GUP race against THP collapse"
(Yang Shi, v6.1, Cc stable).  khugepaged clears the PMD that points to a
PTE table (pmdp_collapse_flush()), checks that nobody but the mappings
holds the old pages, copies them into a new THP and maps it with a huge
PMD.  GUP-fast may have read the PMD before it was cleared and still walk
the old table.  On x86 the flush is an IPI that GUP-fast's disabled
interrupts hold off, so collapse waits for the walk; where the flush waits
for nobody (arm64, RCU-freed page tables) GUP-fast can take its reference
after collapse checked the references, see an unchanged PTE, and return a
page that is about to be unmapped.  The fix rechecks the PMD too.

CPU0 runs collapse_huge_page() on a PMD range with one populated page;
CPU1 get_user_pages_fast_only() on that page.

Forbidden: collapse succeeds and GUP-fast returns the old page (no longer
mapped: I/O through the reference is lost to the process).

Pairing (pattern L5, docs/labels.md): clear the PMD; (flush); lock and check the refcount
against grab the reference (fully ordered); re-read the PMD and the PTE.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import FinalState
from pinlab.kernel.arch import ARM64, X86, Arch
from pinlab.kernel.defs import (
    FOLL_FAST_ONLY,
    FOLL_GET,
    HPAGE_PMD_ORDER,
    PAGE_SIZE,
    PMD_MASK,
    PMD_SIZE,
)
from pinlab.kernel.eras import Era, era_by_name
from pinlab.kernel.gup_fast import gup_fast_fallback
from pinlab.kernel.khugepaged import SCAN_SUCCEED, collapse_huge_page
from pinlab.kernel.mm_types import Cpu, Page, pfn_folio
from pinlab.kernel.pte import pte_pfn
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Family, Scenario, row
from pinlab.scenarios.common import anon_page, gup_fast_writes, paths

__all__ = ["SCENARIOS", "build"]

NAME = "collapse-vs-gup-fast"
SOURCE = "70cbc3cc78a9 'mm: gup: fix the fast GUP race against THP collapse'"
FAMILY = Family(
    NAME,
    title="THP collapse vs GUP-fast on the old PTE table (PMD recheck)",
    source=SOURCE,
    forbidden="collapse succeeds and GUP-fast returns an old, now unmapped page",
    patterns=("L5",),
)


def build(era: Era, arch: Arch = ARM64) -> Built:
    """The setup, run sequentially, and the two CPUs' kernel paths."""
    setup = anon_page(era, arch, size=2 * PMD_SIZE, value=None)
    system, proc, mm = setup.system, setup.proc, setup.mm
    haddr = (setup.addr + PMD_SIZE - 1) & PMD_MASK
    addr = haddr + PAGE_SIZE
    proc.write(addr, 0x11)  # one page of the PTE table populated
    machine = system.machine
    vma = mm.find_vma(haddr)
    assert vma is not None and vma.vm_end >= haddr + PMD_SIZE
    old = pfn_folio(pte_pfn(int(system.memory[mm.pte(addr)])))
    new = pfn_folio(Cpu(machine, id=1).new_large_pfn(HPAGE_PMD_ORDER))

    def khugepaged() -> Any:
        result = yield from collapse_huge_page(Cpu(machine, id=1), vma, haddr)
        return {"collapsed": int(result == SCAN_SUCCEED)}

    def gup() -> Any:
        pages: list[Page] = []
        flags = FOLL_GET | FOLL_FAST_ONLY
        n = yield from gup_fast_fallback(Cpu(machine, id=2), mm, addr, 1, flags, pages)
        return {"got": n, "pfn": pages[0].pfn if pages else 0}

    def bad(state: FinalState) -> str | None:
        g = state.regs[1]
        if state.regs[0].get("collapsed") != 1 or g.get("got") != 1 or g.get("pfn") != old.pfn:
            return None
        return (
            f"collapse replaced the PTE table by a THP, but GUP-fast returned the old {old}, "
            "which no page table maps any more"
        )

    # GUP-fast may also take a reference on the THP that replaces the table,
    # if it reads the new PMD (a fresh CPU 1 allocates it again)
    writes = {"get_user_pages_fast": gup_fast_writes(mm, old) | gup_fast_writes(mm, new)}
    threads = {"collapse_huge_page": khugepaged, "get_user_pages_fast": gup}
    return Built(paths(NAME, system, threads, writes), bad)


V5_19 = era_by_name("v5.19")
V6_1 = era_by_name("v6.1")
CURRENT = era_by_name("current")

# The same verdicts under sc and the LKMM.  x86's flush IPI waits for the
# interrupts-off walk (the rcu axiom); from v6.1 GUP-fast rechecks the PMD
# after its fully ordered grab.
SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row("v5.19", V5_19, sc=REACHABLE, lkmm=REACHABLE, notes="no PMD recheck, no flush IPI"),
    row(
        "v5.19-x86",
        V5_19,
        sc=NEVER,
        lkmm=NEVER,
        notes="no PMD recheck, but the flush IPI waits for the interrupts-off walk",
        arch=X86,
    ),
    row("v6.1", V6_1, sc=NEVER, lkmm=NEVER, notes="70cbc3cc78a9: GUP-fast rechecks the PMD"),
    row("current", CURRENT, sc=NEVER, lkmm=NEVER),
)
