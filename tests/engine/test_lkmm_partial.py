"""The lkmm model skips its full ordering check after a choice that cannot close a
cycle of hb or pb (models/lkmm.py ``no_new_order_cycle``).  Skipping is only an
optimisation if every skipped check would have passed: here each one is run anyway,
on lock-word litmus tests and on kernel scenarios that take locks."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinlab.engine.explore import Limits, explore
from pinlab.engine.graph import ExecutionGraph
from pinlab.engine.models.base import Change
from pinlab.engine.models.lkmm import LkmmModel, has_locks, no_new_order_cycle
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text
from pinlab.scenarios import catalogue
from tests.litmus.litmus_data import LITMUS, NEEDS_CORPUS


class Audited(LkmmModel):
    """lkmm, running in full every ordering check that the model skips."""

    def __init__(self) -> None:
        self.skipped = 0
        self.checked = 0

    def check_partial(self, g: ExecutionGraph, change: Change) -> bool:
        passed = super().check_partial(g, change)
        if not passed or change[0] == "full" or not has_locks(g):
            return passed
        if no_new_order_cycle(g, change):
            self.skipped += 1
            verdict = self._check(g, partial=True)
            assert verdict.consistent, f"skipped a failing check ({verdict.failed}) at {change}"
        else:
            self.checked += 1
        return passed


def _lock_tests() -> list[Path]:
    paths = sorted((LITMUS / "kernel").rglob("*.litmus"))
    return [p for p in paths if "spin_lock" in p.read_text() or "xchg" in p.read_text()]


@NEEDS_CORPUS
def test_skipped_checks_pass_on_the_kernel_lock_tests() -> None:
    model = Audited()
    paths = _lock_tests()
    assert len(paths) >= 5
    for path in paths:
        program = lower(parse_text(path.read_text(), str(path))).program
        explore(program, model)
    assert model.skipped > 300 and model.checked > 0, (model.skipped, model.checked)


@pytest.mark.parametrize(
    "key",
    [
        "lazyfree-vs-gup-fast[current]@lkmm",
        "ptep-get-lockless-split[zap]@lkmm",
        "ksm-wrprotect-vs-gup-fast[current-arm64]@lkmm",
    ],
)
def test_skipped_checks_pass_on_kernel_scenarios(key: str) -> None:
    (scenario,) = [s for s in catalogue() if s.key == key]
    model = Audited()
    built = scenario.build(scenario.era)
    explore(built.program, model, limits=Limits(time_limit=120))
    assert model.skipped > 50, model.skipped
