"""Expressions of the cat language compiled to Python closures.

Names are resolved once, when the model is loaded: a name bound at the top
level of the model (``let``, an ``enum``'s tag set, a primitive, a ``with``)
is a *slot* of the evaluation's global array; a name bound inside an
expression (a function's parameter, ``let ... in``, a ``match`` case) is
looked up in a chain of small dicts (:class:`Local`).  An unbound name is a
:class:`~pinlab.cat.errors.CatError` at its position, found at load time --
except under ``try ... with``, which then takes its fallback.  A compiled
expression is a function ``code(g, loc)`` of the global array (whose slot 0
is the :class:`~pinlab.cat.graphbase.Context`) and the local chain.

Top-level slots hold values or :class:`Thunk`\\ s: a ``let`` is evaluated
when first used, once.  Recursive definitions of values (``let rec``) are
computed as herd does, from empty values up, re-evaluating each definition
in order until none changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from pinlab.cat import values as v
from pinlab.cat.ast import Binding, Node, Pattern
from pinlab.cat.errors import CatError, Pos
from pinlab.cat.graphbase import Prim, Unavailable

__all__ = ["Closure", "Code", "Local", "Scope", "Thunk", "call", "compile_expr", "fixpoint"]

Code = Callable[[list[Any], "Local | None"], Any]
MAX_ROUNDS: Final = 10_000  # of a recursive definition's fixpoint


class Local:
    """Names in scope: a chain of small dicts, innermost first (also the scopes
    of pinlab.cat.monotone's analysis)."""

    __slots__ = ("parent", "vars")

    def __init__(self, vars: dict[str, Any], parent: Local | None) -> None:
        self.vars = vars
        self.parent = parent

    def get(self, name: str) -> Any:
        """``name``'s value, or None where it is not bound (the interpreter
        resolves its names at load time; the analysis asks of any)."""
        env: Local | None = self
        while env is not None:
            if name in env.vars:
                return env.vars[name]
            env = env.parent
        return None


class Thunk:
    """A top-level ``let``'s value, computed on first use."""

    __slots__ = ("code", "g", "pos", "state", "value")

    def __init__(self, code: Code, g: list[Any], pos: Pos) -> None:
        self.code = code
        self.g = g
        self.pos = pos
        self.state = 0  # 0: not yet, 1: computing, 2: done
        self.value: Any = None

    def get(self) -> Any:
        if self.state == 2:
            return self.value
        if self.state == 1:
            raise CatError(self.pos, "this definition depends on itself (use let rec)")
        self.state = 1
        try:
            self.value = self.code(self.g, None)
        finally:
            self.state = 0
        self.state = 2
        return self.value


@dataclass(frozen=True, slots=True)
class Closure:
    params: tuple[Pattern, ...]
    body: Code
    g: list[Any]
    loc: Local | None
    pos: Pos


def _bind(pat: Pattern, arg: Any, pos: Pos) -> dict[str, Any]:
    if isinstance(pat, str):
        return {pat: arg}
    if len(pat) == 1:
        return {pat[0]: arg}
    if not isinstance(arg, tuple) or len(arg) != len(pat):
        raise CatError(pos, f"expected {len(pat)} arguments, got {v.a_(arg)}")
    return dict(zip(pat, arg, strict=True))


def call(f: Any, arg: Any, pos: Pos, g: list[Any]) -> Any:
    if isinstance(f, Closure):
        loc = Local(_bind(f.params[0], arg, pos), f.loc)
        if len(f.params) > 1:
            return Closure(f.params[1:], f.body, f.g, loc, f.pos)
        return f.body(f.g, loc)
    if isinstance(f, Prim):
        try:
            return f.fn(g[0], arg)
        except Unavailable as err:
            raise CatError(pos, str(err)) from None
    raise CatError(pos, f"{v.a_(f)} is not a function")


def force(g: list[Any], i: int) -> Any:
    x = g[i]
    return x.get() if type(x) is Thunk else x


@dataclass(slots=True)
class Scope:
    """Names visible at a point of the model: top-level slots, and local names."""

    globals: dict[str, int]
    variants: frozenset[str]
    locals: frozenset[str] = frozenset()
    deps: set[int] = field(default_factory=set)  # slots the compiled code reads

    def inner(self, names: set[str] | frozenset[str]) -> Scope:
        return Scope(self.globals, self.variants, self.locals | names, self.deps)


def names_of(pat: Pattern) -> set[str]:
    return {pat} if isinstance(pat, str) else set(pat)


def fixpoint(names: list[str], codes: list[Callable[[], Any]], get: Callable[[str], Any],
             put: Callable[[str, Any], None], pos: Pos) -> None:  # fmt: skip
    """Least fixpoint of ``name_i = code_i``, from empty values, in order."""
    for name in names:
        put(name, v.EMPTY)
    for _ in range(MAX_ROUNDS):
        changed = False
        for name, code in zip(names, codes, strict=True):
            new = code()
            if not v.same(new, get(name)):
                changed = True
            put(name, new)
        if not changed:
            return
    raise CatError(pos, f"let rec {', '.join(names)}: no fixpoint after {MAX_ROUNDS} rounds")


def _typed(pos: Pos, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except v.CatTypeError as err:
        raise CatError(pos, str(err)) from None


def compile_expr(e: Node, sc: Scope) -> Code:
    """``e`` compiled in scope ``sc`` (whose ``deps`` gain the slots it reads)."""
    op = e.op
    pos = e.pos
    if op == "var":
        return _var(e.args[0], sc, pos)
    if op in ("zero", "empty_set"):
        return lambda g, loc: v.EMPTY
    if op == "universe":
        return lambda g, loc: (1 << g[0].n) - 1
    if op == "tag":
        tag = v.Tag(e.args[0])
        return lambda g, loc: tag
    if op == "seq" and "ident" in (e.args[0].op, e.args[1].op):
        return _seq_ident(e, sc)
    if op in ("union", "inter", "diff", "seq", "cart"):
        ca, cb = compile_expr(e.args[0], sc), compile_expr(e.args[1], sc)

        def binary(g: list[Any], loc: Local | None) -> Any:
            a, b = ca(g, loc), cb(g, loc)
            try:
                return v.binary(op, a, b, g[0].n)
            except v.CatTypeError as err:
                raise CatError(pos, str(err)) from None

        return binary
    if op == "add":
        ca, cb = compile_expr(e.args[0], sc), compile_expr(e.args[1], sc)
        return lambda g, loc: _typed(pos, lambda: v.add(ca(g, loc), cb(g, loc), g[0].n))
    if op in ("compl", "inverse", "plus", "star", "opt", "ident"):
        ca = compile_expr(e.args[0], sc)

        def unary(g: list[Any], loc: Local | None) -> Any:
            a = ca(g, loc)
            try:
                return v.unary(op, a, g[0].n)
            except v.CatTypeError as err:
                raise CatError(pos, str(err)) from None

        return unary
    if op == "apply":
        cf, ca = compile_expr(e.args[0], sc), compile_expr(e.args[1], sc)
        return lambda g, loc: call(cf(g, loc), ca(g, loc), pos, g)
    if op == "tuple":
        parts = [compile_expr(x, sc) for x in e.args]
        return lambda g, loc: tuple(c(g, loc) for c in parts)
    if op == "set_lit":
        return _set_lit([compile_expr(x, sc) for x in e.args], pos)
    if op == "fun":
        pat, body = e.args
        cbody = compile_expr(body, sc.inner(names_of(pat)))
        return lambda g, loc: Closure((pat,), cbody, g, loc, pos)
    if op == "let_in":
        return _let_in(e, sc)
    if op == "match":
        return _match(e, sc)
    if op == "try_":
        return _try(e, sc)
    if op == "if_variant":
        name, then, other = e.args
        return compile_expr(then if name in sc.variants else other, sc)
    raise CatError(pos, f"unsupported construct {op!r}")


def _seq_ident(e: Node, sc: Scope) -> Code:
    """``[S] ; r`` and ``r ; [S]`` (and ``[S] ; [T]``): ``r`` restricted, without
    building the identity on ``S`` and composing with it."""
    left, right = e.args
    on_left = left.op == "ident"
    ident = left if on_left else right
    ca = compile_expr(left.args[0] if on_left else left, sc)
    cb = compile_expr(right if on_left else right.args[0], sc)
    pos, ipos = e.pos, ident.pos

    def seq(g: list[Any], loc: Local | None) -> Any:
        a, b = ca(g, loc), cb(g, loc)
        s, r = (a, b) if on_left else (b, a)
        if type(s) is int and type(r) is list:
            if on_left:
                return [row if (s >> i) & 1 else 0 for i, row in enumerate(r)]
            return [row & s for row in r]
        n = g[0].n
        try:  # (empty values, and the errors, as the operators give them)
            s = v.unary("ident", s, n)
        except v.CatTypeError as err:
            raise CatError(ipos, str(err)) from None
        try:
            return v.binary("seq", s, r, n) if on_left else v.binary("seq", r, s, n)
        except v.CatTypeError as err:
            raise CatError(pos, str(err)) from None

    return seq


def _var(name: str, sc: Scope, pos: Pos) -> Code:
    if name in sc.locals:
        return lambda g, loc: loc.get(name)  # type: ignore[union-attr]
    slot = sc.globals.get(name)
    if slot is None:
        raise CatError(pos, f"unbound name {name!r}")
    sc.deps.add(slot)

    def read(g: list[Any], loc: Local | None) -> Any:
        try:
            return force(g, slot)
        except Unavailable as err:
            raise CatError(pos, str(err)) from None

    return read


def _set_lit(parts: list[Code], pos: Pos) -> Code:
    def build(g: list[Any], loc: Local | None) -> Any:
        out: Any = v.EMPTY
        for c in parts:
            try:
                out = v.add(c(g, loc), out, g[0].n)
            except v.CatTypeError as err:
                raise CatError(pos, str(err)) from None
        return out

    return build


def binding_code(b: Binding, sc: Scope) -> tuple[Code, bool]:
    """A binding's code, and whether it is a function (its value a closure)."""
    if not b.params:
        return compile_expr(b.body, sc), False
    inner: set[str] = set()
    for p in b.params:
        inner |= names_of(p)
    body = compile_expr(b.body, sc.inner(inner))
    params, pos = b.params, b.pos
    return (lambda g, loc: Closure(params, body, g, loc, pos)), True


def _let_in(e: Node, sc: Scope) -> Code:
    rec, bindings, body = e.args
    names = {b.name for b in bindings}
    inner = sc.inner(names)
    codes = [binding_code(b, inner if rec else sc) for b in bindings]
    cbody = compile_expr(body, inner)
    pos = e.pos

    def run(g: list[Any], loc: Local | None) -> Any:
        if not rec:
            vals = {b.name: c(g, loc) for b, (c, _) in zip(bindings, codes, strict=True)}
            return cbody(g, Local(vals, loc))
        new = Local({}, loc)
        for b, (c, is_fun) in zip(bindings, codes, strict=True):
            if is_fun:
                new.vars[b.name] = c(g, new)
        values = [(b.name, c) for b, (c, is_fun) in zip(bindings, codes, strict=True) if not is_fun]
        if values:
            fixpoint(
                [name for name, _ in values],
                [lambda c=c: c(g, new) for _, c in values],  # type: ignore[misc]
                new.vars.__getitem__,
                new.vars.__setitem__,
                pos,
            )
        return cbody(g, new)

    return run


def _match(e: Node, sc: Scope) -> Code:
    scrut, clauses = e.args
    cs = compile_expr(scrut, sc)
    on_empty: Code | None = None
    on_cons: tuple[str, str, Code] | None = None
    for elt, rest, body in clauses:
        if elt is None:
            on_empty = on_empty or compile_expr(body, sc)
        elif on_cons is None:
            on_cons = (elt, rest, compile_expr(body, sc.inner({elt, rest})))
    pos = e.pos

    def run(g: list[Any], loc: Local | None) -> Any:
        s = cs(g, loc)
        split = _typed(pos, lambda: v.remove_first(s, g[0].n))
        if split is None:
            if on_empty is None:
                raise CatError(pos, "match: no case for the empty set")
            return on_empty(g, loc)
        if on_cons is None:
            raise CatError(pos, "match: no case for a non-empty set")
        elt, rest, body = on_cons
        return body(g, Local({elt: split[0], rest: split[1]}, loc))

    return run


def _try(e: Node, sc: Scope) -> Code:
    body, fallback = e.args
    cf = compile_expr(fallback, sc)
    try:
        trial = Scope(sc.globals, sc.variants, sc.locals)
        cb = compile_expr(body, trial)
    except CatError:
        return cf
    sc.deps |= trial.deps

    def run(g: list[Any], loc: Local | None) -> Any:
        try:
            return cb(g, loc)
        except CatError:
            return cf(g, loc)

    return run
