"""The results cache: a verdict is computed once per scenario, era, model and code.

``pinlab check`` looks each scenario up before running it and stores what it
decided.  The key covers everything a verdict depends on:

- the scenario (its id, variant, model and the engine asked for) and its era,
  field by field -- so a barrier removed or added is a different key;
- whether the run stopped at the first witness;
- the version of the model's code, the fingerprint replay files carry (a
  change anywhere in the kernel model, the engine, the memory models or the
  scenarios is a new version);
- for a scenario file (``pinlab check ./race.py``), the file's own bytes.

Only conclusive verdicts are stored (never, or reachable); an inconclusive
one -- a time or execution limit -- runs again.  Entries are small JSON files
under ``$PINLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/pinlab``, else
``~/.cache/pinlab``; a damaged or unreadable entry counts as absent and a
cache that cannot be written is skipped silently (it only saves time).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pinlab.engine import ExplorationResult, Limits, Outcome, Stats
from pinlab.scenarios.base import Scenario, ScenarioResult, Verdict
from pinlab.scenarios.replay import model_fingerprint

__all__ = ["cache_dir", "code_version", "key", "load", "store"]

FORMAT = 1


def cache_dir() -> Path:
    """Where entries live (the directory need not exist yet)."""
    if env := os.environ.get("PINLAB_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pinlab"


def code_version() -> str:
    """The version of the model's code: the fingerprint replay files carry
    (:func:`pinlab.scenarios.replay.model_fingerprint`: pinlab's version and a
    digest of the engine, the kernel model and the scenarios)."""
    return model_fingerprint()[0]


def _canon(x: Any) -> Any:
    """A JSON-able, order-independent form of an era's fields."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: _canon(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, enum.Enum):
        return str(x.value)
    if isinstance(x, (set, frozenset)):
        return sorted((_canon(y) for y in x), key=repr)
    if isinstance(x, (list, tuple)):
        return [_canon(y) for y in x]
    if isinstance(x, dict):
        return {str(k): _canon(v) for k, v in sorted(x.items(), key=repr)}
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    return repr(x)


def key(scenario: Scenario, engine: str, limits: Limits | None) -> str:
    """The cache key of ``scenario`` run with ``engine`` and ``limits``."""
    origin = ""
    if scenario.origin:
        try:
            origin = hashlib.sha256(Path(scenario.origin).read_bytes()).hexdigest()
        except OSError:
            origin = "unreadable"
    record = {
        "format": FORMAT,
        "code": code_version(),
        "scenario": scenario.key,
        "origin": origin,
        "era": _canon(scenario.era),
        "engine": engine,
        "stop_at_witness": bool(limits and limits.stop_at_witness),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def load(scenario: Scenario, engine: str, limits: Limits | None) -> ScenarioResult | None:
    """The stored result of ``scenario``, or None."""
    path = cache_dir() / f"{key(scenario, engine, limits)}.json"
    try:
        entry = json.loads(path.read_text())
        verdict = Verdict(entry["verdict"])
        outcome = Outcome(entry["outcome"])
        stats = Stats(consistent=int(entry["executions"]), seconds=float(entry["seconds"]))
        witness = entry["witness"]
        choices = tuple(int(c) for c in witness) if witness is not None else None
        positive, negative = int(entry["positive"]), int(entry["negative"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    exploration = ExplorationResult(
        program=scenario.name,
        model=scenario.model,
        states={},
        positive=positive,
        negative=negative,
        flags=frozenset(),
        outcome=outcome,
        stats=stats,
        witness=choices,
        procedure=str(entry.get("procedure", "")),
    )
    return ScenarioResult(
        scenario, verdict, exploration, stats.seconds, engine, choices, cached=True
    )


def store(result: ScenarioResult, limits: Limits | None) -> None:
    """Keep ``result`` if it is conclusive."""
    if result.verdict is Verdict.INCONCLUSIVE or result.cached:
        return
    ex = result.exploration
    entry = {
        "scenario": result.scenario.key,
        "verdict": result.verdict.value,
        "outcome": ex.outcome.value,
        "executions": result.executions,
        "seconds": result.seconds,
        "witness": list(result.witness) if result.witness is not None else None,
        "positive": ex.positive,
        "negative": ex.negative,
        "procedure": ex.procedure,
    }
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(entry, f)
        os.replace(tmp, directory / f"{key(result.scenario, result.engine, limits)}.json")
    except OSError:
        return
