"""Test-wide settings.

Hypothesis runs derandomized by default, so that CI on a clean clone sees the
same examples every time (a property found failing is then pinned with
``@example``).  ``--hypothesis-profile=search`` draws fresh random examples,
five times as many: the way to look for new counterexamples.
"""

from __future__ import annotations

import os
import secrets

import pytest
from hypothesis import settings

# The Ray instances the tests start (--ray) authenticate with this process's own
# token (Ray reads it from the environment, and keeps the first it reads), not
# ~/.ray/auth_token, which two test processes could be writing at once.
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))

settings.register_profile("ci", derandomize=True)
settings.register_profile("search", derandomize=False, max_examples=500)
settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "corpus_required: drawn from the shared litmus corpus; fails without it"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test drawn from the shared litmus corpus fails when the corpus is
    absent (it only gets here under CI=true: elsewhere it skipped first)."""
    if item.get_closest_marker("corpus_required") is None:
        return
    from tests.litmus.litmus_data import AVAILABLE, LITMUS

    if not AVAILABLE:
        pytest.fail(f"no shared litmus corpus at {LITMUS}; CI=true requires it (PINLAB_SHARED)")


@pytest.fixture(autouse=True)
def _fresh_results_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test starts with an empty results cache of its own (pinlab check's
    stored verdicts), never the user's, and with PINLAB_JOBS=1."""
    monkeypatch.setenv("PINLAB_CACHE_DIR", str(tmp_path_factory.mktemp("pinlab-cache")))
    # One process per command unless a test asks for workers (pytest -n runs
    # tests side by side already): --jobs defaults to $PINLAB_JOBS.
    monkeypatch.setenv("PINLAB_JOBS", "1")
