"""The process API: system calls, GUP users and the refs it keeps for the checker."""

from __future__ import annotations

from typing import Any

from pinlab.kernel.defs import EINVAL
from pinlab.kernel.mmap import (
    MADV_DONTFORK,
    MADV_DONTNEED,
    MADV_NOHUGEPAGE,
    MADV_PAGEOUT,
    MADV_WIPEONFORK,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_READ,
    PROT_WRITE,
)
from pinlab.kernel.process import PIN_LONGTERM_TEST_FLAG_USE_WRITE, PinSession
from pinlab.kernel.pte import pte_present, pte_write


def test_mmap_write_read_fork_exit(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc, 5)
    child = proc.fork()
    assert child.read(addr) == 5
    child.write(addr, 6)
    assert proc.read(addr) == 5 and child.read(addr) == 6
    folio = k.folio(proc, addr)
    child.exit()
    assert system.memory[folio._refcount] == 1 and child.mm.name not in system.machine.mms


def test_mprotect_and_madvise(k: Any) -> None:
    _system, proc = k.boot()
    addr = k.anon_page(proc)
    assert proc.madvise(addr, 4096, MADV_NOHUGEPAGE) == 0, "THP is configured"
    assert proc.mprotect(addr, 4096, PROT_READ) == 0 and not pte_write(k.pte(proc, addr))
    assert proc.mprotect(addr, 4096, PROT_READ | PROT_WRITE) == 0
    assert pte_write(k.pte(proc, addr)), "v6.0+: an exclusive page is upgraded at once"
    assert proc.madvise(addr, 4096, MADV_DONTNEED) == 0 and not k.pte(proc, addr)
    assert proc.read(addr) == 0, "refaults as a new (zero) page"


def test_dontfork_and_wipeonfork(k: Any) -> None:
    _system, proc = k.boot()
    a, b = k.anon_page(proc, 1), k.anon_page(proc, 2)
    assert proc.madvise(a, 4096, MADV_DONTFORK) == 0
    assert proc.madvise(b, 4096, MADV_WIPEONFORK) == 0
    child = proc.fork()
    assert child.mm.find_vma(a) is None
    assert child.read(b) == 0 and proc.read(b) == 2


def test_pageout_only_from_v5_4(k: Any) -> None:
    for era, swapped in (("v4.20", False), ("v5.7", True)):
        _system, proc = k.boot(era)
        addr = k.anon_page(proc, 3)
        proc.madvise(addr, 4096, MADV_PAGEOUT)
        assert proc.pagemap_is_swapped(addr) == swapped
        assert proc.read(addr) == 3


def test_vmsplice_reference_lives_in_the_pipe(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc, 9)
    folio = k.folio(proc, addr)
    pipe = proc.pipe()
    assert proc.vmsplice(pipe, addr, 4096) == 4096
    assert system.memory[folio._refcount] == 2 and len(system.refs) == 1
    assert pipe.read() == [9] and system.refs == []
    assert system.memory[folio._refcount] == 1


def test_io_uring_and_gup_test_pins(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc, 4)
    ring = proc.io_uring_register_buffers(addr, 4096)
    assert isinstance(ring, PinSession)
    pin = proc.pin_longterm_test_start(addr, 4096, PIN_LONGTERM_TEST_FLAG_USE_WRITE)
    assert isinstance(pin, PinSession)
    assert system.memory[k.folio(proc, addr)._refcount] == 1 + 2 * 1024
    proc.write(addr, 8)
    assert proc.pin_longterm_test_read(pin) == [8]
    file = system.tmpfile()
    assert proc.io_uring_write_fixed(ring, file, 0) == 4096 and system.pread(file, 0, 4096) == [8]
    proc.pin_longterm_test_stop(pin)
    proc.io_uring_unregister_buffers(ring)
    assert system.memory[k.folio(proc, addr)._refcount] == 1 and system.refs == []
    _s, old = k.boot("v4.20")
    assert old.io_uring_register_buffers(k.anon_page(old), 4096) == -EINVAL


def test_file_mappings_and_clear_refs(k: Any) -> None:
    system, proc = k.boot()
    fd = system.memfd_create()
    assert system.fallocate(fd, 0, 4096) == 0
    mem = proc.mmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
    smem = proc.mmap(4096, PROT_READ, MAP_SHARED, fd, 0)
    assert proc.read(mem) == 0 == proc.read(smem)
    proc.write(mem, 7)
    assert proc.read(smem) == 0 and system.pread(fd, 0, 4096) == [0], "private: COW"
    assert proc.clear_refs(4) == 0
    assert pte_present(k.pte(proc, mem)) and not pte_write(k.pte(proc, mem))
