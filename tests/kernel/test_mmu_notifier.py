"""MMU notifiers: interval subscribers see each invalidation, its type, and its sequence."""

from __future__ import annotations

from typing import Any

from pinlab.engine import kapi
from pinlab.engine.program import Loc
from pinlab.kernel.mm_types import Cpu
from pinlab.kernel.mmap import MADV_MERGEABLE
from pinlab.kernel.mmu_notifier import (
    MMU_NOTIFY_CLEAR,
    MmuIntervalNotifier,
    MmuNotifierRange,
    mmu_interval_notifier_insert,
    mmu_interval_read_begin,
    mmu_interval_read_retry,
    mmu_notifier_invalidate_range_end,
    mmu_notifier_invalidate_range_start,
    mmu_notifier_range_init,
)

PAGE = 4096


def _recorder(name: str, events: list[tuple[int, int]]) -> Any:
    """A driver callback that records (event, sequence) in a location and in ``events``."""

    def invalidate(cpu: Cpu, r: MmuNotifierRange, seq: int) -> Any:
        events.append((int(r.event), int(seq)))
        yield from kapi.WRITE_ONCE(Loc(f"{name}.last_event"), int(r.event))

    return invalidate


def test_an_invalidation_is_seen_with_an_odd_sequence_then_ends_even(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    events: list[tuple[int, int]] = []
    sub = MmuIntervalNotifier("dev", proc.mm, addr, addr + PAGE, _recorder("dev", events))
    mmu_interval_notifier_insert(sub)
    seq = system.run("read_begin", mmu_interval_read_begin(sub))
    r = mmu_notifier_range_init(MMU_NOTIFY_CLEAR, proc.mm, addr, addr + PAGE)
    system.run("start", mmu_notifier_invalidate_range_start(system.cpu, r))
    assert system.memory[sub.invalidate_seq] == 1 and events == [(int(MMU_NOTIFY_CLEAR), 1)]
    system.run("end", mmu_notifier_invalidate_range_end(system.cpu, r))
    assert system.memory[sub.invalidate_seq] == 2
    assert system.run("read_retry", mmu_interval_read_retry(sub, seq))


def test_a_range_outside_the_interval_is_not_seen(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    events: list[tuple[int, int]] = []
    mmu_interval_notifier_insert(
        MmuIntervalNotifier("dev", proc.mm, addr + PAGE, addr + 2 * PAGE, _recorder("d", events))
    )
    r = mmu_notifier_range_init(MMU_NOTIFY_CLEAR, proc.mm, addr, addr + PAGE)
    system.run("start", mmu_notifier_invalidate_range_start(system.cpu, r))
    assert events == []


def test_ksm_write_protect_notifies_clear(k: Any) -> None:
    system, proc = k.boot()
    a, b = k.anon_page(proc, 5), k.anon_page(proc, 5)
    for addr in (a, b):
        proc.madvise(addr, PAGE, MADV_MERGEABLE)
    events: list[tuple[int, int]] = []
    mmu_interval_notifier_insert(
        MmuIntervalNotifier("dev", proc.mm, a, a + PAGE, _recorder("dev", events))
    )
    system.ksmd([(proc, a), (proc, b)])
    # b became the KSM page; a was write-protected, then replaced by it.
    assert [e for e, _ in events] == [int(MMU_NOTIFY_CLEAR)] * 2
    assert system.memory[Loc("dev.invalidate_seq")] == 4
