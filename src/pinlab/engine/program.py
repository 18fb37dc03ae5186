"""Programs: initial memory, threads, and the condition on final states.

A :class:`Program` is everything the engine needs: the initial value of each
location, one factory per thread (a callable returning a fresh generator; the
generator's return value is the thread's final register file), and a
:class:`Condition` in the style of a litmus test's ``exists`` / ``~exists`` /
``forall`` clause, with an optional ``filter``.

A thread must be a deterministic function of the values the engine sends it:
the explorer replays threads from their start, so a thread may not keep state
between runs or share mutable Python state with another thread except through
the operations of :mod:`pinlab.engine.ops`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CondKind",
    "Condition",
    "FinalState",
    "Loc",
    "MemVar",
    "Observable",
    "Oops",
    "Program",
    "RegVar",
    "Thread",
    "ThreadFactory",
]


class Loc(str):
    """A shared memory location, identified by its name (``x``, ``folio0._refcount``).

    A ``str`` subclass, so that hashing and comparing locations -- done for
    every event the explorer adds -- costs what it costs for a string.
    """

    __slots__ = ()

    @property
    def name(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Loc({str.__repr__(self)})"

    def base_offset(self) -> tuple[str, int]:
        """The base location and the offset of a pointer ``y+1`` (herd7's naming)."""
        base, _, off = self.name.partition("+")
        return base, int(off) if off.lstrip("-").isdigit() else 0

    def offset(self, k: int) -> Loc:
        """This pointer moved by ``k`` elements: ``y`` + 1 is ``y+1``, as herd7 prints it."""
        base, off = self.base_offset()
        return Loc(base) if off + k == 0 else Loc(f"{base}+{off + k}")


class Oops(Exception):
    """A thread hit a condition its code asserts impossible (a VM_BUG_ON, a BUG).

    Under the explorer an ``Oops`` ends its thread and is recorded in the
    execution's final state (:attr:`FinalState.oopses`), so a scenario can ask
    whether one is reachable; under the sequential executor it propagates.
    """


Thread = Generator[Any, Any, Mapping[str, Any] | None]
ThreadFactory = Callable[[], Thread]


@dataclass(frozen=True, slots=True)
class MemVar:
    """The final value of a memory location (``x`` or ``[x]`` in a condition)."""

    loc: Loc

    def __str__(self) -> str:
        return f"[{self.loc.name}]"


@dataclass(frozen=True, slots=True)
class RegVar:
    """The final value of thread ``tid``'s register ``name`` (``1:r0``)."""

    tid: int
    name: str

    def __str__(self) -> str:
        return f"{self.tid}:{self.name}"


Observable = MemVar | RegVar


@dataclass(frozen=True, slots=True)
class FinalState:
    """Final memory (co-last write per location) and each thread's returned registers."""

    memory: Mapping[Loc, Any]
    regs: Sequence[Mapping[str, Any]]
    oopses: tuple[tuple[int, str], ...] = ()  # (thread, message) of each Oops raised

    def get(self, var: Observable) -> Any:
        if isinstance(var, MemVar):
            return self.memory.get(var.loc, 0)
        regs = self.regs[var.tid] if var.tid < len(self.regs) else {}
        return regs.get(var.name, 0)


class CondKind(enum.Enum):
    EXISTS = "exists"
    NOT_EXISTS = "~exists"
    FORALL = "forall"


@dataclass(frozen=True, slots=True)
class Condition:
    """A final-state condition.

    ``predicate`` is the proposition inside ``exists``/``~exists``/``forall``;
    ``filter`` drops executions before they are counted; ``observed`` lists the
    variables whose values make up a printed state (herd7's ``States`` lines).
    """

    kind: CondKind
    predicate: Callable[[FinalState], bool]
    observed: tuple[Observable, ...] = ()
    filter: Callable[[FinalState], bool] | None = None
    text: str = ""

    def satisfied_by(self, state: FinalState) -> bool:
        """Whether the proposition holds in ``state`` (herd7's Positive count for exists)."""
        return bool(self.predicate(state))


def _always(_: FinalState) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Program:
    name: str
    threads: tuple[ThreadFactory, ...]
    init: Mapping[Loc, Any] = field(default_factory=dict)
    condition: Condition = field(
        default_factory=lambda: Condition(CondKind.EXISTS, _always)  # every execution
    )
    thread_names: tuple[str, ...] = ()
    max_events_per_thread: int = 10_000
    # Optional hint per thread: the locations it may ever write, lock words
    # (taken or released) included (None: unknown).  The explorer lets a read
    # or a lock wait for a future write only from a thread that may write its
    # location; a hint that leaves out a location the thread writes would lose
    # executions, so the explorer stops with an error when that happens.
    may_write: tuple[frozenset[Loc] | None, ...] = ()
    # Whether a thread's control dependencies, once taken, hold for the rest of
    # it (kernel paths written in Python: a branch on a loaded value is never
    # "joined").  Lets the explorer give up hopeless load-buffering speculation.
    ctrl_persists: bool = False

    def thread_name(self, tid: int) -> str:
        if tid < len(self.thread_names):
            return self.thread_names[tid]
        return f"P{tid}"

    def initial_value(self, loc: Loc) -> Any:
        return self.init.get(loc, 0)
