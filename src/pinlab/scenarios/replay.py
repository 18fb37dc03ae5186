"""Replay files: one counterexample, saved as the choices that reproduce it.

A choice list is the explorer's whole state (see :mod:`pinlab.engine.explore`),
so a saved execution is just: which scenario (name, variant, era, model) and
its choices.  The choices mean something only for the very model that made
them, so the file also carries a **fingerprint** of the model: a SHA-256 over
the source files of ``pinlab.engine``, ``pinlab.kernel`` and
``pinlab.scenarios`` and the pinlab version.  Loading a file whose
fingerprint differs is refused, naming the packages that changed, rather than
replaying choices that now mean another execution.

The format (JSON, one object)::

    {"format": "pinlab-replay", "version": 1,
     "scenario": "fork-vs-pin-fast", "variant": "v5.9", "era": "v5.9", "model": "sc",
     "choices": [0, 1, ...], "outcome": "pinned pfn 0x101 is mapped by ...",
     "fingerprint": "<sha256>", "parts": {"pinlab": "0.1.0", "engine": "<sha256>", ...}}

This module also picks the one scenario ``explain`` and ``replay`` work on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final

import pinlab
from pinlab.scenarios import catalogue, select
from pinlab.scenarios.base import Scenario

__all__ = [
    "FORMAT",
    "ModelChanged",
    "ReplayFile",
    "ReplayFileError",
    "dumps",
    "load",
    "model_fingerprint",
    "resolve",
    "select_one",
]

FORMAT: Final = "pinlab-replay"
VERSION: Final = 1
PACKAGES: Final = ("engine", "kernel", "scenarios")
_SUFFIXES: Final = (".py", ".lark", ".json", ".toml")


class ReplayFileError(ValueError):
    """The file is not a replay file this pinlab can read."""


class ModelChanged(ValueError):
    """The file was saved by a different model (its fingerprint differs)."""


@dataclass(frozen=True, slots=True)
class ReplayFile:
    scenario: str
    variant: str
    era: str
    model: str
    choices: tuple[int, ...]
    fingerprint: str
    parts: dict[str, str] = field(default_factory=dict)
    outcome: str = ""


def _package_hash(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in _SUFFIXES and "__pycache__" not in path.parts:
            h.update(path.relative_to(root).as_posix().encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


@cache
def model_fingerprint() -> tuple[str, dict[str, str]]:
    """The model's fingerprint, and its parts (the version and one hash per package)."""
    base = Path(pinlab.__file__).parent
    parts = {"pinlab": pinlab.__version__}
    parts.update({pkg: _package_hash(base / pkg) for pkg in PACKAGES})
    whole = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return whole, parts


def record(scenario: Scenario, choices: tuple[int, ...], outcome: str) -> ReplayFile:
    whole, parts = model_fingerprint()
    return ReplayFile(
        scenario.name, scenario.variant, scenario.era.name, scenario.model, choices,
        whole, dict(parts), outcome,
    )  # fmt: skip


def dumps(rf: ReplayFile) -> str:
    obj = {
        "format": FORMAT,
        "version": VERSION,
        "scenario": rf.scenario,
        "variant": rf.variant,
        "era": rf.era,
        "model": rf.model,
        "choices": list(rf.choices),
        "outcome": rf.outcome,
        "fingerprint": rf.fingerprint,
        "parts": rf.parts,
    }
    # one key a line, the choice list on one line too
    lines = [f" {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in obj.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


_EXPECTED: Final = (
    "a JSON object with format 'pinlab-replay', version 1, scenario, variant, era, model "
    "(strings), choices (a list of non-negative integers) and fingerprint (a string)"
)


def _field(obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ReplayFileError(f"{where}: field {key!r} is missing or not a {kind.__name__}")
    return value


def load(path: Path) -> ReplayFile:
    """Read a replay file; :class:`ReplayFileError` names the file and what is wrong."""
    try:
        obj = json.loads(path.read_text())
    except OSError as err:
        raise ReplayFileError(f"{path}: cannot read: {err.strerror or err}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ReplayFileError(f"{path}: not JSON ({err}); expected {_EXPECTED}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ReplayFileError(f"{path}: not a pinlab replay file; expected {_EXPECTED}")
    if obj.get("version") != VERSION:
        raise ReplayFileError(
            f"{path}: replay format version {obj.get('version')!r}; this pinlab reads {VERSION}"
        )
    where = str(path)
    name, variant, era, model = (
        str(_field(obj, k, str, where)) for k in ("scenario", "variant", "era", "model")
    )
    choices = _field(obj, "choices", list, where)
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in choices):
        raise ReplayFileError(f"{where}: field 'choices' must be a list of non-negative integers")
    fingerprint = _field(obj, "fingerprint", str, where)
    parts = obj.get("parts", {})
    if not isinstance(parts, dict) or not all(isinstance(v, str) for v in parts.values()):
        raise ReplayFileError(f"{where}: field 'parts' must map names to strings")
    outcome = obj.get("outcome", "")
    return ReplayFile(
        name, variant, era, model, tuple(choices), fingerprint, dict(parts), str(outcome)
    )


def resolve(rf: ReplayFile) -> Scenario:
    """The scenario ``rf`` was saved from, if it still exists and the model is unchanged.

    :class:`LookupError` when the scenario is gone, :class:`ModelChanged` when
    the fingerprint differs.
    """
    known = [s for s in catalogue() if s.name == rf.scenario]
    if not known:
        raise LookupError(f"scenario {rf.scenario!r} no longer exists")
    match = [s for s in known if s.variant == rf.variant and s.model == rf.model]
    if not match:
        raise LookupError(
            f"scenario {rf.scenario!r} no longer has variant {rf.variant!r} under {rf.model}"
        )
    whole, parts = model_fingerprint()
    if rf.fingerprint != whole:
        changed = [k for k, v in parts.items() if rf.parts.get(k) != v]
        what = ", ".join(f"{k}/" if k in PACKAGES else f"{k} version" for k in changed)
        detail = f"{what} changed" if changed else "the fingerprint does not match"
        raise ModelChanged(
            f"the model changed since this file was saved: {detail} "
            f"(saved {rf.fingerprint[:12]}, now {whole[:12]}); explain it again and re-save"
        )
    return match[0]


def select_one(name: str, era: str | None = None, model: str | None = None) -> Scenario:
    """The one scenario ``name`` narrowed by ``era`` and ``model``.

    An exact variant match wins over an era-name match (a scenario may have
    several variants of one era, e.g. with a barrier removed).  Raises
    :class:`LookupError` when nothing or more than one scenario remains.
    """
    chosen = select([name], era, model)
    if era is not None and len(chosen) > 1:
        exact = [s for s in chosen if s.variant == era]
        chosen = exact or chosen
    if len(chosen) > 1:
        models = {s.model for s in chosen}
        names = ", ".join(s.variant if len(models) == 1 else f"{s.variant}@{s.model}"
                          for s in chosen)  # fmt: skip
        hint = "--era" if len(models) == 1 else "--era and --model"
        raise LookupError(f"{name} has {len(chosen)} variants ({names}); choose one with {hint}")
    return chosen[0]
