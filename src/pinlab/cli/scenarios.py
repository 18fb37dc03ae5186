"""``pinlab check``, ``explain``, ``replay`` and ``barriers``: the scenarios."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pinlab import interrupt
from pinlab.cli.app import app
from pinlab.cli.common import (
    CatOpt,
    EngineOpt,
    EraOpt,
    JobsOpt,
    ModelOpt,
    RayOpt,
    TimeOpt,
    WidthOpt,
    _cat_model,
    _check_engine,
    _check_options,
    _check_time_limit,
    _check_width,
    _check_writable,
    _console,
    _count_executions,
    _fail,
    _progress,
    _scenario_pool,
    _workers,
)
from pinlab.engine import Limits, ReplayError
from pinlab.engine.models import BUILT_IN

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from pinlab.parallel import OnProgress
    from pinlab.report.trace import Layout
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
SvgOpt = Annotated[
    Path | None,
    typer.Option("--svg", help="Draw the execution graph as SVG here (needs Graphviz's dot)."),
]
HtmlOpt = Annotated[
    Path | None,
    typer.Option(
        "--html",
        help="Write a self-contained HTML page here: each counterexample's per-CPU trace, "
        "execution graph and memory after each step.",
    ),
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


def _results(
    scenarios: list[Scenario],
    limits: Limits,
    engine: str,
    cache: bool,
    jobs: int,
    on_progress: OnProgress | None = None,
) -> Iterator[tuple[Scenario, ScenarioResult]]:
    """Each scenario's result, in order: from the results cache when it holds it,
    else run by ``jobs`` worker processes side by side, each exploration split
    between them (:func:`pinlab.scenarios.run_many`); a scenario file's error:
    exit 2 with its ``file:line: what`` message.  ``on_progress`` is told the
    executions explored so far."""
    from pinlab.scenarios import cache as results
    from pinlab.scenarios import run_many
    from pinlab.scenarios.files import ScenarioFileError

    stored = [results.load(s, engine, limits) if cache else None for s in scenarios]
    ran = run_many([s for s, hit in zip(scenarios, stored, strict=True) if hit is None],
                   limits, engine, jobs, on_progress)  # fmt: skip
    for scenario, hit in zip(scenarios, stored, strict=True):
        if hit is not None:
            yield scenario, hit
            continue
        try:
            result = next(ran)
        except ScenarioFileError as err:
            raise _fail(interrupt.status.command or "check", str(err)) from None
        if cache:
            results.store(result, limits)
        yield scenario, result


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
    html: HtmlOpt = None,
    width: WidthOpt = None,
    jobs: JobsOpt = None,
    ray: RayOpt = None,
    cat: CatOpt = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="MODEL",
            help="With --cat: run the scenarios (and the --litmus tests) under MODEL and "
            "under the cat file's model, and list every verdict that changes, with the "
            "witness of each new reachable (exit 1 if any changes).",
        ),
    ] = None,
    litmus: Annotated[
        list[Path] | None,
        typer.Option(
            "--litmus",
            metavar="PATH",
            help="With --against: litmus tests (files, or folders of them) to compare too.",
        ),
    ] = None,
) -> None:
    """Run scenarios and compare each verdict with its expectation (exit 1 if one differs).
    With --jobs N, N worker processes run the scenarios side by side, or split the
    exploration of a single one; with --ray, the workers run on a Ray cluster.
    With --cat, the scenarios checked under the LKMM run under the cat file's model."""
    from pinlab.report import check as check_report
    from pinlab.scenarios.barriers import each_barrier as necessity

    _check_time_limit("check", time_limit)
    _check_engine("check", engine)
    _check_writable("check", html)
    _check_width("check", width)
    if cat is None and (against is not None or litmus):
        raise _fail("check", "--against and --litmus compare with a model of --cat FILE")
    if against is not None and against not in BUILT_IN:
        raise _fail("check", f"--against takes {' or '.join(sorted(BUILT_IN))}, not {against!r}")
    new = _cat_model("check", cat, model) if cat is not None else None
    scenarios = _chosen("check", names, era, "lkmm" if new else model, without, with_)
    console = _console(width)
    if new is not None and against is not None:
        from pinlab.cli.models import model_diff

        limits = Limits(time_limit=time_limit, stop_at_witness=True)
        with _workers("check", jobs, ray) as workers:
            code = model_diff(console, scenarios, against, new, litmus or [], limits, engine,
                              workers)  # fmt: skip
        raise typer.Exit(code)
    if new is not None:  # (a model read from files: nothing cached is about it)
        scenarios, no_cache = [s.under(new) for s in scenarios], True
    if list_only:
        console.print(check_report.render_list(scenarios, console.width), crop=False)
        raise typer.Exit(0)
    # A reachable verdict needs one forbidden execution, not all of them.
    limits = Limits(time_limit=time_limit, stop_at_witness=True)
    results: list[ScenarioResult] = []
    began = time.perf_counter()
    with (
        _workers("check", jobs, ray) as workers,
        _progress(console, len(scenarios), console.is_terminal and not as_json) as progress,
    ):
        task = progress.add_task("", total=len(scenarios), executions="") if progress else None
        counted = _count_executions(progress, task)
        interrupt.status.progress = f"after 0 of {len(scenarios)} scenarios"
        for scenario, result in _results(scenarios, limits, engine, not no_cache, workers, counted):
            if progress is not None and task is not None:
                progress.update(task, description=scenario.key)
            results.append(result)
            interrupt.status.progress = f"after {len(results)} of {len(scenarios)} scenarios"
            if as_json:
                typer.echo(check_report.render_json([result]), nl=False)
            if progress is not None and task is not None:
                progress.advance(task)
    if not as_json:
        wall = time.perf_counter() - began if workers > 1 and len(scenarios) > 1 else None
        console.print(check_report.render_table(results, console.width, wall), crop=False)
    for line in check_report.differences(results):
        typer.echo(line, err=True)
    if html is not None:
        from pinlab.report.html import check_counterexamples, check_page

        interrupt.status.progress = "replaying the counterexamples of the --html page"
        found = check_counterexamples(results)
        page = check_page(results, found, check_report.summary(results))
        _write_text("check", html, lambda: page)
    if each_barrier:
        for scenario in scenarios:
            interrupt.status.progress = f"in the barrier table of {scenario.key}"
            rows = necessity(scenario, limits, engine)
            table = check_report.render_barrier_table(scenario, rows, console.width)
            console.print(table, crop=False)
    raise typer.Exit(0 if all(r.as_expected for r in results) else 1)


@app.command("barriers")
def _barriers(
    names: NamesArg = None,
    era: EraOpt = None,
    model: ModelOpt = None,
    width: WidthOpt = None,
) -> None:
    """List the named barriers each scenario's paths run: the kernel function and line,
    and the barrier each pairs with (what --without and --with take)."""
    from pinlab.report import check as check_report
    from pinlab.scenarios.barriers import barriers_of
    from pinlab.scenarios.files import ScenarioFileError

    if not names:
        raise _fail("barriers", "name a scenario (or a scenario file); see pinlab check --list")
    _check_width("barriers", width)
    scenarios = _chosen("barriers", names, era, model)
    seen: set[tuple[str, str]] = set()
    console = _console(width)
    for scenario in scenarios:
        if (scenario.name, scenario.variant) in seen:
            continue  # (the same paths under the other model)
        seen.add((scenario.name, scenario.variant))
        try:
            uses = barriers_of(scenario)
        except ScenarioFileError as err:
            raise _fail("barriers", str(err)) from None
        console.print(check_report.render_barriers(scenario, uses, console.width), crop=False)


def _write_text(command: str, path: Path | None, text: Callable[[], str]) -> None:
    """Write ``text()`` to ``path`` (when given): exit 2 with one line if that fails."""
    if path is None:
        return
    try:
        path.write_text(text(), encoding="utf-8")
    except OSError as err:
        raise _fail(command, f"cannot write {path}: {err.strerror or err}") from None


def _write_outputs(
    cex: Counterexample,
    dot: Path | None,
    save: Path | None,
    command: str = "explain",
    svg: Path | None = None,
) -> None:
    from pinlab.report.dot import GraphvizError, render_dot, render_svg_with_graphviz
    from pinlab.scenarios import replay as replay_file

    _write_text(command, dot, lambda: render_dot(cex))
    try:
        _write_text(command, svg, lambda: render_svg_with_graphviz(render_dot(cex)))
    except GraphvizError as err:
        raise _fail(command, f"Graphviz's dot could not draw {svg}: {err}") from None
    if save is not None:
        rf = replay_file.record(cex.scenario, cex.choices, cex.outcome)
        _write_text(command, save, lambda: replay_file.dumps(rf))


FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        help="The trace's layout: table (a column per CPU); text (a step after the other, "
        "plain text of 80 columns unless --width: to paste into a mail); auto: the table "
        "on a terminal wide enough for it, else text.",
    ),
]
FORMATS = ("auto", "table", "text")


def _trace_console(command: str, fmt: str, width: int | None) -> tuple[Console, Layout]:
    """The console the trace goes to, and its layout (before the table is known:
    auto's table on a terminal may still become text, :func:`_print_trace`)."""
    _check_width(command, width)
    if fmt not in FORMATS:
        raise _fail(command, f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    console = _console(width, plain=fmt == "text")
    text = fmt == "text" or (fmt == "auto" and not console.is_terminal)
    return console, "text" if text else "table"


def _print_trace(
    console: Console, layout: Layout, auto: bool, render: Callable[[Layout, int], RenderableType]
) -> None:
    """Print ``render(layout, width)``; auto's table that does not fit the terminal
    without folding a word: the text layout instead."""
    from pinlab.report.wrap import fits

    out = render(layout, console.width)
    if auto and layout == "table" and not fits(out, console.width):
        out = render("text", console.width)
    console.print(out, crop=False)


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
    svg: SvgOpt = None,
    html: HtmlOpt = None,
    fmt: FormatOpt = "auto",
    width: WidthOpt = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="The verdict and the trace as one JSON object (docs/cli.md)."),
    ] = False,
    jobs: JobsOpt = None,
    ray: RayOpt = None,
    cat: CatOpt = None,
) -> None:
    """Print the shortest counterexample of a scenario as a per-CPU trace in kernel terms
    (with --cat, under the cat file's model in place of the LKMM)."""
    from pinlab.report.dot import svg_unavailable
    from pinlab.report.html import explanation_page
    from pinlab.report.trace import explanation_record, render_explanation
    from pinlab.scenarios import Verdict
    from pinlab.scenarios.barriers import variant
    from pinlab.scenarios.explain import find_counterexample
    from pinlab.scenarios.files import ScenarioFileError
    from pinlab.scenarios.replay import select_one

    _check_time_limit("explain", time_limit)
    _check_engine("explain", engine)
    _check_writable("explain", dot, save, svg, html)
    console, layout = _trace_console("explain", fmt, width)
    if svg is not None and (why := svg_unavailable()):
        raise _fail("explain", why)
    new = _cat_model("explain", cat, model) if cat is not None else None
    model = "lkmm" if new is not None else model
    wanted, pool = _scenario_pool("explain", [name])
    _check_options("explain", era, model, pool)
    try:
        scenario = select_one(wanted[0] if len(wanted) == 1 else name, era, model, pool)
        scenario = variant(scenario, without or (), with_ or ())
        scenario = scenario.under(new) if new is not None else scenario
    except LookupError as err:
        raise _fail("explain", str(err.args[0])) from None
    try:
        with _workers("explain", jobs, ray) as workers:
            explanation = find_counterexample(
                scenario, Limits(time_limit=time_limit), engine, workers
            )
    except ScenarioFileError as err:
        raise _fail("explain", str(err)) from None
    if as_json:
        typer.echo(json.dumps(explanation_record(explanation), ensure_ascii=False))
    else:
        _print_trace(console, layout, fmt == "auto",
                     lambda how, w: render_explanation(explanation, how, w))  # fmt: skip
    _write_text("explain", html, lambda: explanation_page(explanation))
    if explanation.best is not None:
        _write_outputs(explanation.best, dot, save, svg=svg)
        raise typer.Exit(0)
    unwritten = [o for o, p in (("--dot", dot), ("--svg", svg), ("--save", save)) if p]
    if unwritten:
        typer.echo(f"pinlab explain: no counterexample, so no {' or '.join(unwritten)} file "
                   "written", err=True)  # fmt: skip
    raise typer.Exit(0 if explanation.verdict is Verdict.NEVER else 1)


@app.command("replay")
def _replay(
    file: Annotated[Path, typer.Argument(help="A replay file written by pinlab explain --save.")],
    dot: Annotated[
        Path | None, typer.Option("--dot", help="Write the execution graph (Graphviz) here.")
    ] = None,
    svg: SvgOpt = None,
    html: HtmlOpt = None,
    fmt: FormatOpt = "auto",
    width: WidthOpt = None,
) -> None:
    """Reproduce a saved counterexample exactly and print its trace."""
    from pinlab.report.dot import svg_unavailable
    from pinlab.report.html import trace_page
    from pinlab.report.trace import render_trace
    from pinlab.scenarios import replay as replay_file
    from pinlab.scenarios.explain import NotForbidden, replay_execution
    from pinlab.scenarios.files import ScenarioFileError
    from pinlab.scenarios.replay import ModelChanged, ReplayFileError

    _check_writable("replay", dot, svg, html)
    console, layout = _trace_console("replay", fmt, width)
    if svg is not None and (why := svg_unavailable()):
        raise _fail("replay", why)
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
    summary = f"replayed from {file}"
    _print_trace(console, layout, fmt == "auto",
                 lambda how, w: render_trace(cex, summary, how, w))  # fmt: skip
    _write_outputs(cex, dot, None, "replay", svg)
    _write_text("replay", html, lambda: trace_page(cex, f"replayed from {file}"))
