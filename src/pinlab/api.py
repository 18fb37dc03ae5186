"""pinlab's public API: write your own race on the kernel model, in Python.

Everything a scenario file needs is importable from here; the modules behind
it may change.  A scenario file is a Python file that defines ``SCENARIOS``
(see docs/scenarios.md, which writes one from nothing), and runs with
``pinlab check ./race.py``, ``pinlab explain ./race.py`` and ``pinlab replay``
of what ``explain --save`` wrote.  The built-in catalogue
(``src/pinlab/scenarios/``) is written with this same API.

A scenario has four parts:

The family
    :class:`Family`: its id (what ``pinlab check NAME`` selects), title, the
    commit or thread it comes from, the forbidden outcome in words, the
    litmus patterns it runs (docs/labels.md).

The setup, run sequentially
    :class:`System` (one machine of an :class:`Era` on an :class:`Arch`)
    and its processes (:meth:`System.spawn`; :class:`Process` has ``mmap``,
    ``write``, ``madvise``, ``fork``, ``pin_longterm_test_start`` ... as
    the syscalls and the selftests' ioctls); :func:`anon_page` is the usual
    one: a process with one private anonymous page, written.

The concurrent paths
    Each CPU runs one generator function that calls the model's kernel
    functions with ``yield from``, as the kernel calls them, and returns a
    dict of what it wants to look at afterwards (its "registers").  Each
    kernel function takes the :class:`Cpu` it runs on first
    (``setup.cpu(1)``, ``Cpu(system.machine, id=1)``; CPU 0 ran the setup).
    :func:`paths` makes the program, a path per kernel function name.  A path
    of your own is written the same way, from the model's kernel functions
    and the primitives of :mod:`kapi <pinlab.engine.kapi>` (``READ_ONCE``,
    ``smp_mb``, ``spin_lock``, ...); a barrier you may want to take away is
    named with :func:`define_barrier` and yielded with :func:`barrier`.

What is forbidden
    A function of the :class:`FinalState` (``state.memory[loc]``,
    ``state.regs[cpu]``) that returns a description of what went wrong, or
    None.  :class:`Built` holds the program and that function.

and a table: ``SCENARIOS = FAMILY.variants(build, row(...), ...)``, each
:func:`row` an era (``era_by_name("v6.1")``, or one with a barrier removed,
``era.without("name")``, or a what-if barrier added, ``era.adding(...)``)
with the verdict expected under ``sc`` and ``lkmm`` (:data:`NEVER`,
:data:`REACHABLE`) and the build's parameters.  ``pinlab barriers NAME``
lists the named barriers a scenario's paths run.
"""

from __future__ import annotations

from pinlab.engine import FinalState, Loc, kapi
from pinlab.kernel.arch import ARM64, ARM64_DSB, X86, Arch, arch_by_name
from pinlab.kernel.barriers import BARRIERS, NamedBarrier, barrier, define_barrier
from pinlab.kernel.defs import (
    FOLL_FAST_ONLY,
    FOLL_GET,
    FOLL_LONGTERM,
    FOLL_PIN,
    FOLL_WRITE,
    GUP_PIN_COUNTING_BIAS,
    PAGE_SIZE,
    PMD_SIZE,
    PG_anon_exclusive,
    PG_dirty,
    PG_lru,
)
from pinlab.kernel.eras import ERAS, Era, era_by_name
from pinlab.kernel.folio import (
    PageAnonExclusive,
    folio_get,
    folio_maybe_dma_pinned,
    folio_put,
    folio_ref_count,
)
from pinlab.kernel.fork import dup_mmap
from pinlab.kernel.gup_api import get_user_pages, pin_user_pages, pin_user_pages_unlocked
from pinlab.kernel.gup_fast import (
    get_user_pages_fast,
    get_user_pages_fast_only,
    gup_fast_fallback,
    pin_user_pages_fast,
)
from pinlab.kernel.khugepaged import collapse_huge_page
from pinlab.kernel.ksm import try_to_merge_one_page
from pinlab.kernel.memory import handle_mm_fault
from pinlab.kernel.migrate import migrate_pages, try_to_migrate_one
from pinlab.kernel.mm_types import (
    NR_FOLL_PIN_ACQUIRED,
    NR_FOLL_PIN_RELEASED,
    Cpu,
    Folio,
    MmStruct,
    Page,
    page_folio,
    pfn_folio,
    pfn_to_page,
)
from pinlab.kernel.mmap import (
    MADV_DONTNEED,
    MADV_FREE,
    MADV_HUGEPAGE,
    MADV_PAGEOUT,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_READ,
    PROT_WRITE,
)
from pinlab.kernel.mprotect import change_pte_range
from pinlab.kernel.pgtable import (
    pte_offset_map_lock,
    pte_unmap_unlock,
    ptep_clear_flush,
    ptep_get,
    ptep_get_and_clear,
    set_pte_at,
)
from pinlab.kernel.pin import try_get_folio, unpin_user_page, unpin_user_pages
from pinlab.kernel.process import PIN_LONGTERM_TEST_FLAG_USE_WRITE, Process, System
from pinlab.kernel.pte import describe_pte, pte_pfn, pte_present, pte_write
from pinlab.kernel.rmap import folio_remove_rmap_pte
from pinlab.kernel.uaccess import user_access
from pinlab.kernel.vmscan import try_to_unmap_one
from pinlab.kernel.wp import do_wp_page
from pinlab.kernel.zap import zap_pte_range
from pinlab.scenarios.base import (
    NEVER,
    REACHABLE,
    Built,
    Expect,
    Family,
    Row,
    Scenario,
    ScenarioResult,
    Verdict,
    row,
)
from pinlab.scenarios.common import AnonPage, anon_page, gup_fast_writes, paths

__all__ = [
    "ARM64",
    "ARM64_DSB",
    "BARRIERS",
    "ERAS",
    "FOLL_FAST_ONLY",
    "FOLL_GET",
    "FOLL_LONGTERM",
    "FOLL_PIN",
    "FOLL_WRITE",
    "GUP_PIN_COUNTING_BIAS",
    "MADV_DONTNEED",
    "MADV_FREE",
    "MADV_HUGEPAGE",
    "MADV_PAGEOUT",
    "MAP_ANONYMOUS",
    "MAP_PRIVATE",
    "MAP_SHARED",
    "NEVER",
    "NR_FOLL_PIN_ACQUIRED",
    "NR_FOLL_PIN_RELEASED",
    "PAGE_SIZE",
    "PIN_LONGTERM_TEST_FLAG_USE_WRITE",
    "PMD_SIZE",
    "PROT_READ",
    "PROT_WRITE",
    "REACHABLE",
    "X86",
    "AnonPage",
    "Arch",
    "Built",
    "Cpu",
    "Era",
    "Expect",
    "Family",
    "FinalState",
    "Folio",
    "Loc",
    "MmStruct",
    "NamedBarrier",
    "PG_anon_exclusive",
    "PG_dirty",
    "PG_lru",
    "Page",
    "PageAnonExclusive",
    "Process",
    "Row",
    "Scenario",
    "ScenarioResult",
    "System",
    "Verdict",
    "anon_page",
    "arch_by_name",
    "barrier",
    "change_pte_range",
    "collapse_huge_page",
    "define_barrier",
    "describe_pte",
    "do_wp_page",
    "dup_mmap",
    "era_by_name",
    "folio_get",
    "folio_maybe_dma_pinned",
    "folio_put",
    "folio_ref_count",
    "folio_remove_rmap_pte",
    "get_user_pages",
    "get_user_pages_fast",
    "get_user_pages_fast_only",
    "gup_fast_fallback",
    "gup_fast_writes",
    "handle_mm_fault",
    "kapi",
    "migrate_pages",
    "page_folio",
    "paths",
    "pfn_folio",
    "pfn_to_page",
    "pin_user_pages",
    "pin_user_pages_fast",
    "pin_user_pages_unlocked",
    "pte_offset_map_lock",
    "pte_pfn",
    "pte_present",
    "pte_unmap_unlock",
    "pte_write",
    "ptep_clear_flush",
    "ptep_get",
    "ptep_get_and_clear",
    "row",
    "set_pte_at",
    "try_get_folio",
    "try_to_merge_one_page",
    "try_to_migrate_one",
    "try_to_unmap_one",
    "unpin_user_page",
    "unpin_user_pages",
    "user_access",
    "zap_pte_range",
]
