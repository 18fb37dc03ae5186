"""The relation operators agree with their definitions: composition, the
transitive closure by topological reach, and the cycle check."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pinlab.engine import relation as r


@st.composite
def relations(draw: st.DrawFn) -> list[int]:
    """Dense, sparse and acyclic relations on up to 12 events."""
    n = draw(st.integers(1, 12))
    shape = draw(st.sampled_from(["dense", "sparse", "forward"]))
    rows = []
    for i in range(n):
        row = draw(st.integers(0, (1 << n) - 1))
        if shape != "dense":
            row &= draw(st.integers(0, (1 << n) - 1)) & draw(st.integers(0, (1 << n) - 1))
        if shape == "forward":  # edges only to later events: no cycle
            row &= ~((1 << (i + 1)) - 1)
        rows.append(row)
    return rows


def _compose_by_pairs(a: list[int], b: list[int]) -> list[int]:
    out = [0] * len(a)
    for i, k in r.pairs(a):
        for j in r.bits(b[k]):
            out[i] |= 1 << j
    return out


def _plus_by_paths(rel: list[int]) -> list[int]:
    """``r+`` by its definition: ``r | r;r | r;r;r | ...`` until nothing changes."""
    out = list(rel)
    while True:
        nxt = r.union(out, _compose_by_pairs(out, rel))
        if nxt == out:
            return out
        out = nxt


@given(relations(), st.data())
def test_compose_is_the_relational_product(a: list[int], data: st.DataObject) -> None:
    b = [data.draw(st.integers(0, (1 << len(a)) - 1)) & x for x in a[::-1]]
    assert r.compose(a, b) == _compose_by_pairs(a, b)


@given(relations())
def test_closure_is_the_union_of_paths(rel: list[int]) -> None:
    plus = _plus_by_paths(rel)
    assert r.closure(rel) == plus
    fast = r.closure_if_acyclic(rel)
    assert (fast is None) == (not r.irreflexive(plus)) == (not r.acyclic(rel))
    assert fast is None or fast == plus


@given(relations())
def test_a_topological_order_puts_every_edge_forward(rel: list[int]) -> None:
    order = r._topological_order(rel)
    if order is None:
        assert not r.irreflexive(_plus_by_paths(rel))
        return
    assert sorted(order) == list(range(len(rel)))
    place = {e: k for k, e in enumerate(order)}
    assert all(place[i] < place[j] for i, j in r.pairs(rel))


@given(relations(), st.data())
def test_inverse_is_an_involution_that_reverses_composition(
    a: list[int], data: st.DataObject
) -> None:
    b = [data.draw(st.integers(0, (1 << len(a)) - 1)) for _ in a]
    assert r.inverse(r.inverse(a)) == a
    assert r.inverse(r.compose(a, b)) == r.compose(r.inverse(b), r.inverse(a))
    assert set(r.pairs(r.inverse(a))) == {(j, i) for i, j in r.pairs(a)}


@given(relations())
def test_star_is_the_identity_or_the_closure(rel: list[int]) -> None:
    n = len(rel)
    assert r.star(rel) == r.union(r.ident(n), r.closure(rel))
    assert r.refl_closure(rel) == r.union(rel, r.ident(n))


@given(relations(), st.integers(0, 4095), st.integers(0, 4095))
def test_restrict_keeps_the_pairs_from_and_to_the_sets(rel: list[int], dom: int, ran: int) -> None:
    got = set(r.pairs(r.restrict(rel, dom, ran)))
    assert got == {(i, j) for i, j in r.pairs(rel) if dom >> i & 1 and ran >> j & 1}
    assert r.domain(rel) == sum(1 << i for i in {i for i, _ in r.pairs(rel)})
    assert r.range_(rel) == sum(1 << j for j in {j for _, j in r.pairs(rel)})
