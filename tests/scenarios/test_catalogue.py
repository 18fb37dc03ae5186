"""Every scenario of the built-in catalogue gives its expected verdict, and
under sc the explorer's final states equal a brute-force interleaving of the
same kernel paths."""

from __future__ import annotations

import pytest

from pinlab.engine.explore import Limits
from pinlab.scenarios import Scenario, Verdict, catalogue, select
from tests.engine.brute import brute_force_program, explorer_finals

CATALOGUE = catalogue()

# Scenarios whose full exploration does not finish yet: run with a time limit,
# so the strict xfail turns into a failure once the engine decides them.  A
# witness, though, is a finding, and fails the test outright (pytest.fail is
# not an AssertionError).
TOO_SLOW = {s.key: s.undecided for s in CATALOGUE if s.undecided}
TOO_SLOW_LIMIT = 30.0  # seconds


def _param(scenario: Scenario) -> object:
    reason = TOO_SLOW.get(scenario.key)
    marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)]
    if scenario.named_only:  # minutes: bench/lkmm.py --named runs it
        marks = [pytest.mark.skip(reason=f"named only: {scenario.named_only}")]
        return pytest.param(scenario, id=scenario.key, marks=marks)
    return pytest.param(scenario, id=scenario.key, marks=marks if reason else [])


@pytest.mark.slow
@pytest.mark.parametrize("scenario", [_param(s) for s in CATALOGUE])
def test_scenario_verdict(scenario: Scenario) -> None:
    slow = scenario.key in TOO_SLOW
    limits = Limits(stop_at_witness=True, time_limit=TOO_SLOW_LIMIT if slow else None)
    result = scenario.run(limits)
    if slow and result.verdict is Verdict.REACHABLE and not result.as_expected:
        pytest.fail(f"{scenario.key}: a witness where never was expected (a finding)")
    assert result.as_expected, (result.verdict, result.exploration.stats)


def _norm(states: set[object]) -> set[object]:
    # A location the explorer read but nobody wrote shows up as 0 on one side only.
    return {(tuple(m for m in mem if m[1] != "0"), regs) for mem, regs in states}  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        ("fork-vs-pin-fast", "v5.9"),
        ("fork-vs-pin-fast", "v5.11"),
        ("gup-fast-vs-try-share-anon", "v5.19"),
        ("gup-fast-vs-try-share-anon", "v6.1-swap"),
    ],
)
def test_sc_final_states_match_brute_force(name: str, variant: str) -> None:
    scenario = select([name], variant)[0]
    program = scenario.program().program
    assert _norm(explorer_finals(program, "sc")) == _norm(brute_force_program(program))


def test_every_spec_pattern_runs_on_the_model() -> None:
    """Spec 6's litmus patterns L1-L12 each have a scenario (issue: each on the model's code)."""
    covered = {p for s in CATALOGUE for p in s.patterns}
    assert covered == {f"L{i}" for i in range(1, 13)}


def test_scenario_keys_are_unique() -> None:
    keys = [s.key for s in CATALOGUE]
    assert len(keys) == len(set(keys))
