"""The Result: judge follows judgelitmus.sh, checked against herd7's own judgements."""

from __future__ import annotations

import pytest

from pinlab.litmus.judge import Expectation, expectation, judge
from pinlab.litmus.verdict import Verdict
from tests.litmus.litmus_data import LITMUS, NEEDS_CORPUS, tsv


def v(
    observation: str, pos: int, neg: int, flags: tuple[str, ...] = (), speedcheck: str = "false"
) -> Verdict:
    return Verdict(
        name="T", kind="Allowed", states=(), ok=pos > 0, loop=False, witnesses=(pos, neg),
        flags=flags, condition="exists (true)", observation=observation, positive=pos,
        negative=neg, seconds=0.0, speedcheck=speedcheck,
    )  # fmt: skip


def test_result_lines() -> None:
    assert expectation("C t\n(*\n * Result: Never\n *)\n") == Expectation(
        "Never", False, "* Result: Never"
    )
    assert expectation("(* Result: Sometimes DATARACE *)") == Expectation(
        "Sometimes", True, "(* Result: Sometimes DATARACE *)"
    )
    assert expectation("C t\n * Note: Result: Never\n") is None
    assert expectation("C t\n{}\n") is None


@pytest.mark.parametrize(
    ("outcome", "datarace", "verdict", "passed", "message"),
    [
        ("Never", False, v("Never", 0, 3), True, ""),
        ("Sometimes", False, v("Never", 0, 3), False, "Unexpected non-Sometimes verification"),
        ("Maybe", False, v("Always", 2, 0), True, ""),
        ("DEADLOCK", False, v("Never", 0, 0), True, ""),
        ("DEADLOCK", False, v("Never", 0, 1), False, "Unexpected non-DEADLOCK verification"),
        ("Never", False, v("Never", 0, 0), False, "Unexpected non-Never deadlock"),
        ("Never", True, v("Sometimes", 1, 1, ("data-race",)), True,
         "Forgiven non-Never verification"),
        ("Never", True, v("Never", 0, 1), False, "Predicted data race not modeled"),
        ("Never", False, v("Never", 0, 1, ("data-race",)), False, "Unexpected data race modeled"),
        ("Never", False, None, False, "Verification error"),
        # --speedcheck counted only what settles the condition: no states is no deadlock
        ("Never", False, v("Never", 0, 0, speedcheck="true"), True, ""),
        ("DEADLOCK", False, v("Never", 0, 0, speedcheck="fast"), False,
         "DEADLOCK cannot be told under --speedcheck"),
        ("Never", True, v("Never", 0, 0, speedcheck="true"), False,
         "Predicted data race not checked under --speedcheck"),
    ],
)  # fmt: skip
def test_rules(
    outcome: str, datarace: bool, verdict: Verdict | None, passed: bool, message: str
) -> None:
    j = judge(Expectation(outcome, datarace, ""), verdict)
    assert (j.passed, j.message) == (passed, message)


@NEEDS_CORPUS
def test_agrees_with_the_judgements_of_herd7_runs() -> None:
    """Judging herd7's verdicts on the paulmck tests gives the judge column of expected.tsv."""
    rows = tsv("paulmck")
    assert len(rows) == 509
    checked = 0
    for row in rows:
        source = (LITMUS / "paulmck" / row["path"]).read_text()
        exp = expectation(source)
        assert (exp is None) == (row["judge"] == "n/a"), row["path"]
        if exp is None or row["judge"] in ("ERROR", "TIMEOUT"):
            continue
        flags = tuple(f for f in row["herd7_flags"].split(",") if f)
        herd = v(
            row["herd7_verdict"], int(row["herd7_positive"]), int(row["herd7_negative"]), flags
        )
        passed = row["judge"] == "pass" or row["judge"].startswith("forgiven")
        assert judge(exp, herd).passed == passed, row["path"]
        checked += 1
    assert checked == 381
