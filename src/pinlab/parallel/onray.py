"""The same work on a Ray cluster: ``--ray ADDRESS`` (or ``auto``, or ``local``).

Ray is an optional extra (``pip install -e '.[ray]'``), imported only here and
only when asked for.  :func:`ray_cluster` connects (``ray.init``) for the
length of a ``with`` block, during which :func:`pinlab.parallel.decide` and
:func:`~pinlab.parallel.decide_many` run their workers as Ray actors (a
:class:`RayPool`) instead of forked processes.  The coordinator is the same
and stays in this process; Ray carries its messages as actor method calls:

- ``part``, ``finish``: the reply is the call's result;
- ``want``: the call waits, in a second thread of the actor, until the part
  running in the first hands work over (or ends), and returns it;
- ``cancel``: marks the task, which the running part sees at its next
  ``wanted()`` (or the part starts already cancelled, since Ray does not
  promise that the calls of a threaded actor run in the order sent);
- ``progress``: what the running part last told of its progress, asked for
  every :data:`PROGRESS` seconds (an actor cannot call the coordinator).

A worker's replies are delivered in the order it made them: a ``give`` before
the end of the part that gave it (:meth:`RayPool.wait`), as the coordinator
requires.  Tasks reach the actors pickled by cloudpickle; the scenario files
loaded here are loaded again in each actor, from the text read here, before
the tasks that name their functions are unpickled (the cluster's machines
need pinlab installed, not the user's files).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

from pinlab.parallel.part import PROGRESS, Cancelled, Parts, Task

__all__ = ["Cluster", "RayError", "RayPool", "cluster", "ray_cluster"]

_POLL = 0.1  # seconds: the longest wait on Ray before signals are looked at


def _unwrapped(call: Any, *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)`` of Ray's, with a signal's exception raised as itself:
    Ray runs the signal handlers while it waits, and wraps what they raise
    (:class:`pinlab.interrupt.Interrupted`) in a SystemError."""
    try:
        return call(*args, **kwargs)
    except SystemError as err:
        cause = err.__cause__ or err.__context__
        if cause is not None and not isinstance(cause, Exception):
            raise cause from None
        raise


class RayError(Exception):
    """Ray is not installed, or the cluster cannot be reached or used."""


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayError("--ray needs Ray, an optional extra: pip install -e '.[ray]'") from None
    return ray


class Cluster:
    """The Ray cluster this process is connected to, and the actors it keeps
    between runs (an actor takes a second or two to start)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.idle: list[Any] = []  # actors with no work, for the next run

    def cpus(self) -> int:
        """The cluster's CPUs: the default number of workers."""
        return max(1, int(_ray().cluster_resources().get("CPU", 1)))

    def pool(self, size: int) -> RayPool:
        return RayPool(self, size)

    def close(self) -> None:
        """End the actors kept."""
        _kill(self.idle)


def _kill(actors: list[Any]) -> None:
    ray = _ray()
    for handle in actors:
        with suppress(Exception):  # (already gone, or the cluster is)
            ray.kill(handle)
    actors.clear()


_current: ContextVar[Cluster | None] = ContextVar("pinlab_ray_cluster", default=None)


def cluster() -> Cluster | None:
    """The cluster of the enclosing :func:`ray_cluster`, if any."""
    return _current.get()


def _reachable(address: str) -> None:
    """Refuse at once an address whose port nobody listens on (Ray itself
    retries for a long time, and for some addresses without end)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # ("auto", "local", or a form Ray alone reads)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as err:
        why = err.strerror or str(err) or type(err).__name__
        raise RayError(f"cannot reach the Ray cluster at {address!r}: {why}") from None


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 to /dev/null for the block (and the processes it starts)."""
    saved = os.dup(2)
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(sink, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(sink)


@contextmanager
def ray_cluster(address: str, cpus: int | None = None) -> Iterator[Cluster]:
    """Run parallel work on Ray within the block.

    ``address`` is a Ray address (``ray://host:10001``, ``host:6379``), or
    ``auto`` for the cluster this machine belongs to (``ray start``), as Ray
    reads them; ``local`` starts a Ray instance of ``cpus`` CPUs for this
    process alone, ended with the block.  Where Ray is already initialised
    in this process (``ray.init()`` by the caller), that instance is used
    and left running."""
    ray = _ray()
    ours = False
    if not ray.is_initialized():
        _reachable(address)
        options: dict[str, Any] = {
            "include_dashboard": False,
            "logging_level": logging.ERROR,
            "log_to_driver": False,
        }
        try:
            with _quiet_stderr():  # (Ray's C++ core logs each retry to fd 2)
                if address == "local":  # (Ray's "local": new, even beside a cluster)
                    ray.init(address="local", num_cpus=cpus, **options)
                else:
                    ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            hint = ""
            if address not in ("auto", "local") and "RAY_AUTH_MODE" not in os.environ:
                hint = " (if it asks for a token: export RAY_AUTH_MODE=token)"
            raise RayError(f"cannot use the Ray cluster at {address!r}: {first}{hint}") from None
        ours = True
    on = Cluster(address)
    token = _current.set(on)
    try:
        yield on
    finally:
        _current.reset(token)
        on.close()
        if ours:
            ray.shutdown()


class _Actor:
    """A worker on the cluster: :class:`Parts`, with ``want`` and ``cancel``
    answered by other threads while a part runs (see the module docstring)."""

    def __init__(self) -> None:
        self.parts = Parts([])
        self.lock = threading.Lock()
        self.current = -1
        self.cancelled: set[int] = set()
        self.asked = False  # read by the running part at each wanted()
        self.answer: tuple[threading.Event, list[Any]] | None = None
        self.latest: tuple[Any, ...] = ("progress", -1, 0)  # the running part's

    def load(self, files: dict[str, tuple[str, str]], blob: bytes) -> None:
        """Take a new run's tasks (pickled by :meth:`RayPool.start`)."""
        import ray

        from pinlab.engine.models import register
        from pinlab.scenarios.files import load_again

        load_again(files)  # (the modules the tasks' functions are pickled by name from)
        models, tasks = ray.cloudpickle.loads(blob)
        for model in models:  # (models read from files, which tasks name)
            register(model)
        self.parts = Parts(tasks)
        self.cancelled.clear()

    def part(self, i: int, procedure: str, payload: Any, left: float | None) -> tuple[Any, ...]:
        with self.lock:
            if i in self.cancelled:
                return ("cancelled", i)
            self.current = i
        try:
            return self.parts.part(i, procedure, payload, left, self._wanted, self._give,
                                   self._told)  # fmt: skip
        finally:
            with self.lock:
                if self.answer is not None:  # asked, and the part ended first
                    self._reply(("give", -1, []))
                self.current = -1
                self.latest = ("progress", -1, 0)

    def progress(self) -> tuple[Any, ...]:
        """``("progress", task, executions)`` of the running part (task -1: none
        runs)."""
        with self.lock:
            return self.latest

    def _told(self, executions: int) -> None:
        with self.lock:
            self.latest = ("progress", self.current, executions)

    def finish(self, i: int, result: Any, acc: Any) -> tuple[Any, ...]:
        return self.parts.finish(i, result, acc)

    def want(self) -> tuple[Any, ...]:
        with self.lock:
            if self.current < 0:
                return ("give", -1, [])
            event, box = threading.Event(), list[Any]()
            self.answer = (event, box)
            self.asked = True
        event.wait()
        return tuple(box[0])

    def cancel(self, i: int) -> None:
        with self.lock:
            self.cancelled.add(i)

    def _wanted(self) -> bool:
        if self.current in self.cancelled:
            raise Cancelled
        return self.asked

    def _give(self, parts: list[Any]) -> None:
        with self.lock:
            self._reply(("give", self.current, parts))

    def _reply(self, gift: tuple[Any, ...]) -> None:
        assert self.answer is not None
        event, box = self.answer
        box.append(gift)
        self.answer, self.asked = None, False
        event.set()


class RayPool:
    """``size`` actors of ``cluster`` (kept there for the next run when this
    one ends normally)."""

    def __init__(self, cluster: Cluster, size: int) -> None:
        self.cluster = cluster
        self.size = size
        self.actors: list[Any] = []
        self.pending: dict[Any, int] = {}  # a call's result -> its worker
        self.wants: dict[int, Any] = {}  # a worker's pending want call
        self.parts: dict[int, int] = {}  # a busy worker -> the number of its part
        self.polls: dict[Any, tuple[int, int]] = {}  # a progress call -> (worker, part)
        self.polled = time.monotonic()
        self.serial = 0

    def start(self, tasks: list[Task]) -> None:
        from pinlab.scenarios.files import loaded_files

        ray = _ray()
        from pinlab.engine.models import BUILT_IN, MODELS

        models = [m for name, m in MODELS.items() if name not in BUILT_IN]
        try:  # (pickled here: the actor loads the scenario files first)
            shared = ray.put(ray.cloudpickle.dumps((models, tasks)))
        except Exception as err:  # (cloudpickle's errors have no common class)
            raise RayError(f"the work cannot be sent to Ray: {err}") from None
        kept = self.cluster.idle
        self.actors = [kept.pop() for _ in range(min(self.size, len(kept)))]
        actor = ray.remote(num_cpus=1, max_concurrency=4)(_Actor)
        self.actors += [actor.remote() for _ in range(self.size - len(self.actors))]
        files = loaded_files()
        _unwrapped(ray.get, [handle.load.remote(files, shared) for handle in self.actors])

    def send(self, worker: int, msg: tuple[Any, ...]) -> None:
        handle = self.actors[worker]
        if msg[0] == "cancel":
            handle.cancel.remote(msg[1])
            return
        if msg[0] == "want":
            ref = handle.want.remote()
            self.wants[worker] = ref
        elif msg[0] == "part":
            ref = handle.part.remote(*msg[1:])
            self.serial += 1
            self.parts[worker] = self.serial
        else:
            ref = handle.finish.remote(*msg[1:])
        self.pending[ref] = worker

    def wait(self, timeout: float | None) -> list[tuple[int, tuple[Any, ...]]]:
        """The replies ready within ``timeout`` seconds (None: the first), each
        worker's in the order it made them."""
        ray = _ray()
        if not self.pending:
            time.sleep(min(timeout if timeout is not None else _POLL, _POLL))
            return []
        self._poll()
        calls = [*self.pending, *self.polls]
        step = _POLL if timeout is None else min(timeout, _POLL)
        ready, _ = _unwrapped(ray.wait, calls, num_returns=1, timeout=step)
        if not ready:
            return []
        ready, _ = ray.wait(calls, num_returns=len(calls), timeout=0)
        got = self._progress([ref for ref in ready if ref in self.polls])
        for ref in ready:
            if ref not in self.pending:  # (a want delivered before its part's end)
                continue
            worker = self.pending[ref]
            want = self.wants.get(worker)
            if want is not None and want is not ref:  # its give comes first
                got.append((worker, self._get(want)))
            got.append((worker, self._get(ref)))
        return got

    def _poll(self) -> None:
        """Ask the busy actors, every :data:`PROGRESS` seconds, how far they are."""
        now = time.monotonic()
        if now - self.polled < PROGRESS:
            return
        self.polled = now
        asked = {worker for worker, _ in self.polls.values()}
        for worker, part in self.parts.items():
            if worker not in asked:
                self.polls[self.actors[worker].progress.remote()] = (worker, part)

    def _progress(self, ready: list[Any]) -> list[tuple[int, tuple[Any, ...]]]:
        """The answers of ``ready`` progress calls, but those about a part that
        has ended since (or of an actor with none)."""
        ray = _ray()
        got = []
        for ref in ready:
            worker, part = self.polls.pop(ref)
            with suppress(ray.exceptions.RayActorError):  # (its part's result says so)
                msg = _unwrapped(ray.get, ref)
                if msg[1] >= 0 and self.parts.get(worker) == part:
                    got.append((worker, msg))
        return got

    def _get(self, ref: Any) -> tuple[Any, ...]:
        ray = _ray()
        worker = self.pending.pop(ref)
        if self.wants.get(worker) is ref:
            del self.wants[worker]
        else:  # (a part's result, or a finish's)
            self.parts.pop(worker, None)
        try:
            msg: tuple[Any, ...] = _unwrapped(ray.get, ref)
        except ray.exceptions.RayActorError as err:
            raise RuntimeError(f"a Ray worker died: {err}") from None
        return msg

    def stop(self, gently: bool) -> None:
        if gently and not self.pending:
            self.cluster.idle += self.actors
            self.actors = []
        _kill(self.actors)
        self.pending.clear()
        self.wants.clear()
        self.parts.clear()
        self.polls.clear()
