"""The ILS watch reports health and the offline queue to the machines, once per change."""

from __future__ import annotations

import threading
from datetime import datetime

from kiosk.circulation.events import IlsHealth, OfflineQueueChanged
from kiosk.shell.ils_watch import IlsWatch, queue_event
from kiosk.sync.journal import Journal


class FakeGateway:
    def __init__(self) -> None:
        self.connected = False
        self.probes = 0

    def heartbeat(self) -> bool:
        self.probes += 1
        return self.connected

    def health(self) -> IlsHealth:
        return IlsHealth(connected=self.connected, latency_ms=None, last_error="" if self.connected else "down")


def test_queue_event_counts_what_waits(tmp_path) -> None:
    journal = Journal.open(tmp_path / "journal.sqlite")
    try:
        assert queue_event(journal) == OfflineQueueChanged(waiting=0, needs_staff=0, oldest="")
        journal.queue_offline("checkin", patron_id=None, item_id="31234000000016",
                              transaction_date=datetime(2026, 11, 27, 10, 0))
        event = queue_event(journal)
        assert event.waiting == 1 and event.needs_staff == 0 and event.oldest
    finally:
        journal.close()


def test_reports_only_changes_and_survives_a_failing_receiver(tmp_path) -> None:
    journal = Journal.open(tmp_path / "journal.sqlite")
    gateway = FakeGateway()
    seen: list[object] = []

    def broken(event: object) -> None:
        raise RuntimeError("receiver crashed")

    watch = IlsWatch(gateway, journal, [broken, seen.append])
    try:
        watch.check()
        watch.check()  # nothing changed: nothing new reported
        assert [type(e) for e in seen] == [IlsHealth, OfflineQueueChanged]
        gateway.connected = True
        journal.queue_offline("checkin", patron_id=None, item_id="31234000000024",
                              transaction_date=datetime(2026, 11, 27, 10, 5))
        watch.check()
        assert seen[-2] == IlsHealth(connected=True, latency_ms=None, last_error="")
        assert isinstance(seen[-1], OfflineQueueChanged) and seen[-1].waiting == 1
        assert gateway.probes == 3
    finally:
        journal.close()


def test_the_thread_stops_on_close(tmp_path) -> None:
    journal = Journal.open(tmp_path / "journal.sqlite")
    before = threading.active_count()
    got = threading.Event()
    watch = IlsWatch(FakeGateway(), journal, [lambda e: got.set()], interval=0.05).start()
    try:
        assert got.wait(2)
    finally:
        watch.close()
        journal.close()
    assert threading.active_count() == before
