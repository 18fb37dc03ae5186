"""The cat parser: precedence, comments, the two stars, and errors at file:line:col."""

from __future__ import annotations

from typing import Any

import pytest

from pinlab.cat import CatError, parse_text
from pinlab.cat.ast import Binding, Node
from pinlab.cat.parse import strip_comments


def show(x: Any) -> str:
    """A node written back, every operator parenthesised (a test's own unparser)."""
    if isinstance(x, Binding):
        params = "".join(f" {p}" if isinstance(p, str) else f" ({', '.join(p)})" for p in x.params)
        return f"{x.name}{params} = {show(x.body)}"
    assert isinstance(x, Node)
    op, a = x.op, x.args
    binops = {"union": "|", "add": "++", "seq": ";", "diff": "\\", "inter": "&", "cart": "*"}
    posts = {"inverse": "^-1", "plus": "+", "star": "*", "opt": "?"}
    if op in binops:
        return f"({show(a[0])} {binops[op]} {show(a[1])})"
    if op in posts:
        return f"({show(a[0])}){posts[op]}"
    simple = {"var": lambda: a[0], "zero": lambda: "0", "universe": lambda: "_",
              "tag": lambda: f"'{a[0]}", "empty_set": lambda: "{}"}  # fmt: skip
    if op in simple:
        return str(simple[op]())
    if op == "compl":
        return f"~({show(a[0])})"
    if op == "ident":
        return f"[{show(a[0])}]"
    if op == "apply":
        return f"{show(a[0])}({show(a[1])})"
    if op in ("tuple", "set_lit"):
        inner = ", ".join(show(e) for e in a)
        return f"({inner})" if op == "tuple" else f"{{{inner}}}"
    if op == "let_in":
        rec = "rec " if a[0] else ""
        return f"let {rec}{' and '.join(show(b) for b in a[1])} in {show(a[2])}"
    if op == "fun":
        return f"fun {a[0]} -> {show(a[1])}"
    if op == "match":
        cases = " ".join(
            f"|| {'{}' if e is None else f'{e} ++ {r}'} -> {show(b)}" for e, r, b in a[1]
        )
        return f"match {show(a[0])} with {cases} end"
    if op == "try_":
        return f"try {show(a[0])} with {show(a[1])}"
    if op == "if_variant":
        return f'if "{a[0]}" then {show(a[1])} else {show(a[2])}'
    if op == "let_stmt":
        return f"let {'rec ' if a[0] else ''}{' and '.join(show(b) for b in a[1])}"
    if op == "check":
        flag, neg, kind, e, name = a
        head = ("flag " if flag else "") + ("~" if neg else "") + kind
        return f"{head} {show(e)}" + (f" as {name}" if name else "")
    if op == "with_stmt":
        return f"with {a[0]} from {show(a[1])}"
    if op == "enum":
        return f"enum {a[0]} = " + " || ".join(f"'{t}" for t in a[1])
    return op


def stmts(text: str) -> list[str]:
    return [show(s) for s in parse_text(text, "t.cat")[1]]


def expr(text: str) -> str:
    (s,) = stmts(f"let x = {text}")
    return s.removeprefix("let x = ")


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a | b ; c", "(a | (b ; c))"),
        ("a ; b \\ c", "(a ; (b \\ c))"),
        ("a \\ b & c", "(a \\ (b & c))"),
        ("a & b * c", "(a & (b * c))"),
        ("a \\ b \\ c", "((a \\ b) \\ c)"),
        ("a ; b ; c", "((a ; b) ; c)"),
        ("~a | b", "(~(a) | b)"),
        ("[R & X] ; po \\ (po ; [M]) ; [W]", "(([(R & X)] ; (po \\ (po ; [M]))) ; [W])"),
        ("r^-1 ; s+ ; t? ; u*", "((((r)^-1 ; (s)+) ; (t)?) ; (u)*)"),
        ("(r ; s)* ; t", "(((r ; s))* ; t)"),
        ("_ * B", "(_ * B)"),
        ("(UL | IW) * {e}", "((UL | IW) * {e})"),
        ("f e ++ g S", "(f(e) ++ g(S))"),
        ("e ++ S | T", "((e ++ S) | T)"),
        ("domain(r) | range r", "(domain(r) | range(r))"),
        ("map f (S \\ T)", "map(f)((S \\ T))"),
        ("do_cross ({}, 0, oss)", "do_cross(({}, 0, oss))"),
        ("[~ Srcu-unlock]", "[~(Srcu-unlock)]"),
        ("rcu-rscs^-1", "(rcu-rscs)^-1"),
        ("fun x -> x ++ 0", "fun x -> (x ++ 0)"),
        ("try RL with emptyset", "try RL with emptyset"),
        ('if "v2" then 0 else _', 'if "v2" then 0 else _'),
        ("let a = b and c = d in a | c", "let a = b and c = d in (a | c)"),
        (
            "match S with || {} -> {} || e ++ S -> f e ++ m S end",
            "match S with || {} -> {} || e ++ S -> (f(e) ++ m(S)) end",
        ),
    ],
)
def test_precedence_and_forms(text: str, tree: str) -> None:
    assert expr(text) == tree


def test_round_trip_of_the_unparser() -> None:
    text = """
    "a model of our own"
    let fr = rf^-1 ; co
    let rec r = a | (r ; r) and s = r \\ id
    let f(x, y) = [x] ; po ; [y]
    let g z = z ; z
    enum Marks = 'once || 'lock-ish
    acyclic po | rf | co | fr as sc
    flag ~empty (r & id) as loopy
    irreflexive f(R, W) ; g(po)
    with co from choices
    """
    first = stmts(text)
    again = stmts("\n".join(first))
    assert first == again
    assert first[0] == "let fr = ((rf)^-1 ; co)"
    assert first[5] == "acyclic (((po | rf) | co) | fr) as sc"


def test_a_postfix_star_before_a_keyword() -> None:
    assert stmts("let a = (r ; s)*\nlet b = a*\nacyclic b") == [
        "let a = ((r ; s))*",
        "let b = (a)*",
        "acyclic b",
    ]


def test_nested_comments_keep_positions() -> None:
    text = "(* outer (* inner *) still *) let a = b // note\nlet c = (* x *) d"
    clean = strip_comments(text, "t.cat")
    assert len(clean) == len(text) and clean.count("\n") == 1
    assert stmts(text) == ["let a = b", "let c = d"]
    assert clean.index("let c") == text.index("let c")


def test_a_title_may_be_a_bare_name() -> None:
    title, body = parse_text("stdlib\nlet x = 0", "s.cat")
    assert title == "stdlib" and len(body) == 1


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("let a = b |\nlet c = d", "t.cat:2:1", "unexpected 'let'"),
        ("let a = (b ; c", "t.cat:1:15", "unexpected end of file"),
        ("acyclic po as", "t.cat:1:14", "unexpected end of file"),
        ("let a = b $ c", "t.cat:1:11", "unexpected character '$'"),
        ("let a = b\n  (* open", "t.cat:2:3", "comment not closed"),
        ('include "x.cat', "t.cat:1:9", "unterminated string"),
        ("let = a", "t.cat:1:5", "unexpected '='"),
    ],
)
def test_errors_point_at_file_line_col(text: str, where: str, says: str) -> None:
    with pytest.raises(CatError) as info:
        parse_text(text, "t.cat")
    message = str(info.value)
    assert message.startswith(f"{where}: "), message
    assert says in message
    assert "\n" not in message


def test_an_error_says_what_was_expected() -> None:
    with pytest.raises(CatError, match=r"t.cat:1:9: unexpected '=', expected .*'\)'"):
        parse_text("let f(x = y", "t.cat")
