"""``try-get-folio-vs-free``: GUP-fast's speculative reference vs the last put (L8).

Source: mm/gup.c try_get_folio() (folio_ref_try_add(), i.e. add unless
zero; since the generic RCU GUP-fast of 2014, 2667f50e8b81 "mm: introduce a
general RCU get_user_pages_fast()", which took page_cache_get_speculative()).
The first x86 GUP-fast (v2.6.27) took a plain get_page(): with interrupts
off, x86's flush IPI kept the page from being freed under it; with page
tables and pages freed by RCU and no IPI, the page may reach refcount 0 and
be freed between GUP-fast's PTE read and its increment.

CPU0 unmaps the page (zap_pte_range(): clear the PTE, drop the mapping's
reference, the last one, after the TLB flush): the folio is freed.  CPU1 is
a GUP-fast that read the PTE before and now takes its reference:
try_get_folio(), or (variant ``plain-inc``) a plain folio_get().

Forbidden: CPU1 holds a reference to a folio that was freed (its refcount
reached zero): a resurrected, freed page.

Left out: the other half of L8 (docs/labels.md), a folio split between page_folio() and the
increment (try_get_folio()'s page_folio() re-check): the model never splits
a folio (page_folio() is a function of the pfn).
"""

from __future__ import annotations

from typing import Any

from pinlab.engine import FinalState
from pinlab.kernel.defs import PAGE_SIZE
from pinlab.kernel.eras import Era, era_by_name
from pinlab.kernel.folio import folio_get
from pinlab.kernel.mm_types import Cpu, page_folio, pfn_to_page
from pinlab.kernel.pin import try_get_folio
from pinlab.kernel.pte import pte_pfn
from pinlab.kernel.zap import zap_pte_range
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Family, Scenario, row
from pinlab.scenarios.common import anon_page, paths

__all__ = ["SCENARIOS", "build"]

NAME = "try-get-folio-vs-free"
SOURCE = (
    "mm/gup.c:try_get_folio(); 2667f50e8b81 'mm: introduce a general RCU get_user_pages_fast()'"
)
FAMILY = Family(
    NAME,
    title="GUP-fast's speculative folio reference vs freeing the folio",
    source=SOURCE,
    forbidden="GUP-fast holds a reference to a folio whose refcount reached zero (freed)",
    patterns=("L8",),
)


def build(era: Era, plain: bool = False) -> Built:
    """The setup, run sequentially, and the two CPUs' kernel paths."""
    setup = anon_page(era)  # one reference: the mapping's
    system, mm, addr = setup.system, setup.mm, setup.addr
    machine = system.machine
    vma = mm.find_vma(addr)
    assert vma is not None
    # What GUP-fast read from the PTE before the unmap.
    page = pfn_to_page(pte_pfn(int(system.memory[mm.pte(addr)])))
    folio = page_folio(page)

    def unmap() -> Any:
        yield from zap_pte_range(Cpu(machine, id=1), vma, addr, addr + PAGE_SIZE)
        return {}

    def grab() -> Any:
        if plain:
            yield from folio_get(folio)
            return {"got": 1}
        got = yield from try_get_folio(page, 1)
        return {"got": int(got is not None)}

    def bad(state: FinalState) -> str | None:
        if state.regs[1].get("got") != 1:
            return None
        if state.memory.get(folio.mapping, 0) != 0:
            return None  # not freed: the mapping's put was not the last
        refs = state.memory.get(folio._refcount, 0)
        return f"CPU1 holds a reference to {folio}, which was freed (refcount now {refs})"

    threads = {"zap_pte_range": unmap, "folio_get" if plain else "try_get_folio": grab}
    return Built(paths(NAME, system, threads), bad)


CURRENT = era_by_name("current")

SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row(
        "current",
        CURRENT,
        sc=NEVER,
        lkmm=NEVER,
        notes={"sc": "folio_ref_try_add(): add unless zero"},
    ),
    row(
        "plain-inc",
        CURRENT,
        sc=REACHABLE,
        notes="a plain increment resurrects a freed folio (v2.6.27 x86 relied on the IPI)",
        plain=True,
    ),
)
