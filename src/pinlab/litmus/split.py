"""Split a litmus file into its header and the part the grammar reads.

A litmus file starts with a line-oriented preamble that a token grammar reads
badly: ``C NAME``, an optional ``"doc string"``, then free text up to the
``{`` of the initial state, in which ``key=value`` lines are information
(``Hash=...``) and OCaml comments ``(* ... *)`` carry the ``Result:`` line.
This module reads that preamble, and hands the rest to the grammar with the
preamble and every OCaml comment replaced by blanks (newlines kept), so that
lark's positions are file positions.

OCaml comments are comments only outside process bodies: inside a body
``(*`` is C (``READ_ONCE(*x)``), as herd7's C lexer has it.  C comments are
left in place for the grammar to skip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from pinlab.litmus.errors import LitmusError

__all__ = ["Split", "position", "split"]

_HEADER: Final = re.compile(
    r"[ \t\r\n]*(?P<arch>[A-Za-z0-9_]+)[ \t]+(?P<name>[A-Za-z0-9_/.+\-\[\]:]+)[ \t]*"
    r"(?:\([A-Za-z][A-Za-z0-9_/.\-]*\)[ \t]*)?"
    r"(?:\r?\n?[ \t]*\"(?P<doc>[^\"]*)\"[ \t]*)?;?"
)
_INFO: Final = re.compile(r"^[ \t]*([A-Za-z][A-Za-z0-9_/.\-]*)[ \t]*=[ \t]*(.*?)[ \t\r]*$", re.M)
_SPECIAL: Final = re.compile(r"\(\*|/\*|//|\"|\{|\}")
_OCAML: Final = re.compile(r"\(\*|\*\)")
_PREAMBLE: Final = re.compile(r"\(\*|\{")


@dataclass(frozen=True, slots=True)
class Split:
    name: str
    doc: str
    info: tuple[tuple[str, str], ...]
    body: str  # the file with the preamble and OCaml comments blanked


def position(text: str, offset: int) -> tuple[int, int]:
    """The 1-based (line, column) of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _error(path: str, text: str, offset: int, message: str) -> LitmusError:
    line, col = position(text, offset)
    return LitmusError(path, line, col, message)


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


def _ocaml_comment_end(path: str, text: str, start: int) -> int:
    """The offset just past the (possibly nested) OCaml comment opening at ``start``."""
    depth, i = 0, start
    while True:
        m = _OCAML.search(text, i)
        if m is None:
            raise _error(path, text, start, "unterminated comment '(*'")
        depth += 1 if m.group() == "(*" else -1
        i = m.end()
        if depth == 0:
            return i


def _c_comment_end(path: str, text: str, start: int) -> int:
    if text.startswith("//", start):
        nl = text.find("\n", start)
        return len(text) if nl < 0 else nl
    end = text.find("*/", start + 2)
    if end < 0:
        raise _error(path, text, start, "unterminated comment '/*'")
    return end + 2


def _string_end(path: str, text: str, start: int) -> int:
    end = text.find('"', start + 1)
    if end < 0:
        raise _error(path, text, start, "unterminated string")
    return end + 1


def _preamble(path: str, text: str, chars: list[str], start: int) -> tuple[int, list[str]]:
    """Blank comments up to the initial state's ``{``; return its offset and the free text."""
    i, free = start, []
    while True:
        m = _PREAMBLE.search(text, i)
        if m is None:
            raise _error(path, text, len(text), "expected '{' to open the initial state")
        free.append(text[i : m.start()])
        if m.group() == "{":
            return m.start(), free
        end = _ocaml_comment_end(path, text, m.start())
        _blank(chars, m.start(), end)
        i = end


def _blank_comments(path: str, text: str, chars: list[str], start: int) -> None:
    """Blank OCaml comments from the init section on, outside process bodies."""
    depth, in_init, i = 0, True, start
    while True:
        m = _SPECIAL.search(text, i)
        if m is None:
            return
        tok, at = m.group(), m.start()
        if tok == "(*":
            if in_init or depth == 0:
                end = _ocaml_comment_end(path, text, at)
                _blank(chars, at, end)
                i = end
            else:
                i = at + 1
        elif tok in ("/*", "//"):
            i = _c_comment_end(path, text, at)
        elif tok == '"':
            i = _string_end(path, text, at)
        else:
            depth += 1 if tok == "{" else -1
            if depth == 0:
                in_init = False
            i = m.end()


def split(path: str, text: str) -> Split:
    """Read the header and info lines of ``text``; blank what the grammar must not see."""
    m = _HEADER.match(text)
    if m is None:
        raise _error(path, text, 0, "expected a header line 'C NAME'")
    if m.group("arch") != "C":
        raise _error(
            path, text, m.start("arch"), f"not a C litmus test (architecture {m.group('arch')!r})"
        )
    name = m.group("name")
    if name.endswith(".litmus"):
        name = name[: -len(".litmus")]
    chars = list(text)
    init_at, free = _preamble(path, text, chars, m.end())
    info = tuple((k, v) for chunk in free for k, v in _INFO.findall(chunk))
    _blank(chars, 0, init_at)
    _blank_comments(path, text, chars, init_at)
    return Split(name, m.group("doc") or "", info, "".join(chars))
