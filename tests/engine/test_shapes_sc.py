"""Classic litmus shapes under sc: which final states are reachable.

Expected sets are worked out by hand from the definition of SC (one
interleaving of all events), not by running the explorer.
"""

from __future__ import annotations

from typing import Any

import pytest

from pinlab.engine.explore import explore
from pinlab.engine.program import MemVar, RegVar
from tests.engine.minilang import Instr, as_program

SHAPES: dict[str, tuple[list[list[Instr]], list[str], set[tuple[int, ...]]]] = {
    "SB": (
        [[("st", "x", 1), ("ld", "y", "r0")], [("st", "y", 1), ("ld", "x", "r0")]],
        ["0:r0", "1:r0"],
        {(0, 1), (1, 0), (1, 1)},
    ),
    "MP": (
        [[("st", "x", 1), ("st", "y", 1)], [("ld", "y", "r0"), ("ld", "x", "r1")]],
        ["1:r0", "1:r1"],
        {(0, 0), (0, 1), (1, 1)},
    ),
    "LB": (
        [[("ld", "x", "r0"), ("st", "y", 1)], [("ld", "y", "r0"), ("st", "x", 1)]],
        ["0:r0", "1:r0"],
        {(0, 0), (0, 1), (1, 0)},
    ),
    "IRIW": (
        [
            [("st", "x", 1)],
            [("st", "y", 1)],
            [("ld", "x", "r0"), ("ld", "y", "r1")],
            [("ld", "y", "r0"), ("ld", "x", "r1")],
        ],
        ["2:r0", "2:r1", "3:r0", "3:r1"],
        {(a, b, c, d) for a in (0, 1) for b in (0, 1) for c in (0, 1) for d in (0, 1)}
        - {(1, 0, 1, 0)},
    ),
    "2+2W": (
        [[("st", "x", 1), ("st", "y", 2)], [("st", "y", 1), ("st", "x", 2)]],
        ["[x]", "[y]"],
        {(1, 2), (2, 1), (2, 2)},
    ),
    "CoRR": (
        [[("st", "x", 1)], [("ld", "x", "r0"), ("ld", "x", "r1")]],
        ["1:r0", "1:r1"],
        {(0, 0), (0, 1), (1, 1)},
    ),
    "CoWW": (
        [[("st", "x", 1), ("st", "x", 2)]],
        ["[x]"],
        {(2,)},
    ),
}


def project(
    states: dict[tuple[Any, ...], int], observed: tuple[Any, ...], names: list[str]
) -> set[tuple[int, ...]]:
    index = {str(v): i for i, v in enumerate(observed)}
    return {tuple(state[index[n]] for n in names) for state in states}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shape_under_sc(name: str) -> None:
    threads, names, expected = SHAPES[name]
    program = as_program(name, threads)
    result = explore(program, "sc")
    assert result.outcome == "complete"
    observed = program.condition.observed
    assert all(isinstance(v, MemVar | RegVar) for v in observed)
    assert project(result.states, observed, names) == expected
    # under sc every pruned candidate is caught early: each candidate the
    # model decides is consistent
    assert result.stats.explored == result.stats.consistent


def test_sb_outcome_is_never_under_sc() -> None:
    threads, _names, _ = SHAPES["SB"]
    r0, r1 = RegVar(0, "r0"), RegVar(1, "r0")
    program = as_program("SB", threads, exists=lambda s: s.get(r0) == 0 and s.get(r1) == 0)
    result = explore(program, "sc")
    assert (result.positive, result.negative) == (0, 3)
    assert result.observation == "Never"
