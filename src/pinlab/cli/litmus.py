"""``pinlab litmus``: C litmus tests, herd7's output."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from pinlab import interrupt
from pinlab.cli.app import app
from pinlab.cli.common import (
    CatOpt,
    RayOpt,
    _cat_model,
    _check_engine,
    _check_time_limit,
    _check_writable,
    _console,
    _fail,
    _shown,
    _workers,
)
from pinlab.engine import get_model
from pinlab.litmus.errors import LitmusError
from pinlab.litmus.run import SPEEDCHECK, LitmusRun, run_file
from pinlab.parallel.onray import cluster
from pinlab.report.dot import svg_unavailable
from pinlab.report.litmus_text import Tally, render_run


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
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            help="Worker processes: this many tests at once (the output keeps the order of "
            "the files), or one test's exploration split between them (default: "
            "$PINLAB_JOBS, else the number of cores; 1 runs everything in this process).",
        ),
    ] = None,
    ray: RayOpt = None,
    cat: CatOpt = None,
    engine: Annotated[
        str,
        typer.Option(
            help="Decision procedure: explore (the default: herd7's candidates one for one, "
            "and --factor), revisit, or auto (revisit, falling back to explore).",
        ),
    ] = "explore",
    dot: Annotated[
        Path | None,
        typer.Option(
            "--dot",
            help="For one test: write the graph of one execution here (Graphviz): the first "
            "whose final state satisfies the exists (or ~exists) clause, for forall the first "
            "that does not; else the first execution.",
        ),
    ] = None,
    svg: Annotated[
        Path | None,
        typer.Option("--svg", help="For one test: that graph as SVG (needs Graphviz's dot)."),
    ] = None,
) -> None:
    """Run C litmus tests; print herd7's output for each (exit 1 on an error, a failure or
    a test stopped by --time-limit)."""
    if cat is not None:  # (in place of --model)
        model = _cat_model("litmus", cat)
    try:
        engine_model = get_model(model)
    except ValueError as err:
        typer.echo(f"pinlab litmus: {err}", err=True)
        raise typer.Exit(2) from None
    if speedcheck not in SPEEDCHECK:
        typer.echo(f"pinlab litmus: --speedcheck must be one of {', '.join(SPEEDCHECK)}", err=True)
        raise typer.Exit(2)
    _check_time_limit("litmus", time_limit)
    _check_engine("litmus", engine)
    if (dot is not None or svg is not None) and len(files) != 1:
        raise _fail("litmus", f"--dot and --svg draw one test, not {len(files)}")
    _check_writable("litmus", dot, svg)
    if svg is not None and (why := svg_unavailable()):
        raise _fail("litmus", why)
    tally, errors = Tally(), 0
    with _workers("litmus", jobs, ray) as workers:
        runs = _litmus_runs(
            files, engine_model.name, time_limit, speedcheck, factor, workers, engine
        )
        # on a terminal, a progress line while each test runs (never in piped output)
        shown = _shown(runs, [str(f) for f in files], _console())
        with closing(runs):  # an exception here ends the workers at once
            for done, (path, run) in enumerate(zip(files, shown, strict=True)):
                errors += _print_run(path, run, judge, as_json, time_limit)
                tally.add(run)
                interrupt.status.progress = f"after {done + 1} of {len(files)} files"
    if dot is not None or svg is not None:
        _write_graph(files[0], engine_model.name, engine, time_limit, dot, svg)
    if judge:
        typer.echo(tally.render(as_json=as_json), nl=False)
        raise typer.Exit(1 if tally.failed or errors else 0)
    raise typer.Exit(1 if errors else 0)


def _write_graph(
    path: Path, model: str, engine: str, time_limit: float | None, dot: Path | None,
    svg: Path | None,
) -> None:  # fmt: skip
    """``--dot`` and ``--svg``: one execution's graph (:func:`pick_litmus_execution`)."""
    from pinlab.report.dot import (
        GraphvizError,
        pick_litmus_execution,
        render_litmus_dot,
        render_svg_with_graphviz,
    )

    try:
        pick = pick_litmus_execution(path, model, engine, time_limit)
    except LitmusError:
        return  # (the run printed it)
    if pick is None:
        typer.echo(f"pinlab litmus: {path}: no execution to draw, so no graph written", err=True)
        return
    text = render_litmus_dot(pick)
    writing = dot
    try:
        if dot is not None:
            dot.write_text(text, encoding="utf-8")
        if svg is not None:
            writing = svg
            svg.write_text(render_svg_with_graphviz(text), encoding="utf-8")
    except OSError as err:
        raise _fail("litmus", f"cannot write {writing}: {err.strerror or err}") from None
    except GraphvizError as err:
        raise _fail("litmus", f"Graphviz's dot could not draw {svg}: {err}") from None


def _print_run(
    path: Path, run: LitmusRun, judge: bool, as_json: bool, time_limit: float | None
) -> int:
    """Print one test's output (and its error or warning): 1 for an error, else 0."""
    errors = 0
    if run.error is not None:
        errors = 1
        typer.echo(str(run.error), err=True)
    elif run.verdict is not None and run.verdict.observation is None:
        errors = 1  # no verdict: the time limit stopped the run
        typer.echo(f"{path}: no verdict: stopped at the --time-limit of {time_limit} s", err=True)
    elif run.verdict is not None and run.verdict.loop:
        typer.echo(f"Warning: {path}: loop unrolling limit reached, outcomes may be missing.",
                   err=True)  # fmt: skip
    typer.echo(render_run(run, judge=judge, as_json=as_json), nl=False)
    return errors


def _litmus_runs(
    files: list[Path],
    model: str,
    time_limit: float | None,
    speedcheck: str,
    factor: bool,
    jobs: int,
    engine: str = "explore",
) -> Generator[LitmusRun, None, None]:
    """Each file's run, in the order of ``files``; ``jobs`` processes run them
    (on a Ray cluster, one file after another, each split between ``jobs`` workers).

    Close the iterator to stop: its worker processes end at once.
    """
    interrupt.status.progress = f"after 0 of {len(files)} files"
    run = partial(
        run_file,
        model=model,
        time_limit=time_limit,
        speedcheck=speedcheck,
        factor=factor,
        engine=engine,
    )
    if jobs == 1 or len(files) < 2 or cluster() is not None:
        yield from map(partial(run, jobs=jobs), files)
        return

    def died(path: Path, how: str) -> LitmusRun:
        error = LitmusError(str(path), 0, 0, f"the worker process running it was {how}")
        return LitmusRun(str(path), model, None, error, None)

    yield from interrupt.ordered_map(run, files, jobs, died)
