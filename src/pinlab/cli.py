"""The command line: the only module that prints, reads the environment or sets exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pinlab import __version__
from pinlab.engine.models import get_model
from pinlab.litmus.run import run_file
from pinlab.report.litmus_text import Tally, render_run
from pinlab.selftests import cli_selftest

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
) -> None:
    """Run C litmus tests; print herd7's output for each (exit 1 on an error or a failure)."""
    try:
        engine_model = get_model(model)
    except ValueError as err:
        typer.echo(f"pinlab litmus: {err}", err=True)
        raise typer.Exit(2) from None
    tally, errors = Tally(), 0
    for path in files:
        run = run_file(path, engine_model)
        if run.error is not None:
            errors += 1
            typer.echo(str(run.error), err=True)
        elif run.verdict is not None and run.verdict.loop:
            typer.echo(f"Warning: {path}: loop unrolling limit reached, outcomes may be missing.",
                       err=True)  # fmt: skip
        typer.echo(render_run(run, judge=judge, as_json=as_json), nl=False)
        tally.add(run)
    if judge:
        typer.echo(tally.render(as_json=as_json), nl=False)
        raise typer.Exit(1 if tally.failed or errors else 0)
    raise typer.Exit(1 if errors else 0)


selftest_app = typer.Typer(help="Run ports of the mm selftests on the kernel model.")
app.add_typer(selftest_app, name="selftest")


@selftest_app.callback(invoke_without_command=True)
def _selftest(
    ctx: typer.Context,
    list_eras: bool = typer.Option(False, "--list-eras", help="List the eras and their commits."),
) -> None:
    """Run ports of tools/testing/selftests/mm on the kernel model."""
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
    try:
        text, code = cli_selftest.gup_longterm(era, fs, as_json)
    except KeyError as e:
        what = "filesystem" if fs != "all" and e.args[0] == fs else "era"
        typer.echo(f"unknown {what} {e.args[0]!r}; see pinlab selftest --help", err=True)
        raise typer.Exit(2) from None
    typer.echo(text)
    raise typer.Exit(code)


def main() -> None:
    app()
