"""herd7's output: computed from an exploration, rendered line for line, read back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pinlab.engine.program import Loc
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text
from pinlab.litmus.verdict import parse_herd7, verdict
from pinlab.report.herd7 import render
from pinlab.report.litmus_json import record
from tests.litmus.litmus_data import LITMUS, NEEDS_CORPUS, corpus, rel

EXPECTED = sorted((LITMUS / "catalogue").glob("*.litmus.expected"))


@dataclass
class Stats:
    explored: int = 5
    consistent: int = 4


@dataclass
class FakeResult:
    states: dict[tuple[Any, ...], int]
    positive: int
    negative: int
    flags: frozenset[str] = frozenset()
    outcome: str = "complete"
    stats: Stats = field(default_factory=Stats)


TEST = """\
C MP
Hash=abc
{ y=x; }
P0(int *x) { WRITE_ONCE(*x, 1); }
P1(int *x, int **y) { r0 = READ_ONCE(*y); r1 = READ_ONCE(*x); }
locations [y]
"""


@NEEDS_CORPUS
def test_catalogue_expected_files_round_trip() -> None:
    assert len(EXPECTED) == 79
    for path in EXPECTED:
        text = path.read_text()
        (v,) = parse_herd7(text)
        assert render(v, time=False) == text, rel(path)


def test_exists_rendering_sorts_states_as_herd7() -> None:
    lw = lower(parse_text(TEST + "exists (1:r0=x /\\ 1:r1=0)\n"))
    states = {(Loc("x"), 1, Loc("x")): 2, (Loc("x"), 0, Loc("x")): 1, (0, -1, Loc("x")): 1}
    v = verdict(lw, FakeResult(states, positive=1, negative=3), seconds=0.014)
    assert render(v) == (
        "Test MP Allowed\n"
        "States 3\n"
        "1:r0=0; 1:r1=-1; [y]=x;\n"
        "1:r0=x; 1:r1=0; [y]=x;\n"
        "1:r0=x; 1:r1=1; [y]=x;\n"
        "Ok\nWitnesses\nPositive: 1 Negative: 3\n"
        "Condition exists (1:r0=x /\\ 1:r1=0)\n"
        "Observation MP Sometimes 1 3\n"
        "Time MP 0.01\n"
        "Hash=abc\n\n"
    )


def test_not_exists_swaps_witnesses_and_flags_are_sorted() -> None:
    lw = lower(parse_text(TEST + "~exists (1:r1=0)\n"))
    result = FakeResult({(0, Loc("x")): 2}, positive=2, negative=0,
                        flags=frozenset({"mixed-accesses", "data-race"}))  # fmt: skip
    lines = render(verdict(lw, result, 0.0), time=False).splitlines()
    assert lines[0] == "Test MP Forbidden"
    assert lines[3:9] == [
        "No", "Witnesses", "Positive: 0 Negative: 2", "Flag data-race", "Flag mixed-accesses",
        "Condition ~exists (1:r1=0)",
    ]  # fmt: skip
    assert lines[9] == "Observation MP Always 2 0"


def test_forall_loop_and_incomplete_runs() -> None:
    lw = lower(parse_text(TEST + "forall (1:r1=0 \\/ 1:r1=1)\n"))
    looped = verdict(lw, FakeResult({}, 0, 0, outcome="bound-reached"), 0.0)
    assert "\nLoop Ok\n" in render(looped)
    assert "Observation MP Never 0 0" in render(looped)
    stopped = verdict(lw, FakeResult({}, 3, 0, outcome="time-limit"), 0.0)
    text = render(stopped)
    assert "Incomplete: time-limit, no verdict" in text
    assert "Observation" not in text
    assert (stopped.ok, stopped.observation) == (None, None)


def test_json_record() -> None:
    lw = lower(parse_text(TEST + "exists (1:r1=0)\n"))
    v = verdict(lw, FakeResult({(0, Loc("x")): 1}, 1, 0), 0.5)
    rec = json.loads(json.dumps(record(v, path="t.litmus", model="lkmm")))
    assert rec["states"] == [{"1:r1": "0", "[y]": "x"}]
    assert (rec["observation"], rec["ok"], rec["explored"], rec["hash"]) == (
        "Always",
        True,
        5,
        "abc",
    )


@pytest.mark.parametrize("path", corpus(EXPECTED[:3]), ids=lambda p: Path(p).name)
def test_parse_herd7_fields(path: Path) -> None:
    (v,) = parse_herd7(path.read_text() + "\n" + path.read_text())[:1]
    assert v.observation in ("Never", "Sometimes", "Always")
    assert v.positive + v.negative > 0
