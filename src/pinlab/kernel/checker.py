"""Checking the invariants after every step of a sequential run.

The :class:`InvariantChecker` is the sequential executor's ``after_step``
hook.  After every operation that can change state (stores, RMWs, lock
operations) it evaluates every invariant whose notion exists in the era,
with two exceptions that cannot hide a violation: a store to a page's
contents (no invariant reads them), and a step taken while the thread holds
a page-table lock (the kernel is between two states there; the check runs
when the lock is released).  I4, a transition invariant, is still judged on
the very step that clears PageAnonExclusive.
The first violation of an invariant the era *promises* stops the run with
:class:`InvariantViolation`, naming the invariant, the step and the kernel
functions on the stack; violations of invariants an old era does not promise
are recorded (the first of each) and reported: that is how the model names
what an old design breaks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pinlab.engine.ops import (
    Assume,
    Choose,
    Cutoff,
    Fence,
    IsLocked,
    Load,
    Lock,
    Op,
    SrcuSync,
    Store,
    TryLock,
    Unlock,
)
from pinlab.engine.program import Loc
from pinlab.engine.sequential import SequentialExecutor
from pinlab.kernel.eras import Era
from pinlab.kernel.invariants import BY_ID, INVARIANTS, Invariant, pae_cleared_violation
from pinlab.kernel.mm_types import Machine
from pinlab.kernel.view import GupRef, View, flags_loc_pfn, memory_reader

_QUIET_OPS = (Load, Fence, IsLocked, Assume, Choose, Cutoff, SrcuSync)


@dataclass(frozen=True)
class Violation:
    """An invariant found false: which, when (step), where (kernel functions), why."""

    invariant: Invariant
    step: int
    where: str
    syscall: str
    message: str
    promised: bool

    def __str__(self) -> str:
        place = f" in {self.where}" if self.where else ""
        return (
            f"{self.invariant.label} broken at step {self.step}{place} "
            f"[{self.syscall}]: {self.message}"
        )


class InvariantViolation(AssertionError):
    """A promised invariant does not hold: the run stops here."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(str(violation))
        self.violation = violation


class InvariantChecker:
    """After-step hook: evaluate the era's invariants on the current state."""

    def __init__(
        self,
        era: Era,
        machine: Machine,
        refs: list[GupRef],
        births: dict[str, int],
        *,
        strict: bool = True,
    ) -> None:
        self.era = era
        self.machine = machine
        self.refs = refs
        self.births = births
        self.strict = strict
        self.active = [inv for inv in INVARIANTS if era.at_least(inv.exists)]
        self.observed: dict[str, Violation] = {}
        self.where: Callable[[], str] = lambda: ""
        self.syscall = ""
        self.step = 0
        self._flags: dict[Loc, int] = {}
        self._read: Callable[[Loc], Any] = lambda loc: 0
        self._ptls = 0  # page-table locks the running thread holds

    def attach(self, executor: SequentialExecutor) -> None:
        self._read = memory_reader(executor.memory)

    def after_step(self, op: Op, executor: SequentialExecutor) -> None:
        if isinstance(op, _QUIET_OPS):
            return
        loc = getattr(op, "loc", None)
        if isinstance(op, Store) and isinstance(loc, Loc) and loc.endswith(".data"):
            return  # page contents: no invariant reads them
        if isinstance(loc, Loc) and _is_ptl(loc):
            if isinstance(op, Lock | TryLock):
                self._ptls += 1 if int(self._read(loc)) else 0
            elif isinstance(op, Unlock):
                self._ptls = max(0, self._ptls - 1)
        self.step = executor.steps
        view = self.view()
        if isinstance(loc, Loc):
            pfn = flags_loc_pfn(loc)
            if pfn is not None:
                old, new = self._flags.get(loc, 0), int(self._read(loc))
                self._flags[loc] = new
                i4 = BY_ID["pae-cleared-only-if-unpinned"]
                if i4 in self.active and i4.id not in self.observed:
                    msg = pae_cleared_violation(view, pfn, old, new)
                    if msg:
                        self._report(i4, msg)
        if self._ptls:
            return
        self.check(view)

    def view(self) -> View:
        return View(self.era, self.machine, self._read, self.refs, self.births)

    def check(self, view: View | None = None) -> None:
        """Evaluate every active invariant not yet found broken."""
        view = view if view is not None else self.view()
        for inv in self.active:
            if inv.id in self.observed:
                continue
            msg = inv.check(view)
            if msg:
                self._report(inv, msg)

    def _report(self, inv: Invariant, msg: str) -> None:
        promised = self.era.at_least(inv.since)
        vio = Violation(inv, self.step, self.where(), self.syscall, msg, promised)
        self.observed[inv.id] = vio
        if promised and self.strict:
            raise InvariantViolation(vio)


def _is_ptl(loc: Loc) -> bool:
    return ".ptl[" in loc or loc.endswith(".page_table_lock")


def kernel_stack(gen: Any) -> str:
    """The kernel functions a suspended thread is inside, outermost first."""
    names: list[str] = []
    while gen is not None:
        code = getattr(gen, "gi_code", None)
        if code is not None and "/pinlab/kernel/" in code.co_filename.replace("\\", "/"):
            names.append(code.co_name)
        gen = getattr(gen, "gi_yieldfrom", None)
    return " > ".join(names)
