"""``gup-fast-pte-recheck-norecency``: GUP-fast's PTE re-check on an arm64 contpte block (2024).

Source: Ryan Roberts' RFC "mm/gup: Use ptep_get_lockless_norecency()" (lore
20240215121756.2734131-1-ryan.roberts@arm.com, Feb-Apr 2024) and David
Hildenbrand's review.  Never merged: the proposal is an architecture option
(:data:`pinlab.kernel.arch.ARM64_CONTPTE_NORECENCY`), not an era.

One process maps 16 anonymous pages as one contiguous block (CONT bit; every
entry old and clean, writable, exclusive).  CPU1 takes a writable pin of one
page with GUP-fast (FOLL_PIN | FOLL_WRITE, fast only).  GUP-fast reads the
PTE (B1; docs/labels.md), grabs the folio, and re-checks that the PTE did not change (B4).

Variants ``recency-*``: the MMU of another CPU, accessing a *different* page
of the block, sets the access and dirty flags in that entry (an atomic
hardware update).  With today's code (``pte_same``) B1 reads the block with
``ptep_get_lockless()`` and B4 with ``ptep_get()``, both OR-ing the young/dirty
bits of all 16 entries, and compares raw values: the hardware update between
the two makes GUP-fast back off although nothing it cares about changed
(reachable: a spurious fall-back to the slow path -- a performance finding,
the RFC's motivation).  With the RFC (``norecency``) both reads take the
target entry only and the compare ignores young/dirty: never.

Variants ``ksm-*``: a real change instead.  ksmd write-protects the same
page (write_protect_page(): clear and flush the PTE, check the references,
restore it read-only and clean) to merge it.  The restored value differs
from B1's only in write permission (and young/dirty): a re-check that
ignores young/dirty must still compare write permission, as the review
insists.  Forbidden: GUP-fast returns a writable pin on a page that KSM
write-protected for merging (the pin would follow a stale, writable
mapping).  Never, with either re-check.

KSM's ptep_clear_flush() unfolds the block first (contpte_try_unfold(): 16
clears, 16 rewrites without CONT).  There is no ``ksm-pte_same`` variant: a
16-entry lockless read against those 32 writes has ~3^16 reads-from
combinations, beyond the explorer today (it ran past 300 s); the question of
the thread is the norecency re-check anyway.  Models: sc in the catalogue.
"""

from __future__ import annotations

from typing import Any, Final

from pinlab.engine import FinalState
from pinlab.kernel.arch import ARM64_CONTPTE, ARM64_CONTPTE_NORECENCY, Arch
from pinlab.kernel.contpte import CONT_PTES, PTE_CONT, arm64_hw_update_af_dirty
from pinlab.kernel.defs import FOLL_FAST_ONLY, FOLL_PIN, FOLL_WRITE, PAGE_SIZE
from pinlab.kernel.eras import Era, era_by_name
from pinlab.kernel.gup_fast import gup_fast_fallback
from pinlab.kernel.ksm import get_mergeable_page, try_to_merge_one_page
from pinlab.kernel.mm_types import Cpu, Page
from pinlab.kernel.pte import _PAGE_ACCESSED, _PAGE_DIRTY, describe_pte
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Expect, Family, Row, Scenario, row
from pinlab.scenarios.common import anon_page, paths

__all__ = ["SCENARIOS", "build"]

NAME = "gup-fast-pte-recheck-norecency"
SOURCE = "lore: '[RFC PATCH v1 2/4] mm/gup: Use ptep_get_lockless_norecency()' (2024-02)"
TARGET: Final = 3  # the entry GUP-fast pins
OTHER: Final = 9  # the entry the hardware marks young and dirty
FORBIDDEN: Final = {
    "hw": "GUP-fast backs off although only young/dirty changed (spurious failure)",
    "ksm": "GUP-fast returns a writable pin on a page KSM write-protected",
}
FAMILY = Family(
    NAME,
    title="GUP-fast's PTE re-check vs hardware young/dirty updates on arm64 contpte",
    source=SOURCE,
    forbidden=FORBIDDEN["hw"],
    patterns=("L6",),
)


def build(era: Era, arch: Arch, other: str) -> Built:
    """The contpte block (setup), GUP-fast, and the hardware updater or ksmd."""
    setup = anon_page(era, arch, size=CONT_PTES * PAGE_SIZE, value=None)
    system, proc, mm, base = setup.system, setup.proc, setup.mm, setup.addr
    machine = system.machine
    assert base % (CONT_PTES * PAGE_SIZE) == 0, "setup: the block is not aligned"
    for i in range(CONT_PTES):
        proc.write(base + i * PAGE_SIZE, i)
    # Fold: every entry CONT, old and clean (as after a young/dirty harvest).
    for i in range(CONT_PTES):
        loc = mm.pte(base + i * PAGE_SIZE)
        system.memory[loc] = (int(system.memory[loc]) & ~(_PAGE_ACCESSED | _PAGE_DIRTY)) | PTE_CONT
    target = base + TARGET * PAGE_SIZE
    vma = mm.find_vma(target)
    assert vma is not None
    ksm_page: Page | None = None
    if other == "ksm":
        ksm_page = system.run("ksmd", get_mergeable_page(system.cpu, vma, target))
        assert ksm_page is not None, "setup: no anonymous page to merge"

    def pinner() -> Any:
        cpu = Cpu(machine, id=1)
        pages: list[Page] = []
        flags = FOLL_PIN | FOLL_WRITE | FOLL_FAST_ONLY
        n = yield from gup_fast_fallback(cpu, mm, target, 1, flags, pages)
        return {"pinned": n}

    def hardware() -> Any:
        yield from arm64_hw_update_af_dirty(mm, base + OTHER * PAGE_SIZE, dirty=True)
        return {}

    def ksmd() -> Any:
        assert ksm_page is not None
        err = yield from try_to_merge_one_page(Cpu(machine, id=2), vma, ksm_page, None)
        return {"shared": err == 0}

    def bad(state: FinalState) -> str | None:
        pinned = state.regs[0].get("pinned") == 1
        pte = int(state.memory.get(mm.pte(target), 0))
        if other == "hw":
            return None if pinned else "GUP-fast backed off: only young/dirty changed in the block"
        if pinned and state.regs[1].get("shared"):
            return f"GUP-fast returned a writable pin; KSM write-protected it ({describe_pte(pte)})"
        return None

    def describe_state(state: FinalState) -> list[str]:
        return [
            f"pinned: {state.regs[0].get('pinned')}",
            f"target PTE: {describe_pte(int(state.memory.get(mm.pte(target), 0)))}",
        ]

    second = ("arm64_hw_update_af_dirty", hardware)
    if other == "ksm":
        second = ("try_to_merge_one_page", ksmd)
    threads = dict((("pin_user_pages_fast", pinner), second))
    return Built(paths(NAME, system, threads), bad, describe_state)


CURRENT = era_by_name("current")


def _row(variant: str, arch: Arch, other: str, expected: Expect) -> Row:
    # The same verdicts under the LKMM: the recheck's reads are ordered by the
    # PTE lock on the other side and GUP-fast's fully ordered grab.
    return row(
        variant,
        CURRENT,
        sc=expected,
        lkmm=expected,
        notes=f"arch {arch.name}",
        forbidden=FORBIDDEN[other],
        arch=arch,
        other=other,
    )


SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    _row("recency-pte_same", ARM64_CONTPTE, "hw", REACHABLE),
    _row("recency-norecency", ARM64_CONTPTE_NORECENCY, "hw", NEVER),
    _row("ksm-norecency", ARM64_CONTPTE_NORECENCY, "ksm", NEVER),
)
