"""Which checks of a cat model prune partial graphs (:mod:`pinlab.cat.monotone`).

The analysis accepts a check when its value can only grow as a partial graph
is completed; each case below is a small model and the names of the checks
it must accept.  Then the pruning itself: it never changes what a model
allows, and it does cut the exploration short.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pinlab.cat import load_cat, parse_text
from pinlab.cat.monotone import prunable_checks
from pinlab.litmus.run import run_file
from tests.cat.lkmm_files import CFG, NEEDS_LKMM
from tests.cat.test_eval import SC_CAT, TESTS


def accepted(text: str, variants: frozenset[str] = frozenset()) -> set[str]:
    """The names of the checks of ``text`` that may prune."""
    _, stmts = parse_text(text, "t.cat")
    checks = [s for s in stmts if s.op == "check"]
    return {checks[k].args[4] for k in prunable_checks(stmts, variants)}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # unions, sequences, closures and inverses of growing relations
        ("acyclic po | rf | co | fr as a\nacyclic (rf ; po)+ ; co^-1 as b\n", {"a", "b"}),
        ("empty rmw & ((fr & ext) ; (co & ext)) as a\n", {"a"}),
        ("irreflexive ([R] ; po ; [W]) ; rf? ; (loc * _) as a\n", {"a"}),
        # \ and ~ of a relation that grows: no
        ("empty po \\ rf as a\nacyclic ~rf as b\nacyclic ~(po | rf) & loc as c\n", set()),
        # \ and ~ of what is stable: yes
        ("acyclic (rf \\ id) | (po & ~int) as a\nempty [R \\ W] ; rf as b\n", {"a", "b"}),
        # po ; po passes only through old events (po is closed downwards): stable;
        # loc ; loc may pass through a new event: it only grows
        ("empty po \\ (po ; po) as a\nempty po \\ (loc ; loc) as b\n", {"a"}),
        ("empty (loc & int) \\ ([W] ; po+ ; [R]) as a\n", {"a"}),
        # domain and range: of po they are stable (po^-1 and po sides), of rf they grow
        (
            "empty R \\ range(po) as a\nempty R \\ domain(po) as b\nempty W \\ domain(rf) as c\n",
            {"a"},
        ),
        # a set that shrinks (an RMW not yet completed) taken away: grows
        (
            "let Failed = X \\ (domain(rmw) | range(rmw))\n"
            "let Ok = X \\ Failed\n"
            "acyclic ([Ok] ; po) | rf as a\nacyclic ([Failed] ; po) | rf as b\n",
            {"a"},
        ),
        # flags and negated checks never prune
        ("flag ~empty rf as a\nflag acyclic po as b\n~empty rf as c\n~acyclic po as d\n", set()),
    ],
)
def test_which_checks_may_prune(text: str, want: set[str]) -> None:
    assert accepted(text) == want


def test_functions_are_their_bodies_at_each_use() -> None:
    text = (
        "let f(x) = x ; po\nlet g(x) = po \\ x\nlet h x y = x | y\n"
        "acyclic f(rf) as a\nacyclic g(rf) as b\nacyclic g(id) as c\n"
        "acyclic (h rf) (co) as d\nacyclic h(rf, co) as e\n"
    )
    # (h takes two curried arguments; h(rf, co) passes it one tuple: unknown)
    assert accepted(text) == {"a", "c", "d"}


def test_recursive_definitions_grow_when_their_bodies_do() -> None:
    text = (
        "let rec r = po | (r ; rf) and s = r | s\nacyclic r as a\nacyclic s as b\n"
        "let rec m = po \\ (m ; m)\nacyclic m as c\n"
        "let rec even x = odd x and odd x = even x\nacyclic even(po) as d\n"
        "let t = let rec u = rf | (u ; u) in u\nacyclic t as e\n"
    )
    assert accepted(text) == {"a", "b", "e"}


def test_what_the_analysis_cannot_follow_is_unknown() -> None:
    text = (
        "let map f = let rec m S = match S with || {} -> {} || e ++ S -> f e ++ m S end in m\n"
        "acyclic po | (rf ++ 0) as a\n"
        "acyclic linearisations(W, co) as b\n"
        "let bad = rf ; R\nlet c-rf = try bad with 0\nacyclic c-rf as c\n"  # (at run time)
        "let n = try undefined with po\nacyclic n | rf as d\n"  # decided at load time
        "let x = try X with 0\nempty [x] ; rf as e\n"  # a primitive: never fails
        "let B2 = try B with R\nempty [B2] ; rf as f\n"  # B always fails
        'acyclic (if "v" then rf else ~rf) as g\n'
    )
    assert accepted(text) == {"d", "e", "f"}
    assert accepted(text, frozenset({"v"})) == {"d", "e", "f", "g"}


def test_choices_made_with_with() -> None:
    """A name chosen by ``with`` is unknown, but a model that has a ``with``
    counts a run only if its last rf and co are the graph's: those grow."""
    text = (
        "let co0 = loc & (IW * (W \\ IW))\nwith co from linearisations(W, co0)\n"
        "acyclic po | co as a\n"  # (co: the last one, the graph's)
        "let rf = rf | 0\nlet both = rf | co\nacyclic both as b\n"
        "with k from {0, id}\nacyclic po | k as c\n"
    )
    assert accepted(text) == {"a", "b"}
    # without a with, the last rf is the model's own definition
    assert accepted("let rf = po \\ rf\nacyclic rf as a\n") == set()


def summary(tmp_path: Path, model: object, test: str) -> tuple[object, ...]:
    path = tmp_path / "t.litmus"
    path.write_text(TESTS[test])
    got = run_file(path, model)  # type: ignore[arg-type]
    assert got.error is None and got.verdict is not None
    v = got.verdict
    return v.states, v.witnesses, v.observation, v.flags, v.explored


@pytest.mark.parametrize("test", sorted(TESTS))
@pytest.mark.parametrize("chooser", [False, True], ids=["graph-co", "with-co"])
def test_pruning_changes_no_answer(tmp_path: Path, test: str, chooser: bool) -> None:
    text = SC_CAT
    if chooser:
        text = text.replace(
            "let com", "let co0 = loc & (IW * (W \\ IW))\nwith co from linearisations(W, co0)\n"
            "let com",
        )  # fmt: skip
    path = tmp_path / "m.cat"
    path.write_text(text)
    pruned = load_cat(path)
    assert pruned.pruning == ("sc", "atomic")
    unpruned = load_cat(path)
    unpruned.prunable = frozenset()
    got, want = summary(tmp_path, pruned, test), summary(tmp_path, unpruned, test)
    assert got[:4] == want[:4]
    assert got[4] <= want[4]  # (complete candidates explored)


@NEEDS_LKMM
def test_the_kernel_model_prunes_by_its_ordering_axioms() -> None:
    """The checks the built-in LKMM prunes by (and lock.cat's nesting rules);
    not rcu (its critical sections are matched with \\ in a let rec),
    plain-coherence (through rcu) or unmatched-locks (a lock may be released
    later)."""
    assert load_cat(CFG).pruning == (
        "lock-nest", "nested-is-locked", "coherence", "atomic", "happens-before", "propagation",
    )  # fmt: skip
