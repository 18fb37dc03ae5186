"""GUP-fast: walking the page tables without locks, then falling back to slow GUP.

Models mm/gup.c ``gup_fast_fallback``, ``gup_fast`` (steps G0-G13,
docs/labels.md), ``gup_fast_pgd_range`` (one PMD level here), ``gup_fast_pte_range``,
``gup_fast_pmd_leaf`` (THP and hugetlb),
``gup_fast_folio_allowed`` and ``gup_fast_unpin_user_pages``, and the entry
points ``get_user_pages_fast``, ``get_user_pages_fast_only`` and
``pin_user_pages_fast``.

GUP-fast never faults, never breaks COW, never migrates: whatever needs that
makes it stop and leave the rest of the range to the slow path.  Its safety
rests on three protocols, each with a partner elsewhere:

- vs fork (L1): ``write_protect_seq`` sampled at G1 and rechecked at G12
  (57efa1fe5957, v5.11), paired with copy_page_range()'s write section;
- vs PageAnonExclusive clearing (L2): pin (B3), full barrier, recheck the
  PTE (B4), read barrier, check PageAnonExclusive (B5) (088b8aa537c2, v6.1),
  paired with folio_try_share_anon_rmap_pte();
- vs page-table freeing (L7): interrupts off (G2), which the model writes as
  an RCU read-side section (what it is to RCU-freed page tables, and what
  holds off the flush IPI, written as a grace period: kernel/mmu_gather.py).
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import kapi
from pinlab.kernel.barriers import barrier
from pinlab.kernel.contpte import (
    pte_same,
    pte_same_norecency,
    ptep_get_arch,
    ptep_get_lockless_arch,
    ptep_get_lockless_norecency,
)
from pinlab.kernel.defs import (
    EINVAL,
    FOLL_FAST_ONLY,
    FOLL_FORCE,
    FOLL_GET,
    FOLL_HONOR_NUMA_FAULT,
    FOLL_LONGTERM,
    FOLL_NOFAULT,
    FOLL_PCI_P2PDMA,
    FOLL_PIN,
    FOLL_TOUCH,
    FOLL_UNLOCKABLE,
    FOLL_WRITE,
    PAGE_MAPPING_ANON,
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_MASK,
    PMD_SIZE,
)
from pinlab.kernel.folio import Gen, folio_set_referenced
from pinlab.kernel.gup import Locked, __gup_longterm_locked
from pinlab.kernel.gup_api import is_valid_gup_args
from pinlab.kernel.huge_mm import is_huge_zero_pmd, pmd_leaf, pmd_write
from pinlab.kernel.internal import gup_must_unshare, mm_set_has_pinned_flag
from pinlab.kernel.mm_types import (
    Cpu,
    Folio,
    MmStruct,
    Page,
    folio_test_hugetlb,
    page_folio,
    pfn_folio,
    pfn_to_page,
)
from pinlab.kernel.pgtable import pmd_present, pmdp_get_lockless
from pinlab.kernel.pin import gup_put_folio, try_grab_folio_fast
from pinlab.kernel.pte import (
    _PAGE_PRESENT,
    pte_access_permitted,
    pte_pfn,
    pte_protnone,
    pte_special,
    pte_write,
)

_GUP_FAST_FLAGS = (
    FOLL_WRITE
    | FOLL_LONGTERM
    | FOLL_FORCE
    | FOLL_PIN
    | FOLL_GET
    | FOLL_FAST_ONLY
    | FOLL_NOFAULT
    | FOLL_PCI_P2PDMA
    | FOLL_HONOR_NUMA_FAULT
)


def get_user_pages_fast(
    cpu: Cpu, mm: MmStruct, start: int, nr_pages: int, gup_flags: int, pages: list[Page]
) -> Gen:
    """Model of mm/gup.c:get_user_pages_fast()."""
    flags = is_valid_gup_args(pages, None, gup_flags, FOLL_GET)
    if flags is None:
        return -EINVAL
    return (yield from gup_fast_fallback(cpu, mm, start, nr_pages, flags, pages))


def get_user_pages_fast_only(
    cpu: Cpu, mm: MmStruct, start: int, nr_pages: int, gup_flags: int, pages: list[Page]
) -> Gen:
    """Model of mm/gup.c:get_user_pages_fast_only(): never falls back, IRQ-safe."""
    flags = is_valid_gup_args(pages, None, gup_flags, FOLL_GET | FOLL_FAST_ONLY)
    if flags is None:
        return -EINVAL
    return (yield from gup_fast_fallback(cpu, mm, start, nr_pages, flags, pages))


def pin_user_pages_fast(
    cpu: Cpu, mm: MmStruct, start: int, nr_pages: int, gup_flags: int, pages: list[Page]
) -> Gen:
    """Model of mm/gup.c:pin_user_pages_fast()."""
    flags = is_valid_gup_args(pages, None, gup_flags, FOLL_PIN)
    if flags is None:
        return -EINVAL
    return (yield from gup_fast_fallback(cpu, mm, start, nr_pages, flags, pages))


def gup_fast_fallback(
    cpu: Cpu, mm: MmStruct, start: int, nr_pages: int, gup_flags: int, pages: list[Page]
) -> Gen:
    """Model of mm/gup.c:gup_fast_fallback(): GUP-fast, then slow GUP for the rest [G0, G13]."""
    if gup_flags & ~_GUP_FAST_FLAGS:
        return -EINVAL
    if gup_flags & FOLL_PIN:
        # G0: before any pin exists.  fork() reads it inside its
        # write_protect_seq section (I10).
        yield from mm_set_has_pinned_flag(cpu, mm)
    nr_pinned = yield from gup_fast(cpu, mm, start, nr_pages, gup_flags, pages)
    if nr_pinned == nr_pages or gup_flags & FOLL_FAST_ONLY:
        return nr_pinned
    # G13: the slow path for what is left, which may fault, unshare, migrate.
    start += nr_pinned << PAGE_SHIFT
    ret = yield from __gup_longterm_locked(
        cpu,
        mm,
        start,
        nr_pages - nr_pinned,
        pages,
        Locked(0),
        gup_flags | FOLL_TOUCH | FOLL_UNLOCKABLE,
    )
    if ret < 0:
        return nr_pinned if nr_pinned else ret
    return ret + nr_pinned


def gup_fast(
    cpu: Cpu, mm: MmStruct, start: int, nr_pages: int, gup_flags: int, pages: list[Page]
) -> Gen:
    """Model of mm/gup.c:gup_fast() [G1-G12]: returns how many pages it took."""
    era = cpu.era
    seqcount = bool(gup_flags & FOLL_PIN) and era.write_protect_seq
    seq = 0
    if seqcount:
        # G1: raw_seqcount_try_begin().  Pairs with the smp_wmb() after the
        # increment in fork's raw_write_seqcount_begin().
        seq = yield from kapi.READ_ONCE(mm.write_protect_seq)
        yield from barrier(cpu, "gup_fast:seq-begin-rmb")
        if seq & 1:
            return 0
    # v5.8: "only targets that are already writable are safe": a R/O PTE may
    # need a COW break, which only the slow path can do.
    walk_flags = gup_flags | FOLL_WRITE if era.gup_breaks_cow else gup_flags
    base = len(pages)
    yield from kapi.rcu_read_lock()  # G2: local_irq_save()
    yield from gup_fast_pgd_range(cpu, mm, start, start + nr_pages * PAGE_SIZE, walk_flags, pages)
    yield from kapi.rcu_read_unlock()  # G11: local_irq_restore()
    nr_pinned = len(pages) - base
    if seqcount:
        # G12: read_seqcount_retry().  Pairs with the smp_wmb() before fork's
        # raw_write_seqcount_end(): if fork ran meanwhile, it may have shared
        # a page we pinned without seeing the pin.
        yield from barrier(cpu, "gup_fast:seq-retry-rmb")
        if (yield from kapi.READ_ONCE(mm.write_protect_seq)) != seq:
            yield from gup_fast_unpin_user_pages(cpu, pages[base:])
            del pages[base:]
            return 0
    return nr_pinned


def gup_fast_unpin_user_pages(cpu: Cpu, pages: list[Page]) -> Gen:
    """Model of mm/gup.c:gup_fast_unpin_user_pages(): no sanity checks (fork may share them)."""
    for page in pages:
        yield from gup_put_folio(cpu, page_folio(page), 1, FOLL_PIN)


def gup_fast_pgd_range(
    cpu: Cpu, mm: MmStruct, addr: int, end: int, flags: int, pages: list[Page]
) -> Gen:
    """Model of mm/gup.c:gup_fast_pgd_range() down to the PMD [G3]: stop at the first hole."""
    while addr < end:
        nxt = min(end, (addr | (PMD_SIZE - 1)) + 1)
        pmdp = mm.pmd(addr)
        pmd = yield from pmdp_get_lockless(pmdp)
        if not pmd_present(pmd) or not (pmd & _PAGE_PRESENT):
            return  # none, or invalidated by a split or a change of protection
        if pmd_leaf(pmd):
            if not (yield from gup_fast_pmd_leaf(cpu, mm, pmd, addr, nxt, flags, pages)):
                return
        elif not (yield from gup_fast_pte_range(cpu, mm, pmd, addr, nxt, flags, pages)):
            return
        addr = nxt


def gup_fast_pte_range(
    cpu: Cpu, mm: MmStruct, pmd: int, addr: int, end: int, flags: int, pages: list[Page]
) -> Gen:
    """Model of mm/gup.c:gup_fast_pte_range() [G4-G10]: False as soon as a PTE needs slow GUP."""
    era = cpu.era
    pmdp = mm.pmd(addr)
    while addr < end:
        norecency = mm.arch.gup_fast_norecency
        if norecency:  # the 2024 RFC: young/dirty may be wrong, nobody here needs them
            pte = yield from ptep_get_lockless_norecency(mm, addr)  # B1
        else:
            pte = yield from ptep_get_lockless_arch(mm, addr)  # B1
        if pte_protnone(pte):
            return False
        if not pte_access_permitted(pte, flags & FOLL_WRITE):  # B2
            return False
        if pte_special(pte):
            return False
        page = pfn_to_page(pte_pfn(pte))
        folio = yield from try_grab_folio_fast(cpu, page, 1, flags)  # G5/B3
        if folio is None:
            return False
        # G6/B4: the PMD (70cbc3cc78a9, v6.1) and the PTE must not have changed
        # since we read them: a concurrent unmap clears the PTE before it
        # checks the references (and for pins: the smp_mb pairing of L2).
        changed = era.gup_fast_pmd_recheck and pmd != (yield from pmdp_get_lockless(pmdp))
        if not changed:
            changed = not (yield from _gup_fast_pte_unchanged(mm, addr, pte, norecency))
        if changed:
            yield from gup_put_folio(cpu, folio, 1, flags)
            return False
        if not (yield from gup_fast_folio_allowed(cpu, folio, flags)):  # G7
            yield from gup_put_folio(cpu, folio, 1, flags)
            return False
        if not pte_write(pte) and (yield from gup_must_unshare(cpu, None, flags, page)):  # G8/B5
            yield from gup_put_folio(cpu, folio, 1, flags)
            return False
        # G9: arch_make_folio_accessible() for pins is a no-op on x86.
        yield from folio_set_referenced(folio)  # G10
        pages.append(page)
        addr += PAGE_SIZE
    return True


def gup_fast_pmd_leaf(
    cpu: Cpu, mm: MmStruct, orig: int, addr: int, end: int, flags: int, pages: list[Page]
) -> Gen:
    """Model of mm/gup.c:gup_fast_pmd_leaf(): the pages of a huge PMD (THP or hugetlb) at once.

    Same steps as a PTE (G4-G10) with ``refs`` = the pages in range: grab
    them all on the folio, recheck the PMD (B4), and test the head page for
    unsharing.  The huge zero folio is left to the slow path, which may
    have to unshare it.
    """
    if not pmd_access_permitted(orig, flags & FOLL_WRITE):
        return False
    if is_huge_zero_pmd(orig):
        return False
    refs = (end - addr) // PAGE_SIZE
    folio = pfn_folio(int(orig >> PAGE_SHIFT))
    first = (addr & ~PMD_MASK) // PAGE_SIZE
    got = yield from try_grab_folio_fast(cpu, folio.page(first), refs, flags)  # G5/B3
    if got is None:
        return False
    if orig != (yield from pmdp_get_lockless(mm.pmd(addr))):  # G6/B4
        yield from gup_put_folio(cpu, folio, refs, flags)
        return False
    if not (yield from gup_fast_folio_allowed(cpu, folio, flags)):  # G7
        yield from gup_put_folio(cpu, folio, refs, flags)
        return False
    if not pmd_write(orig) and (yield from gup_must_unshare(cpu, None, flags, folio.page(0))):
        yield from gup_put_folio(cpu, folio, refs, flags)  # G8/B5
        return False
    yield from folio_set_referenced(folio)  # G10
    pages.extend(folio.page(first + i) for i in range(refs))
    return True


def pmd_access_permitted(pmd: int, write: object) -> object:
    """x86's pmd_access_permitted(): present, user, and writable if ``write``."""
    return pte_access_permitted(pmd, write)


def _gup_fast_pte_unchanged(mm: MmStruct, addr: int, pte: Any, norecency: bool) -> Gen:
    """B4: ``pte_val(pte) == pte_val(ptep_get(ptep))``, or the RFC's
    ``pte_same_norecency(pte, ptep_get_lockless_norecency(ptep))``.

    On arm64 contpte, ptep_get() folds in the young/dirty bits of the whole
    block, which the hardware may have set since B1: the raw compare then
    fails although nothing GUP cares about changed.
    """
    if norecency:
        return pte_same_norecency(pte, (yield from ptep_get_lockless_norecency(mm, addr)))
    return pte_same(pte, (yield from ptep_get_arch(mm, addr)))


def gup_fast_folio_allowed(cpu: Cpu, folio: Folio, flags: int) -> Gen:
    """Model of mm/gup.c:gup_fast_folio_allowed() (a6e79df92e4a, v6.5) [G7].

    No writable longterm pin of a file folio that needs dirty tracking; a
    folio whose mapping went away (truncated) is refused too.
    """
    if not cpu.era.no_writable_longterm_file_pins:
        return True
    wanted = FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE
    if (flags & wanted) != wanted:
        return True
    if folio_test_hugetlb(folio):
        return True  # hugetlb needs no dirty tracking
    mapping = yield from kapi.READ_ONCE(folio.mapping)
    if not mapping:
        return False
    if mapping & PAGE_MAPPING_ANON:
        return True
    file = cpu.machine.file_of_mapping(int(mapping))
    return file is not None and file.shmem
