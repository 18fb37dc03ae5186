"""Which locations a thread may still write: a symbolic dry run.

The explorer lets a read wait for a write that does not exist yet only when
another thread may still produce one; every wait that no write ever answers is
a dead end.  To know which threads may still write a location, each thread is
run alone, once per path, with every read answering a fresh symbol, every
branch on a symbol taken both ways, and every lock, trylock and choice taken
each possible way.  For each operation index ``k`` the result holds the set of
locations written at index ``k`` or later on some path.  When a path stops on
a value it needed concretely (a computed address), or the dry run runs out of
budget, nothing is known: the result is ``[]``, always a safe answer, only a
slower one.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine.ops import (
    Assume,
    Choose,
    Cutoff,
    IsLocked,
    Load,
    Lock,
    Rmw,
    RmwKind,
    Store,
    Tag,
    TryLock,
    Unlock,
)
from pinlab.engine.program import Loc, Oops, ThreadFactory
from pinlab.engine.values import (
    BranchMismatch,
    DepTracker,
    ForkNeeded,
    NeedsConcrete,
    Sym,
    Val,
    unwrap,
)

__all__ = ["Futures", "future_writes", "may_write_from"]

Futures = list[frozenset[Loc] | None]


def _written_loc(op: Any) -> tuple[bool, Loc | None]:
    """(writes?, location) of an operation; location None when symbolic."""
    if isinstance(op, Store | Rmw | Lock | TryLock | Unlock):  # a lock's LKW and UL write it
        loc = unwrap(op.loc)
        return True, loc if isinstance(loc, Loc) else None
    return False, None


def _answers(op: Any, k: int) -> list[Any]:
    """The answers to try for operation ``op`` at index ``k`` of a dry run."""
    if isinstance(op, Load):
        return [Sym.leaf(k)]
    if isinstance(op, Rmw):
        if op.kind is RmwKind.ADD_UNLESS and not op.ret_old:
            return [1, 0]
        if op.kind is RmwKind.ATOMIC_OP:
            return [None]
        return [Sym.leaf(k)]
    if isinstance(op, TryLock | IsLocked):
        return [1, 0]
    if isinstance(op, Choose):
        return list(range(op.n))
    return [None]


def _dry_run(
    factory: ThreadFactory,
    answers: list[Any],
    decisions: list[bool],
    max_ops: int,
    plain: set[Loc] | None = None,
) -> tuple[list[Loc | None], str, Any]:
    """Run one path.  Returns (written location per op, how it ended, what to branch on).

    Endings: ``done``; ``stuck`` (needed a concrete value); ``branch`` (an
    operation with several answers: the third item is the answers given so
    far, one per operation, and the options); ``fork`` (a truth test of a
    symbol); ``dead`` (contradicts a decision); ``long``.
    """
    tracker = DepTracker(decisions)
    gen = factory()
    writes: list[Loc | None] = []
    used = list(answers)
    try:
        op = gen.send(None)
        for i, ans in enumerate(answers):
            writes.append(_record(op, plain))
            op = gen.send(_wrap(ans, i, tracker))
        while True:
            if len(writes) >= max_ops:
                return writes, "long", None
            if isinstance(op, Cutoff):
                return writes, "done", None
            cond = unwrap(op.cond) if isinstance(op, Assume) else True
            if type(cond) is not Sym and not cond:
                return writes, "done", None
            options = _answers(op, len(writes))
            if len(options) > 1:
                return writes, "branch", (used, options)
            writes.append(_record(op, plain))
            used.append(options[0])
            op = gen.send(_wrap(options[0], len(writes) - 1, tracker))
    except (StopIteration, Oops):
        return writes, "done", None  # an Oops ends the thread, as under the explorer
    except ForkNeeded:
        return writes, "fork", list(tracker.decisions)
    except NeedsConcrete:
        return writes, "stuck", None
    except BranchMismatch:
        return writes, "dead", None


def _record(op: Any, plain: set[Loc] | None = None) -> Loc | None:
    writes, loc = _written_loc(op)
    if writes and loc is None:
        raise NeedsConcrete(Sym.leaf(0))
    if plain is not None and loc is not None and isinstance(op, Store) and op.tag is Tag.PLAIN:
        plain.add(loc)
    return loc


def _wrap(ans: Any, i: int, tracker: DepTracker) -> Any:
    return Val(ans, 1 << i, tracker) if type(ans) is Sym else ans


def future_writes(
    factory: ThreadFactory,
    max_runs: int = 512,
    max_ops: int = 400,
    plain: set[Loc] | None = None,
) -> Futures:
    """Per operation index, the locations the thread may write from there on.

    Gives up (``[]``: unknown) after ``max_runs`` runs or on a path longer
    than ``max_ops`` operations: kernel paths with retry loops get there.
    ``plain`` collects the locations some path writes with a plain store.
    """
    paths: list[tuple[list[Loc | None], bool]] = []  # (written loc per op or None, stuck?)
    work: list[tuple[list[Any], list[bool]]] = [([], [])]
    runs = 0
    while work:
        runs += 1
        if runs > max_runs:
            return []
        answers, decisions = work.pop()
        writes, how, more = _dry_run(factory, answers, decisions, max_ops, plain)
        if how == "long":
            return []
        if how == "branch":
            used, options = more
            work.extend(([*used, ans], decisions) for ans in reversed(options))
        elif how == "fork":
            work.extend((answers, [*more, outcome]) for outcome in (False, True))
        elif how != "dead":
            paths.append((writes, how == "stuck"))
    if any(stuck for _, stuck in paths):
        # A thread that stopped on a value it needed concretely can be, at
        # run time, before that point or past it on a path the dry run did
        # not follow: what it writes next is unknown at every position.
        return []
    length = max((len(w) for w, _ in paths), default=0) + 1
    out: Futures = []
    for k in range(length):
        acc: set[Loc] = set()
        for writes, _ in paths:
            acc.update(loc for loc in writes[k:] if loc is not None)
        out.append(frozenset(acc))
    return out


def may_write_from(futures: Futures, k: int, loc: Loc) -> bool:
    """Whether a thread at operation index ``k`` may still write ``loc``."""
    if not futures:
        return True  # the dry run gave up: anything may happen
    if k >= len(futures):
        return False
    f = futures[k]
    return f is None or loc in f
