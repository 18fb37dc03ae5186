"""fork(): share or copy each page; swap entries lose exclusivity; zap drops references."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pinlab.engine import kapi
from pinlab.kernel.defs import GUP_PIN_COUNTING_BIAS, MMF_HAS_PINNED
from pinlab.kernel.folio import folio_ref_add
from pinlab.kernel.fork import dup_mmap
from pinlab.kernel.mm_types import pfn_folio
from pinlab.kernel.pte import pte_pfn, pte_present, pte_swp_exclusive, pte_write
from pinlab.kernel.vmscan import madvise_pageout
from pinlab.kernel.zap import zap_pte_range

MakeBox = Callable[[str], Any]


def _fork(box: Any) -> Any:
    child = box.run(dup_mmap(box.cpu, box.mm))
    box.machine.mms[child.name] = child
    return child


def test_fork_shares_and_write_protects(make_box: MakeBox) -> None:
    box = make_box("current")
    box.fault(write=True)
    folio = pfn_folio(pte_pfn(box.pte))
    child = _fork(box)
    child_pte = int(box.ex.memory[child.pte(box.addr)])
    assert pte_pfn(child_pte) == folio.pfn and not pte_write(child_pte)
    assert not pte_write(box.pte) and not box.pae(), "shared: PageAnonExclusive cleared"
    assert box.ex.memory[folio._mapcount] == 1 and box.ex.memory[folio._refcount] == 2
    assert box.ex.memory[box.mm.write_protect_seq] == 2, "one write section"


def _pin_and_fork(make_box: MakeBox, era: str) -> tuple[Any, Any, Any]:
    box = make_box(era)
    box.fault(write=True)
    folio = pfn_folio(pte_pfn(box.pte))
    box.run(folio_ref_add(folio, GUP_PIN_COUNTING_BIAS))  # as a pin would
    box.run(kapi.set_bit(MMF_HAS_PINNED, box.mm.flags))
    box.run(kapi.atomic_set(box.mm.has_pinned, 1))
    return box, folio, _fork(box)


def test_fork_copies_a_maybe_pinned_page_since_v5_9(make_box: MakeBox) -> None:
    for era in ("v5.9", "current"):
        box, folio, child = _pin_and_fork(make_box, era)
        child_pte = int(box.ex.memory[child.pte(box.addr)])
        assert pte_pfn(child_pte) != folio.pfn and pte_write(child_pte), era
        assert pte_pfn(box.pte) == folio.pfn and pte_write(box.pte), "parent untouched"
    box, folio, child = _pin_and_fork(make_box, "v5.7")
    assert pte_pfn(int(box.ex.memory[child.pte(box.addr)])) == folio.pfn, "v5.7 shares it"


def test_fork_clears_the_swap_entry_exclusive_bit(make_box: MakeBox) -> None:
    box = make_box("current")
    box.fault(write=True)
    box.run(madvise_pageout(box.cpu, box.machine, box.vma, box.addr, box.addr + 4096))
    assert pte_swp_exclusive(box.pte)
    child = _fork(box)
    assert not pte_swp_exclusive(box.pte)
    assert int(box.ex.memory[child.pte(box.addr)]) == box.pte


def test_zap_unmaps_and_drops_the_mapping_reference(make_box: MakeBox) -> None:
    box = make_box("current")
    box.fault(write=True)
    folio = pfn_folio(pte_pfn(box.pte))
    box.run(zap_pte_range(box.cpu, box.vma, box.addr, box.addr + 4096))
    assert not pte_present(box.pte)
    assert box.ex.memory[folio._refcount] == 0 and box.ex.memory[folio._mapcount] == -1
