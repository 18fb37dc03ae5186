"""herd's cat language: memory models read from their own files at run time.

``load_cat("tools/memory-model/linux-kernel.cfg")`` gives a
:class:`CatModel`, which the engine and the litmus front end take wherever
they take a model (``run_file(path, model)``, ``decide(program, model)``).
:mod:`.parse` reads the language (grammar ``cat.lark``), :mod:`.deffile`
herd's ``.def`` macro tables, :mod:`.compile` and :mod:`.program` evaluate a
model on an execution graph whose primitives :mod:`.graphbase` provides,
and :mod:`.model` puts the files together.  Every error is a
:class:`CatError` at ``file:line:col``.
"""

from __future__ import annotations

from pinlab.cat.deffile import DefTable, parse_def, read_def
from pinlab.cat.errors import CatError, Pos
from pinlab.cat.model import CatModel, Config, load_cat, read_cfg
from pinlab.cat.parse import parse_text, read_model

__all__ = [
    "CatError",
    "CatModel",
    "Config",
    "DefTable",
    "Pos",
    "load_cat",
    "parse_def",
    "parse_text",
    "read_cfg",
    "read_def",
    "read_model",
]
