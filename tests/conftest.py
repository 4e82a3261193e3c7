"""Settings shared by every test."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI runs the same examples every time (a red CI must be reproducible, not a lucky draw), and no
# test fails for being slow on a loaded 2-core machine: timing never decides a test here.
settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")
