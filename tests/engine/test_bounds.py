"""Programs that used to grow past any time limit, by how much work they take.

Not timed (timing lives in bench/): each counts the work instead.  A thread
of many stores to one location offers each store one coherence position
(after its own earlier stores), so nothing is tried and pruned; and the
product-form count makes one coherence order of a thread's stores, not every
permutation of them.
"""

from __future__ import annotations

from pathlib import Path

from pinlab.engine.explore import explore
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text
from pinlab.litmus.run import run_file


def _stores(n: int, readers: int = 0) -> str:
    stores = "".join("\tWRITE_ONCE(*z, 1);\n" for _ in range(n))
    text = f"C stores{n}\n\n{{}}\n\nP0(int *z)\n{{\n{stores}}}\n\n"
    for p in range(1, readers + 1):
        text += f"P{p}(int *z)\n{{\n\tint r0;\n\n\tr0 = READ_ONCE(*z);\n}}\n\n"
    return text + "exists (z=1)\n"


def test_a_thousand_stores_take_one_coherence_position_each() -> None:
    program = lower(parse_text(_stores(1000), "stores.litmus"), "false").program
    for model in ("sc", "lkmm"):
        result = explore(program, model)
        assert (result.stats.consistent, result.stats.pruned) == (1, 0), model


def test_the_product_form_does_not_permute_one_threads_stores(tmp_path: Path) -> None:
    path = tmp_path / "stores.litmus"
    path.write_text(_stores(12, readers=1))
    run = run_file(path, "lkmm", time_limit=600)  # (a hang guard, not a timer)
    assert run.verdict is not None and run.verdict.observation == "Always"
    assert run.verdict.outcome == "complete"
