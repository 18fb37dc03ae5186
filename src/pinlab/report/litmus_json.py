"""One JSON record per litmus test: herd7's verdict plus the explorer's figures."""

from __future__ import annotations

from typing import Any

from pinlab.litmus.verdict import Verdict

__all__ = ["record"]


def record(
    v: Verdict, *, path: str, model: str, judged: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A JSON-ready dict; ``judged`` is the ``Result:`` judgement when one was asked for."""
    rec: dict[str, Any] = {
        "test": v.name,
        "path": path,
        "model": model,
        "kind": v.kind,
        "outcome": v.outcome,
        "states": [dict(state) for state in v.states],
        "ok": v.ok,
        "loop": v.loop,
        "positive": v.positive,
        "negative": v.negative,
        "flags": list(v.flags),
        "condition": v.condition,
        "observation": v.observation,
        "seconds": round(v.seconds, 6),
        "explored": v.explored,
        "consistent": v.consistent,
        "speedcheck": v.speedcheck,
    }
    if v.hash is not None:
        rec["hash"] = v.hash
    if judged is not None:
        rec["judge"] = judged
    return rec
