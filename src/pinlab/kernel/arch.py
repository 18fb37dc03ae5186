"""Architectures: the two properties of a machine that GUP-fast's safety turns on.

GUP-fast walks page tables with interrupts disabled.  On x86 a TLB flush is
an IPI that the flushing CPU waits for, and a CPU with interrupts off cannot
take it: so ``ptep_clear_flush()`` cannot return while a GUP-fast that might
have read the old PTE is still inside its walk.  Architectures that free page
tables by RCU and flush TLBs by broadcast instructions (arm64) give no such
wait; there only the memory barriers of 088b8aa537c2 order the two sides.

The model writes GUP-fast's interrupts-off section as an RCU read-side
critical section (what it is to RCU-freed page tables), so the IPI wait is a
``synchronize_rcu()`` in the flush: both say "every walk that began before
the flush has ended when it returns".

The other difference: x86's ``ptep_get_and_clear()`` is ``xchg`` (fully
ordered); arm64's is ``xchg_relaxed`` (no ordering at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "ARCHES",
    "ARM64",
    "ARM64_CONTPTE",
    "ARM64_CONTPTE_NORECENCY",
    "ARM64_DSB",
    "X86",
    "Arch",
    "arch_by_name",
]


@dataclass(frozen=True, slots=True)
class Arch:
    name: str
    tlb_flush_ipi: bool  # a TLB flush waits for every CPU to take an IPI
    ptep_get_and_clear_ordered: bool  # xchg (fully ordered) rather than xchg_relaxed
    summary: str
    # arm64 contpte (kernel/contpte.py): PTEs with the CONT bit are read as a
    # 16-entry block whose access/dirty bits the hardware sets in any entry.
    contpte: bool = False
    # Ryan Roberts' RFC (lore 20240215121756.2734131-1-ryan.roberts@arm.com,
    # never merged): GUP-fast reads with ptep_get_lockless_norecency() and
    # re-checks with pte_same_norecency().  A proposal, so an option, not an era.
    gup_fast_norecency: bool = False
    # arm64's flush_tlb_page()/flush_tlb_range() end with dsb(ish), which
    # orders every earlier access before every later one (a full barrier).
    # Plain ``arm64`` leaves it out: that is what a deferred flush
    # (TTU_BATCH_FLUSH in reclaim) gives the code between clear and flush.
    tlb_flush_dsb: bool = False
    # Page tables are freed by tlb_remove_table(), after a grace period
    # (MMU_GATHER_RCU_TABLE_FREE).  The x86 modelled frees them with the
    # pages, after the flush IPI (tlb_remove_page(): non-paravirt x86 before 2025).
    rcu_table_free: bool = True


X86: Final = Arch(
    "x86",
    True,
    True,
    "IPI TLB flush held off by GUP-fast; xchg PTE clear",
    rcu_table_free=False,
)
ARM64: Final = Arch(
    "arm64", False, False, "RCU page-table free, broadcast TLBI; xchg_relaxed PTE clear"
)
ARM64_CONTPTE: Final = Arch(
    "arm64-contpte",
    False,
    False,
    "arm64 with contiguous PTE blocks (hardware A/D in any entry of 16)",
    contpte=True,
)
ARM64_CONTPTE_NORECENCY: Final = Arch(
    "arm64-contpte-norecency",
    False,
    False,
    "arm64 contpte with the 2024 RFC: GUP-fast ignores access/dirty (never merged)",
    contpte=True,
    gup_fast_norecency=True,
)
ARM64_DSB: Final = Arch(
    "arm64-dsb",
    False,
    False,
    "arm64 whose TLB flush ends with dsb(ish), a full barrier (an immediate, not deferred, flush)",
    tlb_flush_dsb=True,
)
ARCHES: Final = (X86, ARM64, ARM64_CONTPTE, ARM64_CONTPTE_NORECENCY, ARM64_DSB)


def arch_by_name(name: str) -> Arch:
    for a in ARCHES:
        if a.name == name:
            return a
    raise ValueError(f"unknown arch {name!r}; known: {', '.join(a.name for a in ARCHES)}")
