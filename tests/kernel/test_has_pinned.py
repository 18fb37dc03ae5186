"""mm->has_pinned in its designs: the first posting (READ_ONCE/WRITE_ONCE) and the
merged atomic_t are the same events to the memory model."""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import Any

import pytest

from pinlab.kernel.eras import ERAS, V5_9, V5_9_ONCE, HasPinned
from pinlab.kernel.internal import mm_has_pinned, mm_set_has_pinned_flag
from pinlab.kernel.mm_types import Cpu, Machine, MmStruct


def _ops(gen: Generator[Any, Any, Any], value: int = 0) -> list[Any]:
    """Every operation the path yields, each load answered with ``value``."""
    ops: list[Any] = []
    try:
        op = next(gen)
        while True:
            ops.append(op)
            op = gen.send(value)
    except StopIteration:
        return ops


def test_the_posted_design_is_a_design_era_not_a_release() -> None:
    assert V5_9_ONCE not in ERAS
    assert V5_9_ONCE.has_pinned is HasPinned.ONCE
    assert dataclasses.replace(V5_9_ONCE, name=V5_9.name, summary=V5_9.summary,
                               has_pinned=HasPinned.ATOMIC) == V5_9  # fmt: skip


@pytest.mark.parametrize("path", ["set", "test"])
def test_once_and_atomic_yield_the_same_events(path: str) -> None:
    """linux-kernel.def: atomic_set() is WRITE_ONCE(), atomic_read() is READ_ONCE()."""
    mm = MmStruct("mm1")
    seen = []
    for era in (V5_9, V5_9_ONCE):
        cpu = Cpu(Machine(era))
        gen = mm_set_has_pinned_flag(cpu, mm) if path == "set" else mm_has_pinned(cpu, mm)
        seen.append(_ops(gen, 1))
    assert seen[0] and seen[0] == seen[1]
