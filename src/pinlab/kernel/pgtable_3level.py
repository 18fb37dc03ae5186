"""Split-word PTEs: x86-32 PAE, where a 64-bit PTE is two 32-bit halves.

Models arch/x86/include/asm/pgtable-3level.h (``native_set_pte``,
``native_pte_clear``, ``native_ptep_get_and_clear``) and the
``CONFIG_GUP_GET_PXX_LOW_HIGH`` version of include/linux/pgtable.h's
``ptep_get_lockless`` (pattern L6a, docs/labels.md).  The rest of the model keeps one
location per PTE (64-bit); this module is the arch variant in which the
halves are two engine locations, ``pte_low`` (present bit, flags, the low
20 bits of the pfn) and ``pte_high`` (the pfn's upper bits).  Nothing else
in the model calls it: it exists for the lockless-read protocol itself.

The protocol:

- making a PTE present writes the high half first, then (smp_wmb) the low
  half with the present bit;
- making it non-present clears the low half (present bit) first, then
  (smp_wmb) the high half;
- a lockless reader reads low, (smp_rmb) high, (smp_rmb) low again, and
  starts over if the two lows differ.

That alone does not stop a reader from pairing a low half with a high half
of another PTE when the entry goes present -> none -> present with the same
low half (the second read of low then matches).  What stops it is that the
entry never goes from one present value to another without a TLB flush in
between, and a reader with interrupts off (GUP-fast) holds off the flush
IPI (:func:`pinlab.kernel.pgtable.barrier_ipi`).  A reader that runs with
interrupts on (the page-fault path's orig_pte) may see such a torn value and
must recheck it under the PTL.

Left out: the PMD halves (``pmdp_get_lockless``), the swap-entry layout of
PAE (a non-present PTE here is 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pinlab.engine import Assume, Loc, kapi
from pinlab.kernel.barriers import barrier
from pinlab.kernel.folio import Gen
from pinlab.kernel.mm_types import Cpu

__all__ = [
    "SplitPte",
    "native_pte_clear",
    "native_ptep_get_and_clear",
    "native_set_pte",
    "pte_high",
    "pte_join",
    "pte_low",
    "ptep_get_lockless",
]

_LOW_MASK: Final = (1 << 32) - 1
# ptep_get_lockless() loops while the low half changes under it.  The model
# unrolls the loop _PASSES times and, as herd7 does with an unrolled spin
# loop, keeps on the last pass only the executions in which the low half did
# not change (an Assume).  Nothing consistent is lost as long as the low half
# is written fewer than _PASSES times during the read: by coherence each
# failed pass consumes one of those writes.  The scenarios write it at most
# twice.
_PASSES: Final = 3


@dataclass(frozen=True, slots=True)
class SplitPte:
    """``pte_t *ptep`` on x86-32 PAE: the two 32-bit words of one PTE."""

    low: Loc
    high: Loc

    @classmethod
    def at(cls, name: str) -> SplitPte:
        return cls(Loc(f"{name}.pte_low"), Loc(f"{name}.pte_high"))


def pte_low(pte: Any) -> Any:
    return pte & _LOW_MASK


def pte_high(pte: Any) -> Any:
    return pte >> 32


def pte_join(low: Any, high: Any) -> Any:
    """The 64-bit value of the halves (``pte.pte_low | (u64)pte.pte_high << 32``)."""
    return low | high << 32


def native_set_pte(cpu: Cpu, ptep: SplitPte, pte: Any) -> Gen:
    """Model of arch/x86/include/asm/pgtable-3level.h:native_set_pte() (PTL held).

    Only for an entry that is not present: the high half first, so the
    present bit in the low half is published last.
    """
    yield from kapi.WRITE_ONCE(ptep.high, pte_high(pte))
    # Pairs with the smp_rmb() between ptep_get_lockless()'s reads of the
    # low and the high half.
    yield from barrier(cpu, "native_set_pte:wmb-high-low")
    yield from kapi.WRITE_ONCE(ptep.low, pte_low(pte))


def native_pte_clear(cpu: Cpu, ptep: SplitPte) -> Gen:
    """Model of arch/x86/include/asm/pgtable-3level.h:native_pte_clear() (PTL held).

    The present bit goes first, then the high half.
    """
    yield from kapi.WRITE_ONCE(ptep.low, 0)
    # Pairs with the smp_rmb() before ptep_get_lockless()'s second read of
    # the low half: a reader that saw the cleared high half sees the change.
    yield from barrier(cpu, "native_pte_clear:wmb-low-high")
    yield from kapi.WRITE_ONCE(ptep.high, 0)


def native_ptep_get_and_clear(ptep: SplitPte) -> Gen:
    """Model of arch/x86/include/asm/pgtable-3level.h:native_ptep_get_and_clear() (SMP).

    ``xchg`` of the low half is fully ordered: it is the barrier before the
    high half is cleared.
    """
    low = yield from kapi.xchg(ptep.low, 0)
    high = yield from kapi.READ_ONCE(ptep.high)
    yield from kapi.WRITE_ONCE(ptep.high, 0)
    return pte_join(low, high)


def ptep_get_lockless(cpu: Cpu, ptep: SplitPte) -> Gen:
    """Model of include/linux/pgtable.h:ptep_get_lockless() with CONFIG_GUP_GET_PXX_LOW_HIGH.

    Low, high, low again; start over while the low half changed.
    """
    for n in range(_PASSES):
        low = yield from kapi.READ_ONCE(ptep.low)
        # Pairs with the smp_wmb() in native_set_pte(): the high half read
        # here is at least as new as the one written before this low half.
        yield from barrier(cpu, "ptep_get_lockless:rmb-low-high")
        high = yield from kapi.READ_ONCE(ptep.high)
        # Pairs with the smp_wmb() in native_pte_clear(): if the high half
        # read above was already cleared, the re-read sees the low half cleared.
        yield from barrier(cpu, "ptep_get_lockless:rmb-recheck")
        same = low == (yield from kapi.READ_ONCE(ptep.low))
        if n == _PASSES - 1:
            yield Assume(same)  # an execution that would loop again is dropped here
            return pte_join(low, high)
        if same:
            return pte_join(low, high)
    return 0
