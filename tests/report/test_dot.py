"""The execution graph as DOT (``explain``/``replay``/``litmus --dot``) and ``--svg``.

The DOT is parsed back with pydot: its clusters, nodes and edges are the
execution's, coloured as herd7 colours them, and its labels hold DOT newline
escapes (``\\n``), not a backslash and an ``n``.  Where Graphviz's ``dot`` is
on PATH it lays the graph out too (``--svg``); elsewhere that test skips and
``--svg`` must refuse with one line and exit 2 before any work.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pydot
import pytest
from typer.testing import CliRunner

from pinlab.cli import app
from pinlab.engine import Event, EvKind, Loc
from pinlab.report import dot as dot_report
from pinlab.report.dot import COLOURS, relations, render_dot
from pinlab.report.kterms import operation
from pinlab.scenarios.explain import Counterexample, find_counterexample
from pinlab.scenarios.replay import select_one

RUNNER = CliRunner()
ERA = ["fork-vs-pin-fast", "--era", "v5.9", "--model", "sc"]
MP = Path(__file__).resolve().parents[2] / "examples" / "litmus" / "MP+onces.litmus"
NO_DOT = "Graphviz's dot is not on PATH"
# pydot's parser calls pyparsing's old names (deprecated in pyparsing 3.3)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pydot.dot_parser")


@pytest.fixture(scope="module")
def cex() -> Counterexample:
    best = find_counterexample(select_one("fork-vs-pin-fast", "v5.9", "sc", None)).best
    assert best is not None
    return best


def _parse(text: str) -> pydot.Dot:
    graphs = pydot.graph_from_dot_data(text)
    assert graphs is not None and len(graphs) == 1
    return graphs[0]


@pytest.fixture(scope="module")
def parsed(cex: Counterexample) -> pydot.Dot:
    return _parse(render_dot(cex))


def _unquote(value: object) -> str:
    s = str(value)
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] == '"' else s


def _nodes(graph: pydot.Dot) -> dict[str, pydot.Node]:
    """Every node of the graph's clusters, by name."""
    return {n.get_name(): n for sub in graph.get_subgraphs() for n in sub.get_nodes()}


def test_dot_parses_back_to_the_execution(cex: Counterexample, parsed: pydot.Dot) -> None:
    graph = cex.execution.graph
    clusters = [s.get_name() for s in parsed.get_subgraphs()]
    assert clusters == ["cluster_init", "cluster_cpu0", "cluster_cpu1"]
    labels = [_unquote(s.get("label")) for s in parsed.get_subgraphs()]
    assert labels == ["initial writes", "CPU0: pin_user_pages_fast", "CPU1: fork"]
    assert set(_nodes(parsed)) == {f"e{e.eid}" for e in graph.events}
    edges = {
        (e.get_source(), e.get_destination(), _unquote(e.get("label")), _unquote(e.get("color")))
        for e in parsed.get_edges()
    }
    want = {(f"e{r.src}", f"e{r.dst}", r.rel, COLOURS[r.rel]) for r in relations(graph)}
    assert want == edges
    assert {rel for _, _, rel, _ in edges} == {"po", "rf", "co", "fr"}
    assert COLOURS == {"po": "black", "rf": "red", "co": "blue", "fr": "#ffa040"}  # herd7's


def test_labels_break_lines_with_dot_escapes(cex: Counterexample, parsed: pydot.Dot) -> None:
    assert "\\\\n" not in render_dot(cex)  # (the bug: a backslash escaped twice, "\n" shown)
    first = cex.order[0][0]
    label = _unquote(_nodes(parsed)[f"e{first}"].get("label"))
    head, what = label.split("\\n")[:2]
    assert head.startswith("#1 ") and head.endswith("()")
    assert what.startswith("mmap_write_lock()")


def test_rmw_halves_are_named_as_the_rmw_that_succeeded(cex: Counterexample) -> None:
    graph = cex.execution.graph
    halves = [e for e in graph.events if e.kind is EvKind.R and e.rmw >= 0]
    assert halves, "the counterexample has a successful atomic RMW"
    for r in halves:
        assert "fails" not in operation((r,)), operation((r,))
        assert operation((r,)).endswith(": read")
        assert operation((graph.events[r.rmw],)).endswith(": write")
    assert "fails" not in render_dot(cex)


def test_a_failed_rmw_still_says_so() -> None:
    read = Event(0, 0, 0, EvKind.R, Loc("x"), 1, tag="mb", atomic=True, rmw=-1)
    assert operation((read,)) == "atomic RMW (mb) fails, reads only"
    won = Event(0, 0, 0, EvKind.R, Loc("x"), 1, tag="mb", atomic=True, rmw=1)
    assert operation((won,)) == "atomic RMW (mb): read"


def test_explain_and_replay_write_the_same_dot(tmp_path: Path) -> None:
    dot, saved, again = tmp_path / "race.dot", tmp_path / "race.json", tmp_path / "again.dot"
    result = RUNNER.invoke(app, ["explain", *ERA, "--dot", str(dot), "--save", str(saved)])
    assert result.exit_code == 0, result.output
    replayed = RUNNER.invoke(app, ["replay", str(saved), "--dot", str(again)])
    assert replayed.exit_code == 0, replayed.output
    assert dot.read_text() == again.read_text()
    assert _parse(dot.read_text()).get_name() == '"fork-vs-pin-fast[v5.9]@sc"'


def test_litmus_dot_draws_the_witness(tmp_path: Path) -> None:
    out = tmp_path / "mp.dot"
    result = RUNNER.invoke(app, ["litmus", str(MP), "--dot", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Test MP+onces Allowed")
    parsed = _parse(out.read_text())
    assert _unquote(parsed.get("label")) == "MP+onces: witness of exists (1:r0=1 /\\\\ 1:r1=0)"
    labels = {name: _unquote(n.get("label")) for name, n in _nodes(parsed).items()}
    assert sorted(labels.values()) == sorted([
        "init data = 0", "init flag = 0", "WRITE_ONCE data\\n= 1", "WRITE_ONCE flag\\n= 1",
        "READ_ONCE flag\\n= 1", "READ_ONCE data\\n= 0",
    ])  # fmt: skip
    by_label = {v: k for k, v in labels.items()}
    rf = {(e.get_source(), e.get_destination()) for e in parsed.get_edges()
          if _unquote(e.get("label")) == "rf"}  # fmt: skip
    # the witness: P1 reads the flag P0 set, and the initial data
    assert (by_label["WRITE_ONCE flag\\n= 1"], by_label["READ_ONCE flag\\n= 1"]) in rf
    assert (by_label["init data = 0"], by_label["READ_ONCE data\\n= 0"]) in rf


def test_litmus_dot_takes_one_test(tmp_path: Path) -> None:
    out = tmp_path / "two.dot"
    result = RUNNER.invoke(app, ["litmus", str(MP), str(MP), "--dot", str(out)])
    assert result.exit_code == 2
    assert result.stderr == "pinlab litmus: --dot and --svg draw one test, not 2\n"
    assert result.stdout == "" and not out.exists()


@pytest.mark.parametrize("command", ["explain", "replay", "litmus"])
def test_svg_without_graphviz_fails_before_any_work(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dot_report, "graphviz", lambda: None)
    out = tmp_path / "graph.svg"
    first = {"explain": ERA, "replay": [str(tmp_path / "missing.json")], "litmus": [str(MP)]}
    result = RUNNER.invoke(app, [command, *first[command], "--svg", str(out)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"pinlab {command}: --svg needs Graphviz's dot program on PATH "
        "(install graphviz; --dot needs nothing)\n"
    )
    assert result.stdout == "" and not out.exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason=NO_DOT)
def test_graphviz_lays_out_the_dot_and_svg_is_written(tmp_path: Path) -> None:
    dot, svg = tmp_path / "race.dot", tmp_path / "race.svg"
    result = RUNNER.invoke(app, ["explain", *ERA, "--dot", str(dot), "--svg", str(svg)])
    assert result.exit_code == 0, result.output
    assert "<svg" in svg.read_text() and "CPU0: pin_user_pages_fast" in svg.read_text()
    laid = subprocess.run(["dot", "-Tplain", str(dot)], capture_output=True, text=True, check=False)
    assert laid.returncode == 0, laid.stderr
    assert laid.stderr == ""  # no warning either
    mp = tmp_path / "mp.svg"
    assert RUNNER.invoke(app, ["litmus", str(MP), "--svg", str(mp)]).exit_code == 0
    assert "<svg" in mp.read_text()
