"""Value cycles (out-of-thin-air candidates) are solved as herd7 solves them.

herd7 solves the equations of a candidate by unification: a cycle of plain
copies leaves a free symbol (``S<n>``) and the candidate stays; a value
computed from such a symbol is an equation it cannot solve, and the candidate
is dropped (the figures below are herd7's).
"""

from __future__ import annotations

import pytest

from pinlab.engine.explore import explore
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text

LB_PLAIN = """C LB+plain
{{}}
P0(int *x, int *y)
{{
	int r1;
	int r5;
	r1 = *x;
	r5 = {r5};
	*y = {w0};
}}
P1(int *x, int *y)
{{
	int r2;
	r2 = *y;
	*x = {w1};
}}
exists (0:r1=0)
"""


@pytest.mark.parametrize(
    ("r5", "w0", "w1", "executions"),
    [
        ("0", "r1", "r2", 4),  # copies only: the cycle stays, with a free symbol
        ("0", "r1 & 1", "r2", 3),  # a write computed from the cycle's symbol
        ("0", "r1", "r2 + 1", 3),
        ("r1 & 1", "r1", "r2", 3),  # a register computed from it
    ],
)
def test_value_cycles_as_herd7(r5: str, w0: str, w1: str, executions: int) -> None:
    text = LB_PLAIN.format(r5=r5, w0=w0, w1=w1)
    result = explore(lower(parse_text(text, "LB+plain")).program, "lkmm")
    assert result.positive + result.negative == executions
