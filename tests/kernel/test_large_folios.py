"""Large folios on their own: PMD split, fork of a THP, collapse, the huge zero page, mTHP, reclaim.

Each test drives one path of huge_memory, khugepaged, mthp, rmap_large and
vmscan_large through the process API and asserts the state the kernel leaves
behind (page tables, PageAnonExclusive, mapcounts, pins), next to the case
where the path must not be taken.
"""

from __future__ import annotations

import pytest

from pinlab.kernel.defs import EAGAIN, HPAGE_PMD_ORDER, PAGE_SIZE, PMD_SIZE
from pinlab.kernel.eras import era_by_name
from pinlab.kernel.folio import (
    PageAnonExclusive,
    folio_mapcount,
    folio_maybe_dma_pinned,
    folio_ref_count,
    folio_test_anon,
    folio_test_swapcache,
    page_mapcount,
)
from pinlab.kernel.huge_mm import is_huge_zero_pmd, pmd_pfn, pmd_trans_huge, pmd_write
from pinlab.kernel.mm_types import Folio, Page, pfn_folio, pfn_to_page
from pinlab.kernel.mmap import (
    MADV_COLLAPSE,
    MADV_HUGEPAGE,
    MADV_PAGEOUT,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    PROT_READ,
    PROT_WRITE,
)
from pinlab.kernel.process import PIN_LONGTERM_TEST_FLAG_USE_WRITE, PinSession, Process, System
from pinlab.kernel.pte import pte_present, pte_write

PMD_THP = frozenset({HPAGE_PMD_ORDER})
NR = PMD_SIZE // PAGE_SIZE


def boot(era: str = "current", orders: frozenset[int] = PMD_THP) -> tuple[System, Process]:
    system = System(era_by_name(era), strict=True, thp_orders=orders)
    return system, system.spawn()


def aligned(proc: Process, size: int, hugepage: bool = True) -> int:
    """A private anonymous range of ``size`` aligned to ``size`` (cow.c's trick)."""
    raw = proc.mmap(2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    mem = (raw + size) & ~(size - 1)
    if hugepage:
        assert proc.madvise(mem, size, MADV_HUGEPAGE) == 0
    return mem


def pmd(proc: Process, addr: int) -> int:
    return int(proc.system.memory[proc.mm.pmd(addr)])


def pte(proc: Process, addr: int) -> int:
    return int(proc.system.memory[proc.mm.pte(addr)])


def pte_page(proc: Process, addr: int) -> Page:
    value = pte(proc, addr)
    assert pte_present(value), f"{addr:#x} is not mapped"
    return pfn_to_page(value >> 12)


def pmd_folio(proc: Process, addr: int) -> Folio:
    value = pmd(proc, addr)
    assert pmd_trans_huge(value), f"{addr:#x} is not PMD-mapped"
    return pfn_folio(int(pmd_pfn(value)))


def pae(system: System, page: Page) -> bool:
    return bool(system.run("check", PageAnonExclusive(page)))


def mapcount(system: System, folio: Folio) -> int:
    return int(system.run("check", folio_mapcount(folio)))


def refcount(system: System, folio: Folio) -> int:
    return int(system.run("check", folio_ref_count(folio)))


def swapcache(system: System, folio: Folio) -> bool:
    return bool(system.run("check", folio_test_swapcache(folio)))


def pinned(system: System, folio: Folio) -> bool:
    return bool(system.run("check", folio_maybe_dma_pinned(system.cpu, folio)))


def populate_thp(proc: Process) -> tuple[int, Folio]:
    """A PMD-mapped THP whose page i holds i + 1."""
    mem = aligned(proc, PMD_SIZE)
    for i in range(NR):
        proc.write(mem + i * PAGE_SIZE, i + 1)
    return mem, pmd_folio(proc, mem)


def pin(proc: Process, addr: int, size: int = PAGE_SIZE, write: bool = True) -> PinSession:
    s = proc.pin_longterm_test_start(addr, size, PIN_LONGTERM_TEST_FLAG_USE_WRITE if write else 0)
    assert isinstance(s, PinSession), s
    return s


# --- PMD split --------------------------------------------------------------------------------
def test_pmd_split_gives_every_pte_the_pmds_exclusivity() -> None:
    """__split_huge_pmd_locked(): RMAP_EXCLUSIVE puts the head's PageAnonExclusive on each
    subpage, the PMD's one reference becomes one per PTE, the PMD's bits go to each PTE.

    (The model mirrors a PMD-mapped THP's exclusivity into every subpage, so the
    transfer itself is seen only against a shared THP, in the fork test below.)"""
    system, proc = boot()
    mem, folio = populate_thp(proc)
    assert pae(system, folio.page(0))
    assert (mapcount(system, folio), refcount(system, folio)) == (1, 1)  # one PMD mapping
    assert proc.mprotect(mem + PAGE_SIZE, PAGE_SIZE, PROT_READ) == 0  # splits the PMD
    assert not pmd_trans_huge(pmd(proc, mem))
    for i in range(NR):
        addr = mem + i * PAGE_SIZE
        assert pte_page(proc, addr) == folio.page(i)
        assert pae(system, folio.page(i))
        assert pte_write(pte(proc, addr)) == (i != 1)
        assert proc.read(addr) == i + 1
    assert (mapcount(system, folio), refcount(system, folio)) == (NR, NR)


def test_pmd_split_before_page_anon_exclusive_marks_no_page() -> None:
    system, proc = boot("v5.11")
    mem, folio = populate_thp(proc)
    assert proc.mprotect(mem + PAGE_SIZE, PAGE_SIZE, PROT_READ) == 0
    assert [pte_page(proc, mem + i * PAGE_SIZE) for i in range(NR)] == folio.pages()
    assert not any(pae(system, p) for p in folio.pages())


# --- fork: copy_huge_pmd() ------------------------------------------------------------------
def test_fork_shares_an_unpinned_thp_by_its_pmd() -> None:
    system, proc = boot()
    mem, folio = populate_thp(proc)
    child = proc.fork()
    assert pmd_folio(child, mem) == folio
    assert not pmd_write(pmd(proc, mem)) and not pmd_write(pmd(child, mem))
    assert not pae(system, folio.page(0))  # shared now: no longer exclusive
    assert (mapcount(system, folio), refcount(system, folio)) == (2, 2)
    # A split of the shared PMD has no exclusivity to hand on: no PTE's page is exclusive.
    assert proc.mprotect(mem + PAGE_SIZE, PAGE_SIZE, PROT_READ) == 0
    assert [pte_page(proc, mem + i * PAGE_SIZE) for i in range(NR)] == folio.pages()
    assert not any(pae(system, p) for p in folio.pages())
    assert mapcount(system, folio) == NR + 1  # PTE-mapped in the parent, PMD-mapped in the child


def test_fork_splits_a_maybe_pinned_thp_and_copies_every_page() -> None:
    """copy_huge_pmd(): folio_try_dup_anon_rmap_pmd() says -EBUSY, the parent's PMD is split,
    and at the PTE level every page of the maybe-pinned folio is copied for the child."""
    system, proc = boot()
    mem, folio = populate_thp(proc)
    s = pin(proc, mem)
    child = proc.fork()
    assert not pmd_trans_huge(pmd(proc, mem)) and not pmd_trans_huge(pmd(child, mem))
    for i in range(NR):
        addr = mem + i * PAGE_SIZE
        assert pte_page(proc, addr) == folio.page(i)
        assert pae(system, folio.page(i)) and pte_write(pte(proc, addr))
        copy = pte_page(child, addr)
        assert copy not in folio.pages()
        assert pae(system, copy)
        assert child.read(addr) == i + 1
    assert mapcount(system, folio) == NR  # the parent's mappings only
    assert pinned(system, folio)
    proc.pin_longterm_test_stop(s)


def test_fork_before_v5_9_shares_a_pinned_thp() -> None:
    """Before d042035eaf5f the pin does not stop fork from sharing the THP (the old bug)."""
    _, proc = boot("v5.8")
    mem, folio = populate_thp(proc)
    s = pin(proc, mem)
    child = proc.fork()
    assert pmd_folio(child, mem) == folio == pmd_folio(proc, mem)
    assert not pmd_write(pmd(proc, mem))
    proc.pin_longterm_test_stop(s)


# --- COW reuse up to v5.8: reuse_swap_page() --------------------------------------------------
def _pte_mapped_thp_shared_with_child(era: str) -> tuple[System, Process, Process, int, Folio]:
    system, proc = boot(era)
    mem, folio = populate_thp(proc)
    assert proc.mprotect(mem + PAGE_SIZE, PAGE_SIZE, PROT_READ) == 0  # splits the PMD
    assert proc.mprotect(mem + PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE) == 0
    child = proc.fork()
    assert [pte_page(child, mem + i * PAGE_SIZE) for i in range(NR)] == folio.pages()
    return system, proc, child, mem, folio


def test_cow_before_v5_9_copies_a_subpage_while_another_is_mapped_twice() -> None:
    """page_trans_huge_map_swapcount() takes the largest mapcount over every subpage of a
    PTE-mapped THP (not the faulting page's): while the child still maps the upper half,
    the parent's write to a page only it maps is a copy (cow.c's partially mremap()'ed THP)."""
    system, proc, child, mem, folio = _pte_mapped_thp_shared_with_child("v5.7")
    assert child.munmap(mem, PMD_SIZE // 2) == 0
    assert system.run("check", page_mapcount(folio.page(0))) == 1
    proc.write(mem, 100)
    assert pte_page(proc, mem) not in folio.pages()
    assert pte_write(pte(proc, mem))


def test_cow_before_v5_9_reuses_a_thp_subpage_once_every_subpage_is_mapped_once() -> None:
    _, proc, child, mem, folio = _pte_mapped_thp_shared_with_child("v5.7")
    assert child.munmap(mem, PMD_SIZE) == 0
    proc.write(mem, 100)
    assert pte_page(proc, mem) == folio.page(0)
    assert pte_write(pte(proc, mem))
    child.exit()


# --- collapse -----------------------------------------------------------------------------
def _base_pages(era: str) -> tuple[System, Process, int]:
    system, proc = boot(era, orders=frozenset())
    mem = aligned(proc, PMD_SIZE, hugepage=False)
    for i in range(NR):
        proc.write(mem + i * PAGE_SIZE, i + 1)
    assert not pmd_trans_huge(pmd(proc, mem))
    return system, proc, mem


def test_madv_collapse_refuses_a_range_with_a_pinned_page() -> None:
    """is_refcount_suitable(): the pin's reference is more than the mapping's, so the range
    is left as it was (the PMD table put back) and MADV_COLLAPSE says -EAGAIN."""
    system, proc, mem = _base_pages("current")
    before = [pte(proc, mem + i * PAGE_SIZE) for i in range(NR)]
    s = pin(proc, mem + 3 * PAGE_SIZE)
    assert proc.madvise(mem, PMD_SIZE, MADV_COLLAPSE) == -EAGAIN
    assert not pmd_trans_huge(pmd(proc, mem))
    assert [pte(proc, mem + i * PAGE_SIZE) for i in range(NR)] == before
    proc.pin_longterm_test_stop(s)
    assert proc.madvise(mem, PMD_SIZE, MADV_COLLAPSE) == 0
    folio = pmd_folio(proc, mem)
    assert pae(system, folio.page(0)) and pmd_write(pmd(proc, mem))
    assert [proc.read(mem + i * PAGE_SIZE) for i in range(NR)] == list(range(1, NR + 1))


# --- the huge zero page -------------------------------------------------------------------
def test_ro_longterm_pin_of_the_huge_zero_page_unshares_one_page() -> None:
    """A R/O longterm pin in a private mapping must not land on the huge zero folio: the
    unshare fault splits the huge zero PMD and gives the pinned address an exclusive
    anonymous page; the other addresses keep the (small) zero page."""
    system, proc = boot()
    mem = aligned(proc, PMD_SIZE)
    assert proc.read(mem) == 0
    assert is_huge_zero_pmd(pmd(proc, mem))
    s = pin(proc, mem + PAGE_SIZE, write=False)
    assert not pmd_trans_huge(pmd(proc, mem))
    page = pte_page(proc, mem + PAGE_SIZE)
    folio = pfn_folio(page.pfn)
    assert system.run("check", folio_test_anon(folio)) and pae(system, page)
    assert pinned(system, folio)
    zero = pte(proc, mem)
    assert pte_present(zero) and not pte_write(zero)
    assert pte_page(proc, mem) == pte_page(proc, mem + 2 * PAGE_SIZE)  # the one zero page
    assert proc.read(mem + PAGE_SIZE) == 0
    proc.pin_longterm_test_stop(s)


# --- mTHP ---------------------------------------------------------------------------------
def test_mthp_fault_maps_the_whole_aligned_block_exclusive() -> None:
    """do_anonymous_page() with an mTHP order: one folio for the aligned block, every PTE
    writable and every page exclusive."""
    size = 4 * PAGE_SIZE
    system, proc = boot(orders=frozenset({2}))
    mem = aligned(proc, size)
    proc.write(mem + PAGE_SIZE, 7)
    pages = [pte_page(proc, mem + i * PAGE_SIZE) for i in range(4)]
    folio = pfn_folio(pages[0].pfn)
    assert folio.order == 2 and pages == folio.pages()
    assert all(pae(system, p) for p in pages)
    assert all(pte_write(pte(proc, mem + i * PAGE_SIZE)) for i in range(4))
    assert mapcount(system, folio) == 4
    assert [proc.read(mem + i * PAGE_SIZE) for i in range(4)] == [0, 7, 0, 0]


def test_no_mthp_before_v6_8_faults_one_page() -> None:
    _, proc = boot("v6.5", orders=frozenset({2}))
    mem = aligned(proc, 4 * PAGE_SIZE)
    proc.write(mem + PAGE_SIZE, 7)
    assert pte_present(pte(proc, mem + PAGE_SIZE))
    assert not any(pte(proc, mem + i * PAGE_SIZE) for i in (0, 2, 3))


# --- reclaim of a PMD-mapped THP --------------------------------------------------------------
def test_pageout_swaps_an_unpinned_thp_out() -> None:
    _, proc = boot()
    mem, _ = populate_thp(proc)
    proc.madvise(mem, PMD_SIZE, MADV_PAGEOUT)
    assert all(proc.pagemap_is_swapped(mem + i * PAGE_SIZE) for i in range(NR))
    assert [proc.read(mem + i * PAGE_SIZE) for i in range(NR)] == list(range(1, NR + 1))


def test_pageout_keeps_a_pinned_thp_mapped_and_exclusive() -> None:
    """Reclaim must not unmap a maybe-pinned exclusive THP: the pin and the mapping stay."""
    system, proc = boot()
    mem, folio = populate_thp(proc)
    s = pin(proc, mem + 5 * PAGE_SIZE)
    proc.madvise(mem, PMD_SIZE, MADV_PAGEOUT)
    assert not any(proc.pagemap_is_swapped(mem + i * PAGE_SIZE) for i in range(NR))
    mapped = pmd(proc, mem)
    pages = (
        folio.pages()
        if pmd_trans_huge(mapped)
        else [pte_page(proc, mem + i * PAGE_SIZE) for i in range(NR)]
    )
    assert pages == folio.pages()
    assert all(pae(system, p) for p in pages)
    proc.pin_longterm_test_stop(s)


def test_pageout_before_v5_11_unmaps_a_pinned_thp_but_cannot_free_it() -> None:
    """Before reclaim skipped maybe-pinned folios, try_to_unmap() took the pinned THP out
    of the page tables; only the pin's reference kept __remove_mapping() from freeing it,
    and the next fault maps the same page back from the swap cache."""
    system, proc = boot("v5.9")
    mem, folio = populate_thp(proc)
    s = pin(proc, mem + 5 * PAGE_SIZE)
    proc.madvise(mem, PMD_SIZE, MADV_PAGEOUT)
    assert all(proc.pagemap_is_swapped(mem + i * PAGE_SIZE) for i in range(NR))
    assert proc.read(mem + 5 * PAGE_SIZE) == 6
    assert pte_page(proc, mem + 5 * PAGE_SIZE) == folio.page(5)
    assert pinned(system, folio)
    proc.pin_longterm_test_stop(s)


def test_swapin_before_v5_11_maps_each_page_of_the_cached_thp_from_its_own_slot() -> None:
    """Each fault finds the THP in the swap cache and maps the page of its entry's slot
    (folio_file_page(); v5.9's find_subpage()), never the head for every address; read
    faults leave the swap cache alone."""
    system, proc = boot("v5.9")
    mem, folio = populate_thp(proc)
    s = pin(proc, mem + 5 * PAGE_SIZE)
    proc.madvise(mem, PMD_SIZE, MADV_PAGEOUT)
    assert [proc.read(mem + i * PAGE_SIZE) for i in range(NR)] == list(range(1, NR + 1))
    assert [pte_page(proc, mem + i * PAGE_SIZE) for i in range(NR)] == folio.pages()
    assert mapcount(system, folio) == NR
    assert swapcache(system, folio)
    proc.pin_longterm_test_stop(s)


def test_swapin_write_before_v5_11_reuses_the_pinned_page_of_a_cached_thp() -> None:
    """reuse_swap_page() counted a THP page's mappings and swap PTEs, not references: the
    write fault maps the pinned page 5 writable, so the pin sees the write; the THP stays
    in the swap cache while the other pages' slots are in use."""
    system, proc = boot("v5.9")
    mem, folio = populate_thp(proc)
    s = pin(proc, mem + 5 * PAGE_SIZE)
    proc.madvise(mem, PMD_SIZE, MADV_PAGEOUT)
    proc.write(mem + 5 * PAGE_SIZE, 99)
    assert pte_page(proc, mem + 5 * PAGE_SIZE) == folio.page(5)
    assert pte_write(pte(proc, mem + 5 * PAGE_SIZE))
    assert proc.pin_longterm_test_read(s) == [99]
    assert swapcache(system, folio)
    assert proc.pagemap_is_swapped(mem + 6 * PAGE_SIZE)
    proc.pin_longterm_test_stop(s)


def test_swapin_of_a_thp_a_reference_kept_in_the_swap_cache_maps_the_faulting_page() -> None:
    """Today a pin keeps reclaim away, but a FOLL_GET reference (vmsplice) still keeps
    __remove_mapping() from freeing the unmapped THP; the fault maps the page of its own
    slot back, exclusive as its swap entry said."""
    system, proc = boot()
    mem, folio = populate_thp(proc)
    pipe = proc.pipe()
    assert proc.vmsplice(pipe, mem + 5 * PAGE_SIZE, PAGE_SIZE) == PAGE_SIZE
    proc.madvise(mem, PMD_SIZE, MADV_PAGEOUT)
    assert all(proc.pagemap_is_swapped(mem + i * PAGE_SIZE) for i in range(NR))
    assert swapcache(system, folio)
    assert proc.read(mem + 9 * PAGE_SIZE) == 10
    assert pte_page(proc, mem + 9 * PAGE_SIZE) == folio.page(9)
    assert pae(system, folio.page(9))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="model gap: do_swap_page() maps one page per fault; since 'mm: swap: entirely "
    "map large folios found in swapcache' (2024) the kernel maps every PTE of a large "
    "folio whose swap entries are all still in place in one fault",
)
def test_swapin_of_a_thp_in_the_swap_cache_maps_the_whole_folio_today() -> None:
    _, proc = boot()
    mem, folio = populate_thp(proc)
    pipe = proc.pipe()
    assert proc.vmsplice(pipe, mem + 5 * PAGE_SIZE, PAGE_SIZE) == PAGE_SIZE
    proc.madvise(mem, PMD_SIZE, MADV_PAGEOUT)
    assert proc.read(mem + 9 * PAGE_SIZE) == 10
    assert not any(proc.pagemap_is_swapped(mem + i * PAGE_SIZE) for i in range(NR))
    assert [pte_page(proc, mem + i * PAGE_SIZE) for i in range(NR)] == folio.pages()


def test_swapin_write_of_the_last_swapped_page_takes_the_thp_out_of_the_swap_cache() -> None:
    """Once no other page's slot is in use, reuse_swap_page() deletes the THP from the swap
    cache, which drops the reference it held for each page."""
    system, proc = boot("v5.9")
    mem, folio = populate_thp(proc)
    s = pin(proc, mem + 5 * PAGE_SIZE)
    proc.madvise(mem, PMD_SIZE, MADV_PAGEOUT)
    for i in range(NR):
        if i != 7:
            proc.read(mem + i * PAGE_SIZE)
    before = refcount(system, folio)
    proc.write(mem + 7 * PAGE_SIZE, 99)
    assert not swapcache(system, folio)
    assert refcount(system, folio) == before + 1 - NR
    assert pte_write(pte(proc, mem + 7 * PAGE_SIZE))
    assert [proc.read(mem + i * PAGE_SIZE) for i in (6, 7, 8)] == [7, 99, 9]
    proc.pin_longterm_test_stop(s)
