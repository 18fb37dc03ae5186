"""``fork-vs-pin-fast``: fork() racing pin_user_pages_fast() (2020).

Source: the linux-mm thread "mm: Introduce mm_struct.has_pinned" (Peter Xu,
Jason Gunthorpe, Sept 2020) and the fixes 008cfe4418b3 / 70e806e4e645
(v5.9, copy maybe-pinned pages at fork) and 57efa1fe5957 (v5.11,
``write_protect_seq``).

One process has an exclusive, writable anonymous page.  CPU0 pins it with
``pin_user_pages_fast(FOLL_WRITE)``; CPU1 forks.  Forbidden: "both sides COW,
never neither" -- the pin succeeds *and* fork shares the pinned page with the
child (the parent's next write would then COW away from the page the DMA
writes to).  Fork may either copy the page for the child (it saw the pin) or
GUP-fast may fall back / retry (it saw fork).

- v5.8: no ``has_pinned``: fork shares pinned pages even without a race.
- v5.9: fork copies a page when ``has_pinned`` and the page may be pinned,
  but nothing orders its checks against a concurrent GUP-fast: reachable.
- v5.9-once: the design first posted (has_pinned a plain int with
  READ_ONCE/WRITE_ONCE; review asked for an atomic_t).  Same verdicts as
  v5.9 under sc and lkmm, with the same number of executions: in the LKMM
  atomic_set()/atomic_read() *are* WRITE_ONCE()/READ_ONCE()
  (tools/memory-model/linux-kernel.def), so the atomic_t bought no ordering.
  The ordering the thread wanted ("observing the raised refcount implies
  observing has_pinned") comes from the pin side's fully ordered
  value-returning refcount RMW; and the merged fork reads has_pinned first,
  then the refcount, so it never relies on it.  What v5.9 lacks, in either
  design, is ordering between fork's write-protect and GUP-fast's PTE
  recheck; write_protect_seq (v5.11) supplies it (v5.11-once: never).
- v5.11 and later: GUP-fast samples ``write_protect_seq`` before and after,
  fork's copy is inside the write section: never under sc.  Under lkmm the
  fork side has only smp_wmb() between the ``write_protect_seq`` write and
  the pin-count read (docs/findings.md answers whether that is enough).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pinlab.engine import FinalState
from pinlab.kernel.arch import X86
from pinlab.kernel.defs import FOLL_WRITE, PAGE_SIZE
from pinlab.kernel.eras import V5_8, V5_9, V5_9_ONCE, V5_11, V6_1, Era, HasPinned, era_by_name
from pinlab.kernel.fork import dup_mmap
from pinlab.kernel.gup_fast import pin_user_pages_fast
from pinlab.kernel.mm_types import Cpu, MmStruct
from pinlab.kernel.mmap import MADV_HUGEPAGE
from pinlab.kernel.process import PIN_LONGTERM_TEST_FLAG_USE_WRITE
from pinlab.kernel.pte import describe_pte, pte_pfn, pte_present
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Family, Scenario, row
from pinlab.scenarios.common import anon_page, paths

__all__ = ["SCENARIOS", "build"]

NAME = "fork-vs-pin-fast"
SOURCE = "lore: 'mm: Introduce mm_struct.has_pinned' (Sep 2020); 57efa1fe5957"
FAMILY = Family(
    NAME,
    title="fork() racing pin_user_pages_fast(): both sides COW, never neither",
    source=SOURCE,
    forbidden="the page is pinned and fork shares it with the child",
    patterns=("L1", "L10"),
)


def build(era: Era, pinned_before: bool = False, order: int = 0) -> Built:
    """The setup, run sequentially, and the pinner's and fork's kernel paths.

    ``pinned_before``: the mm already had a pin (so MMF_HAS_PINNED is set when
    the race starts); ``order``: the page is part of an anonymous folio of
    that order (0: a small folio, refcount-biased pins; above: ``_pincount``
    counts pins)."""
    size = PAGE_SIZE << order
    thp = frozenset({order}) if order else frozenset()
    setup = anon_page(era, X86, size=size, value=None, strict=True, thp_orders=thp)
    system, proc, addr = setup.system, setup.proc, setup.addr
    assert addr % size == 0, "the first mapping is aligned to the folio size"
    if order:
        proc.madvise(addr, size, MADV_HUGEPAGE)
    proc.write(addr, 0x11)  # fault it in: exclusive, writable
    if pinned_before:
        # An earlier pin of the same page, long released: MMF_HAS_PINNED stays set.
        session = proc.pin_longterm_test_start(addr, PAGE_SIZE, PIN_LONGTERM_TEST_FLAG_USE_WRITE)
        assert not isinstance(session, int), session
        proc.pin_longterm_test_stop(session)
    mm: MmStruct = proc.mm
    machine = system.machine

    def pinner() -> Any:
        cpu = Cpu(machine, id=1)
        pages: list[Any] = []
        n = yield from pin_user_pages_fast(cpu, mm, addr, 1, FOLL_WRITE, pages)
        return {"pinned": n, "pfn": pages[0].pfn if pages else 0}

    def forker() -> Any:
        cpu = Cpu(machine, id=2)
        child = yield from dup_mmap(cpu, mm)
        return {"child": child}

    def bad(state: FinalState) -> str | None:
        pin, fork = state.regs[0], state.regs[1]
        child = fork.get("child")
        if not isinstance(child, MmStruct) or pin.get("pinned") != 1:
            return None
        pte = int(state.memory.get(child.pte(addr), 0))
        if pte_present(pte) and pte_pfn(pte) == pin["pfn"]:
            parent = int(state.memory.get(mm.pte(addr), 0))
            return (
                f"pinned pfn {pin['pfn']:#x} is mapped by the child ({describe_pte(pte)}) "
                f"and the parent ({describe_pte(parent)})"
            )
        return None

    threads = {"pin_user_pages_fast": pinner, "fork": forker}
    return Built(paths(NAME, system, threads), bad)


# write_protect_seq with the first-posted has_pinned: the seqcount, not the
# type of has_pinned, is what closes the race under sc.
V5_11_ONCE = dataclasses.replace(V5_11, name="v5.11-once", has_pinned=HasPinned.ONCE)

# The finding of docs/findings.md section 1, narrowed: which setups race, and
# the two candidate fixes.  "flag-set": the mm had a pin before (MMF_HAS_PINNED
# already set when fork reads it); "large": a 4-page (16 KiB) anonymous mTHP,
# whose pins are counted in _pincount.
CURRENT = era_by_name("current")
MB = "copy_page_range:seq-begin-mb"
AFTER_SPINLOCK = "copy_pte_range:after-src-ptl-mb"

# Under the LKMM fork's side of the write_protect_seq protocol is store
# buffering with only smp_wmb() and lock acquisitions between its write of the
# count and its reads of the pinned state: "neither side COWs" stays allowed
# (docs/findings.md, the open question).
SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row("v5.8", V5_8, sc=REACHABLE, notes="no has_pinned: fork shares pinned pages"),
    row(
        "v5.9",
        V5_9,
        sc=REACHABLE,
        lkmm=REACHABLE,
        notes={
            "sc": "has_pinned, but no ordering vs GUP-fast",
            "lkmm": "has_pinned, no ordering vs GUP-fast",
        },
    ),
    row(
        "v5.9-once",
        V5_9_ONCE,
        sc=REACHABLE,
        lkmm=REACHABLE,
        notes={"sc": "has_pinned via READ/WRITE_ONCE", "lkmm": "the same events as v5.9"},
    ),
    row(
        "v5.11",
        V5_11,
        sc=NEVER,
        lkmm=REACHABLE,
        notes={"sc": "write_protect_seq", "lkmm": "write_protect_seq: SB without a full barrier"},
    ),
    row("v5.11-once", V5_11_ONCE, sc=NEVER, notes="write_protect_seq, has_pinned ONCE"),
    row("v6.1", V6_1, sc=NEVER),
    row(
        "current",
        CURRENT,
        sc=NEVER,
        lkmm=REACHABLE,
        notes={
            "lkmm": "MMF_HAS_PINNED; fork still has no smp_mb() after raw_write_seqcount_begin()"
        },
    ),
    row(
        "current+mb",
        CURRENT.adding("current+mb", MB),
        lkmm=NEVER,
        notes="candidate fix: smp_mb() after raw_write_seqcount_begin() in copy_page_range()",
    ),
    row(
        "current+after-spinlock",
        CURRENT.adding("current+after-spinlock", AFTER_SPINLOCK),
        lkmm=NEVER,
        notes="candidate fix: smp_mb__after_spinlock() once copy_pte_range() holds src_ptl",
    ),
    row(
        "flag-set",
        CURRENT,
        lkmm=NEVER,
        notes="MMF_HAS_PINNED already set: fork's read of _refcount meets GUP-fast's fully "
        "ordered folio_ref_try_add() on the same location",
        pinned_before=True,
    ),
    row(
        "large-flag-set",
        CURRENT,
        lkmm=REACHABLE,
        notes="a large folio: fork reads _pincount, which GUP-fast writes with atomic_add()",
        pinned_before=True,
        order=2,
    ),
    row(
        "large-flag-set+mb",
        CURRENT.adding("large-flag-set+mb", MB),
        lkmm=NEVER,
        notes="fork copies the four PTEs as one batch (copy_present_ptes()): 395 executions",
        pinned_before=True,
        order=2,
    ),
)
