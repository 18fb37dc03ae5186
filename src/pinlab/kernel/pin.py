"""Taking and dropping GUP references and pins.

Models mm/gup.c ``try_grab_folio`` (slow path, under the PTL),
``try_get_folio`` and ``try_grab_folio_fast`` (GUP-fast, no locks; G5 in docs/labels.md),
``gup_put_folio``, ``unpin_user_page``, ``unpin_user_pages`` and
``unpin_user_pages_dirty_lock``.  Large folios count pins in ``_pincount``
(exact), small ones with GUP_PIN_COUNTING_BIAS in ``_refcount``.

Eras: before FOLL_PIN (v4.20) a pin request takes and drops an ordinary
reference, as ``get_user_pages(FOLL_LONGTERM)`` + ``put_page()`` did; since
3faa52c03f44 (v5.7) a pin on a small folio adds GUP_PIN_COUNTING_BIAS; since
c8070b787519 (v6.5) pins of the shared zero page are not counted at all.
Design what-ifs (``Era.pin_proposal``): the 2018 proposals that would have
counted a pin elsewhere -- a separate ``dma_pinned_count`` or ``_mapcount``
-- on top of the reference.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import Oops, kapi
from pinlab.kernel.barriers import barrier
from pinlab.kernel.defs import ENOMEM, FOLL_GET, FOLL_LONGTERM, FOLL_PIN, GUP_PIN_COUNTING_BIAS
from pinlab.kernel.eras import PinProposal
from pinlab.kernel.folio import (
    Gen,
    PageAnon,
    PageAnonExclusive,
    folio_lock,
    folio_mark_dirty,
    folio_put_refs,
    folio_ref_add,
    folio_ref_count,
    folio_ref_try_add,
    folio_test_anon,
    folio_test_dirty,
    folio_unlock,
)
from pinlab.kernel.mm_types import (
    NR_FOLL_PIN_ACQUIRED,
    NR_FOLL_PIN_RELEASED,
    Cpu,
    Folio,
    Page,
    folio_is_longterm_pinnable,
    folio_test_large,
    is_zero_folio,
    page_folio,
)


class KernelBug(Oops):
    """A VM_BUG_ON() fired: the model reached a state the kernel asserts impossible."""


def _is_pin(cpu: Cpu, flags: int) -> bool:
    """FOLL_PIN with its own accounting (since v5.7); before, a pin is a plain reference."""
    return bool(flags & FOLL_PIN) and cpu.era.foll_pin


def try_grab_folio(cpu: Cpu, folio: Folio, refs: int, flags: int) -> Gen:
    """Model of mm/gup.c:try_grab_folio(): the caller's PTL keeps the folio alive."""
    if (yield from folio_ref_count(folio)) <= 0:
        return -ENOMEM  # WARN_ON_ONCE: a mapped folio must be referenced
    if not _is_pin(cpu, flags):
        if flags & (FOLL_GET | FOLL_PIN):
            yield from folio_ref_add(folio, refs)
        if flags & FOLL_PIN:
            yield from proposal_pin_account(cpu, folio, refs)
        return 0
    if cpu.era.zero_page_pin_uncounted and is_zero_folio(folio):
        return 0  # the zero page is never pinned (c8070b787519)
    if folio_test_large(folio):
        # Large folios count pins exactly in _pincount, no refcount bias.
        yield from folio_ref_add(folio, refs)
        yield from kapi.atomic_add(refs, folio._pincount)
        yield from kapi.atomic_add(refs, NR_FOLL_PIN_ACQUIRED)
        return 0
    yield from folio_ref_add(folio, refs * GUP_PIN_COUNTING_BIAS)
    yield from kapi.atomic_add(refs, NR_FOLL_PIN_ACQUIRED)  # node_stat_mod_folio()
    return 0


def try_get_folio(page: Page, refs: int) -> Gen:
    """Model of mm/gup.c:try_get_folio(): add references unless the folio is being freed.

    folio_ref_try_add() is fully ordered; the page_folio() recheck catches a
    folio split between lookup and increment (order-0 folios are never split).
    """
    while True:
        folio = page_folio(page)
        if (yield from folio_ref_count(folio)) < 0:
            return None  # WARN_ON_ONCE: refcount overflow
        if not (yield from folio_ref_try_add(folio, refs)):
            return None
        if page_folio(page) != folio:
            yield from folio_put_refs(folio, refs)
            continue
        return folio


def try_grab_folio_fast(cpu: Cpu, page: Page, refs: int, flags: int) -> Gen:
    """Model of mm/gup.c:try_grab_folio_fast() [G5/B3]: GUP-fast's reference or pin."""
    era = cpu.era
    if not (flags & (FOLL_GET | FOLL_PIN)):
        return None
    if not _is_pin(cpu, flags):
        folio = yield from try_get_folio(page, refs)
        if folio is not None and flags & FOLL_PIN:
            yield from proposal_pin_account(cpu, folio, refs)
        return folio
    if era.zero_page_pin_uncounted and is_zero_folio(page_folio(page)):
        return page_folio(page)
    folio = yield from try_get_folio(page, refs)
    if folio is None:
        return None
    if flags & FOLL_LONGTERM and not folio_is_longterm_pinnable(folio):
        yield from folio_put_refs(folio, refs)
        return None  # the slow path migrates it first
    if folio_test_large(folio):
        # try_get_folio()'s refs stay the references; the pins are _pincount.
        yield from kapi.atomic_add(refs, folio._pincount)
    else:
        # try_get_folio() took refs; the pin is GUP_PIN_COUNTING_BIAS each.
        yield from folio_ref_add(folio, refs * (GUP_PIN_COUNTING_BIAS - 1))
    if era.gup_fast_pae_barriers:
        # Adjust the pincount before re-checking the PTE for changes.  Pairs
        # with the smp_mb() in folio_try_share_anon_rmap_pte().
        yield from barrier(cpu, "try_grab_folio_fast:mb-after-pin")
    yield from kapi.atomic_add(refs, NR_FOLL_PIN_ACQUIRED)
    return folio


def proposal_pin_account(cpu: Cpu, folio: Folio, refs: int) -> Gen:
    """What a pre-FOLL_PIN proposal adds when GUP hands out a pin (eras.PinProposal).

    Not a kernel function: the 2018 proposals, as the put_user_page*()
    thread describes them.  The separate counter (July 2018 RFC) counts
    every pin; ``_mapcount`` overloading (Dec 2018) counts pins of file
    pages in ``_mapcount``, on top of the real mappings.
    """
    proposal = cpu.era.pin_proposal
    if proposal is PinProposal.DMA_PINNED_COUNT:
        yield from kapi.atomic_add(refs, folio.dma_pinned_count)
    elif proposal is PinProposal.MAPCOUNT and not (yield from folio_test_anon(folio)):
        yield from kapi.atomic_add(refs, folio._mapcount)


def proposal_unpin_account(cpu: Cpu, folio: Folio, refs: int) -> Gen:
    """The proposal's half of put_user_page() (the thread's sketch): undo the count."""
    proposal = cpu.era.pin_proposal
    if proposal is PinProposal.DMA_PINNED_COUNT:
        yield from kapi.atomic_sub(refs, folio.dma_pinned_count)
    elif proposal is PinProposal.MAPCOUNT and not (yield from folio_test_anon(folio)):
        yield from kapi.atomic_sub(refs, folio._mapcount)


def gup_put_folio(cpu: Cpu, folio: Folio, refs: int, flags: int) -> Gen:
    """Model of mm/gup.c:gup_put_folio().

    Under a pre-FOLL_PIN proposal this is the thread's put_user_page():
    undo the proposal's count, then put_page().
    """
    if flags & FOLL_PIN and not _is_pin(cpu, flags):
        yield from proposal_unpin_account(cpu, folio, refs)
    if _is_pin(cpu, flags):
        if cpu.era.zero_page_pin_uncounted and is_zero_folio(folio):
            return
        yield from kapi.atomic_add(refs, NR_FOLL_PIN_RELEASED)
        if folio_test_large(folio):
            yield from kapi.atomic_sub(refs, folio._pincount)
        else:
            refs *= GUP_PIN_COUNTING_BIAS
    yield from folio_put_refs(folio, refs)


def sanity_check_pinned_pages(cpu: Cpu, pages: list[Page]) -> Gen:
    """Model of mm/gup.c:sanity_check_pinned_pages() (CONFIG_DEBUG_VM): pinned anon => exclusive."""
    if not cpu.era.anon_exclusive:
        return
    for page in pages:
        if is_zero_folio(page_folio(page)):
            continue
        if (yield from PageAnon(page)) and not (yield from PageAnonExclusive(page)):
            raise KernelBug(f"VM_BUG_ON_PAGE: pinned anonymous {page} is not PageAnonExclusive")


def unpin_user_page(cpu: Cpu, page: Page) -> Gen:
    """Model of mm/gup.c:unpin_user_page()."""
    yield from sanity_check_pinned_pages(cpu, [page])
    yield from gup_put_folio(cpu, page_folio(page), 1, FOLL_PIN)


def unpin_user_pages(cpu: Cpu, pages: list[Page]) -> Gen:
    """Model of mm/gup.c:unpin_user_pages()."""
    yield from sanity_check_pinned_pages(cpu, pages)
    for page in pages:
        yield from gup_put_folio(cpu, page_folio(page), 1, FOLL_PIN)


def unpin_user_pages_dirty_lock(cpu: Cpu, pages: list[Page], make_dirty: bool) -> Gen:
    """Model of mm/gup.c:unpin_user_pages_dirty_lock(): dirty (under the folio lock), unpin.

    The same steps were put_user_pages_dirty_lock() in the put_user_page*()
    series (2019) and, before that, the drivers' own set_page_dirty_lock()
    followed by put_page(): in eras without FOLL_PIN it is exactly that.
    """
    if not make_dirty:
        yield from unpin_user_pages(cpu, pages)
        return
    yield from sanity_check_pinned_pages(cpu, pages)
    for page in pages:
        folio = page_folio(page)
        if not (yield from folio_test_dirty(folio)):
            yield from folio_lock(folio)
            yield from folio_mark_dirty(folio)
            yield from folio_unlock(folio)
        yield from gup_put_folio(cpu, folio, 1, FOLL_PIN)


def put_page(folio: Folio) -> Any:
    """Model of include/linux/mm.h:put_page(): drop a FOLL_GET reference."""
    return folio_put_refs(folio, 1)
