"""The final-state condition: its predicate, its observed variables and herd7's text of it.

herd7 prints a test's condition normalised (``Condition exists (0:r1=1 /\\
not ([x]=2))``) and prints each final state over the *displayed* variables:
those of the ``locations`` clause and of the condition, but not those of the
``filter``, ordered registers first (by process, then by name) and then
memory locations by name.  Both rules are reproduced here so that pinlab's
``States`` lines and ``Condition`` line are herd7's, character for character.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pinlab.engine import CondKind, FinalState, Loc, MemVar, Observable, RegVar
from pinlab.litmus import ast

__all__ = [
    "KIND",
    "atoms",
    "condition_text",
    "observed",
    "predicate",
    "prop_text",
    "registers",
    "var_of",
]

KIND: dict[ast.Kind, CondKind] = {
    "exists": CondKind.EXISTS,
    "~exists": CondKind.NOT_EXISTS,
    "forall": CondKind.FORALL,
}

Pred = Callable[[FinalState], bool]


def var_of(loc: ast.CondMem | ast.CondReg) -> Observable:
    if isinstance(loc, ast.CondMem):
        return MemVar(Loc(loc.name))
    return RegVar(loc.tid, loc.name)


def _value(v: ast.IntLit | ast.SymRef) -> Any:
    return v.value if isinstance(v, ast.IntLit) else Loc(v.name)


def atoms(prop: ast.Prop) -> Iterable[ast.Atom]:
    """Every atom of ``prop``."""
    if isinstance(prop, ast.Atom):
        yield prop
    elif isinstance(prop, ast.Not):
        yield from atoms(prop.prop)
    elif isinstance(prop, ast.And | ast.Or):
        for p in prop.props:
            yield from atoms(p)
    else:
        yield from atoms(prop.left)
        yield from atoms(prop.right)


def _var_key(var: Observable) -> tuple[int, int, str]:
    if isinstance(var, RegVar):
        return (0, var.tid, var.name)
    return (1, 0, var.loc.name)


def observed(
    locations: Iterable[ast.CondMem | ast.CondReg], prop: ast.Prop
) -> tuple[Observable, ...]:
    """herd7's displayed variables, in its order."""
    seen: set[Observable] = {var_of(loc) for loc in locations}
    for atom in atoms(prop):
        seen.add(var_of(atom.loc))
        if isinstance(atom.value, ast.CondMem | ast.CondReg):
            seen.add(var_of(atom.value))
    return tuple(sorted(seen, key=_var_key))


def registers(prop: ast.Prop) -> Iterable[ast.CondReg]:
    """The register references of ``prop`` (to check their processes exist)."""
    for atom in atoms(prop):
        for loc in (atom.loc, atom.value):
            if isinstance(loc, ast.CondReg):
                yield loc


def predicate(prop: ast.Prop) -> Pred:
    """``prop`` as a function of a final state."""
    if isinstance(prop, ast.Atom):
        var = var_of(prop.loc)
        if isinstance(prop.value, ast.CondMem | ast.CondReg):
            other = var_of(prop.value)
            return lambda st: bool(st.get(var) == st.get(other))
        value = _value(prop.value)
        return lambda st: bool(st.get(var) == value)
    if isinstance(prop, ast.Not):
        inner = predicate(prop.prop)
        return lambda st: not inner(st)
    if isinstance(prop, ast.And):
        parts = [predicate(p) for p in prop.props]
        return lambda st: all(p(st) for p in parts)
    if isinstance(prop, ast.Or):
        parts = [predicate(p) for p in prop.props]
        return lambda st: any(p(st) for p in parts)
    left, right = predicate(prop.left), predicate(prop.right)
    return lambda st: (not left(st)) or right(st)


# herd7's printer (ConstrGen.pp_prop): an operator is parenthesised under a
# different one, except an and/or inside an or, and anything at the top.
_AND, _OR, _IMPLIES, _TOP = "and", "or", "implies", "top"


def _paren(above: str, here: str, text: str) -> str:
    bare = above in (_TOP, here) or (above == _OR and here == _AND)
    return text if bare else f"({text})"


def _loc_text(loc: ast.CondMem | ast.CondReg) -> str:
    return f"[{loc.name}]" if isinstance(loc, ast.CondMem) else f"{loc.tid}:{loc.name}"


def _atom_text(atom: ast.Atom) -> str:
    v = atom.value
    if isinstance(v, ast.CondMem | ast.CondReg):
        value = _loc_text(v)
    else:
        value = str(v.value) if isinstance(v, ast.IntLit) else v.name
    return f"{_loc_text(atom.loc)}={value}"


def prop_text(prop: ast.Prop, above: str = _TOP) -> str:
    if isinstance(prop, ast.Atom):
        return _atom_text(prop)
    if isinstance(prop, ast.Not):
        return f"not ({prop_text(prop.prop)})"
    if isinstance(prop, ast.And):
        if not prop.props:
            return "true"
        return _paren(above, _AND, " /\\ ".join(prop_text(p, _AND) for p in prop.props))
    if isinstance(prop, ast.Or):
        if not prop.props:
            return "false"
        return _paren(above, _OR, " \\/ ".join(prop_text(p, _OR) for p in prop.props))
    text = prop_text(prop.left, _IMPLIES) + " => " + prop_text(prop.right, _IMPLIES)
    return _paren(above, _IMPLIES, text)


def condition_text(kind: ast.Kind, prop: ast.Prop) -> str:
    return f"{kind} ({prop_text(prop)})"
