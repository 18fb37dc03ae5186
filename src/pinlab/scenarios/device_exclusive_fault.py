"""``device-exclusive-vs-fault``: making a page device-exclusive while the CPU touches it (L11).

Source: b756a3b5e7ea ("mm: Device exclusive memory access", v5.14) and the
2025 rework (lore 20250210193801.781278-1-david@redhat.com, v6.15), which
also changed the event of the CPU's revocation from ``MMU_NOTIFY_EXCLUSIVE``
(owner NULL) to ``MMU_NOTIFY_CLEAR``.  Spec 6 L11.

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

from collections.abc import Callable
from typing import Any

from pinlab.engine import FinalState, Program
from pinlab.kernel.defs import FOLL_WRITE, PAGE_SIZE
from pinlab.kernel.eras import CURRENT, Era, era_by_name
from pinlab.kernel.gup_api import pin_user_pages_unlocked
from pinlab.kernel.mm_types import Cpu, Page
from pinlab.kernel.mmap import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from pinlab.kernel.process import System
from pinlab.kernel.pte import describe_pte, pte_pfn, pte_present
from pinlab.kernel.svm_driver import nouveau_atomic_range_fault, svm_device_attach
from pinlab.kernel.uaccess import user_access
from pinlab.scenarios.base import Built, Expect, Family, Scenario

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
    system = System(era, strict=False)
    proc = system.spawn()
    addr = proc.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    proc.write(addr, 0x5A)
    mm, machine = proc.mm, system.machine
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

    program = Program(
        NAME,
        (driver, cpu_access),
        init=system.memory.snapshot(),
        thread_names=(
            "nouveau_atomic_range_fault",
            "user store (fault)" if access == "fault" else "pin_user_pages(FOLL_WRITE)",
        ),
    )
    return Built(program, bad, describe_state)


def _builder(access: str, filters_owner: bool) -> Callable[[Era], Built]:
    return lambda era: build(era, access, filters_owner)


def _scenario(
    variant: str,
    era: Era,
    expected: Expect,
    access: str = "fault",
    filters_owner: bool = True,
    notes: str = "",
) -> Scenario:
    return FAMILY.scenario(variant, era, "sc", expected, _builder(access, filters_owner), notes)


V6_5 = era_by_name("v6.5")

SCENARIOS: tuple[Scenario, ...] = (
    _scenario("v6.5", V6_5, Expect.NEVER, notes="make_device_exclusive_range()"),
    _scenario("current", CURRENT, Expect.NEVER, notes="make_device_exclusive()"),
    _scenario("current-gup", CURRENT, Expect.NEVER, access="gup"),
    _scenario(
        "v6.5-filter-event",
        V6_5,
        Expect.REACHABLE,
        filters_owner=False,
        notes="what-if driver: skips every MMU_NOTIFY_EXCLUSIVE, revocation included",
    ),
    _scenario(
        "current-filter-event",
        CURRENT,
        Expect.NEVER,
        filters_owner=False,
        notes="the same driver: the revocation is MMU_NOTIFY_CLEAR since the rework",
    ),
)

# Under the LKMM: the same verdicts (the folio lock and the PTE lock order the
# device-exclusive entry against the fault).
SCENARIOS += tuple(s.under("lkmm") for s in SCENARIOS)
