"""The tree of a cat file: one node type for expressions and statements alike.

A :class:`Node` is an operator name (the grammar's rule name: ``union``,
``seq``, ``var``, ``let_stmt``, ``check``, ...), its operands and its place
in the file.  Names keep the file's spelling (``po-loc``, ``A-cumul``).
The operands by operator:

==================  =====================================================
``var``             the name
``zero``            -- (``0``, the empty relation)
``universe``        -- (``_``, every event)
``tag``             the tag's name, without the quote
``tuple``           the element nodes
``ident``           the set node (``[S]``)
``empty_set``       --
``set_lit``         the element nodes
``apply``           function node, argument node
unary operators     ``compl inverse plus star opt``: the operand
binary operators    ``union add seq diff inter cart``: left, right
``let_in``          rec flag, bindings, body
``fun``             pattern, body
``match``           scrutinee, clauses (``(None, None, body)`` for ``{}``,
                    ``(elt, rest, body)`` for ``elt ++ rest``)
``try_``            body, fallback
``if_variant``      variant name, then, else
``let_stmt``        rec flag, bindings
``check``           is flag, negated, kind, expression, name (or None)
``include``         the file name
``show``            --
``enum``            enum name, tag names
``instructions``    instruction class, enum name
``with_stmt``       name, expression of the choices
``procedure``       name, pattern, body statements
``call``            name, argument node, name (or None)
==================  =====================================================

A binding is ``(name, patterns, expression)``: no patterns for a value,
one or more (curried) for a function.  A pattern is a name (str) or a tuple
of names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pinlab.cat.errors import Pos

__all__ = ["Binding", "Node", "Pattern"]

Pattern = str | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Node:
    op: str
    args: tuple[Any, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class Binding:
    name: str
    params: tuple[Pattern, ...]
    body: Node
    pos: Pos
