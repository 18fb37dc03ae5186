"""A tiny instruction language for engine tests, with two independent semantics.

- :func:`as_program` turns threads of instructions into an engine Program
  (generator threads yielding kapi operations);
- :func:`brute_force_sc` enumerates every interleaving directly on a
  dictionary memory, with no graph and no model: the reference for the
  explorer under ``sc``.

Instructions (tuples):
  ("st", loc, v)                   WRITE_ONCE(loc, v)
  ("ld", loc, reg)                 reg = READ_ONCE(loc)
  ("xchg", loc, v, reg)            reg = xchg(loc, v)
  ("cmpxchg", loc, old, new, reg)  reg = cmpxchg(loc, old, new)
  ("fetch_add", loc, v, reg)       reg = atomic_fetch_add(v, loc)
  ("add", loc, v)                  atomic_add(v, loc)
  ("add_unless", loc, a, u, reg)   reg = atomic_add_unless(loc, a, u)
  ("fence", name)                  smp_mb() etc.; ("fence", "sync_rcu") is synchronize_rcu()
  ("rcu_lock",) / ("rcu_unlock",)  rcu_read_lock / rcu_read_unlock
  ("lock", l) / ("unlock", l)      spin_lock / spin_unlock
  ("trylock", l, reg, body)        reg = spin_trylock(l); if reg: body; spin_unlock(l)
  ("if_eq", reg, v, body)          if reg == v: body

:func:`programs` is the hypothesis strategy of random threads of these
instructions that the engine's property tests share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

from pinlab.engine import kapi
from pinlab.engine.program import Condition, CondKind, Loc, MemVar, Program, RegVar

Instr = tuple[Any, ...]
ThreadCode = Sequence[Instr]

FENCES: dict[str, Callable[[], Any]] = {
    "mb": kapi.smp_mb,
    "rmb": kapi.smp_rmb,
    "wmb": kapi.smp_wmb,
    "after_atomic": kapi.smp_mb__after_atomic,
    "sync_rcu": kapi.synchronize_rcu,
}


def _interp(code: ThreadCode, regs: dict[str, Any]) -> Any:
    for ins in code:
        op = ins[0]
        if op == "st":
            yield from kapi.WRITE_ONCE(Loc(ins[1]), ins[2])
        elif op == "ld":
            regs[ins[2]] = yield from kapi.READ_ONCE(Loc(ins[1]))
        elif op == "xchg":
            regs[ins[3]] = yield from kapi.xchg(Loc(ins[1]), ins[2])
        elif op == "cmpxchg":
            regs[ins[4]] = yield from kapi.cmpxchg(Loc(ins[1]), ins[2], ins[3])
        elif op == "fetch_add":
            regs[ins[3]] = yield from kapi.atomic_fetch_add(ins[2], Loc(ins[1]))
        elif op == "add":
            yield from kapi.atomic_add(ins[2], Loc(ins[1]))
        elif op == "add_unless":
            regs[ins[4]] = yield from kapi.atomic_add_unless(Loc(ins[1]), ins[2], ins[3])
        elif op == "fence":
            yield from FENCES[ins[1]]()
        elif op == "rcu_lock":
            yield from kapi.rcu_read_lock()
        elif op == "rcu_unlock":
            yield from kapi.rcu_read_unlock()
        elif op == "lock":
            yield from kapi.spin_lock(Loc(ins[1]))
        elif op == "unlock":
            yield from kapi.spin_unlock(Loc(ins[1]))
        elif op == "trylock":
            got = yield from kapi.spin_trylock(Loc(ins[1]))
            regs[ins[2]] = got
            if got:
                yield from _interp(ins[3], regs)
                yield from kapi.spin_unlock(Loc(ins[1]))
        elif op == "if_eq":
            if regs.get(ins[1], 0) == ins[2]:
                yield from _interp(ins[3], regs)
        else:
            raise ValueError(op)


def registers(code: ThreadCode) -> list[str]:
    out: list[str] = []
    for ins in code:
        op = ins[0]
        reg = None
        if op == "ld":
            reg = ins[2]
        elif op in ("xchg", "fetch_add"):
            reg = ins[3]
        elif op in ("cmpxchg", "add_unless"):
            reg = ins[4]
        elif op == "trylock":
            reg = ins[2]
        if reg is not None and reg not in out:
            out.append(reg)
        if op in ("trylock", "if_eq"):
            for r in registers(ins[3]):
                if r not in out:
                    out.append(r)
    return out


def locations(threads: Sequence[ThreadCode]) -> list[str]:
    out: set[str] = set()

    def walk(code: ThreadCode) -> None:
        for ins in code:
            if ins[0] in ("st", "ld", "xchg", "cmpxchg", "fetch_add", "add", "add_unless",
                          "lock", "unlock", "trylock"):  # fmt: skip
                out.add(ins[1])
            if ins[0] in ("trylock", "if_eq"):
                walk(ins[3])

    for code in threads:
        walk(code)
    return sorted(out)


def as_program(
    name: str,
    threads: Sequence[ThreadCode],
    exists: Callable[[Any], bool] | None = None,
) -> Program:
    regs = [registers(code) for code in threads]

    def factory(code: ThreadCode, names: list[str]) -> Callable[[], Any]:
        def thread() -> Any:
            values: dict[str, Any] = {r: 0 for r in names}
            yield from _interp(code, values)
            return values

        return thread

    observed: list[MemVar | RegVar] = [MemVar(Loc(x)) for x in locations(threads)]
    for tid, names in enumerate(regs):
        observed += [RegVar(tid, r) for r in names]
    cond = Condition(CondKind.EXISTS, exists or (lambda s: True), tuple(observed))
    return Program(
        name, tuple(factory(code, regs[i]) for i, code in enumerate(threads)), condition=cond
    )


def brute_force_sc(threads: Sequence[ThreadCode]) -> set[tuple[Any, ...]]:
    """Final states (in ``as_program``'s observed order) of every interleaving."""
    locs = locations(threads)
    regs = [registers(code) for code in threads]
    results: set[tuple[Any, ...]] = set()

    def flat(code: ThreadCode) -> list[Instr]:
        return list(code)

    seen: set[str] = set()

    def step(mem: dict[str, int], stacks: list[list[Instr]], rf: list[dict[str, int]]) -> None:
        # the same state reached by different interleavings is explored once
        key = repr((sorted(mem.items()), stacks, [sorted(r.items()) for r in rf]))
        if key in seen:
            return
        seen.add(key)
        progressed = False
        for tid, stack in enumerate(stacks):
            if not stack:
                continue
            ins = stack[0]
            rest = stack[1:]
            m = dict(mem)
            r = dict(rf[tid])
            op = ins[0]
            if op == "st":
                m[ins[1]] = ins[2]
            elif op == "ld":
                r[ins[2]] = m.get(ins[1], 0)
            elif op == "xchg":
                r[ins[3]] = m.get(ins[1], 0)
                m[ins[1]] = ins[2]
            elif op == "cmpxchg":
                old = m.get(ins[1], 0)
                r[ins[4]] = old
                if old == ins[2]:
                    m[ins[1]] = ins[3]
            elif op == "fetch_add":
                old = m.get(ins[1], 0)
                r[ins[3]] = old
                m[ins[1]] = old + ins[2]
            elif op == "add":
                m[ins[1]] = m.get(ins[1], 0) + ins[2]
            elif op == "add_unless":
                old = m.get(ins[1], 0)
                ok = old != ins[3]
                r[ins[4]] = int(ok)
                if ok:
                    m[ins[1]] = old + ins[2]
            elif op == "fence" and ins[1] == "sync_rcu":
                # a grace period starts: it waits for the sections other CPUs
                # are in now (each CPU's count of sections ended, as it is now)
                inside = tuple(
                    (t, m.get(f"__rcu_ended{t}", 0))
                    for t in range(len(stacks))
                    if t != tid and m.get(f"__rcu{t}", 0)
                )
                rest = [("sync_rcu_end", inside), *rest]
            elif op == "sync_rcu_end":
                # ... and ends once each of them has ended; sections begun since
                # need not end first
                if any(m.get(f"__rcu_ended{t}", 0) <= n for t, n in ins[1]):
                    continue  # not enabled
            elif op == "fence":
                pass
            elif op == "rcu_lock":
                m[f"__rcu{tid}"] = m.get(f"__rcu{tid}", 0) + 1
            elif op == "rcu_unlock":
                m[f"__rcu{tid}"] = m.get(f"__rcu{tid}", 0) - 1
                if not m[f"__rcu{tid}"]:
                    m[f"__rcu_ended{tid}"] = m.get(f"__rcu_ended{tid}", 0) + 1
            elif op == "lock":
                if m.get(ins[1], 0):
                    continue  # not enabled
                m[ins[1]] = 1
            elif op == "unlock":
                m[ins[1]] = 0
            elif op == "trylock":
                if m.get(ins[1], 0):
                    r[ins[2]] = 0
                else:
                    m[ins[1]] = 1
                    r[ins[2]] = 1
                    rest = [*flat(ins[3]), ("unlock", ins[1]), *rest]
            elif op == "if_eq" and r.get(ins[1], 0) == ins[2]:
                rest = [*flat(ins[3]), *rest]
            progressed = True
            new_stacks = list(stacks)
            new_stacks[tid] = rest
            new_rf = list(rf)
            new_rf[tid] = r
            step(m, new_stacks, new_rf)
        if not progressed and all(not s for s in stacks):
            state = [mem.get(x, 0) for x in locs]
            for tid, names in enumerate(regs):
                state += [rf[tid].get(n, 0) for n in names]
            results.add(tuple(state))

    step({}, [flat(code) for code in threads], [{} for _ in threads])
    return results


# -- random programs ---------------------------------------------------------------------
LOCS = ("x", "y")
ATOMICS = ("st", "ld", "xchg", "cmpxchg", "fetch_add", "add_unless", "fence")
LOCKING = (*ATOMICS, "lock", "trylock")


@st.composite
def instructions(draw: st.DrawFn, reg: str, kinds: Sequence[str] = ATOMICS) -> list[Instr]:
    """One random instruction of ``kinds`` (a kind named twice is drawn twice as
    often) on ``x`` or ``y``, its result in ``reg``; a ``lock`` is a whole
    critical section around a store, a ``trylock`` one around a load."""
    loc = draw(st.sampled_from(LOCS))
    v = draw(st.integers(1, 2))
    kind = draw(st.sampled_from(kinds))
    if kind == "st":
        return [("st", loc, v)]
    if kind == "ld":
        return [("ld", loc, reg)]
    if kind == "xchg":
        return [("xchg", loc, v, reg)]
    if kind == "cmpxchg":
        return [("cmpxchg", loc, draw(st.integers(0, 1)), v, reg)]
    if kind == "fetch_add":
        return [("fetch_add", loc, 1, reg)]
    if kind == "add_unless":
        return [("add_unless", loc, 1, 0, reg)]
    if kind == "fence":
        return [("fence", draw(st.sampled_from(["mb", "rmb", "wmb"])))]
    if kind == "lock":
        return [("lock", "s"), ("st", loc, v), ("unlock", "s")]
    if kind == "trylock":
        return [("trylock", "s", reg, [("ld", loc, f"q{reg}")])]
    raise ValueError(f"no instruction kind {kind!r}")


@st.composite
def programs(
    draw: st.DrawFn, kinds: Sequence[str] = ATOMICS, length: tuple[int, int] = (1, 3)
) -> list[list[Instr]]:
    """Two or three threads of ``length`` random :func:`instructions` each."""
    threads = []
    for _ in range(draw(st.integers(2, 3))):
        code: list[Instr] = []
        for j in range(draw(st.integers(*length))):
            code += draw(instructions(f"r{j}", kinds))
        threads.append(code)
    return threads
