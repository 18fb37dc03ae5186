"""Checking register atoms as early as they can be: where the registers get their last values.

A ``filter`` drops executions after the fact.  When it is a conjunction and
one of its conjuncts is ``T:r=v``, every execution the filter keeps ends
with ``r = v`` in process ``T``.  If some statement ``r = e;`` of ``T`` is
followed by no further assignment of ``r`` on any path (no later statement of
its block, or of the blocks around it, assigns ``r``, and no loop around it
comes back to it), then the value it stores is ``r``'s final value, and an
``Assume(r == v)`` right after it drops exactly executions the filter would
drop -- before the explorer spends time on the rest of them.  (herd7's own C
tests lean on filters this way: ``filter (0:r2=0 /\\ 1:r2=0 /\\ ...)`` keeps
only the executions in which every cmpxchg() of a hand-made lock succeeded.)
The filter itself is still applied to every final state, so counts and
verdicts are unchanged.

The same holds for ``not (T:r=v)`` (an ``Assume(r != v)``), for the
conjuncts under a negation (``~(A \\/ B)`` is ``~A /\\ ~B``), and for the
condition when only the executions that settle it count (``--speedcheck``,
where the proposition, or its negation for ``forall``, joins the filter).

A register whose address is taken may change behind the interpreter's back,
so it is never checked early.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Set

from pinlab.litmus import ast

__all__ = ["Check", "Checks", "early_assumes", "early_checks", "kept", "literals", "target"]

Check = tuple[str, int, bool]
"""(register, value, equal): assume ``r == v`` (equal) or ``r != v``."""
Checks = dict[int, list[Check]]
"""``id()`` of a statement -> the checks to make right after it."""


def literals(prop: ast.Prop, holds: bool = True) -> Iterator[tuple[ast.Prop, bool]]:
    """What every state in which ``prop`` is ``holds`` has: (atom, its truth) pairs
    read off the conjunctions, negations pushed inwards; what a disjunction
    leaves open is not listed."""
    if isinstance(prop, ast.Not):
        yield from literals(prop.prop, not holds)
    elif isinstance(prop, ast.And) and holds:
        for p in prop.props:
            yield from literals(p, True)
    elif isinstance(prop, ast.Or) and not holds:
        for p in prop.props:
            yield from literals(p, False)
    elif isinstance(prop, ast.Implies) and not holds:
        yield from literals(prop.left, True)
        yield from literals(prop.right, False)
    elif isinstance(prop, ast.Atom):
        yield prop, holds


def _walk(node: object) -> Iterator[object]:
    yield node
    if isinstance(node, tuple):
        for x in node:
            yield from _walk(x)
        return
    for name in getattr(node, "__slots__", ()):
        if name != "pos":
            yield from _walk(getattr(node, name))


def _is_assign_to(e: object, reg: str) -> bool:
    return isinstance(e, ast.Assign) and isinstance(e.target, ast.Name) and e.target.ident == reg


def _assigned(nodes: Iterable[object]) -> set[str]:
    """The registers assigned (a declaration with an initialiser counts) anywhere in ``nodes``."""
    out: set[str] = set()
    for node in nodes:
        for x in _walk(node):
            if isinstance(x, ast.Assign) and isinstance(x.target, ast.Name):
                out.add(x.target.ident)
            elif isinstance(x, ast.Decl) and x.init is not None:
                out.add(x.name)
    return out


def _address_taken(node: object) -> set[str]:
    return {
        x.operand.ident
        for x in _walk(node)
        if isinstance(x, ast.AddrOf) and isinstance(x.operand, ast.Name)
    }


def _assigns_once(stmt: ast.Stmt, reg: str) -> bool:
    """``stmt`` is ``reg = e;`` (or ``int reg = e;``) and ``e`` does not assign ``reg``."""
    if isinstance(stmt, ast.Decl):
        return stmt.name == reg and stmt.init is not None and reg not in _assigned([stmt.init])
    if isinstance(stmt, ast.ExprStmt) and _is_assign_to(stmt.expr, reg):
        assert isinstance(stmt.expr, ast.Assign)
        return reg not in _assigned([stmt.expr.value])
    return False


def _place(
    stmts: Sequence[ast.Stmt],
    later: Set[str],
    atoms: dict[str, list[tuple[int, bool]]],
    out: Checks,
) -> None:
    after = set(later)  # what the statements after this one assign, walking backwards
    for stmt in reversed(stmts):
        if isinstance(stmt, ast.Block):
            _place(stmt.stmts, after, atoms, out)
        elif isinstance(stmt, ast.If):
            _place([stmt.then], after, atoms, out)
            if stmt.other is not None:
                _place([stmt.other], after, atoms, out)
        elif isinstance(stmt, ast.While):  # the body comes back to itself
            _place([stmt.body], after | _assigned([stmt]), atoms, out)
        else:
            for reg, values in atoms.items():
                if reg not in after and _assigns_once(stmt, reg):
                    out.setdefault(id(stmt), []).extend((reg, v, eq) for v, eq in values)
        after |= _assigned([stmt])


def early_checks(test: ast.Test, prop: ast.Prop | None) -> list[Checks]:
    """Per process, where to check the ``T:r=v`` literals of ``prop`` (see the module doc)."""
    out: list[Checks] = [{} for _ in test.processes]
    if prop is None:
        return out
    atoms: list[dict[str, list[tuple[int, bool]]]] = [{} for _ in test.processes]
    for atom, holds in literals(prop):
        if (
            isinstance(atom, ast.Atom)
            and isinstance(atom.loc, ast.CondReg)
            and isinstance(atom.value, ast.IntLit)
            and atom.loc.tid < len(test.processes)
        ):
            regs = atoms[atom.loc.tid]
            regs.setdefault(atom.loc.name, []).append((atom.value.value, holds))
    for proc in test.processes:
        mine = atoms[proc.index]
        for reg in _address_taken(proc.body) & mine.keys():
            del mine[reg]
        if mine:
            _place(proc.body.stmts, frozenset(), mine, out[proc.index])
    return out


def early_assumes(test: ast.Test, speedcheck: bool = False) -> list[Checks]:
    """Per process, where to check the register atoms of the ``filter`` (and
    with ``speedcheck``, of the condition's target: see :func:`target`)."""
    return early_checks(test, kept(test, speedcheck))


def target(test: ast.Test) -> ast.Prop:
    """What an execution must satisfy to settle ``test``'s condition: the
    proposition, or for ``forall`` its negation (a counterexample)."""
    return ast.Not(test.prop) if test.kind == "forall" else test.prop


def kept(test: ast.Test, speedcheck: bool) -> ast.Prop | None:
    """The executions that are counted: those the filter keeps, and with
    ``speedcheck`` only those that settle the condition (herd7's -speedcheck)."""
    if not speedcheck:
        return test.filter
    if test.filter is None:
        return target(test)
    return ast.And((test.filter, target(test)))
