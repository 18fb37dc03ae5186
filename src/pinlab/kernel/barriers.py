"""The named barriers of the page-pinning protocols.

Every barrier the race analyses turn on has a name here, the primitive the
kernel uses, its partner, the commit that added it, and why (with the labels
of docs/labels.md).  Kernel paths yield it through :func:`barrier`, which

- labels the fence event with the name, so traces say which barrier it is;
- leaves it out when the era lists the name in ``removed_barriers``: the
  "what if this barrier were not there" experiments of the scenarios (which
  barriers a fixed design needs, and which it does not);
- yields a *what-if* barrier (one no kernel has) only when the era lists it
  in ``added_barriers``: "would this barrier close the race?".

A barrier that exists only from some era on is still guarded by that era's
switch at the call site, as the kernel's code differed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from pinlab.engine import PRIMITIVES
from pinlab.kernel.folio import Gen
from pinlab.kernel.mm_types import Cpu

__all__ = ["BARRIERS", "NamedBarrier", "barrier", "define_barrier"]


@dataclass(frozen=True, slots=True)
class NamedBarrier:
    name: str
    primitive: str
    pairs_with: str
    why: str
    commit: str  # "" for a what-if barrier
    what_if: bool = False  # no kernel has it: only where an era adds it


_LIST: Final = (
    NamedBarrier(
        "gup_fast:seq-begin-rmb",
        "smp_rmb",
        "copy_page_range:seq-begin-wmb",
        "G1: raw_seqcount_try_begin() reads write_protect_seq before the page-table walk",
        "57efa1fe5957",
    ),
    NamedBarrier(
        "gup_fast:seq-retry-rmb",
        "smp_rmb",
        "copy_page_range:seq-end-wmb",
        "G12: read_seqcount_retry() reads write_protect_seq after the walk and the pins",
        "57efa1fe5957",
    ),
    NamedBarrier(
        "copy_page_range:seq-begin-wmb",
        "smp_wmb",
        "gup_fast:seq-begin-rmb",
        "raw_write_seqcount_begin(): the odd count is visible before any PTE is write-protected",
        "57efa1fe5957",
    ),
    NamedBarrier(
        "copy_page_range:seq-begin-mb",
        "smp_mb",
        "try_grab_folio_fast:mb-after-pin",
        "what-if: the odd count is visible before fork reads MMF_HAS_PINNED and the pin "
        "count (store buffering against GUP-fast's pin, full barrier, count re-read)",
        "",
        what_if=True,
    ),
    NamedBarrier(
        "copy_pte_range:after-src-ptl-mb",
        "smp_mb__after_spinlock",
        "try_grab_folio_fast:mb-after-pin",
        "what-if: a full barrier once src_ptl is taken, so that the odd count is visible "
        "before the reads of MMF_HAS_PINNED and the pin count (the second candidate fix)",
        "",
        what_if=True,
    ),
    NamedBarrier(
        "copy_page_range:seq-end-wmb",
        "smp_wmb",
        "gup_fast:seq-retry-rmb",
        "raw_write_seqcount_end(): the write-protected PTEs are visible before the even count",
        "57efa1fe5957",
    ),
    NamedBarrier(
        "try_grab_folio_fast:mb-after-pin",
        "smp_mb__after_atomic",
        "folio_try_share_anon_rmap_pte:mb-before-pin-check",
        "B3->B4: the pin is visible before GUP-fast re-reads the PTE",
        "088b8aa537c2",
    ),
    NamedBarrier(
        "gup_must_unshare:rmb-before-exclusive",
        "smp_rmb",
        "folio_try_share_anon_rmap_pte:mb-after-exclusive-clear",
        "B4->B5: GUP-fast reads PageAnonExclusive only after re-reading the PTE",
        "088b8aa537c2",
    ),
    NamedBarrier(
        "folio_try_share_anon_rmap_pte:mb-before-pin-check",
        "smp_mb",
        "try_grab_folio_fast:mb-after-pin",
        "A1->A2: the cleared PTE is visible before the pin count is read",
        "088b8aa537c2",
    ),
    NamedBarrier(
        "folio_try_share_anon_rmap_pte:mb-after-exclusive-clear",
        "smp_mb__after_atomic",
        "gup_must_unshare:rmb-before-exclusive",
        "A3->A4: PageAnonExclusive is clear before the PTE is restored",
        "088b8aa537c2",
    ),
    NamedBarrier(
        "try_to_unmap_one:lazyfree-mb",
        "smp_mb",
        "try_get_folio's fully ordered folio_ref_try_add()",
        "L3: the cleared PTE is visible before the refcount of a MADV_FREE folio is read",
        "6c8e2a256915",
    ),
    NamedBarrier(
        "try_to_unmap_one:lazyfree-rmb",
        "smp_rmb",
        "__remove_mapping()'s refcount-before-dirty ordering",
        "L3: the refcount is read before PG_dirty (a GUP writer dirties after its grab)",
        "6c8e2a256915",
    ),
)

# Page-table freeing vs GUP-fast (L7).  The partner of both is
# gup_fast()'s local_irq_save(), which the model writes as rcu_read_lock().
_PGTABLE_FREE: Final = (
    NamedBarrier(
        "tlb_remove_table:rcu-gp",
        "synchronize_rcu",
        "gup_fast()'s local_irq_save() (an RCU read-side section)",
        "L7: a batch of page tables is freed by call_rcu(), after a grace period",
        "",
    ),
    NamedBarrier(
        "tlb_remove_table_sync_one:ipi",
        "synchronize_rcu",
        "gup_fast()'s local_irq_save() (an RCU read-side section)",
        "L7: a table freed without a batch waits for an IPI to every CPU first",
        "",
    ),
)

# Split-word PTEs (x86-32 PAE, CONFIG_GUP_GET_PXX_LOW_HIGH; L6a).  The
# protocol predates git (arch/x86/mm/gup.c:gup_get_pte()); it became the
# generic ptep_get_lockless() of include/linux/pgtable.h.
_SPLIT_PTE: Final = (
    NamedBarrier(
        "native_set_pte:wmb-high-low",
        "smp_wmb",
        "ptep_get_lockless:rmb-low-high",
        "the high half of a new present PTE is visible before its low half (present bit)",
        "",
    ),
    NamedBarrier(
        "native_pte_clear:wmb-low-high",
        "smp_wmb",
        "ptep_get_lockless:rmb-recheck",
        "the low half (present bit) is cleared before the high half",
        "",
    ),
    NamedBarrier(
        "ptep_get_lockless:rmb-low-high",
        "smp_rmb",
        "native_set_pte:wmb-high-low",
        "the high half is read after the low half",
        "",
    ),
    NamedBarrier(
        "ptep_get_lockless:rmb-recheck",
        "smp_rmb",
        "native_pte_clear:wmb-low-high",
        "the low half is re-read after the high half",
        "",
    ),
)

BARRIERS: Final[dict[str, NamedBarrier]] = {
    b.name: b for b in (*_LIST, *_PGTABLE_FREE, *_SPLIT_PTE)
}


_FENCES: Final = frozenset(
    {"smp_mb", "smp_rmb", "smp_wmb", "smp_mb__after_atomic", "smp_mb__before_atomic",
     "smp_mb__after_spinlock", "smp_mb__after_unlock_lock"}
)  # fmt: skip


def define_barrier(
    name: str,
    primitive: str,
    pairs_with: str,
    why: str,
    commit: str = "",
    *,
    what_if: bool = False,
) -> NamedBarrier:
    """Name a barrier of a path of your own (a scenario file's), so that
    :func:`barrier` yields it and the what-ifs can take it away (``pinlab check
    NAME --without NAME``) or, for a ``what_if`` one, add it (``--with``).

    Defining the same barrier again is allowed; a different definition of a
    name already taken is a :class:`ValueError`.
    """
    if primitive not in _FENCES:
        raise ValueError(
            f"barrier {name!r}: {primitive!r} is not one of {', '.join(sorted(_FENCES))}"
        )
    b = NamedBarrier(name, primitive, pairs_with, why, commit, what_if)
    old = BARRIERS.get(name)
    if old is not None and old != b:
        raise ValueError(f"barrier {name!r} is defined already, differently: {old}")
    BARRIERS[name] = b
    return b


def barrier(cpu: Cpu, name: str) -> Gen:
    """Yield barrier ``name`` (labelled), unless the era removes it."""
    b = BARRIERS[name]
    if name in cpu.era.removed_barriers:
        return
    if b.what_if and name not in cpu.era.added_barriers:
        return
    for op in PRIMITIVES[b.primitive].build():
        yield replace(op, label=name)  # type: ignore[arg-type]
