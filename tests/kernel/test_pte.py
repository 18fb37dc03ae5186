"""PTE and swap-entry encoding."""

from __future__ import annotations

from pinlab.kernel import pte as p_


def test_present_pte_bits_round_trip() -> None:
    pte = p_.pte_mkwrite(p_.pte_mkdirty(p_.pfn_pte(0x1234, p_.PAGE_READONLY)))
    assert p_.pte_present(pte) and p_.pte_write(pte) and p_.pte_dirty(pte)
    assert p_.pte_soft_dirty(pte), "x86: pte_mkdirty() also sets soft-dirty"
    assert p_.pte_pfn(pte) == 0x1234
    assert not p_.pte_write(p_.pte_wrprotect(pte))
    assert p_.pte_pfn(p_.pte_modify(pte, p_.PAGE_READONLY)) == 0x1234
    assert not p_.pte_write(p_.pte_modify(pte, p_.PAGE_READONLY))
    assert p_.pte_dirty(p_.pte_modify(pte, p_.PAGE_READONLY)), "pte_modify keeps dirty"


def test_access_permitted() -> None:
    ro = p_.pfn_pte(7, p_.PAGE_READONLY)
    assert p_.pte_access_permitted(ro, False)
    assert not p_.pte_access_permitted(ro, True)
    assert p_.pte_access_permitted(p_.pte_mkwrite(ro), True)
    assert not p_.pte_access_permitted(0, False)


def test_swap_entries() -> None:
    entry = p_.swp_entry(p_.SWP_SWAPFILE, 42)
    pte = p_.pte_swp_mkexclusive(p_.swp_entry_to_pte(entry))
    assert p_.is_swap_pte(pte) and not p_.pte_present(pte) and not p_.pte_none(pte)
    assert p_.pte_swp_exclusive(pte)
    assert p_.pte_to_swp_entry(pte) == entry, "the swp_entry_t drops the PTE-only bits"
    assert p_.swp_offset(entry) == 42 and not p_.non_swap_entry(entry)
    assert not p_.pte_swp_exclusive(p_.pte_swp_clear_exclusive(pte))
    mig = p_.swp_entry(p_.SWP_MIGRATION_WRITE, 9)
    assert p_.is_migration_entry(mig) and p_.is_writable_migration_entry(mig)
    assert p_.non_swap_entry(mig)
    readable = p_.make_readable_migration_entry(9)
    assert p_.is_migration_entry(readable) and not p_.is_writable_migration_entry(readable)
    assert p_.is_device_exclusive_entry(p_.swp_entry(p_.SWP_DEVICE_EXCLUSIVE, 3))


def test_describe() -> None:
    assert p_.describe_pte(0) == "none"
    assert p_.describe_pte(p_.pfn_pte(0x10, p_.PAGE_READONLY)) == "pfn 0x10 [R/O]"
    swp = p_.pte_swp_mkexclusive(p_.swp_entry(p_.SWP_SWAPFILE, 5))
    assert p_.describe_pte(swp) == "swap 0x5 exclusive"
