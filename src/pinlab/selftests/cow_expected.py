"""The expected cow.c results per era: loading the table, looking up, rendering.

The table (``cow_expected.toml`` beside this module) is data about kernel
history: which cases fail or skip on which eras, why, and the commits
involved.  It is written from the kernel's history, never from the model's
output; the tests run the model and compare.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from pinlab.kernel.eras import CURRENT, ERAS, Era, era_by_name
from pinlab.selftests.cow import COLLAPSE_KIND, anon_kinds, non_anon_kinds
from pinlab.selftests.cow_tests import (
    ANON_TEST_CASES,
    ANON_THP_TEST_CASES,
    FAIL,
    NON_ANON_TEST_CASES,
    PASS,
    SKIP,
    XFAIL,
)
from pinlab.selftests.expected_table import (
    Entry,
    Expected,
    cell,
    load_table,
    lookup,
    numbered,
    render_appendix,
)

__all__ = ["Entry", "Expected", "entries", "expected", "kinds_for", "render_markdown", "totals"]

CASES: Final = (
    tuple(c for c, _, _ in ANON_TEST_CASES)
    + tuple(c for c, _, _ in ANON_THP_TEST_CASES)
    + tuple(c for c, _, _ in NON_ANON_TEST_CASES)
)


def kinds_for(era: Era, case: str) -> tuple[str, ...]:
    """The kinds cow.c runs ``case`` on, on ``era``'s machine (mTHP sizes come with v6.8)."""
    if case.startswith("A"):
        return tuple(anon_kinds(era))
    if case.startswith("C"):
        return (COLLAPSE_KIND,)
    return tuple(non_anon_kinds(era))


KINDS: Final = {c: kinds_for(CURRENT, c) for c in CASES}  # every kind of any era
DESCS: Final = (
    {c: d for c, d, _ in ANON_TEST_CASES}
    | {c: d for c, d, _ in ANON_THP_TEST_CASES}
    | {c: d for c, d, _ in NON_ANON_TEST_CASES}
)


@cache
def entries() -> tuple[Entry, ...]:
    """The table's entries, checked: known names, no two results for one test."""
    return load_table("cow_expected.toml", CASES, KINDS.__getitem__)


def expected(era: str, case: str, kind: str) -> Expected:
    """The recorded result of ``case`` on ``kind`` in ``era`` (pass unless listed)."""
    return lookup(entries(), era, case, kind)


def totals(era: str) -> dict[str, int]:
    out = {PASS: 0, FAIL: 0, XFAIL: 0, SKIP: 0}
    for case in CASES:
        for kind in kinds_for(era_by_name(era), case):
            out[expected(era, case, kind).result] += 1
    return out


_MARK: Final = {PASS: "pass", FAIL: "**FAIL**", XFAIL: "xfail", SKIP: "skip"}


def render_markdown() -> str:
    """docs/selftest-cow.md: the table, then every entry with its reason and commits."""
    numbers = numbered(entries())
    eras = [e.name for e in ERAS]
    lines = [
        "# cow.c on the model: expected results per era",
        "",
        "<!-- Generated from src/pinlab/selftests/cow_expected.toml by",
        "     pinlab.selftests.cow_expected.render_markdown(); do not edit. -->",
        "",
        "Run it: `pinlab selftest cow --era ERA` (`--era all` for every era, `--json` for",
        "records).  The model's machine has THP (PMD size 64 KiB: its page tables have 16",
        "entries; mTHP 16 and 32 KiB from v6.8), one hugetlb size (64 KiB) and the huge",
        "zeropage, so each anonymous case runs on base pages, the THP kinds and hugetlb,",
        "the collapse cases C1-C4 on a PMD THP, and each non-anonymous case on the shared",
        "zeropage, memfd, tmpfile, the huge zeropage and memfd hugetlb.  `-` marks a kind",
        "the era's machine does not have.  A cell's number refers to the explanation",
        "below; `pinlab selftest cow` prints it as a `# [HISTORY]` line.",
        "",
        "| case | kind | " + " | ".join(eras) + " |",
        "|---|---|" + "---|" * len(eras),
    ]
    for case in CASES:
        for kind in KINDS[case]:
            cells = []
            for era in eras:
                if kind not in kinds_for(era_by_name(era), case):
                    cells.append("-")
                    continue
                cells.append(cell(expected(era, case, kind), numbers, _MARK))
            lines.append(f"| {case} | {kind} | " + " | ".join(cells) + " |")
    for r in (PASS, FAIL, XFAIL, SKIP):
        lines.append(f"| | **{r}** | " + " | ".join(str(totals(e)[r]) for e in eras) + " |")
    lines += render_appendix(CASES, DESCS, entries(), numbers, note_kinds=False)
    return "\n".join(lines) + "\n"
