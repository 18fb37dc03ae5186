"""Writeback: folio_mkclean() write-protects shared PTEs; pins are not consulted (spec 6 L12)."""

from __future__ import annotations

from typing import Any

import pytest

from pinlab.engine import kapi
from pinlab.kernel.defs import PG_dirty
from pinlab.kernel.mm_types import FILESYSTEMS, Page
from pinlab.kernel.mmap import MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE
from pinlab.kernel.pin import unpin_user_pages_dirty_lock
from pinlab.kernel.process import PIN_LONGTERM_TEST_FLAG_USE_WRITE, PinSession
from pinlab.kernel.pte import pte_dirty, pte_write

PAGE = 4096


def _dirty(system: Any, folio: Any) -> bool:
    return bool(int(system.memory[folio.flags]) >> PG_dirty & 1)


def _shared_file(k: Any, fstype: str, era: str = "current") -> Any:
    system, proc = k.boot(era, strict=False)
    file = system.tmpfile(fstype)
    system.fallocate(file, 0, PAGE)
    addr = proc.mmap(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0)
    return system, proc, file, addr


def test_writeback_cleans_and_write_protects_the_shared_pte(k: Any) -> None:
    system, proc, file, addr = _shared_file(k, "ext4")
    proc.write(addr, 5)
    assert pte_write(k.pte(proc, addr)) and pte_dirty(k.pte(proc, addr))
    assert system.sync(file) == 1
    pte, folio = k.pte(proc, addr), k.folio(proc, addr)
    assert not pte_write(pte) and not pte_dirty(pte) and not _dirty(system, folio)
    assert system.memory[file.disk(0)] == 5
    proc.write(addr, 6)  # faults: ->page_mkwrite dirties the folio again
    assert _dirty(system, folio) and system.sync(file) == 1
    assert system.memory[file.disk(0)] == 6


def test_a_private_mapping_is_left_alone(k: Any) -> None:
    system, proc, file, addr = _shared_file(k, "xfs")
    proc.write(addr, 3)
    priv = proc.mmap(PAGE, PROT_READ, MAP_PRIVATE, file, 0)
    proc.read(priv)
    before = k.pte(proc, priv)
    assert system.sync(file) == 1
    assert k.pte(proc, priv) == before and k.folio(proc, priv) == k.folio(proc, addr)


@pytest.mark.parametrize("fstype", FILESYSTEMS)
def test_only_disk_filesystems_write_back(k: Any, fstype: str) -> None:
    system, proc, file, addr = _shared_file(k, fstype)
    proc.write(addr, 5)
    assert system.sync(file) == (0 if fstype == "tmpfs" else 1)
    assert pte_write(k.pte(proc, addr)) == (fstype == "tmpfs")


def test_a_pin_writing_after_writeback_leaves_a_clean_folio_until_unpin(k: Any) -> None:
    """Spec 6 L12 on v6.2: the data DMA'd into a pinned page is on disk only after
    unpin_user_pages_dirty_lock() re-dirtied the folio (without ->page_mkwrite)."""
    system, proc, file, addr = _shared_file(k, "ext4", "v6.2")
    proc.write(addr, 1)
    pin = proc.pin_longterm_test_start(addr, PAGE, PIN_LONGTERM_TEST_FLAG_USE_WRITE)
    assert isinstance(pin, PinSession)
    system.sync(file)
    folio = k.folio(proc, addr)
    page: Page = pin.pages[0]

    def dma() -> Any:
        yield from kapi.WRITE_ONCE(page.data, 2)  # the device writes through the pin

    system.run("dma", dma())
    assert not _dirty(system, folio) and not pte_write(k.pte(proc, addr))
    assert system.sync(file) == 0 and system.memory[file.disk(0)] == 1, "written data is lost"
    for ref in pin.refs:
        system.refs.remove(ref)
    pin.refs.clear()
    proc.sessions.remove(pin)
    system.run("unpin", unpin_user_pages_dirty_lock(system.cpu, pin.pages, True))
    assert _dirty(system, folio) and system.sync(file) == 1
    assert system.memory[file.disk(0)] == 2


@pytest.mark.parametrize(("fstype", "refused"), [(f, f != "tmpfs") for f in FILESYSTEMS])
def test_v6_5_refuses_writable_longterm_pins_on_dirty_tracked_files(
    k: Any, fstype: str, refused: bool
) -> None:
    for era, expect in (("v6.2", False), ("v6.5", refused)):
        _, proc, _, addr = _shared_file(k, fstype, era)
        pin = proc.pin_longterm_test_start(addr, PAGE, PIN_LONGTERM_TEST_FLAG_USE_WRITE)
        assert (pin == -14) == expect, (era, fstype)
