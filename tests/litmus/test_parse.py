"""The parser reads every litmus test of the shared data, and says where bad input goes wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinlab.litmus import ast
from pinlab.litmus.errors import LitmusError
from pinlab.litmus.parse import parse_file, parse_text
from tests.litmus.litmus_data import LITMUS, NEEDS_CORPUS, corpus, litmus_files, rel

ALL = litmus_files()


@NEEDS_CORPUS
def test_shared_data_is_there() -> None:
    assert len(ALL) == 635, f"expected the 635 shared litmus tests under {LITMUS}"


@pytest.mark.parametrize("path", corpus(ALL), ids=rel)
def test_every_shared_test_parses(path: Path) -> None:
    test = parse_file(path)
    assert test.processes
    assert test.name


MP = """\
C MP+test "a doc string"
Hash=0123
(*
 * Result: Never  { braces in a comment }
 *)
{
	int *p = &x; (* an OCaml comment in the init section *)
	0:r1 = y;
	atomic_t v = ATOMIC_INIT(3);
	int z;
}

P0(int *x, int *y) // a C comment
{
	WRITE_ONCE(*x, 1);
	smp_store_release(y, 1);
}

/* between processes */
void P1(int *x, int *y, volatile int *z)
{
	int r0 = smp_load_acquire(y);
	int r1;

	if (r0 == 1 && (*z != 2))
		r1 = READ_ONCE(*x);
	else {
		r1 = -(int)r0 % 2;
	}
}

locations [z; 1:r0]
filter (1:r0=1 \\/ ~1:r0=1)
exists (1:r0=1 /\\ 1:r1=0 \\/ x=p => [y]=1) (* comment *)
"""


def test_header_info_init_and_condition() -> None:
    t = parse_text(MP, "mp.litmus")
    assert (t.name, t.doc, t.info) == ("MP+test", "a doc string", (("Hash", "0123"),))
    init = {str(i.target.name): i for i in t.init}
    assert init["p"].value == ast.SymRef("x", ast.Pos(7, 11))
    assert isinstance(init["r1"].target, ast.CondReg) and init["r1"].target.tid == 0
    assert init["v"].value == ast.IntLit(3, ast.Pos(9, 27))
    assert init["z"].value is None and init["z"].ctype == ast.CType(("int",))
    assert [p.index for p in t.processes] == [0, 1]
    assert [(p.ctype.words, p.ctype.stars) for p in t.processes[1].params][2] == (
        ("volatile", "int"),
        1,
    )
    assert t.kind == "exists"
    assert [str(type(loc).__name__) for loc in t.locations] == ["CondMem", "CondReg"]
    # /\ binds tighter than \/, and => tighter than /\ (herd7's precedences).
    assert isinstance(t.prop, ast.Or)
    assert isinstance(t.prop.props[1], ast.Implies)
    assert isinstance(t.filter, ast.Or)


def test_kinds_and_empty_condition() -> None:
    body = "C t\n{}\nP0(int *x) { WRITE_ONCE(*x, 1); }\n"
    assert parse_text(body + "~exists (x=1)\n").kind == "~exists"
    assert parse_text(body + "~ exists x=1\n").kind == "~exists"
    assert parse_text(body + "forall (x=1 \\/ x=0);\n").kind == "forall"
    no_cond = parse_text(body)
    assert (no_cond.kind, no_cond.prop) == ("forall", ast.And(()))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "C t\n{}\nP0(int *x)\n{\n\tWRITE_ONCE(*x, 1)\n\tr0 = 2;\n}\n",
            "t.litmus:6:2: syntax error: unexpected 'r0'; expected ';' or an operator",
        ),
        (
            "C t\n{ x=1; }\nP0(int *x) { r1 = READ_ONCE(*x); }\nexists (0:r1=1 /\\ )\n",
            "t.litmus:4:19: syntax error: unexpected ')'; expected '(', '[', 'false', 'not', "
            "'true', '~', a name, a number or a process (P0, P1, ...)",
        ),
        (
            "C t\n{}\nP0(int *x) { r1 = READ_ONCE(*x) $ 2; }\n",
            "t.litmus:3:33: syntax error: unexpected character '$'; expected ",
        ),
        ("X86 t\n{}\n", "t.litmus:1:1: not a C litmus test (architecture 'X86')"),
        ("\n\n", "t.litmus:1:1: expected a header line 'C NAME'"),
        ("C t\n(* Result: Never\n{}\n", "t.litmus:2:1: unterminated comment '(*'"),
        ("C t\nno init section\n", "t.litmus:3:1: expected '{' to open the initial state"),
        (
            "C t\n{}\nP0(int *x) {\n",
            "t.litmus:3:13: syntax error: unexpected end of file; expected one of ",
        ),
    ],
)
def test_syntax_errors_name_the_place_and_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(LitmusError) as err:
        parse_text(text, "t.litmus")
    assert str(err.value).startswith(message)
