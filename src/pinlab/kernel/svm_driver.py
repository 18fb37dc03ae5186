"""A device driver using device-exclusive access: GPU atomics on shared virtual memory.

Models the shape of drivers/gpu/drm/nouveau/nouveau_svm.c, the user that
device-exclusive entries were made for (b756a3b5e7ea): the atomic-fault
handler ``nouveau_atomic_range_fault`` and the interval-notifier callback
``nouveau_svm_range_invalidate``.  lib/test_hmm.c's ``dmirror`` follows the
same protocol.

The device's page table is one location, ``atomic_pfn``: the pfn the device
may access atomically (exclusively), 0 when none.  The protocol (L11, docs/labels.md):

- fault: ``seq = mmu_interval_read_begin``; take exclusive access (the page
  comes back locked and referenced); take the driver mutex; if
  ``mmu_interval_read_retry(seq)`` -- an invalidation ran since -- drop
  everything and start over; else program the device, unlock the mutex, and
  only then unlock and put the folio.
- invalidate: unless the event is ``MMU_NOTIFY_EXCLUSIVE`` caused by this
  driver (``range->owner``), take the mutex and clear the device mapping.

So the device holds exclusive access only while no CPU PTE maps the page:
every path that gives the page back to a CPU (fault, fork, zap) first runs an
invalidation of the range.  ``last_event`` records the last event that
revoked access (observable in final states).

Left out: the fault timeout (a bound on retries here, reported -EBUSY as the
driver's timeout is), ranges wider than a page, the driver's own GPU page
table levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from pinlab.engine import Loc, kapi
from pinlab.kernel.defs import EBUSY, EINVAL
from pinlab.kernel.device_exclusive import device_exclusive_page
from pinlab.kernel.folio import Gen, folio_put, folio_unlock
from pinlab.kernel.gup import mmap_read_lock, mmap_read_unlock
from pinlab.kernel.mm_types import Cpu, MmStruct, Page, page_folio
from pinlab.kernel.mmu_notifier import (
    MMU_NOTIFY_EXCLUSIVE,
    MmuIntervalNotifier,
    MmuNotifierRange,
    mmu_interval_notifier_insert,
    mmu_interval_read_begin,
    mmu_interval_read_retry,
    mmu_interval_set_seq,
)

__all__ = [
    "SvmDevice",
    "nouveau_atomic_map",
    "nouveau_atomic_range_fault",
    "svm_device_attach",
]

# The fault handler's retries before it gives up (the kernel's is a timeout).
_FAULT_RETRIES: Final = 2


@dataclass(frozen=True, eq=False)
class SvmDevice:
    """One device mirroring ``[start, end)`` of ``mm``: its locations and its subscription."""

    name: str
    mm: MmStruct
    start: int
    end: int
    # What-if knob: False for a driver that skips every MMU_NOTIFY_EXCLUSIVE
    # event instead of only those carrying its own owner (nouveau checks both).
    filters_owner: bool = True
    notifier: MmuIntervalNotifier = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sub = MmuIntervalNotifier(
            f"{self.name}.notifier",
            self.mm,
            self.start,
            self.end,
            self._invalidate,
            owner=self,
            sets_seq=True,
        )
        object.__setattr__(self, "notifier", sub)

    @property
    def atomic_pfn(self) -> Loc:
        """The device page table: the pfn it may access atomically, or 0."""
        return Loc(f"{self.name}.atomic_pfn")

    @property
    def mutex(self) -> Loc:
        return Loc(f"{self.name}.mutex")

    @property
    def last_event(self) -> Loc:
        """The mmu_notifier_event + 1 of the last invalidation that reached the device."""
        return Loc(f"{self.name}.last_event")

    def _invalidate(self, cpu: Cpu, r: MmuNotifierRange, cur_seq: int) -> Gen:
        return nouveau_svm_range_invalidate(cpu, self, r, cur_seq)


def svm_device_attach(
    name: str, mm: MmStruct, start: int, end: int, filters_owner: bool = True
) -> SvmDevice:
    """Set-up time: the driver's mirror of ``[start, end)`` (mmu_interval_notifier_insert())."""
    dev = SvmDevice(name, mm, start, end, filters_owner)
    mmu_interval_notifier_insert(dev.notifier)
    return dev


def nouveau_svm_range_invalidate(cpu: Cpu, dev: SvmDevice, r: MmuNotifierRange, seq: int) -> Gen:
    """Model of nouveau_svm.c:nouveau_svm_range_invalidate(): revoke the device mapping.

    The driver ignores the invalidation its own make_device_exclusive() causes.
    """
    if r.event == MMU_NOTIFY_EXCLUSIVE and (r.owner is dev or not dev.filters_owner):
        return
    yield from kapi.spin_lock(dev.mutex)  # mutex_lock(&svmm->mutex)
    yield from mmu_interval_set_seq(dev.notifier, seq)
    yield from kapi.WRITE_ONCE(dev.atomic_pfn, 0)  # nouveau_svmm_invalidate()
    yield from kapi.WRITE_ONCE(dev.last_event, int(r.event) + 1)
    yield from kapi.spin_unlock(dev.mutex)


def nouveau_atomic_range_fault(cpu: Cpu, dev: SvmDevice, addr: int) -> Gen:
    """Model of nouveau_svm.c:nouveau_atomic_range_fault(): map ``addr`` for device atomics.

    Returns 0 with the device programmed, or -errno.
    """
    mm = dev.mm
    for _ in range(_FAULT_RETRIES):
        seq = yield from mmu_interval_read_begin(dev.notifier)
        yield from mmap_read_lock(mm)
        page: Any = yield from device_exclusive_page(cpu, mm, addr, dev)
        yield from mmap_read_unlock(mm)
        if isinstance(page, int):
            return -EINVAL
        if (yield from nouveau_atomic_map(cpu, dev, page, seq)):
            return 0
    return -EBUSY


def nouveau_atomic_map(cpu: Cpu, dev: SvmDevice, page: Page, seq: int) -> Gen:
    """The second half of nouveau_atomic_range_fault(): program the device, or not.

    ``page`` comes locked and referenced from make_device_exclusive(); both
    are given up here.  True if the device was programmed; False if an
    invalidation ran since ``seq`` and the caller must start over.
    """
    folio = page_folio(page)
    yield from kapi.spin_lock(dev.mutex)
    programmed = not (yield from mmu_interval_read_retry(dev.notifier, seq))
    if programmed:
        # Program the device while holding the folio lock: no CPU fault can
        # restore the PTE (remove_device_exclusive_entry() takes the folio
        # lock) before this is done.
        yield from kapi.WRITE_ONCE(dev.atomic_pfn, page.pfn)
    yield from kapi.spin_unlock(dev.mutex)
    yield from folio_unlock(folio)
    yield from folio_put(folio)
    return programmed
