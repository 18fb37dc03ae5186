"""The one error type of the litmus front end: a message at ``file:line:col``."""

from __future__ import annotations

__all__ = ["LitmusError"]


class LitmusError(Exception):
    """A syntax error, an unknown primitive, or a C-level error while running a thread.

    ``str()`` is the whole user-facing message, ``path:line:col: message``, as
    compilers print it; the command line prints it without a traceback.  An
    error about the file as a whole (it cannot be read, it is too large) has
    no position: ``line`` is 0 and the message is ``path: message``.
    """

    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        where = f"{path}:{line}:{col}" if line > 0 else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.col = col
        self.message = message

    def __reduce__(self) -> tuple[type[LitmusError], tuple[str, int, int, str]]:
        # (to cross a process boundary: Exception pickles ``args``, our one string)
        return (LitmusError, (self.path, self.line, self.col, self.message))
