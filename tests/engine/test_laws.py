"""Laws of the engine's relations and models, as properties over random programs.

Every consistent execution of a random program (atomics, fences, RCU) is
checked against what rf, co, fr and po are by definition, and the two
places that compute the communication relations (``Relations`` for the
models, ``ExecutionGraph.communications()`` for the reports) against each
other.  And sc is stronger than lkmm: each sc-consistent execution is
lkmm-consistent, so sc's final states are among lkmm's.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinlab.engine import decide, replay, witness_choices
from pinlab.engine import relation as r
from pinlab.engine.explore import Execution, Limits, explore
from pinlab.engine.graph import EvKind, ExecutionGraph
from pinlab.engine.models import get_model
from pinlab.engine.models.base import Relations
from tests.engine.minilang import as_program, programs

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# Loads twice as often as each other kind: more reads-from to check.
KINDS = ("st", "ld", "ld", "xchg", "cmpxchg", "fetch_add", "fence")


def _threads() -> st.SearchStrategy[list[list[tuple[Any, ...]]]]:
    return programs(KINDS)


def _graphs(threads: list[list[tuple[Any, ...]]], model: str) -> list[ExecutionGraph]:
    found: list[Execution] = []
    explore(as_program("laws", threads), model, on_execution=found.append, limits=Limits())
    return [ex.graph for ex in found]


def _pairs(rel: list[int]) -> set[tuple[int, int]]:
    return set(r.pairs(rel))


@SETTINGS
@given(threads=_threads())
def test_rf_is_a_function_from_reads_to_same_location_same_value_writes(
    threads: list[list[tuple[Any, ...]]],
) -> None:
    for g in _graphs(threads, "lkmm"):
        rel = Relations(g)
        sources = r.inverse(rel.rf)
        for e in g.events:
            if e.kind is EvKind.R:
                (w,) = r.bits(sources[e.eid])
                assert g.events[w].loc == e.loc and g.events[w].value == e.value


@SETTINGS
@given(threads=_threads())
def test_co_is_a_strict_total_order_of_each_locations_writes(
    threads: list[list[tuple[Any, ...]]],
) -> None:
    for g in _graphs(threads, "lkmm"):
        rel = Relations(g)
        co = rel.co
        assert r.irreflexive(co)
        assert r.empty(r.diff(r.compose(co, co), co))  # transitive
        writes = [e for e in g.events if e.kind in (EvKind.W, EvKind.INIT)]
        for a in writes:
            for b in writes:
                if a.eid < b.eid and a.loc == b.loc:
                    assert bool(co[a.eid] >> b.eid & 1) != bool(co[b.eid] >> a.eid & 1)
                elif a.loc != b.loc:
                    assert not co[a.eid] >> b.eid & 1


@SETTINGS
@given(threads=_threads())
def test_fr_is_rf_inverse_then_co_minus_identity(threads: list[list[tuple[Any, ...]]]) -> None:
    for g in _graphs(threads, "lkmm"):
        rel = Relations(g)
        want = r.diff(r.compose(r.inverse(rel.rf), rel.co), r.ident(rel.n))
        assert _pairs(rel.fr) == _pairs(want)


@SETTINGS
@given(threads=_threads())
def test_po_orders_each_thread_and_nothing_across(threads: list[list[tuple[Any, ...]]]) -> None:
    for g in _graphs(threads, "lkmm"):
        rel = Relations(g)
        for eids in g.threads:
            for i, a in enumerate(eids):
                for b in eids[i + 1 :]:
                    assert rel.po[a] >> b & 1 and not rel.po[b] >> a & 1
        tid = {e.eid: e.tid for e in g.events}
        assert all(tid[a] == tid[b] for a, b in r.pairs(rel.po) if tid[a] >= 0)


@SETTINGS
@given(threads=_threads())
def test_the_reports_communications_are_the_models(threads: list[list[tuple[Any, ...]]]) -> None:
    """``communications(transitive=True)`` is rf, co and fr as the models have them,
    but for the pair (read of an RMW, its own write), which ``rmw`` relates."""
    for g in _graphs(threads, "lkmm"):
        rel = Relations(g)
        got: dict[str, set[tuple[int, int]]] = {"rf": set(), "co": set(), "fr": set()}
        for name, a, b in g.communications(transitive=True):
            got[name].add((a, b))
        assert got["rf"] == _pairs(rel.rf)
        assert got["co"] == _pairs(rel.co)
        assert got["fr"] == _pairs(rel.fr) - _pairs(rel.rmw)


@SETTINGS
@given(threads=_threads())
def test_every_sc_execution_is_lkmm_consistent(threads: list[list[tuple[Any, ...]]]) -> None:
    lkmm = get_model("lkmm")
    for g in _graphs(threads, "sc"):
        assert lkmm.check(g).consistent


@SETTINGS
@given(threads=_threads())
def test_sc_final_states_are_among_lkmms(threads: list[list[tuple[Any, ...]]]) -> None:
    program = as_program("laws", threads)
    sc = explore(program, "sc")
    lkmm = explore(program, "lkmm")
    assert set(sc.states) <= set(lkmm.states)
    assert sc.stats.consistent <= lkmm.stats.consistent


def _final_key(ex: Execution) -> tuple[object, ...]:
    return (tuple(sorted(ex.final.memory.items(), key=str)), tuple(map(str, ex.final.regs)))


@SETTINGS
@given(threads=_threads(), model=st.sampled_from(["sc", "lkmm"]))
def test_every_execution_replays_from_its_choices(
    threads: list[list[tuple[Any, ...]]], model: str
) -> None:
    """A choice list is the whole state of an execution: replaying it gives it again."""
    program = as_program("laws", threads)
    found: list[Execution] = []
    explore(program, model, on_execution=found.append)
    for ex in found:
        again: list[Execution] = []
        replay(program, model, ex.choices, on_execution=again.append)
        assert [_final_key(x) for x in again] == [_final_key(ex)]


@SETTINGS
@given(threads=_threads())
def test_the_waiting_explorer_finds_each_revisit_execution(
    threads: list[list[tuple[Any, ...]]],
) -> None:
    """witness_choices() names, as a choice list, any execution the revisit
    procedure found; replaying the list gives that execution's final state."""
    program = as_program("laws", threads)
    found: list[Execution] = []
    decide(program, "lkmm", engine="revisit", on_execution=found.append)
    for ex in found[:5]:
        named = witness_choices(program, get_model("lkmm"), ex.graph)
        assert _final_key(named) == _final_key(ex)


@SETTINGS
@given(threads=_threads())
def test_sc_executions_have_no_cycle_of_po_and_communications(
    threads: list[list[tuple[Any, ...]]],
) -> None:
    for g in _graphs(threads, "sc"):
        rel = Relations(g)
        assert r.acyclic(r.union(rel.po, rel.rf, rel.co, rel.fr))
