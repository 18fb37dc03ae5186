"""Where the shared litmus data lives: $PINLAB_SHARED/litmus, default <repo>/../shared/litmus."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PINLAB_SHARED", REPO.parent / "shared")).resolve()
LITMUS = SHARED / "litmus"

# The tests that read the shared corpus skip without it, with one reason --
# except under CI=true, where the corpus must be there and its absence fails
# them (test_data.py's count check says where it looked).
AVAILABLE = LITMUS.is_dir()
_IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NEEDS_CORPUS = pytest.mark.skipif(
    not AVAILABLE and not _IN_CI,
    reason=f"no shared litmus corpus at {LITMUS}: set PINLAB_SHARED to the folder holding litmus/",
)


_REQUIRED = pytest.mark.corpus_required  # (tests/conftest.py fails it without the corpus)


def corpus(items: Sequence[T]) -> list[Any]:
    """Parameters drawn from the corpus, as they are; when there are none, one
    parameter ``no-corpus`` that skips with :data:`NEEDS_CORPUS`'s reason (and
    fails under CI=true) -- not pytest's silent "got empty parameter set"."""
    if items:
        return list(items)
    return [pytest.param(None, id="no-corpus", marks=[NEEDS_CORPUS, _REQUIRED])]


def litmus_files(sub: str = "") -> list[Path]:
    """Every ``.litmus`` file under ``LITMUS/sub``, sorted (empty when the data is absent)."""
    return sorted((LITMUS / sub).rglob("*.litmus")) if (LITMUS / sub).is_dir() else []


def rel(path: Path) -> str:
    return str(path.relative_to(LITMUS))


def tsv(sub: str) -> list[dict[str, str]]:
    """The rows of ``LITMUS/sub/expected.tsv``."""
    path = LITMUS / sub / "expected.tsv"
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))
