"""``pinlab export``: a scenario's race as a C litmus test (see pinlab.scenarios.export)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pinlab.cli.app import app
from pinlab.cli.common import (
    EraOpt,
    TimeOpt,
    _check_options,
    _check_time_limit,
    _check_writable,
    _fail,
    _scenario_pool,
)
from pinlab.engine import Limits


@app.command("export")
def _export(
    name: Annotated[
        str, typer.Argument(help="A scenario name (fork-vs-pin-fast) or file (./race.py).")
    ],
    era: EraOpt = None,
    model: Annotated[
        str, typer.Option("--model", help="The memory model whose race to export.")
    ] = "lkmm",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the test here, not to stdout.")
    ] = None,
    time_limit: TimeOpt = None,
) -> None:
    """Print a scenario's race as a C litmus test: each CPU's accesses of the weak cycle
    its counterexample takes (of an interleaving: its accesses to shared locations),
    with the barriers between them, and the values read as the exists clause.  A fixed
    variant gets the racy variant's path on its own code.
    Exit 1 when --time-limit stopped the search, 2 when there is nothing to export."""
    from pinlab.scenarios import catalogue
    from pinlab.scenarios.export import ExportError, Undecided, export
    from pinlab.scenarios.files import ScenarioFileError
    from pinlab.scenarios.replay import select_one

    _check_time_limit("export", time_limit)
    _check_writable("export", output)
    wanted, pool = _scenario_pool("export", [name])
    _check_options("export", era, model, pool)
    try:
        scenario = select_one(wanted[0] if len(wanted) == 1 else name, era, model, pool)
    except LookupError as err:
        raise _fail("export", str(err.args[0])) from None
    try:
        exported = export(
            scenario, catalogue() if pool is None else pool, Limits(time_limit=time_limit)
        )
    except (ExportError, ScenarioFileError) as err:  # (undecided: no verdict, exit 1)
        raise _fail("export", str(err), 1 if isinstance(err, Undecided) else 2) from None
    if output is None:
        typer.echo(exported.text, nl=False)
        return
    try:
        output.write_text(exported.text)
    except OSError as err:
        raise _fail("export", f"cannot write {output}: {err.strerror}") from None
