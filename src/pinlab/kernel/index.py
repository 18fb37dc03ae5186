"""Where each function of the kernel model is: its file, lines and kernel source.

The trace (:mod:`pinlab.report.kterms`) and the barrier list
(:mod:`pinlab.scenarios.barriers`) name a step by the kernel function that
ran it; both look functions up here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

__all__ = ["Definition", "functions"]

_ORIGIN: Final = re.compile(r"Model of ([\w./-]+\.[chS]):")


@dataclass(frozen=True, slots=True)
class Definition:
    path: str  # the model's file, relative to the pinlab package ("kernel/pin.py")
    first: int  # its first and last lines there
    last: int
    origin: str | None  # the kernel file its docstring names ("mm/gup.c"), if any


@cache
def functions() -> dict[str, list[Definition]]:
    """Function name -> each definition of it in the kernel model."""
    import pinlab.kernel

    base = Path(pinlab.__file__).parent.resolve()
    out: dict[str, list[Definition]] = {}
    for info in pkgutil.iter_modules(pinlab.kernel.__path__, "pinlab.kernel."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if not inspect.isfunction(obj) or obj.__module__ != module.__name__:
                continue
            lines, start = inspect.getsourcelines(obj)
            path = Path(inspect.getfile(obj)).resolve().relative_to(base).as_posix()
            m = _ORIGIN.search(obj.__doc__ or "")
            entry = Definition(path, start, start + len(lines) - 1, m[1] if m else None)
            out.setdefault(name, []).append(entry)
    return out
