"""The coordinator: hands out the parts of every task, asks busy workers to
share when one is idle (work stealing), and merges each task's parts as they
end.  It talks to its workers through a :class:`Pool`, whichever carries them."""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from pinlab.engine import ExplorationResult, Limits, Outcome
from pinlab.parallel.fold import merge
from pinlab.parallel.part import PartError, Task

__all__ = ["Coordinator", "Pool"]

ASK_AGAIN = 0.05  # seconds before asking again a worker that had nothing to share
_FINISH: Any = object()  # the queue's item for a Task.finish step


class Pool(Protocol):
    """Workers numbered ``0..size-1``, each serving the protocol of
    :class:`pinlab.parallel.part.Parts` (and ``("want",)`` -> ``("give", task,
    parts)``, ``("cancel", task)``; and, if it can, ``("progress", task,
    executions)`` while a part runs).  Whatever the pool, the replies of one
    worker arrive in the order it sent them."""

    size: int

    def start(self, tasks: list[Task]) -> None: ...

    def send(self, worker: int, msg: tuple[Any, ...]) -> None: ...

    def wait(self, timeout: float | None) -> list[tuple[int, tuple[Any, ...]]]: ...

    def stop(self, gently: bool) -> None: ...


@dataclass
class _Run:
    """The coordinator's account of one task."""

    procedure: str
    queued: int = 0
    running: set[int] = dataclasses.field(default_factory=set)  # workers on its parts
    parts: list[ExplorationResult] = dataclasses.field(default_factory=list)
    folded: list[Any] = dataclasses.field(default_factory=list)
    tallies: list[Any] = dataclasses.field(default_factory=list)
    deadline: float | None = None
    begun: float = 0.0
    stopped: Outcome | None = None
    merged: tuple[ExplorationResult, Any] | None = None  # (waiting for Task.finish)
    result: tuple[ExplorationResult, Any] | None = None


# Told the executions met so far (by the parts ended and the parts running).
OnProgress = Callable[[int], None]


class Coordinator:
    """Runs ``tasks`` on ``pool``; :meth:`results` yields them in order."""

    def __init__(
        self, tasks: list[Task], pool: Pool, on_progress: OnProgress | None = None
    ) -> None:
        self.tasks = tasks
        self.pool = pool
        self.on_progress = on_progress
        self.done = 0  # executions of the parts ended so far, for on_progress
        self.live: dict[int, int] = {}  # a worker -> the executions its part has met
        self.shown = 0  # the last count given to on_progress
        self.queue: deque[tuple[int, Any]] = deque()
        self.runs = [_Run("explore" if t.engine == "explore" else "revisit") for t in tasks]
        for i, run in enumerate(self.runs):
            self.queue.append((i, () if run.procedure == "explore" else None))
            run.queued = 1
        self.unfinished = len(tasks)  # tasks with no result yet
        self.idle: list[int] = []
        self.busy: dict[int, int] = {}
        self.asked: set[int] = set()
        self.empty: dict[int, float] = {}

    def results(self) -> Iterator[tuple[ExplorationResult, Any]]:
        """Each task's merged result and fold, in the order of the tasks."""
        stopped = False
        try:
            self.pool.start(self.tasks)
            self.idle = list(range(self.pool.size))
            following = 0
            while following < len(self.tasks):
                if not stopped and not self.unfinished:
                    stopped = True  # (before the last yield: the caller may not come back)
                    self.pool.stop(gently=True)
                out = self.runs[following].result
                if out is not None:
                    yield out
                    following += 1
                    continue
                self._dispatch()
                for worker, msg in self.pool.wait(ASK_AGAIN if self.idle else None):
                    self._receive(worker, msg)
        finally:
            if not stopped:
                self.pool.stop(gently=False)

    def _dispatch(self) -> None:
        while self.queue and self.idle:
            i, payload = self.queue.popleft()
            run = self.runs[i]
            run.queued -= 1
            if payload is _FINISH and run.merged is not None:
                worker = self.idle.pop()
                self.pool.send(worker, ("finish", i, *run.merged))
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
            self.pool.send(worker, ("part", i, run.procedure, payload, left))
            self.busy[worker] = i
            run.running.add(worker)
        if self.idle and not self.queue:
            now = time.monotonic()
            for worker in set(self.busy) - self.asked:
                if now - self.empty.get(worker, 0.0) > ASK_AGAIN:
                    self.pool.send(worker, ("want",))
                    self.asked.add(worker)

    def _receive(self, worker: int, msg: tuple[Any, ...]) -> None:
        kind, i = msg[0], msg[1]
        if kind == "progress":
            if self.on_progress is not None and self.busy.get(worker) == i:
                self.live[worker] = msg[2]
                self._tell()
            return
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
        self.live.pop(worker, None)
        del self.busy[worker]
        self.idle.append(worker)
        run = self.runs[i]
        run.running.discard(worker)
        if kind == "finished":
            assert run.merged is not None
            self._end(run, (run.merged[0], msg[2]))
            return
        if kind == "done":
            _, _, part, folded, tally = msg
            if run.result is None and run.stopped is None:
                run.parts.append(part)
                run.folded.append(folded)
                if tally is not None:
                    run.tallies.append(tally)
                if self.on_progress is not None:
                    self.done += part.stats.consistent
                    self._tell()
                if _stops(part, run.parts, self.tasks[i].limits):
                    run.stopped = part.outcome
                    if part.outcome is Outcome.COMPLETE:  # (the execution cap)
                        run.stopped = Outcome.EXECUTIONS
                    for other in run.running:
                        self.pool.send(other, ("cancel", i))
        self._maybe_done(i)

    def _end(self, run: _Run, result: tuple[ExplorationResult, Any]) -> None:
        run.result = result
        self.unfinished -= 1

    def _tell(self) -> None:
        """``on_progress``: the executions met so far by the parts that ended and
        the parts running (as high as it was: a part's count of executions two
        revisit jobs both reached can go down when it ends)."""
        assert self.on_progress is not None
        self.shown = max(self.shown, self.done + sum(self.live.values()))
        self.on_progress(self.shown)

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
                self._end(run, (dataclasses.replace(result, outcome=Outcome.TIME), None))
                return
            self.runs[i] = _Run("explore", queued=1, deadline=run.deadline, begun=run.begun)
            self.queue.append((i, ()))
            return
        if task.finish is None:
            self._end(run, (result, acc))
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
