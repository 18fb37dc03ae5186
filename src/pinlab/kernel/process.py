"""A thin process API: drive the kernel model the way a selftest drives a kernel.

:class:`System` is one machine in one era; :class:`Process` offers the system
calls cow.c and gup_longterm.c use (mmap, munmap, mprotect, madvise, fork,
exit, loads and stores, vmsplice and pipe reads, io_uring fixed buffers, the
gup_test ioctls, clear_refs, pagemap, memfd/tmpfile with fallocate/pread).
Each call runs kernel paths on the sequential executor, whose after-step
hook checks the invariants.

The API also keeps what the callers believe: every page a GUP user holds
(pipe buffer, io_uring buffer, gup_test pin) is a :class:`GupRef`, created
when GUP returns it and dropped before it is released.  munmap, MADV_DONTNEED
and exit detach the refs of their range (a pin does not survive an explicit
unmap's meaning: spec §2.9 in docs/labels.md).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Final

from pinlab.engine import Memory, SequentialExecutor, kapi
from pinlab.kernel import drivers
from pinlab.kernel.arch import X86, Arch
from pinlab.kernel.checker import InvariantChecker, kernel_stack
from pinlab.kernel.defs import (
    EINVAL,
    MMF_HAS_PINNED,
    PAGE_MAPPING_ANON,
    PAGE_SIZE,
    PMD_SIZE,
    VM_SOFTDIRTY,
    vm_flags_t,
)
from pinlab.kernel.eras import Era
from pinlab.kernel.fork import dup_mmap
from pinlab.kernel.gup import vma_needs_dirty_tracking
from pinlab.kernel.huge_mm import pmd_pte, pmd_trans_huge
from pinlab.kernel.hugetlb import hugetlbfs_fallocate
from pinlab.kernel.internal import is_cow_mapping
from pinlab.kernel.ksm import ksm_do_scan
from pinlab.kernel.migrate import move_pages
from pinlab.kernel.mm_types import (
    FILESYSTEMS,
    FREE_HUGE_PAGES,
    AddressSpace,
    Cpu,
    Machine,
    MmStruct,
    Page,
    pfn_folio,
)
from pinlab.kernel.mmap import (
    MADV_DONTNEED,
    do_madvise,
    do_mmap,
    do_mprotect,
    do_mremap_fixed,
    do_munmap,
    exit_mmap,
)
from pinlab.kernel.mprotect import clear_refs_soft_dirty_range
from pinlab.kernel.pte import SWP_SWAPFILE, pte_present, pte_swp_exclusive, swp_type
from pinlab.kernel.uaccess import user_access
from pinlab.kernel.view import GupRef
from pinlab.kernel.writeback import writeback_mapping

VM_MERGEABLE: Final = vm_flags_t.VM_MERGEABLE
PIN_LONGTERM_TEST_FLAG_USE_WRITE: Final = 1
PIN_LONGTERM_TEST_FLAG_USE_FAST: Final = 2
CLEAR_REFS_SOFT_DIRTY: Final = 4


class System:
    """One machine running one era, driven one system call at a time."""

    def __init__(
        self,
        era: Era,
        *,
        strict: bool = True,
        arch: Arch = X86,
        movablecore: bool = False,
        thp_orders: frozenset[int] = frozenset(),
        hugetlb_pages: int = 0,
    ) -> None:
        self.era = era
        self.machine = Machine(
            era,
            arch,
            movablecore=movablecore,
            thp_orders=thp_orders,
            hugetlb_free=hugetlb_pages,
        )
        self.cpu = Cpu(self.machine)
        self.refs: list[GupRef] = []
        self.births: dict[str, int] = {}  # mm name -> epoch of its creation
        self.epoch = 0  # the process API's clock: one tick per system call
        self.checker = InvariantChecker(era, self.machine, self.refs, self.births, strict=strict)
        memory = self.checker.memory(self.machine.boot_memory())
        self.executor = SequentialExecutor(memory, after_step=self.checker.after_step)
        self.checker.attach(self.executor)
        self.checker.where = lambda: kernel_stack(self._running)
        self._running: Any = None
        self._pids = 0
        self._files = 0

    @property
    def memory(self) -> Memory:
        return self.executor.memory

    def run(self, syscall: str, gen: Generator[Any, Any, Any]) -> Any:
        """Run one kernel path to completion (a system call, an ioctl)."""
        self._running, self.checker.syscall = gen, syscall
        self.epoch += 1
        try:
            return self.executor.run(gen)
        finally:
            self._running = None

    def memory_free_huge_pages(self) -> int:
        """/sys/kernel/mm/hugepages/.../free_hugepages."""
        return int(self.memory[FREE_HUGE_PAGES])

    def settle(self, why: str) -> None:
        """Check the invariants after a change of the callers' beliefs (refs)."""
        self.checker.syscall = why
        self.checker.check()

    def spawn(self) -> Process:
        mm = MmStruct(self.cpu.new_mm_name(), arch=self.machine.arch)
        self.register(mm)
        return self._process(mm)

    def register(self, mm: MmStruct) -> None:
        """A new mm (spawned, or a fork's child) joins the machine."""
        self.machine.mms[mm.name] = mm
        self.births[mm.name] = self.epoch

    def _process(self, mm: MmStruct) -> Process:
        self._pids += 1
        return Process(self, mm, self._pids)

    def _file(self, name: str, fstype: str) -> AddressSpace:
        if fstype not in FILESYSTEMS:
            raise ValueError(f"unknown filesystem {fstype!r}")
        self._files += 1
        f = AddressSpace(self._files, f"{name}{self._files}", fstype == "tmpfs", fstype)
        self.machine.files[f.id] = f
        return f

    def memfd_create(self, hugetlb: bool = False) -> AddressSpace:
        """memfd_create(): a shmem file, or a hugetlbfs file with MFD_HUGETLB."""
        if hugetlb:
            self._files += 1
            f = AddressSpace(
                self._files, f"memfd_hugetlb{self._files}", True, "hugetlbfs", hugetlb=True
            )
            self.machine.files[f.id] = f
            return f
        return self._file("memfd", "tmpfs")

    def tmpfile(self, fstype: str = "ext4") -> AddressSpace:
        """tmpfile() (or mkstemp() + unlink()) on a filesystem of type ``fstype``.

        ext4, xfs and btrfs write back and track dirtying; tmpfs is shmem.
        """
        return self._file("tmpfile", fstype)

    def sync(self, file: AddressSpace) -> int:
        """fsync(): write the file's dirty pages back (folio_mkclean() first)."""
        return int(self.run("fsync", writeback_mapping(self.cpu, self.machine, file)))

    def fallocate(self, file: AddressSpace, offset: int, length: int) -> int:
        """fallocate(): allocate zeroed pagecache pages for the range."""
        if file.hugetlb:
            for off in range(offset, offset + length, PMD_SIZE):
                ret = self.run("fallocate", hugetlbfs_fallocate(self.cpu, file, off // PMD_SIZE))
                if ret:
                    return int(ret)
            return 0
        for off in range(offset, offset + length, PAGE_SIZE):
            self.run("fallocate", drivers.file_write_page(self.cpu, file, off // PAGE_SIZE, 0))
        return 0

    def ksmd(self, targets: list[tuple[Process, int]]) -> int:
        """One ksmd pass over the pages at ``targets`` in VM_MERGEABLE VMAs; pages merged."""
        pairs = []
        for proc, addr in targets:
            vma = proc.mm.find_vma(addr)
            if vma is not None and vma.vm_flags & VM_MERGEABLE:
                pairs.append((proc.mm, addr))
        return int(self.run("ksmd", ksm_do_scan(self.cpu, pairs)))

    def pread(self, file: AddressSpace, offset: int, length: int) -> list[int]:
        return [
            self.run("pread", drivers.file_read_page(self.cpu, file, off // PAGE_SIZE))
            for off in range(offset, offset + length, PAGE_SIZE)
        ]


@dataclass(eq=False)
class Pipe:
    """A pipe: buffers holding the pages vmsplice took (with the caller-side refs)."""

    system: System
    bufs: list[tuple[Page, GupRef]] = field(default_factory=list)

    def read(self) -> list[int]:
        """read() the whole pipe: copy each page out and release it."""
        out = []
        while self.bufs:
            page, ref = self.bufs.pop(0)
            self.system.refs.remove(ref)
            out.append(self.system.run("pipe_read", drivers.pipe_buf_read(self.system.cpu, page)))
        return out


@dataclass(eq=False)
class PinSession:
    """Pages a driver keeps pinned: an io_uring fixed buffer, a gup_test session."""

    proc: Process
    holder: str
    pages: list[Page] = field(default_factory=list)
    refs: list[GupRef] = field(default_factory=list)

    def release(self) -> None:
        system = self.proc.system
        for ref in self.refs:
            system.refs.remove(ref)
        self.refs.clear()
        if self.holder == "io_uring":
            system.run(
                "io_uring_unregister_buffers", drivers.io_buffer_unmap(system.cpu, self.pages)
            )
            self.pages.clear()
        else:
            system.run(
                "PIN_LONGTERM_TEST_STOP", drivers.pin_longterm_test_stop(system.cpu, self.pages)
            )


class Process:
    """A process: an mm and the system calls that act on it."""

    def __init__(self, system: System, mm: MmStruct, pid: int) -> None:
        self.system, self.mm, self.pid = system, mm, pid
        self.alive = True
        self.sessions: list[PinSession] = []

    @property
    def cpu(self) -> Cpu:
        return self.system.cpu

    def _run(self, syscall: str, gen: Generator[Any, Any, Any]) -> Any:
        assert self.alive, f"pid {self.pid} has exited"
        return self.system.run(syscall, gen)

    # --- address space -------------------------------------------------------------
    def mmap(
        self, length: int, prot: int, flags: int, file: AddressSpace | None = None, offset: int = 0
    ) -> int:
        gen = do_mmap(self.cpu, self.mm, length, prot, flags, file, offset, True)
        return int(self._run("mmap", gen))

    def mremap(self, addr: int, length: int, new_addr: int) -> int:
        """mremap(addr, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr)."""
        for ref in self.system.refs:
            if ref.mm == self.mm.name and addr <= ref.addr < addr + length:
                ref.attached = False  # moved away: no longer where it was pinned
        return int(self._run("mremap", do_mremap_fixed(self.cpu, self.mm, addr, length, new_addr)))

    def munmap(self, addr: int, length: int) -> int:
        self._detach(addr, addr + length)
        return int(self._run("munmap", do_munmap(self.cpu, self.mm, addr, length)))

    def mprotect(self, addr: int, length: int, prot: int) -> int:
        return int(self._run("mprotect", do_mprotect(self.cpu, self.mm, addr, length, prot)))

    def madvise(self, addr: int, length: int, advice: int) -> int:
        if advice == MADV_DONTNEED:
            self._detach(addr, addr + length)
        return int(self._run("madvise", do_madvise(self.cpu, self.mm, addr, length, advice)))

    def move_pages(self, addrs: list[int]) -> int:
        """move_pages(2) to another node: migrate the pages; how many could not be moved."""
        vma = self.mm.find_vma(addrs[0])
        assert vma is not None
        return int(self._run("move_pages", move_pages(self.cpu, self.cpu.machine, vma, addrs)))

    def _detach(self, start: int, end: int) -> None:
        for ref in self.system.refs:
            if ref.mm == self.mm.name and start <= ref.addr < end:
                ref.attached = False

    def fork(self) -> Process:
        mm = self._run("fork", dup_mmap(self.cpu, self.mm))
        if isinstance(mm, int):
            raise OSError(-mm, f"fork: {mm}")
        self.system.register(mm)
        self.system.settle("fork")
        return self.system._process(mm)

    def exit(self) -> None:
        for session in list(self.sessions):
            session.release()
        self.sessions.clear()
        self._detach(0, 1 << 64)
        self._run("exit", exit_mmap(self.cpu, self.mm))
        del self.system.machine.mms[self.mm.name]
        self.alive = False
        self.system.settle("exit")

    # --- memory access --------------------------------------------------------------------
    def read(self, addr: int) -> int:
        err, data = self._run("load", user_access(self.cpu, self.mm, addr, False))
        if err:
            raise MemoryError(f"SIGSEGV reading {addr:#x}")
        return int(data)

    def write(self, addr: int, value: int) -> None:
        err, _ = self._run("store", user_access(self.cpu, self.mm, addr, True, value))
        if err:
            raise MemoryError(f"SIGSEGV writing {addr:#x}")

    def memset(self, addr: int, value: int, length: int) -> None:
        for a in range(addr, addr + length, PAGE_SIZE):
            self.write(a, value)

    def memcpy(self, addr: int, length: int) -> list[int]:
        return [self.read(a) for a in range(addr, addr + length, PAGE_SIZE)]

    # --- GUP users ------------------------------------------------------------------------------
    def _refs_for(
        self, pages: list[Page], addr: int, holder: str, pin: bool, **kw: bool
    ) -> list[GupRef]:
        refs = []
        for i, page in enumerate(pages):
            a = addr + i * PAGE_SIZE
            vma = self.mm.find_vma(a)
            assert vma is not None
            mapping = int(self.system.memory[pfn_folio(page.pfn).mapping])
            refs.append(
                GupRef(
                    pin,
                    holder,
                    self.mm.name,
                    a,
                    page.pfn,
                    bool(mapping & PAGE_MAPPING_ANON),
                    is_cow_mapping(vma.vm_flags),
                    dirty_tracked=vma_needs_dirty_tracking(vma),
                    epoch=self.system.epoch,
                    **kw,
                )
            )
        self.system.refs.extend(refs)
        self.system.settle(holder)
        return refs

    def pipe(self) -> Pipe:
        return Pipe(self.system)

    def vmsplice(self, pipe: Pipe, addr: int, length: int) -> int:
        pages: list[Page] = []
        gen = drivers.vmsplice_to_pipe(self.cpu, self.mm, addr, length // PAGE_SIZE, pages)
        ret = int(self._run("vmsplice", gen))
        refs = self._refs_for(pages, addr, "vmsplice", False)
        pipe.bufs.extend(zip(pages, refs, strict=True))
        return ret

    def io_uring_register_buffers(self, addr: int, length: int) -> PinSession | int:
        if not self.system.era.io_uring:
            return -EINVAL  # io_uring_queue_init() fails: no such system call
        s = PinSession(self, "io_uring")
        ret = self._run(
            "io_uring_register_buffers",
            drivers.io_pin_pages(self.cpu, self.mm, addr, length // PAGE_SIZE, s.pages),
        )
        if ret:
            return int(ret)
        s.refs = self._refs_for(
            s.pages, addr, "io_uring", True, longterm=True, write=True, fast=True
        )
        self.sessions.append(s)
        return s

    def io_uring_write_fixed(self, s: PinSession, file: AddressSpace, offset: int) -> int:
        """IORING_OP_WRITE_FIXED: the device reads the pinned pages and writes them to ``file``."""
        for i, page in enumerate(s.pages):
            data = self._run("write_fixed", drivers.io_write_fixed_read(self.cpu, page))
            self._run(
                "write_fixed",
                drivers.file_write_page(self.cpu, file, offset // PAGE_SIZE + i, data),
            )
        return len(s.pages) * PAGE_SIZE

    def io_uring_unregister_buffers(self, s: PinSession) -> None:
        self.sessions.remove(s)
        s.release()

    def pin_longterm_test_start(self, addr: int, size: int, flags: int) -> PinSession | int:
        """ioctl(gup_fd, PIN_LONGTERM_TEST_START): 0-style errors come back as -errno."""
        s = PinSession(self, "gup_test")
        write = bool(flags & PIN_LONGTERM_TEST_FLAG_USE_WRITE)
        fast = bool(flags & PIN_LONGTERM_TEST_FLAG_USE_FAST)
        gen = drivers.pin_longterm_test_start(self.cpu, self.mm, addr, size, write, fast, s.pages)
        ret = int(self._run("PIN_LONGTERM_TEST_START", gen))
        if ret:
            return ret
        s.refs = self._refs_for(
            s.pages, addr, "gup_test", True, longterm=True, write=write, fast=fast
        )
        self.sessions.append(s)
        return s

    def pin_longterm_test_read(self, s: PinSession) -> list[int]:
        return list(
            self._run("PIN_LONGTERM_TEST_READ", drivers.pin_longterm_test_read(self.cpu, s.pages))
        )

    def pin_longterm_test_stop(self, s: PinSession) -> None:
        self.sessions.remove(s)
        s.release()

    # --- /proc ---------------------------------------------------------------------------------
    def clear_refs(self, value: int) -> int:
        """``echo value > /proc/self/clear_refs``: 4 clears the soft-dirty bits."""
        if value != CLEAR_REFS_SOFT_DIRTY:
            return -EINVAL
        return int(self._run("clear_refs", _clear_refs_soft_dirty(self.cpu, self.mm)))

    def _pte(self, addr: int) -> int:
        """What pagemap reports for ``addr``: its PTE, or that of its huge PMD."""
        pmd = int(self.system.memory[self.mm.pmd(addr)])
        if pmd_trans_huge(pmd):
            return pmd_pte(pmd, (addr % PMD_SIZE) // PAGE_SIZE)
        if not pmd:
            return 0
        return int(self.system.memory[self.mm.pte(addr)])

    def pagemap_is_swapped(self, addr: int) -> bool:
        pte = self._pte(addr)
        return bool(pte) and not pte_present(pte) and swp_type(pte) == SWP_SWAPFILE

    def pagemap_is_populated(self, addr: int) -> bool:
        return bool(self._pte(addr))

    def has_pinned(self) -> bool:
        return bool(int(self.system.memory[self.mm.flags]) >> MMF_HAS_PINNED & 1)

    def swp_exclusive(self, addr: int) -> bool:
        return bool(pte_swp_exclusive(int(self.system.memory[self.mm.pte(addr)])))


def _clear_refs_soft_dirty(cpu: Cpu, mm: MmStruct) -> Generator[Any, Any, Any]:
    """Model of fs/proc/task_mmu.c:clear_refs_write(CLEAR_REFS_SOFT_DIRTY)."""
    yield from kapi.spin_lock(mm.mmap_lock)  # mmap_write_lock(): vm_flags change
    for i, vma in enumerate(list(mm.vmas)):
        if vma.vm_flags & VM_SOFTDIRTY:
            mm.vmas[i] = vma = vma.replace(vm_flags=vma.vm_flags & ~VM_SOFTDIRTY)
        yield from clear_refs_soft_dirty_range(cpu, vma)
    yield from kapi.spin_unlock(mm.mmap_lock)
    return 0
