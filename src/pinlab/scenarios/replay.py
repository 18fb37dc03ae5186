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

    {"format": "pinlab-replay", "version": 2,
     "scenario": "fork-vs-pin-fast", "variant": "v5.9", "era": "v5.9", "model": "sc",
     "choices": [0, 1, ...], "outcome": "pinned pfn 0x101 is mapped by ...",
     "fingerprint": "<sha256>", "parts": {"pinlab": "0.1.0", "engine": "<sha256>", ...},
     "digests": {"choices": "<16 hex digits>", "era": ..., ...},
     "checksum": "<sha256>"}

The file is a record to keep, not to edit: ``checksum`` is the SHA-256 of the
canonical JSON (sorted keys, no spaces, UTF-8) of the object of every field but
``checksum`` and ``digests``, and ``digests`` holds the first 16 hex digits of
the SHA-256 of each of those fields' canonical JSON.  :func:`load` refuses a
file whose checksum does not match and names, from the digests, the field that
differs (one edited, added or removed); it refuses edited digests too.  Past the
checksum, :func:`resolve` re-derives what it can from the model -- the era from
the scenario's variant, the fingerprint from ``parts`` -- and
:func:`check_replayed` compares the replayed execution with ``choices`` and
``outcome``; each names the field that disagrees.

Version 1 files (before the checksum) are refused: "saved by an older pinlab";
``pinlab explain --save`` writes the file again.

This module also picks the one scenario ``explain`` and ``replay`` work on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final

import pinlab
from pinlab.scenarios import catalogue, select
from pinlab.scenarios.base import Scenario
from pinlab.scenarios.files import NotRegular, TooLarge, read_regular
from pinlab.scenarios.files import load as load_file

__all__ = [
    "FORMAT",
    "ModelChanged",
    "ReplayFile",
    "ReplayFileError",
    "check_replayed",
    "dumps",
    "load",
    "model_fingerprint",
    "resolve",
    "select_one",
]

FORMAT: Final = "pinlab-replay"
VERSION: Final = 2
_CHECKED: Final = ("checksum", "digests")  # the fields the checksum does not cover
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
    origin: str = ""  # the scenario file it came from ("": the catalogue)
    without: tuple[str, ...] = ()  # barriers removed from the variant (check --without)
    added: tuple[str, ...] = ()  # what-if barriers added to it (--with)


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


def _file_hash(origin: str) -> str:
    try:
        return hashlib.sha256(Path(origin).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def _fingerprint(origin: str) -> tuple[str, dict[str, str]]:
    """The model's fingerprint, with the scenario file's bytes when there is one."""
    whole, parts = model_fingerprint()
    if not origin:
        return whole, dict(parts)
    parts = {**parts, "scenario file": _file_hash(origin)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest(), parts


def record(scenario: Scenario, choices: tuple[int, ...], outcome: str) -> ReplayFile:
    origin = str(Path(scenario.origin).resolve()) if scenario.origin else ""
    whole, parts = _fingerprint(origin)
    return ReplayFile(
        scenario.name, scenario.base or scenario.variant, scenario.era.name, scenario.model,
        choices, whole, parts, outcome, origin, scenario.without, scenario.added,
    )  # fmt: skip


def _canonical(value: object) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")  # (a lone surrogate, "\ud800" in a file)


def _digest(value: object) -> str:
    return hashlib.sha256(_canonical(value)).hexdigest()[:16]


def _fields(obj: dict[str, Any]) -> dict[str, Any]:
    """The fields the checksum covers: all but ``checksum`` and ``digests``."""
    return {k: v for k, v in obj.items() if k not in _CHECKED}


def _checksum(obj: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(_fields(obj))).hexdigest()


def dumps(rf: ReplayFile) -> str:
    obj: dict[str, Any] = {
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
    if rf.origin:
        obj["origin"] = rf.origin
    if rf.without:
        obj["without"] = list(rf.without)
    if rf.added:
        obj["with"] = list(rf.added)
    obj["digests"] = {k: _digest(v) for k, v in obj.items()}
    obj["checksum"] = _checksum(obj)  # (of the fields before "digests")
    # one key a line, the choice list on one line too
    lines = [f" {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in obj.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


_EXPECTED: Final = (
    f"a JSON object with format 'pinlab-replay', version {VERSION}, scenario, variant, era, "
    "model (strings), choices (a list of non-negative integers), fingerprint (a string) "
    "and its checksum"
)
_RESAVE: Final = "explain it again with --save to write a new one"


def _field(obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ReplayFileError(f"{where}: field {key!r} is missing or not a {kind.__name__}")
    return value


def load(path: Path) -> ReplayFile:
    """Read a replay file; :class:`ReplayFileError` names the file and what is wrong."""
    try:
        return _load(path)
    except RecursionError:  # (lists in lists a thousand deep: in the JSON or its checksum)
        raise ReplayFileError(f"{path}: nested too deeply; expected {_EXPECTED}") from None


MAX_BYTES: Final = 1 << 20  # a replay file is a few hundred bytes to a few KiB


def _read(path: Path) -> str:
    """The file's text, read as at most :data:`MAX_BYTES` (``/dev/zero``, a FIFO: refused)."""
    try:
        data = read_regular(path, MAX_BYTES)
    except NotRegular:
        raise ReplayFileError(f"{path}: not a regular file; expected {_EXPECTED}") from None
    except TooLarge:
        size = f"{MAX_BYTES >> 20} MiB"
        raise ReplayFileError(f"{path}: larger than {size}: not a replay file") from None
    return data.decode("utf-8")


def _load(path: Path) -> ReplayFile:
    try:
        obj = json.loads(_read(path))
    except ReplayFileError:
        raise
    except OSError as err:
        raise ReplayFileError(f"{path}: cannot read: {err.strerror or err}") from None
    except ValueError as err:  # (not UTF-8, not JSON, an integer of more than 4,300 digits)
        raise ReplayFileError(f"{path}: not JSON ({err}); expected {_EXPECTED}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ReplayFileError(f"{path}: not a pinlab replay file; expected {_EXPECTED}")
    where = str(path)
    _check_version(obj, where)
    _check_checksum(obj, where)
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
    origin = obj.get("origin", "")
    if not isinstance(origin, str) or "\0" in origin:
        raise ReplayFileError(f"{where}: field 'origin' must be the scenario file's path")
    barriers = {}
    for key in ("without", "with"):
        names = obj.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ReplayFileError(f"{where}: field {key!r} must be a list of barrier names")
        barriers[key] = tuple(names)
    return ReplayFile(
        name, variant, era, model, tuple(choices), fingerprint, dict(parts), str(outcome),
        origin, barriers["without"], barriers["with"],
    )  # fmt: skip


def _check_version(obj: dict[str, Any], where: str) -> None:
    version = obj.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ReplayFileError(
            f"{where}: field 'version' must be an integer, not {type(version).__name__} "
            f"{json.dumps(version)}; this pinlab reads replay format {VERSION}"
        )
    if version < VERSION:
        raise ReplayFileError(
            f"{where}: saved by an older pinlab (replay format {version}, without a checksum); "
            f"this pinlab reads format {VERSION}: {_RESAVE}"
        )
    if version > VERSION:
        raise ReplayFileError(
            f"{where}: saved by a newer pinlab (replay format {version}); "
            f"this pinlab reads format {VERSION}"
        )


def _check_checksum(obj: dict[str, Any], where: str) -> None:
    """Refuse a file edited since it was saved, naming the field(s) that differ."""
    checksum, digests = obj.get("checksum"), obj.get("digests")
    if not isinstance(checksum, str) or not isinstance(digests, dict):
        raise ReplayFileError(
            f"{where}: field 'checksum' or 'digests' is missing or of the wrong type; {_RESAVE}"
        )
    fields = _fields(obj)
    edited = [k for k in fields if k in digests and digests[k] != _digest(fields[k])]
    added = [k for k in fields if k not in digests]
    removed = [k for k in digests if k not in fields]
    if checksum == _checksum(obj):
        if not (edited or added or removed):
            return
        # the fields themselves are as saved
        raise ReplayFileError(f"{where}: field 'digests' was changed since the file was saved")
    what = [
        *(f"field {k!r} was changed" for k in edited),
        *(f"field {k!r} was added" for k in added),
        *(f"field {k!r} was removed" for k in removed),
    ] or ["field 'checksum' was changed"]
    raise ReplayFileError(
        f"{where}: the checksum does not match: {'; '.join(what)} since the file was saved; "
        f"{_RESAVE}"
    )


def resolve(rf: ReplayFile) -> Scenario:
    """The scenario ``rf`` was saved from, if it still exists and the model is unchanged.

    :class:`LookupError` when the scenario is gone, :class:`ModelChanged` when
    the fingerprint differs.
    """
    if rf.origin:
        known = [s for s in load_file(rf.origin) if s.name == rf.scenario]
    else:
        known = [s for s in catalogue() if s.name == rf.scenario]
    if not known:
        where = f" in {rf.origin}" if rf.origin else ""
        raise LookupError(f"scenario {rf.scenario!r} no longer exists{where}")
    match = [s for s in known if s.variant == rf.variant and s.model == rf.model]
    if not match:
        raise LookupError(
            f"scenario {rf.scenario!r} no longer has variant {rf.variant!r} under {rf.model!r}"
        )
    if rf.without or rf.added:
        from pinlab.scenarios.barriers import variant

        match = [variant(match[0], rf.without, rf.added)]
    if match[0].era.name != rf.era:
        raise ReplayFileError(
            f"field 'era' is {rf.era!r}, but variant {rf.variant!r} of {rf.scenario} is of era "
            f"{match[0].era.name!r}"
        )
    if rf.fingerprint != hashlib.sha256(json.dumps(rf.parts, sort_keys=True).encode()).hexdigest():
        raise ReplayFileError("field 'parts' does not add up to field 'fingerprint'")
    whole, parts = _fingerprint(rf.origin)
    if rf.fingerprint != whole:
        changed = [k for k, v in parts.items() if rf.parts.get(k) != v]
        what = ", ".join(
            f"{k}/" if k in PACKAGES else k if k == "scenario file" else f"{k} version"
            for k in changed
        )
        detail = f"{what} changed" if changed else "the fingerprint does not match"
        raise ModelChanged(
            f"the model changed since this file was saved: {detail} "
            f"(saved {rf.fingerprint[:12]}, now {whole[:12]}); explain it again and re-save"
        )
    return match[0]


def check_replayed(rf: ReplayFile, choices: tuple[int, ...], outcome: str) -> None:
    """The replayed execution is the saved one: ``choices`` and ``outcome`` as recorded.

    :class:`ReplayFileError` names the field that differs (choices left over
    after the execution ended, or another outcome).
    """
    if tuple(choices) != rf.choices:
        n, m = len(rf.choices), len(choices)
        detail = (
            f"{n - m} choices left over after the execution ended"
            if n > m and rf.choices[:m] == tuple(choices)
            else "they name another execution"
        )
        raise ReplayFileError(f"field 'choices' has {n} choices, the execution {m}: {detail}")
    if outcome != rf.outcome:
        raise ReplayFileError(
            f"field 'outcome' is {rf.outcome!r}, but the replayed execution shows {outcome!r}"
        )


def select_one(
    name: str,
    era: str | None = None,
    model: str | None = None,
    pool: Sequence[Scenario] | None = None,
) -> Scenario:
    """The one scenario ``name`` narrowed by ``era`` and ``model``.

    An exact variant match wins over an era-name match (a scenario may have
    several variants of one era, e.g. with a barrier removed).  Raises
    :class:`LookupError` when nothing or more than one scenario remains.
    """
    chosen = select([name], era, model, pool)
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
