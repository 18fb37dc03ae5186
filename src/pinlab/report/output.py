"""Standard output that fails loudly: a write that cannot be done ends the command.

:func:`guard_stdout` (called by :func:`pinlab.cli.main` only) puts a text stream
in front of file descriptor 1 whose raw file turns every :class:`OSError` of a
write into :class:`OutputError`, whichever layer writes (``print``,
``typer.echo``, rich, or a text wrapper click makes around the buffer).  The
command line then ends with

- exit status 141 (128 + SIGPIPE, what a shell reports for a process killed by
  SIGPIPE) and no message when the reader went away (``pinlab ... | head -1``):
  the output was not wanted;
- one line ``pinlab <command>: cannot write output: <strerror>`` and exit status
  74 (EX_IOERR of sysexits.h) for every other error (``> /dev/full``, a closed
  or read-only descriptor 1), distinct from the 1 of a failed check.

:class:`OutputError` is a :class:`BaseException` so that no ``except Exception``
or ``except OSError`` on the way (one that reports a *file* it could not write,
say) mistakes it for its own.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_IOERR", "OutputError", "discard_stdout", "guard_stdout"]

EXIT_IOERR: Final = 74
EXIT_BROKEN_PIPE: Final = 141


class OutputError(BaseException):
    """Standard output cannot be written: ``errno`` and ``strerror`` say why."""

    def __init__(self, errno_: int, strerror: str) -> None:
        super().__init__(errno_, strerror)
        self.errno = errno_
        self.strerror = strerror

    @property
    def broken_pipe(self) -> bool:
        return self.errno == errno.EPIPE

    @property
    def exit_code(self) -> int:
        return EXIT_BROKEN_PIPE if self.broken_pipe else EXIT_IOERR

    @classmethod
    def of(cls, err: OSError) -> OutputError:
        code = err.errno if err.errno is not None else errno.EIO
        return cls(code, err.strerror or os.strerror(code))


class _GuardedRaw(io.FileIO):
    """Descriptor 1 whose write errors are :class:`OutputError` (under any buffering)."""

    def write(self, data: ReadableBuffer, /) -> int:
        try:
            return super().write(data)
        except OSError as err:
            raise OutputError.of(err) from None


def guard_stdout() -> None:
    """Standard output through :class:`_GuardedRaw`; :class:`OutputError` if fd 1 is closed.

    Python sets ``sys.stdout`` to None when descriptor 1 is closed at start-up;
    every write would then vanish without a word.  The text and buffer layers
    stay as Python made them (``PYTHONUNBUFFERED`` makes the buffer the raw file).
    """
    stdout = sys.stdout
    if stdout is None:
        raise OutputError(errno.EBADF, "standard output is closed")
    buffer = getattr(stdout, "buffer", None)
    raw = getattr(buffer, "raw", buffer)
    if not isinstance(raw, io.FileIO) or isinstance(raw, _GuardedRaw):
        return  # not the interpreter's own stdout (a test's capture, say): leave it
    try:
        stdout.flush()
        guarded = _GuardedRaw(raw.fileno(), "wb", closefd=False)
    except OSError as err:
        raise OutputError.of(err) from None
    binary = guarded if buffer is raw else io.BufferedWriter(guarded)
    sys.stdout = io.TextIOWrapper(
        binary,
        encoding=stdout.encoding,
        errors=stdout.errors,
        line_buffering=bool(stdout.line_buffering),
        write_through=getattr(stdout, "write_through", False),
    )


def discard_stdout() -> None:
    """Send what is still buffered for stdout, and anything after it, to /dev/null.

    After an :class:`OutputError` the buffer still holds what could not be
    written; flushed at exit into the same descriptor it would fail again and
    Python would print "Exception ignored" and exit 120.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
