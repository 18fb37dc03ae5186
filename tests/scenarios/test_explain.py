"""The interleaving of an execution and the shortest counterexample (scenarios/explain.py)."""

from __future__ import annotations

from typing import Any

import pytest

from pinlab.engine.explore import Execution, explore
from pinlab.engine.graph import EvKind
from pinlab.engine.ops import Load, Store
from pinlab.engine.program import Loc, Program
from pinlab.report.trace import _Context  # the read notes of the trace
from pinlab.scenarios.explain import (
    context_switches,
    find_counterexample,
    interleave,
    replay_execution,
)
from pinlab.scenarios.replay import select_one


def _executions(era: str) -> list[Execution]:
    built = select_one("fork-vs-pin-fast", era, "sc").program()
    found: list[Execution] = []
    explore(built.program, "sc", on_execution=found.append)
    return found


@pytest.mark.parametrize("era", ["v5.8", "v5.9"])
def test_interleaving_is_an_sc_run(era: str) -> None:
    """Under sc the order keeps po, and every read reads the latest write before it."""
    for ex in _executions(era):
        g = ex.graph
        order = interleave(g)
        flat = [e for step in order for e in step]
        assert sorted(flat) == sorted(e.eid for e in g.events if e.tid >= 0)
        for eids in g.threads:
            assert [e for e in flat if e in set(eids)] == eids  # po kept
        memory = {loc: g.events[ws[0]].eid for loc, ws in g.lock_co().items()}
        rf = g.reads_from()
        for eid in flat:
            ev = g.events[eid]
            if ev.is_read and eid in rf:
                assert rf[eid] == memory[ev.loc], (ev, ex.choices)
            if ev.kind in (EvKind.W, EvKind.LKW, EvKind.UL):
                memory[ev.loc] = eid  # type: ignore[index]


def test_steps_keep_atomics_whole() -> None:
    for ex in _executions("v5.9"):
        for step in interleave(ex.graph):
            if len(step) == 2:
                r, w = (ex.graph.events[e] for e in step)
                assert r.rmw == w.eid and w.rmw == r.eid


def test_shortest_counterexample() -> None:
    scenario = select_one("fork-vs-pin-fast", "v5.9", "sc")
    explanation = find_counterexample(scenario)
    best = explanation.best
    assert best is not None and explanation.verdict == "reachable"
    built = scenario.program()
    scores = [
        (context_switches(ex.graph, interleave(ex.graph)), sum(e.tid >= 0 for e in ex.graph.events))
        for ex in _executions("v5.9")
        if built.bad(ex.final) is not None
    ]
    assert len(scores) == explanation.reachable
    assert (best.switches, best.events) == min(scores)


def test_replay_gives_the_same_execution() -> None:
    scenario = select_one("fork-vs-pin-fast", "v5.9", "sc")
    best = find_counterexample(scenario).best
    assert best is not None
    again = replay_execution(scenario, best.choices)
    assert again.order == best.order and again.outcome == best.outcome
    assert again.execution.graph.events == best.execution.graph.events


def test_weak_outcome_cycle_is_broken_and_marked() -> None:
    """SB under lkmm: both reads see 0, a po;fr cycle; the trace still shows every step."""
    x, y = Loc("x"), Loc("y")

    def p(mine: Loc, other: Loc) -> Any:
        yield Store(mine, 1)
        r0 = yield Load(other)
        return {"r0": r0}

    program = Program("SB", (lambda: p(x, y), lambda: p(y, x)))
    weak: list[Execution] = []
    explore(program, "lkmm", on_execution=lambda ex: weak.extend(
        [ex] if all(r["r0"] == 0 for r in ex.final.regs) else []))  # fmt: skip
    [ex] = weak
    order = tuple(interleave(ex.graph))
    assert sorted(e for s in order for e in s) == sorted(
        e.eid for e in ex.graph.events if e.tid >= 0
    )
    ctx = _Context(ex.graph, order)
    notes = [" ".join(ctx.parts(tuple(ex.graph.events[e] for e in s))) for s in order]
    assert any("stale" in n for n in notes), notes
