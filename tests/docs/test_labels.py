"""docs/labels.md defines every label the repository uses, and the docs point to it.

Labels are the short names of litmus patterns (``L1``-``L12``, ``L6a``,
``L6b``), GUP-fast steps (``G0``-``G13``, ``B1``-``B5``), the steps of the
sharing side of L2 and cow.c's anonymous cases (``A1``...), cow.c's collapse
cases (``C1``-``C4``) and invariants (``I1``-``I15``).  A label is *defined*
when docs/labels.md has a heading (``### L9``) or a table row (``| G6 | ...``)
that starts with it; it is *used* wherever the pattern below matches in a
text file of ``docs/``, ``src/`` or the README (a range ``G0-G13`` uses every
label in it).

The specification the labels come from is not in the repository, so a page
of ``docs/`` (other than labels.md itself) or the README that cites it by
number ("spec 2.9", "spec §6", "spec 6 L9", "spec L12") must point to
docs/labels.md in the same paragraph (a blank-line-separated block).
Links to ``labels.md#anchor`` must name a heading of docs/labels.md.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LABELS_MD = REPO / "docs" / "labels.md"

_LABEL = r"(?:L\d+[ab]?|[GBIAC]\d+)"
LABEL = re.compile(rf"\b{_LABEL}\b")
RANGE = re.compile(r"\b([LGBIAC])(\d+)-\1?(\d+)\b")
DEFINITION = re.compile(rf"^(?:#+[ \t]+|\|[ \t]*)({_LABEL})\b", re.MULTILINE)
SPEC_CITATION = re.compile(r"\b[Ss]pec(?:ification)?\b[\s§]*(?:\d|L\d)|kernel-gup\.md")
ANCHOR_LINK = re.compile(r"labels\.md#([\w-]+)")
TEXT_SUFFIXES = {".md", ".py", ".toml", ".lark", ".json", ".litmus", ".cat", ".bell", ".def"}


def defined_labels(labels_md: Path) -> set[str]:
    return set(DEFINITION.findall(labels_md.read_text()))


def used_labels(text: str) -> set[str]:
    used = set(LABEL.findall(text))
    for family, first, last in RANGE.findall(text):
        used |= {f"{family}{n}" for n in range(int(first), int(last) + 1)}
    return used


def text_files(repo: Path) -> Iterator[Path]:
    """README.md and the text files under docs/ and src/ (no caches, no egg-info)."""
    yield repo / "README.md"
    for top in ("docs", "src"):
        for path in sorted((repo / top).rglob("*")):
            parts = set(path.relative_to(repo).parts)
            if "__pycache__" in parts or any(p.endswith(".egg-info") for p in parts):
                continue
            if path.is_file() and path.suffix in TEXT_SUFFIXES:
                yield path


def undefined_labels(repo: Path) -> dict[str, list[str]]:
    """Each used label that docs/labels.md does not define -> the files using it."""
    defined = defined_labels(repo / "docs" / "labels.md")
    out: dict[str, list[str]] = {}
    for path in text_files(repo):
        for label in sorted(used_labels(path.read_text()) - defined):
            out.setdefault(label, []).append(path.relative_to(repo).as_posix())
    return out


def citing_pages(repo: Path) -> Iterator[Path]:
    yield repo / "README.md"
    yield from (p for p in sorted((repo / "docs").glob("*.md")) if p.name != "labels.md")


def unpointed_citations(repo: Path) -> list[str]:
    """``file:line: paragraph start`` for each paragraph citing the spec without a pointer."""
    out = []
    for path in citing_pages(repo):
        line = 1
        for para in re.split(r"\n[ \t]*\n", path.read_text()):
            if SPEC_CITATION.search(para) and "labels.md" not in para:
                out.append(f"{path.relative_to(repo)}:{line}: {para.strip()[:70]!r}")
            line += para.count("\n") + 2
    return out


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def broken_anchors(repo: Path) -> list[str]:
    headings = re.findall(r"^#+[ \t]+(.+)$", (repo / "docs" / "labels.md").read_text(), re.M)
    anchors = {github_anchor(h) for h in headings}
    out = []
    for path in (*citing_pages(repo), *(repo / "src").rglob("*.py")):
        for anchor in ANCHOR_LINK.findall(path.read_text()):
            if anchor not in anchors:
                out.append(f"{path.relative_to(repo)}: labels.md#{anchor}")
    return out


def test_labels_md_defines_each_family() -> None:
    defined = defined_labels(LABELS_MD)
    assert {f"L{n}" for n in range(1, 13)} | {"L6a", "L6b"} <= defined
    assert {f"G{n}" for n in range(14)} | {f"B{n}" for n in range(1, 6)} <= defined
    assert {f"I{n}" for n in range(1, 16)} <= defined


def test_every_label_used_is_defined_in_labels_md() -> None:
    assert undefined_labels(REPO) == {}, "add an entry to docs/labels.md"


def test_no_spec_citation_without_a_pointer_to_labels_md() -> None:
    assert unpointed_citations(REPO) == [], "point these to docs/labels.md"


def test_links_into_labels_md_name_a_heading() -> None:
    assert broken_anchors(REPO) == []


def _scratch_repo(tmp_path: Path) -> Path:
    """A copy of README.md, docs/*.md and docs/labels.md, with an empty src/."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "src").mkdir()
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    for page in (REPO / "docs").glob("*.md"):
        shutil.copy(page, tmp_path / "docs" / page.name)
    return tmp_path


def test_the_checks_catch_an_undefined_label_and_a_bare_citation(tmp_path: Path) -> None:
    repo = _scratch_repo(tmp_path)
    assert undefined_labels(repo) == {}
    assert unpointed_citations(repo) == []
    (repo / "src" / "x.py").write_text('"""Steps G3-G15, as spec 2.4 says; pattern L13."""\n')
    page = repo / "docs" / "findings.md"
    page.write_text(page.read_text() + "\nAs spec §2.9 says, zap does not look at pins.\n")
    assert undefined_labels(repo) == {"G14": ["src/x.py"], "G15": ["src/x.py"], "L13": ["src/x.py"]}
    assert [c.split(":")[0] for c in unpointed_citations(repo)] == ["docs/findings.md"]
