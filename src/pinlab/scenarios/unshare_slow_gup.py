"""``unshare-vs-slow-gup``: R/O pins of a shared anonymous page, racing (L9, docs/labels.md).

Source: a7f226604170 ("mm/gup: trigger FAULT_FLAG_UNSHARE when R/O-pinning
a possibly shared anonymous page", v5.19) and 6c287605fd56
(PageAnonExclusive, v5.19).

After fork, parent and child map one anonymous page R/O, PageAnonExclusive
clear.  The parent takes a R/O pin on it with slow GUP
(pin_user_pages_unlocked()) while the child does the same (shape
``pin-pin``) or writes to the page (``pin-write``, a COW fault).  GUP:
follow_page_pte() finds the R/O PTE of a non-exclusive page,
gup_must_unshare() says -EMLINK, faultin_page() runs
do_wp_page(FAULT_FLAG_UNSHARE), which marks the page exclusive (the other
side already copied) or gives this side an exclusive copy, and the retried
follow_page_pte() pins under the PTL.  Each step is under the PTL of one mm;
the two mms share only the folio (refcount, mapcount, PageAnonExclusive,
folio lock).

Forbidden: a pin returned on an anonymous page that is not exclusive to the
pinner -- PageAnonExclusive clear (v5.19 on), or still mapped by the other
process -- or follow_page_pte()'s VM_BUG_ON (pinning a non-exclusive anon
page) firing.

- v5.11: no unsharing, nothing marks pages exclusive: a R/O pin pins the
  shared page (the "R/O pins are unreliable" bug of cow.c): reachable, even
  without a race.
- current: never (``pin-write``, 128 executions, about 14 s; ``pin-pin``
  and v5.19, 256 executions, about 20 s each, run in the slow tests only).
- ``no-unshare`` (what-if): current without gup_must_unshare()'s request
  (``ro_pin_unshare_anon`` off): follow_page_pte()'s VM_BUG_ON fires:
  reachable.  The unshare request is what keeps the assertion true.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pinlab.engine import FinalState
from pinlab.kernel.defs import PG_anon_exclusive
from pinlab.kernel.eras import CURRENT, V5_11, Era
from pinlab.kernel.gup_api import pin_user_pages_unlocked
from pinlab.kernel.mm_types import Cpu, MmStruct, Page
from pinlab.kernel.pte import pte_pfn, pte_present
from pinlab.kernel.uaccess import user_access
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Family, Scenario, row
from pinlab.scenarios.common import anon_page, paths

__all__ = ["FAMILY", "SCENARIOS", "build"]

NAME = "unshare-vs-slow-gup"
SOURCE = "a7f226604170, 6c287605fd56 (v5.19)"
FAMILY = Family(
    NAME,
    title="R/O pins of a shared anon page in parent and child: unshare, then pin",
    source=SOURCE,
    forbidden="a slow-GUP pin on an anon page that is not exclusive to the pinner",
    patterns=("L9",),
)


def build(era: Era, shape: str = "pin-pin") -> Built:
    """The setup (a written page, then fork()), run sequentially, and the two
    CPUs' paths; ``shape`` is ``pin-pin`` (both pin) or ``pin-write`` (the
    child writes)."""
    setup = anon_page(era, value=0x33)
    system, parent, addr = setup.system, setup.proc, setup.addr
    child = parent.fork()
    machine = system.machine
    mms: tuple[MmStruct, MmStruct] = (parent.mm, child.mm)

    def pinner(i: int) -> Any:
        def thread() -> Any:
            cpu = Cpu(machine, id=i + 1)
            pages: list[Page] = []
            n = yield from pin_user_pages_unlocked(cpu, mms[i], addr, 1, pages, 0)
            return {"pinned": n, "page": pages[0] if pages else None}

        return thread

    def mapped_by(state: FinalState, mm: MmStruct, pfn: int) -> bool:
        pte = int(state.memory.get(mm.pte(addr), 0))
        return bool(pte_present(pte)) and pte_pfn(pte) == pfn

    def bad(state: FinalState) -> str | None:
        for tid, msg in state.oopses:
            return f"{('parent', 'child')[tid]}: {msg}"
        for i, who in enumerate(("parent", "child")):
            page = state.regs[i].get("page")
            if not isinstance(page, Page):
                continue
            other = mms[1 - i]
            if mapped_by(state, other, page.pfn):
                return f"{who} pinned pfn {page.pfn:#x}, which the other process maps too"
            pae = int(state.memory.get(page.flags, 0)) >> PG_anon_exclusive & 1
            if era.anon_exclusive and not pae:
                return f"{who} pinned pfn {page.pfn:#x} with PageAnonExclusive clear"
        return None

    def describe_state(state: FinalState) -> list[str]:
        out = []
        for i, who in enumerate(("parent", "child")):
            page = state.regs[i].get("page")
            pfn = f"{page.pfn:#x}" if isinstance(page, Page) else "none"
            pte = int(state.memory.get(mms[i].pte(addr), 0))
            out.append(f"{who}: pinned {pfn}, maps pfn {int(pte_pfn(pte)):#x}")
        return out

    def writer() -> Any:
        cpu = Cpu(machine, id=2)
        yield from user_access(cpu, mms[1], addr, True, 0x44)
        return {}

    second = ("pin_user_pages (child)", pinner(1))
    if shape == "pin-write":
        second = ("handle_mm_fault (child writes)", writer)
    threads = dict((("pin_user_pages (parent)", pinner(0)), second))
    return Built(paths(NAME, system, threads), bad, describe_state)


NO_UNSHARE = dataclasses.replace(CURRENT, ro_pin_unshare_anon=False)

# The same verdicts under the LKMM: both paths hold the PTE lock where it matters.
SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row(
        "v5.11",
        V5_11,
        sc=REACHABLE,
        lkmm=REACHABLE,
        notes="no unshare: R/O pins pin the shared page",
    ),
    row(
        "current",
        CURRENT,
        sc=NEVER,
        lkmm=NEVER,
        notes="FAULT_FLAG_UNSHARE vs a COW fault",
        shape="pin-write",
    ),
    row(
        "no-unshare",
        NO_UNSHARE,
        sc=REACHABLE,
        lkmm=REACHABLE,
        notes="what-if: no unshare request; follow_page_pte()'s VM_BUG_ON",
    ),
)
