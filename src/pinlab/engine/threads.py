"""Running generator threads for the explorer: answers, decisions, replay.

The explorer is stateless in loom's sense: a thread's generator cannot be
copied, so when the search backtracks, a thread is rebuilt by running its
factory again and feeding it the answers recorded for it so far.  A thread is
a deterministic function of

- ``answers``: what each of its operations answered (a read's answer is its
  *current* value, concrete or symbolic, computed when it is fed), and
- ``decisions``: the outcome of each truth test of a tracked value, in order
  (see :class:`~pinlab.engine.values.DepTracker`).

:class:`ThreadRun` keeps both, the events the thread produced, the operation
it is about to perform, and its status.  Everything the search may undo is
changed through :class:`Trail`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pinlab.engine.ops import Op
from pinlab.engine.program import Oops, ThreadFactory
from pinlab.engine.values import (
    BranchMismatch,
    DepTracker,
    ForkNeeded,
    NeedsConcrete,
    Sym,
    Val,
)

__all__ = ["Answer", "NondeterministicThread", "Status", "ThreadRun", "Trail", "call_stack"]

_ENGINE_DIR = __file__.rsplit("/", 1)[0]


def call_stack(gen: Any) -> tuple[tuple[str, int], ...] | None:
    """The call stack of generator ``gen`` at its current yield, outermost first,
    the engine's own frames left out: (function, line) of each kernel function."""
    stack: list[tuple[str, int]] = []
    while gen is not None and hasattr(gen, "gi_frame"):
        frame = gen.gi_frame
        if frame is not None and not frame.f_code.co_filename.startswith(_ENGINE_DIR):
            stack.append((frame.f_code.co_name, frame.f_lineno))
        gen = gen.gi_yieldfrom
    return tuple(stack) if stack else None


class NondeterministicThread(RuntimeError):
    """A replayed thread yielded a different operation than it did before."""


class Status(enum.Enum):
    RUN = "run"  # ``pending`` holds the next operation
    FORK = "fork"  # a branch on a symbolic value needs a decision
    BLOCKED = "blocked"  # needs the concrete value of ``waiting_on``
    DONE = "done"
    DEAD = "dead"  # a replayed branch contradicts a decision: infeasible


@dataclass(frozen=True, slots=True)
class Answer:
    """What an operation answered: a constant, or a function of current read values."""

    const: Any = None
    compute: Callable[[], Any] | None = None
    deps: int = 0  # thread-local operation indices the answer depends on

    def value(self) -> Any:
        return self.compute() if self.compute is not None else self.const


class Trail:
    """Undo records, unwound to a mark when the search backtracks."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[Callable[[], object]] = []

    def mark(self) -> int:
        return len(self.entries)

    def push(self, undo: Callable[[], object]) -> None:
        self.entries.append(undo)

    def undo_to(self, mark: int) -> None:
        entries = self.entries
        while len(entries) > mark:
            entries.pop()()


def _signature(op: Op) -> tuple[Any, ...]:
    loc = getattr(op, "loc", None)
    if isinstance(loc, Val):
        loc = loc.value
    return (type(op), loc if not isinstance(loc, Sym) else None, getattr(op, "tag", None))


def _same_signature(recorded: tuple[Any, ...], now: tuple[Any, ...]) -> bool:
    """Whether a replayed operation is the recorded one.

    A location recorded as None was symbolic when the operation was answered
    (an address computed from a read not resolved then); on a replay the read
    has its value, so any location matches it.
    """
    if recorded[1] is None:
        return recorded[0] is now[0] and recorded[2] == now[2]
    return recorded == now


class ThreadRun:
    """The explorer's view of one thread."""

    def __init__(self, tid: int, factory: ThreadFactory, trail: Trail) -> None:
        self.tid = tid
        self.factory = factory
        self.trail = trail
        self.answers: list[Answer] = []
        self.signatures: list[tuple[Any, ...]] = []
        self.decisions: list[bool] = []
        self.constraints: dict[int, tuple[Sym, bool]] = {}  # truth-test index -> (expr, outcome)
        self.op_eids: list[int] = []  # per operation: eid of its read event (or first event)
        self.eids: list[int] = []
        self.status = Status.RUN
        self.pending: Op | None = None
        self.waiting_on: Sym | None = None
        self.fork_on: Sym | None = None
        self.retval: Any = None
        self.oops: str | None = None
        # the live generator and how far it has been fed
        self._gen: Any = None
        self._tracker: DepTracker | None = None
        self._fed = -1  # number of answers fed; -1: no live generator
        self._pending_ctrl = 0  # the control dependencies in force at ``pending``

    # -- trail-managed setters -------------------------------------------------
    def set_status(self, status: Status, pending: Op | None = None) -> None:
        old = (self.status, self.pending, self.waiting_on, self.fork_on, self.retval, self.oops,
               self._pending_ctrl)  # fmt: skip

        def undo() -> None:
            (self.status, self.pending, self.waiting_on, self.fork_on, self.retval, self.oops,
             self._pending_ctrl) = old  # fmt: skip
            self._fed = -1

        self.trail.push(undo)
        self.status = status
        self.pending = pending
        # Taken now: after an undo the live tracker may belong to a later run.
        tracker = self._tracker
        # (also at a fork or the end: what the thread's branches depended on so far)
        self._pending_ctrl = tracker.ctrl if tracker is not None else 0

    def _append(self, lst: list[Any], item: Any) -> None:
        lst.append(item)

        def undo() -> None:
            lst.pop()
            self._fed = -1

        self.trail.push(undo)

    def add_decision(self, outcome: bool) -> None:
        self._append(self.decisions, outcome)

    def add_constraint(self, index: int, sym: Sym, outcome: bool) -> None:
        constraints = self.constraints
        constraints[index] = (sym, outcome)

        def undo() -> None:
            del constraints[index]

        self.trail.push(undo)

    def add_eid(self, eid: int) -> None:
        self._append(self.eids, eid)

    @property
    def ctrl(self) -> int:
        """Thread-local operation indices that earlier branches depended on."""
        return self._pending_ctrl

    # -- running -------------------------------------------------------------
    def start(self) -> None:
        """Run up to the first operation."""
        self._run(None)

    def resume(self, answer: Answer, op_eid: int) -> None:
        """Record ``answer`` for the pending operation and run to the next one."""
        assert self.pending is not None
        self._append(self.signatures, _signature(self.pending))
        self._append(self.op_eids, op_eid)
        self._append(self.answers, answer)
        self._run(answer)

    def rerun(self) -> None:
        """Rebuild the generator from its recorded answers and decisions, then run on."""
        self._fed = -1
        self._run(None)

    def _make(self, i: int, ans: Answer, tracker: DepTracker) -> Any:
        v = ans.value()
        if ans.deps or isinstance(v, Sym):
            return Val(v, ans.deps, tracker)
        return v

    def _run(self, answer: Answer | None) -> None:
        tracker = self._tracker
        try:
            if self._fed < 0 or answer is None or self._fed != len(self.answers) - 1:
                op = self._replay()
            else:
                assert tracker is not None
                op = self._gen.send(self._make(self._fed, answer, tracker))
                self._fed += 1
        except StopIteration as stop:
            self._absorb_decisions()
            self.set_status(Status.DONE)
            self.retval = stop.value
            return
        except ForkNeeded as fork:
            self._fed = -1
            self._absorb_decisions()
            self.set_status(Status.FORK)
            self.fork_on = fork.sym
            return
        except NeedsConcrete as need:
            self._fed = -1
            self._absorb_decisions()
            self.set_status(Status.BLOCKED)
            self.waiting_on = need.sym
            return
        except BranchMismatch:
            self._fed = -1
            self.set_status(Status.DEAD)
            return
        except Oops as oops:
            self._fed = -1
            self._absorb_decisions()
            self.set_status(Status.DONE)
            self.oops = f"{type(oops).__name__}: {oops}"
            return
        self._absorb_decisions()
        self.set_status(Status.RUN, op)

    def _replay(self) -> Op:
        tracker = DepTracker(self.decisions)
        self._tracker = tracker
        gen = self.factory()
        self._gen = gen
        self._fed = 0
        op: Op = gen.send(None)
        for i, ans in enumerate(self.answers):
            if not _same_signature(self.signatures[i], _signature(op)):
                raise NondeterministicThread(
                    f"thread {self.tid}: operation {i} was {self.signatures[i]}, "
                    f"is now {_signature(op)}"
                )
            op = gen.send(self._make(i, ans, tracker))
            self._fed = i + 1
        return op

    def _absorb_decisions(self) -> None:
        tracker = self._tracker
        if tracker is None:
            return
        for outcome in tracker.decisions[len(self.decisions) :]:
            self.add_decision(outcome)
        for index, sym, outcome in tracker.constraints:
            if index not in self.constraints:
                self.add_constraint(index, sym, outcome)
        tracker.constraints.clear()
