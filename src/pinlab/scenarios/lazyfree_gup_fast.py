"""``lazyfree-vs-gup-fast``: reclaim discarding a MADV_FREE page that GUP-fast is taking (L3).

Source: 6c8e2a256915 "mm: fix race between MADV_FREE reclaim and blkdev
direct IO read" (v5.18).  A process marks a page MADV_FREE, then starts a
direct-IO read into it: the block layer takes a reference with GUP-fast.
Reclaim meanwhile finds the lazyfree folio clean and discards it: the PTE is
cleared, the process later faults in a zero page, and the data the device
writes into the old page is lost.

CPU0 runs reclaim's try_to_unmap_one() (its MADV_FREE branch) on the
folio that shrink_folio_list() isolated and locked, CPU1
get_user_pages_fast_only() on the page (the variant ``pin`` takes a FOLL_PIN
pin instead).

Forbidden: GUP-fast returns the page, and reclaim has unmapped it anyway
(the PTE no longer maps it).

Pairing (pattern L3, docs/labels.md): clear PTE; smp_mb; read refcount (try_to_unmap_one)
against grab the reference (folio_ref_try_add(), fully ordered); re-read the
PTE (gup_fast_pte_range): store buffering on {PTE, refcount}.  Reclaim
defers its TLB flush (TTU_BATCH_FLUSH), so the flush orders nothing here:
the model's ``arm64`` (an unordered PTE clear, no flush barrier) is that
case; on x86 the PTE clear is an xchg, itself a full barrier.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import FinalState, kapi
from pinlab.kernel.arch import ARM64, X86, Arch
from pinlab.kernel.defs import FOLL_FAST_ONLY, FOLL_GET, FOLL_PIN, PAGE_SIZE, PG_lru
from pinlab.kernel.eras import Era, era_by_name
from pinlab.kernel.folio import Gen, folio_trylock
from pinlab.kernel.gup_fast import gup_fast_fallback
from pinlab.kernel.mm_types import (
    Cpu,
    Folio,
    Page,
    pfn_folio,
)
from pinlab.kernel.mmap import MADV_FREE
from pinlab.kernel.pte import describe_pte, pte_pfn, pte_present
from pinlab.kernel.vmscan import try_to_unmap_one
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Family, Scenario, row
from pinlab.scenarios.common import anon_page, gup_fast_writes, paths

__all__ = ["SCENARIOS", "build"]

NAME = "lazyfree-vs-gup-fast"
SOURCE = "6c8e2a256915 'mm: fix race between MADV_FREE reclaim and blkdev direct IO read'"
FAMILY = Family(
    NAME,
    title="MADV_FREE discard in reclaim vs a GUP-fast reference (direct IO)",
    source=SOURCE,
    forbidden="GUP-fast returns the page while reclaim discards (unmaps) it",
    patterns=("L3",),
)
LAZYFREE_MB = "try_to_unmap_one:lazyfree-mb"


def _folio_isolate_lru(folio: Folio) -> Gen:
    """What madvise_pageout() does before shrink_folio_list(): off the LRU, one reference."""
    assert (yield from kapi.test_and_clear_bit(PG_lru, folio.flags)), "setup: not on the LRU"
    yield from kapi.atomic_inc(folio._refcount)


def build(era: Era, arch: Arch = ARM64, pin: bool = False) -> Built:
    """The setup, run sequentially, and the two CPUs' kernel paths."""
    setup = anon_page(era, arch)
    system, mm, addr = setup.system, setup.mm, setup.addr
    assert setup.proc.madvise(addr, PAGE_SIZE, MADV_FREE) == 0
    machine = system.machine
    folio = pfn_folio(pte_pfn(int(system.memory[mm.pte(addr)])))
    # shrink_folio_list() holds the folio isolated and locked when it unmaps it.
    system.run("isolate", _folio_isolate_lru(folio))
    assert system.run("lock", folio_trylock(folio)), "setup: the folio is locked"
    flags = (FOLL_PIN if pin else FOLL_GET) | FOLL_FAST_ONLY
    grabber = "pin_user_pages_fast" if pin else "get_user_pages_fast"

    vma = mm.find_vma(addr)
    assert vma is not None

    def reclaim() -> Any:
        unmapped = yield from try_to_unmap_one(Cpu(machine, id=1), folio, vma, addr)
        return {"unmapped": int(bool(unmapped))}

    def gup() -> Any:
        pages: list[Page] = []
        n = yield from gup_fast_fallback(Cpu(machine, id=2), mm, addr, 1, flags, pages)
        return {"got": n, "pfn": pages[0].pfn if pages else 0}

    def bad(state: FinalState) -> str | None:
        g = state.regs[1]
        if g.get("got") != 1 or g.get("pfn") != folio.pfn:
            return None
        pte = int(state.memory.get(mm.pte(addr), 0))
        if pte_present(pte) and pte_pfn(pte) == folio.pfn:
            return None
        return (
            f"GUP-fast returned {folio}, but reclaim discarded its mapping "
            f"(PTE now {describe_pte(pte)}): the I/O writes into a page the process lost"
        )

    threads = {"try_to_unmap_one": reclaim, grabber: gup}
    program = paths(NAME, system, threads, may_write={grabber: gup_fast_writes(mm, folio)})
    return Built(program, bad)


V5_11 = era_by_name("v5.11")
CURRENT = era_by_name("current")
NO_MB = CURRENT.without(LAZYFREE_MB)

SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row("v5.11", V5_11, sc=REACHABLE, notes="no refcount check yet"),
    row("current", CURRENT, sc=NEVER, lkmm=NEVER, notes={"lkmm": "the smp_mb pairs with the grab"}),
    row("current-pin", CURRENT, sc=NEVER, lkmm=NEVER, notes={"lkmm": "FOLL_PIN's grab"}, pin=True),
    row("current-x86", CURRENT, lkmm=NEVER, arch=X86),
    row(
        "current-no-mb",
        NO_MB,
        lkmm=REACHABLE,
        notes="without the smp_mb the refcount read passes the PTE clear (store buffering)",
    ),
    row(
        "current-x86-no-mb",
        NO_MB,
        lkmm=NEVER,
        arch=X86,
        notes="x86's PTE clear is an xchg: a full barrier of its own",
    ),
)
