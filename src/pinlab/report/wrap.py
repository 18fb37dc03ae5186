"""Text that fits a width: wrapped at word boundaries, no word ever cut.

What pinlab prints into a pipe or a file is meant to be pasted into a mail as
it is, so nothing in it is folded mid-word or cut with an ellipsis.
:func:`wrap` breaks a line only at spaces; its continuation lines are
indented further than the line itself (a *hanging* indent), so that a reader
sees where a wrapped line goes on.  A single word longer than the room left
(a long URL) stays whole on a line of its own, past the width: a line too
long is the lesser evil.  :func:`fits` says whether rich renders a table at
a width without folding or cropping anything; a caller that gets False
chooses a layout of blocks instead.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.text import Text

__all__ = ["fits", "lines_text", "tokens", "wrap"]

_WORD = re.compile(r"\S+")
_RULE = re.compile(r"^[\u2500-\u257f-]+$")  # a table's rule or edge: it follows the width
_UNLIMITED = 100_000


def wrap(line: Text | str, width: int, hang: int = 4) -> list[Text]:
    """``line`` (one line, no newline) in lines of at most ``width`` cells, broken
    at spaces only; each continuation line indented ``hang`` more than ``line``.

    The spaces between the words of one output line are kept as they are (two
    spaces stay two); those at a break are dropped.  Styles are kept.
    """
    text = Text(line) if isinstance(line, str) else line
    plain = text.plain
    if cell_len(plain) <= width:
        return [text]
    lead = len(plain) - len(plain.lstrip(" "))
    indent = min(lead + hang, max(width // 3, 0))
    words = [(m.start(), m.end()) for m in _WORD.finditer(plain)]
    out: list[Text] = []
    start = 0  # where the current output line starts in ``plain``
    prefix = 0  # the indentation the current output line gets
    end = -1  # where its last word ends (-1: no word yet)
    for w_start, w_end in words:
        if end < 0:  # the first word: the line keeps its own indentation
            end = w_end
            continue
        if prefix + cell_len(plain[start:w_end]) <= width:
            end = w_end
            continue
        out.append(_indented(text[start:end], prefix))
        start, end, prefix = w_start, w_end, indent
    if end >= 0:
        out.append(_indented(text[start:end], prefix))
    return out or [text]


def _indented(piece: Text, spaces: int) -> Text:
    if not spaces:
        return piece
    out = Text(" " * spaces)
    out.append_text(piece)
    return out


def lines_text(lines: Iterable[Text | str], width: int | None = None, hang: int = 4) -> Group:
    """The lines, each wrapped to ``width`` (when given) by :func:`wrap`, as one
    Text that rich prints as it is: never wrapped again, never cropped (in a
    Group: ``Console.print`` would join a bare Text into a new one, which wraps)."""
    out = Text(no_wrap=True, overflow="ignore")
    first = True
    for line in lines:
        whole = Text(line) if isinstance(line, str) else line
        for piece in [whole] if width is None else wrap(whole, width, hang):
            if not first:
                out.append("\n")
            out.append_text(piece)
            first = False
    return Group(out)


def tokens(text: str) -> Counter[str]:
    """The whitespace-separated words of ``text``, but a table's rules (their
    length follows the width), counted."""
    return Counter(t for t in text.split() if not _RULE.match(t))


def render(renderable: RenderableType, width: int) -> str:
    """``renderable`` as rich prints it at ``width``, in plain text."""
    file = io.StringIO()
    console = Console(file=file, width=width, color_system=None, highlight=False)
    console.print(renderable, crop=False)
    return file.getvalue()


def fits(renderable: RenderableType, width: int) -> bool:
    """Does rich print ``renderable`` at ``width`` without a line over it and
    without folding, cropping or shortening any word (an ellipsis)?  True when
    its words are those it has with all the room it wants."""
    narrow = render(renderable, width)
    if any(cell_len(line) > width for line in narrow.splitlines()):
        return False
    return tokens(narrow) == tokens(render(renderable, _UNLIMITED))
