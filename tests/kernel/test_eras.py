"""Eras: ordered, every switch cites a commit, and each era cites what changed."""

from __future__ import annotations

import dataclasses
import re

import pytest

from pinlab.kernel.eras import CURRENT, ERAS, Era, era_by_name, switch_citation

SWITCHES = [f.name for f in dataclasses.fields(Era) if "change" in f.metadata]


def test_eras_are_ordered_and_named() -> None:
    names = [e.name for e in ERAS]
    assert names == [
        "v4.20",
        "v5.7",
        "v5.8",
        "v5.9",
        "v5.11",
        "v5.19",
        "v6.1",
        "v6.2",
        "v6.5",
        "current",
    ]
    assert [e.order for e in ERAS] == list(range(len(ERAS)))
    assert era_by_name("v5.9").at_least("v5.8") and not era_by_name("v5.9").at_least("v5.11")
    with pytest.raises(KeyError):
        era_by_name("v3.0")


@pytest.mark.parametrize("name", SWITCHES)
def test_every_switch_cites_a_commit(name: str) -> None:
    change = switch_citation(name)
    assert re.fullmatch(r"[0-9a-f]{12}|lore:\S+", change.commit), change
    assert change.subject and re.fullmatch(r"v\d+\.\d+", change.release)


@pytest.mark.parametrize("i", range(1, len(ERAS)))
def test_each_change_of_a_switch_is_cited_by_the_era(i: int) -> None:
    before, era = ERAS[i - 1], ERAS[i]
    cited = {c.switch for c in era.changes}
    for name in SWITCHES:
        if getattr(before, name) != getattr(era, name):
            assert name in cited, f"{era.name} changes {name} without citing the commit"


def test_current_has_every_fix() -> None:
    bools = [n for n in SWITCHES if isinstance(getattr(CURRENT, n), bool)]
    assert [n for n in bools if not getattr(CURRENT, n) and n != "gup_breaks_cow"] == []
