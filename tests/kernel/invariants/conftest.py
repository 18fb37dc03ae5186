"""Helpers for the invariant tests: break a promise, see which invariant says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pinlab.kernel.checker import InvariantViolation
from pinlab.kernel.process import System


def _broken(system: System, action: Callable[[], Any] | None = None) -> str:
    """The id of the promised invariant that stops the run (after ``action``)."""
    with pytest.raises(InvariantViolation) as info:
        if action is not None:
            action()
        system.settle("test")
    return info.value.violation.invariant.id


@pytest.fixture
def broken() -> Callable[..., str]:
    return _broken
