"""Settings shared by every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from hardware_mocks.ils import IlsSimulator

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


@pytest.fixture(scope="module")
def ils_server() -> Iterator[IlsSimulator]:
    """One simulated ILS (a real SIP2 server on loopback) per test module: cheaper than one per test."""
    from hardware_mocks.ils import IlsSimulator  # imported here: Kivy's environment above comes first

    with IlsSimulator() as server:
        yield server


@pytest.fixture
def sim(ils_server: IlsSimulator) -> Iterator[IlsSimulator]:
    """The module's simulated ILS as each test wants it: a fresh sample library and no faults, and
    listening again after a test that stopped it. A module's own ``sim`` fixture takes precedence."""
    ils_server.reset()
    yield ils_server
    ils_server.faults.reset()
    ils_server.start()
