"""The command line: the only module that prints, reads the environment or sets exit codes."""

from __future__ import annotations

import typer

from pinlab import __version__
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


def main() -> None:
    app()
