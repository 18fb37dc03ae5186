"""What ``pinlab selftest`` shows: kselftest TAP or JSON records, and the list of eras.

Functions here return text and an exit code; :mod:`pinlab.cli` prints them.

TAP output is cow.c's (gup_longterm.c's), line for line.  After a result the model adds
kselftest-style ``#`` comment lines:

- ``# [MODEL] ...`` for every invariant found broken during the test (which,
  at which step, in which kernel functions, and why);
- ``# [HISTORY] ...`` for a failure or skip: the recorded reason and commits
  from the era table, or a warning if the model disagrees with history.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pinlab.kernel.eras import ERAS, Era, era_by_name
from pinlab.kernel.mm_types import FILESYSTEMS
from pinlab.selftests import gup_longterm_expected
from pinlab.selftests.cow import CaseResult, run_cow
from pinlab.selftests.cow_expected import Expected, expected
from pinlab.selftests.cow_tests import PASS
from pinlab.selftests.gup_longterm import run_gup_longterm

Lookup = Callable[[str, str, str], Expected]


def resolve_eras(name: str) -> list[Era]:
    """``all`` or one era name (KeyError if unknown)."""
    return list(ERAS) if name == "all" else [era_by_name(name)]


def _annotator(era: Era, lookup: Lookup = expected) -> Callable[[CaseResult], list[str]]:
    def annotate(c: CaseResult) -> list[str]:
        out = [f"[MODEL] {v}" for v in c.violations]
        exp = lookup(era.name, c.case, c.kind)
        commits = f" ({', '.join(exp.entry.commits)})" if exp.entry and exp.entry.commits else ""
        if c.result != exp.result:
            out.append(
                f"[HISTORY] {era.name}: history records {exp.result} for {c.case} on {c.kind}; "
                "the model disagrees"
            )
        elif c.result != PASS and exp.entry is not None:
            out.append(f"[HISTORY] {era.name}: {exp.entry.reason}{commits}")
        return out

    return annotate


def _record(era: Era, c: CaseResult, lookup: Lookup = expected) -> dict[str, object]:
    exp = lookup(era.name, c.case, c.kind)
    broken = "; ".join(
        f"broken {v.invariant.label} in {v.where}: {v.message}" for v in c.violations
    )
    reason = c.outcome.message + (f" -- {broken}" if broken else "")
    return {
        "case": c.case,
        "kind": c.kind,
        "era": era.name,
        "result": c.result,
        "reason": reason,
        "test": c.desc,
        "invariants": list(c.invariants),
        "expected": exp.result,
        "history": exp.entry.reason if exp.entry is not None and c.result != PASS else "",
    }


def cow(era_name: str, as_json: bool) -> tuple[str, int]:
    """``pinlab selftest cow``: the output text and kselftest's exit code (worst of the runs)."""
    chunks: list[str] = []
    code = 0
    for era in resolve_eras(era_name):
        run = run_cow(era, annotate=None if as_json else _annotator(era))
        code = max(code, run.exit_code)
        if as_json:
            chunks += [json.dumps(_record(era, c)) for c in run.results]
        else:
            if era_name == "all":
                chunks.append(f"# [ERA] {era.name}: {era.summary}")
            chunks += run.ksft.lines
    return "\n".join(chunks), code


def resolve_filesystems(name: str) -> list[str]:
    """``all`` or one filesystem name (KeyError if unknown)."""
    if name == "all":
        return list(FILESYSTEMS)
    if name not in FILESYSTEMS:
        raise KeyError(name)
    return [name]


def gup_longterm(era_name: str, fs: str, as_json: bool) -> tuple[str, int]:
    """``pinlab selftest gup_longterm``: one kselftest run per era and filesystem."""
    lookup = gup_longterm_expected.expected
    chunks: list[str] = []
    code = 0
    filesystems = resolve_filesystems(fs)
    for era in resolve_eras(era_name):
        for fstype in filesystems:
            annotate = None if as_json else _annotator(era, lookup)
            run = run_gup_longterm(era, fstype, annotate=annotate)
            code = max(code, run.exit_code)
            if as_json:
                chunks += [
                    json.dumps(_record(era, c, lookup) | {"fs": fstype}) for c in run.results
                ]
                continue
            if era_name == "all":
                chunks.append(f"# [ERA] {era.name}: {era.summary}")
            if fs == "all":
                chunks.append(f"# [FS] /tmp and the current directory on {fstype}")
            chunks += run.ksft.lines
    return "\n".join(chunks), code


def list_eras() -> str:
    """``pinlab selftest --list-eras``: each era, what it is, and the commits that made it."""
    lines = []
    for era in ERAS:
        lines.append(f"{era.name:8} {era.summary}")
        lines += [f"{'':8}   {c.commit} {c.subject} ({c.release})" for c in era.changes]
    return "\n".join(lines)
