"""Which checks of a cat model may prune partial graphs: a static analysis.

A check may be decided on a partial graph ``G`` only if, whenever it fails
there, it fails on every completion ``G'`` of ``G``.  For ``acyclic``,
``irreflexive`` and ``empty`` that holds when the checked value can only
*grow* from ``G`` to ``G'``: a cycle, a reflexive pair or a member of ``G``'s
value is then one of ``G'``'s.  This module decides, without running the
model, which values grow, by their form (an abstract interpretation of the
model's statements over :class:`Abs`).

**What a partial graph guarantees** (:mod:`pinlab.engine.models.base`): the
events of ``G`` are events of ``G'`` of the same kind, tag, location and
atomicity, and ``G``'s events are closed downwards under ``G'``'s program
order (the waiting explorer appends events at the ends of threads; the
revisit explorer's graphs are po|rf-prefixes).  Reads-from of a bound read
never changes, coherence only gains writes, rmw pairs are only completed.
Let ``ρ(X')`` be ``X'`` restricted to ``G``'s events.  A value ``X`` is

- *growing* (``mono``) when ``X(G) ⊆ X(G')``;
- *shrinking* (``anti``) when ``ρ(X(G')) ⊆ X(G)``: it may lose members
  among the old events (``FailedRMW``: an RMW whose write is not there yet);
- *stable* when both: ``ρ(X(G')) = X(G)`` (a set defined by an event's own
  kind or tags, ``po``, ``loc``, ``int``, ``id``).

Base values: event-kind and tag sets, ``po loc int ext id addr data ctrl``,
``_`` and ``0`` are stable; ``rf co fr rmw same-instance`` grow.  Operators:
``|``, ``&``, ``[S]``, ``S * T``, ``^-1`` keep what both operands have;
``A \\ B`` grows when ``A`` grows and ``B`` shrinks (``~A`` swaps the two);
``A ; B``, ``+``, ``*``, ``?``, ``domain``, ``range`` grow when their
operands grow -- and keep shrinking and stability only when the events they
pass through are old whenever their ends are: when the relation they go
through lies within ``po`` (or ``po^-1``) or the identity, tracked as two
more facts of a relation (``po`` downward closure).  Names and functions
are their bodies' values (a function is analysed at each use, with the
abstract values of its arguments); a ``let rec`` value grows when every
body grows with the recursive names taken as growing (its least fixpoint,
which herd reaches from empty values up, then grows too).

Anything else is *unknown*: ``match``, ``++``, sets of values,
``classes-loc``, ``linearisations``, ``different-values``, procedures, a
``try`` that is not decided when the model is loaded, and a name bound by
``with``.  Choices made with ``with`` are the exception the evaluator makes
possible: when the model has a ``with``, a run counts only if the model's
last ``rf`` and ``co`` are the graph's (:mod:`pinlab.cat.program`), so those
two names are the graph's reads-from and coherence, which grow; a partial
run binds them so (:meth:`~pinlab.cat.program.Program.run_partial`) and
never computes a ``with``.  A check is *prunable* when it is no ``flag``,
not negated, and its value grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pinlab.cat.ast import Binding, Node, Pattern
from pinlab.cat.compile import Local, names_of

__all__ = ["GROWS", "STABLE", "UNKNOWN", "Abs", "prunable_checks"]


@dataclass(frozen=True, slots=True)
class Abs:
    """What is known of a set or relation as the graph grows (see the module doc)."""

    mono: bool  # grows
    anti: bool  # shrinks on the old events
    po: bool = False  # a relation within po | id (in every graph)
    po_inv: bool = False  # within po^-1 | id

    def flip(self) -> Abs:
        return Abs(self.anti, self.mono)


STABLE: Final = Abs(True, True)
GROWS: Final = Abs(True, False)
UNKNOWN: Final = Abs(False, False)
_IDENT: Final = Abs(True, True, True, True)
_PO: Final = Abs(True, True, True, False)


@dataclass(frozen=True, slots=True)
class _Fun:
    """A function of the model: its parameters, body and where it was defined."""

    params: tuple[Pattern, ...]
    body: Node
    env: Local


@dataclass(frozen=True, slots=True)
class _Prim:
    name: str


class _Unavailable:
    """A primitive that always fails (``ADDR``, ``B``): ``try`` takes its fallback."""


_UNAVAILABLE: Final = _Unavailable()


@dataclass(frozen=True, slots=True)
class _Const:
    """A quoted tag: the same in every graph."""


_TAG: Final = _Const()

_STABLE_SETS: Final = (
    "R", "W", "M", "F", "IW", "FW", "LKR", "LKW", "UL", "LF", "RL", "RU", "RMW", "X", "Exp", "NExp",
)  # fmt: skip
_PRIMS: Final[dict[str, Any]] = {
    **{name: STABLE for name in _STABLE_SETS},
    "ADDR": _UNAVAILABLE,
    "B": _UNAVAILABLE,
    "po": _PO,
    "id": _IDENT,
    "iico_data": _IDENT,  # (empty)
    "loc": STABLE,
    "int": STABLE,
    "ext": STABLE,
    "addr": STABLE,
    "data": STABLE,
    "ctrl": STABLE,
    "rmw": GROWS,
    "same-instance": GROWS,
    "rf": GROWS,
    "co": GROWS,
    "fr": GROWS,
    **{name: _Prim(name) for name in ("domain", "range", "tag2events")},
    **{name: _Prim(name) for name in ("classes-loc", "linearisations", "different-values")},
}
_MAX_DEPTH: Final = 64  # of function applications (a recursive function: unknown)


def _rel(x: Any) -> Abs:
    return x if isinstance(x, Abs) else UNKNOWN


def _both(a: Abs, b: Abs) -> tuple[bool, bool]:
    return a.mono and b.mono, a.anti and b.anti


class _Analysis:
    def __init__(self, variants: frozenset[str]) -> None:
        self.variants = variants
        self.depth = 0

    # -- expressions ------------------------------------------------------------------
    def expr(self, e: Node, env: Local) -> Any:
        op = e.op
        a = e.args
        if op == "var":
            got = env.get(a[0])
            return UNKNOWN if got is None or got is _UNAVAILABLE else got
        if op in ("zero", "empty_set"):
            return _IDENT
        if op == "universe":
            return STABLE
        if op == "tag":
            return _TAG
        if op in ("union", "inter", "diff", "seq", "cart"):
            return _binary(op, _rel(self.expr(a[0], env)), _rel(self.expr(a[1], env)))
        if op in ("compl", "inverse", "plus", "star", "opt", "ident"):
            return _unary(op, _rel(self.expr(a[0], env)))
        if op == "apply":
            return self.apply(self.expr(a[0], env), self.expr(a[1], env))
        if op == "tuple":
            return tuple(self.expr(x, env) for x in a)
        if op == "fun":
            return _Fun((a[0],), a[1], env)
        if op == "let_in":
            rec, bindings, body = a
            return self.expr(body, self.bind(rec, bindings, env))
        if op == "try_":
            return self.try_(e, env)
        if op == "if_variant":
            name, then, other = a
            return self.expr(then if name in self.variants else other, env)
        return UNKNOWN  # match, ++, set literals, anything new

    def apply(self, f: Any, arg: Any) -> Any:
        if isinstance(f, _Prim):
            if f.name == "tag2events":
                return STABLE if arg is _TAG else UNKNOWN
            if f.name in ("domain", "range"):
                r = _rel(arg)
                exact = r.po_inv if f.name == "domain" else r.po
                return Abs(r.mono, r.anti and exact)
            return UNKNOWN
        if not isinstance(f, _Fun) or self.depth >= _MAX_DEPTH:
            return UNKNOWN
        names = _match(f.params[0], arg)
        env = Local(names, f.env)
        if len(f.params) > 1:
            return _Fun(f.params[1:], f.body, env)
        self.depth += 1
        try:
            return self.expr(f.body, env)
        finally:
            self.depth -= 1

    def try_(self, e: Node, env: Local) -> Any:
        body, fallback = e.args
        if not self.defined(body, env):
            return self.expr(fallback, env)  # (the evaluator takes it at load time)
        if body.op == "var":
            got = env.get(body.args[0])
            if got is _UNAVAILABLE:
                return self.expr(fallback, env)
            if body.args[0] in _PRIMS and got is _PRIMS[body.args[0]]:
                return got  # a primitive that never fails
        return UNKNOWN  # decided at run time, perhaps differently on a completion

    def defined(self, e: Node, env: Local, bound: frozenset[str] = frozenset()) -> bool:
        """Whether every name ``e`` uses is in scope (what makes it compile)."""
        if e.op == "var":
            return e.args[0] in bound or env.get(e.args[0]) is not None
        if e.op == "try_":
            return True
        if e.op == "fun":
            return self.defined(e.args[1], env, bound | names_of(e.args[0]))
        if e.op == "let_in":
            rec, bindings, body = e.args
            inner = bound | {b.name for b in bindings}
            return all(
                self.defined(b.body, env, (inner if rec else bound) | _param_names(b))
                for b in bindings
            ) and self.defined(body, env, inner)
        if e.op == "match":
            scrut, clauses = e.args
            return self.defined(scrut, env, bound) and all(
                self.defined(body, env, bound | ({elt, rest} if elt else set()))
                for elt, rest, body in clauses
            )
        if e.op == "if_variant":
            name, then, other = e.args
            return self.defined(then if name in self.variants else other, env, bound)
        return all(self.defined(x, env, bound) for x in e.args if isinstance(x, Node))

    # -- bindings -----------------------------------------------------------------------
    def bind(self, rec: bool, bindings: tuple[Binding, ...], env: Local) -> Local:
        """The scope after ``let [rec] bindings``, inside ``env``."""
        new = Local({}, env)
        if not rec:
            new.vars = {b.name: self.binding(b, env) for b in bindings}
            return new
        for b in bindings:
            new.vars[b.name] = _Fun(b.params, b.body, new) if b.params else GROWS
        values = [b for b in bindings if not b.params]
        if not all(_rel(self.expr(b.body, new)).mono for b in values):
            for b in values:
                new.vars[b.name] = UNKNOWN
        return new

    def binding(self, b: Binding, env: Local) -> Any:
        return _Fun(b.params, b.body, env) if b.params else self.expr(b.body, env)


def _param_names(b: Binding) -> frozenset[str]:
    return frozenset().union(*(names_of(p) for p in b.params))


def _match(pat: Pattern, arg: Any) -> dict[str, Any]:
    if isinstance(pat, str):
        return {pat: arg}
    if len(pat) == 1:
        return {pat[0]: arg}
    if isinstance(arg, tuple) and len(arg) == len(pat):
        return dict(zip(pat, arg, strict=True))
    return dict.fromkeys(pat, UNKNOWN)


def _binary(op: str, a: Abs, b: Abs) -> Abs:
    if op == "union":
        return Abs(*_both(a, b), a.po and b.po, a.po_inv and b.po_inv)
    if op == "inter":
        return Abs(*_both(a, b), a.po or b.po, a.po_inv or b.po_inv)
    if op == "diff":
        return Abs(*_both(a, b.flip()), a.po, a.po_inv)
    if op == "cart":
        return Abs(*_both(a, b))
    # seq: the event in the middle is old when its ends are if b lies within
    # po | id (po is closed downwards) or a within po^-1 | id
    mono, anti = _both(a, b)
    return Abs(mono, anti and (b.po or a.po_inv), a.po and b.po, a.po_inv and b.po_inv)


def _unary(op: str, a: Abs) -> Abs:
    if op == "compl":
        return a.flip()
    if op == "inverse":
        return Abs(a.mono, a.anti, a.po_inv, a.po)
    if op == "ident":
        return Abs(a.mono, a.anti, True, True)
    # plus, star, opt: paths stay among old events when each step is within po
    # (or po^-1) | id; star and opt add id, which is stable
    return Abs(a.mono, a.anti and (a.po or a.po_inv), a.po, a.po_inv)


def _final(stmts: list[Node], name: str) -> tuple[int, int] | None:
    """Where ``name`` is bound for the last time: (statement, binding) indices."""
    last: tuple[int, int] | None = None
    for i, s in enumerate(stmts):
        if s.op == "let_stmt":
            for j, b in enumerate(s.args[1]):
                if b.name == name:
                    last = (i, j) if not s.args[0] else None  # (a let rec is computed)
        elif s.op == "with_stmt" and s.args[0] == name:
            last = (i, 0)
    return last


def prunable_checks(stmts: list[Node], variants: frozenset[str]) -> frozenset[int]:
    """The (0-based, in order) top-level checks of ``stmts`` that may prune a partial
    graph: no flag, not negated, of a value that grows with the graph."""
    an = _Analysis(variants)
    glob = Local(dict(_PRIMS), None)
    has_with = any(s.op == "with_stmt" for s in stmts)
    finals = {_final(stmts, n) for n in ("rf", "co")} if has_with else set()
    out: set[int] = set()
    k = 0
    for i, s in enumerate(stmts):
        # (each binding makes a new global scope: functions keep the one they saw)
        op = s.op
        if op == "let_stmt":
            rec, bindings = s.args
            scope = an.bind(rec, bindings, glob)
            new = {b.name: scope.vars[b.name] for b in bindings}
            new.update({b.name: GROWS for j, b in enumerate(bindings) if (i, j) in finals})
            glob = Local({**glob.vars, **new}, None)
        elif op == "with_stmt":
            chosen = GROWS if (i, 0) in finals else UNKNOWN
            glob = Local({**glob.vars, s.args[0]: chosen}, None)
        elif op == "enum":
            tags = {tag[:1].upper() + tag[1:]: STABLE for tag in s.args[1]}
            glob = Local({**glob.vars, **tags}, None)
        elif op == "check":
            is_flag, neg, kind, expr, _ = s.args
            checked = not is_flag and not neg and kind in ("acyclic", "irreflexive", "empty")
            if checked and _rel(an.expr(expr, glob)).mono:
                out.add(k)
            k += 1
    return frozenset(out)
