"""``pinlab.report.wrap``: lines wrapped at spaces, no word ever cut."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pinlab.report.wrap import fits, lines_text, tokens, wrap

LINE = "  #16 CPU0 try_to_merge_one_page: folio_test_swapcache() reads folio0x102->flags"


def _plain(lines: list[Text]) -> list[str]:
    return [line.plain for line in lines]


def test_a_line_that_fits_is_left_alone() -> None:
    assert _plain(wrap(LINE, 80)) == [LINE]


def test_wrapped_at_spaces_with_a_hanging_indent() -> None:
    assert _plain(wrap(LINE, 40)) == [
        "  #16 CPU0 try_to_merge_one_page:",
        "      folio_test_swapcache() reads",
        "      folio0x102->flags",
    ]
    assert _plain(wrap("a b c d e f", 9, hang=2)) == ["a b c d e", "  f"]
    assert _plain(wrap("a b c d", 3, hang=2)) == ["a b", " c", " d"]  # (at most a third)


def test_the_spaces_inside_a_line_are_kept() -> None:
    assert _plain(wrap("    in gup_fast_fallback()  gup_fast.py:165 x", 44)) == [
        "    in gup_fast_fallback()  gup_fast.py:165",
        "        x",
    ]


def test_a_word_longer_than_the_width_stays_whole() -> None:
    long = "current/arm64-nobatch-no-sync-empty"
    assert _plain(wrap(f"x {long} y", 20)) == ["x", f"    {long}", "    y"]


def test_styles_are_kept() -> None:
    text = Text("plain ")
    text.append("bold words here", style="bold")
    second = wrap(text, 12)[1]
    assert second.plain == "    words"
    assert [(s.start, s.end, str(s.style)) for s in second.spans] == [(4, 9, "bold")]


def test_lines_text_is_printed_as_it_is() -> None:
    """Never wrapped again nor cropped, not even a word wider than the console."""
    file = io.StringIO()
    console = Console(file=file, width=20, color_system=None)
    console.print(lines_text(["a " + "x" * 30, "b c d e f g h i j k l m n o"], 20), crop=False)
    assert file.getvalue().splitlines() == [
        "a",
        "    " + "x" * 30,
        "b c d e f g h i j k",
        "    l m n o",
    ]


def test_fits() -> None:
    table = Table()
    table.add_column("name")
    table.add_column("notes")
    table.add_row("current/arm64-nobatch-no-sync-empty", "words that wrap well")
    assert fits(table, 80)
    assert not fits(table, 52)  # rich narrows the widest column: it folds the name
    table.columns[0].no_wrap = True
    assert fits(table, 52)  # the notes wrap at spaces
    assert not fits(table, 40)  # the name would be shortened


def test_tokens_leave_out_rules() -> None:
    assert tokens(" a ─── b\n ──── a") == {"a": 2, "b": 1}


words = st.text(alphabet="ab-/|.()", min_size=1, max_size=12)


@given(
    st.lists(words, min_size=1, max_size=30),
    st.integers(min_value=0, max_value=8),
    st.integers(min_value=10, max_value=60),
)
def test_wrapping_keeps_every_word(line: list[str], indent: int, width: int) -> None:
    text = " " * indent + " ".join(line)
    out = _plain(wrap(text, width))
    assert " ".join(out).split() == text.split()
    for piece in out:
        assert len(piece) <= width or len(piece.split()) == 1
