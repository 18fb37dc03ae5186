"""Observer locations of a litmus test, for counting executions in product form.

An *observer location* is one whose accesses feed nothing but the final
state: every access is a ``r = READ_ONCE(*x)`` whose register no statement
of its process uses again, or a ``WRITE_ONCE(*x, constant)``; none is inside
a loop; the location's address goes nowhere else (no pointer to it in the
initial state, no other use of the parameter ``x``); and neither the
condition, the filter nor ``locations`` names ``x`` (the filter names none of
those registers either).  C-ManfredSpraul-L1G2xchg's ``gbl_held`` and
``lcl_held`` are such locations: each thread records that it holds a lock
and checks that the other lock's holder does not.

Which write each such read reads from, and the coherence order of the
writes, then change no event and no dependency of the rest of the test:
only the values of those registers and which executions are consistent.
:func:`observers` gives the test rewritten so that each of these accesses
has a location of its own (``x#0``, ``x#1``, ...: each read then has one
write to read from, each write one place in coherence), and what each such
access really is; :mod:`pinlab.engine.factor` explores the rewritten test
and counts, for each of its executions, the ways to put the accesses back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pinlab.engine import Loc, Site
from pinlab.litmus import ast
from pinlab.litmus.cond import atoms, registers

__all__ = ["Observed", "observers"]


@dataclass(frozen=True, slots=True)
class Observed:
    """``test`` with each observer access on a location of its own, and ``sites``:
    what each of those locations stands for."""

    test: ast.Test
    sites: dict[Loc, Site]


@dataclass(frozen=True, slots=True)
class _Access:
    tid: int
    loc: str
    write: bool
    reg: str  # (reads)
    value: int  # (writes)
    node: ast.Deref  # the ``*x`` to retarget


def _access(stmt: ast.Stmt) -> tuple[str, bool, str, int, ast.Deref] | None:
    """``(loc, write, reg, value, deref)`` if ``stmt`` is an observer-shaped access."""
    if isinstance(stmt, ast.Decl) and isinstance(stmt.init, ast.Call):
        reg, call = stmt.name, stmt.init
    elif (
        isinstance(stmt, ast.ExprStmt)
        and isinstance(stmt.expr, ast.Assign)
        and stmt.expr.op == "="
        and isinstance(stmt.expr.target, ast.Name)
        and isinstance(stmt.expr.value, ast.Call)
    ):
        reg, call = stmt.expr.target.ident, stmt.expr.value
    elif isinstance(stmt, ast.ExprStmt) and isinstance(stmt.expr, ast.Call):
        reg, call = "", stmt.expr
    else:
        return None
    args = call.args
    if not args or not isinstance(args[0], ast.Deref) or not isinstance(args[0].ptr, ast.Name):
        return None
    loc = args[0].ptr.ident
    if call.func == "READ_ONCE" and reg and len(args) == 1:
        return loc, False, reg, 0, args[0]
    if call.func == "WRITE_ONCE" and not reg and len(args) == 2 and isinstance(args[1], ast.IntLit):
        return loc, True, "", args[1].value, args[0]
    return None


class _Scan:
    """Every access of observer shape, and every other use of each name, per process."""

    def __init__(self, proc: ast.Process) -> None:
        self.tid = proc.index
        self.params = {p.name for p in proc.params}
        self.accesses: list[_Access] = []
        self.in_loop: set[str] = set()  # locations accessed inside a loop
        self.other_uses: dict[str, int] = {}  # name -> uses outside the accesses
        self.assigned: dict[str, int] = {}  # register -> statements that set it
        self._stmt(proc.body, loop=False)

    def _use(self, name: str) -> None:
        self.other_uses[name] = self.other_uses.get(name, 0) + 1

    def _stmt(self, stmt: ast.Stmt, loop: bool) -> None:
        found = _access(stmt)
        if found is not None:
            loc, write, reg, value, deref = found
            self.accesses.append(_Access(self.tid, loc, write, reg, value, deref))
            if loop:
                self.in_loop.add(loc)
            if not write:
                self.assigned[reg] = self.assigned.get(reg, 0) + 1
            return
        if isinstance(stmt, ast.Block):
            for s in stmt.stmts:
                self._stmt(s, loop)
        elif isinstance(stmt, ast.If):
            self._expr(stmt.cond)
            self._stmt(stmt.then, loop)
            if stmt.other is not None:
                self._stmt(stmt.other, loop)
        elif isinstance(stmt, ast.While):
            self._expr(stmt.cond)
            self._stmt(stmt.body, loop=True)
        elif isinstance(stmt, ast.Decl):
            if stmt.init is not None and not isinstance(stmt.init, ast.IntLit):
                self.assigned[stmt.name] = self.assigned.get(stmt.name, 0) + 1
                self._expr(stmt.init)
        else:
            self._expr(stmt.expr)

    def _expr(self, node: Any) -> None:
        if isinstance(node, ast.Name):
            self._use(node.ident)
            return
        if isinstance(node, ast.Assign) and isinstance(node.target, ast.Name):
            self.assigned[node.target.ident] = self.assigned.get(node.target.ident, 0) + 1
        for child in ast.children(node):
            self._expr(child)


def _condition_names(test: ast.Test) -> tuple[set[str], set[tuple[int, str]]]:
    """Locations and registers the condition, filter and ``locations`` name."""
    locs: set[str] = set()
    regs: set[tuple[int, str]] = set()

    props = [test.prop] if test.filter is None else [test.prop, test.filter]
    items: list[Any] = list(test.locations)
    for prop in props:
        for atom in atoms(prop):
            items.extend((atom.loc, atom.value))
    for item in items:
        if isinstance(item, ast.CondMem | ast.SymRef):
            locs.add(item.name)
    if test.filter is not None:
        regs = {(reg.tid, reg.name) for reg in registers(test.filter)}
    return locs, regs


def observers(test: ast.Test) -> Observed | None:
    """``test`` with its observer accesses retargeted, or None if it has none."""
    scans = [_Scan(proc) for proc in test.processes]
    named_locs, filter_regs = _condition_names(test)
    pointed = {
        item.value.name for item in test.init if isinstance(item.value, ast.SymRef)
    }  # locations whose address the initial state stores
    candidates = {a.loc for s in scans for a in s.accesses}
    good: set[str] = set()
    for loc in candidates:
        if loc in named_locs or loc in pointed:
            continue
        ok = True
        for s in scans:
            mine = [a for a in s.accesses if a.loc == loc]
            if not mine and loc not in s.other_uses:
                continue
            if loc not in s.params or loc in s.other_uses or loc in s.in_loop:
                ok = False
                break
            for a in mine:
                if a.write:
                    continue
                if (
                    s.assigned.get(a.reg, 0) != 1
                    or a.reg in s.other_uses
                    or a.reg in s.params
                    or (s.tid, a.reg) in filter_regs
                ):
                    ok = False
                    break
            if not ok:
                break
        if ok:
            good.add(loc)
    if not good:
        return None
    sites: dict[Loc, Site] = {}
    retarget: dict[int, str] = {}  # id of a ``*x`` node -> its own location
    per_proc: list[list[str]] = [[] for _ in test.processes]
    for s in scans:
        for a in s.accesses:
            if a.loc in good:
                name = f"{a.loc}#{len(sites)}"
                sites[Loc(name)] = Site(Loc(a.loc), a.write, a.value, a.reg)
                retarget[id(a.node)] = name
                per_proc[s.tid].append(name)
    processes = tuple(
        replace(
            proc,
            params=proc.params
            + tuple(ast.Param(ast.CType(("int",), 1), name, proc.pos) for name in per_proc[i]),
            body=_retarget(proc.body, retarget),
        )
        for i, proc in enumerate(test.processes)
    )
    return Observed(replace(test, processes=processes), sites)


def _retarget(node: Any, retarget: dict[int, str]) -> Any:
    """``node`` with each listed ``*x`` replaced by ``*x#k``."""
    if isinstance(node, ast.Deref) and id(node) in retarget:
        ptr = node.ptr
        assert isinstance(ptr, ast.Name)
        return replace(node, ptr=replace(ptr, ident=retarget[id(node)]))
    if isinstance(node, tuple):
        items = tuple(_retarget(x, retarget) for x in node)
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    if hasattr(node, "__slots__") and not isinstance(node, ast.Pos | ast.CType | str | int):
        changes = {}
        for slot in node.__slots__:
            old = getattr(node, slot)
            new = _retarget(old, retarget)
            if new is not old:
                changes[slot] = new
        return replace(node, **changes) if changes else node
    return node
