"""SIGINT and SIGTERM: one line, the conventional exit code, and no process left behind.

:func:`install` (called by :func:`pinlab.cli.main` only) makes the first SIGINT
or SIGTERM raise :class:`Interrupted` in the main process and ignores every
later one, so that the clean-up the exception unwinds through (stopping worker
processes, closing files) cannot itself be interrupted.  The command line then
prints ``pinlab <command>: interrupted (SIGINT) after 3 of 10 files`` and exits
with 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM.  A watchdog
makes sure of it: a process still alive :data:`WATCHDOG` seconds after the first
signal (the exception was swallowed somewhere, or the last flush of stdout
blocks on a reader that stopped reading) kills its workers, prints the line and
exits at once.

:func:`ordered_map` runs a function over a list in worker processes and yields
the results in the list's order.  Its workers are its own small pool of
:mod:`multiprocessing` processes (forked, one pipe each), because it must be
able to end every one of them at any moment:

- a worker ignores SIGINT (a Ctrl-C reaches the whole process group; the main
  process decides), and dies of SIGTERM by the default action, without a
  traceback;
- a worker dies with the main process, however that ends (PR_SET_PDEATHSIG on
  Linux);
- leaving :func:`ordered_map` -- at the end, by an exception, by
  :class:`Interrupted`, or by closing the generator -- ends every worker:
  SIGTERM, and SIGKILL for one still there after two seconds.

A worker killed by a signal other than SIGINT, SIGTERM or SIGHUP (the OOM
killer's SIGKILL, a crash) costs its item only: ``on_death`` makes that item's
result and a new worker takes over the rest.  A worker ended by SIGINT, SIGTERM
or SIGHUP means that someone is stopping pinlab: :class:`Interrupted`.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, Final, TypeVar

if TYPE_CHECKING:  # multiprocessing is imported by the first pool (pinlab litmus -j N)
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkProcess

__all__ = [
    "Interrupted",
    "Worker",
    "install",
    "interrupt",
    "ordered_map",
    "start_worker",
    "status",
    "stop_workers",
]

SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
_STOPPING: Final = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
_GRACE: Final = 2.0  # seconds a worker has to die of SIGTERM before SIGKILL
WATCHDOG: Final = 6  # seconds from the first signal to the forced exit (_stop needs 4 at most)

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")


class Interrupted(BaseException):
    """SIGINT or SIGTERM reached pinlab (a BaseException: no ``except Exception`` eats it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@dataclass
class Status:
    """What the main process is doing, for the one line an interruption prints."""

    command: str = ""
    progress: str = ""  # e.g. "after 3 of 10 files"
    reported: bool = False

    def message(self, err: Interrupted) -> str:
        who = f"pinlab {self.command}" if self.command else "pinlab"
        after = f" {self.progress}" if self.progress else ""
        return f"{who}: interrupted ({err.name}){after}"

    def report(self, err: Interrupted) -> None:
        """Write :meth:`message` on stderr, once."""
        if not self.reported:
            self.reported = True
            with suppress(OSError):
                os.write(2, (self.message(err) + "\n").encode())


status = Status()
_first: list[int] = []  # the first signal received (by the main process)
_installed: list[bool] = []  # install() was called: this process is the command line
_live: set[ForkProcess] = set()  # every worker process started and not yet reaped


def interrupt(signum: int) -> None:
    """Raise :class:`Interrupted` for the first signal; later ones are ignored."""
    if _first:
        return
    _first.append(signum)
    if _installed:
        # Ignored by the kernel from now on, not only by _handler: Python puts
        # the default action back when it finalises, and a second Ctrl-C or
        # SIGTERM then would kill pinlab after its clean-up, with no exit code.
        for s in SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        if signal.getsignal(signal.SIGALRM) is signal.SIG_DFL:
            signal.signal(signal.SIGALRM, _watchdog)
            signal.alarm(WATCHDOG)
    raise Interrupted(signum)


def _handler(signum: int, frame: FrameType | None) -> None:
    interrupt(signum)


def _watchdog(signum: int, frame: FrameType | None) -> None:
    """The clean-up did not end the process in time: end it now."""
    for process in list(_live):
        with suppress(OSError, ValueError, AttributeError):
            process.kill()
    sig = Interrupted(_first[0])
    status.report(sig)
    os._exit(sig.exit_code)


def install() -> None:
    """The first SIGINT or SIGTERM raises :class:`Interrupted`; later ones are ignored."""
    _installed.append(True)
    for s in SIGNALS:
        signal.signal(s, _handler)


# -- the worker pool ------------------------------------------------------------------


@dataclass(eq=False)
class _Worker:
    process: ForkProcess
    conn: Connection


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent is already gone
        os._exit(1)


def _work(
    conn: Connection,
    serve: Callable[[Connection, Any], None],
    fn: Any,
    others: list[Connection],
    parent: int,
) -> None:
    """A worker: SIGINT ignored, SIGTERM fatal; then ``serve(conn, fn)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    _die_with_parent(parent)
    for other in others:  # the other workers' pipes: theirs alone
        other.close()
    serve(conn, fn)


def _serve_items(conn: Connection, fn: Callable[[T], R]) -> None:
    """:func:`ordered_map`'s worker: one item at a time from ``conn``."""
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        index, item = task
        try:
            reply: tuple[int, bool, object] = (index, True, fn(item))
        except Exception as err:
            reply = (index, False, err)
        try:
            conn.send(reply)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as err:  # the result or the exception does not pickle
            conn.send((index, False, RuntimeError(f"{type(err).__name__}: {err}")))


def _start(
    fn: Any,
    workers: list[_Worker],
    serve: Callable[[Connection, Any], None] = _serve_items,
) -> _Worker:
    """A new worker, registered in ``workers`` before any signal can interrupt;
    it runs ``serve(its end of the pipe, fn)``."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        for stream in (sys.stdout, sys.stderr):  # nothing buffered twice
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        ours, theirs = ctx.Pipe()
        others = [w.conn for w in workers]
        process = ctx.Process(
            target=_work, args=(theirs, serve, fn, others, os.getpid()), daemon=True
        )
        process.start()
        _live.add(process)
        theirs.close()
        worker = _Worker(process, ours)
        workers.append(worker)
        return worker
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _stop(workers: list[_Worker], gently: bool) -> None:
    """End every worker: the end of the work (``gently``), or SIGTERM, then SIGKILL."""
    for w in workers:
        try:
            if gently:
                w.conn.send(None)
            else:
                w.process.terminate()
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + _GRACE
    for w in workers:
        w.process.join(max(0.0, deadline - time.monotonic()))
        if w.process.exitcode is None:
            if gently:
                w.process.terminate()
            else:
                w.process.kill()
            w.process.join(_GRACE)
            if w.process.exitcode is None:
                w.process.kill()
                w.process.join()
        _live.discard(w.process)
        w.conn.close()
    workers.clear()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


def ordered_map(
    fn: Callable[[T], R],
    items: Sequence[T],
    jobs: int,
    on_death: Callable[[T, str], R],
) -> Iterator[R]:
    """``map(fn, items)`` in up to ``jobs`` worker processes, in the order of ``items``.

    ``fn`` must be picklable only through fork (it is not sent); items and results
    cross a pipe.  An exception ``fn`` raises is raised here, in the main process.
    ``on_death(item, how)`` is the result of an item whose worker died.
    """
    from multiprocessing.connection import wait

    workers: list[_Worker] = []
    gently = False
    try:
        todo = deque(enumerate(items))
        done: dict[int, R] = {}
        busy: dict[_Worker, int] = {}
        idle = [_start(fn, workers) for _ in range(min(jobs, len(items)))]
        following = 0
        while following < len(items):
            while todo and idle:
                worker = idle.pop()
                index, item = todo.popleft()
                worker.conn.send((index, item))
                busy[worker] = index
            if following in done:
                yield done.pop(following)
                following += 1
                continue
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            for worker, index in list(busy.items()):
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                try:
                    if not worker.conn.poll():
                        raise EOFError
                    got, ok, value = worker.conn.recv()
                except (EOFError, OSError):
                    del busy[worker]
                    worker.process.join(_GRACE)
                    code = worker.process.exitcode
                    if code is not None and -code in _STOPPING:
                        interrupt(-code)
                    workers.remove(worker)
                    _live.discard(worker.process)
                    worker.process.kill()
                    worker.conn.close()
                    done[index] = on_death(items[index], _death(code))
                    if todo:
                        idle.append(_start(fn, workers))
                    continue
                del busy[worker]
                idle.append(worker)
                if not ok:
                    assert isinstance(value, BaseException)
                    raise value
                done[got] = value
        gently = True
    finally:
        _stop(workers, gently)


Worker = _Worker


def start_worker(serve: Callable[[Connection, S], None], arg: S, workers: list[_Worker]) -> _Worker:
    """A worker of one's own protocol: it runs ``serve(conn, arg)`` with the
    signal handling and lifetime of :func:`ordered_map`'s (see the module
    docstring); ``workers`` lists it (for :func:`stop_workers`)."""
    return _start(arg, workers, serve)


def stop_workers(workers: list[_Worker], gently: bool) -> None:
    """End every worker of ``workers``: by the end of its work (``gently``: it
    receives None), or SIGTERM, then SIGKILL; ``workers`` is then empty."""
    _stop(workers, gently)
