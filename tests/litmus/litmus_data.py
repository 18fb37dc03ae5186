"""Where the shared litmus data lives: $PINLAB_SHARED/litmus, default <repo>/../shared/litmus."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

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
