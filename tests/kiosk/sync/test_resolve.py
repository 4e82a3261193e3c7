"""Settling a transaction lost in flight by asking the simulated ILS (17, 63), never by resending."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from hardware_mocks.ils import IlsSimulator, When
from hardware_mocks.ils import scenarios as S
from kiosk.sync import resolve as resolve_module
from kiosk.sync.journal import Journal, Kind, State, Transaction
from kiosk.sync.resolve import Verdict, charged_to, pre_image, resolve, settle
from sip2.client import ClientConfig, SIP2Client
from sip2.errors import OutcomeUnknown, SIP2ConnectionError
from sip2.fields import Summary

WHEN = datetime(2026, 3, 2, 10, 15, 0)
DUE = datetime(2026, 3, 23, 23, 59, 59)


@pytest.fixture(scope="module")
def sim() -> Iterator[IlsSimulator]:
    with IlsSimulator() as server:
        yield server


@pytest.fixture
def client(sim: IlsSimulator) -> Iterator[SIP2Client]:
    sim.reset()
    host, port = sim.address
    with SIP2Client(ClientConfig(host=host, port=port, username="demo", timeout=2)) as c:
        yield c


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.sqlite") as j:
        yield j


def in_flight(journal: Journal, kind: Kind, item: str, patron: str | None = S.PATRON_CLEAN.id) -> Transaction:
    """A replay claimed and (perhaps) sent: the state a crash leaves behind."""
    if kind is Kind.CHECKIN:
        journal.queue_offline(kind, patron_id=None, item_id=item, transaction_date=WHEN)
    else:
        journal.queue_offline(kind, patron_id=patron, item_id=item, transaction_date=WHEN, nb_due_date=DUE)
    head = journal.queue_head()
    assert head is not None
    return journal.claim("sync", 1, pre_images={head.id: ""})[0]


def lost(sim: IlsSimulator, send: object) -> None:
    """Send a request whose answer the ILS loses after applying it."""
    sim.faults.drop(when=When.AFTER_APPLY)
    with pytest.raises(OutcomeUnknown):
        send()  # type: ignore[operator]


# --- checkout -----------------------------------------------------------------------------------------


def test_a_checkout_applied_before_its_answer_was_lost_is_found_among_the_patrons_loans(
    sim: IlsSimulator, client: SIP2Client, journal: Journal
) -> None:
    tx = in_flight(journal, Kind.CHECKOUT, S.ITEM_AVAILABLE)
    lost(sim, lambda: client.checkout(tx.patron_id, tx.item_id, no_block=True))
    result = resolve(tx, client)
    assert result.verdict is Verdict.APPLIED
    assert result.evidence == "17: on loan; 63: among the patron's 1 charged items"
    assert result.due_date and result.title == "The Hobbit"
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 1  # asking changed nothing


def test_a_checkout_that_never_arrived_reads_as_not_applied_from_17_alone(
    sim: IlsSimulator, client: SIP2Client, journal: Journal
) -> None:
    tx = in_flight(journal, Kind.CHECKOUT, S.ITEM_AVAILABLE)
    sim.faults.drop(code="63")  # a trap: fires (and shows in faults.fired) only if a 63 is sent
    result = resolve(tx, client)
    assert (result.verdict, result.evidence) == (Verdict.NOT_APPLIED, "17: the item is not on loan (status 03)")
    assert [f.code for f in sim.faults.fired] == []


def test_an_item_charged_to_someone_else_is_not_this_checkout(
    sim: IlsSimulator, client: SIP2Client, journal: Journal
) -> None:
    # ITEM_RENEWABLE is on loan to PATRON_VALID; an offline checkout to PATRON_CLEAN never reached the ILS.
    tx = in_flight(journal, Kind.CHECKOUT, S.ITEM_RENEWABLE)
    result = resolve(tx, client)
    assert result.verdict is Verdict.NOT_APPLIED
    assert result.evidence == "17: on loan; 63: not among the patron's 0 charged items"
    # And once the no-block checkout did land (it closes the other patron's loan):
    lost(sim, lambda: client.checkout(tx.patron_id, tx.item_id, no_block=True))
    assert resolve(tx, client).verdict is Verdict.APPLIED


def test_63_is_paged_with_bp_bq_and_a_list_cut_short_settles_nothing(
    client: SIP2Client, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PATRON_VALID has 5 loans; with pages of 2 the last of them is on the third page.
    everything = client.patron_information(S.PATRON_VALID.id, summary=Summary.CHARGED_ITEMS).charged_items
    assert len(everything) == 5
    last = everything[-1]
    monkeypatch.setattr(resolve_module, "PAGE", 2)
    assert charged_to(client, S.PATRON_VALID.id, last) == (True, "63: among the patron's 5 charged items")
    assert charged_to(client, S.PATRON_VALID.id, S.ITEM_AVAILABLE) == (
        False, "63: not among the patron's 5 charged items")
    monkeypatch.setattr(resolve_module, "MAX_PAGES", 1)  # the ILS gave only part of the list
    tx = in_flight(journal, Kind.CHECKOUT, last, patron=S.PATRON_VALID.id)
    result = resolve(tx, client)
    assert (result.verdict, result.evidence) == (
        Verdict.UNDECIDABLE, "17: on loan; 63: the ILS listed 2 of the patron's 5 charged items, not this one")


def test_with_a_pin_the_ilss_refusal_of_it_makes_the_list_prove_nothing(client: SIP2Client) -> None:
    # The kiosk settles a lost answer with the patron's PIN; a list given for a refused PIN (CQ N) may
    # be empty or cut, so only a listed item counts.
    patron = S.PATRON_VALID
    on_loan = client.patron_information(patron.id, summary=Summary.CHARGED_ITEMS).charged_items[0]
    assert charged_to(client, patron.id, S.ITEM_AVAILABLE, pin=patron.pin) == (
        False, "63: not among the patron's 5 charged items")
    assert charged_to(client, patron.id, S.ITEM_AVAILABLE, pin="0000") == (
        None, "63: the ILS refused the patron's password, so its list proves nothing")
    assert charged_to(client, patron.id, on_loan, pin=patron.pin) == (True, "63: among the patron's 5 charged items")
    # this ILS withholds the list for a wrong PIN (as SIPServer and Koha do): even a loan is not seen
    assert charged_to(client, patron.id, on_loan, pin="0000")[0] is None


def test_an_unknown_patron_or_item_cannot_have_been_applied(
    sim: IlsSimulator, client: SIP2Client, journal: Journal
) -> None:
    unknown_item = in_flight(journal, Kind.CHECKOUT, S.UNKNOWN_ITEM)
    result = resolve(unknown_item, client)
    assert (result.verdict, result.evidence) == (
        Verdict.NOT_APPLIED, f"17: the ILS does not know item {S.UNKNOWN_ITEM}")
    assert charged_to(client, S.UNKNOWN_PATRON, S.ITEM_RENEWABLE) == (False, "63: the ILS does not know the patron")


def test_a_purged_patron_id_leaves_a_charged_checkout_undecidable(client: SIP2Client, journal: Journal) -> None:
    tx = in_flight(journal, Kind.CHECKOUT, S.ITEM_RENEWABLE, patron=S.PATRON_VALID.id)
    masked = dataclasses.replace(tx, patron_id="**********0018")
    result = resolve(masked, client)
    assert result.verdict is Verdict.UNDECIDABLE
    assert "patron id is no longer in the journal" in result.evidence


# --- checkin ------------------------------------------------------------------------------------------


def test_a_checkin_is_applied_when_the_item_is_no_longer_charged(
    sim: IlsSimulator, client: SIP2Client, journal: Journal
) -> None:
    tx = in_flight(journal, Kind.CHECKIN, S.ITEM_RENEWABLE)
    assert resolve(tx, client).verdict is Verdict.NOT_APPLIED  # still on loan: never arrived
    lost(sim, lambda: client.checkin(tx.item_id, no_block=True))
    result = resolve(tx, client)
    assert (result.verdict, result.evidence) == (Verdict.APPLIED, "17: the item is not on loan (status 03)")
    assert sim.library.applied("09", item=S.ITEM_RENEWABLE) == 1


# --- renewal ------------------------------------------------------------------------------------------


def test_a_renewal_is_judged_by_the_due_date_read_before_it_was_sent(
    sim: IlsSimulator, client: SIP2Client, journal: Journal
) -> None:
    journal.queue_offline(Kind.RENEW, patron_id=S.PATRON_VALID.id, item_id=S.ITEM_RENEWABLE,
                          transaction_date=WHEN, nb_due_date=DUE)
    head = journal.queue_head()
    assert head is not None
    before = pre_image(client, head.item_id)
    assert before.strip()
    tx = journal.claim("sync", 1, pre_images={head.id: before})[0]
    result = resolve(tx, client)
    assert (result.verdict, result.evidence) == (Verdict.NOT_APPLIED, f"17: due date still {before}")
    lost(sim, lambda: client.renew(tx.patron_id, tx.item_id, no_block=True))
    result = resolve(tx, client)
    assert result.verdict is Verdict.APPLIED
    assert result.evidence.startswith(f"17: due date moved from {before} to ")
    assert sim.library.applied("29", item=S.ITEM_RENEWABLE) == 1


def test_a_renewal_without_its_pre_image_is_left_to_staff(client: SIP2Client, journal: Journal) -> None:
    assert journal.own("kiosk")
    tx = journal.begin_online(Kind.RENEW, patron_id=S.PATRON_VALID.id, item_id=S.ITEM_RENEWABLE,
                              transaction_date=WHEN, owner="kiosk")
    updated, result = settle(journal, tx, client)
    assert result.verdict is Verdict.UNDECIDABLE
    assert (updated.state, updated.reason) == (State.UNKNOWN, result.evidence)
    assert [r.id for r in journal.needs_staff()] == [tx.id]


def test_a_renewal_of_an_item_not_on_loan_did_not_happen(client: SIP2Client, journal: Journal) -> None:
    tx = in_flight(journal, Kind.RENEW, S.ITEM_AVAILABLE)
    assert resolve(tx, client).verdict is Verdict.NOT_APPLIED


# --- when the ILS cannot be asked ---------------------------------------------------------------------


def test_an_unreachable_ils_raises_and_the_transaction_stays_in_flight(
    sim: IlsSimulator, client: SIP2Client, journal: Journal
) -> None:
    tx = in_flight(journal, Kind.CHECKOUT, S.ITEM_AVAILABLE)
    sim.stop()
    try:
        with pytest.raises(SIP2ConnectionError):
            settle(journal, tx, client)
    finally:
        sim.start()
    assert journal.get(tx.id).state is State.SENDING
    assert settle(journal, tx, client)[0].state is State.QUEUED  # asked later: not applied, queued in place
