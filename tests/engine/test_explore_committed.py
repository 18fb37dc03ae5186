"""The explorer gives up on speculation that only a happens-before cycle could complete.

Load buffering whose reads are acquires is forbidden by LKMM (acq-po orders
each read before its thread's write).  The explorer still speculates past the
waiting reads, but once every live thread waits on a read that orders what
follows it, it stops without building the cyclic candidate: fewer partial
graphs reach the model's pruning than with the rule switched off.  Verdicts
and counts are the same either way.
"""

from __future__ import annotations

from typing import Any

import pytest

from pinlab.engine.explore import ExplorationResult, explore
from pinlab.engine.models import get_model
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text


class _Unordered:
    """The lkmm model, but telling the explorer that acquires order nothing."""

    acquire_orders_later = False

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _lb(read: str) -> str:
    return (
        "C LB\n{}\n"
        f"P0(int *x, int *y) {{ int r0; r0 = {read.format('x')}; WRITE_ONCE(*y, 1); }}\n"
        f"P1(int *x, int *y) {{ int r0; r0 = {read.format('y')}; WRITE_ONCE(*x, 1); }}\n"
        "exists (0:r0=1 /\\ 1:r0=1)\n"
    )


def _both(text: str) -> tuple[ExplorationResult, ExplorationResult]:
    program = lower(parse_text(text, "lb.litmus")).program
    lkmm = get_model("lkmm")
    return explore(program, lkmm), explore(program, _Unordered(lkmm))


@pytest.mark.parametrize(
    "read",
    [
        "smp_load_acquire({})",
        "xchg_acquire({}, 2)",
        "xchg({}, 2)",  # fully ordered: fr&int to its write, then mb
        "cmpxchg_acquire({}, 1, 2)",  # ordered on the branch where it succeeds
    ],
)
def test_lb_closed_by_acquires_is_cut_early(read: str) -> None:
    cut, uncut = _both(_lb(read))
    assert (cut.positive, cut.negative) == (uncut.positive, uncut.negative)
    assert cut.positive == 0
    assert cut.states == uncut.states
    assert cut.stats.pruned < uncut.stats.pruned


@pytest.mark.parametrize("read", ["READ_ONCE(*{})", "xchg_relaxed({}, 2)"])
def test_lb_without_ordering_is_explored(read: str) -> None:
    cut, uncut = _both(_lb(read))
    assert cut.positive == uncut.positive == 1  # LB is allowed: the rule must not apply
    assert (cut.stats.pruned, cut.stats.blocked) == (uncut.stats.pruned, uncut.stats.blocked)
