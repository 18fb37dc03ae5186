"""The address-space system calls: mmap, munmap, mprotect, madvise, exit.

Models the VMA halves of mm/mmap.c (``do_mmap``, ``do_vmi_munmap``),
mm/mprotect.c (``mprotect_fixup``), mm/madvise.c (MADV_DONTNEED,
MADV_FREE, MADV_DONTFORK / DOFORK, MADV_WIPEONFORK / KEEPONFORK, MADV_PAGEOUT,
MADV_[NO]HUGEPAGE, MADV_COLLAPSE, MADV_[UN]MERGEABLE -- the VMA flag only: ksmd's
pass is :func:`pinlab.kernel.ksm.ksm_do_scan`), mm/mremap.c (a moving ``mremap``)
and kernel/exit's ``exit_mmap``.

These are the only paths that change a VMA list, and they do it under
mmap_lock held for write (a spinlock in the model) from the sequential
process API only: they are not meant to run under the explorer.  The
machine has THP (the orders its settings enable) and a hugetlb pool of
PMD-sized pages.  Splitting a VMA inside a huge PMD splits the PMD first
(vma_adjust_trans_huge()); VMAs that become alike again are merged
(vma_merge()), as the kernel does after mprotect() and madvise().
"""

from __future__ import annotations

import itertools
from typing import Final

from pinlab.engine import Loc, kapi
from pinlab.kernel.defs import (
    EACCES,
    EINVAL,
    MM_CP_TRY_CHANGE_WRITABLE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_SIZE,
    VM_DONTCOPY,
    VM_EXEC,
    VM_HUGEPAGE,
    VM_HUGETLB,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_NOHUGEPAGE,
    VM_READ,
    VM_SHARED,
    VM_SOFTDIRTY,
    VM_WIPEONFORK,
    VM_WRITE,
    vm_flags_t,
)
from pinlab.kernel.folio import Gen
from pinlab.kernel.huge_memory import split_huge_pmd_range
from pinlab.kernel.khugepaged import madvise_collapse
from pinlab.kernel.madvise import madvise_free_pte_range
from pinlab.kernel.mm_types import (
    AddressSpace,
    Cpu,
    MmStruct,
    Vma,
    vma_wants_writenotify,
)
from pinlab.kernel.mprotect import change_pmd_range
from pinlab.kernel.pgtable import pte_alloc, ptep_get_and_clear, set_pte_at
from pinlab.kernel.vmscan import madvise_pageout
from pinlab.kernel.zap import unmap_vmas, zap_pmd_range

PROT_NONE: Final = 0x0
PROT_READ: Final = 0x1
PROT_WRITE: Final = 0x2
PROT_EXEC: Final = 0x4
MAP_SHARED: Final = 0x01
MAP_PRIVATE: Final = 0x02
MAP_ANONYMOUS: Final = 0x20

MADV_DONTNEED: Final = 4
MADV_FREE: Final = 8
MADV_DONTFORK: Final = 10
MADV_DOFORK: Final = 11
MADV_MERGEABLE: Final = 12
MADV_UNMERGEABLE: Final = 13
MADV_HUGEPAGE: Final = 14
MADV_NOHUGEPAGE: Final = 15
MADV_WIPEONFORK: Final = 18
MADV_KEEPONFORK: Final = 19
MADV_PAGEOUT: Final = 21
MADV_COLLAPSE: Final = 25
MAP_FIXED: Final = 0x10
MAP_HUGETLB: Final = 0x40000
MREMAP_MAYMOVE: Final = 1
MREMAP_FIXED: Final = 2


def calc_vm_prot_bits(prot: int) -> vm_flags_t:
    """Model of include/linux/mman.h:calc_vm_prot_bits()."""
    flags = vm_flags_t.VM_NONE
    if prot & PROT_READ:
        flags |= VM_READ
    if prot & PROT_WRITE:
        flags |= VM_WRITE
    if prot & PROT_EXEC:
        flags |= VM_EXEC
    return flags


def mmap_write_lock(mm: MmStruct) -> Gen:
    """Model of include/linux/mmap_lock.h:mmap_write_lock()."""
    yield from kapi.spin_lock(mm.mmap_lock)


def mmap_write_unlock(mm: MmStruct) -> Gen:
    """Model of include/linux/mmap_lock.h:mmap_write_unlock()."""
    yield from kapi.spin_unlock(mm.mmap_lock)


def _new_vma(
    mm: MmStruct, start: int, end: int, flags: vm_flags_t, pgoff: int, file: AddressSpace | None
) -> Vma:
    mm.anon_vmas += 1
    vma = Vma(mm, start, end, flags, 0, pgoff, Loc(f"{mm.name}.anon_vma[{mm.anon_vmas}]"), file)
    return vma.replace()


def do_mmap(
    cpu: Cpu,
    mm: MmStruct,
    length: int,
    prot: int,
    flags: int,
    file: AddressSpace | None,
    offset: int,
    file_writable: bool,
) -> Gen:
    """Model of mm/mmap.c:do_mmap(): a new VMA at the next free 2 MiB-aligned address."""
    if not length or offset % PAGE_SIZE:
        return -EINVAL
    yield from mmap_write_lock(mm)
    start = mm.next_mmap
    length = (length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
    mm.next_mmap += ((length + PMD_SIZE - 1) & ~(PMD_SIZE - 1)) + PMD_SIZE
    vm_flags = calc_vm_prot_bits(prot) | vm_flags_t.VM_MAYREAD | VM_MAYWRITE
    vm_flags |= vm_flags_t.VM_MAYEXEC | VM_SOFTDIRTY
    if flags & MAP_SHARED:
        vm_flags |= VM_SHARED | VM_MAYSHARE
        if file is not None and not file_writable:
            vm_flags &= ~(VM_MAYWRITE | VM_SHARED)
    if flags & MAP_HUGETLB or (file is not None and file.hugetlb):
        vm_flags |= VM_HUGETLB
        length = (length + PMD_SIZE - 1) & ~(PMD_SIZE - 1)
    pgoff = offset >> PAGE_SHIFT if file is not None else start >> PAGE_SHIFT
    mm.vmas.append(_new_vma(mm, start, start + length, vm_flags, pgoff, file))
    mm.vmas.sort(key=lambda v: v.vm_start)
    yield from mmap_write_unlock(mm)
    return start


def split_vmas(mm: MmStruct, start: int, end: int) -> list[Vma]:
    """Model of mm/vma.c:split_vma(): VMA boundaries at ``start`` and ``end``; the VMAs inside.

    Pieces share the anon_vma, as the kernel's do.
    """
    out: list[Vma] = []
    for vma in list(mm.vmas):
        if vma.vm_end <= start or vma.vm_start >= end:
            out.append(vma)
            continue
        cuts = sorted({vma.vm_start, max(start, vma.vm_start), min(end, vma.vm_end), vma.vm_end})
        for lo, hi in itertools.pairwise(cuts):
            pgoff = vma.vm_pgoff + ((lo - vma.vm_start) >> PAGE_SHIFT)
            out.append(vma.replace(vm_start=lo, vm_end=hi, vm_pgoff=pgoff))
    mm.vmas[:] = sorted(out, key=lambda v: v.vm_start)
    return [v for v in mm.vmas if start <= v.vm_start and v.vm_end <= end]


def vma_adjust_trans_huge(cpu: Cpu, mm: MmStruct, start: int, end: int) -> Gen:
    """Model of mm/huge_memory.c:vma_adjust_trans_huge(): split huge PMDs a new boundary cuts."""
    for vma in list(mm.vmas):
        if vma.vm_start < end and vma.vm_end > start:
            yield from split_huge_pmd_range(cpu, vma, start, end)


def vma_merge(mm: MmStruct) -> None:
    """Model of mm/vma.c:vma_merge(): neighbours with the same flags, file, anon_vma, offset."""
    out: list[Vma] = []
    for vma in sorted(mm.vmas, key=lambda v: v.vm_start):
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.vm_end == vma.vm_start
            and prev.vm_flags == vma.vm_flags
            and prev.vm_file is vma.vm_file
            and prev.anon_vma == vma.anon_vma
            and prev.vm_pgoff + ((prev.vm_end - prev.vm_start) >> PAGE_SHIFT) == vma.vm_pgoff
        ):
            out[-1] = prev.replace(vm_end=vma.vm_end)
        else:
            out.append(vma)
    mm.vmas[:] = out


def do_munmap(cpu: Cpu, mm: MmStruct, start: int, length: int) -> Gen:
    """Model of mm/vma.c:do_vmi_munmap(): zap the range and drop its VMAs."""
    end = start + length
    yield from mmap_write_lock(mm)
    yield from vma_adjust_trans_huge(cpu, mm, start, end)
    victims = split_vmas(mm, start, end)
    for vma in victims:
        yield from zap_pmd_range(cpu, vma, vma.vm_start, vma.vm_end)
    mm.vmas[:] = [v for v in mm.vmas if v not in victims]
    yield from mmap_write_unlock(mm)
    return 0


def vma_wants_manual_pte_write_upgrade(vma: Vma) -> bool:
    """Model of include/linux/mm.h:vma_wants_manual_pte_write_upgrade()."""
    if vma.vm_flags & VM_SHARED:
        return vma_wants_writenotify(vma)
    return bool(vma.vm_flags & VM_WRITE)


def do_mprotect(cpu: Cpu, mm: MmStruct, start: int, length: int, prot: int) -> Gen:
    """Model of mm/mprotect.c:do_mprotect_pkey() and mprotect_fixup()."""
    yield from mmap_write_lock(mm)
    yield from vma_adjust_trans_huge(cpu, mm, start, start + length)
    ret = 0
    for vma in split_vmas(mm, start, start + length):
        newflags = (vma.vm_flags & ~(VM_READ | VM_WRITE | VM_EXEC)) | calc_vm_prot_bits(prot)
        if newflags & VM_WRITE and not (vma.vm_flags & VM_MAYWRITE):
            ret = -EACCES
            break
        if newflags == vma.vm_flags:
            continue  # nothing changes: the PTEs are left alone
        new = vma.replace(vm_flags=newflags)
        mm.vmas[mm.vmas.index(vma)] = new
        cp_flags = MM_CP_TRY_CHANGE_WRITABLE if vma_wants_manual_pte_write_upgrade(new) else 0
        yield from change_pmd_range(cpu, new, new.vm_start, new.vm_end, new.vm_page_prot, cp_flags)
    vma_merge(mm)
    yield from mmap_write_unlock(mm)
    return ret


def _set_vma_flags(mm: MmStruct, start: int, end: int, set_: vm_flags_t, clear: vm_flags_t) -> int:
    for vma in split_vmas(mm, start, end):
        mm.vmas[mm.vmas.index(vma)] = vma.replace(vm_flags=(vma.vm_flags & ~clear) | set_)
    vma_merge(mm)
    return 0


def do_madvise(cpu: Cpu, mm: MmStruct, start: int, length: int, advice: int) -> Gen:
    """Model of mm/madvise.c:do_madvise() for the advice values the selftests use."""
    end, era, none = start + length, cpu.era, vm_flags_t.VM_NONE
    if advice == MADV_DONTNEED:
        yield from kapi.spin_lock(mm.mmap_lock)  # mmap_read_lock()
        for vma in [v for v in mm.vmas if v.vm_start < end and v.vm_end > start]:
            yield from zap_pmd_range(cpu, vma, max(start, vma.vm_start), min(end, vma.vm_end))
        yield from kapi.spin_unlock(mm.mmap_lock)
        return 0
    if advice == MADV_FREE:
        yield from kapi.spin_lock(mm.mmap_lock)  # mmap_read_lock()
        for vma in [v for v in mm.vmas if v.vm_start < end and v.vm_end > start]:
            if vma.vm_file is not None or vma.vm_flags & VM_SHARED:
                continue  # -EINVAL in the kernel (vma_is_anonymous() only)
            lo, hi = max(start, vma.vm_start), min(end, vma.vm_end)
            yield from madvise_free_pte_range(cpu, vma, lo, hi)
        yield from kapi.spin_unlock(mm.mmap_lock)
        return 0
    if advice == MADV_PAGEOUT:
        if not era.madv_pageout:
            return -EINVAL
        yield from kapi.spin_lock(mm.mmap_lock)  # mmap_read_lock()
        for vma in [v for v in mm.vmas if v.vm_start < end and v.vm_end > start]:
            lo, hi = max(start, vma.vm_start), min(end, vma.vm_end)
            yield from madvise_pageout(cpu, cpu.machine, vma, lo, hi)
        yield from kapi.spin_unlock(mm.mmap_lock)
        return 0
    if advice == MADV_COLLAPSE:
        if not era.madv_collapse:
            return -EINVAL
        yield from kapi.spin_lock(mm.mmap_lock)  # mmap_read_lock()
        ret = yield from madvise_collapse(cpu, mm, start, end)
        yield from kapi.spin_unlock(mm.mmap_lock)
        return ret
    table = {
        MADV_HUGEPAGE: (VM_HUGEPAGE, VM_NOHUGEPAGE),
        MADV_NOHUGEPAGE: (VM_NOHUGEPAGE, VM_HUGEPAGE),
        MADV_MERGEABLE: (vm_flags_t.VM_MERGEABLE, none),
        MADV_UNMERGEABLE: (none, vm_flags_t.VM_MERGEABLE),
        MADV_DONTFORK: (VM_DONTCOPY, none),
        MADV_DOFORK: (none, VM_DONTCOPY),
        MADV_WIPEONFORK: (VM_WIPEONFORK, none),
        MADV_KEEPONFORK: (none, VM_WIPEONFORK),
    }
    if advice not in table:
        return -EINVAL
    if advice == MADV_WIPEONFORK and any(
        v.vm_file is not None or v.vm_flags & VM_SHARED
        for v in mm.vmas
        if v.vm_start < end and v.vm_end > start
    ):
        return -EINVAL
    yield from mmap_write_lock(mm)
    yield from vma_adjust_trans_huge(cpu, mm, start, end)
    set_, clear = table[advice]
    ret = _set_vma_flags(mm, start, end, set_, clear)
    yield from mmap_write_unlock(mm)
    return ret


def exit_mmap(cpu: Cpu, mm: MmStruct) -> Gen:
    """Model of mm/mmap.c:exit_mmap(): unmap everything."""
    yield from mmap_write_lock(mm)
    yield from unmap_vmas(cpu, list(mm.vmas))
    mm.vmas[:] = []
    yield from mmap_write_unlock(mm)


def do_mremap_fixed(cpu: Cpu, mm: MmStruct, addr: int, length: int, new_addr: int) -> Gen:
    """Model of mm/mremap.c:mremap(MREMAP_MAYMOVE | MREMAP_FIXED) of a same-sized range.

    The destination is unmapped, the source VMA split at the range, and
    move_page_tables() moves each PTE (a huge PMD the range covers in part is
    split first); the moved pages keep their rmap, as the new VMA keeps the
    old vm_pgoff.  Returns the new address or -EINVAL.
    """
    end = addr + length
    if addr % PAGE_SIZE or new_addr % PAGE_SIZE or not length:
        return -EINVAL
    yield from mmap_write_lock(mm)
    yield from vma_adjust_trans_huge(cpu, mm, new_addr, new_addr + length)
    for vma in split_vmas(mm, new_addr, new_addr + length):
        yield from zap_pmd_range(cpu, vma, vma.vm_start, vma.vm_end)
        mm.vmas.remove(vma)
    yield from vma_adjust_trans_huge(cpu, mm, addr, end)
    moved = split_vmas(mm, addr, end)
    if len(moved) != 1 or moved[0].vm_flags & VM_HUGETLB:
        yield from mmap_write_unlock(mm)
        return -EINVAL
    old = moved[0]
    new = old.replace(vm_start=new_addr, vm_end=new_addr + length)
    mm.vmas[mm.vmas.index(old)] = new
    mm.vmas.sort(key=lambda v: v.vm_start)
    yield from move_ptes(mm, addr, new_addr, length)
    yield from mmap_write_unlock(mm)
    return new_addr


def move_ptes(mm: MmStruct, old_addr: int, new_addr: int, length: int) -> Gen:
    """Model of mm/mremap.c:move_ptes(): get-and-clear each old PTE, set it at the new place."""
    for off in range(0, length, PAGE_SIZE):
        old, new = old_addr + off, new_addr + off
        yield from pte_alloc(mm, new)
        yield from kapi.spin_lock(mm.ptl(old))
        if mm.ptl(new) != mm.ptl(old):
            yield from kapi.spin_lock(mm.ptl(new))
        pte = yield from ptep_get_and_clear(mm, old, mm.pte(old))
        if pte:
            yield from set_pte_at(mm, new, mm.pte(new), pte)
        if mm.ptl(new) != mm.ptl(old):
            yield from kapi.spin_unlock(mm.ptl(new))
        yield from kapi.spin_unlock(mm.ptl(old))
