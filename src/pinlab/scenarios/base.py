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
import functools
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pinlab.engine import (
    Condition,
    CondKind,
    Execution,
    ExplorationResult,
    FinalState,
    Limits,
    Outcome,
    Program,
    get_model,
    witness_choices,
)
from pinlab.kernel.eras import Era

if TYPE_CHECKING:
    from pinlab.parallel import OnProgress

__all__ = [
    "NEVER",
    "REACHABLE",
    "Built",
    "Expect",
    "Family",
    "Row",
    "Scenario",
    "ScenarioResult",
    "Verdict",
    "row",
]


class Expect(enum.StrEnum):
    NEVER = "never"
    REACHABLE = "reachable"


# For a family's table: ``row(..., sc=NEVER, lkmm=REACHABLE)``.
NEVER, REACHABLE = Expect.NEVER, Expect.REACHABLE


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
    # The litmus patterns (``"L1"`` ... ``"L12"``, docs/labels.md) this scenario
    # runs on the model's own code.
    patterns: tuple[str, ...] = ()
    # The scenario file it was loaded from ("": the built-in catalogue); its
    # errors are reported at their line in that file.
    origin: str = ""
    # A what-if of a declared variant (pinlab.scenarios.barriers.variant): that
    # variant's name, and the barriers removed from it and added to it.
    base: str = ""
    without: tuple[str, ...] = ()
    added: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.name}[{self.variant}]@{self.model}"

    @property
    def what_if(self) -> bool:
        """A barrier removed or added on the command line: a question, with no
        expected verdict of its own."""
        return bool(self.without or self.added)

    def under(self, model: str, expected: Expect | None = None) -> Scenario:
        """The same scenario under ``model`` (and ``expected``, if it differs)."""
        return dataclasses.replace(
            self, model=model, expected=self.expected if expected is None else expected
        )

    def program(self) -> Built:
        """The program to explore, with the forbidden outcome as its condition."""
        if not self.origin:
            return self._program()
        from pinlab.scenarios.files import user_error

        try:
            return self._program()
        except Exception as err:  # the user's setup code
            raise user_error(err, self.origin, f"while {self.key} built its setup") from None

    def _program(self) -> Built:
        built = self.build(self.era)
        if not isinstance(built, Built):
            raise TypeError(f"build() returned a {type(built).__name__}, not a Built")
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

    def run(
        self, limits: Limits | None = None, engine: str = "auto", jobs: int = 1
    ) -> ScenarioResult:
        """Decide the scenario (see :func:`pinlab.engine.decide.decide`), in
        ``jobs`` worker processes (:mod:`pinlab.parallel`).

        With ``limits.stop_at_witness`` a reachable verdict comes from the first
        forbidden execution found (``executions`` counts up to it).  A witness
        found by a procedure other than the waiting explorer is found again by
        that explorer (:func:`~pinlab.engine.witness_choices`), so every
        reachable verdict carries a choice list the explorer's own model check
        accepted.
        """
        return next(run_many([self], limits, engine, jobs))


def run_many(
    scenarios: list[Scenario],
    limits: Limits | None = None,
    engine: str = "auto",
    jobs: int = 1,
    on_progress: OnProgress | None = None,
) -> Iterator[ScenarioResult]:
    """Each scenario's result (:meth:`Scenario.run`), in order: ``jobs`` worker
    processes run them side by side and split each exploration, sharing the work
    of whatever is left (:func:`pinlab.parallel.decide_many`, which tells
    ``on_progress`` the executions explored so far)."""
    from pinlab import parallel

    built: dict[int, Built] = {}  # (each process builds what it explores)

    def task(i: int) -> parallel.Task:
        def build() -> Program:
            if i not in built:
                if len(built) >= 4:  # (the last few: a process keeping them all only slows)
                    del built[next(iter(built))]
                built[i] = scenarios[i].program()
            return built[i].program

        def hit(ex: Execution) -> bool:
            return build().condition.satisfied_by(ex.final)

        def finish(result: ExplorationResult, kept: Any) -> tuple[int, ...] | None:
            """The choice list of the first forbidden execution (found again by
            the waiting explorer when another procedure found it)."""
            if kept is None:
                return None
            if result.witness is not None:
                return tuple(kept[1].choices)
            model = get_model(scenarios[i].model)
            return witness_choices(build(), model, kept[1].graph).choices

        return parallel.Task(build, scenarios[i].model, engine, limits or Limits(),
                             parallel.first_of(hit), finish=finish)  # fmt: skip

    tasks = [task(i) for i in range(len(scenarios))]
    ran = parallel.decide_many(tasks, jobs, on_progress)
    for i, scenario in enumerate(scenarios):
        try:
            result, kept = next(ran)
        except parallel.PartError as err:
            if not scenarios[err.index].origin:
                raise err.error from None
            from pinlab.scenarios.files import ScenarioFileError, user_error

            if isinstance(err.error, ScenarioFileError):
                raise err.error from None
            where = f"while {scenarios[err.index].key} ran"
            raise user_error(err.error, scenarios[err.index].origin, where) from None
        start = time.perf_counter()
        stats = result.stats
        if scenario.origin and result.outcome is Outcome.BOUND and stats.cut_thread >= 0:
            if i not in built:
                built[i] = scenario.program()
            raise _endless(scenario, built[i].program, stats.cut_thread)
        witness: tuple[int, ...] | None = kept
        seconds = stats.seconds + time.perf_counter() - start
        if result.positive:
            verdict = Verdict.REACHABLE
        elif result.outcome is Outcome.COMPLETE:
            verdict = Verdict.NEVER
        else:
            verdict = Verdict.INCONCLUSIVE
        yield ScenarioResult(scenario, verdict, result, seconds, engine, witness)


MODELS: tuple[str, ...] = ("sc", "lkmm")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a family's table: a variant, its era, and what each model should say.

    ``expected`` maps a memory model to the verdict expected under it; a model
    left out is not run for this variant.  ``params`` are passed to the
    family's build function as keywords (``arch=X86``, ``pin=True``).
    """

    variant: str
    era: Era
    expected: tuple[tuple[str, Expect], ...]
    notes: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, Any], ...] = ()
    title: str | None = None
    forbidden: str | None = None


def row(
    variant: str,
    era: Era,
    *,
    sc: Expect | None = None,
    lkmm: Expect | None = None,
    notes: str | Mapping[str, str] = "",
    title: str | None = None,
    forbidden: str | None = None,
    **params: Any,
) -> Row:
    """A :class:`Row`: ``sc=`` and ``lkmm=`` give the expected verdicts, ``notes``
    one text for both models or a text per model, and the other keywords go to
    the family's build function."""
    expected = tuple((m, e) for m, e in (("sc", sc), ("lkmm", lkmm)) if e is not None)
    if not expected:
        raise ValueError(f"row {variant!r}: expected under no model (give sc= or lkmm=)")
    by_model = {m: notes for m, _ in expected} if isinstance(notes, str) else dict(notes)
    if unknown := set(by_model) - set(MODELS):
        raise ValueError(f"row {variant!r}: notes for unknown model(s) {sorted(unknown)}")
    return Row(
        variant,
        era,
        expected,
        tuple(sorted(by_model.items())),
        tuple(sorted(params.items())),
        title,
        forbidden,
    )


def _endless(scenario: Scenario, program: Program, tid: int) -> Exception:
    """The error for a scenario file's path that ran into the per-thread event bound."""
    from pinlab.scenarios.files import ScenarioFileError

    code = getattr(program.threads[tid], "__code__", None)
    line = code.co_firstlineno if code is not None else 0
    return ScenarioFileError(
        scenario.origin,
        line,
        f"path {program.thread_name(tid)} of {scenario.key} ran "
        f"{program.max_events_per_thread} operations without returning (an endless loop?)",
    )


@dataclass(frozen=True, slots=True)
class Family:
    """What a scenario's variants share: the catalogue id, title, source,
    forbidden outcome and litmus patterns.

    A scenario module declares its family once and its variants as a table,
    :meth:`variants` over :func:`row`: each row adds what distinguishes it
    (era, expected verdict per model, the build function's parameters).  A
    variant whose title or forbidden outcome differs from the family's says so
    in its row.
    """

    name: str
    title: str
    source: str
    forbidden: str
    patterns: tuple[str, ...] = ()

    def variants(self, build: Callable[..., Built], *rows: Row) -> tuple[Scenario, ...]:
        """One scenario per row and model, in the rows' order (sc before lkmm)."""
        out: list[Scenario] = []
        for r in rows:
            builder: Callable[[Era], Built] = functools.partial(build, **dict(r.params))
            notes = dict(r.notes)
            for model, expected in r.expected:
                out.append(
                    self.scenario(
                        r.variant,
                        r.era,
                        model,
                        expected,
                        builder,
                        notes.get(model, ""),
                        title=r.title,
                        forbidden=r.forbidden,
                    )
                )
        return tuple(out)

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
        """One scenario of this family (what :meth:`variants` makes of a row and model)."""
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
    cached: bool = False  # read from the results cache (pinlab.scenarios.cache), not run

    @property
    def as_expected(self) -> bool:
        """The verdict is the expected one (a what-if, which expects nothing: conclusive)."""
        if self.scenario.what_if:
            return self.verdict is not Verdict.INCONCLUSIVE
        return self.verdict.value == self.scenario.expected.value

    @property
    def executions(self) -> int:
        return self.exploration.stats.consistent
