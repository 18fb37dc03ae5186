"""The 2018 ways to tell pins from references, and writeback that looks (eras.PinProposal,
Era.writeback_handles_pins): what each design counts, and what writeback then does."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pinlab.engine import kapi
from pinlab.kernel.defs import PG_dirty
from pinlab.kernel.eras import Era, PinProposal, era_by_name
from pinlab.kernel.folio import folio_mapcount, folio_mapped, folio_maybe_dma_pinned
from pinlab.kernel.mm_types import pfn_folio
from pinlab.kernel.mmap import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE
from pinlab.kernel.pin import unpin_user_pages
from pinlab.kernel.process import PIN_LONGTERM_TEST_FLAG_USE_WRITE, PinSession, System
from pinlab.kernel.writeback import WB_SYNC_ALL, WB_SYNC_NONE, WbOutcome, write_cache_pages

PAGE = 4096
V4_20 = era_by_name("v4.20")
COUNTER = dataclasses.replace(V4_20, pin_proposal=PinProposal.DMA_PINNED_COUNT)
MAPCOUNT = dataclasses.replace(V4_20, pin_proposal=PinProposal.MAPCOUNT)


def _pinned_file_page(era: Era, pin: bool = True) -> tuple[System, Any, Any, Any, Any]:
    system = System(era, strict=False)
    proc = system.spawn()
    file = system.tmpfile("ext4")
    system.fallocate(file, 0, PAGE)
    addr = proc.mmap(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0)
    proc.write(addr, 1)
    session = None
    if pin:
        session = proc.pin_longterm_test_start(addr, PAGE, PIN_LONGTERM_TEST_FLAG_USE_WRITE)
        assert isinstance(session, PinSession)
    return system, proc, file, _folio(system, proc, addr), session


def _folio(system: System, proc: Any, addr: int) -> Any:
    return pfn_folio(int(system.memory[proc.mm.pte(addr)]) >> 12)


def _maybe_pinned(system: System, folio: Any) -> bool:
    return bool(system.run("check", folio_maybe_dma_pinned(system.cpu, folio)))


@pytest.mark.parametrize(
    ("era", "seen"),
    [(V4_20, False), (COUNTER, True), (MAPCOUNT, True), (era_by_name("v6.2"), True)],
)
def test_which_designs_see_a_pin(era: Era, seen: bool) -> None:
    system, proc, _, folio, session = _pinned_file_page(era)
    assert _maybe_pinned(system, folio) is seen
    proc.pin_longterm_test_stop(session)
    # Unpinned, still mapped: only _mapcount overloading still says "pinned".
    assert _maybe_pinned(system, folio) is (era.pin_proposal is PinProposal.MAPCOUNT)


def test_the_separate_counter_counts_pins_exactly() -> None:
    system, proc, _, folio, session = _pinned_file_page(COUNTER)
    assert system.memory[folio.dma_pinned_count] == 1
    proc.pin_longterm_test_stop(session)
    assert system.memory[folio.dma_pinned_count] == 0
    assert not _maybe_pinned(system, folio)


def test_mapcount_overloading_cannot_tell_a_pin_from_a_mapping() -> None:
    """A mapped file page looks pinned; a pin keeps an unmapped page 'mapped'."""
    system, proc, _, folio, _ = _pinned_file_page(MAPCOUNT, pin=False)
    assert _maybe_pinned(system, folio), "no pin, but page_mapped()"
    system, proc, _, folio, session = _pinned_file_page(MAPCOUNT)
    assert system.run("mapcount", folio_mapcount(folio)) == 2  # one PTE, one pin
    addr = session.refs[0].addr
    proc.munmap(addr, PAGE)
    assert system.run("mapped", folio_mapped(folio)), "no PTE maps it, yet it is 'mapped'"
    proc.sessions.remove(session)
    system.run("unpin", _unpin(system, session))
    assert not system.run("mapped", folio_mapped(folio))


def _unpin(system: System, session: PinSession) -> Any:
    session.refs.clear()
    return unpin_user_pages(system.cpu, session.pages)


def test_mapcount_overloading_leaves_anonymous_pages_alone() -> None:
    system = System(MAPCOUNT, strict=False)
    proc = system.spawn()
    addr = proc.mmap(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    proc.write(addr, 1)
    session = proc.pin_longterm_test_start(addr, PAGE, PIN_LONGTERM_TEST_FLAG_USE_WRITE)
    assert isinstance(session, PinSession)
    folio = _folio(system, proc, addr)
    assert system.run("mapcount", folio_mapcount(folio)) == 1
    assert not _maybe_pinned(system, folio)


def _dirty(system: System, folio: Any) -> bool:
    return bool(int(system.memory[folio.flags]) >> PG_dirty & 1)


@pytest.mark.parametrize(
    ("sync_mode", "outcome", "disk"),
    [(WB_SYNC_ALL, WbOutcome.BOUNCED, 1), (WB_SYNC_NONE, WbOutcome.SKIPPED, 0)],
)
def test_writeback_that_sees_the_pin_leaves_the_folio_dirty(
    sync_mode: int, outcome: WbOutcome, disk: int
) -> None:
    era = dataclasses.replace(era_by_name("v6.2"), writeback_handles_pins=True)
    system, _, file, folio, _ = _pinned_file_page(era)
    got = system.run("wb", write_cache_pages(system.cpu, system.machine, file, 1, sync_mode))
    assert got == {0: outcome}
    assert _dirty(system, folio) and system.memory[file.disk(0)] == disk


def test_writeback_as_merged_cleans_a_pinned_folio() -> None:
    system, _, file, folio, session = _pinned_file_page(era_by_name("v6.2"))
    got = system.run("wb", write_cache_pages(system.cpu, system.machine, file, 1, WB_SYNC_ALL))
    assert got == {0: WbOutcome.WRITTEN} and not _dirty(system, folio)

    def dma() -> Any:
        yield from kapi.WRITE_ONCE(session.pages[0].data, 2)

    system.run("dma", dma())
    assert system.sync(file) == 0, "clean: the device's data is not written"
