"""Early checks of a filter's register atoms: where they go, and that they change no count."""

from __future__ import annotations

import pytest

from pinlab.engine.explore import explore
from pinlab.engine.ops import Assume, Load, Rmw
from pinlab.litmus import ast
from pinlab.litmus.early import early_checks
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text

HEAD = "C t\n{}\n"


def _test(body0: str, tail: str) -> ast.Test:
    text = (
        HEAD
        + f"P0(int *x, int *y) {{ {body0} }}\n"
        + "P1(int *x, int *y) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); }\n"
        + tail
    )
    return parse_text(text, "t.litmus")


def _checked(test: ast.Test) -> list[tuple[str, int, bool]]:
    """The (register, value, equal) checks placed in P0, in statement order."""
    checks = early_checks(test, test.filter)[0]
    return [c for cs in checks.values() for c in cs]


def _assumes(test: ast.Test, answers: list[int]) -> int:
    """How many Assume operations P0 yields when its reads answer ``answers``."""
    gen = lower(test).program.threads[0]()
    it, answer, n = iter(answers), None, 0
    try:
        while True:
            op = gen.send(answer)
            n += isinstance(op, Assume)
            answer = next(it) if isinstance(op, Load | Rmw) else None
    except StopIteration:
        return n


def test_a_branch_assignment_that_is_last_is_checked() -> None:
    t = _test(
        "int r0 = 0; int r1; r1 = READ_ONCE(*y); if (r1) { r0 = READ_ONCE(*x); }",
        "filter (0:r0=1 /\\ 0:r1=1)\nexists (0:r0=1)\n",
    )
    assert sorted(_checked(t)) == [("r0", 1, True), ("r1", 1, True)]
    assert _assumes(t, [1, 1]) == 2
    assert _assumes(t, [0]) == 1  # the branch is not taken: only r1 is checked early


@pytest.mark.parametrize(
    "body",
    [
        "int r0; r0 = READ_ONCE(*x); r0 = READ_ONCE(*y);",
        "int r0; if (READ_ONCE(*y)) { r0 = READ_ONCE(*x); } r0 = READ_ONCE(*x);",
    ],
)
def test_only_the_last_assignment_is_checked(body: str) -> None:
    t = _test(body, "filter (0:r0=1)\nexists (0:r0=1)\n")
    assert _checked(t) == [("r0", 1, True)]
    assert _assumes(t, [1, 1, 1]) == 1


@pytest.mark.parametrize(
    "body",
    [
        "int r0 = 0; int r1 = 0; while (r1 < 2) { r0 = READ_ONCE(*x); r1 = r1 + 1; }",
        "int r0; int *r2; r0 = READ_ONCE(*x); r2 = &r0;",  # its address is taken
        "int r0; r0 = (r0 = 1) + READ_ONCE(*x);",  # the value assigns it too
    ],
)
def test_no_check_where_the_value_may_not_be_final(body: str) -> None:
    t = _test(body, "filter (0:r0=1)\nexists (0:r0=1)\n")
    assert _checked(t) == []


def test_only_conjuncts_are_checked() -> None:
    t = _test("int r0; r0 = READ_ONCE(*x);", "filter (0:r0=1 \\/ 0:r0=0)\nexists (0:r0=1)\n")
    assert _checked(t) == []


@pytest.mark.parametrize("model", ["sc", "lkmm"])
def test_early_checks_change_no_count(model: str) -> None:
    body = (
        "int r0 = 0; int r1; int r2; r1 = READ_ONCE(*y); "
        "if (r1) { r0 = READ_ONCE(*x); } else { r0 = 2; } r2 = READ_ONCE(*x);"
    )
    filtered = _test(body, "filter (0:r0=1 /\\ 0:r2=1)\nexists (0:r1=1)\n")
    result = explore(lower(filtered).program, model)
    assert result.positive == 1 and result.negative == 0  # r1=1, r0=1, r2=1 only
    # The same test with the filter's atoms out of reach of early checks
    # (a disjunction with a false disjunct) counts the same executions.
    late = _test(body, "filter ((0:r0=1 /\\ 0:r2=1) \\/ 0:r0=7)\nexists (0:r1=1)\n")
    assert _checked(late) == []
    again = explore(lower(late).program, model)
    assert (again.states, again.positive, again.negative) == (
        result.states,
        result.positive,
        result.negative,
    )
    assert result.stats.explored < again.stats.explored
