"""KSM: write_protect_page(), replace_page(), and what a GUP reference or pin does to them."""

from __future__ import annotations

from typing import Any

from pinlab.engine import kapi
from pinlab.engine.explore import explore
from pinlab.engine.ops import Fence, FenceTag, Op, Rmw, Store
from pinlab.engine.program import Condition, CondKind, Program, RegVar
from pinlab.kernel.defs import (
    FOLL_PIN,
    PAGE_MAPPING_ANON,
    PAGE_MAPPING_KSM,
    PG_anon_exclusive,
    PG_locked,
)
from pinlab.kernel.folio import folio_get, folio_put, folio_trylock, folio_unlock
from pinlab.kernel.gup_fast import gup_fast
from pinlab.kernel.ksm import write_protect_page
from pinlab.kernel.mm_types import Cpu
from pinlab.kernel.mmap import MADV_MERGEABLE
from pinlab.kernel.process import PinSession
from pinlab.kernel.pte import pte_dirty, pte_write
from pinlab.scenarios.common import gup_fast_writes

PAGE = 4096
KSM = PAGE_MAPPING_ANON | PAGE_MAPPING_KSM


def _two_equal_pages(k: Any, era: str = "current") -> tuple[Any, Any, int, int]:
    system, proc = k.boot(era)
    a, b = k.anon_page(proc, 7), k.anon_page(proc, 7)
    proc.madvise(a, PAGE, MADV_MERGEABLE)
    proc.madvise(b, PAGE, MADV_MERGEABLE)
    return system, proc, a, b


def test_equal_pages_share_one_write_protected_ksm_page(k: Any) -> None:
    system, proc, a, b = _two_equal_pages(k)
    assert system.ksmd([(proc, a), (proc, b)]) == 2
    fa, fb = k.folio(proc, a), k.folio(proc, b)
    assert fa == fb and system.memory[fa.mapping] == KSM
    assert not pte_write(k.pte(proc, a)) and not pte_write(k.pte(proc, b))
    assert not int(system.memory[fa.flags]) >> PG_anon_exclusive & 1
    assert system.memory[fa._mapcount] == 1 and system.memory[fa._refcount] == 2


def test_a_write_to_a_ksm_page_copies_it(k: Any) -> None:
    system, proc, a, b = _two_equal_pages(k)
    system.ksmd([(proc, a), (proc, b)])
    proc.write(a, 9)
    assert proc.read(a) == 9 and proc.read(b) == 7
    assert k.folio(proc, a) != k.folio(proc, b)


def test_pages_that_differ_are_not_merged(k: Any) -> None:
    system, proc = k.boot()
    a, b = k.anon_page(proc, 1), k.anon_page(proc, 2)
    proc.madvise(a, 2 * PAGE, MADV_MERGEABLE)
    proc.madvise(b, PAGE, MADV_MERGEABLE)
    assert system.ksmd([(proc, a), (proc, b)]) == 0


def test_a_pinned_page_is_not_merged(k: Any) -> None:
    system, proc, a, b = _two_equal_pages(k)
    assert isinstance(proc.pin_longterm_test_start(a, PAGE, 0), PinSession)
    assert system.ksmd([(proc, a), (proc, b)]) == 0
    assert system.memory[k.folio(proc, a).mapping] == PAGE_MAPPING_ANON
    assert int(system.memory[k.folio(proc, a).flags]) >> PG_anon_exclusive & 1


def test_a_page_with_a_gup_reference_is_not_merged(k: Any) -> None:
    system, proc, a, b = _two_equal_pages(k)
    pipe = proc.pipe()
    proc.vmsplice(pipe, a, PAGE)  # FOLL_GET: mapcount + 1 != refcount
    assert system.ksmd([(proc, a), (proc, b)]) == 0


def _wp_trace(system: Any, proc: Any, addr: int, k: Any) -> tuple[Any, list[Op]]:
    folio = k.folio(proc, addr)
    vma = proc.mm.find_vma(addr)
    ops: list[Op] = []

    def run() -> Any:
        yield from folio_get(folio)
        assert (yield from folio_trylock(folio))
        system.executor.after_step = lambda op, _ex: ops.append(op)
        ret = yield from write_protect_page(system.cpu, vma, folio)
        system.executor.after_step = system.checker.after_step
        yield from folio_unlock(folio)
        yield from folio_put(folio)
        return ret

    return system.run("ksm", run()), ops


def test_a_clean_read_only_exclusive_pte_comes_back_unchanged(k: Any) -> None:
    """The hard case of 088b8aa537c2: only PageAnonExclusive tells GUP-fast to back off."""
    system, proc = k.boot()
    addr = k.anon_page(proc)
    pte = k.pte(proc, addr) & ~(1 << 1) & ~(1 << 6)  # R/O and clean, still exclusive
    system.run("wrprotect", kapi.WRITE_ONCE(proc.mm.pte(addr), pte))
    (err, orig), ops = _wp_trace(system, proc, addr, k)
    assert err == 0 and orig == pte == k.pte(proc, addr)
    assert not int(system.memory[k.folio(proc, addr).flags]) >> PG_anon_exclusive & 1
    writes = [op for op in ops if isinstance(op, Rmw | Store) and op.loc == proc.mm.pte(addr)]
    assert len(writes) == 2, "cleared (xchg), then restored to the same value"


def test_pae_clearing_barriers_are_an_era_switch(k: Any) -> None:
    for era, fences in (
        ("v5.19", [FenceTag.SYNC_RCU]),  # only the wait for the flush IPI (x86)
        ("v6.1", [FenceTag.SYNC_RCU, FenceTag.MB, FenceTag.AFTER_ATOMIC]),
    ):
        system, proc = k.boot(era)
        addr = k.anon_page(proc)
        (err, orig), ops = _wp_trace(system, proc, addr, k)
        assert err == 0 and not pte_write(orig) and not pte_dirty(orig)
        assert [op.tag for op in ops if isinstance(op, Fence)] == fences, era


def test_before_pae_ksm_only_write_protects(k: Any) -> None:
    system, proc, a, b = _two_equal_pages(k, "v5.11")
    assert system.ksmd([(proc, a), (proc, b)]) == 2
    assert k.folio(proc, a) == k.folio(proc, b)
    proc.write(b, 3)
    assert proc.read(a) == 7


def _ksm_vs_gup_fast(k: Any, era: str) -> Any:
    """write_protect_page() on a R/O, clean, exclusive page against a GUP-fast R/O pin."""
    system, proc = k.boot(era)
    addr = k.anon_page(proc)
    mm, vma = proc.mm, proc.mm.find_vma(addr)
    pte = k.pte(proc, addr) & ~(1 << 1) & ~(1 << 6)
    memory = system.memory
    memory[mm.pte(addr)] = pte
    folio = k.folio(proc, addr)
    memory[folio._refcount] += 1  # get_mergeable_page()'s reference
    memory[folio.flags] |= 1 << PG_locked  # try_to_merge_one_page() holds the lock

    def ksm() -> Any:
        err, _ = yield from write_protect_page(Cpu(system.machine, id=1), vma, folio)
        return {"err": err}

    def gup() -> Any:
        n = yield from gup_fast(Cpu(system.machine, id=2), mm, addr, 1, FOLL_PIN, [])
        return {"n": n}

    shared_and_pinned = Condition(
        CondKind.EXISTS, lambda s: s.get(RegVar(0, "err")) == 0 and s.get(RegVar(1, "n")) == 1
    )
    hints = (
        frozenset({mm.ptl(addr), mm.pte(addr), folio.flags}),
        gup_fast_writes(mm, folio),
    )
    return Program(
        "ksm+gup-fast", (ksm, gup), memory.snapshot(), shared_and_pinned, may_write=hints
    )


def test_gup_fast_may_pin_a_page_ksm_shares_before_v6_1_under_lkmm(k: Any) -> None:
    """088b8aa537c2: without the barriers, GUP-fast pins a page KSM just made shareable."""
    assert explore(_ksm_vs_gup_fast(k, "v5.19"), "sc").observation == "Never"
    assert explore(_ksm_vs_gup_fast(k, "v5.19"), "lkmm").observation == "Sometimes"
    assert explore(_ksm_vs_gup_fast(k, "v6.1"), "lkmm").observation == "Never"
