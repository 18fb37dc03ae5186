"""The ``pinlab`` Typer application and its root options; the commands register on it."""

from __future__ import annotations

import typer

from pinlab import __version__, interrupt

app = typer.Typer(
    name="pinlab",
    help="An executable model of Linux page pinning, checked under SC and the LKMM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    epilog="Exit status: as each command says; also 2 for bad arguments, 74 when standard "
    "output cannot be written, 130 after SIGINT, 143 after SIGTERM, 141 when the reader of "
    "a pipe goes away.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pinlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """pinlab: is this outcome possible, on which interleaving, through which barriers."""
    interrupt.status.command = ctx.invoked_subcommand or ""
