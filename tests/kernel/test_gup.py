"""Slow GUP: argument checks, pin accounting per era, unshare, FOLL_FORCE."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pinlab.kernel.defs import (
    EFAULT,
    EINVAL,
    FOLL_FORCE,
    FOLL_GET,
    FOLL_LONGTERM,
    FOLL_PIN,
    FOLL_TOUCH,
    FOLL_WRITE,
    MMF_HAS_PINNED,
    vm_flags_t,
)
from pinlab.kernel.fork import dup_mmap
from pinlab.kernel.gup_api import get_user_pages, is_valid_gup_args, pin_user_pages
from pinlab.kernel.mm_types import NR_FOLL_PIN_ACQUIRED, Page, pfn_folio
from pinlab.kernel.pin import unpin_user_pages
from pinlab.kernel.pte import pte_pfn, pte_write

MakeBox = Callable[[str], Any]


@pytest.mark.parametrize(
    ("pages", "flags", "valid"),
    [
        (True, FOLL_WRITE, True),
        (True, FOLL_TOUCH, False),  # internal flag from a caller
        (True, FOLL_GET | FOLL_PIN, False),
        (True, FOLL_LONGTERM, False),  # LONGTERM without PIN (to_set is FOLL_GET here)
        (False, 0, False),  # GET without pages
    ],
)
def test_is_valid_gup_args(pages: bool, flags: int, valid: bool) -> None:
    got = is_valid_gup_args([] if pages else None, None, flags, FOLL_GET)
    assert (got is not None) == valid


def test_invalid_args_return_einval_or_zero(make_box: MakeBox) -> None:
    box = make_box("current")
    pages: list[Page] = []
    assert box.run(get_user_pages(box.cpu, box.mm, box.addr, 1, FOLL_TOUCH, pages)) == -EINVAL
    assert box.run(pin_user_pages(box.cpu, box.mm, box.addr, 1, FOLL_GET, pages)) == 0


def _pin(box: Any, flags: int = 0) -> list[Page]:
    pages: list[Page] = []
    assert box.run(pin_user_pages(box.cpu, box.mm, box.addr, 1, flags, pages)) == 1
    return pages


@pytest.mark.parametrize(("era", "weight"), [("v4.20", 1), ("v5.7", 1024), ("current", 1024)])
def test_pin_accounting(make_box: MakeBox, era: str, weight: int) -> None:
    box = make_box(era)
    box.fault(write=True)
    folio = pfn_folio(pte_pfn(box.pte))
    pages = _pin(box, FOLL_WRITE)
    assert box.ex.memory[folio._refcount] == 1 + weight
    assert box.ex.memory[NR_FOLL_PIN_ACQUIRED] == (1 if weight > 1 else 0)
    assert bool(box.ex.memory[box.mm.flags] >> MMF_HAS_PINNED & 1) == (era == "current")
    box.run(unpin_user_pages(box.cpu, pages))
    assert box.ex.memory[folio._refcount] == 1


def _shared(make_box: MakeBox, era: str) -> tuple[Any, int]:
    box = make_box(era)
    box.fault(write=True)
    pfn = pte_pfn(box.pte)
    child = box.run(dup_mmap(box.cpu, box.mm))
    box.machine.mms[child.name] = child
    return box, pfn


def test_ro_pin_of_shared_page_unshares_first(make_box: MakeBox) -> None:
    box, shared = _shared(make_box, "current")
    [page] = _pin(box)
    assert page.pfn == pte_pfn(box.pte) != shared, "pinned the exclusive copy"
    assert not pte_write(box.pte) and box.pae(), "unshare keeps the PTE read-only"


def test_ro_pin_of_shared_page_before_v5_19(make_box: MakeBox) -> None:
    box, shared = _shared(make_box, "v5.11")
    [page] = _pin(box)
    assert page.pfn == shared == pte_pfn(box.pte), "the shared page itself is pinned"
    box, shared = _shared(make_box, "v5.8")
    [page] = _pin(box)
    assert page.pfn == pte_pfn(box.pte) != shared and pte_write(box.pte), "v5.8 breaks COW"


def test_foll_force_writes_only_through_a_cow_copy(make_box: MakeBox) -> None:
    box = make_box("current")
    box.fault(write=False)  # the zero page, mapped R/O
    ro = box.vma.replace(vm_flags=box.vma.vm_flags & ~vm_flags_t.VM_WRITE)
    box.mm.vmas[0] = ro
    pages: list[Page] = []
    denied = get_user_pages(box.cpu, box.mm, box.addr, 1, FOLL_WRITE, pages)
    assert box.run(denied) == -EFAULT
    assert (
        box.run(get_user_pages(box.cpu, box.mm, box.addr, 1, FOLL_WRITE | FOLL_FORCE, pages)) == 1
    )
    assert pages[0].pfn == pte_pfn(box.pte) and not pte_write(box.pte) and box.pae()
