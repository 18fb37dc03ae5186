"""Invariants I1-I15 (docs/labels.md), as named predicates over the model state.

Each invariant has a kebab-case id, the era from which its notion exists in
the model (``exists``: PageAnonExclusive invariants mean nothing before
v5.19) and the era from which the kernel promises it (``since``).  A
predicate looks at a :class:`View`: kernel memory, the machine's mms, and the
GUP references callers believe they hold (``GupRef``: pipe buffers, io_uring
buffers, gup_test pins) -- the "ghost" state a checker needs to say what a
pin *should* still see.

Rules that make state predicates meaningful at every step:

- a page-table invariant judges only PTEs whose PTL is free (inside the
  lock, the kernel is between two consistent states: mprotect clears a PTE
  before it rewrites it);
- a caller believes it holds a reference only once GUP returned it, and
  stops believing before it calls unpin, so count invariants hold throughout.

Transition invariant: I4 is judged on the step that clears PG_anon_exclusive.
"""

from __future__ import annotations

__all__ = ["BY_ID", "INVARIANTS", "GupRef", "Invariant", "View", "pae_cleared_violation"]

from collections.abc import Callable
from dataclasses import dataclass, field

from pinlab.kernel.defs import (
    GUP_PIN_COUNTING_BIAS,
    MMF_HAS_PINNED,
    PG_anon_exclusive,
    PG_swapcache,
)
from pinlab.kernel.eras import HasPinned
from pinlab.kernel.internal import is_cow_mapping
from pinlab.kernel.mm_types import (
    HUGE_ZERO_PFN,
    NR_FOLL_PIN_ACQUIRED,
    NR_FOLL_PIN_RELEASED,
    ZERO_PFN,
    folio_is_longterm_pinnable,
    folio_test_hugetlb,
    folio_test_large,
    pfn_folio,
    swap_slot,
)
from pinlab.kernel.pte import (
    SWP_DEVICE_EXCLUSIVE,
    SWP_SWAPFILE,
    describe_pte,
    pte_present,
    pte_special,
    pte_swp_exclusive,
    pte_write,
    swp_offset,
    swp_type,
)
from pinlab.kernel.view import GupRef, View

Check = Callable[[View], str | None]


@dataclass(frozen=True)
class Invariant:
    id: str
    number: int
    text: str
    exists: str  # the first era in which the notion exists in the model
    since: str  # the first era in which the kernel promises it
    check: Check = field(repr=False)

    @property
    def label(self) -> str:
        return f"I{self.number} {self.id}"


def _i1(v: View) -> str | None:
    for p in v.ptes:
        if p.locked or not pte_present(p.pte) or not pte_write(p.pte):
            continue
        pfn = p.pte >> 12
        if pte_special(p.pte) or not v.anon(pfn):
            continue
        if v.era.anon_exclusive and not v.pae(pfn):
            return f"{p} is writable but the page is not PageAnonExclusive"
        others = v.mappers.get(pfn, set()) - {p.mm.name}
        if others:
            return f"{p} is writable but {', '.join(sorted(others))} also maps it"
        # hugetlb reuses by mapcount by design: a GUP reference (vmsplice's)
        # does not stop the reuse (cow.c marks those cases XFAIL).
        hugetlb = folio_test_hugetlb(pfn_folio(pfn))
        for r in v.refs:
            if r.pfn == pfn and r.mm != p.mm.name and not (hugetlb and not r.pin):
                return f"{p} is writable but {r} still uses it"
        if v.flags(pfn) >> PG_swapcache & 1:
            folio = pfn_folio(pfn)
            slot = int(v.read(folio.swap)) + pfn - folio.pfn  # a slot per page
            if int(v.read(swap_slot(slot).count)) > 0:
                return f"{p} is writable but swap PTEs still refer to its swap slot"
    return None


def _i2(v: View) -> str | None:
    for pfn, mms in v.mappers.items():
        if v.pae(pfn) and (len(mms) > 1 or v.ksm(pfn)):
            return f"PageAnonExclusive {pfn_folio(pfn)} is mapped by {sorted(mms)}"
    return None


def _i3(v: View) -> str | None:
    for r in v.pins(attached_only=False):
        if r.pfn != ZERO_PFN and v.anon(r.pfn) and not v.pae(r.pfn):
            return f"{r}: the pinned anonymous page is not PageAnonExclusive"
    return None


def _i5(v: View) -> str | None:
    for r in v.pins():
        mm = v.machine.mms.get(r.mm)
        if not r.anon or mm is None or v.read(mm.ptl(r.addr)):
            continue
        pte = v.pte_at(mm, r.addr)
        if not pte_present(pte) or pte >> 12 != r.pfn:
            return f"{r}: {mm.name} {r.addr:#x} now -> {describe_pte(pte)}"
    return None


def _i6(v: View) -> str | None:
    for r in v.pins():
        if r.longterm and not r.write and r.cow and not r.anon:
            what = "the shared zero page" if r.pfn == ZERO_PFN else "a pagecache page"
            return f"{r}: a R/O longterm pin of {what} in a COW mapping"
    return None


def _i7(v: View) -> str | None:
    for r in v.pins():
        others = v.mappers.get(r.pfn, set()) - {r.mm}
        forked = sorted(mm for mm in others if v.births.get(mm, 0) > r.epoch)
        if r.anon and forked:
            return f"{r}: {', '.join(forked)}, forked after the pin, maps the pinned page"
    return None


def _i8(v: View) -> str | None:
    for r in v.pins():
        if r.fast and r.anon and r.pfn != ZERO_PFN and not v.pae(r.pfn):
            return f"{r}: GUP-fast pinned a page that is not PageAnonExclusive"
    return None


def _i9(v: View) -> str | None:
    users: dict[int, int] = {}
    swap_ptes = [p for p in v.ptes if not pte_present(p.pte) and swp_type(p.pte) == SWP_SWAPFILE]
    for p in swap_ptes:
        users[swp_offset(p.pte)] = users.get(swp_offset(p.pte), 0) + 1
    for p in swap_ptes:
        if p.locked:
            continue
        slot = swp_offset(p.pte)
        cached = int(v.read(swap_slot(slot).cache))
        if cached and v.pae(cached):
            return f"{p}: the swap cache's {pfn_folio(cached)} is PageAnonExclusive"
        if pte_swp_exclusive(p.pte) and users[slot] > 1:
            return f"{p} is exclusive but {users[slot]} swap PTEs share the slot"
    return None


def _i10(v: View) -> str | None:
    for r in v.pins():
        mm = v.machine.mms.get(r.mm)
        if mm is None:
            continue
        if v.era.has_pinned is HasPinned.MMF_BIT:
            ok = int(v.read(mm.flags)) >> MMF_HAS_PINNED & 1
        else:
            ok = int(v.read(mm.has_pinned))
        if not ok:
            return f"{r}: {mm.name} does not record that it has pins"
    return None


def _i11(v: View) -> str | None:
    pins: dict[int, int] = {}  # head pfn -> pins the callers hold on its folio
    gets: dict[int, int] = {}  # head pfn -> references (FOLL_GET)
    for r in v.refs:
        held = pins if r.pin else gets
        head = pfn_folio(r.pfn).pfn
        held[head] = held.get(head, 0) + 1
    heads = {pfn_folio(p).pfn for p in v.mappers} | pins.keys() | gets.keys()
    for head in sorted(heads - {ZERO_PFN, HUGE_ZERO_PFN}):
        folio = pfn_folio(head)
        npins, ngets = pins.get(head, 0), gets.get(head, 0)
        maps = v.mapcount(head)
        large = folio_test_large(folio) and v.era.foll_pin
        want = (1 if large else GUP_PIN_COUNTING_BIAS) * npins + ngets + maps
        refcount = v.refcount(head)
        if refcount < want:
            return (
                f"{folio}: _refcount {refcount} < {want} ({npins} pins, {ngets} refs, {maps} maps)"
            )
        if large and int(v.read(folio._pincount)) < npins:
            return f"{folio}: _pincount {int(v.read(folio._pincount))} < {npins} pins"
    counted = [r for r in v.pins(attached_only=False)]
    if v.era.zero_page_pin_uncounted:
        counted = [r for r in counted if r.pfn != ZERO_PFN]
    outstanding = int(v.read(NR_FOLL_PIN_ACQUIRED)) - int(v.read(NR_FOLL_PIN_RELEASED))
    if outstanding < len(counted):
        return f"nr_foll_pin_acquired - released = {outstanding} < {len(counted)} pins held"
    return None


def _i12(v: View) -> str | None:
    for r in v.pins(attached_only=False):
        if r.longterm and not folio_is_longterm_pinnable(pfn_folio(r.pfn)):
            return f"{r}: FOLL_LONGTERM pin of a page that is not longterm-pinnable"
    return None


def _i13(v: View) -> str | None:
    for p in v.ptes:
        if pte_present(p.pte) or swp_type(p.pte) != SWP_DEVICE_EXCLUSIVE:
            continue
        if not v.anon(swp_offset(p.pte)) or not is_cow_mapping(p.vma.vm_flags):
            return f"{p}: device-exclusive entry for a non-anonymous page or a non-COW mapping"
    return None


def _i14(v: View) -> str | None:
    for r in v.pins():
        if r.longterm and r.write and r.dirty_tracked:
            return f"{r}: a writable longterm pin of a file page that needs dirty tracking"
    return None


def _i15(v: View) -> str | None:
    for r in v.refs:
        if v.refcount(r.pfn) <= 0:
            return f"{r}: the folio's refcount is {v.refcount(r.pfn)}"
    for pfn in v.mappers:
        if v.refcount(pfn) <= 0:
            return f"{pfn_folio(pfn)} is mapped with refcount {v.refcount(pfn)}"
    return None


def _transition_only(v: View) -> str | None:
    return None  # judged on the step itself: see pae_cleared_violation()


INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "writable-implies-exclusive",
        1,
        "an anon page mapped writable is exclusive to that mm (PageAnonExclusive; "
        "no other mm maps it or holds a GUP reference)",
        "v4.20",
        "v5.19",
        _i1,
    ),
    Invariant(
        "exclusive-implies-single-mm",
        2,
        "a PageAnonExclusive page is mapped by one mm only, and never KSM",
        "v5.19",
        "v5.19",
        _i2,
    ),
    Invariant(
        "pin-implies-anon-exclusive",
        3,
        "a pinned anonymous page is PageAnonExclusive",
        "v5.19",
        "v5.19",
        _i3,
    ),
    Invariant(
        "pae-cleared-only-if-unpinned",
        4,
        "PageAnonExclusive is never cleared while the page is pinned",
        "v5.19",
        "v5.19",
        _transition_only,
    ),
    Invariant(
        "pin-never-replaced",
        5,
        "a pinned anon page stays mapped where it was pinned until explicitly unmapped",
        "v4.20",
        "v5.19",
        _i5,
    ),
    Invariant(
        "ro-longterm-pin-unshared",
        6,
        "a R/O longterm pin in a COW mapping lands on an exclusive anon page, "
        "never the zero page or pagecache",
        "v4.20",
        "v6.2",
        _i6,
    ),
    Invariant(
        "fork-never-shares-pinned",
        7,
        "fork() never shares a pinned anon page with the child (it copies it)",
        "v4.20",
        "v5.11",
        _i7,
    ),
    Invariant(
        "gup-fast-pins-only-exclusive",
        8,
        "GUP-fast pins only PageAnonExclusive anon pages",
        "v5.19",
        "v6.1",
        _i8,
    ),
    Invariant(
        "swap-entry-carries-exclusive",
        9,
        "swap entries never point to a PageAnonExclusive page; a shared slot is not exclusive",
        "v5.19",
        "v5.19",
        _i9,
    ),
    Invariant(
        "has-pinned-before-pin",
        10,
        "an mm records that it has pins before any of its pages is pinned",
        "v5.9",
        "v5.9",
        _i10,
    ),
    Invariant(
        "pin-accounting",
        11,
        "_refcount >= 1024 * pins + references + mappings; the vmstat counters cover the pins",
        "v5.7",
        "v5.7",
        _i11,
    ),
    Invariant(
        "longterm-pin-pinnable",
        12,
        "FOLL_LONGTERM pins only land on longterm-pinnable folios (ZONE_MOVABLE: since v5.13)",
        "v4.20",
        "v5.19",
        _i12,
    ),
    Invariant(
        "device-exclusive-anon-only",
        13,
        "device-exclusive entries only for anon pages in COW mappings",
        "v5.19",
        "v5.19",
        _i13,
    ),
    Invariant(
        "no-writable-longterm-file-pin",
        14,
        "no writable longterm pin of a file page that needs dirty tracking",
        "v4.20",
        "v6.5",
        _i14,
    ),
    Invariant(
        "gup-fast-no-resurrection",
        15,
        "no mapped or GUP-referenced folio has a zero refcount",
        "v4.20",
        "v4.20",
        _i15,
    ),
)
BY_ID: dict[str, Invariant] = {i.id: i for i in INVARIANTS}


def pae_cleared_violation(v: View, pfn: int, old_flags: int, new_flags: int) -> str | None:
    """I4 on the step that changed ``pfn``'s flags."""
    was, now = old_flags >> PG_anon_exclusive & 1, new_flags >> PG_anon_exclusive & 1
    if was and not now:
        folio = pfn_folio(pfn)
        for r in v.pins(attached_only=False):
            same = pfn_folio(r.pfn) == folio if folio_test_hugetlb(folio) else r.pfn == pfn
            if same:
                return f"PageAnonExclusive of {pfn_folio(pfn)} cleared while {r} holds it"
    return None
