"""The transitive closure by topological reach agrees with its definition."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pinlab.engine import relation as r


@st.composite
def relations(draw: st.DrawFn) -> list[int]:
    n = draw(st.integers(1, 10))
    return [draw(st.integers(0, (1 << n) - 1)) for _ in range(n)]


def _plus_by_paths(rel: list[int]) -> list[int]:
    """``r+`` by its definition: ``r | r;r | r;r;r | ...`` until nothing changes."""
    out = list(rel)
    while True:
        nxt = r.union(out, r.compose(out, rel))
        if nxt == out:
            return out
        out = nxt


@given(relations())
def test_closure_is_the_union_of_paths(rel: list[int]) -> None:
    plus = _plus_by_paths(rel)
    assert r.closure(rel) == plus
    fast = r.closure_if_acyclic(rel)
    assert (fast is None) == (not r.irreflexive(plus)) == (not r.acyclic(rel))
    assert fast is None or fast == plus
