"""Kernel objects: folio and page, mm_struct, vm_area_struct, address_space, swap.

Shared state lives in engine locations, never in Python attributes, so that a
kernel path is a deterministic function of the values it loads and can be
replayed by the explorer.  The objects here only *name* locations:

- ``Folio`` / ``Page`` are values computed from a pfn (the kernel's memmap
  exists from boot; the model materialises entries on demand).  A pfn is
  never reused, so a folio's identity is its pfn.  What kind of folio it is
  (anonymous, KSM, pagecache, free) is state: ``folio->mapping``.
- ``MmStruct`` names its PTEs, PMDs and locks from its own name and an
  address, so page tables need no Python structure at all.  Its list of
  VMAs is plain Python: only the sequential process API (mmap, munmap,
  mprotect, madvise, all under mmap_lock held for write) replaces it, and
  fork builds the child's list as a new object.
- ``Cpu`` is a thread's context: the era, the machine, and the counters from
  which new objects (folios, swap slots, mms) get deterministic names.

Large folios (THP, mTHP, hugetlb) live in their own pfn range, and their
pfn says their order: ``pfn_folio()`` of any subpage's pfn is the folio (its
head), so ``page_folio()`` stays a pure function.  Each subpage has its own
flags word (PG_anon_exclusive is per page), ``_mapcount`` and contents; the
head page's are the folio's.  A large folio also has ``_pincount``,
``_entire_mapcount`` and ``_large_mapcount`` (the kernel's folio_mapcount()
with CONFIG_PAGE_MAPCOUNT).  Folios are never split in this model: a
partially unmapped THP stays one large folio, as it does in the kernel
until the deferred split queue gets to it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

from pinlab.engine import Loc
from pinlab.kernel.arch import X86, Arch
from pinlab.kernel.defs import (
    HPAGE_PMD_ORDER,
    PAGE_MAPPING_ANON,
    PAGE_SHIFT,
    PMD_SHIFT,
    VM_SHARED,
    VM_SOFTDIRTY,
    VM_WRITE,
    PG_uptodate,
    vm_flags_t,
)
from pinlab.kernel.eras import Era
from pinlab.kernel.pte import PAGE_NONE, PAGE_READONLY, PAGE_SHARED

ZERO_PFN: Final = 0x10
ZONE_MOVABLE_START_PFN: Final = 0x4000_0000
_PFNS_PER_CPU: Final = 0x10_0000
# Large folios: LARGE_BASE | hugetlb << 28 | order << 24 | cpu << 20 | serial << 9 | subpage.
# A hugetlb folio comes from the hugetlb pool: the kernel's page type, here a pfn bit.
LARGE_BASE: Final = 0x2000_0000
_LARGE_HUGETLB: Final = 1 << 28
_LARGE_ORDER_SHIFT: Final = 24
_LARGE_CPU_SHIFT: Final = 20
_LARGE_SERIAL_SHIFT: Final = 9


_NO_LOC: Final = Loc("")


@dataclass(frozen=True, slots=True)
class Page:
    """struct page: its flags word (PG_anon_exclusive is per page) and its contents."""

    pfn: int
    flags: Loc
    _mapcount: Loc
    data: Loc

    def __str__(self) -> str:
        return f"page {self.pfn:#x}"


@dataclass(frozen=True, slots=True)
class Folio:
    """struct folio.  ``data`` is the page contents: an int that tests write and compare."""

    pfn: int
    name: str
    _refcount: Loc
    _mapcount: Loc
    _pincount: Loc
    flags: Loc
    mapping: Loc
    index: Loc
    swap: Loc
    data: Loc
    nr_pages: int = 1
    _entire_mapcount: Loc = _NO_LOC
    _large_mapcount: Loc = _NO_LOC

    @property
    def order(self) -> int:
        return self.nr_pages.bit_length() - 1

    @property
    def dma_pinned_count(self) -> Loc:
        """The separate pin counter of the July 2018 RFC (PinProposal.DMA_PINNED_COUNT)."""
        return Loc(f"{self.name}.dma_pinned_count")

    def page(self, i: int = 0) -> Page:
        assert 0 <= i < self.nr_pages, f"{self} has no page {i}"
        if i == 0:
            return Page(self.pfn, self.flags, self._mapcount, self.data)
        return _tail_page(self.pfn + i)

    def pages(self) -> list[Page]:
        return [self.page(i) for i in range(self.nr_pages)]

    def __str__(self) -> str:
        return self.name


def pfn_order(pfn: int) -> int:
    """The order of the folio ``pfn`` belongs to (encoded in the pfn, see module doc)."""
    if LARGE_BASE <= pfn < ZONE_MOVABLE_START_PFN:
        return (pfn >> _LARGE_ORDER_SHIFT) & 0xF
    return 0


def large_pfn(order: int, cpu: int, serial: int, hugetlb: bool = False) -> int:
    """The head pfn of the ``serial``-th large folio of ``order`` that CPU ``cpu`` allocates."""
    return (
        LARGE_BASE
        | (_LARGE_HUGETLB if hugetlb else 0)
        | order << _LARGE_ORDER_SHIFT
        | cpu << _LARGE_CPU_SHIFT
        | serial << _LARGE_SERIAL_SHIFT
    )


@cache
def _tail_page(pfn: int) -> Page:
    n = f"page{pfn:#x}"
    return Page(pfn, Loc(f"{n}.flags"), Loc(f"{n}._mapcount"), Loc(f"{n}.data"))


@cache
def pfn_folio(pfn: int) -> Folio:
    """The folio that contains ``pfn`` (its head page's pfn is the folio's)."""
    order = pfn_order(pfn)
    pfn &= ~((1 << order) - 1)
    name = "zero_page" if pfn == ZERO_PFN else f"folio{pfn:#x}"
    if pfn == HUGE_ZERO_PFN:
        name = "huge_zero_folio"
    return Folio(
        pfn=pfn,
        name=name,
        _refcount=Loc(f"{name}._refcount"),
        _mapcount=Loc(f"{name}._mapcount"),
        _pincount=Loc(f"{name}._pincount"),
        flags=Loc(f"{name}.flags"),
        mapping=Loc(f"{name}.mapping"),
        index=Loc(f"{name}.index"),
        swap=Loc(f"{name}.swap"),
        data=Loc(f"{name}.data"),
        nr_pages=1 << order,
        _entire_mapcount=Loc(f"{name}._entire_mapcount"),
        _large_mapcount=Loc(f"{name}._large_mapcount"),
    )


def pfn_to_page(pfn: Any) -> Page:
    pfn = int(pfn)
    folio = pfn_folio(pfn)
    return folio.page(pfn - folio.pfn)


def page_folio(page: Page) -> Folio:
    return pfn_folio(page.pfn)


def folio_page(folio: Folio, i: int) -> Page:
    return folio.page(i)


def folio_page_idx(folio: Folio, page: Page) -> int:
    return page.pfn - folio.pfn


def is_zero_pfn(pfn: Any) -> Any:
    return pfn == ZERO_PFN


def is_zero_folio(folio: Folio) -> bool:
    return folio.pfn == ZERO_PFN


def is_huge_zero_folio(folio: Folio) -> bool:
    return folio.pfn == HUGE_ZERO_PFN


def folio_test_hugetlb(folio: Folio) -> bool:
    """Model of include/linux/page-flags.h:folio_test_hugetlb() (a pfn bit, see LARGE_BASE)."""
    return folio.nr_pages > 1 and bool(folio.pfn & _LARGE_HUGETLB)


def folio_test_large(folio: Folio) -> bool:
    """Model of include/linux/page-flags.h:folio_test_large() (the order never changes)."""
    return folio.nr_pages > 1


def folio_is_longterm_pinnable(folio: Folio) -> bool:
    """False for ZONE_MOVABLE (and CMA/isolated) memory; the zero page is pinnable."""
    return is_zero_folio(folio) or folio.pfn < ZONE_MOVABLE_START_PFN


HUGE_ZERO_PFN: Final = large_pfn(HPAGE_PMD_ORDER, 0, 0)  # CPUs count their serials from 1


@dataclass(frozen=True, slots=True)
class SwapSlot:
    """One slot of the swap device: its swap_map count, its swapcache folio, its data."""

    offset: int
    count: Loc
    cache: Loc
    data: Loc


@cache
def swap_slot(offset: int) -> SwapSlot:
    n = f"swap{offset:#x}"
    return SwapSlot(offset, Loc(f"{n}.count"), Loc(f"{n}.cache"), Loc(f"{n}.data"))


FILESYSTEMS: Final = ("tmpfs", "ext4", "xfs", "btrfs")


@dataclass(frozen=True, eq=False)
class AddressSpace:
    """A file's page cache: ``i_pages[index]`` holds the pfn of the cached folio or 0.

    ``fstype`` is the filesystem the file lives on.  tmpfs (and memfd) files
    are shmem: no writeback, so no dirty tracking.  ext4, xfs and btrfs write
    back to ``disk(index)`` and need to see every first write of a clean page
    (->page_mkwrite), which is why their shared mappings are dirty-tracked.
    A hugetlbfs file (memfd_create(MFD_HUGETLB)) is shmem-like too.
    """

    id: int
    name: str
    shmem: bool  # memfd / tmpfs: no writeback, no dirty tracking needed
    fstype: str = ""
    hugetlb: bool = False  # hugetlbfs (memfd_create(MFD_HUGETLB)): i_pages by huge page

    @property
    def mapping_value(self) -> int:
        """What ``folio->mapping`` holds for this file's folios (low bits clear)."""
        return self.id << 2

    def i_pages(self, index: int) -> Loc:
        return Loc(f"{self.name}.i_pages[{index}]")

    def disk(self, index: int) -> Loc:
        """What the block device holds for page ``index`` (written by writeback)."""
        return Loc(f"{self.name}.disk[{index}]")

    @property
    def mapping_can_writeback(self) -> bool:
        """Model of include/linux/backing-dev.h:mapping_can_writeback()."""
        return not self.shmem


@dataclass(frozen=True, eq=False)
class Vma:
    """struct vm_area_struct.  Immutable: mprotect/madvise replace the object."""

    mm: MmStruct
    vm_start: int
    vm_end: int
    vm_flags: vm_flags_t
    vm_page_prot: int
    vm_pgoff: int
    anon_vma: Loc
    vm_file: AddressSpace | None = None

    def replace(self, **changes: Any) -> Vma:
        new = dataclasses.replace(self, **changes)
        return dataclasses.replace(new, vm_page_prot=vm_page_prot_for(new))

    def __str__(self) -> str:
        return f"{self.mm.name}:[{self.vm_start:#x}-{self.vm_end:#x}) {self.vm_flags!r}"


def vma_is_anonymous(vma: Vma) -> bool:
    return vma.vm_file is None


def linear_page_index(vma: Vma, addr: int) -> int:
    return ((addr - vma.vm_start) >> PAGE_SHIFT) + vma.vm_pgoff


def vma_address(vma: Vma, index: int) -> int:
    return vma.vm_start + ((index - vma.vm_pgoff) << PAGE_SHIFT)


def vma_soft_dirty_enabled(vma: Vma) -> bool:
    """Soft-dirty tracking is on once clear_refs cleared VM_SOFTDIRTY (CONFIG_MEM_SOFT_DIRTY=y)."""
    return not (vma.vm_flags & VM_SOFTDIRTY)


def vma_wants_writenotify(vma: Vma) -> bool:
    """Shared writable mappings that must see the first write (dirty tracking, soft-dirty)."""
    if (vma.vm_flags & (VM_WRITE | VM_SHARED)) != (VM_WRITE | VM_SHARED):
        return False
    if vma_soft_dirty_enabled(vma):
        return True
    return vma.vm_file is not None and not vma.vm_file.shmem


def vm_page_prot_for(vma: Vma) -> int:
    """vm_get_page_prot() plus vma_set_page_prot(): private mappings never get RW."""
    if not (vma.vm_flags & (vm_flags_t.VM_READ | vm_flags_t.VM_WRITE | vm_flags_t.VM_EXEC)):
        return PAGE_NONE
    if (vma.vm_flags & VM_SHARED) and (vma.vm_flags & VM_WRITE):
        return PAGE_READONLY if vma_wants_writenotify(vma) else PAGE_SHARED
    return PAGE_READONLY


@dataclass(eq=False)
class MmStruct:
    """struct mm_struct: locations named after the mm; VMAs as a plain list (see module doc)."""

    name: str
    vmas: list[Vma] = field(default_factory=list)
    next_mmap: int = 0x1000_0000
    arch: Arch = X86
    anon_vmas: int = 0
    # mmu_interval_notifier subscriptions (set up before paths run; see mmu_notifier.py)
    notifier_subscriptions: list[Any] = field(default_factory=list)

    @property
    def flags(self) -> Loc:
        return Loc(f"{self.name}.flags")

    @property
    def has_pinned(self) -> Loc:
        """mm->has_pinned, the atomic_t of v5.9-v5.14 (later the MMF_HAS_PINNED bit)."""
        return Loc(f"{self.name}.has_pinned")

    @property
    def write_protect_seq(self) -> Loc:
        return Loc(f"{self.name}.write_protect_seq")

    @property
    def mmap_lock(self) -> Loc:
        return Loc(f"{self.name}.mmap_lock")

    @property
    def page_table_lock(self) -> Loc:
        return Loc(f"{self.name}.page_table_lock")

    def pte(self, addr: int) -> Loc:
        return _pte_loc(self.name, addr >> PAGE_SHIFT)

    def pmd(self, addr: int) -> Loc:
        return _pmd_loc(self.name, addr >> PMD_SHIFT)

    def ptl(self, addr: int) -> Loc:
        """The split PTE-table lock of the table that maps ``addr``."""
        return _ptl_loc(self.name, addr >> PMD_SHIFT)

    def find_vma(self, addr: int) -> Vma | None:
        for vma in self.vmas:
            if vma.vm_start <= addr < vma.vm_end:
                return vma
        return None

    def __str__(self) -> str:
        return self.name


@cache
def _pte_loc(mm: str, vpn: int) -> Loc:
    return Loc(f"{mm}.pte[{vpn:#x}]")


@cache
def _pmd_loc(mm: str, idx: int) -> Loc:
    return Loc(f"{mm}.pmd[{idx:#x}]")


@cache
def _ptl_loc(mm: str, idx: int) -> Loc:
    return Loc(f"{mm}.ptl[{idx:#x}]")


NR_FOLL_PIN_ACQUIRED: Final = Loc("vmstat.nr_foll_pin_acquired")
# The hugetlb pool of the one huge page size the machine has (PMD size).
FREE_HUGE_PAGES: Final = Loc("hstate.free_huge_pages")
NR_FOLL_PIN_RELEASED: Final = Loc("vmstat.nr_foll_pin_released")


@dataclass(eq=False)
class Machine:
    """The whole system: its era, and registries the sequential process API maintains.

    ``mms`` and ``files`` are what the rmap walk and the invariant checker
    iterate over.  Only the process API adds to or removes from them.
    """

    era: Era
    arch: Arch = X86  # what its page-table primitives and TLB flushes do (kernel/arch.py)
    mms: dict[str, MmStruct] = field(default_factory=dict)
    files: dict[int, AddressSpace] = field(default_factory=dict)
    # movablecore=: user memory (movable allocations) comes from ZONE_MOVABLE,
    # which FOLL_LONGTERM must not pin (it migrates such pages first).
    movablecore: bool = False
    # /sys/kernel/mm/transparent_hugepage: the anon orders a fault may allocate
    # in VM_HUGEPAGE VMAs ("always" or "madvise" per size), and use_zero_page.
    thp_orders: frozenset[int] = frozenset()
    thp_use_zero_page: bool = True
    hugetlb_free: int = 0  # free huge pages in the pool (nr_hugepages of one size)

    def file_of_mapping(self, mapping: int) -> AddressSpace | None:
        return self.files.get(mapping >> 2)

    def boot_memory(self) -> dict[Loc, Any]:
        """Initial memory: the shared zero page exists and is never freed."""
        zero = pfn_folio(ZERO_PFN)
        huge = pfn_folio(HUGE_ZERO_PFN)
        return {
            zero._refcount: 1,
            zero._mapcount: -1,
            zero.flags: 1 << PG_uptodate,
            huge._refcount: 1,
            huge._mapcount: -1,
            huge._entire_mapcount: -1,
            huge.flags: 1 << PG_uptodate,
            FREE_HUGE_PAGES: self.hugetlb_free,
        }


@dataclass(eq=False)
class Cpu:
    """A thread's context: where new objects get their deterministic names from."""

    machine: Machine
    id: int = 0
    # PF_MEMALLOC_PIN (memalloc_pin_save()): allocations avoid ZONE_MOVABLE.
    memalloc_pin: bool = False
    _pfns: int = 0
    _slots: int = 0
    _mms: int = 0
    _large: int = 0

    @property
    def era(self) -> Era:
        return self.machine.era

    def new_pfn(self, movable: bool = False) -> int:
        """A new pfn: in ZONE_MOVABLE for a movable allocation on a movablecore machine."""
        self._pfns += 1
        in_movable = movable and self.machine.movablecore and not self.memalloc_pin
        base = ZONE_MOVABLE_START_PFN if in_movable else 0x100
        return base + self.id * _PFNS_PER_CPU + self._pfns

    def new_large_pfn(self, order: int, hugetlb: bool = False) -> int:
        self._large += 1
        return large_pfn(order, self.id, self._large, hugetlb)

    def new_swap_offset(self) -> int:
        self._slots += 1
        return self.id * _PFNS_PER_CPU + self._slots

    def new_swap_cluster(self, nr: int) -> int:
        """The first of ``nr`` new contiguous slots, aligned to ``nr`` (a power of two).

        A large folio's slots are naturally aligned in the kernel (a THP takes
        a whole SWAPFILE_CLUSTER, an mTHP an order-aligned run), which is what
        lets folio_file_page() find a slot's page from the offset's low bits.
        """
        first = (self._slots + nr) & ~(nr - 1)
        self._slots = first + nr - 1
        return self.id * _PFNS_PER_CPU + first

    def new_mm_name(self) -> str:
        self._mms += 1
        return f"mm{self.id}.{self._mms}"


def folio_is_anon_mapping(mapping: Any) -> Any:
    return (mapping & PAGE_MAPPING_ANON) != 0
