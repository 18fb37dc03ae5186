"""A user-space load or store: the MMU's page walk, and the page fault when it fails.

Models what the CPU does on an access (walk the page table; the access is
allowed if the PTE is present, user, and writable for a store; a store sets
the dirty bit if it was clear) and arch/x86/mm/fault.c ``do_user_addr_fault``
(find the VMA, check its permissions, call handle_mm_fault, retry the
access).  There is no TLB: every access walks the page table.
"""

from __future__ import annotations

from typing import Final

from pinlab.engine import kapi
from pinlab.kernel.defs import (
    EFAULT,
    FAULT_FLAG_USER,
    FAULT_FLAG_WRITE,
    PAGE_SIZE,
    PMD_MASK,
    VM_FAULT_ERROR,
    VM_READ,
    VM_WRITE,
)
from pinlab.kernel.folio import Gen
from pinlab.kernel.huge_mm import pmd_pte, pmd_trans_huge
from pinlab.kernel.memory import handle_mm_fault
from pinlab.kernel.mm_types import Cpu, MmStruct, pfn_to_page
from pinlab.kernel.pgtable import ptep_get_lockless
from pinlab.kernel.pte import _PAGE_DIRTY, pte_access_permitted, pte_dirty, pte_pfn

_PAGE_BIT_DIRTY: Final = _PAGE_DIRTY.bit_length() - 1
_MAX_FAULTS: Final = 8


def user_access(cpu: Cpu, mm: MmStruct, addr: int, write: bool, value: int = 0) -> Gen:
    """Model of a user access: the MMU's walk, then arch/x86/mm/fault.c:do_user_addr_fault().

    A load returns ``(0, data)``, a store of ``value`` ``(0, value)``; ``(-EFAULT, 0)``
    is SIGSEGV / SIGBUS.  A fault that makes no progress ``_MAX_FAULTS`` times in a
    row is a model bug, reported as an error.
    """
    for _ in range(_MAX_FAULTS):
        vma = mm.find_vma(addr)
        if vma is None:
            return -EFAULT, 0
        if not (vma.vm_flags & (VM_WRITE if write else VM_READ)):
            return -EFAULT, 0  # access_error(): SIGSEGV
        ptep = mm.pte(addr)
        pmd = yield from kapi.READ_ONCE(mm.pmd(addr))
        if pmd_trans_huge(pmd):
            ptep = mm.pmd(addr)  # a huge PMD: the walk ends here
            pte = pmd_pte(pmd, (addr & ~PMD_MASK) // PAGE_SIZE)
        else:
            pte = yield from ptep_get_lockless(ptep)
        if pte_access_permitted(pte, write):
            page = pfn_to_page(pte_pfn(pte))
            if not write:
                return 0, (yield from kapi.READ_ONCE(page.data))
            if not pte_dirty(pte):
                yield from kapi.set_bit(_PAGE_BIT_DIRTY, ptep)  # the MMU sets the dirty bit
            yield from kapi.WRITE_ONCE(page.data, value)
            return 0, value
        flags = FAULT_FLAG_USER | (FAULT_FLAG_WRITE if write else 0)
        ret = yield from handle_mm_fault(cpu, vma, addr, flags)
        if ret & VM_FAULT_ERROR:
            return -EFAULT, 0
    raise RuntimeError(f"no progress faulting {mm.name} {addr:#x} (write={write})")
