"""Where the shared litmus data lives: $PINLAB_SHARED/litmus, default <repo>/../shared/litmus."""

from __future__ import annotations

import csv
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PINLAB_SHARED", REPO.parent / "shared")).resolve()
LITMUS = SHARED / "litmus"


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
