"""``pinlab check``, ``explain``, ``replay`` and ``barriers``: the scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pinlab import interrupt
from pinlab.cli.app import app
from pinlab.cli.common import (
    EngineOpt,
    EraOpt,
    ModelOpt,
    TimeOpt,
    _check_engine,
    _check_options,
    _check_time_limit,
    _check_writable,
    _console,
    _fail,
    _progress,
    _scenario_pool,
)
from pinlab.engine import Limits, ReplayError

if TYPE_CHECKING:
    from pinlab.scenarios import Scenario, ScenarioResult
    from pinlab.scenarios.explain import Counterexample


NamesArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Scenario names, or scenario files (./race.py: see docs/scenarios.md); "
        "all of the catalogue when none is given."
    ),
]
WithoutOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--without", help="Remove this named barrier (repeatable; see pinlab barriers NAME)."
    ),
]
WithOpt = Annotated[
    list[str] | None,
    typer.Option("--with", help="Add this what-if barrier (repeatable)."),
]


def _chosen(
    command: str,
    names: list[str] | None,
    era: str | None,
    model: str | None,
    without: list[str] | None = None,
    with_: list[str] | None = None,
) -> list[Scenario]:
    """The scenarios the command line names (files loaded), narrowed and varied."""
    from pinlab.scenarios import select
    from pinlab.scenarios.barriers import variant

    wanted, pool = _scenario_pool(command, names or ())
    _check_options(command, era, model, pool)
    try:
        scenarios = select(wanted, era, model, pool)
        return [variant(s, without or (), with_ or ()) for s in scenarios]
    except LookupError as err:
        raise _fail(command, str(err.args[0])) from None


def _run(scenario: Scenario, limits: Limits, engine: str, cache: bool) -> ScenarioResult:
    """``scenario``'s result, from the cache when it holds it; a scenario file's
    error: exit 2 with its ``file:line: what`` message."""
    from pinlab.scenarios import cache as results
    from pinlab.scenarios.files import ScenarioFileError

    if cache and (hit := results.load(scenario, engine, limits)) is not None:
        return hit
    try:
        result = scenario.run(limits, engine)
    except ScenarioFileError as err:
        raise _fail(interrupt.status.command or "check", str(err)) from None
    if cache:
        results.store(result, limits)
    return result


@app.command("check")
def _check(
    names: NamesArg = None,
    era: EraOpt = None,
    model: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per line.")] = False,
    time_limit: TimeOpt = None,
    list_only: Annotated[
        bool, typer.Option("--list", help="List the scenarios (and their patterns); run none.")
    ] = False,
    engine: EngineOpt = "auto",
    without: WithoutOpt = None,
    with_: WithOpt = None,
    each_barrier: Annotated[
        bool,
        typer.Option(
            "--each-barrier",
            help="Then run each scenario once without each barrier its paths run: "
            "which of them it needs.",
        ),
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every scenario; do not use stored verdicts.")
    ] = False,
) -> None:
    """Run scenarios and compare each verdict with its expectation (exit 1 if one differs)."""
    from pinlab.report import check as check_report
    from pinlab.scenarios.barriers import each_barrier as necessity

    _check_time_limit("check", time_limit)
    _check_engine("check", engine)
    scenarios = _chosen("check", names, era, model, without, with_)
    console = _console()
    if list_only:
        console.print(check_report.render_list(scenarios))
        raise typer.Exit(0)
    # A reachable verdict needs one forbidden execution, not all of them.
    limits = Limits(time_limit=time_limit, stop_at_witness=True)
    results: list[ScenarioResult] = []
    with _progress(console, len(scenarios), console.is_terminal and not as_json) as progress:
        task = progress.add_task("", total=len(scenarios)) if progress else None
        for scenario in scenarios:
            interrupt.status.progress = f"after {len(results)} of {len(scenarios)} scenarios"
            if progress is not None and task is not None:
                progress.update(task, description=scenario.key)
            result = _run(scenario, limits, engine, not no_cache)
            results.append(result)
            if as_json:
                typer.echo(check_report.render_json([result]), nl=False)
            if progress is not None and task is not None:
                progress.advance(task)
    if not as_json:
        console.print(check_report.render_table(results))
    for line in check_report.differences(results):
        typer.echo(line, err=True)
    if each_barrier:
        for scenario in scenarios:
            interrupt.status.progress = f"in the barrier table of {scenario.key}"
            rows = necessity(scenario, limits, engine)
            console.print(check_report.render_barrier_table(scenario, rows))
    raise typer.Exit(0 if all(r.as_expected for r in results) else 1)


@app.command("barriers")
def _barriers(
    names: NamesArg = None,
    era: EraOpt = None,
    model: ModelOpt = None,
) -> None:
    """List the named barriers each scenario's paths run: the kernel function and line,
    and the barrier each pairs with (what --without and --with take)."""
    from pinlab.report import check as check_report
    from pinlab.scenarios.barriers import barriers_of
    from pinlab.scenarios.files import ScenarioFileError

    if not names:
        raise _fail("barriers", "name a scenario (or a scenario file); see pinlab check --list")
    scenarios = _chosen("barriers", names, era, model)
    seen: set[tuple[str, str]] = set()
    console = _console()
    for scenario in scenarios:
        if (scenario.name, scenario.variant) in seen:
            continue  # (the same paths under the other model)
        seen.add((scenario.name, scenario.variant))
        try:
            uses = barriers_of(scenario)
        except ScenarioFileError as err:
            raise _fail("barriers", str(err)) from None
        console.print(check_report.render_barriers(scenario, uses))


def _write_outputs(
    cex: Counterexample, dot: Path | None, save: Path | None, command: str = "explain"
) -> None:
    from pinlab.report.dot import render_dot
    from pinlab.scenarios import replay as replay_file

    writing = dot
    try:
        if dot is not None:
            dot.write_text(render_dot(cex))
        if save is not None:
            writing = save
            rf = replay_file.record(cex.scenario, cex.choices, cex.outcome)
            save.write_text(replay_file.dumps(rf))
    except OSError as err:
        raise _fail(command, f"cannot write {writing}: {err.strerror or err}") from None


@app.command("explain")
def _explain(
    name: Annotated[
        str, typer.Argument(help="A scenario name (fork-vs-pin-fast) or file (./race.py).")
    ],
    era: EraOpt = None,
    model: ModelOpt = None,
    dot: Annotated[
        Path | None, typer.Option("--dot", help="Write the execution graph (Graphviz) here.")
    ] = None,
    save: Annotated[
        Path | None, typer.Option("--save", help="Write a replay file for pinlab replay here.")
    ] = None,
    time_limit: TimeOpt = None,
    engine: EngineOpt = "auto",
    without: WithoutOpt = None,
    with_: WithOpt = None,
) -> None:
    """Print the shortest counterexample of a scenario as a per-CPU trace in kernel terms."""
    from pinlab.report.trace import render_explanation
    from pinlab.scenarios import Verdict
    from pinlab.scenarios.barriers import variant
    from pinlab.scenarios.explain import find_counterexample
    from pinlab.scenarios.files import ScenarioFileError
    from pinlab.scenarios.replay import select_one

    _check_time_limit("explain", time_limit)
    _check_engine("explain", engine)
    _check_writable("explain", dot, save)
    wanted, pool = _scenario_pool("explain", [name])
    _check_options("explain", era, model, pool)
    try:
        scenario = select_one(wanted[0] if len(wanted) == 1 else name, era, model, pool)
        scenario = variant(scenario, without or (), with_ or ())
    except LookupError as err:
        raise _fail("explain", str(err.args[0])) from None
    try:
        explanation = find_counterexample(scenario, Limits(time_limit=time_limit), engine)
    except ScenarioFileError as err:
        raise _fail("explain", str(err)) from None
    _console().print(render_explanation(explanation))
    if explanation.best is not None:
        _write_outputs(explanation.best, dot, save)
        raise typer.Exit(0)
    if dot is not None or save is not None:
        typer.echo("pinlab explain: no counterexample, so no --dot or --save file written",
                   err=True)  # fmt: skip
    raise typer.Exit(0 if explanation.verdict is Verdict.NEVER else 1)


@app.command("replay")
def _replay(
    file: Annotated[Path, typer.Argument(help="A replay file written by pinlab explain --save.")],
    dot: Annotated[
        Path | None, typer.Option("--dot", help="Write the execution graph (Graphviz) here.")
    ] = None,
) -> None:
    """Reproduce a saved counterexample exactly and print its trace."""
    from pinlab.report.trace import render_trace
    from pinlab.scenarios import replay as replay_file
    from pinlab.scenarios.explain import NotForbidden, replay_execution
    from pinlab.scenarios.files import ScenarioFileError
    from pinlab.scenarios.replay import ModelChanged, ReplayFileError

    _check_writable("replay", dot)
    try:
        saved = replay_file.load(file)  # its errors name the file
    except ReplayFileError as err:
        raise _fail("replay", str(err)) from None
    try:
        scenario = replay_file.resolve(saved)
        cex = replay_execution(scenario, saved.choices)
        replay_file.check_replayed(saved, cex.choices, cex.outcome)
    except ScenarioFileError as err:
        raise _fail("replay", f"{file}: {err}") from None
    except (ReplayFileError, ModelChanged, LookupError) as err:
        raise _fail("replay", f"{file}: {err.args[0]}") from None
    except (ReplayError, NotForbidden) as err:
        raise _fail("replay", f"{file}: cannot reproduce the saved execution: {err}") from None
    _console().print(render_trace(cex, f"replayed from {file}"))
    if dot is not None:
        _write_outputs(cex, dot, None, "replay")
