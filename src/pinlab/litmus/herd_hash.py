"""herd7's ``Hash=`` of a C litmus test.

herd7 prints an MD5 hash of each test that it computes the way litmus7 does
(lib/CGenParser_lib.ml, lib/CTestHash.ml, lib/testHash.ml): the MD5 of the
concatenated raw MD5s of

- the info lines whose keys are digested (memory and cache types; none in
  the kernel's tests, and then this part is empty);
- the initial state, items sorted by location (registers first) and printed
  ``[type ]loc=value``;
- the code: each process printed as ``Pn(type* param, ...) {\\nBODY\\n}\\n``
  with ``BODY`` the raw text between its braces, the processes joined in
  herd's column format ``" P0... | P1... ;\\n"``;
- the displayed locations (``locations`` and the condition's), ``; ``-joined.

The test's own ``Hash=`` info line, when it has one, wins, as in herd7.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from pinlab.litmus import ast
from pinlab.litmus.errors import LitmusError
from pinlab.litmus.split import position

__all__ = ["check_bodies", "herd_hash"]

_DIGESTED_INFO: Final = ("memorytype", "mt", "cachetype")
_QUALS: Final = {"volatile", "const", "_Atomic"}


def _md5(text: str) -> bytes:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()


def _type_text(words: tuple[str, ...]) -> str:
    base = " ".join(w for w in words if w not in _QUALS)
    if "_Atomic" in words:
        base = "_Atomic " + base
    if "volatile" in words:
        base = "volatile " + base
    if "const" in words:
        base += " const"
    return base


def _value_text(v: ast.IntLit | ast.SymRef | None) -> str:
    if v is None:
        return "0"
    return v.name if isinstance(v, ast.SymRef) else str(v.value)


def _loc_key(loc: ast.CondMem | ast.CondReg) -> tuple[int, int, str]:
    return (0, loc.tid, loc.name) if isinstance(loc, ast.CondReg) else (1, 0, loc.name)


def _loc_text(loc: ast.CondMem | ast.CondReg) -> str:
    return f"{loc.tid}:{loc.name}" if isinstance(loc, ast.CondReg) else loc.name


def _init_digest(test: ast.Test) -> bytes:
    items = sorted(test.init, key=lambda i: _loc_key(i.target))
    seen: set[tuple[int, int, str]] = set()
    parts = []
    for item in items:
        key = _loc_key(item.target)
        if key in seen:
            continue
        seen.add(key)
        loc, value = _loc_text(item.target), _value_text(item.value)
        if item.ctype is None:
            parts.append(f"{loc}={value}")
        elif item.ctype.stars:
            parts.append(f"{_type_text(item.ctype.words)} *{loc}={value}")
        else:
            parts.append(f"{_type_text(item.ctype.words)} {loc}={value}")
    return _md5("; ".join(parts))


_BRACE: Final = re.compile(r"[{}]")


def _line_starts(text: str) -> list[int]:
    """The offset of each line's first character (line 1 first)."""
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _body(test: ast.Test, proc: ast.Process, line_starts: list[int]) -> str:
    """The raw text between a process's braces, found as herd7's shallow lexer does:
    counting braces, those in comments too."""
    text = test.source
    offset = line_starts[proc.pos.line - 1] + proc.pos.col - 1
    open_at = text.find("{", max(text.find(")", offset), offset))
    depth = 0
    for m in _BRACE.finditer(text, open_at + 1):
        if m.group() == "{":
            depth += 1
        elif depth == 0:
            return text[open_at + 1 : m.start()]
        else:
            depth -= 1
    line, col = position(text, open_at)
    raise LitmusError(
        test.path, line, col,
        f"P{proc.index}'s body never closes when its braces are counted as herd7 does "
        "(in comments too); expected balanced braces",
    )  # fmt: skip


def check_bodies(test: ast.Test) -> None:
    """Refuse a process whose body herd7's brace counting cannot delimit (see :func:`_body`)."""
    starts = _line_starts(test.source)
    for proc in test.processes:
        _body(test, proc, starts)


def _code_digest(test: ast.Test) -> bytes:
    cells = []
    starts = _line_starts(test.source)
    for proc in test.processes:
        params = ", ".join(
            f"{_type_text(p.ctype.words)}{'*' * max(p.ctype.stars - 1, 0)}* {p.name}"
            for p in proc.params
        )
        cells.append(f" P{proc.index}({params}) {{\n{_body(test, proc, starts)}\n}}\n ")
    return _md5("|".join(cells) + ";\n")


def _atom_locs(prop: ast.Prop) -> list[ast.CondMem | ast.CondReg]:
    if isinstance(prop, ast.Atom):
        if isinstance(prop.value, ast.CondMem | ast.CondReg):
            return [prop.loc, prop.value]
        return [prop.loc]
    if isinstance(prop, ast.Not):
        return _atom_locs(prop.prop)
    if isinstance(prop, ast.Implies):
        return _atom_locs(prop.left) + _atom_locs(prop.right)
    return [loc for p in prop.props for loc in _atom_locs(p)]


def _observed_digest(test: ast.Test) -> bytes:
    locs = {_loc_key(loc): loc for loc in [*test.locations, *_atom_locs(test.prop)]}
    return _md5("; ".join(_loc_text(locs[k]) for k in sorted(locs)))


def _info_digest(test: ast.Test) -> bytes:
    info = sorted((k, v) for k, v in test.info if k.lower() in _DIGESTED_INFO)
    if not info:
        return b""
    return _md5("".join(f"{k.lower()}={v}" for k, v in reversed(info)))


def herd_hash(test: ast.Test) -> str:
    """herd7's ``Hash=`` value for ``test``."""
    given = next((v for k, v in test.info if k == "Hash"), None)
    if given is not None:
        return given
    parts = _info_digest(test) + _init_digest(test) + _code_digest(test) + _observed_digest(test)
    return hashlib.md5(parts, usedforsecurity=False).hexdigest()
