"""Memory models: named axioms over execution graphs.

``get_model("sc")`` and ``get_model("lkmm")`` return the models by name;
a model read from files (:func:`pinlab.cat.load_cat`) is known by its name
once :func:`register` ed, in this process and in the worker processes it
starts (pinlab.parallel sends such models to Ray workers).
"""

from __future__ import annotations

from pinlab.engine.models.base import Model, Verdict
from pinlab.engine.models.lkmm import LKMM
from pinlab.engine.models.sc import SC

__all__ = ["BUILT_IN", "MODELS", "Model", "Verdict", "get_model", "register"]

BUILT_IN: frozenset[str] = frozenset({"sc", "lkmm"})
MODELS: dict[str, Model] = {"sc": SC, "lkmm": LKMM}


def register(model: Model) -> None:
    """Make ``model`` known to :func:`get_model` by its name (not a built-in's)."""
    if model.name in BUILT_IN:
        raise ValueError(f"{model.name!r} is a built-in model's name")
    MODELS[model.name] = model


def get_model(name: str) -> Model:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ValueError(f"unknown memory model {name!r} (known: {known})") from None
