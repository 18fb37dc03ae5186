"""Parse a C litmus test into a :class:`pinlab.litmus.ast.Test`.

The grammar is ``litmus.lark`` beside this file, read by lark's LALR parser
with its contextual lexer; the parse tables are cached on disk by lark, and
the parser is built on first use, so importing this module costs nothing.
The tree is built during the parse by :class:`_ToAst` (one method per rule
name of the grammar).  Syntax errors become :class:`LitmusError` naming
``file:line:col``, what was found and what was expected; so do the things
herd7's C front end refuses too (``for``, ``goto``, a parameter named
``lock``), an integer literal past 64 bits, and a tree nested deeper than
:data:`~pinlab.litmus.bounds.MAX_NESTING` levels (:mod:`pinlab.litmus.bounds`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Final, NoReturn

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from pinlab.litmus import ast
from pinlab.litmus.bounds import LiteralTooLarge, check_shape, literal_value
from pinlab.litmus.errors import LitmusError
from pinlab.litmus.source import read_source
from pinlab.litmus.split import position, split

__all__ = ["parse_file", "parse_text"]

_GRAMMAR: Final = Path(__file__).with_name("litmus.lark")


def _pos(children: list[Any]) -> ast.Pos:
    """The position of the first child that has one (tokens, or nodes with ``pos``)."""
    for c in children:
        if isinstance(c, Token):
            return ast.Pos(c.line or 0, c.column or 0)
        pos = getattr(c, "pos", None)
        if isinstance(pos, ast.Pos):
            return pos
    return ast.Pos(0, 0)


def _tpos(tok: Token) -> ast.Pos:
    return ast.Pos(tok.line or 0, tok.column or 0)


class _Refused(Exception):
    """Raised while the tree is built: what is wrong at a token (parse_text adds the path)."""

    def __init__(self, pos: ast.Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


def _int(tok: Token) -> int:
    try:
        return literal_value(str(tok))
    except LiteralTooLarge as err:
        raise _Refused(_tpos(tok), str(err)) from None


# herd7's C lexer (herdtools7 lib/CLexer.mll) makes these words tokens of their
# own, so herd7 refuses them as names ("unexpected 'lock'"); so does pinlab,
# where a name is declared or used in a process.  (Its C types and qualifiers
# are types here too.)
_HERD_KEYWORDS: Final = frozenset(
    ("if", "else", "while", "void", "struct", "volatile", "_Atomic", "char", "int", "long",
     "int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t", "uint64_t",
     "__int128_t", "__uint128_t", "intptr_t", "uintptr_t", "mtx_t", "spinlock_t", "atomic_t",
     "atomic_int", "srcu_struct",
     "lock", "unlock", "mtx_lock", "mtx_unlock", "WCAS", "SCAS",
     "atomic_fetch_add_explicit", "atomic_fetch_sub_explicit", "atomic_fetch_or_explicit",
     "atomic_fetch_xor_explicit", "atomic_fetch_and_explicit", "memory_order_acquire",
     "memory_order_release", "memory_order_acq_rel", "memory_order_seq_cst",
     "memory_order_relaxed", "memory_order_consume", "atomic_thread_fence",
     "atomic_load_explicit", "atomic_store_explicit", "atomic_exchange_explicit",
     "atomic_compare_exchange_weak", "atomic_compare_exchange_strong",
     "atomic_compare_exchange_weak_explicit", "atomic_compare_exchange_strong_explicit",
     "__fence", "__load", "__store", "__srcu", "__xchg", "__cmpxchg", "__lock", "__trylock",
     "__islocked", "__unlock", "__atomic_op", "__atomic_op_return", "__atomic_fetch_op",
     "__atomic_add_unless", "atomic_add_unless")
)  # fmt: skip


def _name(tok: Token) -> str:
    """The name ``tok`` declares or uses in a process, unless herd7 reserves it."""
    if str(tok) in _HERD_KEYWORDS:
        raise _Refused(
            _tpos(tok),
            f"syntax error: '{tok}' is a keyword of herd7's C, not a name; expected another name",
        )
    return str(tok)


_UNSUPPORTED: Final = {
    "for": "'for' loops are not supported (herd7's C has none); expected a while loop",
    "do": "'do' loops are not supported (herd7's C has none); expected a while loop",
    "switch": "'switch' is not supported (herd7's C has none); expected if/else",
}


def _toks(children: list[Any], kind: str) -> list[Token]:
    return [c for c in children if isinstance(c, Token) and c.type == kind]


class _ToAst(Transformer[Token, Any]):
    """Build AST nodes bottom-up; method names are the grammar's rule names and aliases
    (and, called as each is read, terminal names)."""

    # -- what herd7's C does not have either
    def UNSUPPORTED(self, tok: Token) -> NoReturn:  # noqa: N802 (lark's name for the terminal)
        word = str(tok)
        default = f"'{word}' is not supported (herd7's C has none); expected if/else or while"
        raise _Refused(_tpos(tok), _UNSUPPORTED.get(word, default))

    # -- init state
    def start(self, c: list[Any]) -> tuple[Any, ...]:
        return c[0], tuple(c[1:-1]), c[-1]

    def init_section(self, c: list[Any]) -> tuple[ast.InitItem, ...]:
        return tuple(x for x in c if x is not None)

    def init_assign(self, c: list[Any]) -> ast.InitItem:
        return ast.InitItem(c[0], None, c[1], _pos(c))

    def init_decl(self, c: list[Any]) -> ast.InitItem:
        return ast.InitItem(c[1], c[0], None, _pos(c))

    def init_typed(self, c: list[Any]) -> ast.InitItem:
        return ast.InitItem(c[1], c[0], c[2], _pos(c))

    def init_type(self, c: list[Any]) -> ast.CType:
        return ast.CType(c[0].words, len(c) - 1)

    def named_type(self, c: list[Any]) -> ast.CType:
        return ast.CType((str(c[0]),), len(c) - 1)

    def mem_target(self, c: list[Any]) -> ast.CondMem:
        return ast.CondMem(str(c[0]), _pos(c))

    def reg_target(self, c: list[Any]) -> ast.CondReg:
        return ast.CondReg(int(str(c[0]).lstrip("P")), str(c[1]), _pos(c))

    cond_mem = mem_target
    cond_reg = reg_target

    def int_value(self, c: list[Any]) -> ast.IntLit:
        value = _int(c[-1])
        return ast.IntLit(-value if len(c) == 2 else value, _pos(c))

    def sym_value(self, c: list[Any]) -> ast.SymRef:
        return ast.SymRef(str(c[-1]), _pos(c))

    # -- processes
    def process(self, c: list[Any]) -> ast.Process:
        proc = _toks(c, "PROC")[0]
        params = tuple(p for p in c if isinstance(p, ast.Param))
        return ast.Process(int(str(proc)[1:]), params, c[-1], _tpos(proc))

    def param(self, c: list[Any]) -> ast.Param:
        ctype = ast.CType(c[0].words, len(c) - 2)
        return ast.Param(ctype, _name(c[-1]), _pos(c))

    def ctype(self, c: list[Any]) -> ast.CType:
        quals = tuple(str(t) for t in c if t.type == "TYPE_QUAL")
        words = [str(t) for t in c if t.type != "TYPE_QUAL"]
        if not words:
            words = ["void"]
        elif not _toks(c, "TYPE_WORD"):
            words = ["struct " + words[0]]
        return ast.CType(quals + tuple(words))

    def typename(self, c: list[Any]) -> ast.CType:
        return ast.CType(c[0].words, len(c) - 1)

    def block(self, c: list[Any]) -> ast.Block:
        stmts: list[ast.Stmt] = []
        for s in c:
            if isinstance(s, list):
                stmts.extend(s)
            elif s is not None:
                stmts.append(s)
        return ast.Block(tuple(stmts), _pos(c))

    def declaration(self, c: list[Any]) -> list[ast.Decl]:
        ctype: ast.CType = c[0]
        return [ast.Decl(ast.CType(ctype.words, stars), name, init, pos)
                for stars, name, init, pos in c[1:]]  # fmt: skip

    def declarator(self, c: list[Any]) -> tuple[int, str, Any, ast.Pos]:
        name = _toks(c, "NAME")[0]
        return len(_toks(c, "STAR")), _name(name), c[-1], _tpos(name)

    def expr_stmt(self, c: list[Any]) -> ast.ExprStmt:
        return ast.ExprStmt(c[0], _pos(c))

    def empty_stmt(self, _c: list[Any]) -> None:
        return None

    def if_stmt(self, c: list[Any]) -> ast.If:
        pos = _pos(c)
        other = _stmt(c[3], pos) if c[3] is not None else None
        return ast.If(c[1], _stmt(c[2], pos), other, pos)

    def while_stmt(self, c: list[Any]) -> ast.While:
        return ast.While(c[1], _stmt(c[2], _pos(c)), _pos(c))

    # -- expressions
    def assign(self, c: list[Any]) -> ast.Assign:
        return ast.Assign(c[0], "=", c[1], _pos(c))

    def compound_assign(self, c: list[Any]) -> ast.Assign:
        return ast.Assign(c[0], str(c[1]), c[2], _pos(c))

    def ternary(self, c: list[Any]) -> ast.Ternary:
        return ast.Ternary(c[0], c[1], c[2], _pos(c))

    def logical(self, c: list[Any]) -> ast.Logical:
        return ast.Logical(str(c[1]), c[0], c[2], _tpos(c[1]))

    def binary(self, c: list[Any]) -> ast.Binary:
        return ast.Binary(str(c[1]), c[0], c[2], _tpos(c[1]))

    def unary(self, c: list[Any]) -> ast.Unary:
        return ast.Unary(str(c[0]), c[1], _pos(c))

    def deref(self, c: list[Any]) -> ast.Deref:
        return ast.Deref(c[1], _pos(c))

    def addr_of(self, c: list[Any]) -> ast.AddrOf:
        return ast.AddrOf(c[1], _pos(c))

    def cast(self, c: list[Any]) -> ast.Cast:
        return ast.Cast(c[0], c[1], _pos(c))

    def call(self, c: list[Any]) -> ast.Call:
        args = tuple(a for a in c[1:] if a is not None)
        return ast.Call(str(c[0]), args, _pos(c))

    def int_lit(self, c: list[Any]) -> ast.IntLit:
        return ast.IntLit(_int(c[0]), _pos(c))

    def name(self, c: list[Any]) -> ast.Name:
        return ast.Name(_name(c[0]), _pos(c))

    # -- constraints
    def constraints(self, c: list[Any]) -> tuple[Any, Any, Any]:
        locs: tuple[Any, ...] = ()
        filt, quant = None, None
        for x in c:
            if isinstance(x, _Locations):
                locs = x.locs
            elif isinstance(x, _Filter):
                filt = x.prop
            elif isinstance(x, tuple):
                quant = x
        return locs, filt, quant

    def locations(self, c: list[Any]) -> _Locations:
        return _Locations(tuple(x for x in c if x is not None))

    def loc_item(self, c: list[Any]) -> Any:
        return c[0]

    def filter(self, c: list[Any]) -> _Filter:
        return _Filter(c[0])

    def exists(self, c: list[Any]) -> tuple[ast.Kind, ast.Prop]:
        return "exists", c[-1]

    def not_exists(self, c: list[Any]) -> tuple[ast.Kind, ast.Prop]:
        return "~exists", c[-1]

    def forall(self, c: list[Any]) -> tuple[ast.Kind, ast.Prop]:
        return "forall", c[-1]

    # A chain ``a /\ b /\ c`` is one And of three (not two nested), so that a
    # long condition is not a deep tree; herd7 prints it the same either way.
    def p_or(self, c: list[Any]) -> ast.Or:
        left = c[0].props if isinstance(c[0], ast.Or) and c[0].props else (c[0],)
        return ast.Or((*left, c[-1]))

    def p_and(self, c: list[Any]) -> ast.And:
        left = c[0].props if isinstance(c[0], ast.And) and c[0].props else (c[0],)
        return ast.And((*left, c[-1]))

    def p_implies(self, c: list[Any]) -> ast.Implies:
        return ast.Implies(c[0], c[-1])

    def p_not(self, c: list[Any]) -> ast.Not:
        return ast.Not(c[-1])

    def p_true(self, _c: list[Any]) -> ast.And:
        return ast.And(())

    def p_false(self, _c: list[Any]) -> ast.Or:
        return ast.Or(())

    def atom_eq(self, c: list[Any]) -> ast.Atom:
        return ast.Atom(c[0], c[-1], _pos(c))

    def atom_ne(self, c: list[Any]) -> ast.Not:
        return ast.Not(ast.Atom(c[0], c[-1], _pos(c)))


class _Locations:
    __slots__ = ("locs",)

    def __init__(self, locs: tuple[Any, ...]) -> None:
        self.locs = locs


class _Filter:
    __slots__ = ("prop",)

    def __init__(self, prop: ast.Prop) -> None:
        self.prop = prop


def _stmt(s: Any, pos: ast.Pos) -> ast.Stmt:
    """A statement in a position that takes one: a declaration list becomes a block."""
    if s is None:
        return ast.Block((), pos)
    if isinstance(s, list):
        return ast.Block(tuple(s), s[0].pos if s else pos)
    return s  # type: ignore[no-any-return]


@functools.cache
def _parser() -> Lark:
    return Lark.open(
        str(_GRAMMAR),
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=True,
        transformer=_ToAst(),
        cache=True,
    )


_FRIENDLY: Final = {
    "NAME": "a name",
    "INT": "a number",
    "PROC": "a process (P0, P1, ...)",
    "TYPE_WORD": "a type",
    "TYPE_QUAL": "a type qualifier",
    "COMPOUND_ASSIGN": "an assignment",
    "$END": "the end of the file",
}


def _describe(term: str) -> str:
    if term in _FRIENDLY:
        return _FRIENDLY[term]
    try:
        pattern = _parser().get_terminal(term).pattern
    except KeyError:
        return term
    if pattern.type == "str":
        return f"'{pattern.value}'"
    return term.lower()


_OPERATORS: Final = frozenset(
    ("OROR", "ANDAND", "PIPE", "CARET", "AMP", "EQEQ", "NEQ", "LT", "GT", "LE", "GE", "SHL",
     "SHR", "PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "COMPOUND_ASSIGN", "EQUAL", "QMARK")
)  # fmt: skip


def _expected(terms: set[str] | frozenset[str]) -> str:
    """``; expected ...`` naming ``terms``; inside an expression, operators are summarised."""
    ops = terms & _OPERATORS
    names = sorted({_describe(t) for t in terms - ops} if len(ops) >= 3 else map(_describe, terms))
    if len(ops) >= 3:
        names.append("an operator")
    if not names:
        return ""
    if len(names) > 12:
        return "; expected one of " + ", ".join(names[:12]) + ", ..."
    return "; expected " + (
        names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    )


def _syntax_error(path: str, text: str, err: UnexpectedInput) -> LitmusError:
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            line, col = position(text, len(text.rstrip()))
            found = "end of file"
        else:
            line, col = tok.line or 0, tok.column or 0
            found = f"'{tok}'"
        expected = _expected(err.accepts or err.expected)
        return LitmusError(path, line, col, f"syntax error: unexpected {found}{expected}")
    if isinstance(err, UnexpectedCharacters):
        msg = f"syntax error: unexpected character {text[err.pos_in_stream or 0]!r}"
        return LitmusError(path, err.line, err.column, msg + _expected(err.allowed or set()))
    if isinstance(err, UnexpectedEOF):
        line, col = position(text, len(text.rstrip()))
        return LitmusError(path, line, col, "syntax error: unexpected end of file" + _expected(
            set(err.expected)))  # fmt: skip
    line, col = position(text, 0)
    return LitmusError(path, line, col, f"syntax error: {err}")


def parse_text(text: str, path: str = "<string>") -> ast.Test:
    """Parse the litmus test ``text`` (read from ``path``, used in messages)."""
    head = split(path, text)
    try:
        parsed: Any = _parser().parse(head.body)
    except UnexpectedInput as err:
        raise _syntax_error(path, text, err) from None
    except _Refused as err:
        raise LitmusError(path, err.pos.line, err.pos.col, err.message) from None
    init, processes, (locs, filt, quant) = parsed
    kind: ast.Kind
    prop: ast.Prop
    kind, prop = quant if quant is not None else ("forall", ast.And(()))
    test = ast.Test(
        path=path,
        name=head.name,
        doc=head.doc,
        info=head.info,
        init=init,
        processes=processes,
        locations=locs,
        filter=filt,
        kind=kind,
        prop=prop,
        source=text,
    )
    check_shape(test)
    return test


def parse_file(path: str | Path) -> ast.Test:
    """Parse the litmus test in file ``path`` (read by :func:`.source.read_source`)."""
    return parse_text(read_source(path), str(path))
