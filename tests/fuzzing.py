"""What the fuzz tests share (tests/litmus/test_fuzz.py, tests/cli/test_replay_fuzz.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def fuzz_settings(examples: int) -> settings:
    """``examples`` inputs, no per-input deadline (each run has its own time
    bound), and none of the health checks that large or slow inputs trip."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )
