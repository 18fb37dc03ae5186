"""``gup-fast-vs-try-share-anon``: GUP-fast pinning while PageAnonExclusive is cleared (2022).

Source: the linux-mm thread "mm: fix PageAnonExclusive clearing racing with
concurrent RCU GUP-fast" (David Hildenbrand, Jason Gunthorpe, Aug-Sep 2022)
and its fix 088b8aa537c2 (v6.1).

One process has an anonymous page that is mapped read-only and clean but is
still exclusive (PageAnonExclusive): it was swapped out and read back in.
CPU0 (ksmd) tries to turn it into a KSM page: try_to_merge_one_page() ->
write_protect_page() clears the PTE, checks the references, clears
PageAnonExclusive through folio_try_share_anon_rmap_pte() and restores the
PTE -- to the *same* value, since it was already R/O and clean.  CPU1 takes
a R/O pin with GUP-fast (FOLL_PIN, no FOLL_WRITE; fast only).  The variant
``swap`` has CPU0 swap the page out instead (try_to_unmap_one(): the PTE
becomes a swap entry, so GUP-fast's PTE re-check sees the change).

Forbidden: CPU1 returns the page pinned while PageAnonExclusive is clear (a
pin on a possibly shared anonymous page: the next write fault would COW
away from it; invariant I on "pinned anon pages are exclusive").

Pairings (pattern L2, docs/labels.md): the PTE clear, smp_mb, pin check (A1-A2) against the
pin, smp_mb__after_atomic, PTE re-check (B3-B4): store buffering on {PTE,
pin count}; the PageAnonExclusive clear, smp_mb__after_atomic, PTE restore
(A3-A4) against the PTE re-check, smp_rmb, PageAnonExclusive test (B4-B5):
message passing on {PageAnonExclusive, PTE}.

Architectures (:mod:`pinlab.kernel.arch`): on x86 the flush after the PTE
clear waits for an IPI that GUP-fast's disabled interrupts hold off, and
the clear is an xchg; on arm64 neither.  Before 088b8aa537c2 the IPI was
what the code relied on; the thread asked whether that holds where page
tables are freed by RCU.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import FinalState
from pinlab.kernel.arch import ARM64, X86, Arch
from pinlab.kernel.defs import FOLL_FAST_ONLY, FOLL_PIN, PAGE_SIZE, PG_anon_exclusive
from pinlab.kernel.eras import Era, era_by_name
from pinlab.kernel.folio import Gen, folio_test_swapcache, folio_trylock
from pinlab.kernel.gup_fast import gup_fast_fallback
from pinlab.kernel.ksm import get_mergeable_page, try_to_merge_one_page
from pinlab.kernel.mm_types import Cpu, Folio, Page, page_folio
from pinlab.kernel.mmap import (
    MADV_PAGEOUT,
)
from pinlab.kernel.process import System
from pinlab.kernel.pte import describe_pte
from pinlab.kernel.swap_state import folio_alloc_swap
from pinlab.kernel.vmscan import try_to_unmap_one
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Family, Scenario, row
from pinlab.scenarios.common import anon_page, paths

__all__ = ["BARRIERS_088B8AA537C2", "SCENARIOS", "build"]

NAME = "gup-fast-vs-try-share-anon"
SOURCE = (
    "lore: 'mm: fix PageAnonExclusive clearing racing with concurrent RCU GUP-fast'; 088b8aa537c2"
)
FAMILY = Family(
    NAME,
    title="GUP-fast R/O pin vs clearing PageAnonExclusive (KSM, swap-out)",
    source=SOURCE,
    forbidden="GUP-fast returns the page pinned while PageAnonExclusive is clear",
    patterns=("L2",),
)

# The four barriers of 088b8aa537c2, by the names of kernel/barriers.py.
BARRIERS_088B8AA537C2: tuple[str, ...] = (
    "folio_try_share_anon_rmap_pte:mb-before-pin-check",
    "folio_try_share_anon_rmap_pte:mb-after-exclusive-clear",
    "try_grab_folio_fast:mb-after-pin",
    "gup_must_unshare:rmb-before-exclusive",
)


def build(era: Era, arch: Arch = ARM64, sharer: str = "ksm") -> Built:
    """The setup, run sequentially, and the two CPUs' kernel paths."""
    setup = anon_page(era, arch, strict=True)
    system, proc, addr = setup.system, setup.proc, setup.addr
    # Swap it out and read it back: mapped R/O and clean, still exclusive.
    proc.madvise(addr, PAGE_SIZE, MADV_PAGEOUT)
    proc.read(addr)
    mm, machine = proc.mm, system.machine
    vma = mm.find_vma(addr)
    assert vma is not None
    # ksmd holds a reference on the page it is about to merge (get_mergeable_page()).
    page: Page | None = system.run("ksmd", get_mergeable_page(system.cpu, vma, addr))
    assert page is not None, "setup: no anonymous page to merge"
    folio = page_folio(page)
    if sharer == "swap":
        # shrink_folio_list() holds the folio locked and in the swap cache.
        system.run("reclaim", _lock_for_reclaim(system, folio))

    def sharer_thread() -> Any:
        cpu = Cpu(machine, id=1)
        if sharer == "ksm":
            err = yield from try_to_merge_one_page(cpu, vma, page, None)
            return {"shared": err == 0}
        unmapped = yield from try_to_unmap_one(cpu, folio, vma, addr)
        return {"shared": bool(unmapped)}

    def pinner() -> Any:
        cpu = Cpu(machine, id=2)
        pages: list[Page] = []
        n = yield from gup_fast_fallback(cpu, mm, addr, 1, FOLL_PIN | FOLL_FAST_ONLY, pages)
        return {"pinned": n, "pfn": pages[0].pfn if pages else 0}

    def bad(state: FinalState) -> str | None:
        pin = state.regs[1]
        if pin.get("pinned") != 1:
            return None
        flags = int(state.memory.get(folio.page(0).flags, 0))
        if flags >> PG_anon_exclusive & 1:
            return None
        pte = int(state.memory.get(mm.pte(addr), 0))
        return (
            f"GUP-fast returned {folio} pinned, but PageAnonExclusive is clear "
            f"(the page may be shared; PTE now {describe_pte(pte)})"
        )

    sharer_path = "try_to_merge_one_page" if sharer == "ksm" else "try_to_unmap_one"
    threads = {sharer_path: sharer_thread, "pin_user_pages_fast": pinner}
    return Built(paths(NAME, system, threads), bad)


def _lock_for_reclaim(system: System, folio: Folio) -> Gen:
    """What shrink_folio_list() does before try_to_unmap(): lock, add to swap cache."""
    ok = yield from folio_trylock(folio)
    assert ok, "setup: the folio is locked"
    if not (yield from folio_test_swapcache(folio)):
        yield from folio_alloc_swap(system.cpu, folio)


V5_19 = era_by_name("v5.19")
V6_1 = era_by_name("v6.1")
CURRENT = era_by_name("current")

SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row(
        "v5.19",
        V5_19,
        sc=NEVER,
        lkmm=REACHABLE,
        notes={"sc": "SC: the four steps suffice", "lkmm": "no barriers, no IPI (RCU table free)"},
    ),
    row(
        "v5.19-x86",
        V5_19,
        lkmm=REACHABLE,
        notes="the IPI does not order PageAnonExclusive against a PTE restored unchanged",
        arch=X86,
    ),
    row("v6.1", V6_1, lkmm=NEVER, notes="088b8aa537c2's four barriers"),
    row("v6.1-x86", V6_1, lkmm=NEVER, arch=X86),
    row("current", CURRENT, lkmm=NEVER),
    row("v5.19-swap", V5_19, lkmm=REACHABLE, sharer="swap"),
    row("v6.1-swap", V6_1, lkmm=NEVER, sharer="swap"),
)
