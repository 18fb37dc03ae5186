"""An execution graph as Graphviz DOT (``explain``/``replay``/``litmus --dot``).

The graph is built with :mod:`pydot`, which quotes identifiers and labels;
DOT's own escapes are left to this module only for a backslash, so a label
reads in Graphviz exactly as in the trace.  The drawing follows herd7's
(``herd/Pretty.ml``): one cluster per thread -- one per CPU, named as the
program names it (``CPU0: pin_user_pages_fast``; ``P0`` in a litmus test) --
holding its events in program order, and a cluster of initial writes apart.
Edges, coloured as herd7 colours them:

- ``po`` (black) between consecutive events of a thread;
- ``rf`` (red) from each write to the reads that read it (lock reads included);
- ``co`` (blue) between consecutive writes of a location;
- ``fr`` (orange, herd7's ``#ffa040``) from each read to the write that comes
  right after its own write in coherence order (not to its own RMW's write).

``po`` edges are heavy (``weight``), so that Graphviz keeps each CPU a straight
column in program order; invisible edges (``style=invis``) stack the initial
writes in a column too.  (The other edges rank as well: ``constraint=false``
on edges between clusters makes Graphviz 2.42 lose edges -- "lost edge",
"trouble in init_rank".)  An event's label is its step number in the trace, the kernel
function, and the operation in kernel terms (:mod:`pinlab.report.kterms`).
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from pinlab.engine import (
    CondKind,
    Event,
    EvKind,
    Execution,
    ExecutionGraph,
    Limits,
    Program,
    decide,
)
from pinlab.report.kterms import describe_loc, describe_value, operation, source_of
from pinlab.scenarios.explain import Counterexample

if TYPE_CHECKING:  # (pydot and the litmus front end load when a graph is built)
    import pydot

__all__ = [
    "COLOURS",
    "GraphvizError",
    "LitmusPick",
    "Relation",
    "build_dot",
    "event_lines",
    "graphviz",
    "pick_litmus_execution",
    "relations",
    "render_dot",
    "render_litmus_dot",
    "render_svg_with_graphviz",
    "step_numbers",
    "svg_unavailable",
]

COLOURS: Final = {"po": "black", "rf": "red", "co": "blue", "fr": "#ffa040"}
"""herd7's colour of each relation (``herd/Pretty.ml``: ``init_pretty``)."""


@dataclass(frozen=True, slots=True)
class Relation:
    """One edge of the execution graph: ``rel`` from event ``src`` to event ``dst``."""

    rel: str  # po | rf | co | fr
    src: int
    dst: int


def step_numbers(cex: Counterexample) -> dict[int, int]:
    """eid -> the number of the trace step it belongs to (from 1)."""
    return {e: n for n, step in enumerate(cex.order, 1) for e in step}


def event_lines(ev: Event, step: int | None = None) -> list[str]:
    """An event's label, a line each: ``#step function()``, the operation and
    location, the value read or written (an initial write: one line)."""
    if ev.kind is EvKind.INIT:
        return [f"init {describe_loc(ev.loc or '')} = {describe_value(ev.loc, ev.value)}"]
    src = source_of(ev.src)
    head = " ".join(
        ([f"#{step}"] if step is not None else []) + ([f"{src.function}()"] if src else [])
    )
    what = operation((ev,))
    if ev.loc is not None:
        what += f" {describe_loc(ev.loc)}"
    lines = [head] if head else []
    lines.append(what)
    if ev.value is not None and ev.kind is not EvKind.F:
        lines.append(f"= {describe_value(ev.loc, ev.value)}")
    return lines


def relations(graph: ExecutionGraph) -> list[Relation]:
    """Every edge the drawing shows: po, then co, then rf and fr (see the module doc)."""
    out = [Relation("po", a, b) for eids in graph.threads for a, b in itertools.pairwise(eids)]
    nxt: dict[int, int] = {}
    for ws in graph.lock_co().values():
        for a, b in itertools.pairwise(ws):
            out.append(Relation("co", a, b))
            nxt[a] = b
    for r, w in sorted(graph.reads_from().items()):
        out.append(Relation("rf", w, r))
        after = nxt.get(w)
        if after is not None and graph.events[after].rmw != r:
            out.append(Relation("fr", r, after))
    return out


def _text(s: str) -> str:
    """``s`` as a DOT string's content: pydot quotes it and turns newlines into
    ``\\n``, but leaves a backslash to be read as an escape."""
    return s.replace("\\", "\\\\")


def _node(ev: Event, step: int | None) -> pydot.Node:
    import pydot

    return pydot.Node(f"e{ev.eid}", label=_text("\n".join(event_lines(ev, step))))


def _edge(r: Relation) -> pydot.Edge:
    import pydot

    colour = COLOURS[r.rel]
    edge = pydot.Edge(f"e{r.src}", f"e{r.dst}")
    edge.set("label", f'"{r.rel}"')  # (quoted as herd7 writes it: label="rf")
    edge.set("color", colour)
    edge.set("fontcolor", colour)
    if r.rel == "po":
        edge.set("weight", "10")
    return edge


def build_dot(
    graph: ExecutionGraph,
    name: str,
    thread_label: Callable[[int], str],
    step_of: Mapping[int, int] | None = None,
    title: str = "",
) -> pydot.Dot:
    """The DOT graph of ``graph`` (see the module doc); ``thread_label(tid)``
    names a CPU's cluster, ``step_of`` numbers the events as the trace does."""
    import pydot

    steps = step_of or {}
    dot = pydot.Dot(_text(name), graph_type="digraph")
    if title:
        dot.set("label", _text(title))
        dot.set("labelloc", "t")
    dot.set_node_defaults(shape="box", fontsize="10", fontname="monospace")
    dot.set_edge_defaults(fontsize="9")
    inits = [e for e in graph.events if e.tid < 0]
    if inits:
        cluster = pydot.Subgraph("cluster_init", label="initial writes", style="dashed")
        for e in inits:
            cluster.add_node(_node(e, None))
        for a, b in itertools.pairwise(inits):  # (a column, not a row: no edge ranks them)
            cluster.add_edge(pydot.Edge(f"e{a.eid}", f"e{b.eid}", style="invis"))
        dot.add_subgraph(cluster)
    for tid, eids in enumerate(graph.threads):
        cluster = pydot.Subgraph(f"cluster_cpu{tid}", label=_text(thread_label(tid)))
        for eid in eids:
            cluster.add_node(_node(graph.events[eid], steps.get(eid)))
        dot.add_subgraph(cluster)
    for r in relations(graph):
        dot.add_edge(_edge(r))
    return dot


def render_dot(cex: Counterexample) -> str:
    """``explain --dot``: the counterexample's execution graph, its events
    numbered by the trace's steps, titled with the forbidden outcome."""
    program = cex.built.program
    dot = build_dot(
        cex.execution.graph,
        cex.scenario.key,
        lambda tid: f"CPU{tid}: {program.thread_name(tid)}",
        step_numbers(cex),
        f"{cex.scenario.key}: {cex.outcome}",
    )
    return str(dot.to_string())


# ------------------------------------------------------------ litmus tests


@dataclass(frozen=True, slots=True)
class LitmusPick:
    """The one execution of a litmus test that ``pinlab litmus --dot`` draws."""

    program: Program
    execution: Execution
    which: str  # why this one: "witness of exists (...)", "the first execution", ...


def pick_litmus_execution(
    path: str | Path, model: str, engine: str = "explore", time_limit: float | None = None
) -> LitmusPick | None:
    """The execution of the test in ``path`` to draw: the first execution whose
    final state satisfies the proposition of its ``exists`` or ``~exists``
    clause (the witness; for ``~exists`` the one that breaks it), for
    ``forall`` the first that does not satisfy it; failing that, the first
    execution.  Only the executions the ``filter`` clause keeps count.  None:
    no execution (within ``time_limit``).  Raises :class:`LitmusError` for a
    test that does not parse or lower.
    """
    from pinlab.litmus.lower import lower
    from pinlab.litmus.parse import parse_text
    from pinlab.litmus.source import read_source

    program = lower(parse_text(read_source(path), str(path))).program
    cond = program.condition
    wanted = cond.kind is not CondKind.FORALL
    first: list[Execution] = []
    hit: list[Execution] = []

    def keep(ex: Execution) -> None:
        if not first:
            first.append(ex)
        if not hit and cond.satisfied_by(ex.final) is wanted:
            hit.append(ex)

    limits = Limits(time_limit=time_limit, stop_at_witness=wanted)
    decide(program, model, engine=engine, limits=limits, on_execution=keep)
    if hit:
        what = "witness of" if wanted else "counterexample to"
        return LitmusPick(program, hit[0], f"{what} {cond.text}")
    if first:
        return LitmusPick(
            program,
            first[0],
            f"the first execution (none satisfies {cond.text})"
            if wanted
            else f"the first execution ({cond.text} holds in all)",
        )
    return None


def render_litmus_dot(pick: LitmusPick) -> str:
    """``litmus --dot``: the picked execution, titled with why it was picked."""
    program = pick.program
    title = f"{program.name}: {pick.which}"
    dot = build_dot(pick.execution.graph, program.name, program.thread_name, None, title)
    return str(dot.to_string())


# ----------------------------------------------------------------- Graphviz


class GraphvizError(RuntimeError):
    """Graphviz's ``dot`` failed to lay a graph out (its message)."""


def graphviz() -> str | None:
    """The path of Graphviz's ``dot`` program, or None when it is not on PATH."""
    return shutil.which("dot")


def svg_unavailable() -> str | None:
    """Why ``--svg`` cannot be honoured (one line for the command's error), or None."""
    if graphviz() is None:
        return "--svg needs Graphviz's dot program on PATH (install graphviz; --dot needs nothing)"
    return None


def render_svg_with_graphviz(dot_text: str, timeout: float = 60.0) -> str:
    """``dot_text`` laid out and drawn by Graphviz (``dot -Tsvg``)."""
    exe = graphviz()
    if exe is None:
        raise GraphvizError("Graphviz's dot is not on PATH")
    try:
        done = subprocess.run(
            [exe, "-Tsvg"], input=dot_text, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as err:
        raise GraphvizError(str(err)) from None
    if done.returncode != 0:
        raise GraphvizError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else
                            f"dot exited with {done.returncode}")  # fmt: skip
    return done.stdout
