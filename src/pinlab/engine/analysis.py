"""Which locations a thread may still write: a symbolic dry run.

The explorer lets a read wait for a write that does not exist yet only when
another thread may still produce one; every wait that no write ever answers is
a dead end.  To know which threads may still write a location, each thread is
run alone, once per path, with every read answering a fresh symbol, every
branch on a symbol taken both ways, and every lock, trylock and choice taken
each possible way.  For each operation index ``k`` the result holds the set of
locations written at index ``k`` or later on some path -- or ``None`` when a
path reached index ``k`` or later and then stopped on a value it needed
concretely (a computed address), so that what follows is unknown.

The dry run gives up (answering ``None`` everywhere) after ``max_paths``
paths; ``None`` is always a safe answer, only a slower one.
"""

from __future__ import annotations

from typing import Any

from pinlab.engine.ops import (
    Assume,
    Choose,
    Cutoff,
    IsLocked,
    Load,
    Rmw,
    RmwKind,
    Store,
    TryLock,
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


class _GiveUp(Exception):
    pass


def _written_loc(op: Any) -> tuple[bool, Loc | None]:
    """(writes?, location) of an operation; location None when symbolic."""
    if isinstance(op, Store | Rmw):
        loc = unwrap(op.loc)
        return True, loc if isinstance(loc, Loc) else None
    return False, None


def _answers(op: Any, k: int) -> list[Any]:
    """The answers to try for operation ``op`` at index ``k`` of a dry run."""
    if isinstance(op, Load):
        return [Sym.leaf(10_000_000 + k)]
    if isinstance(op, Rmw):
        if op.kind is RmwKind.ADD_UNLESS and not op.ret_old:
            return [1, 0]
        if op.kind is RmwKind.ATOMIC_OP:
            return [None]
        return [Sym.leaf(10_000_000 + k)]
    if isinstance(op, TryLock | IsLocked):
        return [1, 0]
    if isinstance(op, Choose):
        return list(range(op.n))
    return [None]


def future_writes(factory: ThreadFactory, max_paths: int = 2048) -> Futures:
    """Per operation index, the locations the thread may write from there on."""
    paths: list[tuple[list[Loc | None], bool]] = []  # (written loc per op or None, stuck?)

    def run(answers: list[Any], decisions: list[bool]) -> None:
        if len(paths) >= max_paths:
            raise _GiveUp
        tracker = DepTracker(decisions)
        gen = factory()
        writes: list[Loc | None] = []
        try:
            op = gen.send(None)
            for i, ans in enumerate(answers):
                writes.append(_record(op))
                op = gen.send(_wrap(ans, i, tracker))
            while True:
                if isinstance(op, Cutoff):
                    paths.append((writes, False))
                    return
                if (
                    isinstance(op, Assume)
                    and type(unwrap(op.cond)) is not Sym
                    and not unwrap(op.cond)
                ):
                    paths.append((writes, False))
                    return
                options = _answers(op, len(answers))
                if len(options) > 1:
                    for ans in options:
                        run([*answers, ans], list(tracker.decisions))
                    return
                writes.append(_record(op))
                answers = [*answers, options[0]]
                op = gen.send(_wrap(options[0], len(answers) - 1, tracker))
        except (StopIteration, Oops):
            paths.append((writes, False))  # an Oops ends the thread, as under the explorer
        except ForkNeeded:
            for outcome in (True, False):
                run(list(answers), [*tracker.decisions, outcome])
        except NeedsConcrete:
            paths.append((writes, True))
        except BranchMismatch:
            return

    def _record(op: Any) -> Loc | None:
        writes, loc = _written_loc(op)
        if writes and loc is None:
            raise NeedsConcrete(Sym.leaf(-1))
        return loc

    def _wrap(ans: Any, i: int, tracker: DepTracker) -> Any:
        return Val(ans, 1 << i, tracker) if type(ans) is Sym else ans

    try:
        run([], [])
    except _GiveUp:
        return []
    if any(stuck for _, stuck in paths):
        # A path stopped on a value it needed concretely: the real thread may
        # go on past that point, to any index, and write anything there.
        return []
    length = max((len(w) for w, _ in paths), default=0) + 1
    out: Futures = []
    for k in range(length):
        acc: set[Loc] = set()
        unknown = False
        for writes, stuck in paths:
            if stuck and len(writes) >= k:
                unknown = True
                break
            acc.update(loc for loc in writes[k:] if loc is not None)
        out.append(None if unknown else frozenset(acc))
    return out


def may_write_from(futures: Futures, k: int, loc: Loc) -> bool:
    """Whether a thread at operation index ``k`` may still write ``loc``."""
    if not futures:
        return True  # the dry run gave up: anything may happen
    if k >= len(futures):
        return False
    f = futures[k]
    return f is None or loc in f
