"""A reference copy at the kiosk while the ILS is down: the patron session (the pure core) with the real
journaled gateway and the offline policy against the simulated ILS, one command at a time.

Offline the kiosk cannot ask the ILS whether an item may go out, and the replay sends its checkouts
with "no block", so lending what the item's own tag says is not for circulation would force a loan on
the ILS later. The tag's word travels from the pad to the policy; online nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from circulation_drive import Desk, all_of, on_pad, only, tag

from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils import scenarios as S
from kiosk.circulation.commands import CheckOut, Command, LookUpPatron, SetSecurity
from kiosk.circulation.events import (
    CardPresented,
    IlsFailed,
    ItemScanned,
    PinEntered,
    Pressed,
)
from kiosk.circulation.model import Failure, FailureKind, PadItem, PatronAccount
from kiosk.circulation.rows import RowKind, RowState
from kiosk.circulation.session import PatronSessionMachine, Phase, SessionState
from kiosk.circulation.session_text import MESSAGES, render
from kiosk.config import CirculationSettings, OfflineSettings
from kiosk.ils.journaled import JournaledGateway
from kiosk.ils.offline import LIBRARY_USE_ONLY, Reachability
from kiosk.sync.journal import Journal, Kind, Mode, State
from sip2.client import ClientConfig, SIP2Pool

NOW = datetime(2025, 3, 10, 14, 30, 5)
PATRON = S.PATRON_CLEAN
REFERENCE = S.ITEM_NOT_FOR_LOAN  # the ILS holds it as not for loan, and its tag says so
BOOK = S.AVAILABLE_BOOKS[0]
REF_TAG = tag(REFERENCE, 1, usage="not_for_circulation")
BOOK_TAG = tag(BOOK, 2, usage="circulating_item")


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.sqlite") as j:
        yield j


@pytest.fixture
def gateway(sim: IlsSimulator, journal: Journal) -> Iterator[JournaledGateway]:
    config = ClientConfig(host=sim.host, port=sim.port, username=S.LOGIN_USER, password=S.LOGIN_PASSWORD,
                          institution_id=S.INSTITUTION, timeout=2.0, connect_timeout=1.0, heartbeat_interval=3600)
    gw = JournaledGateway(SIP2Pool(config, size=1), journal,
                          OfflineSettings(mode="checkin_and_checkout", patron_pattern=r"2\d{13}"), now=lambda: NOW,
                          reachability=Reachability(probe_min=60.0, probe_max=60.0, clock=lambda: 0.0))
    gw.open()
    yield gw
    gw.close()


class Kiosk:
    """The core, with the gateway answering its ILS commands as the runner would."""

    def __init__(self, gateway: JournaledGateway) -> None:
        self.gateway = gateway
        self.machine = PatronSessionMachine(CirculationSettings(pin_required=True, receipt="never"))
        self.state, _ = self.machine.start()
        self.sent: list[Command] = []

    def step(self, event: object) -> list[Command]:
        self.state, commands = self.machine.step(self.state, event)
        for command in commands:
            if isinstance(command, LookUpPatron | CheckOut):
                self.sent.append(command)
                answer = (self.gateway.look_up_patron(command) if isinstance(command, LookUpPatron)
                          else self.gateway.check_out(command))
                commands = [*commands, *self.step(answer)]
        return commands

    def identified(self) -> SessionState:
        self.step(CardPresented(PATRON.id))
        self.step(PinEntered(PATRON.pin))
        assert self.state.phase is Phase.ACTIVE, self.state
        return self.state

    def checkouts(self) -> list[CheckOut]:
        return all_of(CheckOut, self.sent)


def test_offline_a_reference_copys_tag_gets_it_refused_with_its_reason_and_nothing_journaled(
    sim: IlsSimulator, gateway: JournaledGateway, journal: Journal
) -> None:
    sim.stop()
    kiosk = Kiosk(gateway)
    assert kiosk.identified().account.offline
    commands = kiosk.step(on_pad(REF_TAG, BOOK_TAG))
    (asked_ref, asked_book) = kiosk.checkouts()
    assert (asked_ref.item_id, asked_ref.tag_usages) == (REFERENCE, ("not_for_circulation",))
    assert (asked_book.item_id, asked_book.tag_usages) == (BOOK, ("circulating_item",))
    reference = kiosk.state.row(RowKind.BORROW, REFERENCE)
    assert reference.state is RowState.REFUSED and reference.message.id == LIBRARY_USE_ONLY
    assert render(reference.message) == "Not checked out: this item is for use in the library only."
    assert LIBRARY_USE_ONLY in MESSAGES
    # its alarm stays on: the only security write is the circulating book's, lent offline as before
    security = only(SetSecurity, commands)
    assert security.uids == (BOOK_TAG.uid,) and security.on_loan
    book = kiosk.state.row(RowKind.BORROW, BOOK)
    assert book.confirmed and book.offline and book.state is RowState.SECURING
    # nothing for the reference copy waits for the replay: only the book's checkout is queued
    assert [(t.item_id, t.mode, t.state) for t in journal.transactions()] == [(BOOK, Mode.OFFLINE, State.QUEUED)]


def test_the_ils_found_away_during_the_checkout_refuses_the_reference_copy_too(
    sim: IlsSimulator, gateway: JournaledGateway, journal: Journal
) -> None:
    """Online when the session began, the ILS gone by the time the book is put down: the checkout's
    intent was journaled, the offline policy takes over, and it is not queued."""
    kiosk = Kiosk(gateway)
    assert not kiosk.identified().account.offline
    sim.stop()
    kiosk.step(on_pad(REF_TAG))
    assert kiosk.state.row(RowKind.BORROW, REFERENCE).message.id == LIBRARY_USE_ONLY
    assert [(t.kind, t.mode, t.state) for t in journal.transactions()] == [(Kind.CHECKOUT, Mode.ONLINE, State.FAILED)]
    assert journal.backlog() == 0


def test_online_the_ils_decides_whatever_the_tag_says(
    sim: IlsSimulator, gateway: JournaledGateway, journal: Journal
) -> None:
    kiosk = Kiosk(gateway)
    kiosk.identified()
    mislabelled = PadItem(BOOK_TAG.uid, BOOK, usage="not_for_circulation")  # the ILS lends it: so be it
    kiosk.step(on_pad(REF_TAG, mislabelled))
    reference = kiosk.state.row(RowKind.BORROW, REFERENCE)
    assert reference.state is RowState.REFUSED and reference.message.id == "item.refused"
    assert "Item not for loan" in render(reference.message)  # the ILS's own words
    book = kiosk.state.row(RowKind.BORROW, BOOK)
    assert book.confirmed and not book.offline
    assert sim.library.count(message="11", item=REFERENCE) == 1  # asked, as before
    assert sim.library.count(message="11", item=BOOK, applied=True) == 1
    assert [(t.item_id, t.state) for t in journal.transactions()] == [
        (REFERENCE, State.REFUSED), (BOOK, State.CONFIRMED),
    ]


def test_offline_a_scanned_item_has_no_tag_to_speak_for_it_and_goes_by_the_policy(
    sim: IlsSimulator, gateway: JournaledGateway, journal: Journal
) -> None:
    """A barcode says nothing about usage: only the ILS knows, and it is away (the replay may be refused)."""
    sim.stop()
    kiosk = Kiosk(gateway)
    kiosk.identified()
    kiosk.step(ItemScanned(REFERENCE))
    (checkout,) = kiosk.checkouts()
    assert checkout.tag_usages == ()
    row = kiosk.state.row(RowKind.BORROW, REFERENCE)
    assert row.confirmed and row.offline and row.state is RowState.UNTAGGED
    assert [(t.item_id, t.state) for t in journal.transactions()] == [(REFERENCE, State.QUEUED)]


def test_a_session_keeps_what_the_tag_said_for_a_retry_after_the_book_left_the_pad() -> None:
    """The row remembers the tag's word: a checkout asked again later (``retry``) still carries it."""
    desk = Desk(CirculationSettings(pin_required=False, receipt="never"))
    desk.identify(PatronAccount(PATRON.id, known=True, pin_ok=None), card=PATRON.id)
    first = desk.only(CheckOut, desk.feed(on_pad(REF_TAG)))
    desk.feed(IlsFailed(first.ref, Failure(FailureKind.UNREACHABLE, "down")))
    desk.feed(on_pad())  # lifted; the row could not be sent, so it stays
    again = desk.only(CheckOut, desk.feed(Pressed("retry")))
    assert again.tag_usages == ("not_for_circulation",) and again.ref != first.ref
