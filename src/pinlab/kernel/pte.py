"""Page-table entry encoding: present PTEs, swap and other non-present entries.

A PTE is one int in one engine location.  The layout follows x86-64 where it
matters to the model and is the model's own elsewhere:

present PTE (``_PAGE_PRESENT`` set)::

    bit 0 present   bit 1 write (RW)   bit 2 user   bit 5 young (accessed)
    bit 6 dirty     bit 9 special      bit 10 uffd-wp   bit 11 soft-dirty
    bits 12.. pfn

As on x86, ``pte_mkdirty()`` also sets the soft-dirty bit.

non-present entry (present clear, value not 0)::

    bits 1-4 swap type (SWP_*, never 0)   bit 5 swp exclusive
    bit 6 swp soft-dirty   bit 7 swp uffd-wp   bits 12.. offset (slot or pfn)

``pte_none`` is 0.  Swap types cover the swap device and the kernel's
"non-swap" entries: migration (readable, readable-exclusive, writable),
device-private (read, write), device-exclusive, hwpoison and PTE markers.
A ``swp_entry_t`` is the entry's value without the three PTE-only bits.

Every helper uses operators only, so it works on plain ints and on the
dependency-tracking values the explorer sends back from loads.
"""

from __future__ import annotations

from typing import Any, Final

from pinlab.kernel.defs import PAGE_SHIFT

_PAGE_PRESENT: Final = 1 << 0
_PAGE_RW: Final = 1 << 1
_PAGE_USER: Final = 1 << 2
_PAGE_ACCESSED: Final = 1 << 5
_PAGE_DIRTY: Final = 1 << 6
_PAGE_SPECIAL: Final = 1 << 9
_PAGE_UFFD_WP: Final = 1 << 10
_PAGE_SOFT_DIRTY: Final = 1 << 11
_PAGE_PROT_MASK: Final = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER
# pte_modify() keeps the pfn and these bits (x86 _PAGE_CHG_MASK)
_PAGE_CHG_MASK: Final = ~_PAGE_PROT_MASK

_SWP_TYPE_SHIFT: Final = 1
_SWP_TYPE_MASK: Final = 0xF
_PAGE_SWP_EXCLUSIVE: Final = 1 << 5
_PAGE_SWP_SOFT_DIRTY: Final = 1 << 6
_PAGE_SWP_UFFD_WP: Final = 1 << 7
_SWP_PTE_BITS: Final = _PAGE_SWP_EXCLUSIVE | _PAGE_SWP_SOFT_DIRTY | _PAGE_SWP_UFFD_WP

SWP_SWAPFILE: Final = 1
SWP_MIGRATION_READ: Final = 2
SWP_MIGRATION_READ_EXCLUSIVE: Final = 3
SWP_MIGRATION_WRITE: Final = 4
SWP_DEVICE_READ: Final = 5
SWP_DEVICE_WRITE: Final = 6
SWP_DEVICE_EXCLUSIVE: Final = 7
SWP_HWPOISON: Final = 8
SWP_PTE_MARKER: Final = 9

PAGE_NONE: Final = 0
PAGE_READONLY: Final = _PAGE_PRESENT | _PAGE_USER
PAGE_SHARED: Final = _PAGE_PRESENT | _PAGE_USER | _PAGE_RW

Pte = Any  # an int, or a dependency-tracking value holding one


# --- present PTEs -----------------------------------------------------------
def pte_none(pte: Pte) -> Any:
    return pte == 0


def pte_present(pte: Pte) -> Any:
    return (pte & _PAGE_PRESENT) != 0


def pte_protnone(pte: Pte) -> Any:
    # NUMA hinting PTEs are not modelled: no path creates one.
    return False


def pte_write(pte: Pte) -> Any:
    return (pte & _PAGE_RW) != 0


def pte_dirty(pte: Pte) -> Any:
    return (pte & _PAGE_DIRTY) != 0


def pte_young(pte: Pte) -> Any:
    return (pte & _PAGE_ACCESSED) != 0


def pte_special(pte: Pte) -> Any:
    return (pte & _PAGE_SPECIAL) != 0


def pte_soft_dirty(pte: Pte) -> Any:
    return (pte & _PAGE_SOFT_DIRTY) != 0


def pte_uffd_wp(pte: Pte) -> Any:
    return (pte & _PAGE_UFFD_WP) != 0


def pte_pfn(pte: Pte) -> Any:
    return pte >> PAGE_SHIFT


def pte_advance_pfn(pte: Pte, nr: int) -> Any:
    """include/linux/pgtable.h:pte_advance_pfn(): the same bits, ``nr`` pages on."""
    return pte + (nr << PAGE_SHIFT)


def pfn_pte(pfn: Any, prot: int) -> Any:
    return (pfn << PAGE_SHIFT) | prot


def pte_mkwrite(pte: Pte) -> Any:
    return pte | _PAGE_RW


def pte_wrprotect(pte: Pte) -> Any:
    return pte & ~_PAGE_RW


def pte_mkdirty(pte: Pte) -> Any:
    return pte | _PAGE_DIRTY | _PAGE_SOFT_DIRTY


def pte_mkclean(pte: Pte) -> Any:
    return pte & ~_PAGE_DIRTY


def pte_mkyoung(pte: Pte) -> Any:
    return pte | _PAGE_ACCESSED


def pte_mkold(pte: Pte) -> Any:
    return pte & ~_PAGE_ACCESSED


def pte_mkspecial(pte: Pte) -> Any:
    return pte | _PAGE_SPECIAL


def pte_mksoft_dirty(pte: Pte) -> Any:
    return pte | _PAGE_SOFT_DIRTY


def pte_clear_soft_dirty(pte: Pte) -> Any:
    return pte & ~_PAGE_SOFT_DIRTY


def pte_mkuffd_wp(pte: Pte) -> Any:
    return pte | _PAGE_UFFD_WP


def pte_clear_uffd_wp(pte: Pte) -> Any:
    return pte & ~_PAGE_UFFD_WP


def pte_modify(pte: Pte, newprot: int) -> Any:
    """The PTE with protection ``newprot``, keeping pfn, dirty, young, special, soft-dirty."""
    return (pte & _PAGE_CHG_MASK) | newprot


def pte_access_permitted(pte: Pte, write: Any) -> Any:
    """x86: present, user, and writable if ``write``."""
    ok = (pte & (_PAGE_PRESENT | _PAGE_USER)) == (_PAGE_PRESENT | _PAGE_USER)
    if write:
        return ok & pte_write(pte)
    return ok


def pte_sw_mkyoung(pte: Pte) -> Any:
    return pte_mkyoung(pte)


# --- non-present entries ------------------------------------------------------
def is_swap_pte(pte: Pte) -> Any:
    return (pte != 0) & ((pte & _PAGE_PRESENT) == 0)


def swp_entry(type_: int, offset: Any) -> Any:
    """A swp_entry_t value: type and offset (a swap slot, or a pfn for non-swap entries)."""
    return (offset << PAGE_SHIFT) | (type_ << _SWP_TYPE_SHIFT)


def swp_type(entry: Any) -> Any:
    return (entry >> _SWP_TYPE_SHIFT) & _SWP_TYPE_MASK


def swp_offset(entry: Any) -> Any:
    return entry >> PAGE_SHIFT


def pte_to_swp_entry(pte: Pte) -> Any:
    return pte & ~_SWP_PTE_BITS


def swp_entry_to_pte(entry: Any) -> Any:
    return entry


def non_swap_entry(entry: Any) -> Any:
    return swp_type(entry) != SWP_SWAPFILE


def is_migration_entry(entry: Any) -> Any:
    t = swp_type(entry)
    return (t >= SWP_MIGRATION_READ) & (t <= SWP_MIGRATION_WRITE)


def is_writable_migration_entry(entry: Any) -> Any:
    return swp_type(entry) == SWP_MIGRATION_WRITE


def is_readable_migration_entry(entry: Any) -> Any:
    return swp_type(entry) == SWP_MIGRATION_READ


def is_readable_exclusive_migration_entry(entry: Any) -> Any:
    return swp_type(entry) == SWP_MIGRATION_READ_EXCLUSIVE


def make_readable_migration_entry(offset: Any) -> Any:
    return swp_entry(SWP_MIGRATION_READ, offset)


def is_device_private_entry(entry: Any) -> Any:
    t = swp_type(entry)
    return (t == SWP_DEVICE_READ) | (t == SWP_DEVICE_WRITE)


def is_device_exclusive_entry(entry: Any) -> Any:
    return swp_type(entry) == SWP_DEVICE_EXCLUSIVE


def is_pfn_swap_entry(entry: Any) -> Any:
    return (
        is_migration_entry(entry)
        | is_device_private_entry(entry)
        | (is_device_exclusive_entry(entry))
    )


def pte_swp_exclusive(pte: Pte) -> Any:
    return (pte & _PAGE_SWP_EXCLUSIVE) != 0


def pte_swp_mkexclusive(pte: Pte) -> Any:
    return pte | _PAGE_SWP_EXCLUSIVE


def pte_swp_clear_exclusive(pte: Pte) -> Any:
    return pte & ~_PAGE_SWP_EXCLUSIVE


def pte_swp_soft_dirty(pte: Pte) -> Any:
    return (pte & _PAGE_SWP_SOFT_DIRTY) != 0


def pte_swp_mksoft_dirty(pte: Pte) -> Any:
    return pte | _PAGE_SWP_SOFT_DIRTY


def pte_swp_clear_soft_dirty(pte: Pte) -> Any:
    return pte & ~_PAGE_SWP_SOFT_DIRTY


def pte_swp_uffd_wp(pte: Pte) -> Any:
    return (pte & _PAGE_SWP_UFFD_WP) != 0


def pte_swp_mkuffd_wp(pte: Pte) -> Any:
    return pte | _PAGE_SWP_UFFD_WP


def describe_pte(pte: int) -> str:
    """A short human reading of a PTE value, for reports."""
    if pte == 0:
        return "none"
    if pte & _PAGE_PRESENT:
        bits = "".join(
            c
            for c, m in (
                ("W", _PAGE_RW),
                ("D", _PAGE_DIRTY),
                ("Y", _PAGE_ACCESSED),
                ("S", _PAGE_SPECIAL),
                ("s", _PAGE_SOFT_DIRTY),
                ("u", _PAGE_UFFD_WP),
            )
            if pte & m
        )
        return f"pfn {pte >> PAGE_SHIFT:#x} [{bits or 'R/O'}]"
    kind = {
        SWP_SWAPFILE: "swap",
        SWP_MIGRATION_READ: "migration-r",
        SWP_MIGRATION_READ_EXCLUSIVE: "migration-rx",
        SWP_MIGRATION_WRITE: "migration-w",
        SWP_DEVICE_READ: "device-private-r",
        SWP_DEVICE_WRITE: "device-private-w",
        SWP_DEVICE_EXCLUSIVE: "device-exclusive",
        SWP_HWPOISON: "hwpoison",
        SWP_PTE_MARKER: "marker",
    }.get((pte >> _SWP_TYPE_SHIFT) & _SWP_TYPE_MASK, "?")
    excl = " exclusive" if pte & _PAGE_SWP_EXCLUSIVE else ""
    return f"{kind} {pte >> PAGE_SHIFT:#x}{excl}"
