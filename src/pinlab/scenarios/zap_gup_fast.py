"""``zap-vs-pin-fast``: munmap()/MADV_DONTNEED zapping a page GUP-fast is pinning (L8).

Source: mm/memory.c zap_pte_range() with the mmu_gather rule that the
references of unmapped pages go only after the TLB flush, against mm/gup.c
gup_fast_pte_range(): grab with folio_ref_try_add() (add unless zero; since
2667f50e8b81 "mm: introduce a general RCU get_user_pages_fast()", v3.19),
then re-read the PTE and drop the grab if it changed.  A FOLL_PIN grab on a
small folio adds GUP_PIN_COUNTING_BIAS (3faa52c03f44, v5.7).

CPU0 runs zap_pte_range() on one private anonymous page the process has
written (its only reference is the mapping's): clear the PTE under the PTL,
remove the rmap, unlock, then put the reference.  CPU1 runs
pin_user_pages_fast(FOLL_PIN | FOLL_WRITE) on it, as
``gup_fast_fallback(..., FOLL_FAST_ONLY)`` (the variant ``get``:
get_user_pages_fast(), FOLL_GET).

Zapping a pinned page is allowed (spec §2.9 in docs/labels.md): the pin keeps the folio alive,
unmapped.  Forbidden is what the kernel guarantees never happens (I11, I15):
GUP-fast returns the page and the folio was freed (its refcount reached zero
while GUP-fast holds it), or, once both paths are done, the accounting is
wrong -- a returned page's refcount is not exactly GUP-fast's (the pin, or
the reference), a page GUP-fast did not return keeps a reference or a pin or
is not freed, or the pin statistics do not balance.

Pairing: zap's put is a fully ordered folio_put() (atomic_dec_and_test()) on
``_refcount``, GUP-fast's grab a fully ordered folio_ref_try_add() on the
same location: coherence on that one word alone decides who comes first, so
no barrier has to pair here.  The PTE re-check (B4) and its
smp_mb__after_atomic() (088b8aa537c2) pair with paths that clear the PTE and
then *read* the refcount (L2, L3, L4); zap reads none, so the what-if
``no-mb`` without that barrier stays never.

Left out: a page freed by the zap and reallocated before GUP-fast's grab
(the grab then succeeds on the new owner's page and the PTE re-check drops
it): the model never hands a pfn out again.  No named barrier or era switch
guards this race in the model (folio_ref_try_add() is unconditional), so no
what-if of this family is reachable; ``try-get-folio-vs-free[plain-inc]``
shows the grab without add-unless-zero.
"""

from __future__ import annotations

from typing import Any, Final

from pinlab.engine import FinalState
from pinlab.kernel.arch import ARM64, X86, Arch
from pinlab.kernel.defs import (
    FOLL_FAST_ONLY,
    FOLL_GET,
    FOLL_PIN,
    FOLL_WRITE,
    GUP_PIN_COUNTING_BIAS,
    PAGE_SIZE,
)
from pinlab.kernel.eras import Era, era_by_name
from pinlab.kernel.gup_fast import gup_fast_fallback
from pinlab.kernel.mm_types import (
    NR_FOLL_PIN_ACQUIRED,
    NR_FOLL_PIN_RELEASED,
    Cpu,
    Page,
    pfn_folio,
)
from pinlab.kernel.pte import pte_pfn
from pinlab.kernel.zap import zap_pte_range
from pinlab.scenarios.base import NEVER, Built, Family, Scenario, row
from pinlab.scenarios.common import anon_page, gup_fast_writes, paths

__all__ = ["SCENARIOS", "build"]

NAME = "zap-vs-pin-fast"
SOURCE = (
    "mm/memory.c:zap_pte_range() vs mm/gup.c:gup_fast_pte_range(); "
    "2667f50e8b81 'mm: introduce a general RCU get_user_pages_fast()'"
)
FAMILY = Family(
    NAME,
    title="zap_pte_range() (munmap, MADV_DONTNEED) vs a GUP-fast pin of the same page",
    source=SOURCE,
    forbidden=(
        "GUP-fast returns a page whose folio was freed, or the references and pins "
        "do not add up once both paths are done"
    ),
    patterns=("L8",),
)
MB_AFTER_PIN: Final = "try_grab_folio_fast:mb-after-pin"


def build(era: Era, arch: Arch = ARM64, pin: bool = True) -> Built:
    """The setup, run sequentially, and the two CPUs' kernel paths."""
    setup = anon_page(era, arch)  # one reference: the mapping's
    system, mm, addr = setup.system, setup.mm, setup.addr
    machine = system.machine
    vma = mm.find_vma(addr)
    assert vma is not None
    folio = pfn_folio(pte_pfn(int(system.memory[mm.pte(addr)])))
    init = system.memory.snapshot()
    assert init.get(folio._refcount) == 1 and init.get(folio.mapping), "setup: mapped once"
    acquired0 = int(init.get(NR_FOLL_PIN_ACQUIRED, 0))
    released0 = int(init.get(NR_FOLL_PIN_RELEASED, 0))
    flags = (FOLL_PIN if pin else FOLL_GET) | FOLL_WRITE | FOLL_FAST_ONLY
    held = GUP_PIN_COUNTING_BIAS if pin else 1  # what GUP-fast's grab adds to _refcount
    grabber = "pin_user_pages_fast" if pin else "get_user_pages_fast"

    def zap() -> Any:
        yield from zap_pte_range(Cpu(machine, id=1), vma, addr, addr + PAGE_SIZE)
        return {}

    def gup() -> Any:
        pages: list[Page] = []
        n = yield from gup_fast_fallback(Cpu(machine, id=2), mm, addr, 1, flags, pages)
        return {"got": n, "pfn": pages[0].pfn if pages else 0}

    def bad(state: FinalState) -> str | None:
        g = state.regs[1]
        got = int(g.get("got", 0))
        refs = int(state.memory.get(folio._refcount, 0))
        freed = not state.memory.get(folio.mapping, 0)
        pins = int(state.memory.get(NR_FOLL_PIN_ACQUIRED, 0)) - acquired0
        pins -= int(state.memory.get(NR_FOLL_PIN_RELEASED, 0)) - released0
        if got == 1 and g.get("pfn") != folio.pfn:
            return f"GUP-fast returned page {g.get('pfn'):#x}, never mapped at {addr:#x}"
        if got == 1 and freed:
            return f"GUP-fast returned {folio}, which was freed (refcount now {refs})"
        if got == 1 and refs != held:
            return f"GUP-fast holds {folio} with refcount {refs}, not its own {held}"
        if got != 1 and (refs != 0 or not freed):
            return f"GUP-fast returned nothing, yet {folio} keeps refcount {refs} (leaked)"
        if pins != (got if pin else 0):
            return f"GUP-fast returned {got} page(s) but {pins} pin(s) are outstanding"
        return None

    threads = {"zap_pte_range": zap, grabber: gup}
    program = paths(NAME, system, threads, may_write={grabber: gup_fast_writes(mm, folio)})
    return Built(program, bad)


CURRENT = era_by_name("current")

SCENARIOS: tuple[Scenario, ...] = FAMILY.variants(
    build,
    row(
        "current",
        CURRENT,
        sc=NEVER,
        lkmm=NEVER,
        notes={
            "sc": "folio_ref_try_add(): add unless zero",
            "lkmm": "one word: coherence on _refcount",
        },
    ),
    row("current-get", CURRENT, sc=NEVER, lkmm=NEVER, notes={"lkmm": "FOLL_GET's grab"}, pin=False),
    row("current-x86", CURRENT, lkmm=NEVER, notes="xchg PTE clear", arch=X86),
    row(
        "current-no-mb",
        CURRENT.without(MB_AFTER_PIN),
        lkmm=NEVER,
        notes="the mb pairs with PTE-clear-then-read-refcount paths; zap reads no refcount",
    ),
)
