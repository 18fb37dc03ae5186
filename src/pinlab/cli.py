"""The command line: the only module that prints, reads the environment or sets exit codes."""

from __future__ import annotations

import typer

from pinlab import __version__

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


def main() -> None:
    app()
