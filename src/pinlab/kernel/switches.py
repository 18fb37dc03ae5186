"""The values an era's switches take where a switch is more than on or off, and the
commits that changed them (:mod:`pinlab.kernel.eras`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Change", "CowReuse", "HasPinned", "PinProposal", "cite"]


class CowReuse(enum.Enum):
    """How do_wp_page() decides that an anonymous page may be reused instead of copied."""

    MAPCOUNT = "mapcount"  # reuse_swap_page(): one mapping (and no other swap user) => reuse
    REFCOUNT = "refcount"  # 09854ba94c6a: reuse only if page_count() == 1
    REFCOUNT_SWAPCACHE = "refcount+swapcache"  # 53a05ad9f21d: tolerate and drop the swapcache ref


class HasPinned(enum.Enum):
    """How an mm remembers that it ever had FOLL_PIN pins."""

    NONE = "none"
    # The first posting of 008cfe4418b3 (lore "mm: Introduce mm_struct.has_pinned",
    # Sep 2020): a plain int written with WRITE_ONCE() and read with READ_ONCE().
    # Review (Jason Gunthorpe, John Hubbard) asked for an atomic_t; never merged.
    ONCE = "READ_ONCE(mm->has_pinned)"
    ATOMIC = "mm->has_pinned"  # 008cfe4418b3: an atomic_t set on every FOLL_PIN
    MMF_BIT = "MMF_HAS_PINNED"  # a458b76a4171 + 292648ac5cf1: a flag bit, test before set


class PinProposal(enum.Enum):
    """How GUP would tell a pin from a reference before FOLL_PIN: the 2018 proposals.

    None was merged; FOLL_PIN's GUP_PIN_COUNTING_BIAS (switch ``foll_pin``)
    was.  Sources: John Hubbard's RFC "mm: track gup pinned pages" (July
    2018, lore 20180709080554.21931-2-jhubbard@nvidia.com: ``dma_pinned_count``
    in a union with ``page->lru``) and the thread "mm: introduce
    put_user_page*(), placeholder versions" (Dec 2018: Jerome Glisse's
    ``_mapcount`` overloading, spelled out by John Hubbard).
    """

    NONE = "none"  # a GUP reference is just a reference
    DMA_PINNED_COUNT = "dma_pinned_count"  # a separate per-page counter
    MAPCOUNT = "_mapcount"  # file pages: GUP also increments _mapcount


@dataclass(frozen=True, slots=True)
class Change:
    """A commit that changed ``switch``: ``commit`` (12 hex digits), subject, release."""

    commit: str
    subject: str
    release: str
    switch: str = ""


def cite(commit: str, subject: str, release: str) -> dict[str, Change]:
    return {"change": Change(commit, subject, release)}
