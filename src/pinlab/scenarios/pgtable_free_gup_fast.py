"""``pgtable-free-vs-gup-fast``: munmap freeing the PTE table GUP-fast walks (L7).

GUP-fast reads the PMD without a lock, then the PTEs of the table it points
to.  munmap() meanwhile zaps the range, clears the PMD and frees the table
(unmap_region(): unmap_vmas(), free_pgtables(), tlb_finish_mmu()).  If the
table can be freed while a walk that read the old PMD is still inside it,
GUP-fast reads freed (reused) memory as PTEs.  The protection is GUP-fast's
interrupts-off section: on x86 the table is freed after the TLB-flush IPI,
which a CPU with interrupts off does not take; where tables are freed by
RCU (arm64), after a grace period, of which interrupts-off is a read-side
section (or after tlb_remove_table_sync_one()'s IPI when no batch page can be
allocated).  The design predates git (L7 in docs/labels.md; the RCU table free is
Peter Zijlstra's 2011 mmu_gather rework).

CPU0 unmaps a one-page anonymous VMA alone in its PMD range (populated;
the ``-empty`` variants drop the page first with MADV_DONTNEED, leaving an
empty PTE table); CPU1 get_user_pages_fast_only() on that page.

Forbidden: GUP-fast reads a PTE slot of the table after it was freed.  The
freed table is poisoned (kernel_poison_pages(), :mod:`pinlab.kernel.mmu_gather`);
a read of a PTE slot that returns the poison read from the free's write --
a use after free, which the scenario's KASAN-like watch on CPU1's reads counts.

Pairing (L7): clear the PMD; wait (IPI or grace period); free,
against interrupts off; read the PMD; read the PTE; interrupts on.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import FinalState, Load, Loc, Rmw
from pinlab.kernel.arch import ARM64, X86, Arch
from pinlab.kernel.defs import FOLL_FAST_ONLY, FOLL_GET, PAGE_SIZE, PMD_MASK
from pinlab.kernel.eras import Era, era_by_name
from pinlab.kernel.folio import Gen
from pinlab.kernel.gup_fast import gup_fast_fallback
from pinlab.kernel.mm_types import Cpu, Page, pfn_folio
from pinlab.kernel.mmap import MADV_DONTNEED
from pinlab.kernel.mmu_gather import (
    PTE_POISON,
    free_pgtables,
    tlb_finish_mmu,
    tlb_gather_mmu,
)
from pinlab.kernel.pte import pte_pfn
from pinlab.kernel.zap import unmap_vmas
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Expect, Family, Row, Scenario, row
from pinlab.scenarios.common import anon_page, gup_fast_writes, paths

__all__ = ["SCENARIOS", "build", "kasan_watch"]

NAME = "pgtable-free-vs-gup-fast"
SOURCE = "pre-git: IRQ-off GUP-fast vs the flush IPI; 2011: MMU_GATHER_RCU_TABLE_FREE"
FAMILY = Family(
    NAME,
    title="munmap freeing a PTE table vs GUP-fast walking it (IRQ-off vs IPI/RCU)",
    source=SOURCE,
    forbidden="GUP-fast reads a PTE from the table after munmap freed it",
    patterns=("L7",),
)
RCU_GP = "tlb_remove_table:rcu-gp"
SYNC_ONE = "tlb_remove_table_sync_one:ipi"


def kasan_watch(gen: Gen, watched: frozenset[Loc]) -> Gen:
    """Run kernel path ``gen``, checking every read of ``watched`` (KASAN's shadow check).

    Forwards each operation and its answer unchanged.  A read of a watched
    location that returns :data:`PTE_POISON` is a use after free: counted in
    the register ``uaf`` of the returned dict.  Like KASAN without
    panic_on_warn, the path runs on (an Oops would end the thread inside its
    read-side section, which no grace period could then be ordered with).
    """
    uaf = 0
    answer: Any = None
    try:
        op = gen.send(None)
        while True:
            answer = yield op
            if isinstance(op, Load | Rmw) and op.loc in watched and int(answer) == PTE_POISON:
                uaf += 1
            op = gen.send(answer)
    except StopIteration as stop:
        return {**stop.value, "uaf": uaf}


def build(
    era: Era, arch: Arch = ARM64, batch_alloc_fails: bool = False, populated: bool = True
) -> Built:
    """The setup, run sequentially, and the two CPUs' kernel paths."""
    # mmap() places each VMA alone in its 2 MiB range: munmap() frees the PTE table.
    setup = anon_page(era, arch)
    system, proc, addr = setup.system, setup.proc, setup.addr
    assert addr & ~PMD_MASK == 0
    folio = pfn_folio(pte_pfn(int(system.memory[proc.mm.pte(addr)])))
    if not populated:  # MADV_DONTNEED: the page goes, the (empty) PTE table stays
        assert proc.madvise(addr, PAGE_SIZE, MADV_DONTNEED) == 0
    mm, machine = proc.mm, system.machine
    vma = mm.find_vma(addr)
    assert vma is not None and len(mm.vmas) == 1
    slots = frozenset(mm.pte(a) for a in range(vma.vm_start, vma.vm_end, PAGE_SIZE))

    def munmap() -> Any:
        # unmap_region(): the VMA is already detached (mmap_lock held for write).
        cpu = Cpu(machine, id=1)
        tlb = tlb_gather_mmu(mm, batch_alloc_fails)
        yield from unmap_vmas(cpu, [vma])
        yield from free_pgtables(cpu, tlb, vma, 0, 0)
        yield from tlb_finish_mmu(cpu, tlb)
        return {"done": 1}

    def gup_fast() -> Gen:
        pages: list[Page] = []
        flags = FOLL_GET | FOLL_FAST_ONLY
        n = yield from gup_fast_fallback(Cpu(machine, id=2), mm, addr, 1, flags, pages)
        return {"got": n, "pfn": pages[0].pfn if pages else 0}

    def gup() -> Any:
        return (yield from kasan_watch(gup_fast(), slots))

    def bad(state: FinalState) -> str | None:
        if not state.regs[1].get("uaf"):
            return None
        return (
            "BUG: KASAN: use-after-free: GUP-fast read a PTE of the table munmap() "
            "had freed (the slot held the page poison)"
        )

    threads = {"munmap": munmap, "get_user_pages_fast": gup}
    writes = {"get_user_pages_fast": gup_fast_writes(mm, folio)}
    return Built(paths(NAME, system, threads, writes), bad)


CURRENT = era_by_name("current")


def _rows(populated: bool, models: tuple[str, ...]) -> tuple[Row, ...]:
    """The table for a populated PTE table (or an empty one), run under ``models``."""
    sfx = "" if populated else "-empty"

    def one(variant: str, era: Era, expected: Expect, notes: str, **params: Any) -> Row:
        expect = {m: expected for m in models}
        return row(variant + sfx, era, notes=notes, populated=populated, **expect, **params)

    return (
        one("x86", CURRENT, NEVER, "freed after the flush IPI", arch=X86),
        one("arm64", CURRENT, NEVER, "freed after a grace period (call_rcu)"),
        one(
            "arm64-nobatch",
            CURRENT,
            NEVER,
            "no batch page: tlb_remove_table_sync_one()'s IPI, then freed",
            batch_alloc_fails=True,
        ),
        one(
            "arm64-no-gp",
            CURRENT.without(RCU_GP),
            REACHABLE,
            "what-if: the batch freed without waiting for a grace period",
        ),
        one(
            "arm64-nobatch-no-sync",
            CURRENT.without(SYNC_ONE),
            REACHABLE,
            "what-if: tlb_remove_table_one() without tlb_remove_table_sync_one()",
            batch_alloc_fails=True,
        ),
    )


# The populated table (zap + GUP-fast's grab) under sc and lkmm; the empty
# one (the page dropped first by MADV_DONTNEED, so munmap() frees an empty
# table and GUP-fast reads a none PTE -- or the poison) under lkmm, as the
# case of a table freed with nothing left in it.
SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    *_rows(True, ("sc", "lkmm")),
    *_rows(False, ("lkmm",)),
)
