"""The bounds on a litmus test's size and shape, and the checks that keep to them.

Real litmus tests are small (the largest of the kernel's and Paul McKenney's
collections is under 2 KiB, nests statements a few levels deep and computes
no value through more than a handful of operations), but pinlab must answer
any input with one line naming what is wrong, never a Python traceback.  So
the front end refuses what it cannot handle, where it can point at it:

- the file: at most :data:`MAX_FILE_BYTES` (256 KiB), read in a bounded way
  (:mod:`pinlab.litmus.source`);
- an integer literal must fit in 64 bits, as the kernel's longest integer
  types: at most :data:`MAX_LITERAL` (``2**64 - 1``) in magnitude, so
  ``-9223372036854775808`` and ``0xffffffffffffffff`` are both fine;
  arithmetic whose result leaves that range is an error too
  (:mod:`pinlab.litmus.cvalues`);
- nesting: at most :data:`MAX_NESTING` (64) levels of statements,
  expressions and condition connectives inside one another.  An ``if``, a
  ``while``, a block, an operator, a call and a ``~``/``=>`` of the condition
  each make one level (a block that is the body of an ``if`` or a ``while``
  makes none); a chain ``a /\\ b /\\ c`` (or of ``\\/``) is one level
  however long (the parser makes it one node);
- loops: at most :data:`MAX_LOOP_NESTING` (4) ``while`` loops inside one
  another (herd7 unrolls each loop twice, so ``k`` nested loops run their
  innermost body ``2**k`` times per execution);
- data flow: no value may be computed through more than :data:`MAX_CHAIN`
  (64) operations in a row (an operator, a primitive call, a compound
  assignment), counting through registers and the unrolled loops: the engine
  evaluates a value that waits on loads recursively, one level per operation.

The tree checks here walk the tree with an explicit stack, so they are safe
on any tree the parser builds; the passes after them (lowering, compiling,
the condition) recurse, one Python frame or a few per level, which the
nesting bound keeps far below Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from pinlab.litmus import ast
from pinlab.litmus.errors import LitmusError

__all__ = [
    "MAX_CHAIN",
    "MAX_FILE_BYTES",
    "MAX_LITERAL",
    "MAX_LOOP_NESTING",
    "MAX_NESTING",
    "UNROLL",
    "LiteralTooLarge",
    "check_chains",
    "check_shape",
    "literal_value",
]

MAX_FILE_BYTES: Final = 256 * 1024
MAX_LITERAL: Final = 2**64 - 1
MAX_NESTING: Final = 64
MAX_LOOP_NESTING: Final = 4
MAX_CHAIN: Final = 64

UNROLL: Final = 2
"""herd7's default loop bound for C (``-unroll``): a loop body runs at most twice."""

_MAX_HEX_DIGITS: Final = 16
_MAX_DEC_DIGITS: Final = len(str(MAX_LITERAL))


class LiteralTooLarge(ValueError):
    """An integer literal that does not fit in 64 bits; ``str()`` says so to the user."""


def _shorten(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text)} characters)"


def literal_value(text: str) -> int:
    """The value of the integer literal ``text`` (decimal or ``0x`` hex digits).

    Raises :class:`LiteralTooLarge` past :data:`MAX_LITERAL`, before converting
    (Python refuses to convert more than 4300 decimal digits at all).
    """
    hexadecimal = text[:2].lower() == "0x"
    digits = (text[2:] if hexadecimal else text).lstrip("0")
    if len(digits) <= (_MAX_HEX_DIGITS if hexadecimal else _MAX_DEC_DIGITS):
        value = int(digits or "0", 16 if hexadecimal else 10)
        if value <= MAX_LITERAL:
            return value
    raise LiteralTooLarge(
        f"integer literal {_shorten(text)} does not fit in 64 bits; "
        f"expected at most {MAX_LITERAL} (0x{MAX_LITERAL:x})"
    )


# ----------------------------------------------------------------- nesting


def _nodes(node: object) -> Iterator[object]:
    """The child nodes of ``node`` (tuples of nodes opened up; positions, types, names left out)."""
    for child in ast.children(node):
        if isinstance(child, tuple):
            yield from (c for c in child if _is_node(c))
        elif _is_node(child):
            yield child


def _is_node(x: object) -> bool:
    return x is not None and not isinstance(x, ast.Pos | ast.CType | str | int)


def _levels(node: object, parent: object) -> int:
    """How many levels of nesting ``node`` makes under ``parent``."""
    if isinstance(node, ast.Test | ast.Process | ast.InitItem):
        return 0
    if isinstance(node, ast.Block) and isinstance(parent, ast.If | ast.While | ast.Process):
        return 0  # the braces of a body
    return 1


def _where(node: object) -> ast.Pos:
    """The position of ``node``, or of the first node under it that has one."""
    stack = [node]
    while stack:
        n = stack.pop()
        pos = getattr(n, "pos", None)
        if isinstance(pos, ast.Pos):
            return pos
        stack.extend(reversed(list(_nodes(n))))
    return ast.Pos(0, 0)


def check_shape(test: ast.Test) -> None:
    """Refuse a test nested deeper than :data:`MAX_NESTING` levels, or with more
    than :data:`MAX_LOOP_NESTING` loops inside one another (without recursing)."""
    stack: list[tuple[object, object, int, int]] = [(test, None, 0, 0)]
    while stack:
        node, parent, depth, loops = stack.pop()
        depth += _levels(node, parent)
        loops += isinstance(node, ast.While)
        if depth > MAX_NESTING:
            pos = _where(node)
            raise LitmusError(
                test.path, pos.line, pos.col,
                f"nested too deeply: more than {MAX_NESTING} levels of statements, "
                f"expressions or conditions inside one another; expected at most {MAX_NESTING}",
            )  # fmt: skip
        if loops > MAX_LOOP_NESTING:
            pos = _where(node)
            raise LitmusError(
                test.path, pos.line, pos.col,
                f"more than {MAX_LOOP_NESTING} while loops inside one another; expected at "
                f"most {MAX_LOOP_NESTING} (each is unrolled {UNROLL} times, as herd7 does)",
            )  # fmt: skip
        stack.extend((child, node, depth, loops) for child in _nodes(node))


# --------------------------------------------------------------- data flow

_Depths = dict[str, int]  # register -> the longest chain of operations its value may carry


class _Chains:
    """Follows each register's chain length through one process body, as it would run.

    An abstract interpretation: both branches of an ``if`` (the longer chain
    wins), a loop body :data:`UNROLL` times.  A load starts a fresh value.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def _op(self, pos: ast.Pos, *inputs: int) -> int:
        length = 1 + max(inputs, default=0)
        if length > MAX_CHAIN:
            raise LitmusError(
                self.path, pos.line, pos.col,
                f"this value is computed through more than {MAX_CHAIN} operations in a row; "
                f"expected at most {MAX_CHAIN}",
            )  # fmt: skip
        return length

    def expr(self, e: ast.Expr, env: _Depths) -> int:
        """The chain length of ``e``'s value; ``env`` takes its assignments."""
        if isinstance(e, ast.IntLit):
            return 0
        if isinstance(e, ast.Name):
            return env.get(e.ident, 0)
        if isinstance(e, ast.Cast | ast.AddrOf):
            return self.expr(e.operand, env)
        if isinstance(e, ast.Deref):
            self.expr(e.ptr, env)
            return 0  # a load: a fresh value
        if isinstance(e, ast.Unary):
            return self._op(e.pos, self.expr(e.operand, env))
        if isinstance(e, ast.Binary | ast.Logical):
            return self._op(e.pos, self.expr(e.left, env), self.expr(e.right, env))
        if isinstance(e, ast.Ternary):
            parts = (self.expr(e.cond, env), self.expr(e.then, env), self.expr(e.other, env))
            return self._op(e.pos, *parts)
        if isinstance(e, ast.Call):
            return self._op(e.pos, *(self.expr(a, env) for a in e.args))
        return self.assign(e, env)

    def assign(self, e: ast.Assign, env: _Depths) -> int:
        value = self.expr(e.value, env)
        if isinstance(e.target, ast.Deref):
            self.expr(e.target.ptr, env)
        if e.op != "=":
            value = self._op(e.pos, value, self.expr(e.target, env))
        if isinstance(e.target, ast.Name):
            env[e.target.ident] = value
        return value

    def stmt(self, s: ast.Stmt, env: _Depths) -> None:
        """Follow ``s`` from the chain lengths ``env`` (updated in place)."""
        if isinstance(s, ast.Decl):
            env[s.name] = self.expr(s.init, env) if s.init is not None else 0
        elif isinstance(s, ast.ExprStmt):
            self.expr(s.expr, env)
        elif isinstance(s, ast.Block):
            for x in s.stmts:
                self.stmt(x, env)
        elif isinstance(s, ast.If):
            self.expr(s.cond, env)
            other = dict(env)
            self.stmt(s.then, env)
            if s.other is not None:
                self.stmt(s.other, other)
            _join(env, other)
        else:
            self.loop(s, env)

    def loop(self, s: ast.While, env: _Depths) -> None:
        self.expr(s.cond, env)
        state = dict(env)
        for _ in range(UNROLL):
            self.stmt(s.body, state)
            self.expr(s.cond, state)
            _join(env, state)


def _join(env: _Depths, other: _Depths) -> None:
    for name, length in other.items():
        env[name] = max(env.get(name, 0), length)


def check_chains(test: ast.Test) -> None:
    """Refuse a value computed through more than :data:`MAX_CHAIN` operations in a row.

    Call after :func:`check_shape` (this walk recurses, one level per level of nesting).
    """
    chains = _Chains(test.path)
    for proc in test.processes:
        chains.stmt(proc.body, {})
