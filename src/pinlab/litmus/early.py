"""Checking a ``filter`` as early as it can be: where its registers get their values.

A ``filter`` drops executions after the fact.  When it is a conjunction of
``T:r=v`` atoms and register ``r`` of process ``T`` is assigned exactly once,
at the top level of ``T``'s body, then ``r``'s final value is the one it gets
there, so an ``Assume(r == v)`` right after that assignment drops exactly the
executions the filter would drop -- before the explorer spends time on the
rest of them.  (herd7's own C tests lean on filters this way:
``filter (0:r2=0 /\\ 1:r2=0 /\\ ...)`` keeps only the executions in which every
cmpxchg() of a hand-made lock succeeded.)  The filter itself is still applied
to every final state, so counts and verdicts are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator

from pinlab.litmus import ast

__all__ = ["early_assumes"]


def _conjuncts(prop: ast.Prop) -> Iterator[ast.Prop]:
    if isinstance(prop, ast.And):
        for p in prop.props:
            yield from _conjuncts(p)
    else:
        yield prop


def _walk(node: object) -> Iterator[object]:
    yield node
    if isinstance(node, tuple):
        for x in node:
            yield from _walk(x)
        return
    for name in getattr(node, "__slots__", ()):
        if name != "pos":
            yield from _walk(getattr(node, name))


def _assigned(node: object, reg: str) -> int:
    """How many times ``reg`` is assigned (or has its address taken) in ``node``."""
    count = 0
    for x in _walk(node):
        if _is_assign_to(x, reg) or (
            isinstance(x, ast.Decl) and x.name == reg and x.init is not None
        ):
            count += 1
        elif isinstance(x, ast.AddrOf) and isinstance(x.operand, ast.Name):
            count += 2 if x.operand.ident == reg else 0
    return count


def _assigns_at_top(stmt: ast.Stmt, reg: str) -> bool:
    if isinstance(stmt, ast.Decl):
        return stmt.name == reg and stmt.init is not None
    if isinstance(stmt, ast.ExprStmt):
        return _is_assign_to(stmt.expr, reg)
    return False


def _is_assign_to(e: object, reg: str) -> bool:
    return isinstance(e, ast.Assign) and isinstance(e.target, ast.Name) and e.target.ident == reg


def early_assumes(test: ast.Test) -> list[dict[int, list[tuple[str, int]]]]:
    """Per process: top-level statement index -> the (register, value) to assume after it."""
    out: list[dict[int, list[tuple[str, int]]]] = [{} for _ in test.processes]
    if test.filter is None:
        return out
    for atom in _conjuncts(test.filter):
        if not (
            isinstance(atom, ast.Atom)
            and isinstance(atom.loc, ast.CondReg)
            and isinstance(atom.value, ast.IntLit)
        ):
            continue
        tid, reg = atom.loc.tid, atom.loc.name
        if tid >= len(test.processes):
            continue
        body = test.processes[tid].body
        if _assigned(body, reg) != 1:
            continue
        for i, stmt in enumerate(body.stmts):
            if _assigns_at_top(stmt, reg):
                out[tid].setdefault(i, []).append((reg, atom.value.value))
                break
    return out
