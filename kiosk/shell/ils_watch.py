"""Keeps the core told about the ILS and the offline queue, on one background thread.

Every ``interval`` it lets the gateway probe the ILS when a probe is due (coming back online and
settling orphans is the gateway's business), then reports the ILS's health and the journal's queue
to the machines, only when either changed: staff mode shows both, and the patron session knows it is
working offline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from kiosk.circulation.events import Event, IlsHealth, OfflineQueueChanged
from kiosk.sync.journal import Journal

log = logging.getLogger("kiosk.shell.ils_watch")


class WatchedGateway(Protocol):
    def heartbeat(self) -> bool: ...

    def health(self) -> IlsHealth: ...


def queue_event(journal: Journal) -> OfflineQueueChanged:
    """The journal's queue as the core sees it: waiting for replay, needing staff, oldest waiting."""
    head = journal.queue_head()
    oldest = head.created_at.astimezone().strftime("%Y-%m-%d %H:%M") if head is not None else ""
    return OfflineQueueChanged(waiting=journal.backlog(), needs_staff=len(journal.needs_staff()), oldest=oldest)


class IlsWatch:
    def __init__(
        self,
        gateway: WatchedGateway,
        journal: Journal,
        submits: Sequence[Callable[[Event], object]],
        *,
        interval: float = 5.0,
    ) -> None:
        self._gateway = gateway
        self._journal = journal
        self._submits = tuple(submits)
        self._interval = interval
        self._stop = threading.Event()
        self._last: tuple[IlsHealth | None, OfflineQueueChanged | None] = (None, None)
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        """One round: probe if due, then report what changed. Never raises (a watch that dies is
        worse than one that missed a round); failures are logged for IT."""
        try:
            self._gateway.heartbeat()
            health = self._gateway.health()
            queue = queue_event(self._journal)
        except Exception:
            log.exception("ILS watch round failed")
            return
        last_health, last_queue = self._last
        self._last = (health, queue)
        for event, before in ((health, last_health), (queue, last_queue)):
            if event != before:
                for submit in self._submits:
                    try:
                        submit(event)
                    except Exception:
                        log.exception("could not deliver %s", type(event).__name__)

    def start(self) -> IlsWatch:
        self._thread = threading.Thread(target=self._run, name="ils-watch", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check()
            self._stop.wait(self._interval)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
