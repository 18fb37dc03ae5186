"""herd's macro table (``linux-kernel.def``): each C primitive as events and annotations.

A line of the table is ``NAME(PARAMS) BODY``: the body is an expression
(``READ_ONCE(X) __load{ONCE}(X)``) or a block of statements in braces
(``smp_store_mb(X,V) { __store{ONCE}(X,V); __fence{MB}; }``).  Its events are
herd's built-in operations, ``__NAME{ANNOTATIONS}(ARGS)`` (the annotations
optional: ``__lock(X)``), or other primitives of the table
(``atomic_read(X) READ_ONCE(*X)``), expanded here.  ``//`` starts a
comment.  :func:`parse_def` gives, per primitive, its operations in order as
:class:`DefOp` (the built-in's name without the underscores, and the
annotations it carries); :meth:`DefTable.annotations` is the vocabulary of
annotations, which are the tag names of the bell's enums.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pinlab.cat.errors import CatError, Pos, read_file

__all__ = ["DefEntry", "DefOp", "DefTable", "parse_def", "read_def"]

_HEAD: Final = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)\s*")
_CALL: Final = re.compile(r"(__[A-Za-z_][A-Za-z0-9_]*)\s*(?:\{([^}]*)\})?|([A-Za-z_]\w*)\s*\(")


@dataclass(frozen=True, slots=True)
class DefOp:
    """One of herd's built-in operations: ``load``, ``store``, ``fence``, ``xchg``, ...."""

    builtin: str
    annotations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DefEntry:
    name: str
    params: tuple[str, ...]
    ops: tuple[DefOp, ...]
    pos: Pos


@dataclass(slots=True)
class DefTable:
    path: str
    entries: dict[str, DefEntry] = field(default_factory=dict)

    def annotations(self) -> frozenset[str]:
        """Every annotation the table uses (``ONCE``, ``MB``, ``rcu-lock``, ...)."""
        return frozenset(a for e in self.entries.values() for op in e.ops for a in op.annotations)

    def annotations_of(self, builtin: str) -> frozenset[str]:
        """The annotations carried by the table's uses of ``__builtin``."""
        return frozenset(
            a
            for e in self.entries.values()
            for op in e.ops
            if op.builtin == builtin
            for a in op.annotations
        )


def parse_def(text: str, path: str) -> DefTable:
    """The table in ``text`` (read from ``path``), macro references expanded."""
    raw: dict[str, tuple[tuple[str, ...], list[tuple[str, tuple[str, ...]]], Pos]] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        code = line.split("//", 1)[0]
        if not code.strip():
            continue
        head = _HEAD.match(code)
        if head is None:
            col = len(code) - len(code.lstrip()) + 1
            raise CatError(Pos(path, lineno, col), "expected NAME(PARAMS) and a body")
        name = head.group(1)
        params = tuple(p.strip() for p in head.group(2).split(",") if p.strip())
        body = code[head.end() :]
        pos = Pos(path, lineno, head.start(1) + 1)
        if not body.strip():
            raise CatError(Pos(path, lineno, len(code) + 1), f"{name}: expected a body")
        if body.lstrip().startswith("{") and not body.rstrip().endswith("}"):
            raise CatError(Pos(path, lineno, len(code) + 1), f"{name}: expected '}}'")
        calls: list[tuple[str, tuple[str, ...]]] = []
        for m in _CALL.finditer(body):
            if m.group(1):
                notes = tuple(a.strip() for a in (m.group(2) or "").split(",") if a.strip())
                calls.append((m.group(1), notes))
            else:
                calls.append((m.group(3), ()))
        raw[name] = (params, calls, pos)
    table = DefTable(path)
    for name in raw:
        table.entries[name] = _expand(name, raw, ())
    return table


def _expand(
    name: str,
    raw: dict[str, tuple[tuple[str, ...], list[tuple[str, tuple[str, ...]]], Pos]],
    stack: tuple[str, ...],
) -> DefEntry:
    params, calls, pos = raw[name]
    if name in stack:
        raise CatError(pos, f"{name}: defined in terms of itself")
    ops: list[DefOp] = []
    for callee, notes in calls:
        if callee.startswith("__"):
            ops.append(DefOp(callee[2:], notes))
        elif callee in raw:
            ops.extend(_expand(callee, raw, (*stack, name)).ops)
        else:
            raise CatError(pos, f"{name}: uses {callee}, which the table does not define")
    return DefEntry(name, params, tuple(ops), pos)


def read_def(path: str | Path) -> DefTable:
    path = Path(path)
    text = read_file(path)
    return parse_def(text, str(path))
