"""A family's table: rows become scenarios, one per model, with the build's parameters."""

from __future__ import annotations

import pytest

from pinlab.kernel.arch import X86
from pinlab.kernel.eras import CURRENT, V5_19
from pinlab.scenarios.base import NEVER, REACHABLE, Built, Family, row
from pinlab.scenarios.common import anon_page, paths

FAMILY = Family("f", title="t", source="s", forbidden="bad", patterns=("L1",))
calls: list[tuple[str, dict[str, object]]] = []


def build(era: object, **params: object) -> Built:
    calls.append((getattr(era, "name", "?"), params))
    setup = anon_page(CURRENT)
    return Built(paths("f", setup.system, {"a": lambda: iter(())}), lambda s: None)


def test_a_row_gives_one_scenario_per_model_in_row_order() -> None:
    table = FAMILY.variants(
        build,
        row("one", V5_19, sc=REACHABLE, lkmm=NEVER, notes={"lkmm": "why"}),
        row("two", CURRENT, lkmm=NEVER, notes="both", forbidden="other", arch=X86),
    )
    assert [s.key for s in table] == ["f[one]@sc", "f[one]@lkmm", "f[two]@lkmm"]
    assert [s.expected for s in table] == [REACHABLE, NEVER, NEVER]
    assert [s.notes for s in table] == ["", "why", "both"]
    assert [s.forbidden for s in table] == ["bad", "bad", "other"]
    assert all(s.patterns == ("L1",) and s.source == "s" for s in table)
    calls.clear()
    table[2].build(table[2].era)
    assert calls == [("current", {"arch": X86})]


def test_a_row_must_name_a_model() -> None:
    with pytest.raises(ValueError, match="expected under no model"):
        row("none", CURRENT)
    with pytest.raises(ValueError, match="unknown model"):
        row("typo", CURRENT, sc=NEVER, notes={"lkm": "x"})


def test_paths_names_threads_and_refuses_unknown_write_bounds() -> None:
    setup = anon_page(CURRENT)
    program = paths("p", setup.system, {"x": lambda: iter(()), "y": lambda: iter(())})
    assert program.thread_names == ("x", "y") and program.may_write == ()
    with pytest.raises(ValueError, match="may_write names no thread"):
        paths("p", setup.system, {"x": lambda: iter(())}, {"z": frozenset()})
