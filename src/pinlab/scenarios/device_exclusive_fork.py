"""``device-exclusive-fork``: fork() meeting a device-exclusive entry (2021).

Source: the review of "mm: Device exclusive memory access" (Alistair Popple,
Peter Xu, May 2021; merged as b756a3b5e7ea, v5.14) and the 2025 rework (lore
20250210193801.781278-1-david@redhat.com, v6.15).

One process has a private anonymous page; a GPU driver
(:mod:`pinlab.kernel.svm_driver`) mirrors it and wants device atomics on it:
it makes the page device-exclusive (the CPU PTE becomes a device-exclusive
entry, the folio comes back locked), then programs its device under its
notifier protocol, then unlocks the folio.  Concurrently the process forks.

The review asked two things of fork.  What if the folio lock cannot be taken
(the driver is still programming)?  The posted series dropped the locks and
slept on the folio lock; Peter Xu suggested failing fork instead, and that is
what was merged: try_restore_exclusive_pte()'s trylock fails, copy_pte_range()
returns -EBUSY, fork() fails with -ENOMEM.  And who owns the device's
exclusive access after fork -- "would the two processes then own the device
together"?  Nobody: device-exclusive entries live only in COW mappings, and
there fork first invalidates the whole range (MMU_NOTIFY_PROTECTION_PAGE,
owner none: the driver drops its atomic mapping), then restores the parent's
PTE and COW-shares it with the child.  The device must fault again, and its
next make_device_exclusive() breaks COW for the parent.

Forbidden (expected never in every release that has the entries, v5.14 on;
both designs of make_device_exclusive):

- the device still holds exclusive access to the page while a CPU PTE (the
  parent's or the child's) maps it present; or
- the child's page table holds a device-exclusive entry (the exclusive access
  belongs to two mms; the child has no notifier subscription, so a CPU fault
  in the child would map the page without revoking the device).

The what-if variant ``copy-entry`` copies the entry into the child as it is
(the posted series' branch for non-COW mappings, the design behind the
question): the second outcome is reachable.  The variant ``fork-fails`` asks
the other question: can fork fail because the driver holds the folio lock?
Reachable -- an allowed outcome, documenting the merged choice.

Setups: ``fault`` runs the driver's whole atomic fault concurrently with fork;
``locked`` starts with the page already device-exclusive and the folio locked
(the driver between make_device_exclusive() and programming), so fork's
trylock meets the driver's lock.  The final state says which mm holds the
entry and whether the device holds atomic access (``describe_state``).

Models: sc for every variant; lkmm for the ``locked`` setup (current: never in
7 executions, about 10 s; the two reachable questions in under a second).  The
ordering here is all locks (PTL, folio lock, driver mutex), so LKMM agrees
with SC; the ``fault`` setup under lkmm does not finish in minutes (its
driver's retry loops grow graphs of over a thousand events).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from pinlab.engine import FinalState
from pinlab.kernel.defs import ENOMEM, PAGE_SIZE
from pinlab.kernel.device_exclusive import device_exclusive_page
from pinlab.kernel.eras import Era, era_by_name
from pinlab.kernel.fork import dup_mmap
from pinlab.kernel.mm_types import Cpu, MmStruct
from pinlab.kernel.pte import describe_pte, is_device_exclusive_entry, pte_present
from pinlab.kernel.svm_driver import (
    nouveau_atomic_map,
    nouveau_atomic_range_fault,
    svm_device_attach,
)
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Family, Scenario, row
from pinlab.scenarios.common import anon_page, paths

__all__ = ["SCENARIOS", "build"]

NAME = "device-exclusive-fork"
SOURCE = "lore: 'mm: Device exclusive memory access' review (2021-05); b756a3b5e7ea"
FORBIDDEN: Final = {
    "ownership": "the device keeps exclusive access while a CPU maps the page, "
    "or the child inherits the device-exclusive entry",
    "fork-fails": "fork fails (-ENOMEM) because the driver holds the folio lock",
}
FAMILY = Family(
    NAME,
    title="fork() vs a device-exclusive entry in a COW mapping",
    source=SOURCE,
    forbidden=FORBIDDEN["ownership"],
)


def build(era: Era, setup: str = "fault", question: str = "ownership") -> Built:
    """The setup, run sequentially, and the driver's and fork's kernel paths."""
    page = anon_page(era, value=0x5A)
    system, mm, addr = page.system, page.mm, page.addr
    machine = system.machine
    pfn = int(system.memory[mm.pte(addr)]) >> 12
    dev = svm_device_attach("gpu", mm, addr, addr + PAGE_SIZE)
    locked: Any = None
    seq = 0
    if setup == "locked":
        seq = int(system.memory.get(dev.notifier.invalidate_seq, 0))
        locked = system.run("make", device_exclusive_page(system.cpu, mm, addr, dev))
        assert not isinstance(locked, int), f"setup: make_device_exclusive failed: {locked}"

    def driver() -> Any:
        cpu = Cpu(machine, id=1)
        if locked is not None:
            programmed = yield from nouveau_atomic_map(cpu, dev, locked, seq)
            return {"ret": 0 if programmed else -1}
        return {"ret": (yield from nouveau_atomic_range_fault(cpu, dev, addr))}

    def forker() -> Any:
        cpu = Cpu(machine, id=2)
        child = yield from dup_mmap(cpu, mm)
        return {"child": child}

    def ptes(state: FinalState) -> tuple[int, int | None]:
        child = state.regs[1].get("child")
        parent_pte = int(state.memory.get(mm.pte(addr), 0))
        if not isinstance(child, MmStruct):
            return parent_pte, None
        return parent_pte, int(state.memory.get(child.pte(addr), 0))

    def maps(pte: int | None) -> bool:
        return pte is not None and bool(pte_present(pte)) and pte >> 12 == pfn

    def bad(state: FinalState) -> str | None:
        parent, child = ptes(state)
        if question == "fork-fails":
            ret = state.regs[1].get("child")
            return f"fork failed: {ret}" if ret == -ENOMEM else None
        if child is not None and is_device_exclusive_entry(child):
            return "the child holds a device-exclusive entry: two mms own the device's access"
        if int(state.memory.get(dev.atomic_pfn, 0)) == pfn and (maps(parent) or maps(child)):
            who = "parent" if maps(parent) else "child"
            return f"the device holds exclusive access while the {who} maps pfn {pfn:#x}"
        return None

    def describe_state(state: FinalState) -> list[str]:
        parent, child = ptes(state)
        owner = [
            n
            for n, p in (("parent", parent), ("child", child))
            if p is not None and is_device_exclusive_entry(p)
        ]
        return [
            f"parent PTE: {describe_pte(parent)}",
            f"child PTE: {describe_pte(child) if child is not None else 'fork failed'}",
            f"device atomic_pfn: {int(state.memory.get(dev.atomic_pfn, 0)):#x}",
            f"device-exclusive entry held by: {', '.join(owner) or 'nobody'}",
        ]

    driver_path = "nouveau_atomic_map" if locked is not None else "nouveau_atomic_range_fault"
    threads = {driver_path: driver, "dup_mmap": forker}
    return Built(paths(NAME, system, threads), bad, describe_state)


V6_5 = era_by_name("v6.5")
CURRENT = era_by_name("current")
COPY_ENTRY = dataclasses.replace(CURRENT, fork_copies_device_exclusive_entry=True)

SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row("v6.5", V6_5, sc=NEVER, notes="make_device_exclusive_range()"),
    row("current", CURRENT, sc=NEVER, notes="make_device_exclusive()"),
    row("v6.5-locked", V6_5, sc=NEVER, setup="locked"),
    row("current-locked", CURRENT, sc=NEVER, lkmm=NEVER, setup="locked"),
    row(
        "copy-entry",
        COPY_ENTRY,
        sc=REACHABLE,
        lkmm=REACHABLE,
        notes={"sc": "what-if: the entry copied into the child"},
        setup="locked",
    ),
    row(
        "fork-fails",
        CURRENT,
        sc=REACHABLE,
        lkmm=REACHABLE,
        notes={"sc": "allowed: the trylock fails and fork() returns -ENOMEM"},
        forbidden=FORBIDDEN["fork-fails"],
        setup="locked",
        question="fork-fails",
    ),
)
