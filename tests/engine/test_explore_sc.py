"""The explorer under sc: brute-force agreement, classic shapes, replay."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pinlab.engine.explore import Execution, Limits, Outcome, explore
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text
from tests.engine.minilang import Instr, as_program, brute_force_sc

LOCS = ["x", "y"]
VALS = [1, 2]


@st.composite
def instruction(draw: st.DrawFn, tid: int, depth: int = 0) -> Instr:
    reg = f"r{draw(st.integers(0, 1))}"
    loc = draw(st.sampled_from(LOCS))
    v = draw(st.sampled_from(VALS))
    kinds = ["st", "ld", "ld", "xchg", "cmpxchg", "fetch_add", "add", "add_unless", "fence",
             "lock_block", "rcu_block", "sync_rcu"]  # fmt: skip
    if depth == 0:
        kinds += ["if_eq", "trylock"]
    kind = draw(st.sampled_from(kinds))
    if kind == "st":
        return ("st", loc, v)
    if kind == "ld":
        return ("ld", loc, reg)
    if kind == "xchg":
        return ("xchg", loc, v, reg)
    if kind == "cmpxchg":
        return ("cmpxchg", loc, draw(st.sampled_from([0, *VALS])), v, reg)
    if kind == "fetch_add":
        return ("fetch_add", loc, v, reg)
    if kind == "add":
        return ("add", loc, v)
    if kind == "add_unless":
        return ("add_unless", loc, v, draw(st.sampled_from([0, *VALS])), reg)
    if kind == "fence":
        return ("fence", draw(st.sampled_from(["mb", "rmb", "wmb", "after_atomic"])))
    if kind == "sync_rcu":
        return ("fence", "sync_rcu")
    if kind == "rcu_block":
        body = draw(st.lists(instruction(tid, depth + 1), min_size=1, max_size=2))
        return ("if_eq", "__always", 0, [("rcu_lock",), *body, ("rcu_unlock",)])
    if kind == "lock_block":
        body = draw(st.lists(instruction(tid, depth + 1), min_size=0, max_size=1))
        return ("if_eq", "__always", 0, [("lock", "l"), *body, ("unlock", "l")])
    if kind == "if_eq":
        body = draw(st.lists(instruction(tid, depth + 1), min_size=1, max_size=1))
        return ("if_eq", reg, draw(st.sampled_from([0, *VALS])), body)
    body = draw(st.lists(instruction(tid, depth + 1), min_size=0, max_size=1))
    return ("trylock", "l", "t", body)


@st.composite
def programs(draw: st.DrawFn) -> list[list[Instr]]:
    n = draw(st.integers(2, 3))
    return [draw(st.lists(instruction(tid), min_size=1, max_size=4)) for tid in range(n)]


# Programs whose executions number in the thousands (long coherence orders)
# only slow the suite down without testing anything the small ones do not.
CAP = Limits(max_executions=2000)


def explored_states(threads: list[list[Instr]], model: str = "sc") -> set[tuple[Any, ...]]:
    result = explore(as_program("random", threads), model, limits=CAP)
    assume(result.outcome is Outcome.COMPLETE)
    return set(result.states)


@settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_explorer_matches_brute_force_under_sc(threads: list[list[Instr]]) -> None:
    assert explored_states(threads) == brute_force_sc(threads)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_each_execution_is_explored_once(threads: list[list[Instr]]) -> None:
    seen: list[tuple[Any, ...]] = []

    def canonical(ex: Execution) -> tuple[Any, ...]:
        g = ex.graph
        events = tuple((e.tid, e.idx, e.kind, e.loc, e.value) for e in g.events)
        rf = tuple(
            sorted(
                ((g.events[r].tid, g.events[r].idx), (g.events[w].tid, g.events[w].idx))
                for r, w in enumerate(g.rf)
                if w >= 0
            )
        )
        co = tuple(
            sorted(
                (loc.name, tuple((g.events[w].tid, g.events[w].idx) for w in ws))
                for loc, ws in g.co.items()
            )
        )
        return (frozenset(events), rf, co)

    result = explore(
        as_program("random", threads),
        "sc",
        limits=CAP,
        on_execution=lambda ex: seen.append(canonical(ex)),
    )
    assume(result.outcome is Outcome.COMPLETE)
    assert len(seen) == len(set(seen))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_replay_reproduces_each_execution(threads: list[list[Instr]]) -> None:
    program = as_program("random", threads)
    runs: list[Execution] = []
    result = explore(program, "sc", limits=CAP, on_execution=runs.append)
    assume(result.outcome is Outcome.COMPLETE)
    for ex in runs[:8]:
        again: list[Execution] = []
        explore(program, "sc", replay=ex.choices, on_execution=again.append)
        assert len(again) == 1
        assert again[0].graph.events == ex.graph.events
        assert again[0].graph.rf == ex.graph.rf
        assert again[0].graph.co == ex.graph.co
        assert again[0].final == ex.final


def _rcu(*body: Instr) -> Instr:
    return ("if_eq", "__always", 0, [("rcu_lock",), *body, ("rcu_unlock",)])


SYNC: Instr = ("fence", "sync_rcu")
RCU_PROGRAMS = {
    # the reader's section may not straddle the grace period
    "straddle": [[_rcu(("ld", "x", "r0"), ("ld", "y", "r1"))],
                 [("st", "x", 1), SYNC, ("st", "y", 1)]],
    "nested": [[_rcu(("ld", "x", "r0"), _rcu(), ("ld", "y", "r1"))],
               [("st", "x", 1), SYNC, ("st", "y", 1)]],
    "two-sections": [[_rcu(("ld", "y", "r0")), _rcu(("ld", "x", "r1"))],
                     [("st", "x", 1), SYNC, ("st", "y", 1)]],
    "two-grace-periods": [[_rcu(("ld", "x", "r0"), ("ld", "y", "r1"))],
                          [("st", "x", 1), SYNC, ("st", "z", 1)],
                          [("ld", "z", "r0"), SYNC, ("st", "y", 1)]],
    "lock-inside": [[_rcu(("lock", "l"), ("ld", "x", "r0"), ("unlock", "l"), ("ld", "y", "r1"))],
                    [("lock", "l"), ("st", "x", 1), SYNC, ("st", "y", 1), ("unlock", "l")]],
    # two readers whose sections overlap (P0 reads P1's store to w): the
    # grace period waits for P0's (begun before it) and not for P1's
    "overlapping": [[_rcu(("ld", "y", "r0"), ("ld", "w", "r1"))],
                    [_rcu(("st", "w", 1), ("ld", "x", "r1"))],
                    [("st", "y", 1), SYNC, ("st", "x", 1)]],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(RCU_PROGRAMS))
def test_grace_periods_match_brute_force(name: str) -> None:
    threads = RCU_PROGRAMS[name]
    result = explore(as_program(name, threads), "sc", limits=CAP)
    assert result.outcome is Outcome.COMPLETE
    assert set(result.states) == brute_force_sc(threads)


def test_grace_period_forbids_a_straddling_section() -> None:
    # locations x, y; then P0's r0, r1: reading x's old value and y's new one
    # needs the section to begin before synchronize_rcu() and end after it.
    states = set(explore(as_program("straddle", RCU_PROGRAMS["straddle"]), "sc").states)
    assert (1, 1, 0, 1) not in states
    assert {(1, 1, 0, 0), (1, 1, 1, 0), (1, 1, 1, 1)} <= states


def test_a_grace_period_is_an_interval_not_a_point() -> None:
    """P0 reads y=0 in its section, so the grace period waits for it; P1's
    section reads x=1, so it ends after the grace period, and P0 reads P1's
    store to w, so P1's section begins before P0's ends.  With the grace
    period one point of the total order both sections would have to end
    before it; the kernel's synchronize_rcu() waits only for P0's."""
    threads = RCU_PROGRAMS["overlapping"]
    states = set(explore(as_program("overlapping", threads), "sc").states)
    # locations w, x, y; then P0's r0, r1 and P1's r1
    assert (1, 1, 1, 0, 1, 1) in states, sorted(states)


def _srcu_test(first_unlocked: str) -> str:
    """Two SRCU sections of one srcu_struct in P0, the section of index
    ``first_unlocked`` (r3: the outer one, r4: the inner one) ended first."""
    second = "r4" if first_unlocked == "r3" else "r3"
    return f"""C srcu-{first_unlocked}
{{}}
P0(int *x, int *y, struct srcu_struct *s)
{{
	int r1; int r2; int r3; int r4;
	r3 = srcu_read_lock(s);
	r2 = READ_ONCE(*y);
	r4 = srcu_read_lock(s);
	srcu_read_unlock(s, {first_unlocked});
	r1 = READ_ONCE(*x);
	srcu_read_unlock(s, {second});
}}
P1(int *x, int *y, struct srcu_struct *s)
{{
	WRITE_ONCE(*y, 1);
	synchronize_srcu(s);
	WRITE_ONCE(*x, 1);
}}
exists (0:r1=1 /\\ 0:r2=0)
"""


@pytest.mark.parametrize("model", ["sc", "lkmm"])
def test_srcu_sections_end_where_their_index_goes_not_last_in_first_out(model: str) -> None:
    """Each srcu_read_unlock() ends the section whose index it is given.  Ending
    r3's section first leaves no section holding both reads, so the grace
    period may fall between them: Sometimes (herd7 7.58+1: Sometimes 1 3).
    Ending r4's first (nested) keeps both reads in r3's section: Never."""
    for first, expected in (("r3", ("Sometimes", 1, 3)), ("r4", ("Never", 0, 3))):
        result = explore(lower(parse_text(_srcu_test(first))).program, model)
        assert result.outcome is Outcome.COMPLETE
        assert (result.observation, result.positive, result.negative) == expected, first
