"""Transparent huge pages mapped by a PMD: fault, COW, fork, split, zap, GUP.

Models mm/huge_memory.c ``do_huge_pmd_anonymous_page`` (with the huge zero
folio), ``do_huge_pmd_wp_page`` (reuse or split and fall back to the PTE
level), ``copy_huge_pmd`` (-EBUSY on a maybe-pinned exclusive THP: split and
copy at the PTE level), ``__split_huge_pmd`` / ``__split_huge_pmd_locked``
(PageAnonExclusive of the head goes to every PTE), ``zap_huge_pmd``,
``change_huge_pmd``, ``follow_huge_pmd`` and ``huge_pmd_set_accessed``.

Eras: up to v5.17 do_huge_pmd_wp_page() reused a THP by its mapcount
(reuse_swap_page()), since 3bff7e3f1f16 (v5.18, era v5.19) by its refcount,
and since 6c287605fd56 (v5.19) exclusive THPs without further checks.  The
pre-v5.8 "copy the whole THP on COW" is modelled as today's split and PTE
fallback: the writer gets a copy either way.  fork() splits maybe-pinned
THPs since d042035eaf5f (v5.9, with the PTE-level early COW).

A PMD mapping holds one folio reference; its exclusivity is the head page's
PageAnonExclusive, which the model mirrors into every subpage so that a
split (or a pin of any subpage) finds it where the kernel's split puts it.
"""

from __future__ import annotations

from pinlab.engine import kapi
from pinlab.kernel.defs import (
    EAGAIN,
    EFAULT,
    EMLINK,
    FAULT_FLAG_UNSHARE,
    FAULT_FLAG_WRITE,
    FOLL_COW,
    FOLL_DUMP,
    FOLL_FORCE,
    FOLL_PIN,
    FOLL_TOUCH,
    FOLL_WRITE,
    HPAGE_PMD_ORDER,
    MM_CP_TRY_CHANGE_WRITABLE,
    PAGE_SIZE,
    PMD_MASK,
    PMD_SIZE,
    RMAP_EXCLUSIVE,
    RMAP_NONE,
    VM_FAULT_FALLBACK,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_SHARED,
    VM_WRITE,
)
from pinlab.kernel.eras import CowReuse
from pinlab.kernel.folio import (
    Gen,
    PageAnon,
    PageAnonExclusive,
    SetPageAnonExclusive,
    __folio_mark_uptodate,
    folio_add_lru,
    folio_alloc_large,
    folio_get,
    folio_mapcount,
    folio_mark_accessed,
    folio_mark_dirty,
    folio_maybe_dma_pinned,
    folio_put,
    folio_ref_add,
    folio_ref_count,
    folio_test_anon,
    folio_trylock,
    folio_unlock,
)
from pinlab.kernel.huge_mm import (
    is_huge_zero_pmd,
    mk_huge_pmd,
    pmd_dirty,
    pmd_leaf,
    pmd_lock,
    pmd_mkdirty,
    pmd_mkold,
    pmd_mkwrite,
    pmd_mkyoung,
    pmd_modify,
    pmd_pfn,
    pmd_trans_huge,
    pmd_unlock,
    pmd_write,
    pmd_wrprotect,
    pmdp_get,
    pmdp_huge_get_and_clear,
    pmdp_invalidate,
    pmdp_set_wrprotect,
    set_pmd_at,
)
from pinlab.kernel.internal import (
    VmFault,
    folio_needs_cow_for_dma,
    gup_must_unshare,
    is_cow_mapping,
    mk_pte,
    mm_has_pinned,
)
from pinlab.kernel.mm_types import (
    HUGE_ZERO_PFN,
    Cpu,
    Folio,
    MmStruct,
    Page,
    Vma,
    pfn_folio,
    vma_soft_dirty_enabled,
)
from pinlab.kernel.pgtable import PMD_TABLE, set_pte_at
from pinlab.kernel.pin import KernelBug, try_grab_folio
from pinlab.kernel.pte import (
    pfn_pte,
    pte_mkdirty,
    pte_mkold,
    pte_mksoft_dirty,
    pte_mkspecial,
    pte_mkwrite,
)
from pinlab.kernel.rmap import anon_vma_prepare, folio_move_anon_rmap
from pinlab.kernel.rmap_large import (
    folio_add_anon_rmap_ptes,
    folio_add_new_anon_rmap_large,
    folio_remove_rmap_pmd,
    folio_try_dup_anon_rmap_pmd,
)

_PAGE_SOFT_DIRTY_PMD = 1 << 11


def _haddr(addr: int) -> int:
    return addr & PMD_MASK


def _pmd_folio(pmd: int) -> Folio:
    return pfn_folio(int(pmd_pfn(pmd)))


def maybe_pmd_mkwrite(pmd: int, vma: Vma) -> int:
    """Model of mm/huge_memory.c:maybe_pmd_mkwrite()."""
    return int(pmd_mkwrite(pmd)) if vma.vm_flags & VM_WRITE else pmd


# --- faults -----------------------------------------------------------------------------
def do_huge_pmd_anonymous_page(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/huge_memory.c:do_huge_pmd_anonymous_page().

    A read fault maps the huge zero folio if use_zero_page is set; a write
    fault maps a new exclusive PMD-sized folio, writable and dirty.
    """
    vma, mm, haddr = vmf.vma, vmf.vma.mm, _haddr(vmf.address)
    pmdp = mm.pmd(haddr)
    if not (vmf.flags & FAULT_FLAG_WRITE) and cpu.machine.thp_use_zero_page:
        yield from pmd_lock(mm, haddr)
        if (yield from pmdp_get(pmdp)) == 0:
            # set_huge_zero_folio(): R/O, never in the rmap, no reference taken.
            entry = mk_huge_pmd(pfn_folio(HUGE_ZERO_PFN), vma.vm_page_prot)
            yield from set_pmd_at(mm, haddr, pmdp, pmd_wrprotect(entry))
        yield from pmd_unlock(mm, haddr)
        return 0
    yield from anon_vma_prepare(vma)  # vmf_anon_prepare()
    folio = yield from folio_alloc_large(cpu, HPAGE_PMD_ORDER)
    yield from __folio_mark_uptodate(folio)
    entry = maybe_pmd_mkwrite(pmd_mkdirty(mk_huge_pmd(folio, vma.vm_page_prot)), vma)
    yield from pmd_lock(mm, haddr)
    if (yield from pmdp_get(pmdp)) != 0:
        yield from pmd_unlock(mm, haddr)
        yield from folio_put(folio)
        return 0
    yield from folio_add_new_anon_rmap_large(cpu, folio, vma, haddr, RMAP_EXCLUSIVE, pmd=True)
    yield from folio_add_lru(folio)
    yield from set_pmd_at(mm, haddr, pmdp, entry)
    yield from pmd_unlock(mm, haddr)
    return 0


def huge_pmd_set_accessed(vmf: VmFault, orig_pmd: int) -> Gen:
    """Model of mm/huge_memory.c:huge_pmd_set_accessed()."""
    mm, haddr = vmf.vma.mm, _haddr(vmf.address)
    yield from pmd_lock(mm, haddr)
    if (yield from pmdp_get(mm.pmd(haddr))) == orig_pmd:
        entry = pmd_mkyoung(orig_pmd)
        if vmf.flags & FAULT_FLAG_WRITE:
            entry = pmd_mkdirty(entry)
        yield from set_pmd_at(mm, haddr, mm.pmd(haddr), entry)
    yield from pmd_unlock(mm, haddr)
    return 0


def _thp_reusable(cpu: Cpu, folio: Folio) -> Gen:
    """Whether do_huge_pmd_wp_page() may reuse a THP that is not known exclusive."""
    era = cpu.era
    if era.cow_reuse is CowReuse.MAPCOUNT or not era.thp_cow_refcount:
        # reuse_swap_page() (removed by 3bff7e3f1f16): one mapping, whoever
        # else holds references.
        return (yield from folio_mapcount(folio)) == 1
    return (yield from folio_ref_count(folio)) == 1


def do_huge_pmd_wp_page(cpu: Cpu, vmf: VmFault, orig_pmd: int) -> Gen:
    """Model of mm/huge_memory.c:do_huge_pmd_wp_page(): reuse, or split and fall back."""
    vma, mm, haddr = vmf.vma, vmf.vma.mm, _haddr(vmf.address)
    unshare = bool(vmf.flags & FAULT_FLAG_UNSHARE)
    if is_huge_zero_pmd(orig_pmd):
        yield from __split_huge_pmd(cpu, vma, haddr)
        return VM_FAULT_FALLBACK
    yield from pmd_lock(mm, haddr)
    if (yield from pmdp_get(mm.pmd(haddr))) != orig_pmd:
        yield from pmd_unlock(mm, haddr)
        return 0
    folio = _pmd_folio(orig_pmd)
    head = folio.page(0)
    reuse = cpu.era.anon_exclusive and (yield from PageAnonExclusive(head))
    if not reuse and (yield from folio_trylock(folio)):
        reuse = yield from _thp_reusable(cpu, folio)
        if reuse:
            yield from folio_move_anon_rmap(folio, vma)
            if cpu.era.anon_exclusive:
                for page in folio.pages():
                    yield from SetPageAnonExclusive(page)
        yield from folio_unlock(folio)
    if not reuse:
        yield from pmd_unlock(mm, haddr)
        yield from __split_huge_pmd(cpu, vma, haddr)
        return VM_FAULT_FALLBACK
    if not unshare:
        entry = maybe_pmd_mkwrite(pmd_mkdirty(pmd_mkyoung(orig_pmd)), vma)
        yield from set_pmd_at(mm, haddr, mm.pmd(haddr), entry)
    yield from pmd_unlock(mm, haddr)
    return 0


# --- split ---------------------------------------------------------------------------------
def __split_huge_pmd(cpu: Cpu, vma: Vma, address: int) -> Gen:
    """Model of mm/huge_memory.c:__split_huge_pmd(): take the PMD lock, split if still huge."""
    mm, haddr = vma.mm, _haddr(address)
    yield from pmd_lock(mm, haddr)
    pmd = yield from pmdp_get(mm.pmd(haddr))
    if pmd_trans_huge(pmd):
        yield from __split_huge_pmd_locked(cpu, vma, haddr)
    yield from pmd_unlock(mm, haddr)


def __split_huge_zero_page_pmd(vma: Vma, haddr: int) -> Gen:
    """Model of mm/huge_memory.c:__split_huge_zero_page_pmd(): a zero-page PTE per page."""
    mm = vma.mm
    yield from pmdp_huge_get_and_clear(mm, haddr, mm.pmd(haddr))
    for i in range(1 << HPAGE_PMD_ORDER):
        addr = haddr + i * PAGE_SIZE
        entry = pte_mkspecial(pfn_pte(0x10, vma.vm_page_prot))  # my_zero_pfn()
        yield from set_pte_at(mm, addr, mm.pte(addr), entry)
    # pmd_populate(): the PTEs are visible before the table.  Pairs with the
    # address dependency of GUP-fast's pmd -> pte walk.
    yield from kapi.smp_wmb()
    yield from set_pmd_at(mm, haddr, mm.pmd(haddr), PMD_TABLE)


def __split_huge_pmd_locked(cpu: Cpu, vma: Vma, haddr: int) -> Gen:
    """Model of mm/huge_memory.c:__split_huge_pmd_locked() for an anonymous THP (no freeze).

    The PMD is invalidated first (GUP-fast then sees no leaf and backs off,
    and its PMD recheck fails if it raced), every subpage gets a PTE with
    the PMD's bits, the PMD's exclusivity goes to every page (RMAP_EXCLUSIVE),
    and the PMD's one reference becomes one per PTE.
    """
    mm = vma.mm
    pmdp = mm.pmd(haddr)
    old = int((yield from pmdp_get(pmdp)))
    if is_huge_zero_pmd(old):
        return (yield from __split_huge_zero_page_pmd(vma, haddr))
    old = int((yield from pmdp_invalidate(vma, haddr, pmdp)))
    folio = _pmd_folio(old)
    anon_exclusive = cpu.era.anon_exclusive and (yield from PageAnonExclusive(folio.page(0)))
    yield from folio_ref_add(folio, folio.nr_pages - 1)
    flags = RMAP_EXCLUSIVE if anon_exclusive else RMAP_NONE
    yield from folio_add_anon_rmap_ptes(cpu, folio, folio.pages(), vma, flags)
    for i in range(folio.nr_pages):
        addr = haddr + i * PAGE_SIZE
        entry = mk_pte(folio, vma.vm_page_prot) + (i << 12)
        if pmd_write(old):
            entry = pte_mkwrite(entry)
        if not (old & (1 << 5)):
            entry = pte_mkold(entry)
        if pmd_dirty(old):
            entry = pte_mkdirty(entry)
        if old & _PAGE_SOFT_DIRTY_PMD:
            entry = pte_mksoft_dirty(entry)
        yield from set_pte_at(mm, addr, mm.pte(addr), entry)
    yield from folio_remove_rmap_pmd(folio, vma)
    # pmd_populate(): the PTEs are visible before the table replaces the
    # leaf.  Pairs with the address dependency of GUP-fast's pmd -> pte walk.
    yield from kapi.smp_wmb()
    yield from set_pmd_at(mm, haddr, pmdp, PMD_TABLE)
    return None


def split_huge_pmd_range(cpu: Cpu, vma: Vma, start: int, end: int) -> Gen:
    """Split every huge PMD that [start, end) covers only in part (vma_adjust_trans_huge() etc.)."""
    for addr in (start, end):
        haddr = _haddr(addr)
        if addr == haddr or not (vma.vm_start <= haddr and haddr + PMD_SIZE <= vma.vm_end):
            continue
        if pmd_trans_huge((yield from pmdp_get(vma.mm.pmd(haddr)))):
            yield from __split_huge_pmd(cpu, vma, haddr)


# --- fork ------------------------------------------------------------------------------------
def copy_huge_pmd(cpu: Cpu, dst_vma: Vma, src_vma: Vma, addr: int) -> Gen:
    """Model of mm/huge_memory.c:copy_huge_pmd(): share the THP, or split it (-EAGAIN).

    Called inside fork's write_protect_seq section.  A THP that may be
    pinned is not shared: the PMD is split and the caller copies at the PTE
    level, where copy_present_page() gives the child its own copy.
    """
    era, dst_mm, src_mm = cpu.era, dst_vma.mm, src_vma.mm
    haddr = _haddr(addr)
    yield from pmd_lock(dst_mm, haddr)
    yield from pmd_lock(src_mm, haddr)  # spin_lock_nested()
    pmd = int((yield from pmdp_get(src_mm.pmd(haddr))))
    if not is_huge_zero_pmd(pmd):
        folio = _pmd_folio(pmd)
        yield from folio_get(folio)
        if era.anon_exclusive:
            busy = yield from folio_try_dup_anon_rmap_pmd(cpu, folio, src_vma)
        else:
            busy = era.fork_copies_maybe_pinned and (
                yield from folio_needs_cow_for_dma(cpu, src_vma, folio)
            )
            if not busy:
                yield from kapi.atomic_inc(folio._entire_mapcount)
                yield from kapi.atomic_inc(folio._large_mapcount)
        if busy:
            yield from folio_put(folio)
            yield from pmd_unlock(src_mm, haddr)
            yield from pmd_unlock(dst_mm, haddr)
            yield from __split_huge_pmd(cpu, src_vma, haddr)
            return -EAGAIN
    if is_cow_mapping(src_vma.vm_flags) and pmd_write(pmd):
        yield from pmdp_set_wrprotect(src_mm, haddr, src_mm.pmd(haddr))
        pmd = int(pmd_wrprotect(pmd))
    yield from set_pmd_at(dst_mm, haddr, dst_mm.pmd(haddr), pmd_mkold(pmd))
    yield from pmd_unlock(src_mm, haddr)
    yield from pmd_unlock(dst_mm, haddr)
    return 0


# --- zap and mprotect --------------------------------------------------------------------------
def zap_huge_pmd(cpu: Cpu, vma: Vma, addr: int) -> Gen:
    """Model of mm/huge_memory.c:zap_huge_pmd(): clear the PMD, drop rmap and reference."""
    mm, haddr = vma.mm, _haddr(addr)
    yield from pmd_lock(mm, haddr)
    orig = int((yield from pmdp_huge_get_and_clear(mm, haddr, mm.pmd(haddr))))
    folio = None
    if pmd_trans_huge(orig) and not is_huge_zero_pmd(orig):
        folio = _pmd_folio(orig)
        yield from folio_remove_rmap_pmd(folio, vma)
    yield from pmd_unlock(mm, haddr)
    if folio is not None:
        yield from folio_put(folio)  # after the TLB flush, as zap_pte_range()


def can_change_pmd_writable(cpu: Cpu, vma: Vma, pmd: int) -> Gen:
    """Model of mm/huge_memory.c:can_change_pmd_writable()."""
    if not (vma.vm_flags & VM_WRITE):
        return False
    if vma_soft_dirty_enabled(vma) and not (pmd & _PAGE_SOFT_DIRTY_PMD):
        return False
    if is_huge_zero_pmd(pmd):
        return False
    head = _pmd_folio(pmd).page(0)
    if not (yield from PageAnon(head)):
        return bool(pmd_dirty(pmd))
    return (yield from PageAnonExclusive(head))


def change_huge_pmd(cpu: Cpu, vma: Vma, addr: int, newprot: int, cp_flags: int) -> Gen:
    """Model of mm/huge_memory.c:change_huge_pmd(): new protection for a whole huge PMD."""
    mm, haddr = vma.mm, _haddr(addr)
    yield from pmd_lock(mm, haddr)
    oldpmd = int((yield from pmdp_invalidate(vma, haddr, mm.pmd(haddr))))
    entry = int(pmd_modify(oldpmd, newprot))
    if (
        cpu.era.mprotect_upgrade_exclusive
        and cp_flags & MM_CP_TRY_CHANGE_WRITABLE
        and not pmd_write(entry)
        and (yield from can_change_pmd_writable(cpu, vma, entry))
    ):
        entry = int(pmd_mkwrite(entry))
    yield from set_pmd_at(mm, haddr, mm.pmd(haddr), entry)
    yield from pmd_unlock(mm, haddr)


def clear_soft_dirty_pmd(cpu: Cpu, vma: Vma, addr: int) -> Gen:
    """Model of fs/proc/task_mmu.c:clear_soft_dirty_pmd() (PMD lock held by the caller).

    As for PTEs (9348b73c2e1b), a writable PMD of a maybe-pinned THP in a
    COW mapping is left alone.
    """
    mm, haddr = vma.mm, _haddr(addr)
    pmd = int((yield from pmdp_get(mm.pmd(haddr))))
    if not pmd_trans_huge(pmd):
        return
    if (
        cpu.era.clear_refs_skips_pinned
        and pmd_write(pmd)
        and is_cow_mapping(vma.vm_flags)
        and (yield from mm_has_pinned(cpu, mm))
        and not is_huge_zero_pmd(pmd)
        and (yield from folio_maybe_dma_pinned(cpu, _pmd_folio(pmd)))
    ):
        return
    old = int((yield from pmdp_invalidate(vma, haddr, mm.pmd(haddr))))
    entry = int(pmd_wrprotect(old)) & ~_PAGE_SOFT_DIRTY_PMD
    yield from set_pmd_at(mm, haddr, mm.pmd(haddr), entry)


# --- GUP ----------------------------------------------------------------------------------------
def can_follow_write_pmd(cpu: Cpu, pmd: int, page: Page, vma: Vma, flags: int) -> Gen:
    """Model of mm/huge_memory.c:can_follow_write_pmd() (FOLL_FORCE on exclusive anon only).

    Before 5535be309971 (v6.0) FOLL_COW and a dirty PMD sufficed, as for PTEs.
    """
    if pmd_write(pmd):
        return True
    if not cpu.era.foll_force_needs_exclusive:
        forced = bool(flags & FOLL_FORCE) or cpu.era.gup_breaks_cow
        return forced and bool(flags & FOLL_COW) and bool(pmd_dirty(pmd))
    if not (flags & FOLL_FORCE):
        return False
    if vma.vm_flags & (VM_MAYSHARE | VM_SHARED) or not (vma.vm_flags & VM_MAYWRITE):
        return False
    if vma.vm_flags & VM_WRITE or is_huge_zero_pmd(pmd):
        return False
    if not (yield from PageAnon(page)) or not (yield from PageAnonExclusive(page)):
        return False
    return not (vma_soft_dirty_enabled(vma) and not (pmd & _PAGE_SOFT_DIRTY_PMD))


def follow_huge_pmd(cpu: Cpu, vma: Vma, address: int, pmd: int, flags: int) -> Gen:
    """Model of mm/gup.c:follow_huge_pmd(): a subpage of a PMD-mapped THP (PMD lock held).

    Returns a Page, None (fault needed) or -errno, like follow_page_pte().
    """
    index = (address & ~PMD_MASK) // PAGE_SIZE
    folio = _pmd_folio(pmd)
    page = folio.page(index)
    if flags & FOLL_WRITE and not (yield from can_follow_write_pmd(cpu, pmd, page, vma, flags)):
        return None
    if is_huge_zero_pmd(pmd) and flags & FOLL_DUMP:
        return -EFAULT
    if not pmd_write(pmd) and (yield from gup_must_unshare(cpu, vma, flags, page)):
        return -EMLINK
    if (
        cpu.era.anon_exclusive
        and flags & FOLL_PIN
        and not is_huge_zero_pmd(pmd)
        and (yield from PageAnon(page))
        and not (yield from PageAnonExclusive(page))
    ):
        raise KernelBug(f"VM_BUG_ON_PAGE: pinning non-exclusive anonymous {page}")
    ret = yield from try_grab_folio(cpu, folio, 1, flags)
    if ret:
        return ret
    if flags & FOLL_TOUCH and not is_huge_zero_pmd(pmd):
        if flags & FOLL_WRITE and (yield from folio_test_anon(folio)):
            yield from folio_mark_dirty(folio)
        yield from folio_mark_accessed(folio)
    return page


def pmd_leaf_value(mm: MmStruct, addr: int) -> Gen:
    """READ_ONCE of the PMD of ``addr`` if it is a leaf, else None."""
    pmd = yield from pmdp_get(mm.pmd(addr))
    return pmd if pmd_leaf(pmd) else None
