"""The expected gup_longterm.c results per era: loading the table, looking up, rendering.

The table (``gup_longterm_expected.toml`` beside this module) is data about
kernel history, written from the kernel's history and never from the model's
output; the tests run the model and compare.  Same format as cow.c's table.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from pinlab.kernel.eras import ERAS
from pinlab.kernel.mm_types import FILESYSTEMS
from pinlab.selftests.cow_tests import FAIL, PASS, SKIP
from pinlab.selftests.expected_table import (
    Entry,
    Expected,
    cell,
    load_table,
    lookup,
    numbered,
    render_appendix,
)
from pinlab.selftests.gup_longterm import TEST_CASES, kinds

CASES: Final = tuple(c for c, _, _ in TEST_CASES)
DESCS: Final = {c: d for c, d, _ in TEST_CASES}
KINDS: Final = tuple(dict.fromkeys(k for fs in FILESYSTEMS for k in kinds(fs)))


@cache
def entries() -> tuple[Entry, ...]:
    """The table's entries, checked: known names, no two results for one test."""
    return load_table("gup_longterm_expected.toml", CASES, lambda case: KINDS)


def expected(era: str, case: str, kind: str) -> Expected:
    """The recorded result of ``case`` on ``kind`` in ``era`` (pass unless listed)."""
    return lookup(entries(), era, case, kind)


def totals(era: str) -> dict[str, int]:
    out = {PASS: 0, FAIL: 0, SKIP: 0}
    for case in CASES:
        for kind in KINDS:
            out[expected(era, case, kind).result] += 1
    return out


_MARK: Final = {PASS: "pass", FAIL: "**FAIL**", SKIP: "skip"}


def render_markdown() -> str:
    """docs/selftest-gup_longterm.md: the table, then every entry with its reason and commits."""
    numbers = numbered(entries())
    eras = [e.name for e in ERAS]
    lines = [
        "# gup_longterm.c on the model: expected results per era",
        "",
        "<!-- Generated from src/pinlab/selftests/gup_longterm_expected.toml by",
        "     pinlab.selftests.gup_longterm_expected.render_markdown(); do not edit. -->",
        "",
        "Run it: `pinlab selftest gup_longterm --era ERA --fs FS` (`--era all`, `--fs all`",
        "for every era and filesystem, `--json` for records).  Each case runs on a memfd,",
        "a tmpfile in /tmp and a local tmpfile in the current directory, with /tmp and the",
        "current directory on the filesystem FS (tmpfs, ext4, xfs or btrfs), and on a",
        "memfd hugetlb: the model's machine is cow.c's, with one hugetlb size (64 kB) and",
        "two free huge pages, so `detect_hugetlb_page_sizes()` finds one size and a run",
        "has 40 tests.  The memfd and memfd hugetlb rows hold for every FS.  A cell's",
        "number refers to the explanation below; `pinlab selftest gup_longterm` prints it",
        "as a `# [HISTORY]` line.",
        "",
        "| case | kind | " + " | ".join(eras) + " |",
        "|---|---|" + "---|" * len(eras),
    ]
    for case in CASES:
        for kind in KINDS:
            cells = []
            for era in eras:
                cells.append(cell(expected(era, case, kind), numbers, _MARK))
            lines.append(f"| {case} | {kind} | " + " | ".join(cells) + " |")
    for r in (PASS, FAIL, SKIP):
        lines.append(f"| | **{r}** | " + " | ".join(str(totals(e)[r]) for e in eras) + " |")
    lines += render_appendix(CASES, DESCS, entries(), numbers, note_kinds=True)
    return "\n".join(lines) + "\n"
