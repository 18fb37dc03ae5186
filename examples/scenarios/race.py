"""My new reclaim path against GUP-fast: may it unmap a page that is being pinned?

my_unmap_unless_pinned() clears the PTE under the PTE lock, then asks
folio_maybe_dma_pinned(); a pinned page gets its PTE back, an unpinned one
loses its mapping.  GUP-fast (pin_user_pages_fast()) pins the page, then
re-reads the PTE and backs out if it changed.  The smp_mb() between the clear
and the read pairs with GUP-fast's fully ordered pin and its smp_mb__after_atomic().
"""

from pinlab.api import (
    ARM64,
    FOLL_FAST_ONLY,
    FOLL_PIN,
    FOLL_WRITE,
    NEVER,
    REACHABLE,
    X86,
    Built,
    Family,
    FinalState,
    Page,
    anon_page,
    barrier,
    define_barrier,
    era_by_name,
    folio_maybe_dma_pinned,
    folio_remove_rmap_pte,
    gup_fast_fallback,
    gup_fast_writes,
    paths,
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_get_and_clear,
    row,
    set_pte_at,
)

MB = define_barrier(
    "my_unmap_unless_pinned:mb-after-clear",
    "smp_mb",
    pairs_with="try_grab_folio_fast:mb-after-pin",
    why="the PTE clear is visible before the pin count is read",
)


def my_unmap_unless_pinned(cpu, vma, addr, folio):
    """The new path: unmap ``folio`` at ``addr`` unless it may be pinned."""
    ptep = yield from pte_offset_map_lock(vma.mm, addr)
    pte = yield from ptep_get_and_clear(vma.mm, addr, ptep)
    yield from barrier(cpu, MB.name)
    if (yield from folio_maybe_dma_pinned(cpu, folio)):
        yield from set_pte_at(vma.mm, addr, ptep, pte)  # pinned: keep it mapped
        yield from pte_unmap_unlock(vma.mm, addr)
        return False
    yield from folio_remove_rmap_pte(folio, folio.page(0), vma)
    yield from pte_unmap_unlock(vma.mm, addr)
    return True


FAMILY = Family(
    "my-unmap-vs-pin-fast",
    title="my_unmap_unless_pinned() vs pin_user_pages_fast()",
    source="my patch, v1",
    forbidden="the page is pinned and my path unmapped it",
    patterns=("L3",),
)


def build(era, arch):
    setup = anon_page(era, arch)  # one process, one private anonymous page, written
    mm, addr, vma, folio = setup.mm, setup.addr, setup.vma, setup.folio

    def unmap():
        return {"unmapped": (yield from my_unmap_unless_pinned(setup.cpu(1), vma, addr, folio))}

    def pin():
        pages: list[Page] = []
        flags = FOLL_PIN | FOLL_WRITE | FOLL_FAST_ONLY
        n = yield from gup_fast_fallback(setup.cpu(2), mm, addr, 1, flags, pages)
        return {"pinned": n}

    def bad(state: FinalState):
        if state.regs[0]["unmapped"] and state.regs[1]["pinned"] == 1:
            return f"{folio} is pinned, and my path unmapped it"
        return None

    threads = {"my_unmap_unless_pinned": unmap, "pin_user_pages_fast": pin}
    writes = {"pin_user_pages_fast": gup_fast_writes(mm, folio)}
    return Built(paths("my-unmap-vs-pin-fast", setup.system, threads, writes), bad)


CURRENT = era_by_name("current")
SCENARIOS = FAMILY.variants(
    build,
    row("arm64", CURRENT, sc=NEVER, lkmm=NEVER, arch=ARM64),
    row("x86", CURRENT, lkmm=NEVER, arch=X86),
    # What if the barrier went?  (pinlab check ./race.py --without ... says the same.)
    row("arm64-no-mb", CURRENT.without(MB.name), sc=NEVER, lkmm=REACHABLE, arch=ARM64),
)
