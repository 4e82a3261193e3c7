"""Retention, judged on the bytes of the SD card: after the purge a settled transaction's patron id
is in no journal file (database, WAL, shared memory), even if the power goes before either process
closes the journal; ids the journal still needs (unsettled, or inside the window) are still there."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils import scenarios as S
from kiosk.sync.journal import Answer, Journal, Kind, mask_patron_id
from kiosk.sync.replay import Replayer, ReplayOptions, run
from sip2.client import ClientConfig, SIP2Client
from sip2.dialects import get_dialect

PAST = "29000000000777"  # settled 31 days ago: must go
QUEUED = "29000000000888"  # still waiting for the ILS: must stay
RECENT = "29000000000999"  # settled 5 days ago: inside the window, stays
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def on_disk(path: Path) -> bytes:
    """Every journal file as it is now, as a thief pulling the card would find it."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.iterdir()) if p.name.startswith(path.name))


@pytest.fixture
def clock() -> list[datetime]:
    return [START]


@pytest.fixture
def journals(tmp_path: Path, clock: list[datetime]) -> Iterator[tuple[Journal, Journal]]:
    """The kiosk's and kiosk sync's connections to one journal file, both open throughout."""
    path = tmp_path / "journal.sqlite"
    with Journal.open(path, clock=lambda: clock[0]) as kiosk, Journal.open(path, clock=lambda: clock[0]) as sync:
        assert kiosk.own("kiosk") and sync.own("sync")
        yield kiosk, sync


def fill(kiosk: Journal, clock: list[datetime], count: int = 400) -> None:
    when = START.replace(tzinfo=None)
    for i in range(count):  # enough rows to spread over many pages and WAL frames
        tx = kiosk.begin_online(Kind.CHECKOUT, patron_id=PAST, item_id=f"3100{i:010d}", transaction_date=when,
                                owner="kiosk").id
        kiosk.confirm(tx, Answer(True, due_date="20260315    235959"))
    kiosk.queue_offline(Kind.CHECKOUT, patron_id=QUEUED, item_id="31009999999999", transaction_date=when,
                        nb_due_date=when + timedelta(days=14))
    clock[0] += timedelta(days=26)
    tx = kiosk.begin_online(Kind.RENEW, patron_id=RECENT, item_id="31000000000001", transaction_date=when,
                            owner="kiosk").id
    kiosk.confirm(tx, Answer(True))
    clock[0] += timedelta(days=5)


def test_a_purge_leaves_no_copy_of_a_settled_patron_id_on_disk(journals, clock) -> None:
    kiosk, sync = journals
    fill(kiosk, clock)
    assert PAST.encode() in on_disk(kiosk.path)  # the search finds what is there

    assert sync.purge(30) == 400

    stored = on_disk(kiosk.path)
    assert PAST.encode() not in stored
    assert mask_patron_id(PAST).encode() in stored
    assert QUEUED.encode() in stored and RECENT.encode() in stored
    # the kiosk goes on writing after the purge, and what it writes does not bring the old ids back
    tx = kiosk.begin_online(Kind.CHECKOUT, patron_id=RECENT, item_id="31000000000002",
                            transaction_date=clock[0].replace(tzinfo=None), owner="kiosk").id
    kiosk.confirm(tx, Answer(True))
    assert PAST.encode() not in on_disk(kiosk.path)


def test_a_window_of_zero_days_masks_every_settled_transaction_but_not_the_queue(journals, clock) -> None:
    kiosk, sync = journals
    fill(kiosk, clock, count=20)
    assert sync.purge(0) == 21
    stored = on_disk(kiosk.path)
    assert PAST.encode() not in stored and RECENT.encode() not in stored
    assert QUEUED.encode() in stored


@pytest.fixture(scope="module")
def sim() -> Iterator[IlsSimulator]:
    with IlsSimulator() as server:
        yield server


def test_the_kiosk_sync_loop_purges_by_the_configured_window(tmp_path: Path, sim: IlsSimulator) -> None:
    """The purge a running kiosk relies on is the one ``kiosk sync`` does, with [journal] retention_days."""
    path = tmp_path / "journal.sqlite"
    long_ago = datetime.now(UTC) - timedelta(days=10)
    with Journal.open(path, clock=lambda: long_ago) as kiosk:
        assert kiosk.own("kiosk")
        tx = kiosk.begin_online(Kind.CHECKOUT, patron_id=S.PATRON_CLEAN.id, item_id=S.AVAILABLE_BOOKS[0],
                                transaction_date=long_ago.replace(tzinfo=None), owner="kiosk").id
        kiosk.confirm(tx, Answer(True))
    host, port = sim.address
    client = SIP2Client(ClientConfig(host=host, port=port, username=S.LOGIN_USER, timeout=2.0))
    try:
        with Journal.open(path) as journal:
            assert journal.own("sync")
            replayer = Replayer(journal, client, get_dialect("generic"), ReplayOptions(lost_answer_wait=0.0))
            assert run(replayer, once=True, stop=threading.Event(), retention_days=30) == 0
            assert journal.get(tx).patron_id == S.PATRON_CLEAN.id  # 10 days: inside a 30-day window
            assert run(replayer, once=True, stop=threading.Event(), retention_days=7) == 0
            assert journal.get(tx).patron_id == mask_patron_id(S.PATRON_CLEAN.id)
            assert S.PATRON_CLEAN.id.encode() not in on_disk(path)
    finally:
        client.close()
