"""The pool of forked worker processes on this machine (``--jobs N``): one
pipe each, with :mod:`pinlab.interrupt`'s signal handling and lifetime."""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING, Any

from pinlab import interrupt
from pinlab.parallel.part import PROGRESS, Cancelled, Parts, Task

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = ["ForkPool"]


class _Server:
    """A forked worker: messages from its pipe, replies on it."""

    def __init__(self, conn: Connection, tasks: list[Task]) -> None:
        self.conn = conn
        self.parts = Parts(tasks)
        self.current = -1
        self.told = 0.0  # when the coordinator was last told of the part's progress

    def serve(self) -> None:
        """Receives ``("part", task, procedure, payload, time left)``,
        ``("finish", task, result, fold)``, ``("want",)``, ``("cancel", task)``
        or None (the end); replies as :class:`Parts` does, and to ``("want",)``
        with ``("give", task, parts)``; while a part runs, ``("progress", task,
        executions)`` every :data:`PROGRESS` seconds or so."""
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                return
            if msg is None:
                return
            if msg[0] == "want":  # (asked as its part ended: nothing to share)
                reply: tuple[Any, ...] | None = ("give", -1, [])
            elif msg[0] == "part":
                self.current = msg[1]
                try:
                    _, i, procedure, payload, left = msg
                    self.told = time.monotonic()
                    reply = self.parts.part(
                        i, procedure, payload, left, self._wanted, self._give, self._progress
                    )
                finally:
                    self.current = -1
            elif msg[0] == "finish":
                reply = self.parts.finish(*msg[1:])
            else:  # ("cancel", task) for a part already done: nothing to do
                reply = None
            if reply is not None:
                try:
                    self.conn.send(reply)
                except (BrokenPipeError, ConnectionResetError):
                    return

    def _wanted(self) -> bool:
        if not self.conn.poll():
            return False
        msg = self.conn.recv()
        if msg is None or (msg[0] == "cancel" and msg[1] == self.current):
            raise Cancelled
        return bool(msg[0] == "want")

    def _progress(self, done: int) -> None:
        now = time.monotonic()
        if now - self.told >= PROGRESS:
            self.told = now
            self.conn.send(("progress", self.current, done))

    def _give(self, parts: list[Any]) -> None:
        self.conn.send(("give", self.current, parts))


def _serve(conn: Connection, tasks: list[Task]) -> None:
    _Server(conn, tasks).serve()


class ForkPool:
    """``size`` forked workers; the messages of one worker arrive in the order sent."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.workers: list[interrupt.Worker] = []

    def start(self, tasks: list[Task]) -> None:
        for _ in range(self.size):
            interrupt.start_worker(_serve, tasks, self.workers)

    def send(self, worker: int, msg: tuple[Any, ...]) -> None:
        self.workers[worker].conn.send(msg)

    def wait(self, timeout: float | None) -> list[tuple[int, tuple[Any, ...]]]:
        """The messages that arrive within ``timeout`` seconds (None: the first)."""
        from multiprocessing.connection import wait

        conns = [w.conn for w in self.workers] + [w.process.sentinel for w in self.workers]
        ready = set(wait(conns, timeout=timeout))
        got = []
        for n, worker in enumerate(self.workers):
            if worker.conn not in ready and worker.process.sentinel not in ready:
                continue
            if not worker.conn.poll():
                worker.process.join(1.0)
                code = worker.process.exitcode
                if code is not None and -code in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    interrupt.interrupt(-code)  # (someone is stopping pinlab)
                raise RuntimeError(f"a worker process died (exit status {code})")
            got.append((n, worker.conn.recv()))
        return got

    def stop(self, gently: bool) -> None:
        interrupt.stop_workers(self.workers, gently)
