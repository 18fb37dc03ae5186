"""A cat model compiled, and run on one execution graph.

:class:`Program` turns the statements of the model (stdlib, bell and cat
files in that order, includes spliced in) into a list of steps over global
slots (see :mod:`pinlab.cat.compile`), and :meth:`Program.run` decides a
graph:

- ``let``: the slot gets a thunk (or, for a function, a closure);
- ``enum``: each tag's event set gets a slot (``'rcu-lock`` -> ``Rcu-lock``);
- a check (``acyclic``, ``irreflexive``, ``empty``, negated or not, a
  ``flag`` or not) is kept, and decided in order when the run ends;
- ``with x from S``: the run goes on once per member of ``S``, with ``x``
  bound to it (herd's existential: the graph is consistent when some choice
  passes every check).

**Which choices stand for the graph.**  pinlab's graph already fixes what
herd chooses with ``with``: its reads-from (of lock reads too) and its
coherence order.  A run that went through a ``with`` therefore counts only
if the model's final ``rf`` and ``co`` are the graph's (as
:class:`~pinlab.engine.models.base.Relations` gives them); the others are
other executions, which the explorer visits as graphs of their own.  Checks
met before a ``with`` are decided before its choices are enumerated (they
do not depend on them), so a failing one names the verdict; a graph no
choice matches fails as ``with-NAME``.

A value that depends only on the events and program order (not on
reads-from, coherence or values: computed by a dependency analysis at load
time) is cached per graph shape, as the built-in models cache theirs.
"""

from __future__ import annotations

import itertools
from typing import Any, Final

from pinlab.cat import values as v
from pinlab.cat.ast import Node
from pinlab.cat.compile import (
    Code,
    Local,
    Scope,
    Thunk,
    _bind,
    binding_code,
    compile_expr,
    fixpoint,
    force,
    names_of,
)
from pinlab.cat.errors import CatError, Pos
from pinlab.cat.graphbase import PRIMITIVES, Context, TagMap, Unavailable
from pinlab.engine import relation as r
from pinlab.engine.graph import ExecutionGraph
from pinlab.engine.models.base import Relations, Verdict

__all__ = ["Program"]

_IGNORED: Final = frozenset(("show", "instructions"))
_tokens = itertools.count()


def tag_set_name(tag: str) -> str:
    """herd's name for the events carrying ``tag``: its first letter capitalised."""
    return tag[:1].upper() + tag[1:]


class _Group:
    """A top-level ``let rec`` of values: computed together, on first use."""

    __slots__ = ("codes", "done", "g", "pos", "slots")

    def __init__(self, slots: list[int], codes: list[Code], g: list[Any], pos: Pos) -> None:
        self.slots, self.codes, self.g, self.pos = slots, codes, g, pos
        self.done = False

    def compute(self) -> None:
        if self.done:
            return
        g = self.g
        names = [str(s) for s in self.slots]
        fixpoint(
            names,
            [lambda c=c: c(g, None) for c in self.codes],  # type: ignore[misc]
            lambda name: g[int(name)],
            lambda name, val: g.__setitem__(int(name), val),
            self.pos,
        )
        self.done = True


class Program:
    """The steps of a model, its slots, and what each slot depends on."""

    def __init__(self, stmts: list[Node], variants: frozenset[str]) -> None:
        self.token = f"cat{next(_tokens)}:"
        self.names: list[str] = ["<context>"]
        self.shape_only: list[bool] = [False]
        self.globals: dict[str, int] = {}
        self.prims: list[tuple[int, str]] = []
        for name, prim in PRIMITIVES.items():
            slot = self._slot(name, prim.shape_only)
            self.prims.append((slot, name))
        self.variants = variants
        self.stmts = stmts
        self.deps: dict[int, set[int]] = {}  # slot -> the slots its code reads
        self.check_deps: list[set[int]] = []  # of each top-level check, in order
        self._plans: dict[frozenset[int], tuple[list[tuple[Any, ...]], list[tuple[int, str]]]] = {}
        self.enum_tags: set[str] = set()
        self.procs: dict[str, tuple[Any, list[tuple[Any, ...]], Pos]] = {}
        self.steps: list[tuple[Any, ...]] = []
        for s in stmts:
            self._statement(s)
        self.final_rf = self.globals.get("rf")
        self.final_co = self.globals.get("co")

    # -- compiling ------------------------------------------------------------------
    def _slot(self, name: str, shape_only: bool) -> int:
        slot = len(self.names)
        self.names.append(name)
        self.shape_only.append(shape_only)
        self.globals[name] = slot
        return slot

    def _scope(self) -> Scope:
        return Scope(dict(self.globals), self.variants)

    def _pure(self, deps: set[int], but: frozenset[int] = frozenset()) -> bool:
        return all(self.shape_only[d] for d in deps if d not in but)

    def _cached(self, slot: int, code: Code) -> Code:
        key = self.token + str(slot)

        def cached(g: list[Any], loc: Local | None) -> Any:
            cache = g[0].cache
            got = cache.get(key)
            if got is None:
                got = cache[key] = code(g, loc)
            return got

        return cached

    def _statement(self, s: Node) -> None:
        op = s.op
        if op == "let_stmt":
            self._let(s)
        elif op == "check":
            is_flag, neg, kind, expr, name = s.args
            sc = self._scope()
            code = compile_expr(expr, sc)
            self.check_deps.append(sc.deps)
            label = name if name is not None else f"{kind}@{s.pos}"
            self.steps.append(("check", is_flag, neg, kind, code, label, s.pos))
        elif op == "with_stmt":
            name, expr = s.args
            sc = self._scope()
            code = compile_expr(expr, sc)
            slot = self._slot(name, False)
            self.deps[slot] = sc.deps
            self.steps.append(("with", slot, code, name, s.pos))
        elif op == "enum":
            for tag in s.args[1]:
                self.enum_tags.add(tag)
                self.steps.append(("tagset", self._slot(tag_set_name(tag), True), tag))
        elif op == "procedure":
            name, pat, body = s.args
            self.procs[name] = (pat, self._proc_body(body, names_of(pat)), s.pos)
        elif op == "call":
            self.steps.append(self._call_step(s, self._scope()))
        elif op not in _IGNORED:
            raise CatError(s.pos, f"unsupported statement {op!r}")

    def _let(self, s: Node) -> None:
        rec, bindings = s.args
        if not rec:
            compiled = []
            for b in bindings:
                sc = self._scope()
                code, is_fun = binding_code(b, sc)
                compiled.append((b, code, is_fun, sc.deps))
            for b, code, is_fun, deps in compiled:
                slot = self._slot(b.name, self._pure(deps))
                self.deps[slot] = deps
                self._let_step(slot, code, is_fun, b.pos)
            return
        slots = [self._slot(b.name, True) for b in bindings]
        sc = self._scope()
        codes = [binding_code(b, sc) for b in bindings]
        pure = self._pure(sc.deps, frozenset(slots))
        group: list[tuple[int, Code]] = []
        for slot, b, (code, is_fun) in zip(slots, bindings, codes, strict=True):
            self.shape_only[slot] = pure
            self.deps[slot] = sc.deps
            if is_fun:
                self._let_step(slot, code, True, b.pos)
            else:
                group.append((slot, code))
        if group:
            self.steps.append(("group", [g for g, _ in group], [c for _, c in group], s.pos))

    def _let_step(self, slot: int, code: Code, is_fun: bool, pos: Pos) -> None:
        if self.shape_only[slot] and not is_fun:
            code = self._cached(slot, code)
        self.steps.append(("let", slot, code, is_fun, pos))

    def _proc_body(self, body: tuple[Node, ...], params: set[str]) -> list[tuple[Any, ...]]:
        items: list[tuple[Any, ...]] = []
        local = set(params)
        for s in body:
            sc = self._scope().inner(frozenset(local))
            if s.op == "let_stmt" and not s.args[0]:
                for b in s.args[1]:
                    items.append(("let", b.name, binding_code(b, sc)[0]))
                local |= {b.name for b in s.args[1]}
            elif s.op == "check":
                is_flag, neg, kind, expr, name = s.args
                label = name if name is not None else f"{kind}@{s.pos}"
                items.append(("check", is_flag, neg, kind, compile_expr(expr, sc), label, s.pos))
            elif s.op == "call":
                items.append(self._call_step(s, sc))
            elif s.op not in _IGNORED:
                raise CatError(s.pos, f"unsupported in a procedure: {s.op!r}")
        return items

    def _call_step(self, s: Node, sc: Scope) -> tuple[Any, ...]:
        name, arg, as_name = s.args
        proc = self.procs.get(name)
        if proc is None:
            raise CatError(s.pos, f"call of {name!r}, which is no procedure")
        pat, items, _ = proc
        return ("call", pat, items, compile_expr(arg, sc), as_name, s.pos)

    # -- running --------------------------------------------------------------------
    def run(self, graph: ExecutionGraph, tags: TagMap) -> Verdict:
        g, rel = self._globals(graph, tags, self.prims)
        return self._go(g, 0, [], None, rel)

    def _globals(
        self, graph: ExecutionGraph, tags: TagMap, prims: list[tuple[int, str]]
    ) -> tuple[list[Any], Relations]:
        """A run's global slots: the context, and the primitives ``prims``."""
        rel = Relations(graph)
        g: list[Any] = [None] * len(self.names)
        g[0] = Context(graph, rel, rel.n, tags, rel.shape.derived, self.token)
        for slot, name in prims:
            g[slot] = Thunk(self._prim_code(name), g, Pos("<herd>"))
        return g, rel

    def _define(self, g: list[Any], st: tuple[Any, ...]) -> bool:
        """Run step ``st`` if it defines names (a ``let``, a tag set, a group of
        ``let rec``); whether it was one."""
        kind = st[0]
        if kind == "let":
            _, slot, code, is_fun, pos = st
            g[slot] = code(g, None) if is_fun else Thunk(code, g, pos)
        elif kind == "tagset":
            g[st[1]] = g[0].tagged(st[2]) if st[2] else 0
        elif kind == "group":
            self._group(g, st)
        else:
            return False
        return True

    def run_partial(self, graph: ExecutionGraph, tags: TagMap, checks: frozenset[int]) -> bool:
        """Whether the top-level checks numbered ``checks`` (0-based, in order; see
        :func:`pinlab.cat.monotone.prunable_checks`) all hold on ``graph``.

        Only the steps those checks depend on run, and no ``with``: its name
        is left unchosen (the checks do not use it), and when the model has
        one, its last ``rf`` and ``co`` are the graph's, as a run that counts
        has them (:meth:`_matches`)."""
        plan = self._plans.get(checks)
        if plan is None:
            plan = self._plans[checks] = self._plan(checks)
        steps, prims = plan
        g, rel = self._globals(graph, tags, prims)
        todo: list[tuple[Any, ...]] = []
        for st in steps:
            kind = st[0]
            if self._define(g, st):
                continue
            if kind == "fixed":
                g[st[1]] = rel.rf if st[2] == "rf" else rel.co
            elif kind == "with":
                _, slot, _, name, pos = st
                g[slot] = Thunk(_unchosen(name, pos), g, pos)
            else:
                todo.append(st)
        return all(_test(st[3], st[4](g, None), st[6]) for st in todo)

    def _plan(self, checks: frozenset[int]) -> tuple[list[tuple[Any, ...]], list[tuple[int, str]]]:
        """The steps and primitives a partial run of ``checks`` needs, in order."""
        fixed: dict[int, str] = {}
        if any(st[0] == "with" for st in self.steps):
            finals = {self.final_rf: "rf", self.final_co: "co"}
            fixed = {st[1]: finals[st[1]] for st in self.steps
                     if st[0] in ("let", "with") and st[1] in finals}  # fmt: skip
        need: set[int] = set()
        todo = [d for k in checks for d in self.check_deps[k]]
        while todo:
            slot = todo.pop()
            if slot not in need:
                need.add(slot)
                if slot not in fixed:
                    todo.extend(self.deps.get(slot, ()))
        steps: list[tuple[Any, ...]] = []
        k = 0
        for st in self.steps:
            kind = st[0]
            if kind == "check":
                if k in checks:
                    steps.append(st)
                k += 1
            elif kind in ("let", "with") and st[1] in fixed:
                if st[1] in need:
                    steps.append(("fixed", st[1], fixed[st[1]]))
            elif kind == "group":
                if need & set(st[1]):
                    steps.append(st)
            elif kind in ("let", "tagset", "with") and st[1] in need:
                steps.append(st)
        return steps, [(slot, name) for slot, name in self.prims if slot in need]

    def _prim_code(self, name: str) -> Code:
        prim = PRIMITIVES[name]
        build = prim.build
        key = self.token + name

        def code(g: list[Any], loc: Local | None) -> Any:
            ctx = g[0]
            if prim.shape_only:
                got = ctx.cache.get(key)
                if got is None:
                    got = ctx.cache[key] = build(ctx)
                return got
            return build(ctx)

        return code

    def _go(
        self, g: list[Any], start: int, pending: list[tuple[Any, ...]], chose: str | None,
        rel: Relations,
    ) -> Verdict:  # fmt: skip
        steps = self.steps
        for i in range(start, len(steps)):
            st = steps[i]
            if self._define(g, st):
                continue
            if st[0] in ("check", "call"):
                pending.append(st)
            else:  # with
                return self._with(g, i, pending, rel)
        if chose is not None and not self._matches(g, rel):
            return Verdict(False, f"with-{chose}")
        return self._decide(g, pending)

    def _group(self, g: list[Any], st: tuple[Any, ...]) -> None:
        _, slots, codes, pos = st
        group = _Group(slots, codes, g, pos)

        for slot in slots:
            g[slot] = Thunk(_member(group, slot), g, pos)

    def _with(
        self, g: list[Any], i: int, pending: list[tuple[Any, ...]], rel: Relations
    ) -> Verdict:
        _, slot, code, name, pos = self.steps[i]
        early = self._decide(g, [st for st in pending if not (st[0] == "check" and st[1])])
        if not early.consistent:
            return early
        flags = [st for st in pending if st[0] == "check" and st[1]]
        try:
            choices = v.elements(code(g, None))
        except v.CatTypeError as err:
            raise CatError(pos, f"with {name} from: {err}") from None
        failed: Verdict | None = None
        for choice in choices:
            branch = list(g)
            branch[slot] = choice
            # (thunks made from here on see the branch's slots)
            out = self._go(branch, i + 1, list(flags), name, rel)
            if out.consistent:
                return out
            if failed is None or (failed.failed or "").startswith("with-"):
                failed = out
        return failed if failed is not None else Verdict(False, f"with-{name}")

    def _matches(self, g: list[Any], rel: Relations) -> bool:
        for slot, want in ((self.final_rf, rel.rf), (self.final_co, rel.co)):
            if slot is not None and not v.same(force(g, slot), want):
                return False
        return True

    def _decide(self, g: list[Any], checks: list[tuple[Any, ...]]) -> Verdict:
        flags: set[str] = set()
        for st in checks:
            if st[0] == "call":
                failed = self._run_call(g, st, flags)
                if failed is not None:
                    return Verdict(False, failed)
                continue
            _, is_flag, neg, kind, code, label, pos = st
            holds = _test(kind, code(g, None), pos) != neg
            if is_flag:
                if holds:
                    flags.add(label)
            elif not holds:
                return Verdict(False, label)
        return Verdict(True, None, frozenset(flags))

    def _run_call(
        self, g: list[Any], st: tuple[Any, ...], flags: set[str], outer: Local | None = None
    ) -> str | None:
        _, pat, items, code, as_name, pos = st
        loc = Local(_bind(pat, code(g, outer), pos), None)
        for item in items:
            if item[0] == "let":
                loc = Local({item[1]: item[2](g, loc)}, loc)
                continue
            if item[0] == "call":
                failed = self._run_call(g, item, flags, loc)
                if failed is not None:
                    return as_name or failed
                continue
            _, is_flag, neg, kind, icode, label, ipos = item
            holds = _test(kind, icode(g, loc), ipos) != neg
            name: str = as_name or label
            if is_flag and holds:
                flags.add(name)
            elif not is_flag and not holds:
                return name
        return None


def _unchosen(name: str, pos: Pos) -> Code:
    def unchosen(g: list[Any], loc: Local | None) -> Any:
        raise CatError(pos, f"{name}: a choice of 'with', which a partial run does not make")

    return unchosen


def _member(group: _Group, slot: int) -> Code:
    def member(g: list[Any], loc: Local | None) -> Any:
        group.compute()
        return g[slot]

    return member


def _test(kind: str, value: Any, pos: Pos) -> bool:
    try:
        if kind == "empty":
            return v.is_empty(value)
        if value is v.EMPTY:
            return True
        if not isinstance(value, list):
            raise CatError(pos, f"{kind} of {v.a_(value)}: expected a relation")
        return r.acyclic(value) if kind == "acyclic" else r.irreflexive(value)
    except v.CatTypeError as err:
        raise CatError(pos, f"{kind}: {err}") from None
    except Unavailable as err:
        raise CatError(pos, str(err)) from None
