"""Models of our own, written inline, run on litmus tests of our own.

Each model is small enough to say what it must give: sequential consistency
written in cat gives the built-in ``sc`` model's states; a model that picks
``co`` with ``with`` gives the same states and counts as one that takes the
graph's; recursion, functions over sets, flags, variants and errors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pinlab.cat import CatError, CatModel, load_cat
from pinlab.litmus.run import run_file
from pinlab.litmus.verdict import Verdict

SB = """C SB
{}
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\\ 1:r0=0)
"""
MP = """C MP
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); smp_store_release(y, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = smp_load_acquire(y); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\\ 1:r1=0)
"""
COWW = """C CoWW3
{}
P0(int *x) { WRITE_ONCE(*x, 1); WRITE_ONCE(*x, 2); }
P1(int *x) { int r0; int r1; WRITE_ONCE(*x, 3); r0 = READ_ONCE(*x); r1 = READ_ONCE(*x); }
exists (1:r0=3 /\\ 1:r1=2)
"""
INC = """C Inc
{}
P0(atomic_t *x) { int r0; r0 = atomic_fetch_add(1, x); }
P1(atomic_t *x) { int r0; r0 = atomic_fetch_add(1, x); }
exists (0:r0=0 /\\ 1:r0=0)
"""
TESTS = {"SB": SB, "MP": MP, "CoWW3": COWW, "Inc": INC}

SC_CAT = """"SC, in our own words"
let com = rf | co | fr
acyclic po | com as sc
empty rmw & ((fr & ext) ; (co & ext)) as atomic
"""


def run(tmp_path: Path, model: CatModel | str, test: str) -> Verdict:
    path = tmp_path / "t.litmus"
    path.write_text(TESTS[test])
    got = run_file(path, model)
    assert got.error is None, str(got.error)
    assert got.verdict is not None
    return got.verdict


def model(tmp_path: Path, text: str, name: str = "m.cat", **kw: object) -> CatModel:
    path = tmp_path / name
    path.write_text(text)
    return load_cat(path, **kw)  # type: ignore[arg-type]


def summary(v: Verdict) -> tuple[object, ...]:
    return v.states, v.witnesses, v.observation, v.flags


@pytest.mark.parametrize("test", sorted(TESTS))
def test_sc_in_cat_is_the_built_in_sc(tmp_path: Path, test: str) -> None:
    sc = model(tmp_path, SC_CAT)
    assert summary(run(tmp_path, sc, test)) == summary(run(tmp_path, "sc", test))


def test_a_model_that_chooses_co_gives_the_same_executions(tmp_path: Path) -> None:
    """``with co from`` every order of the one location's writes: each graph
    counts once (the choice that is its own ``co``), so states and counts
    are those of the model that takes ``co`` from the graph."""
    chooser = SC_CAT.replace(
        "let com", "let co0 = loc & (IW * (W \\ IW))\nwith co from linearisations(W, co0)\nlet com"
    )
    chose = model(tmp_path, chooser, "choose.cat")
    plain = model(tmp_path, SC_CAT)
    assert summary(run(tmp_path, chose, "CoWW3")) == summary(run(tmp_path, plain, "CoWW3"))
    assert run(tmp_path, chose, "CoWW3").observation == "Sometimes"


def test_flags_are_raised_only_by_consistent_executions(tmp_path: Path) -> None:
    text = SC_CAT + "flag ~empty [W] ; po ; [W] as two-writes\nflag ~empty 0 as never\n"
    assert run(tmp_path, model(tmp_path, text), "CoWW3").flags == ("two-writes",)
    assert run(tmp_path, model(tmp_path, text), "SB").flags == ()


def test_recursion_functions_and_sets(tmp_path: Path) -> None:
    text = (
        SC_CAT
        + """
let rec reach = po | (reach ; po)
empty reach \\ po+ as reach-is-po-plus
empty po+ \\ reach as po-plus-is-reach
let map f = let rec m S = match S with || {} -> {} || e ++ S -> f e ++ m S end in m
let pair p = p ++ 0
let edges = map pair po
with one from edges
empty one \\ po as a-po-edge
let count-rev = try nonexistent with 0
acyclic (if "mine" then 0 else po^-1 | po) as variant-off
"""
    )
    v = run(tmp_path, model(tmp_path, text, variants={"mine"}), "SB")
    assert v.observation == "Never"
    with_variant_off = model(tmp_path, text, "m2.cat", variants=set())
    assert run(tmp_path, with_variant_off, "SB").states == ()


def test_tag_sets_come_from_the_enums(tmp_path: Path) -> None:
    """``'RELEASE`` and ``'ACQUIRE`` tag the events of smp_store_release() and
    smp_load_acquire() (pinlab's ``release``/``acquire`` by name)."""
    bell = "enum Ann = 'ONCE || 'RELEASE || 'ACQUIRE\n"
    (tmp_path / "m.bell").write_text(bell)
    text = SC_CAT + ("acyclic ([W] ; po ; [RELEASE]) | ([ACQUIRE] ; po ; [R]) | rf | fr as mp\n")
    weak = text.replace("acyclic po | com as sc\n", "")
    m = model(tmp_path, weak, bell=tmp_path / "m.bell")
    assert run(tmp_path, m, "MP").observation == "Never"
    with pytest.raises(CatError, match=r"u.cat:4:22: unbound name 'WMB'"):
        model(tmp_path, weak.replace("RELEASE]", "WMB]"), "u.cat", bell=tmp_path / "m.bell")
    unordered = model(tmp_path, weak.replace("RELEASE]", "ACQUIRE]"), "u.cat",
                      bell=tmp_path / "m.bell")  # fmt: skip
    assert run(tmp_path, unordered, "MP").observation == "Sometimes"


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("let a = po\nacyclic b as x\n", "m.cat:2:9", "unbound name 'b'"),
        ("let a = po ; R\nacyclic a\n", "m.cat:1:9", "sequence of a relation and an event set"),
        ("acyclic R as x\n", "m.cat:1:1", "expected a relation"),
        ("let a = [ADDR]\nacyclic a\n", "m.cat:1:10", "ADDR"),
        ("procedure p(x) =\n with y from x\nend\n", "m.cat:2:2", "unsupported in a procedure"),
        ("acyclic undefined_unless po\n", "m.cat:1:9", "unbound name 'undefined_unless'"),
    ],
)
def test_errors_name_the_place(tmp_path: Path, text: str, where: str, says: str) -> None:
    """At load time (a CatError), or at run time (the litmus run's one-line error)."""
    try:
        m = model(tmp_path, text)
    except CatError as err:
        message = str(err)
    else:
        path = tmp_path / "t.litmus"
        path.write_text(SB)
        got = run_file(path, m)
        assert got.error is not None
        message = str(got.error).split("CatError: ", 1)[-1]
    assert message.startswith(str(tmp_path / where)), message
    assert says in message, message
