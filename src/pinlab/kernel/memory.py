"""Page faults: handle_mm_fault() down to the anonymous, file and COW handlers.

Models mm/memory.c: ``handle_mm_fault``,
``sanitize_fault_flags``, ``handle_pte_fault``, ``do_anonymous_page`` (with
the shared zero page), ``do_fault`` (read, COW and shared file faults) and
``finish_fault``.  Huge PMDs are :mod:`pinlab.kernel.huge_memory`'s, mTHP
faults :mod:`pinlab.kernel.mthp`'s, hugetlb faults :mod:`pinlab.kernel.hugetlb`'s.
Write-protect faults (do_wp_page) are in
:mod:`pinlab.kernel.wp`, swap faults in :mod:`pinlab.kernel.swap`.

Left out: userfaultfd delivery (no path sets uffd-wp), NUMA hinting faults,
fault-around, the folio lock on pagecache folios (truncation is not
modelled, and it is what that lock guards against here), VM_FAULT_RETRY
(the model's faults never drop mmap_lock).
"""

from __future__ import annotations

from pinlab.engine import kapi
from pinlab.kernel.defs import (
    FAULT_FLAG_UNSHARE,
    FAULT_FLAG_WRITE,
    RMAP_EXCLUSIVE,
    VM_FAULT_FALLBACK,
    VM_FAULT_SIGBUS,
    VM_FAULT_SIGSEGV,
    VM_HUGETLB,
    VM_MAYWRITE,
    VM_SHARED,
    VM_WRITE,
)
from pinlab.kernel.folio import (
    Gen,
    __folio_mark_uptodate,
    copy_user_highpage,
    folio_add_lru,
    folio_alloc,
    folio_get,
    folio_mark_dirty,
    folio_put,
    folio_try_get,
    vma_alloc_zeroed_movable_folio,
)
from pinlab.kernel.huge_memory import (
    do_huge_pmd_anonymous_page,
    do_huge_pmd_wp_page,
    huge_pmd_set_accessed,
)
from pinlab.kernel.huge_mm import pmd_trans_huge, pmd_write, vma_thp_pmd_allowed
from pinlab.kernel.hugetlb import hugetlb_fault
from pinlab.kernel.internal import VmFault, is_cow_mapping, maybe_mkwrite, mk_pte
from pinlab.kernel.mm_types import (
    ZERO_PFN,
    AddressSpace,
    Cpu,
    Folio,
    Vma,
    linear_page_index,
    pfn_folio,
)
from pinlab.kernel.mthp import alloc_anon_folio, do_anonymous_page_large
from pinlab.kernel.pgtable import (
    pte_alloc,
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_get,
    ptep_get_lockless,
    ptep_set_access_flags,
    set_pte_at,
)
from pinlab.kernel.pte import (
    pfn_pte,
    pte_mkdirty,
    pte_mkspecial,
    pte_mkwrite,
    pte_mkyoung,
    pte_none,
    pte_present,
    pte_sw_mkyoung,
    pte_write,
)
from pinlab.kernel.rmap import anon_vma_prepare, folio_add_file_rmap_pte, folio_add_new_anon_rmap
from pinlab.kernel.swap import do_swap_page
from pinlab.kernel.wp import do_wp_page


def sanitize_fault_flags(vma: Vma, flags: int) -> tuple[int, int]:
    """Model of mm/memory.c:sanitize_fault_flags(); returns (vm_fault_t, flags)."""
    if flags & FAULT_FLAG_WRITE:
        if not (vma.vm_flags & VM_MAYWRITE):
            return VM_FAULT_SIGSEGV, flags
        if not (vma.vm_flags & VM_WRITE) and not is_cow_mapping(vma.vm_flags):
            return VM_FAULT_SIGSEGV, flags
    if flags & FAULT_FLAG_UNSHARE:
        if flags & FAULT_FLAG_WRITE:
            return VM_FAULT_SIGSEGV, flags
        # FAULT_FLAG_UNSHARE only applies to COW mappings.
        if not is_cow_mapping(vma.vm_flags):
            flags &= ~FAULT_FLAG_UNSHARE
    return 0, flags


def handle_mm_fault(cpu: Cpu, vma: Vma, address: int, flags: int) -> Gen:
    """Model of mm/memory.c:handle_mm_fault()."""
    ret, flags = sanitize_fault_flags(vma, flags)
    if ret:
        return ret
    return (yield from __handle_mm_fault(cpu, vma, address, flags))


def __handle_mm_fault(cpu: Cpu, vma: Vma, address: int, flags: int) -> Gen:
    """Model of mm/memory.c:__handle_mm_fault(): a huge PMD, else the PTE level."""
    if vma.vm_flags & VM_HUGETLB:
        return (yield from hugetlb_fault(cpu, vma, address, flags))
    pmdp = vma.mm.pmd(address)
    pmd = yield from kapi.READ_ONCE(pmdp)
    vmf = VmFault(vma, address, flags, vma.mm.pte(address))
    if pmd == 0 and vma_thp_pmd_allowed(cpu, vma, address):
        # create_huge_pmd()
        ret = yield from do_huge_pmd_anonymous_page(cpu, vmf)
        if not (ret & VM_FAULT_FALLBACK):
            return ret
    elif pmd_trans_huge(pmd):
        if flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE) and not pmd_write(pmd):
            # wp_huge_pmd()
            ret = yield from do_huge_pmd_wp_page(cpu, vmf, pmd)
            if not (ret & VM_FAULT_FALLBACK):
                return ret
        else:
            return (yield from huge_pmd_set_accessed(vmf, pmd))
    yield from pte_alloc(vma.mm, address)
    vmf = VmFault(vma, address, flags, vma.mm.pte(address))
    return (yield from handle_pte_fault(cpu, vmf))


def handle_pte_fault(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/memory.c:handle_pte_fault()."""
    vmf.orig_pte = yield from ptep_get_lockless(vmf.pte)
    if pte_none(vmf.orig_pte):
        if vmf.vma.vm_file is None:
            return (yield from do_anonymous_page(cpu, vmf))
        return (yield from do_fault(cpu, vmf))
    if not pte_present(vmf.orig_pte):
        return (yield from do_swap_page(cpu, vmf))
    mm = vmf.vma.mm
    yield from pte_offset_map_lock(mm, vmf.address)
    entry = vmf.orig_pte
    if (yield from ptep_get(vmf.pte)) != entry:
        yield from pte_unmap_unlock(mm, vmf.address)
        return 0
    if vmf.flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE):
        if not pte_write(entry):
            return (yield from do_wp_page(cpu, vmf))
        if vmf.flags & FAULT_FLAG_WRITE:
            entry = pte_mkdirty(entry)
    entry = pte_mkyoung(entry)
    yield from ptep_set_access_flags(vmf.vma, vmf.address, vmf.pte, entry)
    yield from pte_unmap_unlock(mm, vmf.address)
    return 0


def do_anonymous_page(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/memory.c:do_anonymous_page(): the zero page on read, a new folio on write."""
    vma, mm = vmf.vma, vmf.vma.mm
    if vma.vm_flags & VM_SHARED:
        return VM_FAULT_SIGBUS  # shared anonymous memory is shmem: not modelled
    if not (vmf.flags & FAULT_FLAG_WRITE):
        entry = pte_mkspecial(pfn_pte(ZERO_PFN, vma.vm_page_prot))
        yield from pte_offset_map_lock(mm, vmf.address)
        if pte_none((yield from ptep_get(vmf.pte))):
            yield from set_pte_at(mm, vmf.address, vmf.pte, entry)
        yield from pte_unmap_unlock(mm, vmf.address)
        return 0
    yield from anon_vma_prepare(vma)
    large = yield from alloc_anon_folio(cpu, vmf)
    if large is not None:
        return (yield from do_anonymous_page_large(cpu, vmf, large))
    folio = yield from vma_alloc_zeroed_movable_folio(cpu)
    yield from __folio_mark_uptodate(folio)
    entry = pte_sw_mkyoung(mk_pte(folio, vma.vm_page_prot))
    if vma.vm_flags & VM_WRITE:
        entry = pte_mkwrite(pte_mkdirty(entry))
    yield from pte_offset_map_lock(mm, vmf.address)
    if not pte_none((yield from ptep_get(vmf.pte))):
        yield from pte_unmap_unlock(mm, vmf.address)
        yield from folio_put(folio)
        return 0
    yield from folio_add_new_anon_rmap(cpu, folio, vma, vmf.address, RMAP_EXCLUSIVE)
    yield from folio_add_lru(folio)
    yield from set_pte_at(mm, vmf.address, vmf.pte, entry)
    yield from pte_unmap_unlock(mm, vmf.address)
    return 0


def filemap_get_folio(mapping: AddressSpace, index: int) -> Gen:
    """Model of mm/filemap.c:filemap_get_folio(): a referenced pagecache folio, or None."""
    pfn = yield from kapi.READ_ONCE(mapping.i_pages(index))
    if not pfn:
        return None
    folio = pfn_folio(int(pfn))
    if not (yield from folio_try_get(folio)):
        return None
    return folio


def filemap_add_new_folio(cpu: Cpu, mapping: AddressSpace, index: int) -> Gen:
    """Model of shmem_get_folio()/filemap_fault() on a hole: a new zeroed pagecache folio.

    Returns the folio with a reference for the caller (the page cache holds
    its own).  Files are never read from disk: the model's files have no
    backing store besides the page cache.
    """
    folio = yield from folio_alloc(cpu)
    yield from kapi.WRITE_ONCE(folio.data, 0)
    yield from kapi.WRITE_ONCE(folio.index, index)
    yield from kapi.WRITE_ONCE(folio.mapping, mapping.mapping_value)
    yield from __folio_mark_uptodate(folio)
    old = yield from kapi.cmpxchg(mapping.i_pages(index), 0, folio.pfn)
    if old != 0:
        yield from folio_put(folio)  # lost the race: use the one already cached
        return (yield from filemap_get_folio(mapping, index))
    yield from folio_get(folio)  # the page cache's reference
    yield from folio_add_lru(folio)
    return folio


def __do_fault(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/memory.c:__do_fault(): ->fault() finds (or creates) the pagecache folio."""
    mapping = vmf.vma.vm_file
    assert mapping is not None
    index = linear_page_index(vmf.vma, vmf.address)
    folio = yield from filemap_get_folio(mapping, index)
    if folio is None:
        folio = yield from filemap_add_new_folio(cpu, mapping, index)
    return folio


def finish_fault(cpu: Cpu, vmf: VmFault, folio: Folio, write: bool) -> Gen:
    """Model of mm/memory.c:finish_fault() and set_pte_range() (order 0).

    ``folio``'s reference becomes the mapping's.  A private write maps a new
    exclusive anonymous folio (the COW copy made by do_cow_fault()).
    """
    vma, mm = vmf.vma, vmf.vma.mm
    yield from pte_offset_map_lock(mm, vmf.address)
    if not pte_none((yield from ptep_get(vmf.pte))):
        yield from pte_unmap_unlock(mm, vmf.address)
        yield from folio_put(folio)
        return 0
    entry = mk_pte(folio, vma.vm_page_prot)
    if write:
        entry = maybe_mkwrite(pte_mkdirty(entry), vma)
    if write and not (vma.vm_flags & VM_SHARED):
        yield from folio_add_new_anon_rmap(cpu, folio, vma, vmf.address, RMAP_EXCLUSIVE)
        yield from folio_add_lru(folio)
    else:
        yield from folio_add_file_rmap_pte(folio, folio.page(0), vma)
    yield from set_pte_at(mm, vmf.address, vmf.pte, entry)
    yield from pte_unmap_unlock(mm, vmf.address)
    return 0


def do_fault(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/memory.c:do_fault(): read, COW (private write) or shared write fault."""
    if not (vmf.flags & FAULT_FLAG_WRITE):
        folio = yield from __do_fault(cpu, vmf)
        return (yield from finish_fault(cpu, vmf, folio, False))
    if not (vmf.vma.vm_flags & VM_SHARED):
        return (yield from do_cow_fault(cpu, vmf))
    return (yield from do_shared_fault(cpu, vmf))


def do_cow_fault(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/memory.c:do_cow_fault(): copy the pagecache folio into a new anon folio."""
    yield from anon_vma_prepare(vmf.vma)
    new = yield from folio_alloc(cpu)
    page = yield from __do_fault(cpu, vmf)
    yield from copy_user_highpage(new.page(0), page.page(0))
    yield from __folio_mark_uptodate(new)
    ret = yield from finish_fault(cpu, vmf, new, True)
    yield from folio_put(page)
    return ret


def do_shared_fault(cpu: Cpu, vmf: VmFault) -> Gen:
    """Model of mm/memory.c:do_shared_fault(): map the pagecache folio writable and dirty it."""
    folio = yield from __do_fault(cpu, vmf)
    # do_page_mkwrite() / fault_dirty_shared_page(): the folio is dirtied
    # (regular files have ->page_mkwrite, shmem does not; both end dirty).
    yield from folio_mark_dirty(folio)
    return (yield from finish_fault(cpu, vmf, folio, True))
