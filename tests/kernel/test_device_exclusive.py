"""Device-exclusive entries: making, restoring on CPU access and at fork, per era."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from pinlab.engine import kapi
from pinlab.kernel.defs import PAGE_SIZE, PG_locked
from pinlab.kernel.device_exclusive import (
    device_exclusive_page,
    make_device_exclusive_entry,
)
from pinlab.kernel.folio import folio_put, folio_unlock
from pinlab.kernel.mm_types import pfn_folio
from pinlab.kernel.mmu_notifier import (
    MMU_NOTIFY_CLEAR,
    MMU_NOTIFY_EXCLUSIVE,
    MMU_NOTIFY_PROTECTION_PAGE,
)
from pinlab.kernel.pte import (
    is_device_exclusive_entry,
    pte_present,
    pte_swp_soft_dirty,
    pte_to_swp_entry,
    pte_write,
    pte_young,
)
from pinlab.kernel.svm_driver import nouveau_atomic_range_fault, svm_device_attach


def _exclusive(k: Any, era: str) -> Any:
    """A process with one written anon page, made device-exclusive; folio still locked."""
    system, proc = k.boot(era, strict=False)
    addr = k.anon_page(proc, 7)
    pfn = k.pte(proc, addr) >> 12
    dev = svm_device_attach("dev", proc.mm, addr, addr + PAGE_SIZE)
    page = system.run("make", device_exclusive_page(system.cpu, proc.mm, addr, dev))
    assert not isinstance(page, int), page
    return system, proc, addr, pfn, dev, page


def _mapcount(system: Any, pfn: int) -> int:
    return int(system.memory[pfn_folio(pfn)._mapcount]) + 1


@pytest.mark.parametrize(("era", "mapcount"), [("current", 1), ("v6.5", 0), ("v5.19", 0)])
def test_make_device_exclusive_installs_the_entry_and_keeps_the_folio_locked(
    k: Any, era: str, mapcount: int
) -> None:
    """v6.15 keeps the mapcount; v5.14-v6.14 dropped it and kept only the reference."""
    system, proc, addr, pfn, dev, _page = _exclusive(k, era)
    # The soft-dirty bit of the written PTE is carried into the entry.
    assert pte_to_swp_entry(k.pte(proc, addr)) == make_device_exclusive_entry(pfn)
    assert pte_swp_soft_dirty(k.pte(proc, addr))
    assert _mapcount(system, pfn) == mapcount
    assert int(system.memory[pfn_folio(pfn)._refcount]) == 2  # mapping + GUP reference
    assert int(system.memory[pfn_folio(pfn).flags]) >> PG_locked & 1
    # The driver filters its own MMU_NOTIFY_EXCLUSIVE: nothing revoked.
    assert system.memory.get(dev.last_event, 0) == 0
    assert system.memory.get(dev.notifier.invalidate_seq, 0) == 0  # its sequence untouched


def test_no_device_exclusive_before_v5_14(k: Any) -> None:
    system, proc = k.boot("v5.11", strict=False)
    addr = k.anon_page(proc)
    ret = system.run("make", device_exclusive_page(system.cpu, proc.mm, addr, None))
    assert ret == -errno.EOPNOTSUPP


@pytest.mark.parametrize("era", ["current", "v6.5"])
def test_a_cpu_access_restores_the_pte_after_revoking_the_device(k: Any, era: str) -> None:
    system, proc, addr, pfn, dev, _page = _exclusive(k, era)
    folio = pfn_folio(pfn)
    system.run("unlock", folio_unlock(folio))
    system.run("put", folio_put(folio))
    system.run("program", kapi.WRITE_ONCE(dev.atomic_pfn, pfn))
    assert proc.read(addr) == 7
    pte = k.pte(proc, addr)
    assert pte_present(pte) and pte >> 12 == pfn and not pte_young(pte) and pte_write(pte)
    assert _mapcount(system, pfn) == 1
    assert system.memory[dev.atomic_pfn] == 0
    # Before the 2025 rework the revocation was MMU_NOTIFY_EXCLUSIVE (owner NULL).
    event = MMU_NOTIFY_CLEAR if era == "current" else MMU_NOTIFY_EXCLUSIVE
    assert system.memory[dev.last_event] == int(event) + 1


@pytest.mark.parametrize("era", ["current", "v6.5"])
def test_fork_restores_the_parent_pte_then_shares_it(k: Any, era: str) -> None:
    system, proc, addr, pfn, dev, _page = _exclusive(k, era)
    folio = pfn_folio(pfn)
    system.run("unlock", folio_unlock(folio))
    system.run("put", folio_put(folio))
    system.run("program", kapi.WRITE_ONCE(dev.atomic_pfn, pfn))
    child = proc.fork()
    assert system.memory[dev.atomic_pfn] == 0
    assert system.memory[dev.last_event] == int(MMU_NOTIFY_PROTECTION_PAGE) + 1
    for p in (proc, child):
        pte = k.pte(p, addr)
        assert pte_present(pte) and pte >> 12 == pfn and not pte_write(pte)
    assert _mapcount(system, pfn) == 2
    assert child.read(addr) == 7


@pytest.mark.parametrize("era", ["current", "v6.5"])
def test_fork_fails_while_the_driver_holds_the_folio_lock(k: Any, era: str) -> None:
    """try_restore_exclusive_pte()'s trylock fails: -EBUSY, which fork reports as -ENOMEM."""
    system, proc, addr, _pfn, _dev, _page = _exclusive(k, era)
    with pytest.raises(OSError) as e:
        proc.fork()
    assert e.value.errno == errno.ENOMEM
    assert is_device_exclusive_entry(k.pte(proc, addr))
    assert len(system.machine.mms) == 1


@pytest.mark.parametrize("era", ["current", "v6.5"])
def test_the_driver_fault_programs_the_device(k: Any, era: str) -> None:
    system, proc = k.boot(era, strict=False)
    addr = k.anon_page(proc, 3)
    pfn = k.pte(proc, addr) >> 12
    dev = svm_device_attach("dev", proc.mm, addr, addr + PAGE_SIZE)
    assert system.run("atomic", nouveau_atomic_range_fault(system.cpu, dev, addr)) == 0
    assert system.memory[dev.atomic_pfn] == pfn
    assert not int(system.memory[pfn_folio(pfn).flags]) >> PG_locked & 1
    assert int(system.memory[pfn_folio(pfn)._refcount]) == 1
    assert is_device_exclusive_entry(k.pte(proc, addr))
    assert int(MMU_NOTIFY_EXCLUSIVE) == 7


@pytest.mark.parametrize(("era", "revoked"), [("v6.5", False), ("current", True)])
def test_a_driver_that_skips_every_exclusive_event_misses_the_cpu_revocation(
    k: Any, era: str, revoked: bool
) -> None:
    """What-if driver (filters_owner=False): before the 2025 rework the CPU's
    revocation was MMU_NOTIFY_EXCLUSIVE, so such a driver keeps atomic access."""
    system, proc = k.boot(era, strict=False)
    addr = k.anon_page(proc, 7)
    pfn = k.pte(proc, addr) >> 12
    dev = svm_device_attach("dev", proc.mm, addr, addr + PAGE_SIZE, filters_owner=False)
    assert system.run("fault", nouveau_atomic_range_fault(system.cpu, dev, addr)) == 0
    assert system.memory[dev.atomic_pfn] == pfn
    proc.write(addr, 9)  # the CPU faults on the entry and restores the PTE
    assert pte_present(k.pte(proc, addr)) and k.pte(proc, addr) >> 12 == pfn
    assert (system.memory[dev.atomic_pfn] == 0) is revoked
