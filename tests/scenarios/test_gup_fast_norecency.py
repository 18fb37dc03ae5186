"""gup-fast-pte-recheck-norecency: the pte_same() re-check.

The verdicts run in test_catalogue.py.
"""

from __future__ import annotations

import dataclasses
import functools

import pytest

from pinlab.engine.explore import Limits
from pinlab.kernel.arch import ARM64_CONTPTE
from pinlab.scenarios import catalogue
from pinlab.scenarios.gup_fast_norecency import SCENARIOS, build


def test_in_the_catalogue() -> None:
    assert {s.key for s in SCENARIOS} <= {s.key for s in catalogue()}


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="ksm vs today's pte_same re-check on a 16-entry block: ~3^16 reads-from "
    "combinations for the lockless block read against the unfold's 32 writes; "
    "the explorer cannot finish it in bounded time yet",
)
def test_ksm_vs_pte_same_recheck_is_explorable() -> None:
    base = next(s for s in SCENARIOS if s.variant == "ksm-norecency")
    builder = functools.partial(build, arch=ARM64_CONTPTE, other="ksm")
    scenario = dataclasses.replace(base, variant="ksm-pte_same", build=builder)
    # (an execution bound, not a timer: the verdict does not depend on the machine)
    result = scenario.run(limits=Limits(max_executions=500))
    assert result.verdict.value == "never"
