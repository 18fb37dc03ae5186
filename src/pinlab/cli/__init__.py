"""The command line: the only module that prints, reads the environment or sets exit codes.

Every command ends the same way when it cannot go on (:func:`main`):

- SIGINT or SIGTERM: every worker process ends, one line
  ``pinlab <command>: interrupted (SIGINT) [after 3 of 10 files]`` on stderr,
  exit status 130 (SIGINT) or 143 (SIGTERM) -- :mod:`pinlab.interrupt`;
- standard output that cannot be written (``> /dev/full``, descriptor 1 closed):
  one line ``pinlab <command>: cannot write output: <why>``, exit status 74;
  a reader that went away (``| head -1``): no message, exit status 141 --
  :mod:`pinlab.report.output`.
"""

from __future__ import annotations

import sys
from contextlib import suppress

from pinlab import interrupt
from pinlab.cli import export, litmus, scenarios, selftest
from pinlab.cli.app import app
from pinlab.report.output import OutputError, discard_stdout, guard_stdout

__all__ = ["app", "main"]
_COMMANDS = (export, litmus, scenarios, selftest)  # (imported for the commands they register)


def _command_in_argv() -> str:
    """The command named on the command line (before typer has parsed it), or ''."""
    commands = {c.name for c in app.registered_commands} | {"selftest"}
    return next((a for a in sys.argv[1:] if a in commands), "")


def _say(line: str) -> None:
    """One line on stderr, come what may (stderr itself may be gone)."""
    with suppress(OSError, ValueError, AttributeError):
        print(line, file=sys.stderr, flush=True)


def _run_app() -> int | str | None:
    """Run the command; its exit status (SystemExit's code), stdout flushed."""
    try:
        guard_stdout()
    except OutputError as err:
        interrupt.status.command = _command_in_argv()
        raise err from None
    try:
        app()
        code: int | str | None = 0
    except SystemExit as exit_:
        code = exit_.code
    sys.stdout.flush()
    return code


def main() -> None:
    """``pinlab``: the command, then one line and a conventional exit status if it was
    interrupted or could not write its output (see the module's docstring)."""
    interrupt.install()
    try:
        try:
            code = _run_app()
        except OutputError as err:
            discard_stdout()
            if not err.broken_pipe:
                who = f"pinlab {interrupt.status.command}".rstrip()
                _say(f"{who}: cannot write output: {err.strerror}")
            code = err.exit_code
    except interrupt.Interrupted as sig:
        with suppress(OSError, ValueError, AttributeError):
            sys.stderr.flush()  # what stderr holds comes before the line
        interrupt.status.report(sig)
        code = sig.exit_code
        try:  # what stdout holds; a reader that stopped reading has until the watchdog
            sys.stdout.flush()
        except (OutputError, OSError, ValueError):
            discard_stdout()
    sys.exit(code)
