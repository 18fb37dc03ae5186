"""Parts of an exploration: the waiting explorer's subtrees and the revisit
explorer's shares; the parts given away and the rest add up to the whole
exploration (the basis of pinlab.parallel)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinlab.engine import (
    ExplorationResult,
    ReplayError,
    RevisitExplorer,
    Share,
    Subtree,
    explore,
    get_model,
)
from pinlab.engine.program import Program
from pinlab.parallel import merge
from tests.engine.minilang import as_program, programs


def _sum(parts: list[ExplorationResult]) -> dict[str, Any]:
    states: Counter[Any] = Counter()
    stats: Counter[str] = Counter()
    for r in parts:
        states.update(r.states)
        for f in dataclasses.fields(r.stats):
            if f.name not in ("seconds", "cut_thread"):
                stats[f.name] += getattr(r.stats, f.name)
    witnesses = [r.witness for r in parts if r.witness is not None]
    counter = [r.counterexample for r in parts if r.counterexample is not None]
    return {
        "states": dict(states),
        "positive": sum(r.positive for r in parts),
        "negative": sum(r.negative for r in parts),
        "stats": {k: v for k, v in stats.items() if v},
        "flags": frozenset().union(*(r.flags for r in parts)),
        "witness": min(witnesses, default=None),
        "counterexample": min(counter, default=None),
    }


def _split(program: Program, model: str, every: int, eager: bool) -> list[ExplorationResult]:
    """Explore ``program`` as a queue of subtrees, each giving away what it can
    every ``every`` choices (``eager``) or once."""
    todo: list[tuple[int, ...]] = [()]
    out: list[ExplorationResult] = []
    while todo:
        prefix = todo.pop()

        def wanted(asked: list[bool] = [False]) -> bool:  # noqa: B006 (one list per part)
            if eager or not asked[0]:
                asked[0] = True
                return True
            return False

        sub = Subtree(prefix, wanted, todo.extend, every)
        out.append(explore(program, model, subtree=sub))
    return out


@settings(max_examples=60, deadline=None, derandomize=True)
@given(threads=programs(), model=st.sampled_from(["sc", "lkmm"]), every=st.sampled_from([1, 2, 8]),
       eager=st.booleans())  # fmt: skip
def test_the_parts_add_up_to_the_whole(
    threads: list[Any], model: str, every: int, eager: bool
) -> None:
    program = as_program("p", threads, lambda s: s.regs[0].get("r0") == 1)
    whole = explore(program, model)
    parts = _split(program, model, every, eager)
    assert _sum(parts) == _sum([whole])


def test_a_prefix_that_does_not_fit_is_refused() -> None:
    program = as_program("p", [[("st", "x", 1)], [("ld", "x", "r0")]])
    with pytest.raises(ReplayError):
        explore(program, "sc", subtree=Subtree((7,)))


def test_giving_away_splits_the_work() -> None:
    """A tree of more than one execution, asked at every choice, is explored in
    more than one part, each a proper share of the whole."""
    threads = [[("st", "x", 1), ("st", "y", 1)], [("ld", "y", "r0"), ("ld", "x", "r1")],
               [("st", "x", 2)]]  # fmt: skip
    program = as_program("p", threads)
    whole = explore(program, "lkmm")
    parts = _split(program, "lkmm", 1, eager=True)
    assert len(parts) > 2
    assert all(p.stats.consistent < whole.stats.consistent for p in parts)
    assert sum(p.stats.consistent for p in parts) == whole.stats.consistent


def _shares(program: Program, model: str, every: int) -> ExplorationResult:
    """``program`` explored by revisits as a queue of parts, each giving away
    half its jobs every ``every`` steps, merged as pinlab.parallel merges."""
    todo: list[Any] = [None]
    parts: list[ExplorationResult] = []
    tallies = []
    while todo:
        job = todo.pop(0)
        explorer = RevisitExplorer(
            program, get_model(model), share=Share(job, lambda: True, todo.extend, every)
        )
        parts.append(explorer.run())
        tallies.append(explorer.tallies)
    return merge(parts, 0.0, tallies)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(threads=programs(), model=st.sampled_from(["sc", "lkmm"]), every=st.sampled_from([1, 4]))
def test_revisit_shares_add_up_to_the_whole(threads: list[Any], model: str, every: int) -> None:
    program = as_program("p", threads, lambda s: s.regs[0].get("r0") == 1)
    whole = RevisitExplorer(program, get_model(model)).run()
    merged = _shares(program, model, every)
    assert _sum([merged]) == _sum([whole])
    assert merged.outcome is whole.outcome


@pytest.mark.parametrize("procedure", ["explore", "revisit"])
def test_progress_is_told_along_the_way_and_at_the_end(procedure: str) -> None:
    """Three threads of two stores and two loads: hundreds of executions; the
    progress hook hears the count grow along the way, and the final count."""
    threads = [[("st", "x", i), ("st", "y", i), ("ld", "x", "r0"), ("ld", "y", "r1")]
               for i in range(1, 4)]  # fmt: skip
    program = as_program("p", threads)
    told: list[int] = []
    if procedure == "explore":
        result = explore(program, "sc", progress=told.append)
    else:
        result = RevisitExplorer(program, get_model("sc"), progress=told.append).run()
    assert told == sorted(told)
    assert any(0 < n < result.stats.consistent for n in told)
    assert told[-1] == result.stats.consistent
