"""The syntax tree of a C litmus test.

One frozen class per construct of the kernel's litmus dialect, each with the
source position (line, column, both 1-based) where it starts, so that every
error can point at ``file:line:col``.  The tree says what was written and
nothing more: names are not resolved and primitives are not looked up here
(that is :mod:`pinlab.litmus.lower`'s job).

The condition mirrors herd7's: ``Not``/``And``/``Or``/``Implies`` over atoms,
with ``true`` as the empty ``And`` and ``false`` as the empty ``Or``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AddrOf",
    "And",
    "Assign",
    "Atom",
    "Binary",
    "Block",
    "CType",
    "Call",
    "Cast",
    "CondMem",
    "CondReg",
    "Decl",
    "Deref",
    "Expr",
    "ExprStmt",
    "If",
    "Implies",
    "InitItem",
    "IntLit",
    "Kind",
    "Logical",
    "Name",
    "Not",
    "Or",
    "Param",
    "Pos",
    "Process",
    "Prop",
    "Stmt",
    "SymRef",
    "Ternary",
    "Test",
    "Unary",
    "While",
    "children",
]


@dataclass(frozen=True, slots=True)
class Pos:
    """A 1-based line and column in the test's file."""

    line: int
    col: int


@dataclass(frozen=True, slots=True)
class CType:
    """A C type: qualifiers then words (``volatile``, ``unsigned long``), and its stars."""

    words: tuple[str, ...]
    stars: int = 0

    def __str__(self) -> str:
        return " ".join(self.words) + " " + "*" * self.stars if self.stars else " ".join(self.words)


# ------------------------------------------------------------------ values


@dataclass(frozen=True, slots=True)
class IntLit:
    value: int
    pos: Pos


@dataclass(frozen=True, slots=True)
class SymRef:
    """A location used as a value: ``y=x``, ``&x``, ``1:r0=x`` (the address of ``x``)."""

    name: str
    pos: Pos


# ------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Name:
    """A register, parameter or local variable of a process."""

    ident: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # + - ! ~
    operand: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # + - * / % & | ^ << >> == != < > <= >=
    left: Expr
    right: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Logical:
    """Short-circuit ``&&`` / ``||``: the left operand is a branch."""

    op: str
    left: Expr
    right: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Ternary:
    cond: Expr
    then: Expr
    other: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Deref:
    """``*e``: a plain access to the location ``e`` points to."""

    ptr: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class AddrOf:
    operand: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Cast:
    ctype: CType
    operand: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Call:
    """A primitive of linux-kernel.def: ``READ_ONCE(*x)``, ``smp_mb()``."""

    func: str
    args: tuple[Expr, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class Assign:
    """``target op value`` with op ``=`` or a compound ``+=``, ``|=``, ..."""

    target: Expr
    op: str
    value: Expr
    pos: Pos


Expr = IntLit | Name | Unary | Binary | Logical | Ternary | Deref | AddrOf | Cast | Call | Assign


# -------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Decl:
    """``int *r0 = e;`` (one declarator; ``int a, b;`` becomes two)."""

    ctype: CType
    name: str
    init: Expr | None
    pos: Pos


@dataclass(frozen=True, slots=True)
class ExprStmt:
    expr: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class If:
    cond: Expr
    then: Stmt
    other: Stmt | None
    pos: Pos


@dataclass(frozen=True, slots=True)
class While:
    cond: Expr
    body: Stmt
    pos: Pos


@dataclass(frozen=True, slots=True)
class Block:
    stmts: tuple[Stmt, ...]
    pos: Pos


Stmt = Decl | ExprStmt | If | While | Block


@dataclass(frozen=True, slots=True)
class Param:
    ctype: CType
    name: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class Process:
    """``Pn(int *x, ...) { ... }``."""

    index: int
    params: tuple[Param, ...]
    body: Block
    pos: Pos


# ---------------------------------------------------------- initial state


@dataclass(frozen=True, slots=True)
class CondMem:
    """A memory location in the init section or the condition: ``x`` or ``[x]``."""

    name: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class CondReg:
    """A register of a process: ``0:r1``."""

    tid: int
    name: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class InitItem:
    """One item of the initial state: ``x=1``, ``int *y = &x``, ``0:r1=x``, ``atomic_t v``."""

    target: CondMem | CondReg
    ctype: CType | None
    value: IntLit | SymRef | None
    pos: Pos


# -------------------------------------------------------------- condition


@dataclass(frozen=True, slots=True)
class Atom:
    """``loc=value`` or, when ``value`` is a location, herd7's location-location atom."""

    loc: CondMem | CondReg
    value: IntLit | SymRef | CondMem | CondReg
    pos: Pos


@dataclass(frozen=True, slots=True)
class Not:
    prop: Prop


@dataclass(frozen=True, slots=True)
class And:
    props: tuple[Prop, ...]


@dataclass(frozen=True, slots=True)
class Or:
    props: tuple[Prop, ...]


@dataclass(frozen=True, slots=True)
class Implies:
    left: Prop
    right: Prop


Prop = Atom | Not | And | Or | Implies

Kind = Literal["exists", "~exists", "forall"]


@dataclass(frozen=True, slots=True)
class Test:
    """A whole litmus test."""

    path: str
    name: str
    doc: str
    info: tuple[tuple[str, str], ...]
    init: tuple[InitItem, ...]
    processes: tuple[Process, ...]
    locations: tuple[CondMem | CondReg, ...]
    filter: Prop | None
    kind: Kind
    prop: Prop
    source: str


def children(node: object) -> Iterator[object]:
    """The fields of a tree node (or the items of a tuple of nodes), in order."""
    if isinstance(node, tuple):
        yield from node
    elif hasattr(node, "__slots__") and not isinstance(node, Pos | CType | str | int):
        for slot in node.__slots__:
            yield getattr(node, slot)
