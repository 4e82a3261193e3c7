"""A patron session while the ILS is down, then the replay once it is back: the whole kiosk (runner,
core, journaled gateway, FEIG driver and tag watcher on the simulated pad) against the simulated
ILS, judged by the pad's security bits, the printed receipt, and the ILS's ledger after the replay."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils import scenarios as S
from hardware_mocks.pad import VirtualPad
from kiosk.circulation.events import PinEntered, Pressed
from kiosk.circulation.rows import RowKind, RowState
from kiosk.circulation.session import PatronSessionMachine, Phase
from kiosk.config import CirculationSettings, OfflineSettings
from kiosk.hardware.rfid.readers.feig import FeigReader
from kiosk.hardware.rfid.readers.shared import SharedReader
from kiosk.hardware.rfid.security import SecurityScheme, SecurityState
from kiosk.hardware.rfid.watcher import TagWatcher
from kiosk.ils.journaled import JournaledGateway
from kiosk.runner import Runner
from kiosk.shell.inputs import watcher_feed
from kiosk.shell.outputs import MemoryDiverter, MemoryPrinter, Outputs
from kiosk.shell.tag_security import TagSecurity
from kiosk.sync.journal import Journal, State
from kiosk.sync.replay import Replayer, ReplayOptions
from sip2.client import ClientConfig, SIP2Client, SIP2Pool
from sip2.dialects import get_dialect

WAIT = 10.0
SCHEME = SecurityScheme()
#: The session happened two hours before the replay: the ILS must get this time, not the replay's.
WHEN = datetime.now().replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture
def ils() -> Iterator[IlsSimulator]:
    with IlsSimulator() as sim:
        yield sim


def config(ils: IlsSimulator) -> ClientConfig:
    return ClientConfig(host=ils.host, port=ils.port, username=S.LOGIN_USER, password=S.LOGIN_PASSWORD,
                        institution_id=S.INSTITUTION, timeout=2.0, connect_timeout=1.0, heartbeat_interval=3600)


def test_offline_session_then_replay_applies_each_transaction_once_with_its_original_date(
    ils: IlsSimulator, tmp_path: Path
) -> None:
    patron = S.PATRON_VALID
    books = list(S.AVAILABLE_BOOKS[:2])
    returned = S.ITEM_RENEWABLE  # on loan to the patron
    path = tmp_path / "journal.sqlite"
    journal = Journal.open(path)
    ils.stop()  # the ILS is down before the kiosk starts

    pad = VirtualPad(scheme=SCHEME).start()
    reader = SharedReader(FeigReader(pad.path))
    gateway = JournaledGateway(SIP2Pool(config(ils), size=2), journal,
                               OfflineSettings(mode="checkin_and_checkout", patron_pattern=r"2\d{13}"),
                               now=lambda: WHEN)
    printer = MemoryPrinter()
    machine = PatronSessionMachine(CirculationSettings(pin_required=True, receipt="ask"))
    runner = Runner(machine, gateway=gateway, tags=TagSecurity(reader, SCHEME),
                    outputs=Outputs(printer=printer, diverter=MemoryDiverter()))
    runner.start()
    watcher = TagWatcher(reader, on_event=watcher_feed(runner.submit)).start()
    try:
        pad.place_patron_card(patron.id)
        runner.wait_for(lambda s: s.phase is Phase.PIN, WAIT)
        pad.remove(patron.id)
        runner.submit(PinEntered("0000"))  # not checkable offline: accepted on the card's pattern
        active = runner.wait_for(lambda s: s.phase is Phase.ACTIVE, WAIT)
        assert active.account.offline and active.notice.id == "patron.offline"

        for book in books:
            pad.place_item(book)
        state = runner.wait_for(lambda s: all(
            (r := s.row(RowKind.BORROW, b)) is not None and r.state is RowState.DONE for b in books), WAIT)
        for book in books:
            row = state.row(RowKind.BORROW, book)
            assert row.offline and row.message.id == "item.done_offline"
            assert row.due == (WHEN + timedelta(days=14)).date().isoformat()
        # security released exactly as online
        assert {t.barcode: t.security for t in pad.tags_on_pad()} == dict.fromkeys(books, SecurityState.ON_LOAN)
        for book in books:
            pad.remove(book)
        runner.wait_for(lambda s: not s.pad.items, WAIT)

        runner.submit(Pressed("return"))
        pad.place_item(returned)
        state = runner.wait_for(lambda s: (r := s.row(RowKind.RETURN, returned)) is not None
                                and r.state is RowState.DONE, WAIT)
        assert state.row(RowKind.RETURN, returned).message.id == "return.done_offline"
        assert {t.barcode: t.security for t in pad.tags_on_pad()} == {returned: SecurityState.IN_LIBRARY}

        runner.submit(Pressed("finish"))
        runner.wait_for(lambda s: s.phase is Phase.RECEIPT, WAIT)
        runner.submit(Pressed("receipt_print"))
        runner.wait_for(lambda s: s.phase is Phase.IDLE, WAIT)
    finally:
        watcher.stop()
        runner.close()
        gateway.close()
        pad.stop()
    (_, lines), = printer.printed
    text = [line.text for line in lines]
    assert text.count(f"  due {(WHEN + timedelta(days=14)).date().isoformat()}; recorded offline") == 2
    assert "  returned; recorded offline" in text
    assert ils.library.ledger() == []  # nothing reached the ILS yet
    assert journal.backlog() == 3

    # The ILS comes back; kiosk sync (in-process) replays the queue.
    ils.start()
    seen: list[tuple[str, str, datetime | None, bool]] = []
    handle, lock = ils.app.handle, threading.Lock()

    def watching(request, ctx):
        if request.code in ("11", "09"):
            with lock:
                seen.append((request.code, request.item_id, request.transaction_date, request.no_block))
        return handle(request, ctx)

    ils.app.handle = watching
    sync_journal = Journal.open(path)
    client = SIP2Client(config(ils))
    try:
        assert sync_journal.own("sync")
        client.connect()
        stats = Replayer(sync_journal, client, get_dialect(ils.dialect),
                         ReplayOptions(lost_answer_wait=0.0)).drain()
    finally:
        ils.app.handle = handle
        client.close()
        sync_journal.close()
    assert stats.replayed == 3 and stats.rejected == 0

    # the two checkouts went to the gateway in parallel: the journal's order is the order they happened
    order = [t.item_id for t in journal.transactions()]
    assert sorted(order[:2]) == sorted(books) and order[2] == returned
    ledger = [(e.message, e.item, e.patron, e.applied, e.no_block) for e in ils.library.ledger()]
    assert ledger == [
        ("11", order[0], patron.id, True, True),
        ("11", order[1], patron.id, True, True),
        ("09", returned, patron.id, True, True),
    ]
    assert seen == [("11", order[0], WHEN, True), ("11", order[1], WHEN, True), ("09", returned, WHEN, True)]
    assert [t.state for t in journal.transactions()] == [State.REPLAYED] * 3
    journal.close()
