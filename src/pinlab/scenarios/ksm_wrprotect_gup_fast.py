"""``ksm-wrprotect-vs-gup-fast``: KSM's refcount check vs a GUP-fast reference (L4).

Source: mm/ksm.c write_protect_page() (the comment "when
get_user_pages_fast() run it doesn't take any lock, therefore the check
that we are going to make with the pagecount against the mapcount is racy
... So we clear the pte and flush the tlb before the check"), KSM since
v2.6.32.

One process has a writable, dirty anonymous page.  CPU0 (ksmd) tries to
turn it into a KSM page: try_to_merge_one_page() -> write_protect_page()
clears the PTE, flushes, compares the references with the mappings, and
maps the page R/O.  CPU1 takes a FOLL_GET|FOLL_WRITE reference with
GUP-fast, as direct IO does before the device writes into the page.

Forbidden: KSM merges (write-protects) the page while CPU1 holds a GUP
reference it took from the old, writable PTE: the device then writes into a
page KSM treats as stable and may share.

Pairing (pattern L4, docs/labels.md): clear the PTE; flush; read the refcount against grab
the reference (folio_ref_try_add(), fully ordered); re-read the PTE.  What
orders KSM's side is the flush: x86's PTE clear is an xchg and its flush
waits for GUP-fast's interrupts-off walk; arm64's flush ends with
dsb(ish) (``arm64-dsb``).  The plain ``arm64`` of the model (an unordered
clear, a flush that orders nothing) shows that the flush is what the check
relies on.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import FinalState
from pinlab.kernel.arch import ARM64, ARM64_DSB, X86, Arch
from pinlab.kernel.defs import FOLL_FAST_ONLY, FOLL_GET, FOLL_WRITE
from pinlab.kernel.eras import Era, era_by_name
from pinlab.kernel.gup_fast import gup_fast_fallback
from pinlab.kernel.ksm import get_mergeable_page, try_to_merge_one_page
from pinlab.kernel.mm_types import Cpu, Page, page_folio
from pinlab.kernel.pte import describe_pte
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Family, Scenario, row
from pinlab.scenarios.common import anon_page, paths

__all__ = ["SCENARIOS", "build"]

NAME = "ksm-wrprotect-vs-gup-fast"
SOURCE = "mm/ksm.c:write_protect_page() (KSM, v2.6.32); spec 2.10"
FAMILY = Family(
    NAME,
    title="KSM write_protect_page() refcount check vs a GUP-fast reference",
    source=SOURCE,
    forbidden="KSM merges the page while GUP-fast holds a reference from the old PTE",
    patterns=("L4",),
)


def build(era: Era, arch: Arch = X86) -> Built:
    """The setup, run sequentially, and the two CPUs' kernel paths."""
    setup = anon_page(era, arch)  # writable, dirty, exclusive
    system, mm, addr = setup.system, setup.mm, setup.addr
    machine = system.machine
    vma = mm.find_vma(addr)
    assert vma is not None
    # ksmd holds a reference on the page it is about to merge (get_mergeable_page()).
    page: Page | None = system.run("ksmd", get_mergeable_page(system.cpu, vma, addr))
    assert page is not None, "setup: no anonymous page to merge"
    folio = page_folio(page)

    def ksmd() -> Any:
        err = yield from try_to_merge_one_page(Cpu(machine, id=1), vma, page, None)
        return {"merged": int(err == 0)}

    def gup() -> Any:
        pages: list[Page] = []
        flags = FOLL_GET | FOLL_WRITE | FOLL_FAST_ONLY
        n = yield from gup_fast_fallback(Cpu(machine, id=2), mm, addr, 1, flags, pages)
        return {"got": n, "pfn": pages[0].pfn if pages else 0}

    def bad(state: FinalState) -> str | None:
        g = state.regs[1]
        if state.regs[0].get("merged") != 1 or g.get("got") != 1 or g.get("pfn") != folio.pfn:
            return None
        pte = int(state.memory.get(mm.pte(addr), 0))
        return (
            f"KSM made {folio} a KSM page (PTE now {describe_pte(pte)}) while GUP-fast "
            "holds a writable reference from the old PTE"
        )

    threads = {"try_to_merge_one_page": ksmd, "get_user_pages_fast": gup}
    return Built(paths(NAME, system, threads), bad)


V4_20 = era_by_name("v4.20")
CURRENT = era_by_name("current")

SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row("v4.20", V4_20, sc=NEVER, notes="clear-then-check predates PAE"),
    row("current", CURRENT, sc=NEVER),
    row("current-x86", CURRENT, lkmm=NEVER, notes="xchg and the flush IPI"),
    row("current-arm64", CURRENT, lkmm=NEVER, notes="the flush's dsb", arch=ARM64_DSB),
    row(
        "current-arm64-no-dsb",
        CURRENT,
        lkmm=REACHABLE,
        notes="a flush that orders nothing: the refcount read passes the PTE clear",
        arch=ARM64,
    ),
)
