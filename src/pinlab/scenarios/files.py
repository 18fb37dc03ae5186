"""Scenario files: a user's own races, written with :mod:`pinlab.api`.

A scenario file is a Python file that defines ``SCENARIOS``, a sequence of
:class:`~pinlab.scenarios.base.Scenario` (``FAMILY.variants(build, row(...))``).
:func:`load` runs it in a module of its own and returns its scenarios, each
remembering the file it came from (``Scenario.origin``), so that ``check``,
``explain`` and ``replay`` treat them as they treat the catalogue's.

Whatever goes wrong in the user's code -- a syntax error, an exception while
the file runs, while a scenario builds its setup, in a kernel path or in the
forbidden-state predicate -- becomes a :class:`ScenarioFileError` naming the
file and the line in it, never a traceback of pinlab's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pinlab.scenarios.base import Scenario

__all__ = [
    "NotRegular",
    "ScenarioFileError",
    "TooLarge",
    "is_scenario_file",
    "load",
    "load_again",
    "loaded_files",
    "printable",
    "read_regular",
    "user_error",
]

MAX_BYTES = 1 << 20  # a scenario file is code someone wrote: 1 MiB is plenty


class ScenarioFileError(Exception):
    """A problem in a scenario file, at ``line`` (0: the file as a whole)."""

    def __init__(self, path: str, line: int, message: str, col: int = 0) -> None:
        super().__init__(message)
        self.path, self.line, self.col, self.message = path, line, col, message

    def __str__(self) -> str:
        where = printable(self.path)
        if self.line:
            where += f":{self.line}" + (f":{self.col}" if self.col else "")
        return f"{where}: {self.message}"


def printable(path: str) -> str:
    """``path`` as one line: quoted, with escapes, if it holds a control character."""
    return path if path.isprintable() else repr(path)


def is_scenario_file(name: str) -> bool:
    """Whether a scenario argument names a file (``./race.py``), not a catalogue id."""
    return name.endswith(".py") or "/" in name


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def user_error(exc: BaseException, path: str, doing: str) -> ScenarioFileError:
    """``exc``, raised while ``doing`` something with the scenario file ``path``, as
    an error at the innermost line of that file its traceback passes through."""
    if isinstance(exc, ScenarioFileError):
        return exc
    target = str(Path(path).resolve())
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if str(Path(frame.filename).resolve()) == target:
            line = frame.lineno or 0
    return ScenarioFileError(path, line, f"{doing}: {_describe(exc)}")


def _module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    return f"pinlab_scenario_file_{digest}"


class NotRegular(ValueError):
    """Not a regular file: a FIFO would block, a device (``/dev/zero``) never end."""


class TooLarge(ValueError):
    """More bytes than the reader's bound."""


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, if there are at most ``limit``
    (only ``limit + 1`` are read).  :class:`NotRegular`, :class:`TooLarge`, or
    the OSError of opening it."""
    if path.exists() and not path.is_file():
        raise NotRegular(str(path))
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(str(path))
    return data


_loaded: dict[str, tuple[str, str]] = {}  # module name -> (path, source) of each file loaded


def _execute(module_name: str, path: str, code: Any) -> Any:
    spec = importlib.util.spec_from_loader(module_name, loader=None, origin=path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__file__ = path
    sys.modules[module_name] = module  # (dataclasses and pickling look modules up)
    exec(code, module.__dict__)
    return module


def loaded_files() -> dict[str, tuple[str, str]]:
    """Each scenario file loaded in this process: its module's name -> (its path,
    its text), for another process to load it as the same module
    (:func:`load_again`): pinlab.parallel's Ray workers, which unpickle the
    file's functions by that name."""
    return dict(_loaded)


def load_again(files: dict[str, tuple[str, str]]) -> None:
    """Load each of :func:`loaded_files` (another process's) not loaded here yet."""
    for module_name, (path, source) in files.items():
        if module_name not in sys.modules:
            _execute(module_name, path, compile(source, path, "exec"))


def load(name: str) -> tuple[Scenario, ...]:
    """The scenarios that the file ``name`` defines in ``SCENARIOS``."""
    path = Path(name)
    try:
        data = read_regular(path, MAX_BYTES)
    except NotRegular:
        raise ScenarioFileError(name, 0, "not a regular file: not a scenario file") from None
    except TooLarge:
        raise ScenarioFileError(
            name, 0, f"larger than {MAX_BYTES >> 20} MiB: not a scenario file"
        ) from None
    except (OSError, ValueError) as err:  # (ValueError: a NUL byte in the name)
        why = err.strerror if isinstance(err, OSError) else str(err)
        raise ScenarioFileError(name, 0, f"cannot read the scenario file: {why}") from None
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioFileError(name, 0, f"not UTF-8 text (byte {err.start})") from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as err:
        msg = err.msg or "invalid syntax"
        raise ScenarioFileError(name, err.lineno or 0, msg, err.offset or 0) from None
    except (ValueError, RecursionError, MemoryError) as err:
        raise ScenarioFileError(name, 0, f"cannot compile: {_describe(err)}") from None
    module_name = _module_name(path.resolve())
    try:
        module = _execute(module_name, str(path), code)
    except SystemExit as err:
        sys.modules.pop(module_name, None)
        raise ScenarioFileError(name, 0, f"the file called exit({err.code})") from None
    except Exception as err:  # the user's code: any exception is theirs to see
        sys.modules.pop(module_name, None)
        raise user_error(err, name, "while the file ran") from None
    # (only a file that ran: another process loads it again, and must not fail)
    _loaded[module_name] = (str(path), source)
    scenarios = module.__dict__.get("SCENARIOS")
    if scenarios is None:
        raise ScenarioFileError(
            name, 0, "defines no SCENARIOS (a tuple of scenarios: FAMILY.variants(build, row(...)))"
        )
    if not isinstance(scenarios, Sequence) or isinstance(scenarios, str):
        raise ScenarioFileError(
            name, 0, f"SCENARIOS is of type {type(scenarios).__name__}, not a tuple of scenarios"
        )
    for i, s in enumerate(scenarios):
        if not isinstance(s, Scenario):
            raise ScenarioFileError(
                name, 0, f"SCENARIOS[{i}] is of type {type(s).__name__}, not a Scenario"
            )
    if not scenarios:
        raise ScenarioFileError(name, 0, "SCENARIOS is empty")
    return tuple(dataclasses.replace(s, origin=name) for s in scenarios)
