"""The GUP entry points and their argument checks.

Models mm/gup.c ``is_valid_gup_args`` and the slow-path entry points (docs/labels.md,
spec §2.1): ``get_user_pages``, ``get_user_pages_remote``, ``get_user_pages_unlocked``,
``pin_user_pages``, ``pin_user_pages_remote``, ``pin_user_pages_unlocked``.
Invalid arguments are a WARN in the kernel; the wrappers then return -EINVAL
(``get_user_pages*``) or 0 (``pin_user_pages*``), as here.  The GUP-fast entry
points are in :mod:`pinlab.kernel.gup_fast`.
"""

from __future__ import annotations

from pinlab.kernel.defs import (
    EINVAL,
    FOLL_GET,
    FOLL_LONGTERM,
    FOLL_PCI_P2PDMA,
    FOLL_PIN,
    FOLL_REMOTE,
    FOLL_TOUCH,
    FOLL_UNLOCKABLE,
    INTERNAL_GUP_FLAGS,
)
from pinlab.kernel.folio import Gen
from pinlab.kernel.gup import Locked, __get_user_pages_locked, __gup_longterm_locked
from pinlab.kernel.mm_types import Cpu, MmStruct, Page


def is_valid_gup_args(
    pages: list[Page] | None, locked: Locked | None, gup_flags: int, to_set: int
) -> int | None:
    """Model of mm/gup.c:is_valid_gup_args(): the flags to use, or None (WARN) if invalid."""
    if gup_flags & INTERNAL_GUP_FLAGS:
        return None
    gup_flags |= to_set
    if locked is not None:
        if locked.value != 1:
            return None
        gup_flags |= FOLL_UNLOCKABLE
    if (gup_flags & (FOLL_PIN | FOLL_GET)) == (FOLL_PIN | FOLL_GET):
        return None
    if not (gup_flags & FOLL_PIN) and gup_flags & FOLL_LONGTERM:
        return None
    if gup_flags & (FOLL_GET | FOLL_PIN) and pages is None:
        return None
    if gup_flags & FOLL_LONGTERM and gup_flags & FOLL_PCI_P2PDMA:
        return None
    return gup_flags


def get_user_pages(
    cpu: Cpu, mm: MmStruct, start: int, nr_pages: int, gup_flags: int, pages: list[Page] | None
) -> Gen:
    """Model of mm/gup.c:get_user_pages() (caller holds mmap_lock)."""
    flags = is_valid_gup_args(pages, None, gup_flags, FOLL_TOUCH)
    if flags is None:
        return -EINVAL
    return (yield from __get_user_pages_locked(cpu, mm, start, nr_pages, pages, Locked(1), flags))


def get_user_pages_remote(
    cpu: Cpu,
    mm: MmStruct,
    start: int,
    nr_pages: int,
    gup_flags: int,
    pages: list[Page] | None,
    locked: Locked | None = None,
) -> Gen:
    """Model of mm/gup.c:get_user_pages_remote()."""
    flags = is_valid_gup_args(pages, locked, gup_flags, FOLL_TOUCH | FOLL_REMOTE)
    if flags is None:
        return -EINVAL
    lk = locked if locked is not None else Locked(1)
    return (yield from __get_user_pages_locked(cpu, mm, start, nr_pages, pages, lk, flags))


def get_user_pages_unlocked(
    cpu: Cpu, mm: MmStruct, start: int, nr_pages: int, pages: list[Page] | None, gup_flags: int
) -> Gen:
    """Model of mm/gup.c:get_user_pages_unlocked(): takes and drops mmap_lock itself."""
    flags = is_valid_gup_args(pages, None, gup_flags, FOLL_TOUCH | FOLL_UNLOCKABLE)
    if flags is None:
        return -EINVAL
    return (yield from __get_user_pages_locked(cpu, mm, start, nr_pages, pages, Locked(0), flags))


def pin_user_pages(
    cpu: Cpu, mm: MmStruct, start: int, nr_pages: int, gup_flags: int, pages: list[Page]
) -> Gen:
    """Model of mm/gup.c:pin_user_pages() (caller holds mmap_lock; invalid args give 0)."""
    flags = is_valid_gup_args(pages, None, gup_flags, FOLL_PIN)
    if flags is None:
        return 0
    return (yield from __gup_longterm_locked(cpu, mm, start, nr_pages, pages, Locked(1), flags))


def pin_user_pages_remote(
    cpu: Cpu,
    mm: MmStruct,
    start: int,
    nr_pages: int,
    gup_flags: int,
    pages: list[Page],
    locked: Locked | None = None,
) -> Gen:
    """Model of mm/gup.c:pin_user_pages_remote()."""
    flags = is_valid_gup_args(pages, locked, gup_flags, FOLL_PIN | FOLL_TOUCH | FOLL_REMOTE)
    if flags is None:
        return 0
    lk = locked if locked is not None else Locked(1)
    return (yield from __gup_longterm_locked(cpu, mm, start, nr_pages, pages, lk, flags))


def pin_user_pages_unlocked(
    cpu: Cpu, mm: MmStruct, start: int, nr_pages: int, pages: list[Page], gup_flags: int
) -> Gen:
    """Model of mm/gup.c:pin_user_pages_unlocked()."""
    flags = is_valid_gup_args(pages, None, gup_flags, FOLL_PIN | FOLL_TOUCH | FOLL_UNLOCKABLE)
    if flags is None:
        return 0
    return (yield from __gup_longterm_locked(cpu, mm, start, nr_pages, pages, Locked(0), flags))
