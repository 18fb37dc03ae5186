"""The revisit explorer against the waiting explorer, and against herd7's data.

Every verdict the revisit procedure gives is checked where the waiting explorer
finishes: the same final states with the same counts, the same flags.  Where
the revisit procedure cannot vouch for completeness it must say so
(``Outcome.INCOMPLETE``), and ``auto`` then gives the waiting explorer's answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from pinlab.engine.decide import decide
from pinlab.engine.explore import Limits, Outcome, explore
from pinlab.engine.models import get_model
from pinlab.engine.revisit import RevisitExplorer
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text
from pinlab.litmus.run import run_file
from pinlab.report.herd7 import render
from tests.engine.minilang import ATOMICS, LOCKING, as_program, programs
from tests.litmus.litmus_data import LITMUS, corpus, litmus_files, rel, tsv

KERNEL = litmus_files("kernel")
CATALOGUE = litmus_files("catalogue")
PAULMCK = [r for r in tsv("paulmck") if r["herd7_verdict"] not in ("ERROR", "TIMEOUT")]


def _both(program: Any, model: str) -> tuple[Any, Any, RevisitExplorer]:
    old = explore(program, model)
    explorer = RevisitExplorer(program, get_model(model))
    return old, explorer.run(), explorer


def _same(old: Any, new: Any) -> bool:
    return (old.states, old.positive, old.negative, old.flags) == (
        new.states, new.positive, new.negative, new.flags,
    )  # fmt: skip


@pytest.mark.parametrize("path", corpus(KERNEL + CATALOGUE), ids=rel)
def test_litmus_revisit_equals_explore(path: Path) -> None:
    """kernel/ and catalogue/: state for state, or an honest "incomplete"."""
    program = lower(parse_text(path.read_text(), str(path)), "false").program
    old, new, _ = _both(program, "lkmm")
    assert old.outcome is Outcome.COMPLETE
    if new.outcome is Outcome.INCOMPLETE:
        return
    assert new.outcome is Outcome.COMPLETE
    assert _same(old, new)


@pytest.mark.parametrize("path", corpus(CATALOGUE), ids=rel)
def test_catalogue_as_herd7_under_auto(path: Path) -> None:
    """herd7's complete output under --engine auto."""
    run = run_file(path, "lkmm", engine="auto")
    assert run.verdict is not None
    lines = [x for x in render(run.verdict).splitlines() if not x.startswith(("Time ", "Hash="))]
    want = Path(f"{path}.expected").read_text().splitlines()
    assert lines == [x for x in want if not x.startswith(("Time ", "Hash="))]


@pytest.mark.slow
@pytest.mark.parametrize("row", corpus(PAULMCK), ids=lambda r: r["path"])
def test_paulmck_as_herd7_under_auto(row: dict[str, str]) -> None:
    """herd7's verdict, flags and counts under --engine auto (the tests herd7 decides)."""
    # (a hang guard, not a timer: the slowest of these takes about 30 s)
    run = run_file(LITMUS / "paulmck" / row["path"], "lkmm", engine="auto", time_limit=600)
    v = run.verdict
    assert run.error is None and v is not None and v.observation is not None
    got = (v.observation, ",".join(v.flags), v.positive, v.negative)
    want = (row["herd7_verdict"], row["herd7_flags"], int(row["herd7_positive"]),
            int(row["herd7_negative"]))  # fmt: skip
    assert got == want


# -- random programs --------------------------------------------------------------------
@pytest.mark.parametrize("model", ["sc", "lkmm"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(threads=programs(ATOMICS))
def test_random_atomics(model: str, threads: list[list[tuple[Any, ...]]]) -> None:
    program = as_program("random", threads)
    old, new, _ = _both(program, model)
    if new.outcome is Outcome.INCOMPLETE:
        assert model == "lkmm"
        return
    assert _same(old, new), threads


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(threads=programs(LOCKING))
def test_random_locks_under_auto(threads: list[list[tuple[Any, ...]]]) -> None:
    program = as_program("random", threads)
    old = explore(program, "lkmm", limits=Limits(time_limit=30))
    new = decide(program, "lkmm", engine="auto", limits=Limits(time_limit=30))
    if Outcome.TIME in (old.outcome, new.outcome):
        return
    assert _same(old, new), threads


def test_no_read_waits_on_kernel_paths() -> None:
    """The point of the procedure: on a kernel race under the LKMM no exploration
    ends for want of a write (the waiting explorer: about 400 dead ends here)."""
    from pinlab.scenarios import select

    scenario = select(["lazyfree-vs-gup-fast"], "current-pin", "lkmm")[0]
    program = scenario.program().program
    old, new, explorer = _both(program, "lkmm")
    assert _same(old, new)
    assert new.stats.blocked == 0 and old.stats.blocked > 0
    assert explorer.duplicates == 0
