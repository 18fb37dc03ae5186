"""The one error type of the cat interpreter: a message at ``file:line:col``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["CatError", "Pos"]


@dataclass(frozen=True, slots=True)
class Pos:
    """A place in a model file (``line`` and ``col`` count from 1; 0: the whole file)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}" if self.line > 0 else self.file


class CatError(Exception):
    """A syntax error, an unbound name, an unsupported construct or a type error.

    ``str()`` is the whole one-line message, ``file:line:col: message``, for
    the command line to print without a traceback.
    """

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(f"{pos}: {message}")
        self.pos = pos
        self.message = message

    def __reduce__(self) -> tuple[type[CatError], tuple[Pos, str]]:
        return (CatError, (self.pos, self.message))


def read_file(path: Path, pos: Pos | None = None) -> str:
    """The text of a model file; a file that cannot be read is a :class:`CatError`
    (at ``pos``, the ``include`` that names it, or else at the file)."""
    try:
        return path.read_text()
    except OSError as err:
        raise CatError(pos or Pos(str(path)), f"cannot read {path}: {err.strerror}") from None
