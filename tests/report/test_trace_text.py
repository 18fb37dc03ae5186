"""The trace's text layout (``pinlab explain --format text``) and its JSON record."""

from __future__ import annotations

import itertools
import re
from functools import cache

from pinlab.report.trace import Layout, explanation_record, render_explanation
from pinlab.report.wrap import render, tokens
from pinlab.scenarios.explain import Explanation, find_counterexample
from pinlab.scenarios.replay import select_one

_STEP = re.compile(r"^#(\d+) CPU(\d+) ")


@cache
def _v5_9() -> Explanation:
    return find_counterexample(select_one("fork-vs-pin-fast", "v5.9", "sc"))


def test_a_step_after_the_other_a_blank_line_at_each_switch() -> None:
    ex = _v5_9()
    assert ex.best is not None
    lines = render(render_explanation(ex, "text", 80), 80).splitlines()
    assert "CPU0: pin_user_pages_fast" in lines and "CPU1: fork" in lines
    steps = [(i, m) for i, line in enumerate(lines) if (m := _STEP.match(line))]
    assert [int(m[1]) for _, m in steps] == list(range(1, len(ex.best.order) + 1))
    switches = 0
    for (i, a), (_, b) in itertools.pairwise(steps):
        switched = a[2] != b[2]
        switches += switched
        # a blank line right before a step that runs on another CPU, and only there
        before = [line for line in lines[i + 1 :] if not line.startswith("    ")]
        assert (before[0] == "") is switched, before[:2]
    assert switches == ex.best.switches == 2
    assert all(len(line) <= 80 for line in lines)


def test_the_text_layout_says_what_the_table_says() -> None:
    """The same steps, operations and values: the words of each table cell are
    among the text's (the table's header and its CPU columns aside; the text
    puts a colon between a location and what a write changed)."""
    ex = _v5_9()

    def words(layout: Layout, width: int) -> set[str]:
        return {
            w.removesuffix(":")
            for w in tokens(render(render_explanation(ex, layout, width), width))
        }

    text, table = words("text", 1000), words("table", 400)
    missing = {w for w in table if w not in text and not w.isdigit()}
    assert missing <= {"#"}, missing


def test_the_record_has_a_record_per_step() -> None:
    ex = _v5_9()
    assert ex.best is not None
    record = explanation_record(ex)
    assert len(record["events"]) == len(ex.best.order)
    assert record["why"] == []  # (sc: no weak cycle)
    assert record["outcome"] == ex.best.outcome
    write = record["events"][17]
    assert write["index"] == 18 and write["function"] == "mm_set_has_pinned_flag"
    assert (write["operation"], write["location"], write["value"]) == (
        "WRITE_ONCE", "mm0.1->has_pinned", "0 → 1"
    )  # fmt: skip
