"""arm64 contiguous PTEs (contpte): 16 entries the TLB may cache as one.

Models arch/arm64/mm/contpte.c and arch/arm64/include/asm/pgtable.h as far as
lockless readers care (pattern L6b, docs/labels.md):

- A block is ``CONT_PTES`` (16) consecutive PTEs, naturally aligned, all
  valid with the CONT bit, mapping consecutive pfns with the same
  protection.  The hardware may set the access flag (young) and, with DBM,
  the dirty state in *any* entry of the block for an access through any
  other: a single atomic update of that one entry (:func:`arm64_hw_update_af_dirty`).
  So the block's young/dirty is the OR over its 16 entries.
- ``contpte_ptep_get`` (``ptep_get()``, for callers holding the PTL): read the
  16 entries, OR their young/dirty into the target's value.
- ``contpte_ptep_get_lockless`` (``ptep_get_lockless()``): the same, but
  lockless, so it checks that it read one consistent block (every entry
  valid+CONT, pfns consecutive, protection equal ignoring young/dirty) and
  starts over otherwise.
- ``ptep_get_lockless_norecency`` (the 2024 RFC, never merged): just the
  target entry, whose young/dirty may be wrong; and ``pte_same_norecency``,
  which compares two PTEs ignoring young/dirty but not write permission.

Encoding: the model's PTE layout is x86's (:mod:`pinlab.kernel.pte`); the CONT
bit is bit 8 here (arm64: bit 52), and "dirty" is the model's ``_PAGE_DIRTY``
bit (arm64 hardware DBM clears PTE_RDONLY instead; the soft-dirty bit, which
the model's pte_mkdirty() also sets, is not touched by hardware).

``contpte_try_unfold`` runs before ptep_get_and_clear() changes an entry of a
block (so ptep_clear_flush() on one page unfolds the block first).

Left out: folding (the setup installs a folded block), partial-block
accessors other than the lockless reads, the other callers of unfold.
"""

from __future__ import annotations

from typing import Any, Final

from pinlab.engine import Cutoff, kapi
from pinlab.kernel.defs import PAGE_SIZE
from pinlab.kernel.folio import Gen
from pinlab.kernel.mm_types import MmStruct
from pinlab.kernel.pte import _PAGE_ACCESSED, _PAGE_DIRTY, pte_pfn, pte_present

__all__ = [
    "CONT_PTES",
    "PTE_CONT",
    "arm64_hw_update_af_dirty",
    "contpte_ptep_get",
    "contpte_ptep_get_lockless",
    "contpte_try_unfold",
    "pte_cont",
    "pte_same",
    "pte_same_norecency",
    "ptep_get_arch",
    "ptep_get_lockless_arch",
    "ptep_get_lockless_norecency",
]

CONT_PTES: Final = 16
PTE_CONT: Final = 1 << 8
_RECENCY: Final = _PAGE_ACCESSED | _PAGE_DIRTY
_BIT_ACCESSED: Final = _PAGE_ACCESSED.bit_length() - 1
_BIT_DIRTY: Final = _PAGE_DIRTY.bit_length() - 1
# A consistent read needs no retry unless the block is being changed; the
# model bounds the retries (a Cutoff, never a verdict).
_RETRIES: Final = 3


def pte_cont(pte: Any) -> Any:
    return (pte & PTE_CONT) != 0


def pte_valid_cont(pte: Any) -> Any:
    return pte_present(pte) & pte_cont(pte)


def _prot_norecency(pte: Any) -> Any:
    """pte_pgprot(pte_mkold(pte_mkclean(pte))): the protection bits, young/dirty cleared."""
    return pte & ((1 << 12) - 1) & ~_RECENCY


def pte_same(a: Any, b: Any) -> Any:
    """Model of include/linux/pgtable.h:pte_same(): the whole value."""
    return a == b


def pte_same_norecency(a: Any, b: Any) -> Any:
    """Model of the RFC's pte_same_norecency(): equal after mkold+mkclean of both.

    Everything else still counts: pfn, write permission, CONT, special.
    """
    return (a & ~_RECENCY) == (b & ~_RECENCY)


def _block_start(addr: int) -> int:
    return addr & ~(CONT_PTES * PAGE_SIZE - 1)


def contpte_ptep_get(mm: MmStruct, addr: int, orig_pte: Any) -> Gen:
    """Model of arch/arm64/mm/contpte.c:contpte_ptep_get(): OR in every entry's young/dirty."""
    start = _block_start(addr)
    pte = orig_pte
    for i in range(CONT_PTES):
        entry = yield from kapi.READ_ONCE(mm.pte(start + i * PAGE_SIZE))
        pte = pte | (entry & _RECENCY)
    return pte


def contpte_ptep_get_lockless(mm: MmStruct, addr: int) -> Gen:
    """Model of arch/arm64/mm/contpte.c:contpte_ptep_get_lockless(): one consistent block.

    Retries when an entry is not valid+CONT, its pfn is not consecutive, or
    its protection (ignoring young/dirty) differs from the target's.
    """
    start = _block_start(addr)
    for _ in range(_RETRIES):
        orig = yield from kapi.READ_ONCE(mm.pte(addr))
        if not pte_valid_cont(orig):
            return orig
        prot = _prot_norecency(orig)
        pfn = pte_pfn(orig) - (addr - start) // PAGE_SIZE
        pte = orig
        for i in range(CONT_PTES):
            entry = yield from kapi.READ_ONCE(mm.pte(start + i * PAGE_SIZE))
            if (
                not pte_valid_cont(entry)
                or pte_pfn(entry) != pfn + i
                or _prot_norecency(entry) != prot
            ):
                break
            pte = pte | (entry & _RECENCY)
        else:
            return pte
    yield Cutoff("contpte_ptep_get_lockless: the block keeps changing")
    return 0


def ptep_get_lockless_norecency(mm: MmStruct, addr: int) -> Gen:
    """Model of the RFC's ptep_get_lockless_norecency() on arm64: the target entry only."""
    return (yield from kapi.READ_ONCE(mm.pte(addr)))


def ptep_get_lockless_arch(mm: MmStruct, addr: int) -> Gen:
    """ptep_get_lockless() of ``mm``'s architecture: one READ_ONCE, or the contpte read."""
    if mm.arch.contpte:
        return (yield from contpte_ptep_get_lockless(mm, addr))
    return (yield from kapi.READ_ONCE(mm.pte(addr)))


def ptep_get_arch(mm: MmStruct, addr: int) -> Gen:
    """ptep_get() of ``mm``'s architecture: arm64 folds in the block's young/dirty."""
    pte = yield from kapi.READ_ONCE(mm.pte(addr))
    if mm.arch.contpte and pte_valid_cont(pte):
        return (yield from contpte_ptep_get(mm, addr, pte))
    return pte


def arm64_hw_update_af_dirty(mm: MmStruct, addr: int, dirty: bool) -> Gen:
    """The MMU's hardware access-flag (and DBM dirty) update of the entry mapping ``addr``.

    An atomic read-modify-write of that one entry (the architecture's
    hardware update is single-copy atomic), as the TLB walker does when an
    access through any entry of the block finds the flag clear.
    """
    yield from kapi.set_bit(_BIT_ACCESSED, mm.pte(addr))
    if dirty:
        yield from kapi.set_bit(_BIT_DIRTY, mm.pte(addr))


def contpte_try_unfold(mm: MmStruct, addr: int, pte: Any) -> Gen:
    """Model of arch/arm64/include/asm/pgtable.h:contpte_try_unfold() -> contpte_convert().

    Before one entry of a block changes, the whole block is turned back into
    16 ordinary PTEs: clear every entry (gathering young/dirty), flush the
    range (broadcast TLBI: no wait on other CPUs), rewrite them without CONT.
    A lockless reader that straddles this sees an inconsistent block and
    retries.
    """
    if not (mm.arch.contpte and pte_valid_cont(pte)):
        return
    start = _block_start(addr)
    first = (pte & ~PTE_CONT) - (((addr - start) // PAGE_SIZE) << 12)
    gathered = 0
    for i in range(CONT_PTES):
        old = yield from kapi.xchg_relaxed(mm.pte(start + i * PAGE_SIZE), 0)
        gathered = gathered | (old & _RECENCY)
    for i in range(CONT_PTES):
        entry = (first + (i << 12)) | gathered
        yield from kapi.WRITE_ONCE(mm.pte(start + i * PAGE_SIZE), entry)
