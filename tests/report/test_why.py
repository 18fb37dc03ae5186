"""The cycle that explains a weak outcome: its shape and the order each po edge lacks."""

from __future__ import annotations

import pytest

from pinlab.engine.explore import Execution, explore
from pinlab.engine.graph import Event
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text
from pinlab.report.why import describe_cycle, shape, weak_cycle, weak_cycles

MP = """\
C MP
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); %s WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); %s r1 = READ_ONCE(*x); }
exists (1:r0=1 /\\ 1:r1=0)
"""

SB = """\
C SB
{}
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); %s r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r1; WRITE_ONCE(*y, 1); %s r1 = READ_ONCE(*x); }
exists (0:r0=0 /\\ 1:r1=0)
"""

LB = """\
C LB
{}
P0(int *x, int *y) { int r0; r0 = READ_ONCE(*x); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r1; r1 = READ_ONCE(*y); WRITE_ONCE(*x, 1); }
exists (0:r0=1 /\\ 1:r1=1)
"""


def _executions(text: str, model: str) -> list[Execution]:
    lowered = lower(parse_text(text, "t.litmus"))
    found: list[Execution] = []
    explore(lowered.program, model, on_execution=found.append)
    return found


def _weak(text: str) -> list[Execution]:
    """The lkmm executions that satisfy the test's exists clause."""
    lowered = lower(parse_text(text, "t.litmus"))
    cond = lowered.program.condition
    assert cond is not None
    return [ex for ex in _executions(text, "lkmm") if cond.predicate(ex.final)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MP % ("", ""), "message passing (MP)"),
        (SB % ("", ""), "store buffering (SB)"),
        (LB, "load buffering (LB)"),
    ],
)
def test_shape_of_the_weak_outcome(text: str, expected: str) -> None:
    weak = _weak(text)
    assert len(weak) == 1
    cycle = weak_cycle(weak[0].graph)
    assert cycle is not None
    assert shape(cycle) == expected
    assert sum(1 for e in cycle if e.rel == "po") == 2


def test_sc_executions_have_no_cycle() -> None:
    for ex in _executions(SB % ("", ""), "sc"):
        assert weak_cycle(ex.graph) is None


def test_each_po_edge_says_what_it_needs_and_has() -> None:
    # smp_wmb() on the writer only: MP still weak, and the trace says the
    # reader's R->R edge has nothing while the writer's W->W edge has the wmb.
    (ex,) = _weak(MP % ("smp_wmb();", ""))
    cycle = weak_cycle(ex.graph)
    assert cycle is not None

    def name(ev: Event) -> str:
        return f"P{ev.tid}:{'W' if ev.is_write else 'R'}{ev.loc}"

    def fence(ev: Event) -> str:
        return f"fence[{ev.tag}]"

    text = "\n".join(describe_cycle(ex.graph, cycle, name, fence))
    assert text.startswith("message passing (MP)")
    assert "--po (W→W; needs smp_wmb()" in text
    assert "has fence[wmb])" in text
    assert "--po (R→R; needs smp_rmb()" in text
    assert "has nothing)" in text


def test_full_barriers_forbid_the_weak_outcome() -> None:
    assert _weak(SB % ("smp_mb();", "smp_mb();")) == []


def test_an_outcome_weak_in_two_ways_shows_both() -> None:
    text = """\
C MP2
{}
P0(int *x, int *y, int *z) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); WRITE_ONCE(*z, 1); }
P1(int *x, int *y, int *z) { int r0; int r1; int r2;
  r0 = READ_ONCE(*z); r1 = READ_ONCE(*y); r2 = READ_ONCE(*x); }
exists (1:r0=1 /\\ 1:r1=1 /\\ 1:r2=0)
"""
    (ex,) = _weak(text)
    cycles = weak_cycles(ex.graph)
    assert len(cycles) == 2
    assert {shape(c) for c in cycles} == {"message passing (MP)"}
    flags = {ex.graph.events[e.dst].loc for c in cycles for e in c if e.rel == "rf"}
    assert {str(f) for f in flags} == {"y", "z"}
