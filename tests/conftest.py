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

# Kivy reads its environment when first imported, wherever that happens in the run: set it here,
# before any test module is collected. Screens render offscreen (EGL + Mesa, no X): see
# ../shared/reference/platform.md §1.2. Kivy keeps its config and logs out of ~/.kivy, leaves
# pytest's argv alone and logs through Python's logging.
_KIVY_HOME = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "kivy-home")
os.environ.setdefault("KIVY_HOME", _KIVY_HOME)
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_METRICS_DENSITY", "1")
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
# Kivy creates KIVY_HOME but not its parent (build/ is missing on a fresh checkout).
os.makedirs(os.environ["KIVY_HOME"], exist_ok=True)
# The window's size is fixed when it is made, which may be at the import of any Kivy module that
# needs it (TextInput does), and the offscreen driver never resizes it: Kivy's environment
# overrides make it 1024x600 wherever that is. No stale config.ini from an earlier run.
os.environ.setdefault("KCFG_GRAPHICS_WIDTH", "1024")
os.environ.setdefault("KCFG_GRAPHICS_HEIGHT", "600")
os.environ.setdefault("KCFG_KIVY_EXIT_ON_ESCAPE", "0")
os.environ.setdefault("KIVY_USE_DEFAULTCONFIG", "1")

#: Where UI tests keep their screenshots (CI keeps the folder as test artifacts).
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "artifacts")
