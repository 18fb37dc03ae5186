"""What ``pinlab selftest`` shows: kselftest TAP or JSON records, and the list of eras.

Functions here return text and an exit code; :mod:`pinlab.cli` prints them.

TAP output is cow.c's (gup_longterm.c's), line for line.  After a result the model adds
kselftest-style ``#`` comment lines:

- ``# [MODEL] ...`` for every invariant found broken during the test (which,
  at which step, in which kernel functions, and why);
- ``# [HISTORY] ...`` for a failure or skip: the recorded reason and commits
  from the era table, or a warning if the model disagrees with history.

Each run is one TAP document: ``TAP version 13`` first, then ``# [ERA]`` (with
``--era all``) and ``# [FS]`` (gup_longterm with ``--fs all``) comment lines,
the plan, the results and kselftest's ``# Totals:`` line.  Output of more than
one run ends with a ``# [SUMMARY]`` comment and a ``# Totals:`` line of
kselftest's format over all of them:

- with ``--era all`` the summary compares each result with the one the era table
  records for its era (``cow_expected.toml``, ``gup_longterm_expected.toml``):
  pass, skip -- as recorded; xfail -- a failure recorded for that era (an old
  era's known bug); fail -- a failure or skip where the era records otherwise;
  xpass -- a pass where the era records a failure; error -- a broken promised
  invariant.  The exit status is 0 when every result matches its era's record
  (fail, xpass and error all 0), 1 otherwise: ``--era all`` checks the model
  against history;
- with one era the runs are that kernel's selftest runs: the summary adds up
  their counters and the exit status is kselftest's (1 when a run fails).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pinlab.kernel.eras import ERAS, Era, era_by_name
from pinlab.kernel.mm_types import FILESYSTEMS
from pinlab.selftests import gup_longterm_expected
from pinlab.selftests.cow import CaseResult, run_cow
from pinlab.selftests.cow_expected import Expected, expected
from pinlab.selftests.cow_tests import ERROR, PASS, SKIP
from pinlab.selftests.gup_longterm import run_gup_longterm
from pinlab.selftests.ksft import Ksft

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


def _versus_history(totals: Ksft, result: str, recorded: str) -> None:
    """Count one result against the era's record (see the module's docstring)."""
    if result == ERROR:
        totals.nerror += 1
    elif result == recorded:
        if result == PASS:
            totals.npass += 1
        elif result == SKIP:
            totals.nskip += 1
        else:  # FAIL or XFAIL, as recorded
            totals.nxfail += 1
    elif result == PASS:
        totals.nxpass += 1
    else:
        totals.nfail += 1


def _add(totals: Ksft, ksft: Ksft) -> None:
    totals.npass += ksft.npass
    totals.nfail += ksft.nfail
    totals.nxfail += ksft.nxfail
    totals.nxpass += ksft.nxpass
    totals.nskip += ksft.nskip
    totals.nerror += ksft.nerror


def _tap(ksft: Ksft, comments: list[str]) -> list[str]:
    """One run's TAP document, ``comments`` right after its version line."""
    return [*ksft.lines[:1], *comments, *ksft.lines[1:]]


class _Summary:
    """The totals over several runs (the module's docstring says which)."""

    def __init__(self, all_eras: bool, lookup: Lookup) -> None:
        self.all_eras = all_eras
        self.lookup = lookup
        self.totals = Ksft()
        self.runs = 0
        self.code = 0

    def add(self, era: Era, ksft: Ksft, results: list[CaseResult], exit_code: int) -> None:
        self.runs += 1
        self.totals.plan += ksft.plan
        if not self.all_eras:
            _add(self.totals, ksft)
            self.code = max(self.code, exit_code)
            return
        for c in results:
            _versus_history(self.totals, c.result, self.lookup(era.name, c.case, c.kind).result)

    def exit_code(self) -> int:
        if not self.all_eras:
            return self.code
        t = self.totals
        return 0 if t.nfail == t.nxpass == t.nerror == 0 else 1

    def lines(self, what: str) -> list[str]:
        if self.runs < 2:
            return []  # one run: its own Totals line is the last
        if self.all_eras:
            how = "each result against the one recorded for its era (xfail: a known failure)"
        else:
            how = "kselftest's counters added up"
        lines = [f"# [SUMMARY] {self.runs} runs of {what}: {how}"]
        totals = Ksft(lines=lines, plan=self.totals.plan)
        _add(totals, self.totals)
        totals.print_cnts()
        return lines


def cow(era_name: str, as_json: bool) -> tuple[str, int]:
    """``pinlab selftest cow``: the output text and the exit code.

    The exit code is kselftest's (the worst of the runs) for one era; with
    ``--era all``, 0 when every result matches its era's record, 1 otherwise.
    """
    chunks: list[str] = []
    summary = _Summary(era_name == "all", expected)
    for era in resolve_eras(era_name):
        run = run_cow(era, annotate=None if as_json else _annotator(era))
        summary.add(era, run.ksft, run.results, run.exit_code)
        if as_json:
            chunks += [json.dumps(_record(era, c)) for c in run.results]
        else:
            comments = [f"# [ERA] {era.name}: {era.summary}"] if era_name == "all" else []
            chunks += _tap(run.ksft, comments)
    if not as_json:
        chunks += summary.lines("cow.c")
    return "\n".join(chunks), summary.exit_code()


def resolve_filesystems(name: str) -> list[str]:
    """``all`` or one filesystem name (KeyError if unknown)."""
    if name == "all":
        return list(FILESYSTEMS)
    if name not in FILESYSTEMS:
        raise KeyError(name)
    return [name]


def gup_longterm(era_name: str, fs: str, as_json: bool) -> tuple[str, int]:
    """``pinlab selftest gup_longterm``: one kselftest run per era and filesystem.

    The exit code as :func:`cow`'s.
    """
    lookup = gup_longterm_expected.expected
    chunks: list[str] = []
    summary = _Summary(era_name == "all", lookup)
    filesystems = resolve_filesystems(fs)
    for era in resolve_eras(era_name):
        for fstype in filesystems:
            annotate = None if as_json else _annotator(era, lookup)
            run = run_gup_longterm(era, fstype, annotate=annotate)
            summary.add(era, run.ksft, run.results, run.exit_code)
            if as_json:
                chunks += [
                    json.dumps(_record(era, c, lookup) | {"fs": fstype}) for c in run.results
                ]
                continue
            comments = [f"# [ERA] {era.name}: {era.summary}"] if era_name == "all" else []
            if fs == "all":
                comments.append(f"# [FS] /tmp and the current directory on {fstype}")
            chunks += _tap(run.ksft, comments)
    if not as_json:
        chunks += summary.lines("gup_longterm.c")
    return "\n".join(chunks), summary.exit_code()


def list_eras() -> str:
    """``pinlab selftest --list-eras``: each era, what it is, and the commits that made it."""
    lines = []
    for era in ERAS:
        lines.append(f"{era.name:8} {era.summary}")
        lines += [f"{'':8}   {c.commit} {c.subject} ({c.release})" for c in era.changes]
    return "\n".join(lines)
