"""``device-exclusive-vs-fault``: making a page device-exclusive while the CPU touches it (L11).

Source: b756a3b5e7ea ("mm: Device exclusive memory access", v5.14) and the
2025 rework (lore 20250210193801.781278-1-david@redhat.com, v6.15), which
also changed the event of the CPU's revocation from ``MMU_NOTIFY_EXCLUSIVE``
(owner NULL) to ``MMU_NOTIFY_CLEAR``.  Pattern L11 in docs/labels.md.

A GPU driver (:mod:`pinlab.kernel.svm_driver`) runs its atomic-fault handler
on a private anonymous page: make_device_exclusive() (GUP, folio lock,
``MMU_NOTIFY_EXCLUSIVE`` with the driver as owner, the PTE replaced by a
device-exclusive entry), then, under its mutex and only if no invalidation
ran since it sampled its notifier sequence, it programs the device; then it
unlocks the folio.  Concurrently the process writes to the page (``fault``:
a CPU store, which faults on the entry: remove_device_exclusive_entry()
takes the folio lock, invalidates, restores the PTE) or pins it with slow
GUP for writing (``gup``: follow_page_pte() finds no present PTE and
faults the same way).

Forbidden: at the end the device holds exclusive (atomic) access to the page
while the process's PTE maps it present -- the CPU (or the pin's user) and
the device both think they own it.

- v6.5, current, ``fault`` and ``gup``: never.  Two things protect it: the
  folio lock (the CPU cannot restore the PTE before the driver has programmed
  its device) and the notifier sequence (a revocation after the conversion
  makes the driver start over).
- ``filter-event`` (what-if driver): a driver that ignores every
  ``MMU_NOTIFY_EXCLUSIVE`` event, not just its own (owner check left out).
  v6.5: reachable -- the CPU's revocation was itself an
  ``MMU_NOTIFY_EXCLUSIVE`` event with no owner, so the driver ignores it and
  keeps atomic access after the PTE is restored.  current: never -- the
  revocation is ``MMU_NOTIFY_CLEAR`` since the rework, which documented the
  event as "conversion to device-exclusive" so that its caller can filter it.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import FinalState
from pinlab.kernel.defs import FOLL_WRITE, PAGE_SIZE
from pinlab.kernel.eras import CURRENT, Era, era_by_name
from pinlab.kernel.gup_api import pin_user_pages_unlocked
from pinlab.kernel.mm_types import Cpu, Page
from pinlab.kernel.pte import describe_pte, pte_pfn, pte_present
from pinlab.kernel.svm_driver import nouveau_atomic_range_fault, svm_device_attach
from pinlab.kernel.uaccess import user_access
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Family, Scenario, row
from pinlab.scenarios.common import anon_page, paths

__all__ = ["SCENARIOS", "build"]

NAME = "device-exclusive-vs-fault"
SOURCE = "b756a3b5e7ea; lore 20250210193801.781278-1-david@redhat.com"
FAMILY = Family(
    NAME,
    title="make_device_exclusive() vs a CPU fault or slow GUP on the same page",
    source=SOURCE,
    forbidden="the device keeps exclusive access while the PTE maps the page present",
    patterns=("L11",),
)


def build(era: Era, access: str = "fault", filters_owner: bool = True) -> Built:
    """The setup, run sequentially, and the two CPUs' paths: the driver's atomic
    fault, and a CPU store (``access="fault"``) or a FOLL_WRITE pin (``"gup"``);
    ``filters_owner`` is whether the driver's notifier skips its own events."""
    setup = anon_page(era, value=0x5A)
    system, mm, addr = setup.system, setup.mm, setup.addr
    machine = system.machine
    pfn = int(pte_pfn(int(system.memory[mm.pte(addr)])))
    dev = svm_device_attach("gpu", mm, addr, addr + PAGE_SIZE, filters_owner)

    def driver() -> Any:
        cpu = Cpu(machine, id=1)
        return {"ret": (yield from nouveau_atomic_range_fault(cpu, dev, addr))}

    def cpu_access() -> Any:
        cpu = Cpu(machine, id=2)
        if access == "fault":
            ret, _ = yield from user_access(cpu, mm, addr, True, 0x77)
            return {"ret": ret}
        pages: list[Page] = []
        n = yield from pin_user_pages_unlocked(cpu, mm, addr, 1, pages, FOLL_WRITE)
        return {"ret": n, "pfn": pages[0].pfn if pages else 0}

    def bad(state: FinalState) -> str | None:
        pte = int(state.memory.get(mm.pte(addr), 0))
        atomic = int(state.memory.get(dev.atomic_pfn, 0))
        if atomic == pfn and pte_present(pte) and pte_pfn(pte) == pfn:
            return f"the device holds pfn {pfn:#x} exclusively while the PTE maps it present"
        return None

    def describe_state(state: FinalState) -> list[str]:
        pte = int(state.memory.get(mm.pte(addr), 0))
        return [
            f"PTE: {describe_pte(pte)}",
            f"device atomic_pfn: {int(state.memory.get(dev.atomic_pfn, 0)):#x}",
            f"driver: {state.regs[0].get('ret')}, CPU side: {state.regs[1].get('ret')}",
        ]

    other = "user store (fault)" if access == "fault" else "pin_user_pages(FOLL_WRITE)"
    threads = {"nouveau_atomic_range_fault": driver, other: cpu_access}
    return Built(paths(NAME, system, threads), bad, describe_state)


V6_5 = era_by_name("v6.5")

# The same verdicts under the LKMM: the folio lock and the PTE lock order the
# device-exclusive entry against the fault.
SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row("v6.5", V6_5, sc=NEVER, lkmm=NEVER, notes="make_device_exclusive_range()"),
    row("current", CURRENT, sc=NEVER, lkmm=NEVER, notes="make_device_exclusive()"),
    row("current-gup", CURRENT, sc=NEVER, lkmm=NEVER, access="gup"),
    row(
        "v6.5-filter-event",
        V6_5,
        sc=REACHABLE,
        lkmm=REACHABLE,
        notes="what-if driver: skips every MMU_NOTIFY_EXCLUSIVE, revocation included",
        filters_owner=False,
    ),
    row(
        "current-filter-event",
        CURRENT,
        sc=NEVER,
        lkmm=NEVER,
        notes="the same driver: the revocation is MMU_NOTIFY_CLEAR since the rework",
        filters_owner=False,
    ),
)
