"""Shared pytest setup: hypothesis profiles.

``ci`` is derandomized (a fixed seed per test, no example database), so a CI run never
flakes on a new random example; it is loaded whenever the environment variable ``CI`` is
set. Locally the default profile keeps exploring new examples.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)

if os.environ.get("CI"):
    settings.load_profile("ci")
