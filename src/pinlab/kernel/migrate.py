"""Page migration: unmap to migration entries, move, map the new folio back.

Models mm/rmap.c ``try_to_migrate_one`` / ``try_to_migrate`` (with
PageAnonExclusive moving into the migration entry, and a maybe-pinned page
making the unmap back off since v5.19) and mm/migrate.c ``migrate_pages``,
``migrate_folio_unmap``, ``migrate_folio_move``, ``folio_migrate_mapping``
(the refcount freeze that fails while anyone but the migration holds a
reference), ``remove_migration_pte(s)`` and ``move_pages()``'s walk; plus
mm/vmscan.c ``folio_isolate_lru`` / ``folio_putback_lru``.

Spec 2.12: a writable PTE becomes a writable migration entry, an exclusive
R/O one a readable-exclusive entry, anything else a readable entry; the
new folio's PTE gets PageAnonExclusive back iff the entry was not merely
readable.  A CPU that faults on a migration entry waits until the entry is
gone (do_swap_page()).

Left out: the young/dirty bits of migration entries (the dirty bit moves
into the folio), deferred TLB flushes, PMD migration entries, hugetlb,
device-private and movable_ops pages, migration of folios in writeback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from pinlab.engine import kapi
from pinlab.kernel.defs import (
    EAGAIN,
    PAGE_MAPPING_ANON,
    PAGE_SIZE,
    RMAP_EXCLUSIVE,
    RMAP_NONE,
    PG_dirty,
    PG_lru,
    PG_referenced,
    PG_swapbacked,
    PG_swapcache,
    PG_uptodate,
)
from pinlab.kernel.folio import (
    Gen,
    PageAnonExclusive,
    copy_user_highpage,
    folio_alloc,
    folio_get,
    folio_mapped,
    folio_mark_dirty,
    folio_put,
    folio_ref_freeze,
    folio_test_anon,
    folio_trylock,
    folio_unlock,
)
from pinlab.kernel.internal import maybe_mkwrite, mk_pte, vm_normal_page
from pinlab.kernel.mm_types import Cpu, Folio, Machine, Vma, page_folio, swap_slot, vma_address
from pinlab.kernel.mmu_notifier import (
    MMU_NOTIFY_MIGRATE,
    mmu_notifier_invalidate_range_end,
    mmu_notifier_invalidate_range_start,
    mmu_notifier_range_init,
)
from pinlab.kernel.page_vma_mapped import (
    DEFINE_FOLIO_VMA_WALK,
    PVMW_MIGRATION,
    page_vma_mapped_walk,
    page_vma_mapped_walk_done,
)
from pinlab.kernel.pgtable import (
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_clear_flush,
    ptep_get,
    set_pte_at,
)
from pinlab.kernel.pin import KernelBug
from pinlab.kernel.pte import (
    SWP_MIGRATION_READ,
    SWP_MIGRATION_READ_EXCLUSIVE,
    SWP_MIGRATION_WRITE,
    is_readable_migration_entry,
    is_writable_migration_entry,
    pte_dirty,
    pte_mkold,
    pte_mksoft_dirty,
    pte_mkuffd_wp,
    pte_present,
    pte_soft_dirty,
    pte_swp_mksoft_dirty,
    pte_swp_mkuffd_wp,
    pte_swp_soft_dirty,
    pte_swp_uffd_wp,
    pte_to_swp_entry,
    pte_uffd_wp,
    pte_write,
    swp_entry,
    swp_entry_to_pte,
)
from pinlab.kernel.rmap import (
    folio_add_anon_rmap_pte,
    folio_add_file_rmap_pte,
    folio_remove_rmap_pte,
    folio_try_share_anon_rmap_pte,
    rmap_walk,
)

NR_MAX_MIGRATE_PAGES_RETRY: Final = 10
MIGRATEPAGE_SUCCESS: Final = 0

# enum migrate_reason (include/linux/migrate_mode.h), the ones modelled
MR_SYSCALL: Final = 3
MR_LONGTERM_PIN: Final = 9


# --- LRU isolation ---------------------------------------------------------------
def folio_isolate_lru(folio: Folio) -> Gen:
    """Model of mm/vmscan.c:folio_isolate_lru(): take it off the LRU, with a reference."""
    if not (yield from kapi.test_and_clear_bit(PG_lru, folio.flags)):
        return False
    yield from folio_get(folio)
    return True


def folio_putback_lru(folio: Folio) -> Gen:
    """Model of mm/vmscan.c:folio_putback_lru(): back on the LRU, drop the isolation ref."""
    yield from kapi.set_bit(PG_lru, folio.flags)
    yield from folio_put(folio)


# --- unmapping ----------------------------------------------------------------------
def _rmap_vmas(machine: Machine, folio: Folio, index: int, mapping: Any) -> list[Vma]:
    # ``mapping`` is the loaded value itself, not int() of it: the anon test is
    # then a truth test the engine sees (a control dependency on the load).
    anon = bool(mapping & PAGE_MAPPING_ANON)
    return list(rmap_walk(machine, index, anon=anon, file_id=0 if anon else int(mapping) >> 2))


def try_to_migrate_one(cpu: Cpu, folio: Folio, vma: Vma, address: int) -> Gen:
    """Model of mm/rmap.c:try_to_migrate_one(): replace the mappings in ``vma`` by
    migration entries.  False if the folio must stay mapped (it may be pinned).
    """
    mm, ret = vma.mm, True
    anon = yield from folio_test_anon(folio)
    rng = mmu_notifier_range_init(MMU_NOTIFY_MIGRATE, mm, address, address + PAGE_SIZE)
    yield from mmu_notifier_invalidate_range_start(cpu, rng)
    pvmw = DEFINE_FOLIO_VMA_WALK(folio, vma, address, 0)
    while (yield from page_vma_mapped_walk(pvmw)):
        assert pvmw.pte is not None
        if not pte_present(pvmw.pteval):
            continue  # a device entry: not migratable here
        if not (yield from _migrate_one_pte(cpu, folio, vma, pvmw.address, pvmw.pte, anon)):
            yield from page_vma_mapped_walk_done(pvmw)
            ret = False
            break
    yield from mmu_notifier_invalidate_range_end(cpu, rng)
    return ret


def _migrate_one_pte(cpu: Cpu, folio: Folio, vma: Vma, address: int, ptep: Any, anon: Any) -> Gen:
    """One PTE of try_to_migrate_one(), PTL held: True once it is a migration entry."""
    mm, era = vma.mm, cpu.era
    page = folio.page(0)
    pteval = yield from ptep_clear_flush(vma, address, ptep)
    if pte_dirty(pteval):
        yield from folio_mark_dirty(folio)
    anon_exclusive = bool(anon) and era.anon_exclusive and (yield from PageAnonExclusive(page))
    if era.anon_exclusive and anon and pte_write(pteval) and not anon_exclusive:
        raise KernelBug(f"VM_BUG_ON_PAGE: writable anonymous {page} is not exclusive")
    # See folio_try_share_anon_rmap_pte(): the PTE is clear first.
    if anon_exclusive and (yield from folio_try_share_anon_rmap_pte(cpu, folio, page)):
        yield from set_pte_at(mm, address, ptep, pteval)
        return False
    if pte_write(pteval):
        kind = SWP_MIGRATION_WRITE
    elif anon_exclusive:
        kind = SWP_MIGRATION_READ_EXCLUSIVE
    else:
        kind = SWP_MIGRATION_READ
    swp_pte = swp_entry_to_pte(swp_entry(kind, page.pfn))
    if pte_soft_dirty(pteval):
        swp_pte = pte_swp_mksoft_dirty(swp_pte)
    if pte_uffd_wp(pteval):
        swp_pte = pte_swp_mkuffd_wp(swp_pte)
    yield from set_pte_at(mm, address, ptep, swp_pte)
    yield from folio_remove_rmap_pte(folio, page, vma)
    yield from folio_put(folio)  # the mapping's reference
    return True


def try_to_migrate(cpu: Cpu, machine: Machine, folio: Folio) -> Gen:
    """Model of mm/rmap.c:try_to_migrate(): every mapping becomes a migration entry."""
    index = int((yield from kapi.READ_ONCE(folio.index)))
    mapping = yield from kapi.READ_ONCE(folio.mapping)
    for vma in _rmap_vmas(machine, folio, index, mapping):
        if not (yield from try_to_migrate_one(cpu, folio, vma, vma_address(vma, index))):
            return


# --- mapping back -----------------------------------------------------------------------
def remove_migration_pte(cpu: Cpu, folio: Folio, vma: Vma, address: int, old: Folio) -> Gen:
    """Model of mm/migrate.c:remove_migration_pte(): map ``folio`` where ``old`` was migrating."""
    mm, era = vma.mm, cpu.era
    pvmw = DEFINE_FOLIO_VMA_WALK(old, vma, address, PVMW_MIGRATION)
    anon = yield from folio_test_anon(folio)
    while (yield from page_vma_mapped_walk(pvmw)):
        assert pvmw.pte is not None
        old_pte = pvmw.pteval
        entry = pte_to_swp_entry(old_pte)
        new = folio.page(0)
        yield from folio_get(folio)
        pte = pte_mkold(mk_pte(folio, vma.vm_page_prot))
        if pte_swp_soft_dirty(old_pte):
            pte = pte_mksoft_dirty(pte)
        if is_writable_migration_entry(entry):
            pte = maybe_mkwrite(pte, vma)
        elif pte_swp_uffd_wp(old_pte):
            pte = pte_mkuffd_wp(pte)
        rmap_flags = RMAP_NONE
        if era.anon_exclusive and anon and not is_readable_migration_entry(entry):
            rmap_flags = RMAP_EXCLUSIVE
        if anon:
            yield from folio_add_anon_rmap_pte(cpu, folio, new, vma, rmap_flags)
        else:
            yield from folio_add_file_rmap_pte(folio, new, vma)
        yield from set_pte_at(mm, pvmw.address, pvmw.pte, pte)


def remove_migration_ptes(cpu: Cpu, machine: Machine, src: Folio, dst: Folio) -> Gen:
    """Model of mm/migrate.c:remove_migration_ptes(): every migration entry of ``src``
    maps ``dst`` (``src`` itself when the migration failed)."""
    index = int((yield from kapi.READ_ONCE(dst.index)))
    mapping = yield from kapi.READ_ONCE(dst.mapping)
    for vma in _rmap_vmas(machine, dst, index, mapping):
        yield from remove_migration_pte(cpu, dst, vma, vma_address(vma, index), src)


# --- moving -------------------------------------------------------------------------------
def folio_expected_refs(mapping: Any, swapcache: Any) -> int:
    """Model of mm/migrate.c:folio_expected_ref_count() plus the migration's own reference."""
    refs = 1  # isolation
    if not (mapping & PAGE_MAPPING_ANON) and mapping:
        refs += 1  # the page cache
    elif swapcache:
        refs += 1  # the swap cache
    return refs


def folio_migrate_mapping(cpu: Cpu, newfolio: Folio, folio: Folio) -> Gen:
    """Model of mm/migrate.c:folio_migrate_mapping(): freeze the old folio's refcount at
    the expected value (no GUP reference may exist), hand its cache slots to the new one.
    """
    mapping = yield from kapi.READ_ONCE(folio.mapping)
    swapcache = yield from kapi.test_bit(PG_swapcache, folio.flags)
    expected = folio_expected_refs(mapping, swapcache)
    if not (yield from folio_ref_freeze(folio, expected)):
        return -EAGAIN
    index = yield from kapi.READ_ONCE(folio.index)
    yield from kapi.WRITE_ONCE(newfolio.index, index)
    yield from kapi.WRITE_ONCE(newfolio.mapping, mapping)
    if expected > 1:
        yield from kapi.atomic_inc(newfolio._refcount)  # the cache's reference moves over
        if swapcache:
            offset = yield from kapi.READ_ONCE(folio.swap)
            yield from kapi.WRITE_ONCE(newfolio.swap, offset)
            yield from kapi.set_bit(PG_swapcache, newfolio.flags)
            yield from kapi.WRITE_ONCE(swap_slot(int(offset)).cache, newfolio.pfn)
        else:
            file = cpu.machine.file_of_mapping(int(mapping))
            assert file is not None
            yield from kapi.WRITE_ONCE(file.i_pages(int(index)), newfolio.pfn)
    # folio_ref_unfreeze(): the old folio keeps only the migration's reference.
    yield from kapi.atomic_set(folio._refcount, 1)
    return MIGRATEPAGE_SUCCESS


def folio_migrate_flags(newfolio: Folio, folio: Folio) -> Gen:
    """Model of mm/migrate.c:folio_migrate_flags(): dirty, uptodate, referenced, swapbacked."""
    flags = yield from kapi.READ_ONCE(folio.flags)
    keep = (1 << PG_dirty) | (1 << PG_uptodate) | (1 << PG_referenced) | (1 << PG_swapbacked)
    yield from kapi.atomic_or(flags & keep, newfolio.flags)
    if flags & (1 << PG_dirty):
        yield from kapi.clear_bit(PG_dirty, folio.flags)


def migrate_folio_unmap(cpu: Cpu, machine: Machine, src: Folio) -> Gen:
    """Model of mm/migrate.c:migrate_folio_unmap(): lock and unmap ``src``; 0 or -EAGAIN."""
    if not (yield from folio_trylock(src)):
        return -EAGAIN
    if (yield from folio_mapped(src)):
        yield from try_to_migrate(cpu, machine, src)
    if (yield from folio_mapped(src)):
        # Some mapping could not be replaced (a maybe-pinned page): put the
        # migration entries made so far back.
        yield from remove_migration_ptes(cpu, machine, src, src)
        yield from folio_unlock(src)
        return -EAGAIN
    return 0


def migrate_folio_move(cpu: Cpu, machine: Machine, src: Folio, dst: Folio) -> Gen:
    """Model of mm/migrate.c:migrate_folio_move(): ``src`` is locked and unmapped."""
    yield from folio_trylock(dst)  # a new folio: nobody else has it
    rc = yield from folio_migrate_mapping(cpu, dst, src)
    if rc == MIGRATEPAGE_SUCCESS:
        yield from copy_user_highpage(dst.page(0), src.page(0))
        yield from folio_migrate_flags(dst, src)
        yield from remove_migration_ptes(cpu, machine, src, dst)
        yield from kapi.set_bit(PG_lru, dst.flags)
        yield from folio_unlock(dst)
        yield from folio_put(dst)  # the allocation's reference: the mappings hold it now
        yield from folio_unlock(src)
        yield from folio_put(src)  # the migration's reference: src is freed
        return rc
    yield from remove_migration_ptes(cpu, machine, src, src)
    yield from folio_unlock(src)
    yield from folio_unlock(dst)
    return rc


NewFolio = Callable[[Cpu, Folio], Gen]


def alloc_migration_target(cpu: Cpu, src: Folio) -> Gen:
    """Model of mm/migrate.c:alloc_migration_target() (a movable allocation)."""
    return (yield from folio_alloc(cpu))


def migrate_pages(
    cpu: Cpu,
    machine: Machine,
    folios: list[Folio],
    get_new_folio: NewFolio = alloc_migration_target,
    reason: int = MR_SYSCALL,
    passes: int = NR_MAX_MIGRATE_PAGES_RETRY,
) -> Gen:
    """Model of mm/migrate.c:migrate_pages(): migrate isolated folios; how many failed.

    Each folio comes with its isolation reference; a folio that still fails
    after ``passes`` attempts goes back to the LRU.
    """
    todo, failed = list(folios), 0
    for _ in range(passes):
        retry: list[Folio] = []
        for src in todo:
            if (yield from migrate_folio_unmap(cpu, machine, src)):
                retry.append(src)
                continue
            dst = yield from get_new_folio(cpu, src)
            if (yield from migrate_folio_move(cpu, machine, src, dst)):
                yield from folio_put(dst)
                retry.append(src)
        todo = retry
        if not todo:
            break
    for src in todo:
        failed += 1
        yield from folio_putback_lru(src)
    return failed


def move_pages(cpu: Cpu, machine: Machine, vma: Vma, addrs: list[int]) -> Gen:
    """Model of mm/migrate.c:do_pages_move() for one target node: migrate the pages mapped
    at ``addrs``; returns the number that could not be moved (-EBUSY per page in status).
    """
    mm, isolated = vma.mm, []
    for addr in addrs:
        ptep = yield from pte_offset_map_lock(mm, addr)
        pte = yield from ptep_get(ptep)
        page = vm_normal_page(vma, addr, pte) if pte_present(pte) else None
        if page is not None:
            folio = page_folio(page)
            if (yield from folio_isolate_lru(folio)):
                isolated.append(folio)
        yield from pte_unmap_unlock(mm, addr)
    failed = yield from migrate_pages(cpu, machine, isolated)
    return failed + (len(addrs) - len(isolated))
