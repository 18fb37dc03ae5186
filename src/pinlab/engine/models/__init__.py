"""Memory models: named axioms over execution graphs.

``get_model("sc")`` and ``get_model("lkmm")`` return the models by name.
"""

from __future__ import annotations

from pinlab.engine.models.base import Model, Verdict
from pinlab.engine.models.lkmm import LKMM
from pinlab.engine.models.sc import SC

__all__ = ["MODELS", "Model", "Verdict", "get_model"]

MODELS: dict[str, Model] = {"sc": SC, "lkmm": LKMM}


def get_model(name: str) -> Model:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ValueError(f"unknown memory model {name!r} (known: {known})") from None
