"""The command line: the only module that prints, reads the environment or sets exit codes."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pinlab import __version__
from pinlab.engine import Limits, ReplayError, get_model
from pinlab.litmus.run import SPEEDCHECK, LitmusRun, run_file
from pinlab.report.litmus_text import Tally, render_run

# The kernel model, the scenarios, the selftests and rich are imported by the
# commands that use them, so that `pinlab litmus` starts without them.
if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from pinlab.scenarios import ScenarioResult
    from pinlab.scenarios.explain import Counterexample

app = typer.Typer(
    name="pinlab",
    help="An executable model of Linux page pinning, checked under SC and the LKMM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pinlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """pinlab: is this outcome possible, on which interleaving, through which barriers."""


@app.command("litmus")
def _litmus(
    files: Annotated[list[Path], typer.Argument(help="C litmus tests (.litmus files).")],
    model: Annotated[str, typer.Option(help="Memory model: lkmm or sc.")] = "lkmm",
    judge: Annotated[bool, typer.Option(help="Judge Result: lines as judgelitmus.sh.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per test.")] = False,
    speedcheck: Annotated[
        str,
        typer.Option(
            help="As herd7's -speedcheck: false lists every final state; true counts only "
            "the executions that settle the condition; fast stops at the first of them."
        ),
    ] = "false",
    factor: Annotated[
        bool,
        typer.Option(
            help="Under lkmm, count the reads-from and coherence choices of observer "
            "locations (marked accesses that only feed the final state) in product form "
            "instead of one execution at a time; --no-factor enumerates them all."
        ),
    ] = True,
    time_limit: Annotated[
        float | None,
        typer.Option(help="Give up on a test after this many seconds (it then has no verdict)."),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            help="Run this many tests at once, in as many processes; the output keeps "
            "the order of the files.",
        ),
    ] = 1,
    engine: Annotated[
        str,
        typer.Option(
            help="Decision procedure: explore (the default: herd7's candidates one for one, "
            "and --factor), revisit, or auto (revisit, falling back to explore).",
        ),
    ] = "explore",
) -> None:
    """Run C litmus tests; print herd7's output for each (exit 1 on an error, a failure or
    a test stopped by --time-limit)."""
    try:
        engine_model = get_model(model)
    except ValueError as err:
        typer.echo(f"pinlab litmus: {err}", err=True)
        raise typer.Exit(2) from None
    if speedcheck not in SPEEDCHECK:
        typer.echo(f"pinlab litmus: --speedcheck must be one of {', '.join(SPEEDCHECK)}", err=True)
        raise typer.Exit(2)
    _check_time_limit("litmus", time_limit)
    if jobs < 1:
        typer.echo("pinlab litmus: --jobs must be at least 1", err=True)
        raise typer.Exit(2)
    _check_engine("litmus", engine)
    tally, errors = Tally(), 0
    runs = _litmus_runs(files, engine_model.name, time_limit, speedcheck, factor, jobs, engine)
    for path, run in zip(files, runs, strict=True):
        if run.error is not None:
            errors += 1
            typer.echo(str(run.error), err=True)
        elif run.verdict is not None and run.verdict.observation is None:
            errors += 1  # no verdict: the time limit stopped the run
            typer.echo(f"{path}: no verdict: stopped at the --time-limit of {time_limit} s",
                       err=True)  # fmt: skip
        elif run.verdict is not None and run.verdict.loop:
            typer.echo(f"Warning: {path}: loop unrolling limit reached, outcomes may be missing.",
                       err=True)  # fmt: skip
        typer.echo(render_run(run, judge=judge, as_json=as_json), nl=False)
        tally.add(run)
    if judge:
        typer.echo(tally.render(as_json=as_json), nl=False)
        raise typer.Exit(1 if tally.failed or errors else 0)
    raise typer.Exit(1 if errors else 0)


def _litmus_runs(
    files: list[Path],
    model: str,
    time_limit: float | None,
    speedcheck: str,
    factor: bool,
    jobs: int,
    engine: str = "explore",
) -> Iterator[LitmusRun]:
    """Each file's run, in the order of ``files``; ``jobs`` processes run them."""
    run = partial(
        run_file,
        model=model,
        time_limit=time_limit,
        speedcheck=speedcheck,
        factor=factor,
        engine=engine,
    )
    if jobs == 1 or len(files) < 2:
        yield from map(run, files)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(jobs, len(files))) as pool:
        yield from pool.map(run, files)


selftest_app = typer.Typer(help="Run ports of the mm selftests on the kernel model.")
app.add_typer(selftest_app, name="selftest")


@selftest_app.callback(invoke_without_command=True)
def _selftest(
    ctx: typer.Context,
    list_eras: bool = typer.Option(False, "--list-eras", help="List the eras and their commits."),
) -> None:
    """Run ports of tools/testing/selftests/mm on the kernel model."""
    from pinlab.selftests import cli_selftest

    if list_eras:
        typer.echo(cli_selftest.list_eras())
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


@selftest_app.command("cow")
def _selftest_cow(
    era: str = typer.Option("current", "--era", help="An era name (see --list-eras) or 'all'."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per test."),
) -> None:
    """cow.c: COW, unshare and pinning of anonymous and non-anonymous memory."""
    from pinlab.selftests import cli_selftest

    try:
        text, code = cli_selftest.cow(era, as_json)
    except KeyError:
        typer.echo(f"unknown era {era!r}; see pinlab selftest --list-eras", err=True)
        raise typer.Exit(2) from None
    typer.echo(text)
    raise typer.Exit(code)


@selftest_app.command("gup_longterm")
def _selftest_gup_longterm(
    era: str = typer.Option("current", "--era", help="An era name (see --list-eras) or 'all'."),
    fs: str = typer.Option(
        "all", "--fs", help="Filesystem of /tmp and the cwd: tmpfs, ext4, xfs, btrfs or 'all'."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per test."),
) -> None:
    """gup_longterm.c: longterm pins in shared and private file mappings."""
    from pinlab.selftests import cli_selftest

    try:
        text, code = cli_selftest.gup_longterm(era, fs, as_json)
    except KeyError as e:
        what = "filesystem" if fs != "all" and e.args[0] == fs else "era"
        typer.echo(f"unknown {what} {e.args[0]!r}; see pinlab selftest --help", err=True)
        raise typer.Exit(2) from None
    typer.echo(text)
    raise typer.Exit(code)


# -- scenarios: check, explain, replay ------------------------------------------------
EraOpt = Annotated[
    str | None, typer.Option("--era", help="An era (v5.9, current, ...) or a variant name.")
]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Memory model: sc or lkmm.")]
TimeOpt = Annotated[
    float | None,
    typer.Option("--time-limit", help="Stop each exploration after S seconds."),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Decision procedure: auto (revisit, falling back to explore where it cannot "
        "vouch for completeness), revisit, or explore (the waiting explorer).",
    ),
]


def _check_engine(command: str, engine: str) -> None:
    from pinlab.engine import ENGINES

    if engine not in ENGINES:
        raise _fail(command, f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")


def _fail(command: str, message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"pinlab {command}: {message}", err=True)
    return typer.Exit(code)


def _check_time_limit(command: str, seconds: float | None) -> None:
    """Every command refuses the same nonsense limits (0, negative, nan, inf): exit 2."""
    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        raise _fail(command, f"--time-limit must be a positive number of seconds, not {seconds}")


def _check_options(command: str, era: str | None, model: str | None) -> None:
    """Unknown model or era names: exit 2 with one line, before any work."""
    from pinlab.kernel.eras import ERAS
    from pinlab.scenarios import catalogue

    if model is not None:
        try:
            get_model(model)
        except ValueError as err:
            raise _fail(command, str(err)) from None
    if era is not None:
        known = {e.name for e in ERAS} | {s.variant for s in catalogue()}
        if era not in known:
            eras = ", ".join(e.name for e in ERAS)
            raise _fail(command, f"unknown era or variant {era!r} (eras: {eras})")


def _console() -> Console:
    """Rich output: the terminal's width on a terminal, 120 columns into a pipe or file."""
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=120)
    return console


@contextmanager
def _progress(console: Console, total: int, enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        yield progress


@app.command("check")
def _check(
    names: Annotated[
        list[str] | None, typer.Argument(help="Scenario names (all when none is given).")
    ] = None,
    era: EraOpt = None,
    model: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per line.")] = False,
    time_limit: TimeOpt = None,
    list_only: Annotated[
        bool, typer.Option("--list", help="List the scenarios (and their patterns); run none.")
    ] = False,
    engine: EngineOpt = "auto",
) -> None:
    """Run scenarios and compare each verdict with its expectation (exit 1 if one differs)."""
    from pinlab.report import check as check_report
    from pinlab.scenarios import select

    _check_options("check", era, model)
    _check_time_limit("check", time_limit)
    _check_engine("check", engine)
    try:
        scenarios = select(names or (), era, model)
    except LookupError as err:
        raise _fail("check", str(err.args[0])) from None
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
            if progress is not None and task is not None:
                progress.update(task, description=scenario.key)
            result = scenario.run(limits, engine)
            results.append(result)
            if as_json:
                typer.echo(check_report.render_json([result]), nl=False)
            if progress is not None and task is not None:
                progress.advance(task)
    if not as_json:
        console.print(check_report.render_table(results))
    for line in check_report.differences(results):
        typer.echo(line, err=True)
    raise typer.Exit(0 if all(r.as_expected for r in results) else 1)


def _write_outputs(cex: Counterexample, dot: Path | None, save: Path | None) -> None:
    from pinlab.report.dot import render_dot
    from pinlab.scenarios import replay as replay_file

    try:
        if dot is not None:
            dot.write_text(render_dot(cex))
        if save is not None:
            rf = replay_file.record(cex.scenario, cex.choices, cex.outcome)
            save.write_text(replay_file.dumps(rf))
    except OSError as err:
        raise _fail("explain", f"cannot write {err.filename}: {err.strerror}") from None


@app.command("explain")
def _explain(
    name: Annotated[str, typer.Argument(help="A scenario name, e.g. fork-vs-pin-fast.")],
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
) -> None:
    """Print the shortest counterexample of a scenario as a per-CPU trace in kernel terms."""
    from pinlab.report.trace import render_explanation
    from pinlab.scenarios import Verdict
    from pinlab.scenarios.explain import find_counterexample
    from pinlab.scenarios.replay import select_one

    _check_options("explain", era, model)
    _check_time_limit("explain", time_limit)
    _check_engine("explain", engine)
    try:
        scenario = select_one(name, era, model)
    except LookupError as err:
        raise _fail("explain", str(err.args[0])) from None
    explanation = find_counterexample(scenario, Limits(time_limit=time_limit), engine)
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
    from pinlab.scenarios.replay import ModelChanged, ReplayFileError

    try:
        saved = replay_file.load(file)
        scenario = replay_file.resolve(saved)
        cex = replay_execution(scenario, saved.choices)
    except (ReplayFileError, ModelChanged, LookupError) as err:
        raise _fail(
            "replay", f"{file}: {err.args[0]}" if not isinstance(err, ReplayFileError) else str(err)
        ) from None
    except (ReplayError, NotForbidden) as err:
        raise _fail("replay", f"{file}: cannot reproduce the saved execution: {err}") from None
    _console().print(render_trace(cex, f"replayed from {file}"))
    if dot is not None:
        _write_outputs(cex, dot, None)


def main() -> None:
    app()
