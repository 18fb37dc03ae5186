"""engine.follow: an execution of one program that runs through another's path."""

from __future__ import annotations

from pinlab.engine import EvKind, Execution, ExecutionGraph, decide, follow, get_model, path_of
from pinlab.engine.program import Program
from pinlab.litmus.lower import lower
from pinlab.litmus.parse import parse_text

RACY = """C racy
{}
P0(int *x, int *y)
{
	int r0;
	r0 = READ_ONCE(*x);
	WRITE_ONCE(*y, r0);
}
P1(int *x)
{
	WRITE_ONCE(*x, 1);
}
exists (0:r0=1)
"""


def _program(text: str) -> Program:
    return lower(parse_text(text, "t.litmus")).program


def _witness(text: str) -> ExecutionGraph:
    found: list[Execution] = []
    decide(_program(text), "sc", engine="explore", on_execution=found.append)
    graph = next(e.graph for e in found if e.final.regs[0].get("r0") == 1)
    return graph


def test_the_path_of_a_graph_is_each_threads_accesses() -> None:
    path = path_of(_witness(RACY))
    assert [[(s.kind, str(s.loc), s.value) for s in t] for t in path] == [
        [(EvKind.R, "x", 1), (EvKind.W, "y", None)],
        [(EvKind.W, "x", None)],
    ]


def test_a_fix_that_reads_more_lets_the_path_through() -> None:
    """P0 re-reads z, which only P1 writes: the path runs with z read as P1's 1
    or the initial 0, and every read of the path sees its value again."""
    fixed = RACY.replace(
        "\tr0 = READ_ONCE(*x);\n", "\tint r1;\n\tr0 = READ_ONCE(*x);\n\tr1 = READ_ONCE(*z);\n"
    ).replace("P0(int *x, int *y)", "P0(int *x, int *y, int *z)")
    fixed = fixed.replace("P1(int *x)\n{\n", "P1(int *x, int *z)\n{\n\tWRITE_ONCE(*z, 1);\n")
    found = follow(_program(fixed), get_model("sc"), path_of(_witness(RACY)))
    assert found is not None
    reads = [found.graph.events[e] for e in found.graph.threads[0]]
    assert next((str(e.loc), e.value) for e in reads if e.kind is EvKind.R) == ("x", 1)
    assert found.final.regs[0]["r0"] == 1


def test_a_path_whose_value_no_write_gives_is_not_found() -> None:
    other = RACY.replace("WRITE_ONCE(*x, 1);", "WRITE_ONCE(*x, 2);")
    assert follow(_program(other), get_model("sc"), path_of(_witness(RACY))) is None


def test_a_fix_that_decides_otherwise_is_not_found() -> None:
    """The fixed P0 writes y only when it read 0: the path (read 1, write y)
    cannot run on it whatever x is read as."""
    fixed = RACY.replace(
        "\tWRITE_ONCE(*y, r0);\n", "\tif (r0 == 0) {\n\t\tWRITE_ONCE(*y, 1);\n\t}\n"
    )
    assert follow(_program(fixed), get_model("sc"), path_of(_witness(RACY))) is None


def test_the_model_still_decides_what_the_fix_reads() -> None:
    """P1 now writes z before x, and P0 reads z after x: under sc, P0 having read
    x=1 (the path) must read z=1 too."""
    fixed = RACY.replace(
        "\tWRITE_ONCE(*y, r0);\n", "\tint r1;\n\tr1 = READ_ONCE(*z);\n\tWRITE_ONCE(*y, r0);\n"
    ).replace("P0(int *x, int *y)", "P0(int *x, int *y, int *z)")
    fixed = fixed.replace("P1(int *x)\n{\n", "P1(int *x, int *z)\n{\n\tWRITE_ONCE(*z, 1);\n")
    for _ in range(3):  # (the first execution found, each time the same)
        found = follow(_program(fixed), get_model("sc"), path_of(_witness(RACY)))
        assert found is not None
        assert (found.final.regs[0]["r0"], found.final.regs[0]["r1"]) == (1, 1)
