"""Migration: migration entries carry exclusivity; pins and GUP references make it fail;
FOLL_LONGTERM migrates out of ZONE_MOVABLE before it pins."""

from __future__ import annotations

from typing import Any

import pytest

from pinlab.engine.decide import decide
from pinlab.engine.explore import Limits, Outcome, explore
from pinlab.engine.program import Condition, CondKind, Loc, Program, RegVar
from pinlab.kernel.arch import ARM64, X86, Arch
from pinlab.kernel.defs import FOLL_PIN, PG_anon_exclusive, PG_locked
from pinlab.kernel.eras import era_by_name
from pinlab.kernel.gup_fast import gup_fast
from pinlab.kernel.migrate import try_to_migrate_one
from pinlab.kernel.mm_types import (
    ZONE_MOVABLE_START_PFN,
    Cpu,
    folio_is_longterm_pinnable,
)
from pinlab.kernel.mmap import MAP_SHARED, PROT_READ, PROT_WRITE
from pinlab.kernel.process import (
    PIN_LONGTERM_TEST_FLAG_USE_FAST,
    PIN_LONGTERM_TEST_FLAG_USE_WRITE,
    PinSession,
    System,
)
from pinlab.kernel.pte import (
    SWP_MIGRATION_READ,
    SWP_MIGRATION_READ_EXCLUSIVE,
    SWP_MIGRATION_WRITE,
    pte_present,
    pte_write,
    swp_type,
)
from pinlab.scenarios.common import gup_fast_writes

PAGE = 4096


def _pae(system: Any, folio: Any) -> bool:
    return bool(int(system.memory[folio.flags]) >> PG_anon_exclusive & 1)


def test_an_exclusive_page_moves_with_its_contents_and_exclusivity(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc, 42)
    old = k.folio(proc, addr)
    assert proc.move_pages([addr]) == 0
    new = k.folio(proc, addr)
    assert new != old and proc.read(addr) == 42
    assert pte_write(k.pte(proc, addr)) and _pae(system, new)
    assert system.memory[old._refcount] == 0, "the old folio is freed"


def _entry_kind(k: Any, system: Any, proc: Any, addr: int) -> int:
    folio, vma = k.folio(proc, addr), proc.mm.find_vma(addr)
    assert system.run("unmap", try_to_migrate_one(system.cpu, folio, vma, addr))
    pte = k.pte(proc, addr)
    assert not pte_present(pte) and not _pae(system, folio), "exclusivity is in the entry"
    return int(swp_type(pte))


def test_the_entry_says_writable_readable_exclusive_or_readable(k: Any) -> None:
    system, proc = k.boot(strict=False)
    addr = k.anon_page(proc)
    assert _entry_kind(k, system, proc, addr) == SWP_MIGRATION_WRITE
    system, proc = k.boot(strict=False)
    addr = k.anon_page(proc)
    proc.mprotect(addr, PAGE, PROT_READ)
    assert _entry_kind(k, system, proc, addr) == SWP_MIGRATION_READ_EXCLUSIVE
    system, proc = k.boot(strict=False)
    addr = k.anon_page(proc)
    proc.fork()
    assert _entry_kind(k, system, proc, addr) == SWP_MIGRATION_READ


def test_a_read_only_exclusive_page_comes_back_exclusive(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    proc.mprotect(addr, PAGE, PROT_READ)
    assert proc.move_pages([addr]) == 0
    assert not pte_write(k.pte(proc, addr)) and _pae(system, k.folio(proc, addr))


def test_a_shared_page_moves_for_both_processes(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc, 5)
    child = proc.fork()
    assert proc.move_pages([addr]) == 0
    new = k.folio(proc, addr)
    assert k.folio(child, addr) == new and not _pae(system, new)
    child.write(addr, 6)
    assert proc.read(addr) == 5


def test_a_pinned_page_does_not_move(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    old = k.folio(proc, addr)
    assert isinstance(proc.pin_longterm_test_start(addr, PAGE, 0), PinSession)
    assert proc.move_pages([addr]) == 1
    assert k.folio(proc, addr) == old and _pae(system, old)


def test_a_page_with_a_gup_reference_does_not_move_but_stays_exclusive(k: Any) -> None:
    system, proc = k.boot()
    addr = k.anon_page(proc)
    old = k.folio(proc, addr)
    proc.vmsplice(proc.pipe(), addr, PAGE)
    assert proc.move_pages([addr]) == 1, "the refcount freeze fails"
    assert k.folio(proc, addr) == old and _pae(system, old) and pte_write(k.pte(proc, addr))


@pytest.mark.parametrize("fast", [False, True])
def test_longterm_pins_migrate_out_of_zone_movable(k: Any, fast: bool) -> None:
    system = System(era_by_name("current"), movablecore=True)
    proc = system.spawn()
    addr = k.anon_page(proc, 9)
    assert k.folio(proc, addr).pfn >= ZONE_MOVABLE_START_PFN
    flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE | (PIN_LONGTERM_TEST_FLAG_USE_FAST if fast else 0)
    pin = proc.pin_longterm_test_start(addr, PAGE, flags)
    assert isinstance(pin, PinSession)
    new = k.folio(proc, addr)
    assert folio_is_longterm_pinnable(new) and pin.pages[0].pfn == new.pfn
    proc.write(addr, 10)
    assert proc.pin_longterm_test_read(pin) == [10]


def test_longterm_pins_of_shared_file_pages_migrate_the_page_cache(k: Any) -> None:
    system = System(era_by_name("current"), movablecore=True)
    proc = system.spawn()
    memfd = system.memfd_create()
    system.fallocate(memfd, 0, PAGE)
    addr = proc.mmap(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0)
    proc.write(addr, 3)
    pin = proc.pin_longterm_test_start(addr, PAGE, PIN_LONGTERM_TEST_FLAG_USE_WRITE)
    assert isinstance(pin, PinSession)
    cached = int(system.memory[Loc(memfd.i_pages(0))])
    assert cached == pin.pages[0].pfn < ZONE_MOVABLE_START_PFN
    assert system.pread(memfd, 0, PAGE) == [3]


def test_before_v5_13_movable_pages_are_pinned_where_they_are(k: Any) -> None:
    system = System(era_by_name("v5.11"), movablecore=True)
    proc = system.spawn()
    addr = k.anon_page(proc)
    pin = proc.pin_longterm_test_start(addr, PAGE, PIN_LONGTERM_TEST_FLAG_USE_WRITE)
    assert isinstance(pin, PinSession) and pin.pages[0].pfn >= ZONE_MOVABLE_START_PFN
    assert "longterm-pin-pinnable" in system.checker.observed
    assert not system.checker.observed["longterm-pin-pinnable"].promised


def _migrate_vs_gup_fast(k: Any, era: str, arch: Arch = ARM64) -> Program:
    """try_to_migrate_one() of a R/O exclusive page against a GUP-fast R/O pin."""
    system = System(era_by_name(era), arch=arch)
    proc = system.spawn()
    addr = k.anon_page(proc)
    proc.mprotect(addr, PAGE, PROT_READ)
    mm, vma, folio = proc.mm, proc.mm.find_vma(addr), k.folio(proc, addr)
    memory = system.memory
    memory[folio._refcount] += 1  # the isolation reference
    memory[folio.flags] |= 1 << PG_locked

    def migrate() -> Any:
        ok = yield from try_to_migrate_one(Cpu(system.machine, id=1), folio, vma, addr)
        return {"unmapped": int(bool(ok))}

    def gup() -> Any:
        n = yield from gup_fast(Cpu(system.machine, id=2), mm, addr, 1, FOLL_PIN, [])
        return {"n": n}

    both = Condition(
        CondKind.EXISTS,
        lambda s: s.get(RegVar(0, "unmapped")) == 1 and s.get(RegVar(1, "n")) == 1,
    )
    hints = (
        frozenset(
            {
                mm.ptl(addr),
                mm.pte(addr),
                folio.flags,
                folio._mapcount,
                folio._refcount,
                folio.mapping,
            }
        ),
        gup_fast_writes(mm, folio),
    )
    return Program("migrate+gup-fast", (migrate, gup), memory.snapshot(), both, may_write=hints)


def test_gup_fast_may_pin_a_page_being_migrated_before_v6_1_under_lkmm(k: Any) -> None:
    """Store buffering on {PTE, pin count}: both must see the other without the barriers.

    On arm64 (no IPI): on x86 the TLB flush after the PTE clear waits for the
    IPI that GUP-fast's disabled interrupts hold off, which orders them too
    (the next test).
    """
    assert explore(_migrate_vs_gup_fast(k, "v5.19"), "sc").observation == "Never"
    witness = Limits(stop_at_witness=True)
    assert explore(_migrate_vs_gup_fast(k, "v5.19"), "lkmm", limits=witness).positive


@pytest.mark.parametrize(("era", "arch"), [("v5.19", X86), ("v6.1", ARM64)])
def test_gup_fast_cannot_pin_a_page_being_migrated_under_lkmm(k: Any, era: str, arch: Arch) -> None:
    """x86's flush IPI before v6.1; the barriers (and the PTE recheck) since.

    Decided by revisits (the waiting explorer takes many minutes here)."""
    result = decide(_migrate_vs_gup_fast(k, era, arch), "lkmm", engine="revisit")
    assert result.outcome is Outcome.COMPLETE
    assert result.observation == "Never"
