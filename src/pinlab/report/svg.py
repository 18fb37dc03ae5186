"""An execution graph drawn as SVG, without Graphviz (the graph of ``--html``).

A small deterministic layout, the same drawing every run:

- one column per CPU (thread), headed ``CPU0: pin_user_pages_fast``, and a
  column of initial writes on the left;
- each CPU's events top to bottom in program order; with the trace's step
  numbers, a row per event in the order of the trace's interleaving, so that
  the drawing reads down the page as the trace does (a gap in a column: the
  CPU waits while the others run);
- each event a labelled box (:func:`pinlab.report.dot.event_lines`), a long
  line cut with ``…`` and the whole label in the box's tooltip;
- ``po`` a straight black arrow down a column; ``rf``, ``co`` and ``fr`` curves
  (cubic Béziers: across columns from side to side, within a column bulging
  out to its right), coloured as in the DOT and in herd7
  (:data:`pinlab.report.dot.COLOURS`), each labelled with its relation;
- a legend of the four relations under the title.

Every piece of text is escaped (:func:`html.escape`), so the SVG is both
well-formed XML and safe inline in an HTML page; ``id_prefix`` keeps the
arrowhead markers of several drawings on one page apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from pinlab.engine import ExecutionGraph
from pinlab.report.dot import COLOURS, Relation, event_lines, relations

__all__ = ["render_svg"]

FONT: Final = 11  # px, monospace
CHAR_W: Final = 6.8  # px per character: a little over monospace's 0.6 em
LINE_H: Final = 14
PAD: Final = 6
MAX_CHARS: Final = 60  # a longer label line is cut (the tooltip has it whole)
ROW_GAP: Final = 14
COL_GAP: Final = 110
MARGIN: Final = 20
TOP: Final = 86  # title, legend and column headers
BULGE: Final = {"rf": 28.0, "co": 40.0, "fr": 52.0}  # within a column: how far out
SHIFT: Final = {"po": 0.0, "rf": -4.0, "co": 0.0, "fr": 4.0}  # where on a box's side an edge ends


@dataclass(frozen=True, slots=True)
class _Box:
    x: float
    y: float
    w: float
    h: float
    col: int
    lines: tuple[str, ...]
    init: bool  # an initial write


def _n(v: float) -> str:
    return f"{v:.1f}"


def _cut(line: str) -> str:
    return line if len(line) <= MAX_CHARS else line[: MAX_CHARS - 1] + "…"


def _columns(graph: ExecutionGraph) -> tuple[list[list[int]], bool]:
    """The eids of each column (initial writes first, when there are any), and
    whether the first column is theirs."""
    inits = [e.eid for e in graph.events if e.tid < 0]
    cols = [inits] if inits else []
    cols.extend(list(eids) for eids in graph.threads)
    return cols, bool(inits)


def _rows(graph: ExecutionGraph, step_of: Mapping[int, int]) -> dict[int, int]:
    """eid -> row: program order, or the trace's order when it numbers the steps."""
    rows: dict[int, int] = {}
    inits = [e.eid for e in graph.events if e.tid < 0]
    rows.update((eid, n) for n, eid in enumerate(inits))
    if step_of:
        events = sorted((e for eids in graph.threads for e in eids),
                        key=lambda e: (step_of.get(e, 0), graph.events[e].idx, e))  # fmt: skip
        rows.update((eid, n) for n, eid in enumerate(events))
    else:
        for eids in graph.threads:
            rows.update((eid, n) for n, eid in enumerate(eids))
    return rows


def _layout(
    graph: ExecutionGraph, step_of: Mapping[int, int]
) -> tuple[dict[int, _Box], list[float]]:
    """Each event's box, and the left edge of each column."""
    cols, _ = _columns(graph)
    rows = _rows(graph, step_of)
    labels = {
        e.eid: tuple(_cut(s) for s in event_lines(e, step_of.get(e.eid))) for e in graph.events
    }
    pitch = max((len(v) for v in labels.values()), default=1) * LINE_H + 2 * PAD + ROW_GAP
    boxes: dict[int, _Box] = {}
    lefts: list[float] = []
    x = float(MARGIN)
    for c, eids in enumerate(cols):
        width = max((len(s) for e in eids for s in labels[e]), default=8) * CHAR_W + 2 * PAD
        lefts.append(x)
        for eid in eids:
            h = len(labels[eid]) * LINE_H + 2 * PAD
            init = graph.events[eid].tid < 0
            boxes[eid] = _Box(x, TOP + rows[eid] * pitch, width, h, c, labels[eid], init)
        x += width + COL_GAP
    lefts.append(x)
    return boxes, lefts


def _defs(prefix: str) -> str:
    marks = [
        f'<marker id="{prefix}-arrow-{rel}" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M 0,0 L 10,5 L 0,10 z" fill="{escape(colour)}"/></marker>'
        for rel, colour in COLOURS.items()
    ]
    return "<defs>" + "".join(marks) + "</defs>"


def _box(eid: int, b: _Box, full: list[str]) -> str:
    tip = escape("\n".join(full))
    out = [f'<g class="event" id="ev{eid}"><title>{tip}</title>',
           f'<rect x="{_n(b.x)}" y="{_n(b.y)}" width="{_n(b.w)}" height="{_n(b.h)}" rx="3" '
           f'fill="{"#f2f2f2" if b.init else "#ffffff"}" stroke="#444444"/>']  # fmt: skip
    for i, line in enumerate(b.lines):
        y = b.y + PAD + (i + 1) * LINE_H - 3
        weight = ' font-weight="bold"' if i == 0 and line.startswith("#") else ""
        out.append(f'<text x="{_n(b.x + PAD)}" y="{_n(y)}"{weight}>{escape(line)}</text>')
    out.append("</g>")
    return "".join(out)


def _lanes(
    rels: Sequence[Relation], boxes: Mapping[int, _Box], lefts: Sequence[float]
) -> dict[int, float]:
    """For each edge between two columns (by its index in ``rels``), the x of
    the lane it runs down: in the gap beside its source's column, on its
    target's side, the lanes of one gap spread evenly across it."""
    gap_of: dict[int, int] = {}  # gap g: between columns g and g + 1
    for i, r in enumerate(rels):
        a, b = boxes[r.src], boxes[r.dst]
        if r.rel != "po" and a.col != b.col:
            gap_of[i] = a.col if b.col > a.col else a.col - 1
    count = Counter(gap_of.values())
    used: Counter[int] = Counter()
    lanes: dict[int, float] = {}
    for i, g in gap_of.items():
        step = min(5.0, (COL_GAP - 24) / max(1, count[g] - 1))
        lanes[i] = lefts[g + 1] - COL_GAP + 12 + used[g] * step
        used[g] += 1
    return lanes


def _elbow(sx: float, sy: float, lane: float, ex: float, ey: float) -> str:
    """Out of the source's side to ``lane``, down (or up) it, across to the target:
    rounded corners.  The crossing is at the target's row, where (rows in the
    trace's order) no other CPU has an event."""
    if abs(ey - sy) < 1:
        return f"M{_n(sx)},{_n(sy)} L{_n(ex)},{_n(ey)}"
    d1 = 1 if lane > sx else -1
    d2 = 1 if ex > lane else -1
    dy = 1 if ey > sy else -1
    r = min(6.0, abs(ey - sy) / 2, abs(lane - sx), abs(ex - lane))
    x, y = _n(lane), _n(sy + dy * r)
    return (
        f"M{_n(sx)},{_n(sy)} H{_n(lane - d1 * r)} Q{x},{_n(sy)} {x},{y} "
        f"V{_n(ey - dy * r)} Q{x},{_n(ey)} {_n(lane + d2 * r)},{_n(ey)} H{_n(ex)}"
    )


def _curve(r: Relation, a: _Box, b: _Box, lane: float | None) -> tuple[str, tuple[float, float]]:
    """The path of an edge, and where its label goes."""
    dy = SHIFT[r.rel]
    if r.rel == "po":
        sx, sy, ex, ey = a.x + a.w / 2, a.y + a.h, b.x + b.w / 2, b.y
        return f"M{_n(sx)},{_n(sy)} L{_n(ex)},{_n(ey)}", ((sx + ex) / 2, (sy + ey) / 2)
    if a.col != b.col and lane is not None:
        right = b.x > a.x
        sx = a.x + a.w if right else a.x
        ex = b.x if right else b.x + b.w
        sy, ey = a.y + a.h / 2 + dy, b.y + b.h / 2 + dy
        return _elbow(sx, sy, lane, ex, ey), (ex - (16 if right else -16), ey - 4)
    # within a column: a curve bulging out to its right
    sx, sy, ex, ey = a.x + a.w, a.y + a.h / 2 + dy, b.x + b.w, b.y + b.h / 2 + dy
    k = BULGE[r.rel] + min(40.0, abs(ey - sy) * 0.05)
    path = (f"M{_n(sx)},{_n(sy)} C{_n(sx + k)},{_n(sy)} {_n(ex + k)},{_n(ey)} "
            f"{_n(ex)},{_n(ey)}")  # fmt: skip
    return path, (sx + 0.75 * k, (sy + ey) / 2)


def _edge(r: Relation, boxes: Mapping[int, _Box], prefix: str, lane: float | None
          ) -> tuple[str, str]:  # fmt: skip
    """The edge's path, and its label (drawn over the boxes; none for po)."""
    path, (mx, my) = _curve(r, boxes[r.src], boxes[r.dst], lane)
    colour = escape(COLOURS[r.rel])
    curve = (
        f'<path class="edge {r.rel}" data-from="ev{r.src}" data-to="ev{r.dst}" d="{path}" '
        f'fill="none" stroke="{colour}" stroke-width="1.3" '
        f'marker-end="url(#{prefix}-arrow-{r.rel})"/>'
    )
    if r.rel == "po":
        return curve, ""
    label = (
        f'<text class="rel" x="{_n(mx)}" y="{_n(my)}" text-anchor="middle" fill="{colour}" '
        f'stroke="#ffffff" stroke-width="3" paint-order="stroke">{r.rel}</text>'
    )
    return curve, label


def _legend(y: float) -> str:
    out = []
    for n, (rel, colour) in enumerate(COLOURS.items()):
        x = MARGIN + n * 90
        c = escape(colour)
        out.append(
            f'<line x1="{x}" y1="{_n(y)}" x2="{x + 36}" y2="{_n(y)}" stroke="{c}" '
            'stroke-width="2"/>'
            f'<text x="{x + 42}" y="{_n(y + 4)}" fill="{c}">{rel}</text>'
        )
    return '<g class="legend">' + "".join(out) + "</g>"


def render_svg(
    graph: ExecutionGraph,
    thread_label: Callable[[int], str],
    step_of: Mapping[int, int] | None = None,
    title: str = "",
    id_prefix: str = "g",
) -> str:
    """``graph`` as an ``<svg>`` element to put inline in an HTML page (see the
    module doc); ``thread_label(tid)`` heads a CPU's column, ``step_of``
    numbers the events as the trace does."""
    steps = step_of or {}
    boxes, lefts = _layout(graph, steps)
    _, has_init = _columns(graph)
    width = lefts[-1] - COL_GAP + MARGIN + max(BULGE.values()) + 80
    height = max((b.y + b.h for b in boxes.values()), default=TOP) + MARGIN
    heads = (["initial writes"] if has_init else []) + [
        thread_label(t) for t in range(len(graph.threads))
    ]
    out = [
        f'<svg class="graph" role="img" '
        f'width="{_n(width)}" height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'font-family="monospace" font-size="{FONT}">',
        f"<title>{escape(title or 'execution graph')}</title>",
        _defs(escape(id_prefix)),
        f'<text x="{MARGIN}" y="22" font-size="13" font-weight="bold">{escape(title)}</text>',
        _legend(44),
    ]
    for x, head in zip(lefts, heads, strict=False):
        out.append(f'<text class="column" x="{_n(x)}" y="{TOP - 12}" font-weight="bold">'
                   f"{escape(head)}</text>")  # fmt: skip
    labels = {e.eid: event_lines(e, steps.get(e.eid)) for e in graph.events}
    rels = relations(graph)
    lanes = _lanes(rels, boxes, lefts)
    edges = [_edge(r, boxes, escape(id_prefix), lanes.get(i)) for i, r in enumerate(rels)]
    out.extend(curve for curve, _ in edges)
    out.extend(_box(eid, b, labels[eid]) for eid, b in sorted(boxes.items()))
    out.extend(label for _, label in edges if label)
    out.append("</svg>")
    return "\n".join(out) + "\n"
