"""Lower a parsed litmus test to an engine :class:`~pinlab.engine.program.Program`.

- Memory: every item of the initial state that names a location sets its
  initial value (``x=1``, ``int *y = &x`` and ``y=x`` both store the address
  of ``x``, i.e. ``Loc('x')``; ``atomic_t v = ATOMIC_INIT(1)`` stores 1); all
  other locations start at 0.
- Registers: as in herd7, a process parameter ``int *x`` is a register that
  holds the address of the location ``x``; ``0:r1=x`` initialises a register;
  every other register starts at 0.  A thread returns its whole register file.
- Threads: one compiled body per process (:mod:`pinlab.litmus.interp`),
  which checks every primitive against the engine's table.
- Condition: :mod:`pinlab.litmus.cond`.

Processes must be numbered ``P0``, ``P1``, ... in order, and registers named
in the initial state or the condition must belong to one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any

from pinlab.engine import Condition, Loc, Op, Program, ThreadFactory
from pinlab.litmus import ast
from pinlab.litmus.bounds import check_chains
from pinlab.litmus.cond import KIND, condition_text, observed, predicate, registers
from pinlab.litmus.early import early_assumes, kept
from pinlab.litmus.errors import LitmusError
from pinlab.litmus.herd_hash import check_bodies, herd_hash
from pinlab.litmus.interp import Env, compile_body

__all__ = ["SPEEDCHECK", "Lowered", "lower"]

SPEEDCHECK = ("false", "true", "fast")
"""herd7's -speedcheck modes: list every final state; count only the executions
that settle the condition; stop at the first of them."""


@dataclass(frozen=True, slots=True)
class Lowered:
    """A test ready to run: the engine Program and what herd7 prints besides verdicts."""

    test: ast.Test
    program: Program
    speedcheck: str = "false"  # herd7's -speedcheck mode it was lowered for

    @property
    def name(self) -> str:
        return self.test.name

    @property
    def hash(self) -> str:
        """herd7's ``Hash=`` of the test."""
        return herd_hash(self.test)


def _error(test: ast.Test, pos: ast.Pos, message: str) -> LitmusError:
    return LitmusError(test.path, pos.line, pos.col, message)


def _init_value(item: ast.InitItem) -> Any:
    if item.value is None:
        return 0
    if isinstance(item.value, ast.SymRef):
        return Loc(item.value.name)
    return item.value.value


def _names(node: Any) -> Iterable[str]:
    """Every register name a process body mentions."""
    if isinstance(node, ast.Name):
        yield node.ident
    elif isinstance(node, ast.Decl):
        yield node.name
        if node.init is not None:
            yield from _names(node.init)
    else:
        for child in ast.children(node):
            yield from _names(child)


def _defined(node: Any) -> Iterable[str]:
    """Every name a process body declares or assigns."""
    if isinstance(node, ast.Decl):
        yield node.name
    elif isinstance(node, ast.Assign) and isinstance(node.target, ast.Name):
        yield node.target.ident
    for child in ast.children(node):
        yield from _defined(child)


def _known(proc: ast.Process, regs: dict[str, Any]) -> frozenset[str]:
    """The names ``proc`` may use as pointers (see :func:`~pinlab.litmus.interp.compile_body`)."""
    return frozenset((*(p.name for p in proc.params), *regs, *_defined(proc.body)))


def _initial_env(proc: ast.Process, regs: dict[str, Any]) -> Env:
    env: Env = dict.fromkeys(_names(proc.body), 0)
    env.update({p.name: Loc(p.name) for p in proc.params})
    env.update(regs)
    return env


def _factory(thread: Callable[[Env], Generator[Op, Any, Env]], env: Env) -> ThreadFactory:
    def start() -> Generator[Op, Any, Env]:
        return thread(env)

    return start


def lower(test: ast.Test, speedcheck: str = "false") -> Lowered:
    """Build the engine Program of ``test`` (raising :class:`LitmusError` on a bad test).

    ``speedcheck`` is one of :data:`SPEEDCHECK`; under ``true`` and ``fast``
    the Program counts only the executions that settle the condition
    (herd7's ``-speedcheck``): they join the filter, and their register
    atoms are checked as early as the filter's are.
    """
    if speedcheck not in SPEEDCHECK:
        raise ValueError(f"speedcheck must be one of {', '.join(SPEEDCHECK)}, not {speedcheck!r}")
    settling = speedcheck != "false"
    for i, proc in enumerate(test.processes):
        if proc.index != i:
            raise _error(test, proc.pos, f"expected process P{i} here, found P{proc.index}")
    nprocs = len(test.processes)

    def check_reg(reg: ast.CondReg) -> None:
        if reg.tid >= nprocs:
            raise _error(test, reg.pos, f"register {reg.tid}:{reg.name} of a missing process")

    memory: dict[Loc, Any] = {}
    regs: list[dict[str, Any]] = [{} for _ in range(nprocs)]
    for item in test.init:
        if isinstance(item.target, ast.CondReg):
            check_reg(item.target)
            regs[item.target.tid][item.target.name] = _init_value(item)
        else:
            memory[Loc(item.target.name)] = _init_value(item)
    for prop in (test.prop, test.filter) if test.filter is not None else (test.prop,):
        for reg in registers(prop):
            check_reg(reg)
    for loc in test.locations:
        if isinstance(loc, ast.CondReg):
            check_reg(loc)

    check_chains(test)
    check_bodies(test)
    assumes = early_assumes(test, settling)
    counted = kept(test, settling)
    threads = tuple(
        _factory(
            compile_body(test.path, proc, assumes[proc.index], _known(proc, regs[proc.index])),
            _initial_env(proc, regs[proc.index]),
        )
        for proc in test.processes
    )
    condition = Condition(
        kind=KIND[test.kind],
        predicate=predicate(test.prop),
        observed=observed(test.locations, test.prop),
        filter=predicate(counted) if counted is not None else None,
        text=condition_text(test.kind, test.prop),
    )
    program = Program(
        name=test.name,
        threads=threads,
        init=memory,
        condition=condition,
        thread_names=tuple(f"P{p.index}" for p in test.processes),
    )
    return Lowered(test, program, speedcheck)
