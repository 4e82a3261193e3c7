"""Named one-shot timers: deadlines on an injected clock, stale fires refused, a thread that stops."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from kiosk.shell.timers import TimerService


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = threading.active_count()
    yield
    assert threading.active_count() == before


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_timers_fire_in_deadline_order_once_and_only_a_current_fire_is_claimed() -> None:
    clock, fired = Clock(), []
    timers = TimerService(clock=clock, threaded=False)
    timers.attach(lambda name, gen: fired.append((name, gen)))
    a = timers.start("a", 30)
    b = timers.start("b", 10)
    assert timers.pending() == {"a": 30, "b": 10}
    clock.now += 40
    assert timers.tick() == ["b", "a"]  # earliest deadline first
    assert [name for name, _ in fired] == ["b", "a"]
    assert timers.tick() == []
    assert timers.claim("a", a) and not timers.claim("a", a)  # once
    restarted = timers.start("b", 5)  # restarted before its fire was claimed: that fire is stale
    assert not timers.claim("b", b)
    clock.now += 5
    timers.tick()
    assert timers.claim("b", restarted)
    c = timers.start("c", 1)
    timers.cancel("c")
    clock.now += 2
    assert timers.tick() == [] and not timers.claim("c", c)
    timers.close()


def test_the_scheduler_thread_fires_on_time_and_stops_on_close() -> None:
    fired = threading.Event()
    timers = TimerService()
    timers.attach(lambda name, gen: fired.set() if timers.claim(name, gen) else None)
    timers.start("later", 3600)
    timers.start("soon", 0.01)
    assert fired.wait(5)
    assert list(timers.pending()) == ["later"]
    timers.close()
    timers.start("after close", 0)  # accepted but never fired: nothing runs any more
