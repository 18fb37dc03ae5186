"""Kernel constants and flag sets, with the kernel's own names.

Values follow ``include/linux/mm_types.h`` (FOLL_*, FAULT_FLAG_*),
``mm/internal.h`` (internal FOLL_* flags), ``include/linux/mm.h`` (VM_*),
``include/linux/mm_types.h`` (vm_fault_t) and ``include/uapi/asm-generic/errno*.h``
as of the linux-next trees of the v6.15-v6.19 era (docs/labels.md, §0).  The page-flag bit numbers
are the model's own (the kernel's depend on the configuration); what matters
is that they are bits of one flags word per page.  ``PG_anon_exclusive``
aliases ``PG_mappedtodisk`` in the kernel; here it simply has its own bit.

KSM is not a page flag in the kernel: it is encoded in the low bits of
``folio->mapping`` (``PAGE_MAPPING_ANON | PAGE_MAPPING_KSM``), and so it is here.
"""

from __future__ import annotations

import enum
from typing import Final

PAGE_SHIFT: Final = 12
PAGE_SIZE: Final = 1 << PAGE_SHIFT
# The model's page tables have 16 entries, not x86-64's 512: a PMD maps 64 KiB
# and a PMD-sized THP has 16 subpages.  Nothing modelled depends on the number
# (cow.c reads the PMD size from sysfs), and it keeps per-page runs of a THP
# (faults, COW, fork, invariant checks after every step) affordable.
PTRS_PER_PTE: Final = 16
PMD_SHIFT: Final = PAGE_SHIFT + 4
PMD_SIZE: Final = 1 << PMD_SHIFT
PMD_MASK: Final = ~(PMD_SIZE - 1)
HPAGE_PMD_ORDER: Final = PMD_SHIFT - PAGE_SHIFT
HPAGE_PMD_NR: Final = 1 << HPAGE_PMD_ORDER
HPAGE_PMD_SIZE: Final = PMD_SIZE

GUP_PIN_COUNTING_BIAS: Final = 1 << 10
MMF_HAS_PINNED: Final = 27

# folio->mapping low bits (include/linux/page-flags.h)
PAGE_MAPPING_ANON: Final = 0x1
PAGE_MAPPING_KSM: Final = 0x2
PAGE_MAPPING_FLAGS: Final = PAGE_MAPPING_ANON | PAGE_MAPPING_KSM

# rmap flags (include/linux/rmap.h)
RMAP_NONE: Final = 0
RMAP_EXCLUSIVE: Final = 1 << 0

# Page flag bit numbers (one flags word per page; see the module docstring).
PG_locked: Final = 0
PG_writeback: Final = 1
PG_referenced: Final = 2
PG_uptodate: Final = 3
PG_dirty: Final = 4
PG_lru: Final = 5
PG_active: Final = 6
PG_swapbacked: Final = 7
PG_swapcache: Final = 8
PG_anon_exclusive: Final = 9


class FOLL(enum.IntFlag):
    """GUP flags: the external enum of mm_types.h and the internal ones of mm/internal.h."""

    FOLL_WRITE = 1 << 0
    FOLL_GET = 1 << 1
    FOLL_DUMP = 1 << 2
    FOLL_FORCE = 1 << 3
    FOLL_NOWAIT = 1 << 4
    FOLL_NOFAULT = 1 << 5
    FOLL_HWPOISON = 1 << 6
    FOLL_ANON = 1 << 7
    FOLL_LONGTERM = 1 << 8
    FOLL_SPLIT_PMD = 1 << 9
    FOLL_PCI_P2PDMA = 1 << 10
    FOLL_INTERRUPTIBLE = 1 << 11
    FOLL_HONOR_NUMA_FAULT = 1 << 12
    # Removed by 5535be309971 (v6.0); only eras before it set this flag.
    FOLL_COW = 1 << 14
    # internal (mm/internal.h)
    FOLL_TOUCH = 1 << 16
    FOLL_TRIED = 1 << 17
    FOLL_REMOTE = 1 << 18
    FOLL_PIN = 1 << 19
    FOLL_FAST_ONLY = 1 << 20
    FOLL_UNLOCKABLE = 1 << 21
    FOLL_MADV_POPULATE = 1 << 22


FOLL_WRITE: Final = FOLL.FOLL_WRITE
FOLL_GET: Final = FOLL.FOLL_GET
FOLL_DUMP: Final = FOLL.FOLL_DUMP
FOLL_FORCE: Final = FOLL.FOLL_FORCE
FOLL_NOWAIT: Final = FOLL.FOLL_NOWAIT
FOLL_NOFAULT: Final = FOLL.FOLL_NOFAULT
FOLL_HWPOISON: Final = FOLL.FOLL_HWPOISON
FOLL_ANON: Final = FOLL.FOLL_ANON
FOLL_LONGTERM: Final = FOLL.FOLL_LONGTERM
FOLL_SPLIT_PMD: Final = FOLL.FOLL_SPLIT_PMD
FOLL_PCI_P2PDMA: Final = FOLL.FOLL_PCI_P2PDMA
FOLL_INTERRUPTIBLE: Final = FOLL.FOLL_INTERRUPTIBLE
FOLL_HONOR_NUMA_FAULT: Final = FOLL.FOLL_HONOR_NUMA_FAULT
FOLL_COW: Final = FOLL.FOLL_COW
FOLL_TOUCH: Final = FOLL.FOLL_TOUCH
FOLL_TRIED: Final = FOLL.FOLL_TRIED
FOLL_REMOTE: Final = FOLL.FOLL_REMOTE
FOLL_PIN: Final = FOLL.FOLL_PIN
FOLL_FAST_ONLY: Final = FOLL.FOLL_FAST_ONLY
FOLL_UNLOCKABLE: Final = FOLL.FOLL_UNLOCKABLE
FOLL_MADV_POPULATE: Final = FOLL.FOLL_MADV_POPULATE

INTERNAL_GUP_FLAGS: Final = (
    FOLL_TOUCH
    | FOLL_TRIED
    | FOLL_REMOTE
    | FOLL_PIN
    | FOLL_FAST_ONLY
    | FOLL_UNLOCKABLE
    | FOLL_MADV_POPULATE
)


class fault_flag(enum.IntFlag):
    """enum fault_flag (include/linux/mm_types.h)."""

    FAULT_FLAG_WRITE = 1 << 0
    FAULT_FLAG_MKWRITE = 1 << 1
    FAULT_FLAG_ALLOW_RETRY = 1 << 2
    FAULT_FLAG_RETRY_NOWAIT = 1 << 3
    FAULT_FLAG_KILLABLE = 1 << 4
    FAULT_FLAG_TRIED = 1 << 5
    FAULT_FLAG_USER = 1 << 6
    FAULT_FLAG_REMOTE = 1 << 7
    FAULT_FLAG_INSTRUCTION = 1 << 8
    FAULT_FLAG_INTERRUPTIBLE = 1 << 9
    FAULT_FLAG_UNSHARE = 1 << 10
    FAULT_FLAG_ORIG_PTE_VALID = 1 << 11
    FAULT_FLAG_VMA_LOCK = 1 << 12


FAULT_FLAG_WRITE: Final = fault_flag.FAULT_FLAG_WRITE
FAULT_FLAG_ALLOW_RETRY: Final = fault_flag.FAULT_FLAG_ALLOW_RETRY
FAULT_FLAG_KILLABLE: Final = fault_flag.FAULT_FLAG_KILLABLE
FAULT_FLAG_TRIED: Final = fault_flag.FAULT_FLAG_TRIED
FAULT_FLAG_USER: Final = fault_flag.FAULT_FLAG_USER
FAULT_FLAG_REMOTE: Final = fault_flag.FAULT_FLAG_REMOTE
FAULT_FLAG_UNSHARE: Final = fault_flag.FAULT_FLAG_UNSHARE


class vm_flags_t(enum.IntFlag):
    """vma->vm_flags (include/linux/mm.h)."""

    VM_NONE = 0
    VM_READ = 0x1
    VM_WRITE = 0x2
    VM_EXEC = 0x4
    VM_SHARED = 0x8
    VM_MAYREAD = 0x10
    VM_MAYWRITE = 0x20
    VM_MAYEXEC = 0x40
    VM_MAYSHARE = 0x80
    VM_GROWSDOWN = 0x100
    VM_UFFD_MISSING = 0x200
    VM_PFNMAP = 0x400
    VM_UFFD_WP = 0x1000
    VM_LOCKED = 0x2000
    VM_IO = 0x4000
    VM_DONTCOPY = 0x20000
    VM_DONTEXPAND = 0x40000
    VM_LOCKONFAULT = 0x80000
    VM_HUGETLB = 0x400000
    VM_WIPEONFORK = 0x2000000
    VM_DONTDUMP = 0x4000000
    VM_SOFTDIRTY = 0x8000000
    VM_MIXEDMAP = 0x10000000
    VM_HUGEPAGE = 0x20000000
    VM_NOHUGEPAGE = 0x40000000
    VM_MERGEABLE = 0x80000000


VM_READ: Final = vm_flags_t.VM_READ
VM_WRITE: Final = vm_flags_t.VM_WRITE
VM_EXEC: Final = vm_flags_t.VM_EXEC
VM_SHARED: Final = vm_flags_t.VM_SHARED
VM_MAYREAD: Final = vm_flags_t.VM_MAYREAD
VM_MAYWRITE: Final = vm_flags_t.VM_MAYWRITE
VM_MAYSHARE: Final = vm_flags_t.VM_MAYSHARE
VM_PFNMAP: Final = vm_flags_t.VM_PFNMAP
VM_UFFD_WP: Final = vm_flags_t.VM_UFFD_WP
VM_LOCKED: Final = vm_flags_t.VM_LOCKED
VM_IO: Final = vm_flags_t.VM_IO
VM_DONTCOPY: Final = vm_flags_t.VM_DONTCOPY
VM_HUGETLB: Final = vm_flags_t.VM_HUGETLB
VM_WIPEONFORK: Final = vm_flags_t.VM_WIPEONFORK
VM_SOFTDIRTY: Final = vm_flags_t.VM_SOFTDIRTY
VM_MIXEDMAP: Final = vm_flags_t.VM_MIXEDMAP
VM_NOHUGEPAGE: Final = vm_flags_t.VM_NOHUGEPAGE
VM_HUGEPAGE: Final = vm_flags_t.VM_HUGEPAGE


class vm_fault_reason(enum.IntFlag):
    """vm_fault_t bits (include/linux/mm_types.h).  VM_FAULT_WRITE existed until v6.0."""

    VM_FAULT_OOM = 0x000001
    VM_FAULT_SIGBUS = 0x000002
    VM_FAULT_MAJOR = 0x000004
    VM_FAULT_WRITE = 0x000008  # removed together with FOLL_COW (5535be309971)
    VM_FAULT_HWPOISON = 0x000010
    VM_FAULT_SIGSEGV = 0x000040
    VM_FAULT_NOPAGE = 0x000100
    VM_FAULT_LOCKED = 0x000200
    VM_FAULT_RETRY = 0x000400
    VM_FAULT_FALLBACK = 0x000800
    VM_FAULT_DONE_COW = 0x001000
    VM_FAULT_NEEDDSYNC = 0x002000
    VM_FAULT_COMPLETED = 0x004000


VM_FAULT_OOM: Final = vm_fault_reason.VM_FAULT_OOM
VM_FAULT_SIGBUS: Final = vm_fault_reason.VM_FAULT_SIGBUS
VM_FAULT_WRITE: Final = vm_fault_reason.VM_FAULT_WRITE
VM_FAULT_SIGSEGV: Final = vm_fault_reason.VM_FAULT_SIGSEGV
VM_FAULT_RETRY: Final = vm_fault_reason.VM_FAULT_RETRY
VM_FAULT_FALLBACK: Final = vm_fault_reason.VM_FAULT_FALLBACK
VM_FAULT_ERROR: Final = (
    vm_fault_reason.VM_FAULT_OOM
    | vm_fault_reason.VM_FAULT_SIGBUS
    | vm_fault_reason.VM_FAULT_SIGSEGV
    | vm_fault_reason.VM_FAULT_HWPOISON
)

# errno values (include/uapi/asm-generic/errno-base.h, errno.h)
ENOENT: Final = 2
EINTR: Final = 4
EAGAIN: Final = 11
ENOMEM: Final = 12
EACCES: Final = 13
EFAULT: Final = 14
EBUSY: Final = 16
EEXIST: Final = 17
EINVAL: Final = 22
ENOSPC: Final = 28
EMLINK: Final = 31
EOPNOTSUPP: Final = 95
EREMOTEIO: Final = 121
EHWPOISON: Final = 133

# mprotect's change_protection() flags (include/linux/mm.h)
MM_CP_TRY_CHANGE_WRITABLE: Final = 1 << 0
