"""MMU notifiers: telling secondary MMUs (devices) that CPU page tables change.

Models include/linux/mmu_notifier.h and mm/mmu_notifier.c for interval
notifiers (the kind HMM drivers register): ``mmu_notifier_range_init``,
``mmu_notifier_invalidate_range_start`` / ``_end``, and the reader side
``mmu_interval_read_begin`` / ``mmu_interval_read_retry``.

An invalidation is observable: the subscriber's ``invalidate_seq`` location
goes odd at the start of every invalidation that overlaps its interval and
even at its end (the kernel keeps one sequence in the mm's subscriptions and
copies it into each subscriber; one location per subscriber is the same
protocol), and the subscriber's ``invalidate`` callback -- driver code, a
generator -- runs between the two, with the event type.  A subscriber that
owns the range (``owner``) may ignore the events it caused itself, as drivers
filter ``MMU_NOTIFY_EXCLUSIVE`` by ``range->owner``.

An mm without subscribers pays nothing: ``mm_has_notifiers()`` is false and
every call here returns at once, as in the kernel.  Subscriptions are set up
sequentially before concurrent paths run, and never change while they run.

Left out: the non-interval (``mmu_notifier_ops``) subscribers, blockable vs
non-blockable invalidations, the wait of ``mmu_interval_read_begin`` for an
ongoing invalidation (the reader retries instead).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from pinlab.engine import Loc, kapi
from pinlab.kernel.mm_types import Cpu, MmStruct

Gen = Generator[Any, Any, Any]


class mmu_notifier_event(enum.IntEnum):
    """enum mmu_notifier_event (include/linux/mmu_notifier.h)."""

    MMU_NOTIFY_UNMAP = 0
    MMU_NOTIFY_CLEAR = 1
    MMU_NOTIFY_PROTECTION_VMA = 2
    MMU_NOTIFY_PROTECTION_PAGE = 3
    MMU_NOTIFY_SOFT_DIRTY = 4
    MMU_NOTIFY_RELEASE = 5
    MMU_NOTIFY_MIGRATE = 6
    MMU_NOTIFY_EXCLUSIVE = 7


MMU_NOTIFY_UNMAP = mmu_notifier_event.MMU_NOTIFY_UNMAP
MMU_NOTIFY_CLEAR = mmu_notifier_event.MMU_NOTIFY_CLEAR
MMU_NOTIFY_PROTECTION_PAGE = mmu_notifier_event.MMU_NOTIFY_PROTECTION_PAGE
MMU_NOTIFY_MIGRATE = mmu_notifier_event.MMU_NOTIFY_MIGRATE
MMU_NOTIFY_EXCLUSIVE = mmu_notifier_event.MMU_NOTIFY_EXCLUSIVE


@dataclass(frozen=True, slots=True)
class MmuNotifierRange:
    """struct mmu_notifier_range: what changes, where, and who asked (``owner``)."""

    event: mmu_notifier_event
    mm: MmStruct
    start: int
    end: int
    owner: object = None


def mmu_notifier_range_init(
    event: mmu_notifier_event, mm: MmStruct, start: int, end: int, owner: object = None
) -> MmuNotifierRange:
    """Model of include/linux/mmu_notifier.h:mmu_notifier_range_init[_owner]()."""
    return MmuNotifierRange(event, mm, start, end, owner)


Invalidate = Callable[[Cpu, MmuNotifierRange, int], Gen]


@dataclass(frozen=True, eq=False)
class MmuIntervalNotifier:
    """struct mmu_interval_notifier: a driver's subscription to ``[start, end)`` of ``mm``.

    ``invalidate(cpu, range, cur_seq)`` is the driver's callback: it must stop
    the device from using the range before it returns.
    """

    name: str
    mm: MmStruct
    start: int
    end: int
    invalidate: Invalidate
    owner: object = None
    # The kernel's callback calls mmu_interval_set_seq() itself, so a driver
    # that ignores an event (its own MMU_NOTIFY_EXCLUSIVE) leaves its sequence
    # alone.  False: the model sets it for the callback (recording users).
    sets_seq: bool = False

    @property
    def invalidate_seq(self) -> Loc:
        return Loc(f"{self.name}.invalidate_seq")

    def overlaps(self, r: MmuNotifierRange) -> bool:
        return self.start < r.end and r.start < self.end


def mmu_interval_notifier_insert(sub: MmuIntervalNotifier) -> None:
    """Model of mm/mmu_notifier.c:mmu_interval_notifier_insert() (setup time only)."""
    sub.mm.notifier_subscriptions.append(sub)


def mm_has_notifiers(mm: MmStruct) -> bool:
    """Model of include/linux/mmu_notifier.h:mm_has_notifiers()."""
    return bool(mm.notifier_subscriptions)


def _subscribers(r: MmuNotifierRange) -> list[MmuIntervalNotifier]:
    return [s for s in r.mm.notifier_subscriptions if s.overlaps(r)]


def mmu_notifier_invalidate_range_start(cpu: Cpu, r: MmuNotifierRange) -> Gen:
    """Model of mm/mmu_notifier.c:mn_itree_inv_start_range() and the callbacks it makes.

    The sequence goes odd before the driver is told, so a driver's
    mmu_interval_read_retry() that runs after the page-table change sees it.
    """
    for sub in _subscribers(r):
        seq = yield from kapi.READ_ONCE(sub.invalidate_seq)
        cur = seq + 1 if not seq & 1 else seq
        if not sub.sets_seq:
            yield from mmu_interval_set_seq(sub, cur)
        # Pairs with the smp_rmb() in mmu_interval_read_retry(): the odd
        # sequence is visible before the page tables change.
        yield from kapi.smp_mb()
        yield from sub.invalidate(cpu, r, cur)


def mmu_interval_set_seq(sub: MmuIntervalNotifier, cur_seq: Any) -> Gen:
    """Model of include/linux/mmu_notifier.h:mmu_interval_set_seq(): called by the callback."""
    yield from kapi.WRITE_ONCE(sub.invalidate_seq, cur_seq)


def mmu_notifier_invalidate_range_end(cpu: Cpu, r: MmuNotifierRange) -> Gen:
    """Model of mm/mmu_notifier.c:mn_itree_inv_end(): the sequence goes even again."""
    for sub in _subscribers(r):
        # Pairs with mmu_interval_read_begin()'s smp_rmb(): the page-table
        # change is visible before the even sequence.
        yield from kapi.smp_wmb()
        seq = yield from kapi.READ_ONCE(sub.invalidate_seq)
        if seq & 1:
            yield from kapi.WRITE_ONCE(sub.invalidate_seq, seq + 1)


def mmu_interval_read_begin(sub: MmuIntervalNotifier) -> Gen:
    """Model of mm/mmu_notifier.c:mmu_interval_read_begin(): the sequence to recheck against.

    An odd value means an invalidation is running; the kernel sleeps until it
    ends, the model returns it and lets read_retry fail.
    """
    seq = yield from kapi.READ_ONCE(sub.invalidate_seq)
    yield from kapi.smp_rmb()  # pairs with mmu_notifier_invalidate_range_end()'s smp_wmb()
    return seq


def mmu_interval_read_retry(sub: MmuIntervalNotifier, seq: Any) -> Gen:
    """Model of include/linux/mmu_notifier.h:mmu_interval_read_retry()."""
    yield from kapi.smp_rmb()  # pairs with mmu_notifier_invalidate_range_start()'s smp_mb()
    cur = yield from kapi.READ_ONCE(sub.invalidate_seq)
    return (cur != seq) | (seq & 1)
