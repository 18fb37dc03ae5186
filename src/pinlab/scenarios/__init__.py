"""The built-in catalogue of scenarios: the seed races, each before and after its fix.

Each module of this package is a declaration of one family: its
:class:`~pinlab.scenarios.base.Family` (id, title, source, forbidden outcome,
litmus patterns), one ``build(era, **params)`` (the setup with the helpers of
:mod:`pinlab.scenarios.common`, the CPUs' kernel paths, the forbidden-state
predicate) and a table, ``SCENARIOS = FAMILY.variants(build, row(...), ...)``,
each row a variant with its era, its expected verdict per memory model and
the build's parameters.  :func:`catalogue` collects them in the order of
:data:`MODULES`.  A scenario is selected by its ``name`` (the
catalogue id, e.g. ``fork-vs-pin-fast``), optionally narrowed by era
(``variant`` or era name) and memory model.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from pinlab.scenarios.base import Expect, Scenario, ScenarioResult, Verdict, run_many

__all__ = [
    "MODULES",
    "Expect",
    "Scenario",
    "ScenarioResult",
    "Verdict",
    "catalogue",
    "run_many",
    "select",
]

MODULES: tuple[str, ...] = (
    "fork_pin",
    "gup_fast_share",
    "device_exclusive_fork",
    "gup_fast_norecency",
    "put_user_page_writeback",
    "ptep_get_lockless_split",
    "unshare_slow_gup",
    "device_exclusive_fault",
    "lazyfree_gup_fast",
    "ksm_wrprotect_gup_fast",
    "collapse_gup_fast",
    "try_get_folio_free",
    "pgtable_free_gup_fast",
    "zap_gup_fast",
    "mprotect_gup_fast",
    "migrate_gup_fast",
)


def catalogue() -> tuple[Scenario, ...]:
    out: list[Scenario] = []
    for name in MODULES:
        module = importlib.import_module(f"pinlab.scenarios.{name}")
        out.extend(module.SCENARIOS)
    return tuple(out)


def select(
    names: Sequence[str] = (),
    era: str | None = None,
    model: str | None = None,
    pool: Sequence[Scenario] | None = None,
) -> list[Scenario]:
    """The scenarios called ``names`` (all when empty) of ``era`` and ``model``,
    from ``pool`` (the catalogue when None).

    ``era`` matches a scenario's variant or its era's name.  Raises
    :class:`LookupError` naming what matched nothing.
    """
    every = catalogue() if pool is None else tuple(pool)
    known = {s.name for s in every}
    for n in names:
        if n not in known:
            raise LookupError(f"no scenario {n!r}; known: {', '.join(sorted(known))}")
    chosen = [s for s in every if s.name in names] if names else list(every)
    if era is not None:
        chosen = [s for s in chosen if era in (s.variant, s.era.name)]
        if not chosen:
            raise LookupError(f"no scenario of era {era!r} among {', '.join(names) or 'all'}")
    if model is not None:
        chosen = [s for s in chosen if s.model == model]
        if not chosen:
            raise LookupError(f"no scenario under model {model!r} with these names and era")
    return chosen
