"""One exploration split between worker processes: ``--jobs N``.

The waiting explorer walks a tree of choice lists depth first, and can explore
one subtree of it, handing the options it has not yet taken at its shallowest
open choice to someone else when asked (:class:`pinlab.engine.Subtree`).  So
:func:`decide` with ``jobs`` above one starts that many workers (forked, with
the signal handling of :mod:`pinlab.interrupt`), gives the first the whole
tree, and whenever a worker is idle with nothing queued asks the busy ones to
share: work stealing, so that one deep subtree does not leave the others idle.

The parts partition the executions, so their results add up to the one-process
result exactly: the same states and counts, the same flags, and as the first
witness the smallest choice list, which is the first the one-process walk
meets.  What a caller wants of the executions themselves (the first forbidden
one, the shortest counterexample) is a :class:`Fold`: each worker folds the
executions it sees, and the folds merge.  A part that stops at a witness, a
time limit or an execution limit stops every worker; the merged result then
says so in its outcome, and claims only what was seen.

Only the waiting explorer splits; the revisit explorer runs in one process
(under ``auto`` it runs first, and the waiting explorer, split, only where it
ends incomplete).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pinlab import interrupt
from pinlab.engine import (
    Execution,
    ExecutionGraph,
    ExplorationResult,
    Limits,
    Model,
    Outcome,
    Program,
    RevisitExplorer,
    Share,
    Stats,
    Subtree,
    explore,
    get_model,
)
from pinlab.engine import (
    decide as decide_here,
)

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = [
    "Fold",
    "PartError",
    "Task",
    "canonical",
    "cores",
    "decide",
    "decide_many",
    "first_of",
    "merge",
]

A = TypeVar("A")
_ASK_AGAIN = 0.05  # seconds before asking again a worker that had nothing to share


@dataclass(frozen=True, slots=True)
class Fold(Generic[A]):
    """What to keep of the executions: ``start()`` for a part, ``add`` one
    execution, ``merge`` two parts' (in any order: merge must not depend on it)."""

    start: Callable[[], A]
    add: Callable[[A, Execution], A]
    merge: Callable[[A, A], A]


def canonical(graph: ExecutionGraph) -> tuple[Any, ...]:
    """``graph`` up to the numbering of its events, as a key to order executions
    by: where two are equally good, the one with the smaller key is kept, so the
    choice does not depend on the order in which workers (or procedures) met them.
    """
    events = graph.events

    def name(e: int) -> str:
        ev = events[e]
        return f"{ev.tid}:{ev.idx}" if ev.tid >= 0 else f"init:{ev.loc}"

    threads = tuple(
        tuple(
            (
                int(events[e].kind),
                str(events[e].loc),
                repr(events[e].value),
                name(graph.rf[e]) if graph.rf[e] >= 0 else "",
            )
            for e in eids
        )
        for eids in graph.threads
    )
    co = tuple(sorted((str(loc), tuple(name(w) for w in ws)) for loc, ws in graph.co.items()))
    return (threads, co)


def _first_add(
    best: tuple[Any, Execution] | None, ex: Execution, hit: Callable[[Execution], bool]
) -> tuple[Any, Execution] | None:
    if not hit(ex):
        return best
    key = canonical(ex.graph)
    return (key, ex) if best is None or key < best[0] else best


def first_of(hit: Callable[[Execution], bool]) -> Fold[tuple[Any, Execution] | None]:
    """The fold that keeps, of the executions ``hit`` accepts, the one with the
    smallest :func:`canonical` key (whichever process met it first)."""

    def merge2(
        a: tuple[Any, Execution] | None, b: tuple[Any, Execution] | None
    ) -> tuple[Any, Execution] | None:
        if a is None or (b is not None and b[0] < a[0]):
            return b
        return a

    return Fold(lambda: None, lambda best, ex: _first_add(best, ex, hit), merge2)


def cores() -> int:
    """The cores this process may run on (the default of ``--jobs``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # (not Linux)
        return max(1, os.cpu_count() or 1)


def merge(
    parts: Iterable[ExplorationResult],
    seconds: float,
    tallies: Iterable[dict[Any, tuple[tuple[Any, ...] | None, bool]]] = (),
) -> ExplorationResult:
    """The results of the parts of one exploration, as one result.

    ``tallies`` (revisit parts: each execution counted -> its state and
    whether it satisfies the condition) lets an execution two parts both
    counted be counted once, as one explorer counts it."""
    parts = list(parts)
    assert parts, "no part to merge"
    states: dict[tuple[Any, ...], int] = {}
    stats = Stats()
    for r in parts:
        for key, n in r.states.items():
            states[key] = states.get(key, 0) + n
        for f in dataclasses.fields(Stats):
            if f.name not in ("seconds", "cut_thread"):
                setattr(stats, f.name, getattr(stats, f.name) + getattr(r.stats, f.name))
        stats.cut_thread = max(stats.cut_thread, r.stats.cut_thread)
    stats.seconds = seconds
    positive = sum(r.positive for r in parts)
    negative = sum(r.negative for r in parts)
    counted: dict[Any, int] = {}
    for tally in tallies:
        for key, (state, hit) in tally.items():
            if key not in counted:
                counted[key] = 0
                continue
            counted[key] += 1  # (again: count it once)
            stats.consistent -= 1
            stats.explored -= 1
            if state is not None:
                states[state] -= 1
                if not states[state]:
                    del states[state]
                if hit:
                    positive -= 1
                else:
                    negative -= 1
    order = (Outcome.TIME, Outcome.EXECUTIONS, Outcome.WITNESS, Outcome.FIRST, Outcome.INCOMPLETE)
    stopped = sorted(
        (r.outcome for r in parts if r.outcome not in (Outcome.COMPLETE, Outcome.BOUND)),
        key=order.index,
    )
    outcome: Outcome
    if stopped:
        outcome = stopped[0]
    elif any(r.outcome is Outcome.BOUND for r in parts):
        outcome = Outcome.BOUND
    else:
        outcome = Outcome.COMPLETE
    witnesses = [r.witness for r in parts if r.witness is not None]
    others = [r.counterexample for r in parts if r.counterexample is not None]
    first = parts[0]
    return ExplorationResult(
        program=first.program,
        model=first.model,
        states=states,
        positive=positive,
        negative=negative,
        flags=frozenset().union(*(r.flags for r in parts)),
        outcome=outcome,
        stats=stats,
        witness=min(witnesses, default=None),
        counterexample=min(others, default=None),
        procedure=first.procedure,
    )


@dataclass(frozen=True, slots=True)
class Task:
    """One exploration among those :func:`decide_many` runs together.

    ``build`` makes the program, in each worker that explores a part of it
    (inherited through fork, never pickled); ``engine`` is ``auto``,
    ``revisit`` or ``explore`` as for :func:`pinlab.engine.decide`."""

    build: Callable[[], Program]
    model: str
    engine: str = "auto"
    limits: Limits = dataclasses.field(default_factory=Limits)
    fold: Fold[Any] | None = None
    record_src: bool = False
    # In a worker, once the result and fold are merged: the fold to report
    # instead (a last step that needs the program, such as finding a witness's
    # choice list again), so that it runs in parallel too.
    finish: Callable[[ExplorationResult, Any], Any] | None = None


_FINISH: Any = object()  # the queue's item for a Task.finish step


class PartError(Exception):
    """An exception raised while task ``index`` was explored (``error``)."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(f"task {index}: {error}")
        self.index = index
        self.error = error


class _Cancelled(Exception):
    """The coordinator no longer needs the part being explored."""


class _Worker:
    """A worker's side: the parts it is given, each explored with sharing."""

    def __init__(self, conn: Connection, tasks: list[Task]) -> None:
        self.conn = conn
        self.tasks = tasks
        self.programs: dict[int, Program] = {}
        self.current = -1

    def serve(self) -> None:
        """Receives ``("part", task, procedure, payload, time left)``,
        ``("want",)``, ``("cancel", task)`` or None (the end); sends
        ``("give", task, parts)``, ``("done", task, result, fold, tallies)``,
        ``("cancelled", task)`` or ``("error", task, exception)``."""
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                return
            if msg is None:
                return
            if msg[0] == "want":  # (asked as its part ended: nothing to share)
                self.conn.send(("give", -1, []))
            elif msg[0] in ("part", "finish"):
                work = self._part if msg[0] == "part" else self._finish
                try:
                    self.conn.send(work(*msg[1:]))
                except (BrokenPipeError, ConnectionResetError):
                    return
            # ("cancel", task) for a part already done: nothing to do

    def _program(self, i: int) -> Program:
        """Task ``i``'s program, built once while it is among the last few used
        (a worker that kept every program would only slow its collector)."""
        if i not in self.programs:
            if len(self.programs) >= 4:
                del self.programs[next(iter(self.programs))]
            self.programs[i] = self.tasks[i].build()
        return self.programs[i]

    def _wanted(self) -> bool:
        if not self.conn.poll():
            return False
        msg = self.conn.recv()
        if msg is None or (msg[0] == "cancel" and msg[1] == self.current):
            raise _Cancelled
        return bool(msg[0] == "want")

    def _finish(self, i: int, result: ExplorationResult, acc: Any) -> tuple[Any, ...]:
        task = self.tasks[i]
        assert task.finish is not None
        try:
            self._program(i)
            return ("finished", i, task.finish(result, acc))
        except Exception as err:
            return ("error", i, err)

    def _part(self, i: int, procedure: str, payload: Any, left: float | None) -> tuple[Any, ...]:
        task = self.tasks[i]
        self.current = i
        acc = [task.fold.start()] if task.fold is not None else None

        def keep(ex: Execution) -> None:
            assert acc is not None and task.fold is not None
            acc[0] = task.fold.add(acc[0], ex)

        def give(parts: list[Any]) -> None:
            self.conn.send(("give", i, parts))

        limits = task.limits
        if left is not None:
            limits = dataclasses.replace(limits, time_limit=max(1e-3, left))
        on_execution = keep if acc is not None else None
        try:
            program, model = self._program(i), get_model(task.model)
            tally: Any = None
            if procedure == "revisit":
                explorer = RevisitExplorer(
                    program, model, limits=limits, on_execution=on_execution,
                    record_src=task.record_src, share=Share(payload, self._wanted, give),
                )  # fmt: skip
                result = explorer.run()
                tally = explorer.tallies
            else:
                result = explore(
                    program, model, limits=limits, record_src=task.record_src,
                    on_execution=on_execution, subtree=Subtree(payload, self._wanted, give),
                )  # fmt: skip
            return ("done", i, result, acc[0] if acc is not None else None, tally)
        except _Cancelled:
            return ("cancelled", i)
        except Exception as err:
            return ("error", i, err)
        finally:
            self.current = -1


def _serve(conn: Connection, tasks: list[Task]) -> None:
    _Worker(conn, tasks).serve()


@dataclass
class _Run:
    """The coordinator's account of one task."""

    procedure: str
    queued: int = 0
    running: set[Any] = dataclasses.field(default_factory=set)  # workers on its parts
    parts: list[ExplorationResult] = dataclasses.field(default_factory=list)
    folded: list[Any] = dataclasses.field(default_factory=list)
    tallies: list[Any] = dataclasses.field(default_factory=list)
    deadline: float | None = None
    begun: float = 0.0
    stopped: Outcome | None = None
    merged: tuple[ExplorationResult, Any] | None = None  # (waiting for Task.finish)
    result: tuple[ExplorationResult, Any] | None = None


class _Coordinator:
    """Hands out the parts of every task, asks busy workers to share when one is
    idle, and merges each task's parts as they end (see the module docstring)."""

    def __init__(self, tasks: list[Task], jobs: int, on_progress: Callable[[int], None] | None):
        self.tasks = tasks
        self.jobs = jobs
        self.on_progress = on_progress
        self.workers: list[interrupt.Worker] = []
        self.queue: deque[tuple[int, Any]] = deque()
        self.runs = [_Run("explore" if t.engine == "explore" else "revisit") for t in tasks]
        for i, run in enumerate(self.runs):
            self.queue.append((i, () if run.procedure == "explore" else None))
            run.queued = 1
        self.idle: list[interrupt.Worker] = []
        self.busy: dict[interrupt.Worker, int] = {}
        self.asked: set[interrupt.Worker] = set()
        self.empty: dict[interrupt.Worker, float] = {}

    def results(self) -> Iterator[tuple[ExplorationResult, Any]]:
        """Each task's merged result and fold, in the order of the tasks."""
        from multiprocessing.connection import wait

        gently = False
        try:
            self.idle = [
                interrupt.start_worker(_serve, self.tasks, self.workers) for _ in range(self.jobs)
            ]
            following = 0
            while following < len(self.tasks):
                if self.runs[following].result is not None:
                    out = self.runs[following].result
                    assert out is not None
                    yield out
                    following += 1
                    continue
                self._dispatch()
                conns = [w.conn for w in self.workers] + [w.process.sentinel for w in self.workers]
                ready = set(wait(conns, timeout=_ASK_AGAIN if self.idle else None))
                for worker in list(self.workers):
                    if worker.conn in ready or worker.process.sentinel in ready:
                        self._receive(worker)
            gently = True
        finally:
            interrupt.stop_workers(self.workers, gently)

    def _dispatch(self) -> None:
        while self.queue and self.idle:
            i, payload = self.queue.popleft()
            run = self.runs[i]
            run.queued -= 1
            if payload is _FINISH and run.merged is not None:
                worker = self.idle.pop()
                worker.conn.send(("finish", i, *run.merged))
                self.busy[worker] = i
                run.running.add(worker)
                continue
            if run.result is not None or run.stopped is not None:
                self._maybe_done(i)
                continue
            now = time.monotonic()
            if not run.begun:
                run.begun = now
                limit = self.tasks[i].limits.time_limit
                run.deadline = None if limit is None else now + limit
            worker = self.idle.pop()
            left = None if run.deadline is None else run.deadline - now
            worker.conn.send(("part", i, run.procedure, payload, left))
            self.busy[worker] = i
            run.running.add(worker)
        if self.idle and not self.queue:
            now = time.monotonic()
            for worker in set(self.busy) - self.asked:
                if now - self.empty.get(worker, 0.0) > _ASK_AGAIN:
                    worker.conn.send(("want",))
                    self.asked.add(worker)

    def _receive(self, worker: interrupt.Worker) -> None:
        if not worker.conn.poll():
            worker.process.join(1.0)
            code = worker.process.exitcode
            if code is not None and -code in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                interrupt.interrupt(-code)  # (someone is stopping pinlab)
            raise RuntimeError(f"a worker process died (exit status {code})")
        msg = worker.conn.recv()
        kind, i = msg[0], msg[1]
        if kind == "give":
            self.asked.discard(worker)
            if not msg[2]:
                self.empty[worker] = time.monotonic()
            elif self.runs[i].result is None and self.runs[i].stopped is None:
                self.queue.extend((i, part) for part in msg[2])
                self.runs[i].queued += len(msg[2])
            return
        if kind == "error":
            raise PartError(i, msg[2])
        del self.busy[worker]
        self.idle.append(worker)
        run = self.runs[i]
        run.running.discard(worker)
        if kind == "finished":
            assert run.merged is not None
            run.result = (run.merged[0], msg[2])
            return
        if kind == "done":
            _, _, part, folded, tally = msg
            if run.result is None and run.stopped is None:
                run.parts.append(part)
                run.folded.append(folded)
                if tally is not None:
                    run.tallies.append(tally)
                if self.on_progress is not None:
                    self.on_progress(sum(p.stats.consistent for p in run.parts))
                if _stops(part, run.parts, self.tasks[i].limits):
                    run.stopped = part.outcome
                    if part.outcome is Outcome.COMPLETE:  # (the execution cap)
                        run.stopped = Outcome.EXECUTIONS
                    for other in run.running:
                        other.conn.send(("cancel", i))
        self._maybe_done(i)

    def _maybe_done(self, i: int) -> None:
        run, task = self.runs[i], self.tasks[i]
        if run.result is not None or run.merged is not None or run.queued or run.running:
            return
        result = merge(run.parts, time.monotonic() - run.begun, run.tallies)
        if run.stopped is not None:
            result = dataclasses.replace(result, outcome=run.stopped)
        acc = None
        if task.fold is not None and run.folded:
            acc = run.folded[0]
            for other in run.folded[1:]:
                acc = task.fold.merge(acc, other)
        if (
            task.engine == "auto"
            and run.procedure == "revisit"
            and result.outcome is Outcome.INCOMPLETE
        ):  # as pinlab.engine.decide: the waiting explorer, with the time left
            if run.deadline is not None and time.monotonic() >= run.deadline:
                run.result = (dataclasses.replace(result, outcome=Outcome.TIME), None)
                return
            self.runs[i] = _Run("explore", queued=1, deadline=run.deadline, begun=run.begun)
            self.queue.append((i, ()))
            return
        if task.finish is None:
            run.result = (result, acc)
            return
        run.merged = (result, acc)
        run.queued += 1
        self.queue.appendleft((i, _FINISH))  # (before any task's parts: it is short)


def _stops(part: ExplorationResult, parts: list[ExplorationResult], limits: Limits) -> bool:
    """Whether ``part`` ends its exploration: it stopped at a limit (every part
    shares the time limit and the witness rule), or the parts reached the cap."""
    if part.outcome in (Outcome.TIME, Outcome.WITNESS, Outcome.FIRST, Outcome.EXECUTIONS):
        return True
    cap = limits.max_executions
    return cap is not None and sum(p.stats.consistent for p in parts) >= cap


def decide_many(
    tasks: list[Task], jobs: int, on_progress: Callable[[int], None] | None = None
) -> Iterator[tuple[ExplorationResult, Any]]:
    """Each task's result and fold, in the order of ``tasks``: the tasks run side
    by side and each is split between ``jobs`` worker processes, which share
    the work of whichever is left (see the module docstring)."""
    if jobs <= 1:
        for i, task in enumerate(tasks):
            try:
                result, acc = decide(task.build(), task.model, engine=task.engine,
                                     limits=task.limits, fold=task.fold,
                                     record_src=task.record_src)  # fmt: skip
                if task.finish is not None:
                    acc = task.finish(result, acc)
            except Exception as err:
                raise PartError(i, err) from err
            yield result, acc
        return
    yield from _Coordinator(tasks, jobs, on_progress).results()


def decide(
    program: Program,
    model: str | Model,
    *,
    engine: str = "auto",
    limits: Limits | None = None,
    jobs: int = 1,
    fold: Fold[A] | None = None,
    record_src: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[ExplorationResult, A | None]:
    """:func:`pinlab.engine.decide`, split between ``jobs`` workers, and ``fold``
    (when given) folded over the executions of the run whose result is returned."""
    limits = limits or Limits()
    name = model if isinstance(model, str) else model.name
    if jobs > 1:
        task = Task(lambda: program, name, engine, limits, fold, record_src)
        result, acc = next(_Coordinator([task], jobs, on_progress).results())
        return result, acc
    kept: list[Any] = [fold.start()] if fold is not None else []

    def keep(ex: Execution) -> None:
        assert fold is not None
        kept[0] = fold.add(kept[0], ex)

    result = decide_here(program, name, engine=engine, limits=limits,
                         on_execution=keep if fold is not None else None,
                         record_src=record_src)  # fmt: skip
    return result, (kept[0] if fold is not None else None)
