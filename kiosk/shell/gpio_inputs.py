"""The returns bin's GPIO inputs turned into core events: bin sensors into :class:`BinFull`, and the
drop-slot beam, together with the chute reader, into :class:`ItemDropped`.

A bin is unavailable while its full sensor is on *or* its door is open (staff are emptying it):
:func:`bin_event` combines the two and reports only real changes, so a full bin whose door opens
and closes again stays full in the core's eyes.

The beam says *that* an item passed; the chute reader (:class:`~kiosk.shell.inputs.ChuteFeed`) says
*which*. Every item the reader identifies is already a drop of its own; the beam adds what the reader
cannot see — an item with no tag, or one whose tag did not answer — as an ``ItemDropped`` with no item
id (the exceptions bin), once ``read_seconds`` passed after the beam without a tag drop to match it.
A tag drop that arrives before its beam (an antenna that reaches into the slot) is matched to the
next beam within the same time. Set ``read_seconds`` above the reader's time to a stable stack, or an
item that is merely slow to read is counted twice (once untagged).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from kiosk.circulation.events import BinFull, Event, ItemDropped
from kiosk.hardware.gpio import BinSensor
from kiosk.shell.timers import TimerService

log = logging.getLogger(__name__)

Submit = Callable[[Event], object]


@dataclass(frozen=True, slots=True)
class BinSensors:
    """Which bins' sensors are on, and which bins the core was told are full."""

    full: frozenset[str] = frozenset()
    doors_open: frozenset[str] = frozenset()
    reported: frozenset[str] = frozenset()


def bin_event(state: BinSensors, sensor: BinSensor) -> tuple[BinSensors, BinFull | None]:
    """Fold one sensor change in; a BinFull when the bin's availability changed."""
    field = "full" if sensor.sensor == "full" else "doors_open"
    current: frozenset[str] = getattr(state, field)
    updated = current | {sensor.bin} if sensor.active else current - {sensor.bin}
    state = replace(state, **{field: updated})
    unavailable = sensor.bin in state.full or sensor.bin in state.doors_open
    if unavailable == (sensor.bin in state.reported):
        return state, None
    reported = state.reported | {sensor.bin} if unavailable else state.reported - {sensor.bin}
    return replace(state, reported=reported), BinFull(sensor.bin, unavailable)


class DropBeam:
    """Matches beam breaks with the chute reader's drops (see the module docstring).

    Use :meth:`tag_drop` as the ChuteFeed's ``submit`` and call :meth:`beam` for each beam break.
    ``timers`` and ``clock`` are injectable so tests run time by hand.
    """

    def __init__(
        self,
        submit: Submit,
        read_seconds: float,
        *,
        timers: TimerService | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._submit = submit
        self.read_seconds = read_seconds
        self._owns_timers = timers is None
        self._timers = timers if timers is not None else TimerService(clock=clock)
        self._clock = clock
        self._lock = threading.Lock()
        self._waiting: dict[str, int] = {}  # beam timer name -> generation, oldest first
        self._early_tags: collections.deque[float] = collections.deque()  # tag drops with no beam yet
        self._beams = 0
        self._timers.attach(self._due)

    @property
    def early_tags(self) -> int:
        """Tag drops kept to match a beam still to come: those of the last ``read_seconds`` at most."""
        with self._lock:
            return len(self._early_tags)

    def _forget_early(self, now: float) -> None:
        """Drop the tag drops too old to match a beam. Done on every tag drop too, not only at a beam:
        with no beam wired, or a beam that stopped breaking, they would pile up one per item for as
        long as the process runs (bench/returns_memory.py)."""
        while self._early_tags and now - self._early_tags[0] > self.read_seconds:
            self._early_tags.popleft()

    def beam(self, at: float | None = None) -> None:
        """The beam was broken (``at``: monotonic time, default now)."""
        now = self._clock() if at is None else at
        with self._lock:
            self._forget_early(now)
            if self._early_tags:
                self._early_tags.popleft()
                return
            self._beams += 1
            name = f"beam-{self._beams}"
            self._waiting[name] = self._timers.start(name, self.read_seconds)

    def tag_drop(self, event: Event) -> object:
        """The chute reader's drop: passed on at once, and matched to the oldest waiting beam."""
        if isinstance(event, ItemDropped):
            with self._lock:
                if self._waiting:
                    name = next(iter(self._waiting))
                    del self._waiting[name]
                    self._timers.cancel(name)
                else:
                    now = self._clock()
                    self._forget_early(now)
                    self._early_tags.append(now)
        return self._submit(event)

    def _due(self, name: str, generation: int) -> None:
        if not self._timers.claim(name, generation):
            return
        with self._lock:
            if self._waiting.pop(name, None) is None:
                return
        log.info("drop beam: no tag read for %s; an untagged item", name)
        self._submit(ItemDropped(name, "", ()))

    def close(self) -> None:
        if self._owns_timers:
            self._timers.close()
