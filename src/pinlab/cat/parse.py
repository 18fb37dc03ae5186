"""Parse herd's cat language (``cat.lark``) into :class:`~pinlab.cat.ast.Node` trees.

Comments are blanked out first (:func:`strip_comments`: OCaml's nested
``(* ... *)`` and ``//`` to the end of the line), so that every position lark
reports is a position in the file.  A post-lexer tells the binary ``*``
(``S * T``) from the postfix one (``r*``) by the token after it.  Syntax
errors are :class:`~pinlab.cat.errors.CatError` at ``file:line:col``, saying
what was found and what was expected.

:func:`read_model` reads a file and splices in what it ``include``\\ s: a file
named in an ``include`` is looked for beside the including file, then beside
the main file; each file is spliced in again at each ``include`` of it (as
herd does: ``cross.cat`` comes in through ``lock.cat`` and ``cos-opt.cat``),
and an ``include`` cycle is an error.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from pinlab.cat.ast import Binding, Node
from pinlab.cat.errors import CatError, Pos, read_file

__all__ = ["Model", "parse_text", "read_model", "strip_comments"]

_GRAMMAR: Final = Path(__file__).with_name("cat.lark")
# Tokens that may start an operand: after one of these a "*" is a product.
_OPERAND_START: Final = frozenset(
    ("NAME", "TAG", "LPAR", "LSQB", "LBRACE", "TILDE", "ZERO", "UNDERSCORE")
)


def strip_comments(text: str, path: str) -> str:
    """``text`` with every comment replaced by spaces (newlines kept)."""
    out = list(text)
    i, n = 0, len(text)
    depth = 0
    start = (0, 0)
    line, col = 1, 1
    while i < n:
        c = text[i]
        two = text[i : i + 2]
        if depth == 0 and two == "//":
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
            continue
        if depth == 0 and c == '"':  # (a string is never a comment)
            j = text.find('"', i + 1)
            if j < 0 or "\n" in text[i:j]:
                raise CatError(Pos(path, line, col), "unterminated string")
            col += j + 1 - i
            i = j + 1
            continue
        if two == "(*":
            if depth == 0:
                start = (line, col)
            depth += 1
            out[i] = out[i + 1] = " "
            i += 2
            col += 2
            continue
        if depth and two == "*)":
            depth -= 1
            out[i] = out[i + 1] = " "
            i += 2
            col += 2
            continue
        if c == "\n":
            line, col = line + 1, 1
        else:
            col += 1
            if depth:
                out[i] = " "
        i += 1
    if depth:
        raise CatError(Pos(path, *start), "comment not closed")
    return "".join(out)


class _Stars:
    """Post-lexer: a ``*`` followed by an operand is the cartesian product."""

    always_accept: tuple[str, ...] = ()

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        pending: Token | None = None
        for tok in stream:
            if pending is not None:
                if tok.type in _OPERAND_START:
                    pending = Token.new_borrow_pos("STAR_BIN", "*", pending)
                yield pending
                pending = None
            if tok.type == "STAR_POST":
                pending = tok
            else:
                yield tok
        if pending is not None:
            yield pending


@functools.cache
def _parser() -> Lark:
    return Lark(
        _GRAMMAR.read_text(),
        parser="lalr",
        lexer="basic",
        postlex=_Stars(),
        propagate_positions=True,
        maybe_placeholders=True,
        cache=False,
    )


def _bin(op: str) -> Any:
    def method(self: _ToAst, meta: Any, children: list[Any]) -> Node:
        return Node(op, (children[0], children[-1]), self.pos(meta))

    return method


def _un(op: str) -> Any:
    def method(self: _ToAst, meta: Any, children: list[Any]) -> Node:
        return Node(op, (children[0],), self.pos(meta))

    return method


@v_args(meta=True)
class _ToAst(Transformer[Token, Any]):
    """The lark tree to :class:`Node` trees (one method per rule name)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def pos(self, meta: Any) -> Pos:
        return Pos(self.path, getattr(meta, "line", 0), getattr(meta, "column", 0))

    def tpos(self, tok: Token) -> Pos:
        return Pos(self.path, tok.line or 0, tok.column or 0)

    # -- file -----------------------------------------------------------------
    def start(self, meta: Any, children: list[Any]) -> tuple[str | None, list[Node]]:
        title = None
        if children and isinstance(children[0], str):
            title, children = children[0], children[1:]
        return title, list(children)

    def title(self, meta: Any, children: list[Token]) -> str:
        return str(children[0]).strip('"')

    # -- statements -----------------------------------------------------------
    def let_stmt(self, meta: Any, children: list[Any]) -> Node:
        return Node("let_stmt", (False, children[0]), self.pos(meta))

    def let_rec_stmt(self, meta: Any, children: list[Any]) -> Node:
        return Node("let_stmt", (True, children[0]), self.pos(meta))

    def check(self, meta: Any, children: list[Any]) -> Node:
        flag, neg, kind, expr, name = children
        args = (flag is not None, neg is not None, kind, expr, None if name is None else str(name))
        return Node("check", args, self.pos(meta))

    def flag(self, meta: Any, children: list[Any]) -> bool:
        return True

    def neg(self, meta: Any, children: list[Any]) -> bool:
        return True

    def acyclic(self, meta: Any, children: list[Any]) -> str:
        return "acyclic"

    def irreflexive(self, meta: Any, children: list[Any]) -> str:
        return "irreflexive"

    def empty(self, meta: Any, children: list[Any]) -> str:
        return "empty"

    def include(self, meta: Any, children: list[Token]) -> Node:
        return Node("include", (str(children[0]).strip('"'),), self.pos(meta))

    def show(self, meta: Any, children: list[Any]) -> Node:
        return Node("show", (), self.pos(meta))

    def show_items(self, meta: Any, children: list[Any]) -> None:
        return None

    def enum(self, meta: Any, children: list[Token]) -> Node:
        tags = tuple(str(t)[1:] for t in children[1:])
        return Node("enum", (str(children[0]), tags), self.pos(meta))

    def instructions(self, meta: Any, children: list[Token]) -> Node:
        return Node("instructions", (str(children[0]), str(children[1])), self.pos(meta))

    def with_stmt(self, meta: Any, children: list[Any]) -> Node:
        return Node("with_stmt", (str(children[0]), children[1]), self.pos(meta))

    def procedure(self, meta: Any, children: list[Any]) -> Node:
        return Node("procedure", (str(children[0]), children[1], tuple(children[2:])),
                    self.pos(meta))  # fmt: skip

    def call(self, meta: Any, children: list[Any]) -> Node:
        name = children[2]
        args = (str(children[0]), children[1], None if name is None else str(name))
        return Node("call", args, self.pos(meta))

    # -- bindings and patterns ---------------------------------------------------
    def bindings(self, meta: Any, children: list[Binding]) -> tuple[Binding, ...]:
        return tuple(children)

    def bind_value(self, meta: Any, children: list[Any]) -> Binding:
        return Binding(str(children[0]), (), children[1], self.pos(meta))

    def bind_fun(self, meta: Any, children: list[Any]) -> Binding:
        return Binding(str(children[0]), tuple(children[1:-1]), children[-1], self.pos(meta))

    def pat_name(self, meta: Any, children: list[Token]) -> str:
        return str(children[0])

    def pat_tuple(self, meta: Any, children: list[Token]) -> tuple[str, ...]:
        return tuple(str(c) for c in children)

    # -- expressions ------------------------------------------------------------
    def let_in(self, meta: Any, children: list[Any]) -> Node:
        return Node("let_in", (False, children[0], children[1]), self.pos(meta))

    def let_rec_in(self, meta: Any, children: list[Any]) -> Node:
        return Node("let_in", (True, children[0], children[1]), self.pos(meta))

    def fun(self, meta: Any, children: list[Any]) -> Node:
        return Node("fun", (children[0], children[1]), self.pos(meta))

    def match(self, meta: Any, children: list[Any]) -> Node:
        return Node("match", (children[0], tuple(children[1:])), self.pos(meta))

    def clause_empty(self, meta: Any, children: list[Any]) -> tuple[None, None, Node]:
        return None, None, children[0]

    def clause_cons(self, meta: Any, children: list[Any]) -> tuple[str, str, Node]:
        return str(children[0]), str(children[1]), children[2]

    def try_(self, meta: Any, children: list[Any]) -> Node:
        return Node("try_", (children[0], children[1]), self.pos(meta))

    def if_variant(self, meta: Any, children: list[Any]) -> Node:
        name = str(children[0]).strip('"')
        return Node("if_variant", (name, children[1], children[2]), self.pos(meta))

    union = _bin("union")
    add = _bin("add")
    seq = _bin("seq")
    diff = _bin("diff")
    inter = _bin("inter")
    cart = _bin("cart")
    apply = _bin("apply")
    compl = _un("compl")
    inverse = _un("inverse")
    plus = _un("plus")
    star = _un("star")
    opt = _un("opt")
    ident = _un("ident")

    def var(self, meta: Any, children: list[Token]) -> Node:
        return Node("var", (str(children[0]),), self.tpos(children[0]))

    def tag(self, meta: Any, children: list[Token]) -> Node:
        return Node("tag", (str(children[0])[1:],), self.tpos(children[0]))

    def zero(self, meta: Any, children: list[Any]) -> Node:
        return Node("zero", (), self.pos(meta))

    def universe(self, meta: Any, children: list[Any]) -> Node:
        return Node("universe", (), self.pos(meta))

    def empty_set(self, meta: Any, children: list[Any]) -> Node:
        return Node("empty_set", (), self.pos(meta))

    def set_lit(self, meta: Any, children: list[Any]) -> Node:
        return Node("set_lit", tuple(children), self.pos(meta))

    def tuple(self, meta: Any, children: list[Any]) -> Node:
        return Node("tuple", tuple(children), self.pos(meta))


def _describe(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    return repr(str(tok))


def _expected(names: set[str]) -> str:
    parser = _parser()
    shown = []
    for name in sorted(names):
        try:
            pattern = parser.get_terminal(name).pattern
            shown.append(repr(pattern.value) if pattern.type == "str" else name.lower())
        except KeyError:
            shown.append(name.lower())
    return ", ".join(sorted(set(shown)))


def parse_text(text: str, path: str) -> tuple[str | None, list[Node]]:
    """The title and statements of the cat file ``text`` (read from ``path``)."""
    clean = strip_comments(text, path)
    try:
        tree = _parser().parse(clean)
    except UnexpectedToken as err:
        pos = Pos(path, err.line, err.column)
        if err.token.type == "$END":
            lines = clean.rstrip().splitlines() or [""]
            pos = Pos(path, len(lines), len(lines[-1]) + 1)
        raise CatError(
            pos, f"unexpected {_describe(err.token)}, expected {_expected(err.expected)}"
        ) from None
    except UnexpectedCharacters as err:
        raise CatError(Pos(path, err.line, err.column),
                       f"unexpected character {err.char!r}") from None  # fmt: skip
    except (UnexpectedEOF, UnexpectedInput) as err:
        raise CatError(Pos(path, getattr(err, "line", 0), getattr(err, "column", 0)),
                       "unexpected end of file") from None  # fmt: skip
    title, stmts = _ToAst(path).transform(tree)
    return title, stmts


class Model:
    """A parsed model: its title and its statements, includes spliced in."""

    __slots__ = ("path", "stmts", "title")

    def __init__(self, path: Path, title: str | None, stmts: list[Node]) -> None:
        self.path = path
        self.title = title
        self.stmts = stmts


def read_model(path: str | Path, main_dir: Path | None = None) -> Model:
    """The file ``path`` parsed, with each ``include`` replaced by the included file."""
    path = Path(path)
    main = main_dir if main_dir is not None else path.parent
    title, stmts = parse_text(read_file(path), str(path))
    return Model(path, title, _splice(stmts, path, main, (path.resolve(),)))


def _splice(stmts: list[Node], path: Path, main: Path, stack: tuple[Path, ...]) -> list[Node]:
    out: list[Node] = []
    for s in stmts:
        if s.op != "include":
            out.append(s)
            continue
        name = s.args[0]
        found = next((d / name for d in (path.parent, main) if (d / name).is_file()), None)
        if found is None:
            raise CatError(s.pos, f"include {name!r}: no such file beside {path} or in {main}")
        if found.resolve() in stack:
            raise CatError(s.pos, f"include {name!r}: a cycle of includes")
        _, inner = parse_text(read_file(found, s.pos), str(found))
        out.extend(_splice(inner, found, main, (*stack, found.resolve())))
    return out
