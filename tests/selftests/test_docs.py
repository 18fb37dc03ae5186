"""docs/selftest-cow.md is the rendering of the expected-results table."""

from __future__ import annotations

from pathlib import Path

from pinlab.selftests.cow_expected import render_markdown
from pinlab.selftests.gup_longterm_expected import render_markdown as render_gup_longterm

DOC = Path(__file__).resolve().parents[2] / "docs" / "selftest-cow.md"


def test_rendered_table_is_up_to_date() -> None:
    assert DOC.read_text() == render_markdown(), (
        "regenerate: python -c 'from pinlab.selftests.cow_expected import render_markdown; "
        'print(render_markdown(), end="")\' > docs/selftest-cow.md'
    )


def test_rendered_gup_longterm_table_is_up_to_date() -> None:
    doc = DOC.parent / "selftest-gup_longterm.md"
    assert doc.read_text() == render_gup_longterm(), (
        "regenerate: python -c 'from pinlab.selftests.gup_longterm_expected import "
        'render_markdown; print(render_markdown(), end="")\' > docs/selftest-gup_longterm.md'
    )
