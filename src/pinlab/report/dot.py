"""An execution graph as Graphviz DOT (``pinlab explain --dot``).

One cluster per thread (named as the program names it) holding its events
in program order, and a cluster of initial writes.  Edges: ``po`` between
consecutive events of a thread, ``rf`` from each write to the reads that
read it (lock reads included), ``co`` between consecutive writes of a
location, and ``fr`` from each read to the write that comes right after its
own write in coherence order.  An event's label is its step number in the
trace, the kernel function, and the operation in kernel terms.
"""

from __future__ import annotations

import itertools

from pinlab.engine import Event, EvKind
from pinlab.report.kterms import describe_loc, describe_value, operation, source_of
from pinlab.scenarios.explain import Counterexample

__all__ = ["render_dot"]

_EDGE_STYLE = {
    "po": 'color="black"',
    "rf": 'color="red", fontcolor="red"',
    "co": 'color="blue", fontcolor="blue"',
    "fr": 'color="orange", fontcolor="orange", style="dashed"',
}


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(ev: Event, step: int | None) -> str:
    if ev.kind is EvKind.INIT:
        return f"init {describe_loc(ev.loc or '')} = {describe_value(ev.loc, ev.value)}"
    head = f"#{step} " if step is not None else ""
    src = source_of(ev.src)
    func = f"{src.function}()\\n" if src is not None else ""
    what = operation((ev,))
    if ev.loc is not None:
        what += f" {describe_loc(ev.loc)}"
    if ev.value is not None and ev.kind is not EvKind.F:
        what += f" = {describe_value(ev.loc, ev.value)}"
    return f"{head}{func}{what}"


def render_dot(cex: Counterexample) -> str:
    graph = cex.execution.graph
    program = cex.built.program
    step_of = {e: n for n, step in enumerate(cex.order, 1) for e in step}
    out = [f"digraph {_quote(cex.scenario.key)} {{", "  node [shape=box, fontsize=10];"]
    out.append("  edge [fontsize=9];")

    def node(ev: Event) -> str:
        return f"    e{ev.eid} [label={_quote(_label(ev, step_of.get(ev.eid)))}];"

    inits = [e for e in graph.events if e.tid < 0]
    out.append('  subgraph cluster_init {\n    label="initial writes";')
    out.extend(node(e) for e in inits)
    out.append("  }")
    for tid, eids in enumerate(graph.threads):
        out.append(f"  subgraph cluster_{tid} {{")
        out.append(f"    label={_quote(f'CPU{tid}: {program.thread_name(tid)}')};")
        out.extend(node(graph.events[e]) for e in eids)
        out.append("  }")

    def edge(a: int, b: int, rel: str) -> None:
        out.append(f'  e{a} -> e{b} [label="{rel}", {_EDGE_STYLE[rel]}];')

    for eids in graph.threads:
        for a, b in itertools.pairwise(eids):
            edge(a, b, "po")
    co = graph.lock_co()
    nxt: dict[int, int] = {}
    for ws in co.values():
        for a, b in itertools.pairwise(ws):
            edge(a, b, "co")
            nxt[a] = b
    for r, w in sorted(graph.reads_from().items()):
        edge(w, r, "rf")
        after = nxt.get(w)
        if after is not None and graph.events[after].rmw != r:
            edge(r, after, "fr")
    out.append("}")
    return "\n".join(out) + "\n"
