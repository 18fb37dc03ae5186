"""Compile a process body into a thread: a generator that yields engine operations.

Each AST node becomes a Python closure over the process's register file (a
``dict``), once, when the test is lowered; running a thread is then calling
closures, which matters because the explorer replays every thread from its
start for every execution.  A node that never touches memory compiles to a
plain function; a node that may compiles to a generator function, and its
parents ``yield from`` it.  Primitives are looked up in the engine's table
(:data:`pinlab.engine.primitives.PRIMITIVES`) at compile time, so an unknown
one is an error before anything runs.

C semantics kept here: plain ``*p`` accesses are ``Tag.PLAIN`` loads and
stores; ``if``, ``while``, ``&&``, ``||`` and ``?:`` truth-test their
condition, which is what records a control dependency on a loaded value, and
the dependency ends with the branch, as in herd7 (:func:`_ctrl_mark`);
``while`` is unrolled as herd7 does for C (the body runs at most
:data:`UNROLL` times; the next true test yields :class:`Cutoff` and ends the
thread).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Generator
from typing import Any, Final

from pinlab.engine import (
    PRIMITIVES,
    Assume,
    CtrlMark,
    Cutoff,
    Load,
    Op,
    Primitive,
    Store,
    Tag,
    ctrl_mark,
    ctrl_restore,
    unwrap,
)
from pinlab.litmus import ast
from pinlab.litmus.bounds import UNROLL
from pinlab.litmus.cvalues import (
    CValueError,
    apply1,
    apply2,
    binary,
    cancels,
    not_pointer,
    unary,
)
from pinlab.litmus.early import Checks
from pinlab.litmus.errors import LitmusError

__all__ = ["UNROLL", "Env", "compile_body"]

Env = dict[str, Any]
Gen = Generator[Op, Any, Any]
Fn = Callable[[Env], Any]
Code = tuple[bool, Fn]  # (is a generator function, function)


class _ThreadCutError(Exception):
    """The thread ends early: a loop was cut off."""


_SNAKE: Final[dict[type, str]] = {
    cls: re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
    for cls in (ast.IntLit, ast.Name, ast.Cast, ast.AddrOf, ast.Unary, ast.Binary, ast.Logical,
                ast.Ternary, ast.Deref, ast.Call, ast.Assign, ast.Decl, ast.ExprStmt, ast.Block,
                ast.If, ast.While)
}  # fmt: skip


def _truth(v: Any) -> int:
    return int(bool(v))


def _ctrl_mark(v: Any) -> CtrlMark:
    """Where the thread's control dependencies stand before branching on ``v``.

    herd7's C semantics makes only the events inside an ``if``'s branches (or
    a loop's body) control dependent on its condition: the compiler may hoist
    what follows the join.  So the interpreter restores the dependencies in
    force before the branch once the branch is done (:func:`_ctrl_restore`).
    """
    return ctrl_mark(v)


def _ctrl_restore(mark: CtrlMark) -> None:
    ctrl_restore(mark)


def _lift(code: Code) -> Callable[[Env], Gen]:
    is_gen, fn = code
    if is_gen:
        return fn

    def gen(env: Env) -> Gen:
        return fn(env)
        yield  # pragma: no cover - makes this a generator function

    return gen


class _Compiler:
    """Compiles the statements and expressions of one process."""

    def __init__(
        self,
        path: str,
        proc: ast.Process,
        checks: Checks | None = None,
        known: frozenset[str] | None = None,
    ) -> None:
        self.path = path
        self.proc = proc
        self.checks = checks or {}
        self.known = known

    def error(self, pos: ast.Pos, message: str) -> LitmusError:
        return LitmusError(self.path, pos.line, pos.col, message)

    def guard(self, pos: ast.Pos, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with C-level value errors reported at ``pos``."""

        def guarded(*args: Any) -> Any:
            try:
                return fn(*args)
            except CValueError as err:
                raise self.error(pos, str(err)) from None

        return guarded

    def pointer_name(self, e: ast.Expr) -> None:
        """Refuse a pointer that is a name the process neither has as a parameter nor
        declares nor assigns (its value would be 0: "not a location: 0" at run time)."""
        if self.known is None or not isinstance(e, ast.Name) or e.ident in self.known:
            return
        params = [f"{' '.join(p.ctype.words)} {'*' * p.ctype.stars}{p.name}"
                  for p in self.proc.params] + [f"int *{e.ident}"]  # fmt: skip
        proc = f"P{self.proc.index}"
        declared = f"{proc}({', '.join(params)})"
        raise self.error(e.pos, f"{e.ident} is not a parameter of {proc}; declare it: {declared}")

    def pointer(self, pos: ast.Pos, what: str) -> Callable[[Any], Any]:
        def check(v: Any) -> Any:
            if not_pointer(v):
                raise self.error(pos, f"{what} is not a location: {unwrap(v)}")
            return v

        return check

    # ------------------------------------------------------------ expressions

    def expr(self, e: ast.Expr) -> Code:
        method: Callable[[Any], Code] = getattr(self, "e_" + _SNAKE[type(e)])
        return method(e)

    def e_int_lit(self, e: ast.IntLit) -> Code:
        value = e.value
        return False, lambda env: value

    def e_name(self, e: ast.Name) -> Code:
        name = e.ident
        return False, lambda env: env[name]

    def e_cast(self, e: ast.Cast) -> Code:
        return self.expr(e.operand)

    def e_addr_of(self, e: ast.AddrOf) -> Code:
        if isinstance(e.operand, ast.Deref):
            return self.expr(e.operand.ptr)
        raise self.error(e.pos, "'&' is not supported here; pass the location as a parameter")

    def e_unary(self, e: ast.Unary) -> Code:
        is_gen, fn = self.expr(e.operand)
        op = self.guard(e.pos, unary(e.op))
        if not is_gen:
            return False, lambda env: apply1(op, fn(env))

        def gen(env: Env) -> Gen:
            return apply1(op, (yield from fn(env)))

        return True, gen

    def e_binary(self, e: ast.Binary) -> Code:
        left, right = self.expr(e.left), self.expr(e.right)
        name, op = e.op, self.guard(e.pos, binary(e.op))

        def apply(a: Any, b: Any) -> Any:
            zero = cancels(name, a, b)
            return zero if zero is not None else apply2(op, a, b)

        if not left[0] and not right[0]:
            lf, rf = left[1], right[1]
            return False, lambda env: apply(lf(env), rf(env))
        lg, rg = _lift(left), _lift(right)

        def gen(env: Env) -> Gen:
            a = yield from lg(env)
            return apply(a, (yield from rg(env)))

        return True, gen

    def e_logical(self, e: ast.Logical) -> Code:
        is_and = e.op == "&&"
        lg, rg = _lift(self.expr(e.left)), _lift(self.expr(e.right))
        combine = binary("&" if is_and else "|")

        def gen(env: Env) -> Gen:
            a = yield from lg(env)
            truth_a, mark = apply1(_truth, a), _ctrl_mark(a)  # 0 or 1, with a's dependencies
            if bool(a) != is_and:  # a branch: control dependency on a
                return truth_a
            b = yield from rg(env)
            _ctrl_restore(mark)
            return apply2(combine, truth_a, apply1(_truth, b))

        return True, gen

    def e_ternary(self, e: ast.Ternary) -> Code:
        cg, tg, og = (_lift(self.expr(x)) for x in (e.cond, e.then, e.other))

        def gen(env: Env) -> Gen:
            c = yield from cg(env)
            mark = _ctrl_mark(c)
            v = (yield from tg(env)) if c else (yield from og(env))
            _ctrl_restore(mark)
            return v

        return True, gen

    def e_deref(self, e: ast.Deref) -> Code:
        self.pointer_name(e.ptr)
        pg, check = _lift(self.expr(e.ptr)), self.pointer(e.pos, "the dereferenced value")

        def gen(env: Env) -> Gen:
            loc = check((yield from pg(env)))
            return (yield Load(loc, Tag.PLAIN))

        return True, gen

    def e_call(self, e: ast.Call, value_used: bool = True) -> Code:
        """A primitive call; one that returns nothing (``smp_mb()``) must be a statement."""
        prim = self.primitive(e)
        if value_used and not prim.returns and prim.post is None:
            raise self.error(
                e.pos, f"{e.func}() returns no value; expected it as a statement of its own"
            )
        args = [self.argument(e, kind, arg) for kind, arg in zip(prim.params, e.args, strict=True)]

        def gen(env: Env) -> Gen:
            values = []
            for arg in args:
                values.append((yield from arg(env)))
            return (yield from prim.run(*values))

        return True, gen

    def primitive(self, e: ast.Call) -> Primitive:
        prim = PRIMITIVES.get(e.func)
        if prim is None or prim.kernel_only:
            raise self.error(e.pos, f"unknown primitive '{e.func}' (not in linux-kernel.def)")
        if len(prim.params) != len(e.args):
            n = len(prim.params)
            raise self.error(
                e.pos,
                f"{e.func}() takes {n} argument{'s' if n != 1 else ''}, {len(e.args)} given",
            )
        return prim

    def argument(self, call: ast.Call, kind: str, arg: ast.Expr) -> Callable[[Env], Gen]:
        """The code of one argument: for ``lv`` parameters the location of the lvalue."""
        if kind == "lv":
            if not isinstance(arg, ast.Deref):
                raise self.error(arg.pos, f"{call.func}() needs an lvalue such as *x here")
            arg = arg.ptr
        code = _lift(self.expr(arg))
        if kind == "val":
            return code
        self.pointer_name(arg)
        check = self.pointer(arg.pos, f"the argument of {call.func}()")

        def gen(env: Env) -> Gen:
            return check((yield from code(env)))

        return gen

    def e_assign(self, e: ast.Assign) -> Code:
        vg = _lift(self.expr(e.value))
        op = self.guard(e.pos, binary(e.op[:-1])) if e.op != "=" else None
        if isinstance(e.target, ast.Name):
            name = e.target.ident

            def to_reg(env: Env) -> Gen:
                v = yield from vg(env)
                env[name] = v = apply2(op, env[name], v) if op is not None else v
                return v

            return True, to_reg
        if isinstance(e.target, ast.Deref):
            self.pointer_name(e.target.ptr)
            pg = _lift(self.expr(e.target.ptr))
            check = self.pointer(e.target.pos, "the assigned location")

            def to_mem(env: Env) -> Gen:
                loc = check((yield from pg(env)))
                v = yield from vg(env)
                if op is not None:
                    v = apply2(op, (yield Load(loc, Tag.PLAIN)), v)
                yield Store(loc, v, Tag.PLAIN)
                return v

            return True, to_mem
        raise self.error(e.pos, "the left side of an assignment must be a register or *pointer")

    # ------------------------------------------------------------- statements

    def stmt(self, s: ast.Stmt) -> Code:
        method: Callable[[Any], Code] = getattr(self, "s_" + _SNAKE[type(s)])
        code: Code = method(s)
        checks = self.checks.get(id(s))
        if not checks:
            return code
        step = _lift(code)

        def checked(env: Env) -> Gen:
            yield from step(env)
            for reg, value, equal in checks:
                yield Assume(env[reg] == value if equal else env[reg] != value)

        return True, checked

    def s_decl(self, s: ast.Decl) -> Code:
        if s.init is None:
            return False, lambda env: None
        return self.expr(ast.Assign(ast.Name(s.name, s.pos), "=", s.init, s.pos))

    def s_expr_stmt(self, s: ast.ExprStmt) -> Code:
        if isinstance(s.expr, ast.Call):
            return self.e_call(s.expr, value_used=False)
        return self.expr(s.expr)

    def s_block(self, s: ast.Block) -> Code:
        codes = [self.stmt(x) for x in s.stmts]
        if not any(is_gen for is_gen, _ in codes):
            fns = [fn for _, fn in codes]

            def run(env: Env) -> None:
                for fn in fns:
                    fn(env)

            return False, run
        gens = [_lift(c) for c in codes]

        def gen(env: Env) -> Gen:
            for g in gens:
                yield from g(env)

        return True, gen

    def s_if(self, s: ast.If) -> Code:
        cg, tg = _lift(self.expr(s.cond)), _lift(self.stmt(s.then))
        og = _lift(self.stmt(s.other)) if s.other is not None else None

        def gen(env: Env) -> Gen:
            c = yield from cg(env)
            mark = _ctrl_mark(c)
            if c:  # the truth test records the control dependency
                yield from tg(env)
            elif og is not None:
                yield from og(env)
            _ctrl_restore(mark)

        return True, gen

    def s_while(self, s: ast.While) -> Code:
        cg, bg = _lift(self.expr(s.cond)), _lift(self.stmt(s.body))
        why = f"while loop at {self.path}:{s.pos.line}:{s.pos.col} unrolled {UNROLL} times"

        def gen(env: Env) -> Gen:
            n, mark = 0, None
            while True:
                c = yield from cg(env)
                mark = mark or _ctrl_mark(c)  # later iterations depend on earlier tests
                if not c:
                    break
                if n >= UNROLL:
                    yield Cutoff(why)
                    raise _ThreadCutError
                yield from bg(env)
                n += 1
            _ctrl_restore(mark)

        return True, gen


def compile_body(
    path: str,
    proc: ast.Process,
    checks: Checks | None = None,
    known: frozenset[str] | None = None,
) -> Callable[[Env], Generator[Op, Any, Env]]:
    """The thread of ``proc``: call it with an initial register file for a fresh generator.

    ``checks`` says after which statements to assume which register values
    (see :mod:`pinlab.litmus.early`).  ``known``, when given, is every name
    that may hold a pointer (parameters, registers the initial state sets,
    names the body declares or assigns): dereferencing any other name is an
    error naming the missing parameter.
    """
    body = _lift(_Compiler(path, proc, checks, known).stmt(proc.body))

    def thread(init: Env) -> Generator[Op, Any, Env]:
        env = dict(init)
        with contextlib.suppress(_ThreadCutError):
            yield from body(env)
        return env

    return thread
