"""Page-table freeing: ``free_pgtables()`` and the mmu_gather that frees the tables.

Models mm/memory.c ``free_pgtables`` (down to ``free_pte_range``; the model
has one PMD level), include/asm-generic/tlb.h ``pte_free_tlb``,
the two architectures' ``__pte_free_tlb``, mm/mmu_gather.c
``tlb_remove_table`` (with ``tlb_remove_table_one`` and
``tlb_remove_table_sync_one``), ``tlb_table_flush``, ``tlb_flush_mmu`` and
``tlb_finish_mmu``, and include/asm-generic/pgalloc.h ``pte_free``.

GUP-fast walks a PTE table it found through a PMD it read locklessly, so a
table may be freed only when no walk that read the old PMD can still be in
it (pattern L7, docs/labels.md).  Two ways, both against GUP-fast's interrupts-off section
(which the model writes as an RCU read-side section, :mod:`pinlab.kernel.arch`):

- the table goes with the pages, after the TLB flush, whose IPI a CPU with
  interrupts off does not take (x86 without MMU_GATHER_RCU_TABLE_FREE: the
  non-paravirt x86 of before 2025, ``tlb_remove_page()``);
- the table goes to ``tlb_remove_table()``, freed by an RCU callback after a
  grace period (arm64, and every MMU_GATHER_RCU_TABLE_FREE architecture).
  When the batch page cannot be allocated, the table is freed at once after
  ``tlb_remove_table_sync_one()``: an IPI to every CPU, waited for.

The freed table's memory is poisoned (``kernel_poison_pages()``, the
``PAGE_POISON`` byte in every PTE slot): a walker that reads a PTE slot and
gets the poison read the table after it was freed.  Only the slots of the
freed range are written: the model has no others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from pinlab.engine import Loc, kapi
from pinlab.kernel.barriers import barrier
from pinlab.kernel.defs import PAGE_SIZE, PMD_MASK, PMD_SIZE
from pinlab.kernel.folio import Gen
from pinlab.kernel.mm_types import Cpu, MmStruct, Vma
from pinlab.kernel.pgtable import flush_tlb_range, pmd_none

__all__ = [
    "PTE_POISON",
    "MmuGather",
    "PteTable",
    "free_pgtables",
    "free_pte_range",
    "pte_free",
    "pte_free_tlb",
    "tlb_finish_mmu",
    "tlb_flush_mmu",
    "tlb_gather_mmu",
    "tlb_remove_table",
    "tlb_remove_table_sync_one",
    "tlb_table_flush",
]

# include/linux/poison.h PAGE_POISON (0xaa) in every byte of a PTE slot: not
# present, so a walker that reads it stops, but it read freed memory.
PTE_POISON: Final = int.from_bytes(b"\xaa" * 8, "little")


@dataclass(frozen=True, slots=True)
class PteTable:
    """A PTE table page: the PMD that pointed to it and the slots the model uses."""

    mm: MmStruct
    haddr: int  # the first address the table maps
    slots: tuple[Loc, ...]


@dataclass
class MmuGather:
    """struct mmu_gather: what a tear-down frees once the TLB is flushed."""

    mm: MmStruct
    vma: Vma | None = None  # for the range flush (tlb_start_vma())
    start: int = 0
    end: int = 0
    freed_tables: bool = False
    batch: list[PteTable] | None = None  # MMU_GATHER_RCU_TABLE_FREE's mmu_table_batch
    pages: list[PteTable] = field(default_factory=list)  # tlb_remove_page()'d tables
    # __get_free_page(GFP_NOWAIT) for the batch fails (memory pressure):
    # tlb_remove_table() frees the table at once, after an IPI.
    batch_alloc_fails: bool = False


def tlb_gather_mmu(mm: MmStruct, batch_alloc_fails: bool = False) -> MmuGather:
    """Model of mm/mmu_gather.c:tlb_gather_mmu() (an on-stack structure: no memory events;
    inc_tlb_flush_pending() is left out, nothing here reads it)."""
    return MmuGather(mm, batch_alloc_fails=batch_alloc_fails)


def free_pgtables(cpu: Cpu, tlb: MmuGather, vma: Vma, floor: int, ceiling: int) -> Gen:
    """Model of mm/memory.c:free_pgtables() for one VMA, through free_pgd_range() and
    free_pmd_range(): free each PTE table the range [floor, ceiling) covers whole.

    ``ceiling`` 0 means the top of the address space.  Unlinking the VMA
    from its anon_vma and file (unlink_anon_vmas()) is left out: no walker
    here looks at them.
    """
    mm = vma.mm
    tlb.vma = vma
    top = ceiling if ceiling else 1 << 64
    addr = vma.vm_start & PMD_MASK
    while addr < vma.vm_end:
        nxt = addr + PMD_SIZE
        if addr >= floor and nxt <= top:
            pmdp = mm.pmd(addr)
            if not pmd_none((yield from kapi.READ_ONCE(pmdp))):  # pmd_none_or_clear_bad()
                lo, hi = max(addr, vma.vm_start), min(nxt, vma.vm_end)
                slots = tuple(mm.pte(a) for a in range(lo, hi, PAGE_SIZE))
                yield from free_pte_range(cpu, tlb, pmdp, PteTable(mm, addr, slots))
        addr = nxt


def free_pte_range(cpu: Cpu, tlb: MmuGather, pmdp: Loc, table: PteTable) -> Gen:
    """Model of mm/memory.c:free_pte_range(): unhook the table from its PMD, hand it to
    the mmu_gather (mm_dec_nr_ptes() is left out: the model counts no tables)."""
    yield from kapi.WRITE_ONCE(pmdp, 0)  # pmd_clear()
    yield from pte_free_tlb(cpu, tlb, table, table.haddr)


def pte_free_tlb(cpu: Cpu, tlb: MmuGather, table: PteTable, address: int) -> Gen:
    """Model of include/asm-generic/tlb.h:pte_free_tlb(): widen the flush range, note that
    tables go, then the architecture's __pte_free_tlb()."""
    tlb.start = address if tlb.end == tlb.start else min(tlb.start, address)
    tlb.end = max(tlb.end, address + PMD_SIZE)
    tlb.freed_tables = True
    yield from __pte_free_tlb(cpu, tlb, table)


def __pte_free_tlb(cpu: Cpu, tlb: MmuGather, table: PteTable) -> Gen:
    """Model of arch/x86/mm/pgtable.c:___pte_free_tlb() and arch/arm64/include/asm/tlb.h:
    __pte_free_tlb(): tlb_remove_page() where tables are not RCU-freed (x86 without
    MMU_GATHER_RCU_TABLE_FREE), tlb_remove_table() (via tlb_remove_ptdesc()) where they are."""
    if tlb.mm.arch.rcu_table_free:
        yield from tlb_remove_table(cpu, tlb, table)
    else:
        tlb.pages.append(table)  # tlb_remove_page(): freed after the flush


def tlb_remove_table(cpu: Cpu, tlb: MmuGather, table: PteTable) -> Gen:
    """Model of mm/mmu_gather.c:tlb_remove_table(): batch the table for an RCU free; when
    no batch page can be had, free it now after tlb_remove_table_sync_one()."""
    if tlb.batch is None:
        if tlb.batch_alloc_fails:
            yield from tlb_table_invalidate(cpu, tlb)
            yield from tlb_remove_table_one(cpu, table)
            return
        tlb.batch = []
    tlb.batch.append(table)
    # MAX_TABLE_BATCH (hundreds of tables) is never reached by the model's few tables.


def tlb_remove_table_sync_one(cpu: Cpu) -> Gen:
    """Model of mm/mmu_gather.c:tlb_remove_table_sync_one(): an IPI to every other CPU,
    waited for (smp_call_function(..., wait=1)).  A CPU in GUP-fast, interrupts off,
    takes it only when its walk is over: a grace period against gup_fast()'s
    local_irq_save() (the model's rcu_read_lock())."""
    yield from barrier(cpu, "tlb_remove_table_sync_one:ipi")


def tlb_remove_table_one(cpu: Cpu, table: PteTable) -> Gen:
    """Model of mm/mmu_gather.c:tlb_remove_table_one(): wait for the walkers, free."""
    yield from tlb_remove_table_sync_one(cpu)
    yield from __tlb_remove_table(table)


def __tlb_remove_table(table: PteTable) -> Gen:
    """Model of include/asm-generic/tlb.h:__tlb_remove_table() (and arm64's): free the page."""
    yield from pte_free(table)


def tlb_table_invalidate(cpu: Cpu, tlb: MmuGather) -> Gen:
    """Model of mm/mmu_gather.c:tlb_table_invalidate(): hardware walkers' caches first
    (tlb_needs_table_invalidate() is true on both architectures modelled)."""
    yield from tlb_flush_mmu_tlbonly(cpu, tlb)


def tlb_table_flush(cpu: Cpu, tlb: MmuGather) -> Gen:
    """Model of mm/mmu_gather.c:tlb_table_flush(): free the batch after a grace period.

    tlb_remove_table_free() is call_rcu(tlb_remove_table_rcu): the model runs
    the callback in this thread after synchronize_rcu(), which orders the
    free as the callback would be (after every read-side section that began
    before it)."""
    batch = tlb.batch
    if batch is not None:
        yield from tlb_table_invalidate(cpu, tlb)
        # call_rcu(): pairs with gup_fast()'s local_irq_save() (rcu_read_lock()).
        yield from barrier(cpu, "tlb_remove_table:rcu-gp")
        for table in batch:  # tlb_remove_table_rcu() -> __tlb_remove_table_free()
            yield from __tlb_remove_table(table)
        tlb.batch = None


def tlb_flush_mmu_tlbonly(cpu: Cpu, tlb: MmuGather) -> Gen:
    """Model of include/asm-generic/tlb.h:tlb_flush_mmu_tlbonly(): flush the gathered range
    (x86: the IPI, waited for, that GUP-fast holds off; see flush_tlb_range()), reset it."""
    if tlb.end == tlb.start or tlb.vma is None:
        return
    yield from flush_tlb_range(tlb.vma, tlb.start, tlb.end)
    tlb.start = tlb.end = 0


def tlb_batch_pages_flush(tlb: MmuGather) -> Gen:
    """Model of mm/mmu_gather.c:tlb_batch_pages_flush(): free the gathered pages (tables)."""
    for table in tlb.pages:
        yield from pte_free(table)
    tlb.pages.clear()


def tlb_flush_mmu(cpu: Cpu, tlb: MmuGather) -> Gen:
    """Model of mm/mmu_gather.c:tlb_flush_mmu(): flush the TLB, then free (tlb_flush_mmu_free())."""
    yield from tlb_flush_mmu_tlbonly(cpu, tlb)
    yield from tlb_table_flush(cpu, tlb)
    yield from tlb_batch_pages_flush(tlb)


def tlb_finish_mmu(cpu: Cpu, tlb: MmuGather) -> Gen:
    """Model of mm/mmu_gather.c:tlb_finish_mmu() (no nested flush: one tear-down at a time)."""
    yield from tlb_flush_mmu(cpu, tlb)


def pte_free(table: PteTable) -> Gen:
    """Model of include/asm-generic/pgalloc.h:pte_free(): the page goes back to the
    allocator, which poisons it (mm/page_poison.c:kernel_poison_pages())."""
    for slot in table.slots:
        yield from kapi.WRITE_ONCE(slot, PTE_POISON)
