"""Binary relations over the events of one execution, as rows of bitsets.

Events are numbered ``0..n-1``.  A set of events is an ``int`` bitmask; a
relation is a list of ``n`` ints, row ``i`` holding the bitmask of the events
``j`` with ``(i, j)`` in the relation.  These are the cat language's
operators (``|``, ``&``, ``\\``, ``;``, ``^-1``, ``+``, ``*``, ``?``, ``[S]``,
``S * T``) and checks (``acyclic``, ``irreflexive``, ``empty``), on Python
ints, which are fast for the few hundred events of a kernel scenario.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

__all__ = [
    "Rel",
    "acyclic",
    "bits",
    "closure",
    "closure_if_acyclic",
    "compose",
    "cross",
    "diff",
    "domain",
    "empty",
    "ident",
    "inter",
    "inverse",
    "irreflexive",
    "pairs",
    "range_",
    "refl_closure",
    "restrict",
    "star",
    "union",
    "zero",
]

Rel = list[int]


def bits(mask: int) -> Iterator[int]:
    """The indices of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def zero(n: int) -> Rel:
    return [0] * n


def ident(n: int, s: int = -1) -> Rel:
    """``[S]``: the identity on set ``s`` (all events when ``s`` is -1)."""
    return [(1 << i) if (s >> i) & 1 else 0 for i in range(n)]


def cross(n: int, s: int, t: int) -> Rel:
    """``S * T``."""
    return [t if (s >> i) & 1 else 0 for i in range(n)]


def union(*rels: Sequence[int]) -> Rel:
    out = list(rels[0])
    for r in rels[1:]:
        for i, row in enumerate(r):
            if row:
                out[i] |= row
    return out


def inter(a: Sequence[int], b: Sequence[int]) -> Rel:
    return [x & y for x, y in zip(a, b, strict=True)]


def diff(a: Sequence[int], b: Sequence[int]) -> Rel:
    return [x & ~y for x, y in zip(a, b, strict=True)]


def restrict(r: Sequence[int], dom: int = -1, ran: int = -1) -> Rel:
    """``[dom] ; r ; [ran]``."""
    return [(row & ran) if (dom >> i) & 1 else 0 for i, row in enumerate(r)]


def compose(a: Sequence[int], b: Sequence[int]) -> Rel:
    """``a ; b``.

    Row ``i`` is the union of ``b``'s rows at the bits of ``a[i]``.  The
    relations composed in the LKMM are often dense closures or fences
    (``po ; [Mb] ; po``), so three things keep this from walking every edge
    of ``a``: ``b``'s diagonal is taken in one ``&`` (``r? ; b``, ``b*``),
    the rest of ``b`` is grouped by row value (a fence relation has one row
    value per fence), and equal rows of ``a`` are composed once.
    """
    n = len(a)
    diag = 0
    groups: dict[int, int] = {}  # row value of b (diagonal removed) -> rows holding it
    for k, row in enumerate(b):
        if row:
            bit = 1 << k
            if row & bit:
                diag |= bit
                row ^= bit
                if not row:
                    continue
            groups[row] = groups.get(row, 0) | bit
    dom = 0
    for mask in groups.values():
        dom |= mask
    items = list(groups.items())
    m = len(items)
    memo: dict[int, int] = {}
    out = [0] * n
    for i, arow in enumerate(a):
        row = arow & dom
        if row:
            acc = memo.get(row)
            if acc is None:
                acc = 0
                if row.bit_count() <= m:
                    rem = row
                    while rem:
                        low = rem & -rem
                        k = low.bit_length() - 1
                        acc |= b[k] & ~(1 << k) if diag & low else b[k]
                        rem ^= low
                else:
                    for value, mask in items:
                        if row & mask:
                            acc |= value
                memo[row] = acc
            out[i] = acc | (arow & diag)
        elif arow & diag:
            out[i] = arow & diag
    return out


def inverse(r: Sequence[int]) -> Rel:
    out = [0] * len(r)
    for i, row in enumerate(r):
        bit = 1 << i
        while row:
            low = row & -row
            out[low.bit_length() - 1] |= bit
            row ^= low
    return out


def closure(r: Sequence[int]) -> Rel:
    """``r+``: by reach in topological order when ``r`` is acyclic (the common
    case), else by Warshall's algorithm on bitset rows."""
    plus = closure_if_acyclic(r)
    if plus is not None:
        return plus
    out = list(r)
    n = len(out)
    for k in range(n):
        bit = 1 << k
        rk = out[k]
        if not rk:
            continue
        for i in range(n):
            if out[i] & bit:
                out[i] |= rk
    return out


def star(r: Sequence[int]) -> Rel:
    """``r*``."""
    out = closure(r)
    for i in range(len(out)):
        out[i] |= 1 << i
    return out


def refl_closure(r: Sequence[int]) -> Rel:
    """``r?``."""
    return [row | (1 << i) for i, row in enumerate(r)]


def domain(r: Sequence[int]) -> int:
    s = 0
    for i, row in enumerate(r):
        if row:
            s |= 1 << i
    return s


def range_(r: Sequence[int]) -> int:
    s = 0
    for row in r:
        s |= row
    return s


def empty(r: Sequence[int]) -> bool:
    return not any(r)


def irreflexive(r: Sequence[int]) -> bool:
    return all(not (row >> i) & 1 for i, row in enumerate(r))


def _topological_order(r: Sequence[int]) -> list[int] | None:
    """A topological order of ``r``, or None when ``r`` has a cycle.

    A depth-first search on bitsets: the next unvisited successor of a node is
    the lowest bit of its row and the unvisited set, so each step is a few
    word-parallel operations, not a pass over the node's edges -- the
    relations checked for cycles (hb, pb, the closures in them) are dense,
    and a walk over their edges cost time quadratic in the events.  A cycle
    shows as an edge to a node still on the stack.
    """
    n = len(r)
    unvisited = (1 << n) - 1
    post: list[int] = []
    while unvisited:
        root = (unvisited & -unvisited).bit_length() - 1
        if r[root] >> root & 1:
            return None
        unvisited &= ~(1 << root)
        stack = [root]
        on_stack = 1 << root
        while stack:
            i = stack[-1]
            nxt = r[i] & unvisited
            if nxt:
                low = nxt & -nxt
                j = low.bit_length() - 1
                if r[j] & (on_stack | low):
                    return None  # a back edge (or a self-loop): a cycle
                unvisited ^= low
                on_stack |= low
                stack.append(j)
            else:
                stack.pop()
                on_stack ^= 1 << i
                post.append(i)
    post.reverse()
    return post


def acyclic(r: Sequence[int]) -> bool:
    """Whether ``r`` has no cycle (a topological sort: cheaper than a closure)."""
    return _topological_order(r) is not None


def closure_if_acyclic(r: Sequence[int]) -> Rel | None:
    """``r+`` when ``r`` is acyclic, else None: one topological sort, then each
    row's reach in reverse topological order -- a pass over the edges instead
    of Warshall's n^2 steps."""
    order = _topological_order(r)
    if order is None:
        return None
    out = list(r)
    for i in reversed(order):
        # A successor already reached through another is skipped: that one's
        # row, being closed, holds everything the skipped one reaches.
        rem = r[i]
        acc = 0
        while rem:
            low = rem & -rem
            acc |= out[low.bit_length() - 1] | low
            rem &= ~acc
        out[i] = acc
    return out


def pairs(r: Sequence[int]) -> Iterable[tuple[int, int]]:
    for i, row in enumerate(r):
        for j in bits(row):
            yield i, j
