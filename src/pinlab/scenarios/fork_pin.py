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
from collections.abc import Callable
from typing import Any

from pinlab.engine import FinalState, Program
from pinlab.kernel.defs import FOLL_WRITE, PAGE_SIZE
from pinlab.kernel.eras import V5_8, V5_9, V5_9_ONCE, V5_11, V6_1, Era, HasPinned, era_by_name
from pinlab.kernel.fork import dup_mmap
from pinlab.kernel.gup_fast import pin_user_pages_fast
from pinlab.kernel.mm_types import Cpu, MmStruct
from pinlab.kernel.mmap import MADV_HUGEPAGE, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from pinlab.kernel.process import PIN_LONGTERM_TEST_FLAG_USE_WRITE, System
from pinlab.kernel.pte import describe_pte, pte_pfn, pte_present
from pinlab.scenarios.base import Built, Expect, Family, Scenario

__all__ = ["SCENARIOS"]

NAME = "fork-vs-pin-fast"
SOURCE = "lore: 'mm: Introduce mm_struct.has_pinned' (Sep 2020); 57efa1fe5957"
FAMILY = Family(
    NAME,
    title="fork() racing pin_user_pages_fast(): both sides COW, never neither",
    source=SOURCE,
    forbidden="the page is pinned and fork shares it with the child",
    patterns=("L1", "L10"),
)


def _setup(pinned_before: bool, order: int) -> Callable[[Era], Built]:
    """The build of one setup: ``pinned_before``, the mm already had a pin (so
    MMF_HAS_PINNED is set when the race starts); ``order``, the page is part of
    an anonymous folio of that order (0: a small folio, refcount-biased pins;
    above: ``_pincount`` counts pins)."""

    def build(era: Era) -> Built:
        return _build(era, pinned_before, order)

    return build


def _build(era: Era, pinned_before: bool, order: int) -> Built:
    system = System(era, thp_orders=frozenset({order}) if order else frozenset())
    proc = system.spawn()
    size = PAGE_SIZE << order
    addr = proc.mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
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

    program = Program(
        NAME,
        (pinner, forker),
        init=system.memory.snapshot(),
        thread_names=("pin_user_pages_fast", "fork"),
    )
    return Built(program, bad)


build = _setup(False, 0)
build_pinned_before = _setup(True, 0)
build_large_pinned_before = _setup(True, 2)  # a 4-page (16 KiB) anonymous mTHP


def _scenario(variant: str, era: Era, model: str, expected: Expect, notes: str = "") -> Scenario:
    return FAMILY.scenario(variant, era, model, expected, build, notes)


# write_protect_seq with the first-posted has_pinned: the seqcount, not the
# type of has_pinned, is what closes the race under sc.
V5_11_ONCE = dataclasses.replace(V5_11, name="v5.11-once", has_pinned=HasPinned.ONCE)

SCENARIOS: tuple[Scenario, ...] = (
    _scenario("v5.8", V5_8, "sc", Expect.REACHABLE, "no has_pinned: fork shares pinned pages"),
    _scenario("v5.9", V5_9, "sc", Expect.REACHABLE, "has_pinned, but no ordering vs GUP-fast"),
    _scenario("v5.9-once", V5_9_ONCE, "sc", Expect.REACHABLE, "has_pinned via READ/WRITE_ONCE"),
    _scenario("v5.11", V5_11, "sc", Expect.NEVER, "write_protect_seq"),
    _scenario("v5.11-once", V5_11_ONCE, "sc", Expect.NEVER, "write_protect_seq, has_pinned ONCE"),
    _scenario("v6.1", V6_1, "sc", Expect.NEVER),
    _scenario("current", era_by_name("current"), "sc", Expect.NEVER),
    # Under the LKMM fork's side of the write_protect_seq protocol is
    # store-buffering with only smp_wmb() and lock acquisitions between its
    # write of the count and its reads of the pinned state: "neither side
    # COWs" stays allowed (docs/findings.md, the open question).
    _scenario("v5.9", V5_9, "lkmm", Expect.REACHABLE, "has_pinned, no ordering vs GUP-fast"),
    _scenario("v5.9-once", V5_9_ONCE, "lkmm", Expect.REACHABLE, "the same events as v5.9"),
    _scenario(
        "v5.11", V5_11, "lkmm", Expect.REACHABLE, "write_protect_seq: SB without a full barrier"
    ),
    _scenario(
        "current",
        era_by_name("current"),
        "lkmm",
        Expect.REACHABLE,
        "MMF_HAS_PINNED; fork still has no smp_mb() after raw_write_seqcount_begin()",
    ),
)


# The finding of docs/findings.md section 1, narrowed: which setups race, and
# the two candidate fixes.  "flag-set": the mm had a pin before (MMF_HAS_PINNED
# already set when fork reads it); "large": a 4-page anonymous mTHP, whose pins
# are counted in _pincount.
CURRENT = era_by_name("current")
MB = "copy_page_range:seq-begin-mb"
AFTER_SPINLOCK = "copy_pte_range:after-src-ptl-mb"
SCENARIOS += (
    FAMILY.scenario(
        "current+mb",
        CURRENT.adding("current+mb", MB),
        "lkmm",
        Expect.NEVER,
        build,
        "candidate fix: smp_mb() after raw_write_seqcount_begin() in copy_page_range()",
    ),
    FAMILY.scenario(
        "current+after-spinlock",
        CURRENT.adding("current+after-spinlock", AFTER_SPINLOCK),
        "lkmm",
        Expect.NEVER,
        build,
        "candidate fix: smp_mb__after_spinlock() once copy_pte_range() holds src_ptl",
    ),
    FAMILY.scenario(
        "flag-set",
        CURRENT,
        "lkmm",
        Expect.NEVER,
        build_pinned_before,
        "MMF_HAS_PINNED already set: fork's read of _refcount meets GUP-fast's fully "
        "ordered folio_ref_try_add() on the same location",
    ),
    FAMILY.scenario(
        "large-flag-set",
        CURRENT,
        "lkmm",
        Expect.REACHABLE,
        build_large_pinned_before,
        "a large folio: fork reads _pincount, which GUP-fast writes with atomic_add()",
    ),
    FAMILY.scenario(
        "large-flag-set+mb",
        CURRENT.adding("large-flag-set+mb", MB),
        "lkmm",
        Expect.NEVER,
        build_large_pinned_before,
        "fork copies the four PTEs as one batch (copy_present_ptes()): 395 executions",
    ),
)
