"""Where the kernel's model files live for the tests: $PINLAB_SHARED/lkmm.

They are the kernel's and herdtools7's files, read at run time and never
copied into the repository; the tests that need them skip without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PINLAB_SHARED", REPO.parent / "shared")).resolve()
LKMM = SHARED / "lkmm"
CFG = LKMM / "linux-kernel.cfg"

NEEDS_LKMM = pytest.mark.skipif(
    not CFG.is_file(),
    reason=f"no kernel memory-model files at {LKMM}: set PINLAB_SHARED to the folder holding lkmm/",
)
