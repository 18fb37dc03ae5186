"""Eras: the historical designs of page pinning, as frozen sets of switches.

An era is a kernel version and the value of every switch where the kernel's
code differed over time.  The model's code reads a switch at the very place
the kernel changed (``if era.anon_exclusive: ...``); it is never forked into
per-era copies.  Each switch cites, in its field metadata, the commit that
turned it on (or off), and each era lists the commits that separate it from
the era before.

What an era does *not* capture: everything that did not change the outcome
of the paths modelled here.  Eras between the ones listed inherit the nearest
older era's switches only as far as the commits cited say so.

The gup_test ``PIN_LONGTERM_TEST_*`` ioctls (c77369b437f9, v6.2) are treated as
a test module carried back to every era, so that cow.c exercises each era's
pinning paths; the features a real old kernel lacks (io_uring before v5.1,
MADV_PAGEOUT before v5.4) are switches, and cow.c skips those cases as it
would on such a kernel.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Final

from pinlab.kernel.switches import Change, CowReuse, HasPinned, PinProposal, cite

__all__ = [
    "CURRENT",
    "ERAS",
    "V5_9_ONCE",
    "Change",
    "CowReuse",
    "Era",
    "HasPinned",
    "PinProposal",
    "era_by_name",
    "switch_citation",
]


@dataclass(frozen=True, slots=True)
class Era:
    """One kernel version's design of GUP, COW and fork, as switches."""

    name: str
    order: int
    summary: str
    changes: tuple[Change, ...]
    # --- features cow.c depends on ---------------------------------------
    io_uring: bool = field(
        metadata=cite(
            "edafccee56ff", "io_uring: add support for pre-mapped user IO buffers", "v5.1"
        )
    )
    madv_pageout: bool = field(metadata=cite("1a4e58cce84e", "mm: introduce MADV_PAGEOUT", "v5.4"))
    # --- telling pins from references -----------------------------------
    foll_pin: bool = field(metadata=cite("3faa52c03f44", "mm/gup: track FOLL_PIN pages", "v5.7"))
    # --- COW ---------------------------------------------------------------
    gup_breaks_cow: bool = field(
        metadata=cite(
            "17839856fd58", 'gup: document and work around "COW can break either way" issue', "v5.8"
        )
    )
    cow_reuse: CowReuse = field(
        metadata=cite("09854ba94c6a", "mm: do_wp_page() simplification", "v5.9")
    )
    swapin_cow_streamlined: bool = field(
        metadata=cite("c145e0b47c77", "mm: streamline COW logic in do_swap_page()", "v5.18")
    )
    # --- fork vs pins ------------------------------------------------------
    has_pinned: HasPinned = field(
        metadata=cite("008cfe4418b3", "mm: Introduce mm_struct.has_pinned", "v5.9")
    )
    fork_copies_maybe_pinned: bool = field(
        metadata=cite(
            "70e806e4e645", "mm: Do early cow for pinned pages during fork() for ptes", "v5.9"
        )
    )
    write_protect_seq: bool = field(
        metadata=cite(
            "57efa1fe5957", "mm/gup: prevent gup_fast from racing with COW during fork", "v5.11"
        )
    )
    clear_refs_skips_pinned: bool = field(
        metadata=cite(
            "9348b73c2e1b", "mm: don't play games with pinned pages in clear_page_refs", "v5.11"
        )
    )
    reclaim_skips_pinned: bool = field(
        metadata=cite("feb889fb40fa", "mm: don't put pinned pages into the swap cache", "v5.11")
    )
    lazyfree_checks_refs: bool = field(
        metadata=cite(
            "6c8e2a256915",
            "mm: fix race between MADV_FREE reclaim and blkdev direct IO read",
            "v5.18",
        )
    )
    longterm_pin_migrates_movable: bool = field(
        metadata=cite("d1e153fea2a8", "mm/gup: migrate pinned pages out of movable zone", "v5.13")
    )
    # --- PageAnonExclusive ---------------------------------------------------
    anon_exclusive: bool = field(
        metadata=cite(
            "6c287605fd56",
            "mm: remember exclusively mapped anonymous pages with PG_anon_exclusive",
            "v5.19",
        )
    )
    ro_pin_unshare_anon: bool = field(
        metadata=cite(
            "a7f226604170",
            "mm/gup: trigger FAULT_FLAG_UNSHARE when R/O-pinning a possibly shared anonymous page",
            "v5.19",
        )
    )
    foll_force_needs_exclusive: bool = field(
        metadata=cite(
            "5535be309971", "mm/gup: fix FOLL_FORCE COW security issue and remove FOLL_COW", "v6.0"
        )
    )
    mprotect_upgrade_exclusive: bool = field(
        metadata=cite(
            "64fe24a3e05e",
            "mm/mprotect: try avoiding write faults for exclusive anonymous pages when "
            "changing protection",
            "v6.0",
        )
    )
    gup_fast_pae_barriers: bool = field(
        metadata=cite(
            "088b8aa537c2",
            "mm: fix PageAnonExclusive clearing racing with concurrent RCU GUP-fast",
            "v6.1",
        )
    )
    gup_fast_pmd_recheck: bool = field(
        metadata=cite("70cbc3cc78a9", "mm: gup: fix the fast GUP race against THP collapse", "v6.1")
    )
    ro_longterm_unshare_cow: bool = field(
        metadata=cite(
            "84209e87c696", "mm/gup: reliable R/O long-term pinning in COW mappings", "v6.2"
        )
    )
    no_writable_longterm_file_pins: bool = field(
        metadata=cite(
            "8ac268436e6d",
            "mm/gup: disallow FOLL_LONGTERM GUP-nonfast writing to file-backed mappings",
            "v6.5",
        )
    )
    io_uring_gup_file_check: bool = field(
        metadata=cite(
            "34ed8d0dcd69", "io_uring: rsrc: delegate VMA file-backed check to GUP", "v6.5"
        )
    )
    zero_page_pin_uncounted: bool = field(
        metadata=cite("c8070b787519", "mm: Don't pin ZERO_PAGE in pin_user_pages()", "v6.5")
    )
    swapin_maps_exclusive_writable: bool = field(
        metadata=cite(
            "c18160dba5ff",
            "mm: swap: reuse exclusive folio directly instead of wp page faults",
            "v6.11",
        )
    )
    # --- large folios ----------------------------------------------------
    thp_cow_refcount: bool = field(
        metadata=cite(
            "3bff7e3f1f16",
            "mm/huge_memory: streamline COW logic in do_huge_pmd_wp_page()",
            "v5.18",
        )
    )
    madv_collapse: bool = field(
        metadata=cite(
            "7d8faaf15545", "mm/madvise: introduce MADV_COLLAPSE sync hugepage collapse", "v6.1"
        )
    )
    anon_mthp: bool = field(
        metadata=cite(
            "19eaf44954df", "mm: thp: support allocation of anonymous multi-size THP", "v6.8"
        )
    )
    fork_batches_ptes: bool = field(
        metadata=cite("f8d937761d65", "mm/memory: optimize fork() with PTE-mapped THP", "v6.9")
    )
    device_exclusive: bool = field(
        metadata=cite("b756a3b5e7ea", "mm: Device exclusive memory access", "v5.14")
    )
    device_exclusive_keeps_mapcount: bool = field(
        metadata=cite(
            "lore:20250210193801.781278-1-david@redhat.com",
            "mm: fixes for device-exclusive entries (hmm)",
            "v6.15",
        )
    )

    # What-if knob, not history: barriers (by kernel.barriers name) left out.
    removed_barriers: frozenset[str] = frozenset()
    # What-if knob, not history: barriers no release has (kernel.barriers
    # entries marked what_if), put in (for "would this barrier be enough?").
    added_barriers: frozenset[str] = frozenset()
    # What-if knob, not history: fork copies a device-exclusive entry into the
    # child as it is, as the v8 posting of b756a3b5e7ea did outside COW
    # mappings -- the design behind Peter Xu's review question "would the two
    # processes then own the device together?" (2021-05 thread).  No release
    # did this for the (always COW) mappings device-exclusive entries live in.
    fork_copies_device_exclusive_entry: bool = False
    # What-if knob, not history: a pre-FOLL_PIN design of the 2018 threads in
    # which FOLL_PIN requests are counted where the proposal says, and
    # folio_maybe_dma_pinned() reads that count (only when ``foll_pin`` is off).
    pin_proposal: PinProposal = PinProposal.NONE
    # What-if knob, not history: writeback looks for pins after cleaning a
    # folio, as Jan Kara put it in the put_user_page*() thread (Dec 2018):
    # memory-cleaning writeback skips (redirties) a pinned folio, data
    # integrity writeback writes it through a bounce copy -- and, since the
    # device may write at any moment, the model leaves it dirty.  His 2023
    # series "Writeback handling of pinned pages" was not merged (spec §2.13 in docs/labels.md).
    writeback_handles_pins: bool = False

    def without(self, *barriers: str) -> Era:
        """This era with the named barriers removed (for "is this barrier needed?")."""
        return dataclasses.replace(self, removed_barriers=self.removed_barriers | set(barriers))

    def adding(self, name: str, *barriers: str) -> Era:
        """This era, called ``name``, with the named what-if barriers put in."""
        return dataclasses.replace(
            self, name=name, added_barriers=self.added_barriers | set(barriers)
        )

    def at_least(self, other: str) -> bool:
        """Whether this era is ``other`` or newer."""
        return self.order >= era_by_name(other).order

    def __str__(self) -> str:
        return self.name


def switch_citation(name: str) -> Change:
    """The commit cited for switch ``name``."""
    for f in dataclasses.fields(Era):
        if f.name == name and "change" in f.metadata:
            change: Change = f.metadata["change"]
            return dataclasses.replace(change, switch=name)
    raise KeyError(name)


def _changes(*names: str) -> tuple[Change, ...]:
    return tuple(switch_citation(n) for n in names)


V4_20: Final = Era(
    name="v4.20",
    order=0,
    summary="FOLL_GET only: a pin is an ordinary reference; COW reuse counts mappings",
    changes=(),
    io_uring=False,
    madv_pageout=False,
    foll_pin=False,
    gup_breaks_cow=False,
    cow_reuse=CowReuse.MAPCOUNT,
    swapin_cow_streamlined=False,
    has_pinned=HasPinned.NONE,
    fork_copies_maybe_pinned=False,
    write_protect_seq=False,
    clear_refs_skips_pinned=False,
    reclaim_skips_pinned=False,
    lazyfree_checks_refs=False,
    longterm_pin_migrates_movable=False,
    anon_exclusive=False,
    ro_pin_unshare_anon=False,
    foll_force_needs_exclusive=False,
    mprotect_upgrade_exclusive=False,
    gup_fast_pae_barriers=False,
    gup_fast_pmd_recheck=False,
    ro_longterm_unshare_cow=False,
    no_writable_longterm_file_pins=False,
    io_uring_gup_file_check=False,
    zero_page_pin_uncounted=False,
    swapin_maps_exclusive_writable=False,
    thp_cow_refcount=False,
    madv_collapse=False,
    anon_mthp=False,
    fork_batches_ptes=False,
    device_exclusive=False,
    device_exclusive_keeps_mapcount=False,
)
V5_7: Final = dataclasses.replace(
    V4_20,
    name="v5.7",
    order=1,
    summary="FOLL_PIN with GUP_PIN_COUNTING_BIAS; COW reuse still counts mappings",
    changes=(
        Change(
            "eddb1c228f79", "mm/gup: introduce pin_user_pages*() and FOLL_PIN", "v5.6", "foll_pin"
        ),
        *_changes("foll_pin", "io_uring", "madv_pageout"),
    ),
    io_uring=True,
    madv_pageout=True,
    foll_pin=True,
)
V5_8: Final = dataclasses.replace(
    V5_7,
    name="v5.8",
    order=2,
    summary="GUP always breaks COW in COW mappings, even for reads",
    changes=_changes("gup_breaks_cow"),
    gup_breaks_cow=True,
)
V5_9: Final = dataclasses.replace(
    V5_8,
    name="v5.9",
    order=3,
    summary="COW reuse by refcount; fork copies maybe-pinned pages at once",
    changes=(
        *_changes("cow_reuse"),
        Change("a308c71bf1e6", "mm/gup: Remove enfornced COW mechanism", "v5.9", "gup_breaks_cow"),
        *_changes("has_pinned", "fork_copies_maybe_pinned"),
    ),
    gup_breaks_cow=False,
    cow_reuse=CowReuse.REFCOUNT,
    has_pinned=HasPinned.ATOMIC,
    fork_copies_maybe_pinned=True,
)
V5_11: Final = dataclasses.replace(
    V5_9,
    name="v5.11",
    order=4,
    summary="mm->write_protect_seq between fork and GUP-fast; pinned pages kept out of games",
    changes=_changes("write_protect_seq", "clear_refs_skips_pinned", "reclaim_skips_pinned"),
    write_protect_seq=True,
    clear_refs_skips_pinned=True,
    reclaim_skips_pinned=True,
)
V5_19: Final = dataclasses.replace(
    V5_11,
    name="v5.19",
    order=5,
    summary="PageAnonExclusive: pins only on exclusive pages; R/O pins unshare anon pages",
    changes=(
        Change(
            "53a05ad9f21d",
            "mm: optimize do_wp_page() for exclusive pages in the swapcache",
            "v5.18",
            "cow_reuse",
        ),
        *_changes("swapin_cow_streamlined", "lazyfree_checks_refs"),
        Change("a458b76a4171", "mm: gup: pack has_pinned in MMF_HAS_PINNED", "v5.15", "has_pinned"),
        Change("292648ac5cf1", "mm: gup: allow FOLL_PIN to scale in SMP", "v5.15", "has_pinned"),
        *_changes("thp_cow_refcount"),
        *_changes("anon_exclusive"),
        Change(
            "1493a1913e34",
            "mm/swap: remember PG_anon_exclusive via a swp pte bit",
            "v5.19",
            "anon_exclusive",
        ),
        *_changes("ro_pin_unshare_anon"),
        *_changes("longterm_pin_migrates_movable"),
        *_changes("device_exclusive"),
    ),
    cow_reuse=CowReuse.REFCOUNT_SWAPCACHE,
    swapin_cow_streamlined=True,
    lazyfree_checks_refs=True,
    thp_cow_refcount=True,
    has_pinned=HasPinned.MMF_BIT,
    anon_exclusive=True,
    ro_pin_unshare_anon=True,
    longterm_pin_migrates_movable=True,
    device_exclusive=True,
)
V6_1: Final = dataclasses.replace(
    V5_19,
    name="v6.1",
    order=6,
    summary="GUP-fast vs PageAnonExclusive clearing: explicit barriers; PMD recheck",
    changes=_changes(
        "foll_force_needs_exclusive",
        "mprotect_upgrade_exclusive",
        "gup_fast_pae_barriers",
        "gup_fast_pmd_recheck",
        "madv_collapse",
    ),
    foll_force_needs_exclusive=True,
    mprotect_upgrade_exclusive=True,
    gup_fast_pae_barriers=True,
    gup_fast_pmd_recheck=True,
    madv_collapse=True,
)
V6_2: Final = dataclasses.replace(
    V6_1,
    name="v6.2",
    order=7,
    summary="R/O longterm pins unshare anything in a COW mapping (zeropage, pagecache)",
    changes=(
        *_changes("ro_longterm_unshare_cow"),
        Change(
            "8d6a0ac09a16",
            "mm: extend FAULT_FLAG_UNSHARE support to anything in a COW mapping",
            "v6.2",
            "ro_longterm_unshare_cow",
        ),
    ),
    ro_longterm_unshare_cow=True,
)
V6_5: Final = dataclasses.replace(
    V6_2,
    name="v6.5",
    order=8,
    summary="no writable longterm pins on dirty-tracked file mappings; zeropage pins uncounted",
    changes=(
        *_changes("no_writable_longterm_file_pins"),
        Change(
            "a6e79df92e4a",
            "mm/gup: disallow FOLL_LONGTERM GUP-fast writing to file-backed mappings",
            "v6.5",
            "no_writable_longterm_file_pins",
        ),
        *_changes("io_uring_gup_file_check", "zero_page_pin_uncounted"),
    ),
    no_writable_longterm_file_pins=True,
    io_uring_gup_file_check=True,
    zero_page_pin_uncounted=True,
)
CURRENT: Final = dataclasses.replace(
    V6_5,
    name="current",
    order=9,
    summary="linux-next of the spec: exclusive swap-ins mapped writable; device-exclusive rework",
    changes=_changes(
        "anon_mthp",
        "fork_batches_ptes",
        "swapin_maps_exclusive_writable",
        "device_exclusive_keeps_mapcount",
    ),
    anon_mthp=True,
    fork_batches_ptes=True,
    swapin_maps_exclusive_writable=True,
    device_exclusive_keeps_mapcount=True,
)

# A design, not a release: v5.9 as first posted, has_pinned as a plain int
# accessed with READ_ONCE()/WRITE_ONCE() (the 2020-09 thread).  Not in ERAS.
V5_9_ONCE: Final = dataclasses.replace(
    V5_9,
    name="v5.9-once",
    summary="v5.9 as first posted: has_pinned a plain int (READ_ONCE/WRITE_ONCE)",
    has_pinned=HasPinned.ONCE,
)

ERAS: Final[tuple[Era, ...]] = (V4_20, V5_7, V5_8, V5_9, V5_11, V5_19, V6_1, V6_2, V6_5, CURRENT)
_BY_NAME: Final = {e.name: e for e in ERAS}


class UnknownEra(KeyError):
    """No era has this name (the message lists those that do)."""

    def __str__(self) -> str:
        return str(self.args[0])


def era_by_name(name: str) -> Era:
    """The era called ``name`` (``v5.9``, ``current``); :class:`UnknownEra` (a
    KeyError) if there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(e.name for e in ERAS)
        raise UnknownEra(f"no era {name!r}; the eras are {known}") from None
