"""Test-wide settings.

Hypothesis runs derandomized by default, so that CI on a clean clone sees the
same examples every time (a property found failing is then pinned with
``@example``).  ``--hypothesis-profile=search`` draws fresh random examples,
five times as many: the way to look for new counterexamples.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
settings.register_profile("search", derandomize=False, max_examples=500)
settings.load_profile("ci")
