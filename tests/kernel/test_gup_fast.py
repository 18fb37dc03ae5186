"""GUP-fast: the G-steps and their barriers per era, the seqcount against fork, fallbacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pinlab.engine import kapi
from pinlab.engine.ops import Fence, Load, Op, Rmw
from pinlab.kernel.defs import FOLL_GET, FOLL_PIN, FOLL_WRITE, GUP_PIN_COUNTING_BIAS
from pinlab.kernel.gup_fast import get_user_pages_fast_only, gup_fast, pin_user_pages_fast
from pinlab.kernel.mm_types import Page, pfn_folio
from pinlab.kernel.pte import pte_pfn
from pinlab.kernel.vmscan import madvise_pageout

MakeBox = Callable[[str], Any]


def _trace(box: Any, gen: Any) -> tuple[Any, list[Op]]:
    ops: list[Op] = []
    box.ex.after_step = lambda op, _ex: ops.append(op)
    try:
        return box.run(gen), ops
    finally:
        box.ex.after_step = None


def _steps(ops: list[Op], box: Any, folio: Any) -> list[str]:
    """The G-steps of a one-page GUP-fast pin, read off its operations."""
    names = {box.mm.write_protect_seq: "seq", box.mm.pte(box.addr): "pte",
             box.mm.pmd(box.addr): "pmd", folio._refcount: "ref", folio.flags: "flags"}  # fmt: skip
    out = []
    for op in ops:
        if isinstance(op, Fence):
            out.append(op.tag.value)
        elif isinstance(op, Load | Rmw) and op.loc in names:
            out.append(names[op.loc] + ("+" if isinstance(op, Rmw) else ""))
    return out


def test_pin_of_a_writable_page_follows_g1_to_g12(make_box: MakeBox) -> None:
    box = make_box("current")
    box.fault(write=True)
    folio = pfn_folio(pte_pfn(box.pte))
    pages: list[Page] = []
    n, ops = _trace(box, pin_user_pages_fast(box.cpu, box.mm, box.addr, 1, FOLL_WRITE, pages))
    assert n == 1 and box.ex.memory[folio._refcount] == 1 + GUP_PIN_COUNTING_BIAS
    steps = _steps(ops, box, folio)
    g1 = ["seq", "rmb", "rcu-lock", "pmd", "pte"]
    assert steps[: len(g1)] == g1, steps
    grab = steps[len(g1) :]
    assert grab[:4] == ["ref", "ref+", "ref+", "after-atomic"], "B3: pin, then smp_mb__after_atomic"
    assert grab[4:6] == ["pmd", "pte"], "B4: recheck the PMD and the PTE"
    assert grab[-3:] == ["rcu-unlock", "rmb", "seq"], "G11, G12"


def test_ro_pin_checks_exclusive_after_rmb_since_v6_1(make_box: MakeBox) -> None:
    for era, barriers in (("v5.19", False), ("current", True)):
        box = make_box(era)
        box.fault(write=True)
        box.run(kapi.clear_bit(1, box.mm.pte(box.addr)))  # map it R/O, still exclusive
        folio = pfn_folio(pte_pfn(box.pte))
        pages: list[Page] = []
        n, ops = _trace(box, pin_user_pages_fast(box.cpu, box.mm, box.addr, 1, 0, pages))
        assert n == 1 and pages[0].pfn == folio.pfn, era
        steps = _steps(ops, box, folio)
        b5 = steps.index("flags")
        assert (steps[b5 - 1] == "rmb") == barriers, (era, steps)
        assert ("after-atomic" in steps) == barriers


def test_odd_write_protect_seq_defers_to_the_slow_path(make_box: MakeBox) -> None:
    box = make_box("current")
    box.fault(write=True)
    box.run(kapi.WRITE_ONCE(box.mm.write_protect_seq, 1))  # fork is copying
    pages: list[Page] = []
    assert box.run(gup_fast(box.cpu, box.mm, box.addr, 1, FOLL_PIN, pages)) == 0 and not pages
    assert box.run(gup_fast(box.cpu, box.mm, box.addr, 1, FOLL_GET, pages)) == 1, "GET ignores it"


def test_fork_during_gup_fast_makes_it_unpin(make_box: MakeBox) -> None:
    box = make_box("current")
    box.fault(write=True)
    folio = pfn_folio(pte_pfn(box.pte))
    seq = box.mm.write_protect_seq

    def fork_runs(op: Op, ex: Any) -> None:  # a whole fork write section after the pin
        if isinstance(op, Rmw) and op.loc == folio._refcount and op.arg == 1023:
            ex.memory[seq] = ex.memory[seq] + 2

    box.ex.after_step = fork_runs
    pages: list[Page] = []
    assert box.run(gup_fast(box.cpu, box.mm, box.addr, 1, FOLL_PIN, pages)) == 0 and not pages
    assert box.ex.memory[folio._refcount] == 1, "G12: unpinned again"


def test_swapped_out_page_is_left_to_the_slow_path(make_box: MakeBox) -> None:
    box = make_box("current")
    box.fault(write=True)
    box.run(madvise_pageout(box.cpu, box.machine, box.vma, box.addr, box.addr + 4096))
    pages: list[Page] = []
    assert box.run(get_user_pages_fast_only(box.cpu, box.mm, box.addr, 1, 0, pages)) == 0
    assert box.run(pin_user_pages_fast(box.cpu, box.mm, box.addr, 1, 0, pages)) == 1
