"""Mail-ready text: what ``check`` and ``explain`` print into a pipe fits the width.

Into a pipe (CliRunner is one) the output is 80 columns, or ``--width N``; no
line is longer, no escape code is printed, nothing is shortened with an
ellipsis, and no word is cut: the words of the output (whitespace-separated
tokens, a table's rule aside) are exactly those of the same layout printed
with all the room it wants (``--width 1000``), only wrapped differently.

``explain`` is computed once (:func:`_v5_19`) and handed to each run; ``check``
reads its verdicts from the results cache after a first run, so that every
rendering compared shows ``cached`` in the same places.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from typing import Any

import pytest
from typer.testing import CliRunner

from pinlab.cli import app
from pinlab.report import check as check_report
from pinlab.report.wrap import tokens
from pinlab.scenarios.explain import Explanation

RUNNER = CliRunner()
ESCAPE = "\x1b"
WIDE = "1000"
SHARE_ANON = ["gup-fast-vs-try-share-anon", "--era", "v5.19", "--model", "lkmm"]
_DURATION = re.compile(r"\b\d+\.\d+ s\b")


def _words(text: str) -> Counter[str]:
    return tokens(_DURATION.sub("<T> s", text))


def _assert_fits(text: str, width: int) -> None:
    lines = text.splitlines()
    too_long = [line for line in lines if len(line) > width]
    assert not too_long, f"{len(too_long)} lines over {width} columns: {too_long[:3]}"
    assert "…" not in text
    assert ESCAPE not in text


def _run(*args: str) -> str:
    result = RUNNER.invoke(app, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.stdout


# -- explain --------------------------------------------------------------------------


@cache
def _v5_19() -> Explanation:
    from pinlab.scenarios.explain import find_counterexample
    from pinlab.scenarios.replay import select_one

    return find_counterexample(select_one(*SHARE_ANON[::2]))


@pytest.fixture
def share_anon(monkeypatch: pytest.MonkeyPatch) -> Explanation:
    """``explain``s search, done once for the module: each run prints it anew."""
    ex = _v5_19()
    monkeypatch.setattr("pinlab.scenarios.explain.find_counterexample", lambda *_a, **_k: ex)
    return ex


@pytest.mark.parametrize("width", [None, 60, 120])
def test_explain_fits_the_width_and_cuts_no_word(
    share_anon: Explanation, width: int | None
) -> None:
    args = ["explain", *SHARE_ANON] + ([] if width is None else ["--width", str(width)])
    narrow, wide = _run(*args), _run("explain", *SHARE_ANON, "--width", WIDE)
    _assert_fits(narrow, width or 80)
    assert _words(narrow) == _words(wide)
    assert narrow != wide  # (it did wrap)
    # the text layout: a step after the other, the CPU named on each
    assert "#16 CPU0 try_to_merge_one_page: folio_test_swapcache()" in narrow
    # the flags wrap between flags, never inside one
    assert "PG_swapbacked |" in " ".join(narrow.split())


def test_explain_format_text_on_a_terminal_is_plain_80_columns(
    share_anon: Explanation, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped = _run("explain", *SHARE_ANON)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: every console is a terminal
    monkeypatch.setenv("COLUMNS", "200")
    assert ESCAPE in _run("explain", *SHARE_ANON)  # a terminal: colour
    text = _run("explain", *SHARE_ANON, "--format", "text")
    _assert_fits(text, 80)
    assert text == piped  # what a pipe gets, on the terminal too


def test_explain_format_table_into_a_pipe(share_anon: Explanation) -> None:
    table = _run("explain", *SHARE_ANON, "--format", "table", "--width", "300")
    assert "CPU0: try_to_merge_one_page" in table and "CPU1: pin_user_pages_fast" in table
    header = next(line for line in table.splitlines() if "CPU0: try_to_merge" in line)
    assert "CPU1: pin_user_pages_fast" in header  # the CPUs side by side
    assert ESCAPE not in table


def test_explain_json(share_anon: Explanation) -> None:
    out = _run("explain", *SHARE_ANON, "--json")
    assert len(out.splitlines()) == 1
    record: dict[str, Any] = json.loads(out)
    assert record["scenario"] == "gup-fast-vs-try-share-anon"
    assert (record["variant"], record["era"], record["model"]) == ("v5.19", "v5.19", "lkmm")
    assert record["verdict"] == "reachable"
    assert record["executions"] == share_anon.exploration.stats.consistent
    assert record["witnesses"] == share_anon.reachable
    assert share_anon.best is not None
    assert record["context_switches"] == share_anon.best.switches
    events = record["events"]
    assert [e["index"] for e in events] == list(range(1, len(events) + 1))
    fields = {"index", "cpu", "thread", "function", "source", "caller", "model_source",
              "operation", "location", "value", "note", "barrier"}  # fmt: skip
    assert all(set(e) == fields for e in events)
    first = events[0]
    assert (first["cpu"], first["thread"], first["function"]) == (
        0, "try_to_merge_one_page", "folio_test_anon"
    )  # fmt: skip
    assert (first["source"], first["operation"]) == ("include/linux/page-flags.h", "READ_ONCE")
    assert (first["location"], first["value"]) == ("folio0x102->mapping", "= anon")
    labelled = [e for e in events if e["barrier"]]
    assert labelled and labelled[0]["barrier"] == "gup_fast:seq-begin-rmb"
    assert labelled[0]["operation"] == "smp_rmb()" and labelled[0]["location"] is None
    assert any(e["note"] and e["note"].startswith("from #") for e in events)
    # why: cycles of steps, each edge from one step to the next
    assert len(record["why"]) == 3
    for cycle in record["why"]:
        assert cycle["shape"] == "message passing (MP)"
        edges = cycle["edges"]
        assert [e["to"] for e in edges] == [e["from"] for e in edges[1:]] + [edges[0]["from"]]
        assert {e["relation"] for e in edges} <= {"po", "rf", "co", "fr"}
        for e in edges:
            assert ("ordering" in e) == (e["relation"] == "po")
            assert 1 <= e["from"] <= len(events)


def test_explain_json_never() -> None:
    out = _run("explain", "fork-vs-pin-fast", "--era", "v5.11", "--model", "sc", "--json")
    record = json.loads(out)
    assert record["verdict"] == "never"
    assert (record["events"], record["why"], record["outcome"]) == ([], [], None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explain", *SHARE_ANON, "--width", "39"], "--width must be at least 40, not 39"),
        (["check", "--width", "0"], "--width must be at least 40, not 0"),
        (["barriers", "fork-vs-pin-fast", "--width", "12"], "--width must be at least 40"),
        (["explain", *SHARE_ANON, "--format", "html"], "--format must be one of auto, table"),
    ],
)
def test_bad_width_or_format(args: list[str], message: str) -> None:
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


# -- check ----------------------------------------------------------------------------


def _layouts(args: list[str], monkeypatch: pytest.MonkeyPatch) -> list[Counter[str]]:
    """The words of both layouts of ``pinlab ARGS`` with all the room they want: the
    table, and the blocks (forced: the table fits 1000 columns)."""
    table = _run(*args, "--width", WIDE)
    with monkeypatch.context() as m:
        m.setattr(check_report, "fits", lambda *_: False)
        blocks = _run(*args, "--width", WIDE)
    assert "era/variant" in table and "era/variant" not in blocks
    return [_words(table), _words(blocks)]


def _check_fits(names: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _run("check", *names, "--model", "lkmm", "--json")  # the verdicts, into the cache
    layouts = _layouts(["check", *names, "--model", "lkmm"], monkeypatch)
    for width in (None, 60, 120):
        args = [] if width is None else ["--width", str(width)]
        narrow = _run("check", *names, "--model", "lkmm", *args)
        _assert_fits(narrow, width or 80)
        assert _words(narrow) in layouts, f"--width {width}: a word cut"
        words = narrow.split()
        assert any("current/arm64-nobatch-no-sync-empty" in w for w in words)
        assert any("current/arm64-nobatch-no-sync" in w.split("]")[0] for w in words)


def test_check_fits_the_width_and_cuts_no_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _check_fits(["pgtable-free-vs-gup-fast"], monkeypatch)


@pytest.mark.slow
def test_check_of_the_report_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tester's command: its table was cut at 120 columns into a pipe (~70 s)."""
    _check_fits(["fork-vs-pin-fast", "pgtable-free-vs-gup-fast"], monkeypatch)


def test_check_too_wide_a_table_is_a_block_per_row() -> None:
    args = ["check", "pgtable-free-vs-gup-fast", "--model", "lkmm", "--era"]
    lines = _run(*args, "arm64-nobatch-no-sync-empty").splitlines()
    assert lines[0] == "pgtable-free-vs-gup-fast [current/arm64-nobatch-no-sync-empty] under lkmm"
    assert lines[1].startswith("    reachable, expected reachable: 2 executions, ")
    assert lines[2:] == ["", lines[3]] and lines[3].startswith("1 scenario in ")


def test_check_list_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    layouts = _layouts(["check", "--list"], monkeypatch)
    for width in (60, 80):
        out = _run("check", "--list", "--width", str(width))
        _assert_fits(out, width)
        assert _words(out) in layouts


def test_barriers_fit() -> None:
    args = ["barriers", "fork-vs-pin-fast", "--era", "v5.11", "--model", "sc"]
    for width in (60, 80):
        out = _run(*args, "--width", str(width))
        _assert_fits(out, width)
        assert _words(out) == _words(_run(*args, "--width", WIDE))
