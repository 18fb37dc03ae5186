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

Value domains make the computed addresses concrete.  A read returns the
initial value of its location or a value some thread writes there; so the
values every thread may write, found by dry runs that answer a needed read
with each value of its location's domain, grow the domains until nothing
changes (:func:`value_domains`).  A location written with a value that is
itself unknown (a counter incremented) has no finite domain, and a path that
needs such a value concretely is still stuck.  The fixpoint assumes values
do not appear out of thin air, which LKMM guarantees for a value that flows
into an address or a branch (dependencies order marked accesses).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from pinlab.engine.ops import (
    Arith,
    Assume,
    Choose,
    Cutoff,
    IsLocked,
    Load,
    Lock,
    PointerArith,
    Rmw,
    RmwKind,
    Store,
    Tag,
    TryLock,
    Unlock,
    apply_arith,
)
from pinlab.engine.program import Loc, Oops, ThreadFactory
from pinlab.engine.values import (
    BranchMismatch,
    DepTracker,
    ForkNeeded,
    NeedsConcrete,
    Sym,
    Undetermined,
    Val,
    evaluate,
    unwrap,
)

__all__ = ["Domains", "Futures", "future_writes", "may_write_from", "value_domains"]

Futures = list[frozenset[Loc] | None]
# Per location, the values it may hold (None: not a small finite set).
Domains = dict[Loc, frozenset[Any] | None]
_DOMAIN_CAP = 24  # larger sets count as unknown
_COMBINATIONS_CAP = 64


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
    values: _Values | None = None,
) -> tuple[list[Loc | None], str, Any]:
    """Run one path.  Returns (written location per op, how it ended, what to branch on).

    Endings: ``done``; ``stuck`` (needed a concrete value); ``branch`` (an
    operation with several answers: the third item is the answers given so
    far, one per operation, and the options); ``fork`` (a truth test of a
    symbol); ``dead`` (contradicts a decision); ``long``.  ``stuck`` comes
    with (answers given, the operations, the symbol needed).
    """
    tracker = DepTracker(decisions)
    gen = factory()
    writes: list[Loc | None] = []
    ops: list[Any] = []
    if values is not None:
        values.start(ops)
    used = list(answers)
    try:
        op = gen.send(None)
        for i, ans in enumerate(answers):
            writes.append(_record(op, plain))
            ops.append(op)
            if values is not None:
                values.note(op, ans)
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
            ops.append(op)
            used.append(options[0])
            if values is not None:
                values.note(op, options[0])
            op = gen.send(_wrap(options[0], len(writes) - 1, tracker))
    except (StopIteration, Oops):
        return writes, "done", None  # an Oops ends the thread, as under the explorer
    except ForkNeeded:
        return writes, "fork", list(tracker.decisions)
    except NeedsConcrete as need:
        return writes, "stuck", (used, ops, need.sym)
    except BranchMismatch:
        return writes, "dead", None
    except Exception:
        # The thread fails here (a kernel bug it reports, or a value from a
        # domain that cannot reach this point): it writes nothing more.
        return writes, "done", None


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
    max_runs: int = 4096,
    max_ops: int = 400,
    max_steps: int = 1 << 17,
    plain: set[Loc] | None = None,
    domains: Domains | None = None,
    init: Mapping[Loc, Any] | None = None,
    values: _Values | None = None,
) -> Futures:
    """Per operation index, the locations the thread may write from there on.

    Gives up (``[]``: unknown) after ``max_runs`` runs, after ``max_steps``
    operations replayed in all, or on a path longer than ``max_ops``
    operations: kernel paths with retry loops get there.  (Over the built-in
    catalogue the threads whose futures are found need at most ~90,000 steps;
    those that give up took up to 470,000 before the step budget.)
    ``plain`` collects the locations some path writes with a plain store.
    With ``domains`` (and ``init``), a read whose value is needed concretely
    is answered with each value of its location's domain; ``values`` collects
    what the paths write.
    """
    paths: list[list[Loc | None]] = []  # written location per op (None: no write)
    work: list[tuple[list[Any], list[bool]]] = [([], [])]
    runs = steps = 0
    while work:
        runs += 1
        if runs > max_runs:
            return []
        answers, decisions = work.pop()
        writes, how, more = _dry_run(factory, answers, decisions, max_ops, plain, values)
        steps += len(writes)
        if how == "long" or steps > max_steps:
            return []
        if how == "stuck" and domains is not None:
            used, ops, sym = more
            options = _concretize(used, ops, sym, domains, init or {})
            if options is not None:
                # The truth tests on what is now concrete take no decision:
                # the decisions are found afresh on each new path.
                work.extend((o, []) for o in options)
                continue
        if how == "branch":
            used, options = more
            work.extend(([*used, ans], decisions) for ans in reversed(options))
        elif how == "fork":
            work.extend((answers, [*more, outcome]) for outcome in (False, True))
        elif how == "stuck":
            # A thread that stopped on a value it needed concretely can be, at
            # run time, before that point or past it on a path the dry run did
            # not follow: what it writes next is unknown at every position,
            # whatever the other paths say.
            return []
        elif how != "dead":
            paths.append(writes)
    length = max((len(w) for w in paths), default=0) + 1
    out: Futures = []
    for k in range(length):
        acc: set[Loc] = set()
        for writes in paths:
            acc.update(loc for loc in writes[k:] if loc is not None)
        out.append(frozenset(acc))
    return out


def _concretize(
    used: list[Any], ops: list[Any], sym: Sym, domains: Domains, init: Mapping[Loc, Any]
) -> list[list[Any]] | None:
    """The answer lists that make ``sym`` concrete, one per combination of
    values of the reads it depends on; None if some read has no finite domain."""
    leaves = [k for k in range(len(used)) if sym.reads >> k & 1]
    if not leaves or sym.reads >> len(used):
        return None
    combos = _combinations({k: ops[k] for k in leaves}, domains, init)
    if combos is None:
        return None
    out: list[list[Any]] = []
    for env in combos:
        answers = list(used)
        for k, v in env.items():
            answers[k] = v
        out.append(answers)
    return out


def _combinations(
    reads: dict[int, Any], domains: Domains, init: Mapping[Loc, Any]
) -> list[dict[int, Any]] | None:
    """Every assignment of a value from its domain to each read (index -> its
    operation); None if some read has no finite domain or there are too many."""
    choices: list[list[Any]] = []
    total = 1
    for op in reads.values():
        dom = _answer_domain(op, domains, init)
        if dom is None:
            return None
        total *= len(dom)
        if total > _COMBINATIONS_CAP:
            return None
        choices.append(sorted(dom, key=repr))
    keys = list(reads)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*choices)]


def _answer_domain(op: Any, domains: Domains, init: Mapping[Loc, Any]) -> frozenset[Any] | None:
    """The values operation ``op`` may answer, from its location's domain."""
    if not isinstance(op, Load | Rmw):
        return None
    loc = unwrap(op.loc)
    if not isinstance(loc, Loc):
        return None
    dom = domains.get(loc, frozenset({init.get(loc, 0)}))
    if dom is None:
        return None
    if isinstance(op, Rmw) and op.kind is RmwKind.OP_RETURN:
        arg = unwrap(op.arg)
        if type(arg) is Sym or op.arith is None:
            return None
        arith = op.arith
        try:
            return frozenset(apply_arith(arith, v, arg) for v in dom)
        except PointerArith:
            return None  # (unknown)
    return dom


class _Values:
    """What the dry runs write, per location: concrete values, and the
    arithmetic applied to the old value by RMWs (closed over at the end)."""

    def __init__(self) -> None:
        self.values: dict[Loc, set[Any] | None] = {}
        self.ops: dict[Loc, set[tuple[Arith, Any]]] = {}
        # symbolic values written: (location, expression, the reads below it)
        self.syms: list[tuple[Loc, Sym, dict[int, Any]]] = []
        self._reads: list[Any] = []

    def _add(self, loc: Loc, v: Any) -> None:
        s = self.values.setdefault(loc, set())
        if s is None:
            return
        if type(v) is Sym:
            leaves = {k: self._reads[k] for k in range(len(self._reads)) if v.reads >> k & 1}
            if v.reads >> len(self._reads):
                self.values[loc] = None
            else:
                self.syms.append((loc, v, leaves))
            return
        if type(v) is Undetermined:
            self.values[loc] = None
            return
        try:
            s.add(v)
        except TypeError:
            self.values[loc] = None

    def start(self, ops: list[Any]) -> None:
        """A new dry-run path: ``ops`` will hold its operations, by index."""
        self._reads = ops

    def note(self, op: Any, answer: Any) -> None:
        if isinstance(op, Lock | TryLock):
            loc = unwrap(op.loc)
            if isinstance(loc, Loc):
                self._add(loc, 1)
        elif isinstance(op, Unlock):
            loc = unwrap(op.loc)
            if isinstance(loc, Loc):
                self._add(loc, 0)
        elif isinstance(op, Store):
            loc = unwrap(op.loc)
            if isinstance(loc, Loc):
                self._add(loc, unwrap(op.value))
        elif isinstance(op, Rmw):
            loc = unwrap(op.loc)
            if not isinstance(loc, Loc):
                return
            arg, arg2 = unwrap(op.arg), unwrap(op.arg2)
            if op.kind is RmwKind.XCHG:
                self._add(loc, arg)
            elif op.kind is RmwKind.CMPXCHG:
                self._add(loc, arg2)
            elif op.arith is not None and type(arg) is not Sym:
                self.ops.setdefault(loc, set()).add((op.arith, arg))
                self.values.setdefault(loc, set())
            elif op.kind is RmwKind.ADD_UNLESS and type(arg) is not Sym:
                self.ops.setdefault(loc, set()).add((Arith.ADD, arg))
                self.values.setdefault(loc, set())
            else:
                self.values[loc] = None


def _evaluate_into(
    dom: set[Any],
    syms: list[tuple[Sym, dict[int, Any]]],
    domains: Domains,
    init: Mapping[Loc, Any],
) -> bool:
    """Add to ``dom`` every value of each expression over its reads' domains."""
    for sym, leaves in syms:
        combos = _combinations(leaves, domains, init)
        if combos is None:
            return False
        for env in combos:
            try:
                dom.add(evaluate(sym, env.__getitem__))
            except (TypeError, KeyError, NeedsConcrete):
                return False
        if len(dom) > _DOMAIN_CAP:
            return False
    return True


def value_domains(
    factories: Sequence[ThreadFactory], init: Mapping[Loc, Any], rounds: int = 8
) -> Domains | None:
    """Per location, the values it may ever hold, or None when that is unknown
    (a dry run gave up or got stuck, or no fixpoint within ``rounds``)."""
    domains: Domains = {}
    for _ in range(rounds):
        acc = _Values()
        for f in factories:
            if not future_writes(f, domains=domains, init=init, values=acc):
                return None
        new: Domains = {}
        for loc in set(acc.values) | set(domains):
            written = acc.values.get(loc, set())
            if written is None:
                new[loc] = None
                continue
            dom: set[Any] = {init.get(loc, 0), *written}
            if not _evaluate_into(
                dom, [(s, lv) for x, s, lv in acc.syms if x == loc], domains, init
            ):
                new[loc] = None
                continue
            try:
                for _ in range(_DOMAIN_CAP):
                    grown = {apply_arith(a, v, arg) for a, arg in acc.ops.get(loc, ()) for v in dom}
                    if grown <= dom:
                        break
                    dom |= grown
                    if len(dom) > _DOMAIN_CAP:
                        break
            except PointerArith:  # (a pairing no execution may make: the domain is unknown)
                dom = set(range(_DOMAIN_CAP + 1))
            new[loc] = frozenset(dom) if len(dom) <= _DOMAIN_CAP else None
        if new == domains:
            return domains
        domains = new
    return None


def may_write_from(futures: Futures, k: int, loc: Loc) -> bool:
    """Whether a thread at operation index ``k`` may still write ``loc``."""
    if not futures:
        return True  # the dry run gave up: anything may happen
    if k >= len(futures):
        return False
    f = futures[k]
    return f is None or loc in f
