"""``migrate-vs-gup-fast``: migrating a page that GUP-fast is taking a reference on.

Source: mm/migrate.c migrate_folio_unmap() / migrate_folio_move() (the
move_pages() and migrate_pages() path) with mm/rmap.c try_to_migrate_one(),
against mm/gup.c gup_fast_pte_range(): grab the folio with
folio_ref_try_add() (add unless zero), then re-read the PTE and drop the
grab if it changed (2667f50e8b81 "mm: introduce a general RCU
get_user_pages_fast()", v3.19).  Migration needs the refcount to be exactly
what it expects (spec §2.12 in docs/labels.md): any GUP reference makes it fail, the PTE is
restored and the folio stays where it is.

CPU0 migrates one private anonymous page the process has written, isolated
from the LRU as move_pages() leaves it, to a folio allocated beforehand (the
kernel's get_new_folio() at the top of migrate_folio_unmap()):
try_to_migrate_one() clears the PTE, checks for pins
(folio_try_share_anon_rmap_pte()), writes a migration entry and puts the
mapping's reference; folio_migrate_mapping() freezes the refcount at the
isolation reference; the contents move; remove_migration_ptes() maps the
new folio.  One attempt, no retry.  CPU1 runs get_user_pages_fast_only() on
the address (the ``current-pin`` variants take a FOLL_PIN pin instead,
through the same fast-only walk).

Forbidden: GUP-fast returns the old page (holding a reference or pin) and
the migration succeeded: the PTE now maps the new folio, and whatever the
caller's I/O writes into the old page is lost to the process.

Pairing: CPU0 replaces the PTE, then puts the mapping's reference with a
fully ordered folio_put() and freezes the count with a fully ordered
cmpxchg; CPU1 grabs with a fully ordered folio_ref_try_add() (which fails
on the frozen zero), then re-reads the PTE.  Store buffering on {PTE,
refcount}, but all of CPU0's refcount accesses are read-modify-writes of
the word CPU1 increments: either the freeze sees the grab and fails (the
PTE is restored), or the grab reads from a write that follows the PTE
replacement behind a full barrier, and the re-read sees the PTE changed.
The pin check's barriers (``folio_try_share_anon_rmap_pte:mb-before-pin-check``
against ``try_grab_folio_fast:mb-after-pin``, pattern L2) guard
PageAnonExclusive, not this outcome: the what-if ``current-pin-no-mb``
without them stays never.  No named barrier or era switch guards the
refcount check or GUP-fast's PTE re-check, so no what-if of this family is
reachable.

The model freezes the refcount of every folio; the kernel's
__migrate_folio() only reads it (folio_ref_count() != expected) for an
anonymous folio outside the swap cache, and freezes under the mapping's
lock otherwise.  Its ordering then comes from try_to_migrate_one()'s
folio_put() alone, which the model has too.  The model's ``arm64`` has no
barrier in the flush: the MIGRATE_ASYNC case, whose flush is deferred
(TTU_BATCH_FLUSH); move_pages() migrates MIGRATE_SYNC and flushes at once.
"""

from __future__ import annotations

from typing import Any, Final

from pinlab.engine import FinalState
from pinlab.kernel.arch import ARM64, Arch
from pinlab.kernel.defs import FOLL_FAST_ONLY, FOLL_GET, FOLL_PIN
from pinlab.kernel.eras import Era, era_by_name
from pinlab.kernel.folio import folio_alloc
from pinlab.kernel.gup_fast import gup_fast_fallback
from pinlab.kernel.migrate import (
    MIGRATEPAGE_SUCCESS,
    folio_isolate_lru,
    migrate_folio_move,
    migrate_folio_unmap,
)
from pinlab.kernel.mm_types import Cpu, Page, pfn_folio
from pinlab.kernel.pte import describe_pte, pte_pfn, pte_present
from pinlab.scenarios.base import NEVER, Built, Family, Scenario, row
from pinlab.scenarios.common import anon_page, gup_fast_writes, paths

__all__ = ["SCENARIOS", "build"]

NAME = "migrate-vs-gup-fast"
SOURCE = (
    "mm/migrate.c:migrate_folio_unmap()/migrate_folio_move() vs "
    "mm/gup.c:gup_fast_pte_range(); 2667f50e8b81 "
    "'mm: introduce a general RCU get_user_pages_fast()'"
)
FAMILY = Family(
    NAME,
    title="page migration (move_pages) vs a GUP-fast reference to the same page",
    source=SOURCE,
    forbidden="GUP-fast returns the old page while the migration succeeds (the PTE maps the new)",
)
MB_BEFORE_PIN_CHECK: Final = "folio_try_share_anon_rmap_pte:mb-before-pin-check"
MB_AFTER_PIN: Final = "try_grab_folio_fast:mb-after-pin"


def build(era: Era, arch: Arch = ARM64, pin: bool = False) -> Built:
    """The setup, run sequentially, and the two CPUs' kernel paths."""
    setup = anon_page(era, arch)  # one reference: the mapping's; PageAnonExclusive
    system, mm, addr = setup.system, setup.mm, setup.addr
    machine = system.machine
    src = pfn_folio(pte_pfn(int(system.memory[mm.pte(addr)])))
    # move_pages() isolates the folio (a reference) before migrate_pages();
    # migrate_folio_unmap() allocates the target first of all.
    assert system.run("isolate", folio_isolate_lru(src)), "setup: on the LRU"
    dst = system.run("alloc", folio_alloc(system.cpu))
    flags = (FOLL_PIN if pin else FOLL_GET) | FOLL_FAST_ONLY

    def migrate() -> Any:
        cpu = Cpu(machine, id=1)
        rc = yield from migrate_folio_unmap(cpu, machine, src)
        if rc == 0:
            rc = yield from migrate_folio_move(cpu, machine, src, dst)
        return {"migrated": int(rc == MIGRATEPAGE_SUCCESS)}

    def gup() -> Any:
        pages: list[Page] = []
        n = yield from gup_fast_fallback(Cpu(machine, id=2), mm, addr, 1, flags, pages)
        return {"got": n, "pfn": pages[0].pfn if pages else 0}

    def bad(state: FinalState) -> str | None:
        g = state.regs[1]
        if g.get("got") != 1 or g.get("pfn") != src.pfn:
            return None
        pte = int(state.memory.get(mm.pte(addr), 0))
        if pte_present(pte) and pte_pfn(pte) == src.pfn:
            return None
        return (
            f"GUP-fast returned {src.page(0)}, but migration moved it "
            f"(PTE now {describe_pte(pte)}): the I/O writes into a page the process lost"
        )

    grabber = "pin_user_pages_fast" if pin else "get_user_pages_fast"
    # What GUP-fast may write: as in lazyfree-vs-gup-fast, for the old folio
    # and for the new one (read from the PTE once it is mapped).
    writes = gup_fast_writes(mm, src) | gup_fast_writes(mm, dst)
    program = paths(NAME, system, {"migrate_pages": migrate, grabber: gup}, {grabber: writes})
    return Built(program, bad)


CURRENT = era_by_name("current")
NO_MB = CURRENT.without(MB_BEFORE_PIN_CHECK, MB_AFTER_PIN)

SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row(
        "current",
        CURRENT,
        sc=NEVER,
        lkmm=NEVER,
        notes={
            "sc": "the freeze sees the reference",
            "lkmm": "folio_put and the freeze are full barriers",
        },
    ),
    row(
        "current-pin",
        CURRENT,
        sc=NEVER,
        lkmm=NEVER,
        notes={"lkmm": "the pin check or the freeze"},
        pin=True,
    ),
    row(
        "current-pin-no-mb",
        NO_MB,
        lkmm=NEVER,
        notes="the L2 barriers guard PageAnonExclusive; the freeze still sees the pin",
        pin=True,
    ),
)
