"""kselftest.h's TAP lines and counters."""

from __future__ import annotations

from pinlab.selftests.ksft import KSFT_FAIL, KSFT_PASS, Ksft


def test_lines_as_kselftest_prints_them() -> None:
    k = Ksft()
    k.print_header()
    k.set_plan(5)
    k.print_msg("[RUN] something")
    k.test_result_pass("fine")
    k.test_result_fail("broken")
    k.test_result_skip("no swap")
    k.test_result_xfail("known")
    k.test_result_error("oops")
    assert k.finished() == KSFT_FAIL
    assert k.lines == [
        "TAP version 13",
        "1..5",
        "# [RUN] something",
        "ok 1 fine",
        "not ok 2 broken",
        "ok 3 # SKIP no swap",
        "ok 4 # XFAIL known",
        "not ok 5 # error oops",
        "# Totals: pass:1 fail:1 xfail:1 xpass:0 skip:1 error:1",
    ]


def test_finished_passes_with_skips_and_flags_a_wrong_plan() -> None:
    k = Ksft()
    k.set_plan(2)
    k.test_result(True, "a")
    k.test_result_skip("b")
    assert k.finished() == KSFT_PASS
    k = Ksft()
    k.set_plan(2)
    k.test_result(True, "a")
    assert k.finished() == KSFT_FAIL
    assert k.lines[-2] == "# Planned tests != run tests (2 != 1)"
