"""Checking the invariants after every step of a sequential run.

The :class:`InvariantChecker` is the sequential executor's ``after_step``
hook.  After every operation that can change state (stores, RMWs, lock
operations) it evaluates every invariant whose notion exists in the era,
with two exceptions that cannot hide a violation: a store to a page's
contents (no invariant reads them), and a step taken while the thread holds
a page-table lock (the kernel is between two states there; the check runs
when the lock is released).  I4 (docs/labels.md), a transition invariant, is still judged on
the very step that clears PageAnonExclusive.
The first violation of an invariant the era *promises* stops the run with
:class:`InvariantViolation`, naming the invariant, the step and the kernel
functions on the stack; violations of invariants an old era does not promise
are recorded (the first of each) and reported: that is how the model names
what an old design breaks.

Judging every invariant on every step is most of a selftest's run time, so
the checker judges again only the invariants a step may have changed: those
that read a location the step wrote, or the page tables when they changed,
or all of them when the machine's structure changed (:mod:`.checkcache`).
The verdicts, and the step each violation is found at, are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pinlab.engine import (
    Assume,
    Choose,
    Cutoff,
    Fence,
    IsLocked,
    Load,
    Loc,
    Lock,
    Memory,
    Op,
    SequentialExecutor,
    SrcuSync,
    Store,
    TryLock,
    Unlock,
)
from pinlab.kernel.checkcache import TABLES, PageTables, Readers, TrackedMemory, structure
from pinlab.kernel.eras import Era
from pinlab.kernel.invariants import BY_ID, INVARIANTS, Invariant, pae_cleared_violation
from pinlab.kernel.mm_types import Machine
from pinlab.kernel.view import GupRef, PteView, View, flags_loc_pfn, memory_reader

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
        # Incremental checking (see the module doc): who read what, the page tables.
        self._readers = Readers()
        self._readers.stale.update(inv.id for inv in self.active)
        self._tables = PageTables(self._read, self._readers)
        self._structure: tuple[Any, ...] | None = None

    def memory(self, init: dict[Loc, Any]) -> Memory:
        """The memory to run on: it tells the checker which locations each write changes."""
        return TrackedMemory(init, self._readers.written)

    def attach(self, executor: SequentialExecutor) -> None:
        memory = executor.memory
        # Memory reads 0 where nothing was written; its own lookup is the fast one.
        self._read = memory.__getitem__ if isinstance(memory, Memory) else memory_reader(memory)
        self._tables = PageTables(self._read, self._readers)
        self._structure = None
        self._readers.stale.update(inv.id for inv in self.active)

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
        if isinstance(loc, Loc):
            pfn = flags_loc_pfn(loc)
            if pfn is not None:
                old, new = self._flags.get(loc, 0), int(self._read(loc))
                self._flags[loc] = new
                i4 = BY_ID["pae-cleared-only-if-unpinned"]
                if i4 in self.active and i4.id not in self.observed:
                    msg = pae_cleared_violation(self.view(), pfn, old, new)
                    if msg:
                        self._report(i4, msg)
        if self._ptls:
            return
        self.check()

    def view(self) -> View:
        return View(self.era, self.machine, self._read, self.refs, self.births)

    def check(self, view: View | None = None) -> None:
        """Evaluate every active invariant not yet found broken.

        Without ``view``: on the attached memory, judging again only the
        invariants whose inputs changed since they last held.
        """
        if view is not None:
            for inv in self.active:
                if inv.id not in self.observed and (msg := inv.check(view)):
                    self._report(inv, msg)
            return
        readers = self._readers
        now = structure(self.machine, self.refs, self.births)
        changed = now != self._structure
        if changed:
            self._structure = now
            readers.stale.update(inv.id for inv in self.active)
        if self._tables.refresh(self.machine, changed):
            readers.written(TABLES)
        for inv in self.active:
            if inv.id in self.observed or inv.id not in readers.stale:
                continue
            reads: set[Loc] = set()
            msg = inv.check(self._tracing_view(reads))
            readers.record(inv.id, reads)
            if msg:
                self._report(inv, msg)

    def _tracing_view(self, reads: set[Loc]) -> View:
        """A view that notes in ``reads`` every location (and TABLES) it reads."""
        get, tables = self._read, self._tables

        def read(loc: Loc) -> Any:
            reads.add(loc)
            return get(loc)

        def page_tables() -> tuple[list[PteView], dict[int, set[str]]]:
            reads.add(TABLES)
            return tables.ptes, tables.mappers

        return View(self.era, self.machine, read, self.refs, self.births, page_tables)

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
