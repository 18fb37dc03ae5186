"""The per-era expected-results tables of the selftests: one format, one loader.

A table (``cow_expected.toml``, ``gup_longterm_expected.toml``) is data about
kernel history: ``[[skip]]``, ``[[fail]]``, ``[[xfail]]`` entries give a
result for cases x kinds x eras with the reason and the commits, ``[[note]]``
entries explain a pass.  Entries without ``kinds`` cover every kind of their
cases.  No (era, case, kind) has two results; every test not listed passes.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from pinlab.kernel.eras import ERAS
from pinlab.selftests.cow_tests import PASS

RESULTS: Final = ("skip", "fail", "xfail", "note")  # notes last: results take precedence


@dataclass(frozen=True)
class Entry:
    """One entry of a table: a result for cases x kinds x eras, with its reason."""

    result: str  # fail, xfail, skip, or note (a pass worth explaining)
    cases: tuple[str, ...]
    kinds: tuple[str, ...]
    eras: tuple[str, ...]
    reason: str
    commits: tuple[str, ...]
    message: str = ""

    def covers(self, era: str, case: str, kind: str) -> bool:
        return era in self.eras and case in self.cases and kind in self.kinds


@dataclass(frozen=True)
class Expected:
    """What history says one test does on one era."""

    result: str
    entry: Entry | None


def _sentence(text: str) -> str:
    return text if text.endswith((".", ")")) else text + "."


def load_table(
    resource: str, cases: Sequence[str], kinds_of: Callable[[str], Sequence[str]]
) -> tuple[Entry, ...]:
    """The entries of ``resource`` (beside this module), checked against the known eras,
    ``cases`` and each case's kinds (``kinds_of``): no two results for one test."""
    data = tomllib.loads(resources.files("pinlab.selftests").joinpath(resource).read_text())
    out = tuple(_entry(result, raw, kinds_of) for result in RESULTS for raw in data.get(result, ()))
    names = {e.name for e in ERAS}
    every_kind = {k for c in cases for k in kinds_of(c)}
    seen: set[tuple[str, str, str]] = set()
    for e in out:
        if (
            not set(e.eras) <= names
            or not set(e.cases) <= set(cases)
            or not set(e.kinds) <= every_kind
        ):
            raise ValueError(f"unknown era, case or kind in {e}")
        if e.result == "note":
            continue
        for era in e.eras:
            for case in e.cases:
                for kind in e.kinds:
                    if kind not in kinds_of(case):
                        continue
                    if (era, case, kind) in seen:
                        raise ValueError(f"{(era, case, kind)} is listed twice")
                    seen.add((era, case, kind))
    return out


def _entry(result: str, raw: dict[str, Any], kinds_of: Callable[[str], Sequence[str]]) -> Entry:
    cases = tuple(raw["cases"])
    every = tuple(dict.fromkeys(k for c in cases for k in kinds_of(c)))
    return Entry(
        result,
        cases,
        tuple(raw.get("kinds", ())) or every,
        tuple(raw["eras"]),
        _sentence(" ".join(raw["reason"].split())),
        tuple(raw.get("commits", ())),
        raw.get("message", ""),
    )


def lookup(entries: Sequence[Entry], era: str, case: str, kind: str) -> Expected:
    """The recorded result of ``case`` on ``kind`` in ``era``: pass unless listed (a note
    explains a pass)."""
    for e in entries:
        if e.covers(era, case, kind):
            return Expected(PASS if e.result == "note" else e.result, e)
    return Expected(PASS, None)


def numbered(entries: Sequence[Entry]) -> dict[Entry, int]:
    """The explained results (not the notes), numbered from 1 as the docs refer to them."""
    return {e: i + 1 for i, e in enumerate(x for x in entries if x.result != "note")}


def cell(exp: Expected, numbers: dict[Entry, int], marks: dict[str, str]) -> str:
    """One table cell: the result's mark and the number of the entry that explains it."""
    ref = f" [{numbers[exp.entry]}]" if exp.entry and exp.entry in numbers else ""
    return marks[exp.result] + ref


def render_appendix(
    cases: Sequence[str],
    descs: dict[str, str],
    entries: Sequence[Entry],
    numbers: dict[Entry, int],
    note_kinds: bool,
) -> list[str]:
    """The docs' sections below the table: the cases, why each numbered result is
    what it is, and the notes on passes (``note_kinds``: name their kinds too)."""
    lines = ["", "## Cases", ""]
    lines += [f"- {case}: {descs[case]}" for case in cases]
    lines += ["", "## Why", ""]
    for e, n in numbers.items():
        where = f"{', '.join(e.cases)} on {', '.join(e.kinds)} ({', '.join(e.eras)})"
        lines.append(f"{n}. **{e.result}** {where}: {e.reason} Commits: {', '.join(e.commits)}.")
    lines += ["", "## Passes worth explaining", ""]
    for e in entries:
        if e.result == "note":
            on = f" on {', '.join(e.kinds)}" if note_kinds else ""
            where = f"{', '.join(e.cases)}{on} ({', '.join(e.eras)})"
            lines.append(f"- {where}: {e.reason} Commits: {', '.join(e.commits)}.")
    return lines
