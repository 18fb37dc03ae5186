"""Scenarios: a race from linux-mm history, as data the explorer can run.

A :class:`Scenario` names its source (a commit or a lore thread), builds its
setup sequentially (the process API of :mod:`pinlab.kernel.process`) and its
threads from kernel paths of :mod:`pinlab.kernel` (never re-written copies),
fixes its era and memory model, and says which outcome is forbidden -- a
predicate over the final state, or a named invariant -- and whether that
outcome is expected ``never`` (the fixed design) or ``reachable`` (the race).

Running a scenario explores every execution of its threads; the verdict is
``reachable`` when some consistent execution shows the forbidden outcome,
``never`` when none does and the exploration was complete, and
``inconclusive`` when a bound stopped it first.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pinlab.engine import (
    Condition,
    CondKind,
    Execution,
    ExplorationResult,
    FinalState,
    Limits,
    Outcome,
    Program,
    decide,
    get_model,
    witness_choices,
)
from pinlab.kernel.eras import Era

__all__ = [
    "Built",
    "Expect",
    "Family",
    "Scenario",
    "ScenarioResult",
    "Verdict",
]


class Expect(enum.StrEnum):
    NEVER = "never"
    REACHABLE = "reachable"


class Verdict(enum.StrEnum):
    NEVER = "never"
    REACHABLE = "reachable"
    INCONCLUSIVE = "inconclusive"


# A check on a final state: a description of the forbidden outcome when it
# happened, None otherwise.
Bad = Callable[[FinalState], str | None]


@dataclass(frozen=True)
class Built:
    """A scenario made concrete: the program to explore and its forbidden outcome."""

    program: Program
    bad: Bad
    describe_state: Callable[[FinalState], list[str]] = field(default=lambda s: [])


@dataclass(frozen=True)
class Scenario:
    name: str  # the catalogue id, e.g. "fork-vs-pin-fast"
    variant: str  # what distinguishes this instance: an era, a barrier removed, ...
    title: str
    source: str  # commit id or lore thread
    era: Era
    model: str  # "sc" or "lkmm"
    expected: Expect
    forbidden: str  # the forbidden outcome, in words (or an invariant id)
    build: Callable[[Era], Built] = field(repr=False)
    notes: str = ""
    # The litmus patterns of spec 6 (``"L1"`` ... ``"L12"``) this scenario
    # runs on the model's own code.
    patterns: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.name}[{self.variant}]@{self.model}"

    def under(self, model: str, expected: Expect | None = None) -> Scenario:
        """The same scenario under ``model`` (and ``expected``, if it differs)."""
        return dataclasses.replace(
            self, model=model, expected=self.expected if expected is None else expected
        )

    def program(self) -> Built:
        built = self.build(self.era)
        bad = built.bad

        def predicate(state: FinalState) -> bool:
            return bad(state) is not None

        cond = Condition(CondKind.EXISTS, predicate, text=self.forbidden)
        program = Program(
            built.program.name,
            built.program.threads,
            init=built.program.init,
            condition=cond,
            thread_names=built.program.thread_names,
            max_events_per_thread=built.program.max_events_per_thread,
            may_write=built.program.may_write,
            ctrl_persists=True,
        )
        return Built(program, bad, built.describe_state)

    def run(self, limits: Limits | None = None, engine: str = "auto") -> ScenarioResult:
        """Decide the scenario (see :func:`pinlab.engine.decide.decide`).

        With ``limits.stop_at_witness`` a reachable verdict comes from the first
        forbidden execution found (``executions`` counts up to it).  A witness
        found by a procedure other than the waiting explorer is found again by
        that explorer (:func:`~pinlab.engine.witness_choices`), so every
        reachable verdict carries a choice list the explorer's own model check
        accepted.
        """
        built = self.program()
        first: list[Execution] = []

        def keep(ex: Execution) -> None:
            if not first and built.program.condition.satisfied_by(ex.final):
                first.append(ex)

        start = time.perf_counter()
        result = decide(built.program, self.model, engine=engine, limits=limits, on_execution=keep)
        witness: tuple[int, ...] | None = None
        if first:
            witness = first[0].choices
            if result.witness is None:  # (another procedure than the explorer found it)
                model = get_model(self.model)
                witness = witness_choices(built.program, model, first[0].graph).choices
        seconds = time.perf_counter() - start
        if result.positive:
            verdict = Verdict.REACHABLE
        elif result.outcome is Outcome.COMPLETE:
            verdict = Verdict.NEVER
        else:
            verdict = Verdict.INCONCLUSIVE
        return ScenarioResult(self, verdict, result, seconds, engine, witness)


@dataclass(frozen=True, slots=True)
class Family:
    """What a scenario's variants share: the catalogue id, title, source,
    forbidden outcome and litmus patterns.

    A scenario module declares its family once and makes each variant with
    :meth:`scenario`, which adds what distinguishes it (era, model, expected
    verdict, build).  A variant whose title or forbidden outcome differs from
    the family's passes its own.
    """

    name: str
    title: str
    source: str
    forbidden: str
    patterns: tuple[str, ...] = ()

    def scenario(
        self,
        variant: str,
        era: Era,
        model: str,
        expected: Expect,
        build: Callable[[Era], Built],
        notes: str = "",
        *,
        title: str | None = None,
        forbidden: str | None = None,
    ) -> Scenario:
        return Scenario(
            name=self.name,
            variant=variant,
            title=self.title if title is None else title,
            source=self.source,
            era=era,
            model=model,
            expected=expected,
            forbidden=self.forbidden if forbidden is None else forbidden,
            build=build,
            notes=notes,
            patterns=self.patterns,
        )


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    verdict: Verdict
    exploration: ExplorationResult
    seconds: float
    engine: str = "auto"
    witness: tuple[int, ...] | None = None  # the explorer's choices of a forbidden execution

    @property
    def as_expected(self) -> bool:
        return self.verdict.value == self.scenario.expected.value

    @property
    def executions(self) -> int:
        return self.exploration.stats.consistent
