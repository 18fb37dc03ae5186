"""``pinlab selftest``: ports of tools/testing/selftests/mm, kselftest's TAP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer

from pinlab import interrupt
from pinlab.cli.app import app
from pinlab.cli.common import _console, _fail, _progress

selftest_app = typer.Typer(help="Run ports of the mm selftests on the kernel model.")
app.add_typer(selftest_app, name="selftest")


@selftest_app.callback(invoke_without_command=True)
def _selftest(
    ctx: typer.Context,
    list_eras: bool = typer.Option(False, "--list-eras", help="List the eras and their commits."),
) -> None:
    """Run ports of tools/testing/selftests/mm on the kernel model."""
    from pinlab.selftests import cli_selftest

    if ctx.invoked_subcommand:
        interrupt.status.command = f"selftest {ctx.invoked_subcommand}"
    if list_eras:
        typer.echo(cli_selftest.list_eras())
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


@contextmanager
def _runs_shown(run: str, total: int, name: Callable[..., str]) -> Iterator[None]:
    """On a terminal, a transient progress line while the runs go: how many of
    ``total`` are done, and ``name(args)`` of the one under way.  The runs are
    ``cli_selftest``'s calls of its function ``run`` (``run_cow``), counted by
    wrapping it for the while.  Not on a terminal: nothing (TAP is a contract)."""
    from pinlab.selftests import cli_selftest

    console = _console()
    with _progress(console, total, console.is_terminal) as progress:
        if progress is None:
            yield
            return
        task = progress.add_task("", total=total, executions="")
        original = getattr(cli_selftest, run)

        def counted(*args: Any, **kwargs: Any) -> Any:
            progress.update(task, description=name(*args))
            progress.refresh()  # (a run may take less than a refresh period)
            try:
                return original(*args, **kwargs)
            finally:
                progress.advance(task)

        setattr(cli_selftest, run, counted)
        try:
            yield
        finally:
            setattr(cli_selftest, run, original)


@selftest_app.command("cow")
def _selftest_cow(
    era: str = typer.Option("current", "--era", help="An era name (see --list-eras) or 'all'."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per test."),
) -> None:
    """cow.c: COW, unshare and pinning of anonymous and non-anonymous memory.

    One era: kselftest's TAP and its exit status.

    --era all: every era, then a summary against history (exit 0 if each result is its era's).
    """
    from pinlab.selftests import cli_selftest

    try:
        total = len(cli_selftest.resolve_eras(era))
        with _runs_shown("run_cow", total, lambda e, *_: f"cow.c on {e.name}"):
            text, code = cli_selftest.cow(era, as_json)
    except KeyError:
        raise _fail(
            "selftest cow", f"unknown era {era!r}; see pinlab selftest --list-eras"
        ) from None
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
    """gup_longterm.c: longterm pins in shared and private file mappings.

    One era: kselftest's TAP and its exit status.

    --era all: every era, then a summary against history (exit 0 if each result is its era's).
    """
    from pinlab.selftests import cli_selftest

    try:
        runs = len(cli_selftest.resolve_eras(era)) * len(cli_selftest.resolve_filesystems(fs))
        with _runs_shown(
            "run_gup_longterm", runs, lambda e, f, *_: f"gup_longterm.c on {e.name}, {f}"
        ):
            text, code = cli_selftest.gup_longterm(era, fs, as_json)
    except KeyError as e:
        what = "filesystem" if fs != "all" and e.args[0] == fs else "era"
        raise _fail(
            "selftest gup_longterm", f"unknown {what} {e.args[0]!r}; see pinlab selftest --help"
        ) from None
    typer.echo(text)
    raise typer.Exit(code)
