"""A brute-force SC reference for any Program: every interleaving, no graphs.

Threads are replayed from their answer history (a thread's state is a
function of what it was answered), memory is a dictionary, and a state is
(memory, every thread's history): states reached by different interleavings
are explored once.  Only for tests: it knows nothing of memory models and
shares no code with the explorer but the operations' single-CPU semantics
(SequentialExecutor.step).
"""

from __future__ import annotations

from typing import Any

from pinlab.engine.ops import Choose, Lock, Op
from pinlab.engine.program import Loc, Program
from pinlab.engine.sequential import (
    AssumptionError,
    BoundReachedError,
    Memory,
    SequentialExecutor,
)
from pinlab.engine.values import unwrap

FinalKey = tuple[tuple[tuple[str, Any], ...], tuple[tuple[tuple[str, str], ...], ...]]


def _plain(v: Any) -> str:
    v = unwrap(v)
    return repr(v) if isinstance(v, int | Loc) or v is None else f"<{type(v).__name__} {v}>"


def brute_force_program(program: Program, max_states: int = 500_000) -> set[FinalKey]:
    """Final (memory, registers) of every SC interleaving of ``program``'s threads."""
    factories = program.threads
    cache: dict[tuple[int, tuple[Any, ...]], tuple[str, Any]] = {}

    def pending(tid: int, hist: tuple[Any, ...]) -> tuple[str, Any]:
        key = (tid, hist)
        if key not in cache:
            gen = factories[tid]()
            try:
                op = gen.send(None)
                for a in hist:
                    op = gen.send(a)
                cache[key] = ("op", op)
            except StopIteration as stop:
                cache[key] = ("done", stop.value)
        return cache[key]

    results: set[FinalKey] = set()
    seen: set[Any] = set()
    stack: list[tuple[dict[Loc, Any], tuple[tuple[Any, ...], ...]]] = [
        (dict(program.init), tuple(() for _ in factories))
    ]
    while stack:
        mem, hists = stack.pop()
        key = (tuple(sorted(mem.items())), hists)
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > max_states:
            raise RuntimeError("brute force: too many states")
        done = True
        for tid, hist in enumerate(hists):
            kind, what = pending(tid, hist)
            if kind == "done":
                continue
            done = False
            op: Op = what
            for answer, new_mem in _steps(op, mem):
                new_hists = (*hists[:tid], (*hist, answer), *hists[tid + 1 :])
                stack.append((new_mem, new_hists))
        if done:
            regs = []
            for tid, hist in enumerate(hists):
                ret = pending(tid, hist)[1] or {}
                regs.append(tuple(sorted((k, _plain(v)) for k, v in ret.items())))
            results.add((tuple(sorted((str(k), _plain(v)) for k, v in mem.items())), tuple(regs)))
    return results


def _steps(op: Op, mem: dict[Loc, Any]) -> list[tuple[Any, dict[Loc, Any]]]:
    """Each (answer, new memory) the operation can have in ``mem``; [] when it cannot run."""
    if isinstance(op, Lock) and mem.get(unwrap(op.loc), 0):
        return []  # spins until the holder unlocks
    if isinstance(op, Choose):
        return [(i, dict(mem)) for i in range(op.n)]
    memory = Memory(mem)
    ex = SequentialExecutor(memory)
    try:
        answer = ex.step(op)
    except (AssumptionError, BoundReachedError):
        return []
    return [(answer, memory.snapshot())]


def explorer_finals(program: Program, model: str = "sc", **kw: Any) -> set[FinalKey]:
    """The explorer's final states in the same form."""
    from pinlab.engine.explore import explore

    out: set[FinalKey] = set()

    def record(ex: Any) -> None:
        f = ex.final
        regs = tuple(tuple(sorted((k, _plain(v)) for k, v in r.items())) for r in f.regs)
        out.add((tuple(sorted((str(k), _plain(v)) for k, v in f.memory.items())), regs))

    explore(program, model, on_execution=record, **kw)
    return out
