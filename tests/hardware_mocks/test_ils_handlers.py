"""Every SIP2 handler of the simulated ILS, over a real TCP connection: happy paths and refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from ils_support import Wire, logged_in, running_simulator

from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils import scenarios as S
from hardware_mocks.ils.library import ItemStatus
from sip2.fields import SUPPORTED_MESSAGE_ORDER, CirculationStatus, PatronStatus, Summary, decode_date
from sip2.messages import (
    ACSStatus,
    BlockPatron,
    Checkin,
    CheckinResponse,
    Checkout,
    CheckoutResponse,
    EndPatronSession,
    EndSessionResponse,
    FeePaid,
    FeePaidResponse,
    Hold,
    HoldResponse,
    ItemInformation,
    ItemInformationResponse,
    ItemStatusUpdate,
    ItemStatusUpdateResponse,
    PatronEnable,
    PatronEnableResponse,
    PatronInformation,
    PatronInformationResponse,
    PatronStatusRequest,
    PatronStatusResponse,
    Renew,
    RenewAll,
    RenewAllResponse,
    RenewResponse,
    SCStatus,
)

T0 = datetime(2026, 3, 10, 14, 0, 0)
AO = S.INSTITUTION


@pytest.fixture(scope="module")
def server() -> Iterator[IlsSimulator]:
    with running_simulator() as sim:
        yield sim


@pytest.fixture
def sim(server: IlsSimulator) -> IlsSimulator:
    server.reset(dialect="generic", clock=lambda: T0)
    return server


@pytest.fixture
def wire(sim: IlsSimulator) -> Iterator[Wire]:
    with logged_in(sim) as w:
        yield w


def checkout(wire: Wire, patron: str, item: str, **kw: object) -> CheckoutResponse:
    response = wire.request(
        Checkout(institution_id=AO, patron_id=patron, item_id=item, transaction_date=T0, **kw)
    )
    assert isinstance(response, CheckoutResponse)
    return response


def checkin(wire: Wire, item: str, location: str = S.MAIN, **kw: object) -> CheckinResponse:
    response = wire.request(Checkin(institution_id=AO, item_id=item, current_location=location, **kw))
    assert isinstance(response, CheckinResponse)
    return response


# --- 93 / 99 ---------------------------------------------------------------------------------------


def test_login_with_the_configured_account(sim: IlsSimulator) -> None:
    with Wire(sim.address) as wire:
        assert wire.login().ok


def test_wrong_login_password_is_refused_and_the_connection_stays_open(sim: IlsSimulator) -> None:
    with Wire(sim.address) as wire:
        assert not wire.login(password="guess").ok
        assert not wire.login(user="nobody").ok
        assert wire.login().ok  # SIPServer keeps the socket open after a bad login
        assert isinstance(wire.request(SCStatus()), ACSStatus)


def test_a_request_before_login_closes_the_connection(sim: IlsSimulator) -> None:
    with Wire(sim.address) as wire:
        wire.send(PatronStatusRequest(institution_id=AO, patron_id=S.PATRON_VALID.id))
        assert wire.closed_by_server()


def test_sc_status_reports_what_is_handled(wire: Wire) -> None:
    status = wire.request(SCStatus())
    assert isinstance(status, ACSStatus)
    assert status.online_status and status.checkin_ok and status.checkout_ok and status.offline_ok
    assert status.supported_messages.codes == frozenset(SUPPORTED_MESSAGE_ORDER)
    assert status.supported_messages.encode() == "Y" * 16
    assert status.timeout_period == 999  # no idle timeout configured: "unknown"
    assert status.retries_allowed == 3
    assert status.institution_id == AO and status.library_name == S.LIBRARY_NAME
    assert status.date_time_sync == T0
    assert status.terminal_location == "kiosk1"  # the CP of the login


def test_sc_status_reports_the_idle_timeout_in_tenths(sim: IlsSimulator) -> None:
    sim.faults.idle_timeout = 45
    with logged_in(sim) as wire:
        status = wire.request(SCStatus())
    assert isinstance(status, ACSStatus) and status.timeout_period == 450


# --- 23 / 63 / 25 / 35 / 01 ------------------------------------------------------------------------

DENIED_4 = dict(
    charge_privileges_denied=True,
    renewal_privileges_denied=True,
    recall_privileges_denied=True,
    hold_privileges_denied=True,
)


@pytest.mark.parametrize(
    ("patron", "status", "may_borrow"),
    [
        (S.PATRON_VALID, PatronStatus(), True),
        (S.PATRON_OVERDUE, PatronStatus(), True),
        (S.PATRON_BLOCKED, PatronStatus(**DENIED_4), False),
        (S.PATRON_EXPIRED, PatronStatus(**DENIED_4), False),
        (S.PATRON_CARD_LOST, PatronStatus(**DENIED_4, card_reported_lost=True), False),
        (
            S.PATRON_FINES,
            PatronStatus(
                charge_privileges_denied=True,
                renewal_privileges_denied=True,
                excessive_outstanding_fines=True,
            ),
            False,
        ),
        (
            S.PATRON_TOO_MANY_OVERDUE,
            PatronStatus(
                charge_privileges_denied=True, renewal_privileges_denied=True, too_many_items_overdue=True
            ),
            False,
        ),
        (S.PATRON_TOO_MANY_ITEMS, PatronStatus(too_many_items_charged=True), False),
        # hold / renewal denied must not stop a checkout (reference §4 #12)
        (S.PATRON_NO_HOLDS, PatronStatus(hold_privileges_denied=True), True),
        (S.PATRON_NO_RENEWALS, PatronStatus(renewal_privileges_denied=True), True),
    ],
    ids=[
        "valid",
        "overdue",
        "blocked",
        "expired",
        "card-lost",
        "fines",
        "too-many-overdue",
        "too-many-items",
        "no-holds",
        "no-renewals",
    ],
)
def test_patron_status_sets_the_14_flags_like_a_real_ils(
    wire: Wire, patron: S.SamplePatron, status: PatronStatus, may_borrow: bool
) -> None:
    response = wire.request(
        PatronStatusRequest(institution_id=AO, patron_id=patron.id, patron_password=patron.pin)
    )
    assert isinstance(response, PatronStatusResponse)
    assert response.patron_status == status
    assert response.patron_status.blocks_checkout is (not may_borrow)
    assert response.valid_patron is True and response.valid_patron_password is True
    assert response.personal_name == patron.name
    # ...and the checkout agrees with the flags.
    assert checkout(wire, patron.id, S.AVAILABLE_BOOKS[0]).ok is may_borrow


def test_patron_status_of_wrong_pin_and_unknown_patron(wire: Wire) -> None:
    wrong = wire.request(
        PatronStatusRequest(institution_id=AO, patron_id=S.PATRON_WRONG_PIN.id, patron_password="0000")
    )
    assert isinstance(wrong, PatronStatusResponse)
    assert (wrong.valid_patron, wrong.valid_patron_password) == (True, False)
    assert "Invalid patron password" in wrong.screen_messages
    unknown = wire.request(
        PatronStatusRequest(institution_id=AO, patron_id=S.UNKNOWN_PATRON, patron_password="1")
    )
    assert isinstance(unknown, PatronStatusResponse)
    assert unknown.valid_patron is False and unknown.personal_name == ""
    assert unknown.patron_status.encode() == "YYYY          "  # as SIPServer answers


def test_patron_status_reports_fees(wire: Wire) -> None:
    response = wire.request(
        PatronStatusRequest(
            institution_id=AO, patron_id=S.PATRON_FINES.id, patron_password=S.PATRON_FINES.pin
        )
    )
    assert isinstance(response, PatronStatusResponse)
    assert (response.currency_type, response.fee_amount) == (S.CURRENCY, "25.00")
    assert response.screen_messages == ("Patron has outstanding fines over the limit",)


def patron_info(
    wire: Wire,
    patron: S.SamplePatron,
    summary: Summary | None,
    pin: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> PatronInformationResponse:
    response = wire.request(
        PatronInformation(
            institution_id=AO,
            patron_id=patron.id,
            patron_password=patron.pin if pin is None else pin,
            summary=summary,
            start_item=start,
            end_item=end,
            transaction_date=T0,
        )
    )
    assert isinstance(response, PatronInformationResponse)
    return response


def test_patron_information_counts_limits_and_details(wire: Wire) -> None:
    info = patron_info(wire, S.PATRON_VALID, None)
    assert info.charged_items_count == 5 and info.overdue_items_count == 0
    assert (info.hold_items_count, info.unavailable_holds_count, info.fine_items_count) == (0, 0, 0)
    assert (info.charged_items_limit, info.hold_items_limit, info.overdue_items_limit) == ("10", "5", "3")
    assert (info.fee_limit, info.currency_type, info.fee_amount) == ("10.00", S.CURRENCY, "0.00")
    assert (
        info.email_address == "maria.hernandez@example.org" and info.home_address and info.home_phone_number
    )
    assert info.charged_items == ()  # no summary position: no list
    holds = patron_info(wire, S.PATRON_HOLDS_READY, None)
    assert (holds.hold_items_count, holds.unavailable_holds_count) == (2, 1)
    assert patron_info(wire, S.PATRON_OVERDUE, None).overdue_items_count == 2


@pytest.mark.parametrize(
    ("patron", "summary", "attr", "expected"),
    [
        (
            S.PATRON_VALID,
            Summary.CHARGED_ITEMS,
            "charged_items",
            {
                S.ITEM_RENEWABLE,
                S.ITEM_RENEWAL_LIMIT,
                S.ITEM_HOLD_HERE,
                S.ITEM_HOLD_OTHER_BRANCH,
                S.ITEM_TRANSIT,
            },
        ),
        (S.PATRON_OVERDUE, Summary.OVERDUE_ITEMS, "overdue_items", {S.ITEM_OVERDUE, S.ITEM_OVERDUE_DVD}),
        (S.PATRON_HOLDS_READY, Summary.HOLD_ITEMS, "hold_items", {S.ITEM_HOLD_SHELF, S.ITEM_HOLD_SHELF_EAST}),
        (S.PATRON_HOLDS_READY, Summary.UNAVAILABLE_HOLDS, "unavailable_hold_items", {S.ITEM_HOLD_HERE}),
        (S.PATRON_VALID, Summary.RECALL_ITEMS, "recall_items", set()),
    ],
)
def test_patron_information_lists_the_summary_position(wire: Wire, patron, summary, attr, expected) -> None:
    info = patron_info(wire, patron, summary)
    assert set(getattr(info, attr)) == expected and len(getattr(info, attr)) == len(expected)
    others = {
        "charged_items",
        "overdue_items",
        "hold_items",
        "unavailable_hold_items",
        "fine_items",
        "recall_items",
    } - {attr}
    assert all(getattr(info, name) == () for name in others)


def test_patron_information_fine_items(wire: Wire) -> None:
    info = patron_info(wire, S.PATRON_FINES, Summary.FINE_ITEMS)
    assert info.fine_items_count == 2
    assert len(info.fine_items) == 2
    assert any("20.00 EUR Replacement: The Goldfinch" in f for f in info.fine_items)


def test_patron_information_bp_bq_is_a_one_based_inclusive_range(wire: Wire) -> None:
    full = patron_info(wire, S.PATRON_VALID, Summary.CHARGED_ITEMS).charged_items
    assert len(full) == 5
    assert (
        patron_info(wire, S.PATRON_VALID, Summary.CHARGED_ITEMS, start="2", end="3").charged_items
        == full[1:3]
    )
    assert patron_info(wire, S.PATRON_VALID, Summary.CHARGED_ITEMS, start="5").charged_items == full[4:]
    assert patron_info(wire, S.PATRON_VALID, Summary.CHARGED_ITEMS, start="6", end="9").charged_items == ()


def test_patron_information_with_a_wrong_pin_withholds_lists_and_details(wire: Wire) -> None:
    info = patron_info(wire, S.PATRON_VALID, Summary.CHARGED_ITEMS, pin="0000")
    assert info.valid_patron_password is False and info.charged_items_count == 5
    assert info.charged_items == () and info.email_address is None


def test_unknown_patron_information(wire: Wire) -> None:
    info = wire.request(
        PatronInformation(institution_id=AO, patron_id=S.UNKNOWN_PATRON, summary=Summary.CHARGED_ITEMS)
    )
    assert isinstance(info, PatronInformationResponse)
    assert info.valid_patron is False and info.personal_name == "" and info.charged_items == ()


def test_block_patron_answers_24_and_patron_enable_lifts_it(sim: IlsSimulator, wire: Wire) -> None:
    patron = S.PATRON_CLEAN
    blocked = wire.request(
        BlockPatron(
            institution_id=AO,
            patron_id=patron.id,
            card_retained=True,
            blocked_card_msg="Card used by someone else",
        )
    )
    assert isinstance(blocked, PatronStatusResponse)
    assert blocked.patron_status == PatronStatus(**DENIED_4)
    assert "Patron account is blocked: Card used by someone else" in blocked.screen_messages
    assert not checkout(wire, patron.id, S.ITEM_AVAILABLE).ok
    enabled = wire.request(PatronEnable(institution_id=AO, patron_id=patron.id, patron_password=patron.pin))
    assert isinstance(enabled, PatronEnableResponse)
    assert enabled.patron_status == PatronStatus() and enabled.valid_patron_password is True
    assert checkout(wire, patron.id, S.ITEM_AVAILABLE).ok
    assert [r.outcome for r in sim.library.ledger(patron=patron.id)] == [
        "blocked",
        "refused",
        "enabled",
        "checked_out",
    ]


def test_patron_enable_does_not_lift_a_staff_block(wire: Wire) -> None:
    patron = S.PATRON_BLOCKED
    enabled = wire.request(PatronEnable(institution_id=AO, patron_id=patron.id, patron_password=patron.pin))
    assert isinstance(enabled, PatronEnableResponse)
    assert enabled.patron_status.charge_privileges_denied
    assert "Patron is not blocked by a self-check" in enabled.screen_messages


def test_end_session(wire: Wire) -> None:
    response = wire.request(EndPatronSession(institution_id=AO, patron_id=S.PATRON_VALID.id))
    assert isinstance(response, EndSessionResponse)
    assert response.end_session and response.patron_id == S.PATRON_VALID.id


# --- 11 checkout -----------------------------------------------------------------------------------


def test_checkout_lends_the_item_with_a_sip2_due_date(sim: IlsSimulator, wire: Wire) -> None:
    response = checkout(wire, S.PATRON_CLEAN.id, S.ITEM_DVD, patron_password=S.PATRON_CLEAN.pin)
    assert response.ok and response.desensitize is True and response.renewal_ok is False
    assert response.magnetic_media is False
    assert response.title == "The Godfather" and response.media_type == "006"
    assert response.due_date == "20260317    235959"  # 7-day DVD loan, end of day, SIP2 date format
    assert decode_date(response.due_date) == datetime(2026, 3, 17, 23, 59, 59)
    loan = sim.library.loan(S.ITEM_DVD)
    assert loan is not None and loan.patron_id == S.PATRON_CLEAN.id
    assert sim.library.item(S.ITEM_DVD).status is ItemStatus.ON_LOAN
    [row] = sim.library.ledger()
    assert (row.message, row.outcome, row.applied, row.patron, row.item) == (
        "11",
        "checked_out",
        True,
        S.PATRON_CLEAN.id,
        S.ITEM_DVD,
    )


@pytest.mark.parametrize(
    ("patron", "item", "reason"),
    [
        (
            S.PATRON_BLOCKED.id,
            S.ITEM_AVAILABLE,
            "Patron account is blocked: Please contact the library staff",
        ),
        (S.PATRON_EXPIRED.id, S.ITEM_AVAILABLE, "Patron card has expired"),
        (S.PATRON_FINES.id, S.ITEM_AVAILABLE, "Patron has outstanding fines over the limit"),
        (S.PATRON_CARD_LOST.id, S.ITEM_AVAILABLE, "Patron card reported lost"),
        (S.PATRON_TOO_MANY_OVERDUE.id, S.ITEM_AVAILABLE, "Patron has too many overdue items"),
        (S.PATRON_TOO_MANY_ITEMS.id, S.ITEM_AVAILABLE, "Patron has too many items"),
        (S.PATRON_CLEAN.id, S.ITEM_NOT_FOR_LOAN, "Item not for loan"),
        (S.PATRON_CLEAN.id, S.ITEM_RENEWABLE, "Item checked out to another patron"),
        (S.PATRON_CLEAN.id, S.ITEM_ON_HOLD_FOR_OTHER, "Item is on hold for another patron"),
        (S.PATRON_CLEAN.id, S.ITEM_HOLD_SHELF, "Item is on hold for another patron"),
        (S.PATRON_CLEAN.id, S.ITEM_LOST, "Item is marked lost; please take it to the desk"),
        (S.PATRON_CLEAN.id, S.ITEM_MISSING, "Item is marked missing; please take it to the desk"),
        (S.PATRON_CLEAN.id, S.ITEM_IN_TRANSIT_HOME, "Item is in transit"),
        (S.PATRON_CLEAN.id, S.ITEM_RENTAL, "Item has a rental fee of 2.00 EUR"),
        (S.PATRON_CLEAN.id, S.UNKNOWN_ITEM, "Item not found"),
        (S.UNKNOWN_PATRON, S.ITEM_AVAILABLE, "Patron not found"),
    ],
)
def test_checkout_refusals_carry_the_ils_reason(sim: IlsSimulator, wire: Wire, patron, item, reason) -> None:
    before = sim.library.item(item)
    response = checkout(wire, patron, item)
    assert not response.ok
    assert response.screen_messages == (reason,)
    assert response.due_date == "" and response.desensitize is False and response.magnetic_media is None
    assert sim.library.item(item) == before  # nothing changed
    [row] = sim.library.ledger()
    assert (row.outcome, row.applied, row.detail) == ("refused", False, reason)


def test_checkout_with_a_wrong_pin_is_refused(wire: Wire) -> None:
    response = checkout(wire, S.PATRON_WRONG_PIN.id, S.ITEM_AVAILABLE, patron_password="0000")
    assert not response.ok and response.screen_messages == ("Invalid patron password",)
    assert checkout(wire, S.PATRON_WRONG_PIN.id, S.ITEM_AVAILABLE, patron_password="9999").ok


def test_checkout_of_a_rental_item_needs_the_fee_acknowledged(sim: IlsSimulator, wire: Wire) -> None:
    refused = checkout(wire, S.PATRON_CLEAN.id, S.ITEM_RENTAL)
    assert (refused.ok, refused.fee_type, refused.fee_amount, refused.currency_type) == (
        False,
        "06",
        "2.00",
        "EUR",
    )
    accepted = checkout(wire, S.PATRON_CLEAN.id, S.ITEM_RENTAL, fee_acknowledged=True)
    assert accepted.ok and accepted.fee_amount == "2.00"
    assert [(f.fee_type, f.amount) for f in sim.library.fines(S.PATRON_CLEAN.id)] == [("06", 200)]


def test_checkout_fills_the_patrons_own_hold(sim: IlsSimulator, wire: Wire) -> None:
    response = checkout(wire, S.PATRON_HOLDS_READY.id, S.ITEM_HOLD_SHELF)
    assert response.ok
    assert sim.library.holds(item_id=S.ITEM_HOLD_SHELF) == []


def test_a_repeated_checkout_to_the_same_patron_is_a_renewal(sim: IlsSimulator, wire: Wire) -> None:
    first = checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AVAILABLE)
    again = checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AVAILABLE)
    assert first.ok and again.ok and again.renewal_ok
    assert decode_date(again.due_date) > decode_date(first.due_date)
    assert sim.library.loan(S.ITEM_AVAILABLE).renewals == 1
    assert [r.outcome for r in sim.library.ledger()] == ["checked_out", "renewed"]


def test_multi_part_items_say_so(wire: Wire) -> None:
    response = checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AUDIOBOOK_SET)
    assert response.ok and response.item_properties == "3 discs"
    assert response.screen_messages == ("This item has 3 parts: please check all are present",)


def test_cancelling_a_checkout_takes_it_off_the_patrons_account(sim: IlsSimulator, wire: Wire) -> None:
    assert checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AVAILABLE).ok
    cancelled = checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, cancel=True)
    assert cancelled.ok and cancelled.desensitize is False
    assert sim.library.loan(S.ITEM_AVAILABLE) is None
    assert sim.library.item(S.ITEM_AVAILABLE).status is ItemStatus.AVAILABLE
    refused = checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, cancel=True)
    assert not refused.ok and refused.screen_messages == ("Item not checked out",)


# --- 09 checkin ------------------------------------------------------------------------------------


def test_checkin_of_a_plain_loan_goes_back_to_the_shelf(sim: IlsSimulator, wire: Wire) -> None:
    response = checkin(wire, S.ITEM_RENEWABLE)
    assert response.ok and response.resensitize and not response.alert
    assert response.alert_type is None and response.destination_location is None
    assert response.sort_bin == "3" and response.permanent_location == S.MAIN
    assert response.patron_id == S.PATRON_VALID.id and response.title == "The Great Gatsby"
    assert response.call_number == "813.52 FIT" and response.collection_code == "FIC"
    assert sim.library.loan(S.ITEM_RENEWABLE) is None


def test_checkin_of_an_item_with_a_hold_here(wire: Wire) -> None:
    response = checkin(wire, S.ITEM_HOLD_HERE)
    assert response.ok and response.alert and response.alert_type == "01"
    assert response.sort_bin == "1" and response.destination_location is None
    assert (response.hold_patron_id, response.hold_patron_name) == (S.PATRON_HOLDS_READY.id, "Zofia Wójcik")


def test_checkin_of_an_item_with_a_hold_at_another_branch(wire: Wire) -> None:
    response = checkin(wire, S.ITEM_HOLD_OTHER_BRANCH)
    assert response.ok and response.alert and response.alert_type == "02"
    assert (response.sort_bin, response.destination_location) == ("2", S.EAST)
    assert response.hold_patron_id == S.PATRON_HOLDS.id


def test_checkin_of_another_branchs_item_sends_it_home(wire: Wire) -> None:
    response = checkin(wire, S.ITEM_TRANSIT)
    assert response.ok and response.alert and response.alert_type == "04"
    assert (response.sort_bin, response.destination_location, response.permanent_location) == (
        "2",
        S.EAST,
        S.EAST,
    )
    assert response.hold_patron_id is None


def test_checkin_at_the_destination_of_an_item_in_transit_for_a_hold(sim: IlsSimulator, wire: Wire) -> None:
    response = checkin(wire, S.ITEM_IN_TRANSIT_FOR_HOLD, location=S.EAST)
    assert response.alert_type == "01" and response.hold_patron_id == S.PATRON_HOLDS.id
    assert not response.ok  # it was not on loan; generic answers ok=0
    assert sim.library.item(S.ITEM_IN_TRANSIT_FOR_HOLD).status is ItemStatus.ON_HOLD_SHELF


def test_checkin_of_an_item_not_on_loan_answers_ok_0(sim: IlsSimulator, wire: Wire) -> None:
    response = checkin(wire, S.ITEM_AVAILABLE)
    assert not response.ok and response.resensitize and not response.alert
    assert response.screen_messages == ("Item not checked out",)
    [row] = sim.library.ledger()
    assert (row.outcome, row.applied) == ("not_on_loan", True)


def test_checkin_of_an_unknown_item(wire: Wire) -> None:
    response = checkin(wire, S.UNKNOWN_ITEM)
    assert not response.ok and response.alert and response.alert_type == "99"
    assert response.screen_messages == ("Item not found",) and response.permanent_location == ""


def test_checkin_of_an_overdue_item_charges_a_fine(sim: IlsSimulator, wire: Wire) -> None:
    response = checkin(wire, S.ITEM_OVERDUE)  # 10 days late, 0.25 a day
    assert response.ok and response.screen_messages == ("Overdue fine 2.50 EUR",)
    assert [f.amount for f in sim.library.fines(S.PATRON_OVERDUE.id)] == [250, 250]


def test_checkin_uses_the_login_location_when_ap_is_not_a_branch(sim: IlsSimulator) -> None:
    with Wire(sim.address) as wire:
        from sip2.messages import Login

        assert wire.request(Login(login_user_id="demo", login_password="", location_code=S.EAST)).ok
        response = checkin(wire, S.ITEM_TRANSIT, location="kiosk-3")
    assert response.ok and not response.alert  # returned at EAST, its home: no transit


# --- 29 / 65 renew -----------------------------------------------------------------------------------


def renew(wire: Wire, patron: str, item: str | None, **kw: object) -> RenewResponse:
    response = wire.request(Renew(institution_id=AO, patron_id=patron, item_id=item, **kw))
    assert isinstance(response, RenewResponse)
    return response


def test_renew_moves_the_due_date(sim: IlsSimulator, wire: Wire) -> None:
    old_due = sim.library.loan(S.ITEM_RENEWABLE).due
    response = renew(wire, S.PATRON_VALID.id, S.ITEM_RENEWABLE)
    assert response.ok and response.renewal_ok and response.title == "The Great Gatsby"
    assert decode_date(response.due_date) > old_due
    assert sim.library.loan(S.ITEM_RENEWABLE).renewals == 1


@pytest.mark.parametrize(
    ("patron", "item", "reason"),
    [
        (S.PATRON_VALID.id, S.ITEM_RENEWAL_LIMIT, "Item has reached the maximum number of renewals"),
        (S.PATRON_VALID.id, S.ITEM_HOLD_HERE, "Item is on hold for another patron"),
        (S.PATRON_NO_RENEWALS.id, S.ITEM_LOAN_NO_RENEWALS, "Patron may not renew items"),
        (S.PATRON_TOO_MANY_OVERDUE.id, S.ITEM_TOO_MANY_OVERDUE_LOAN, "Patron has too many overdue items"),
        (S.PATRON_CLEAN.id, S.ITEM_RENEWABLE, "Item checked out to another patron"),
        (S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, "Item not checked out"),
        (S.PATRON_CLEAN.id, S.UNKNOWN_ITEM, "Item not found"),
        (S.PATRON_CLEAN.id, None, "Item identifier required"),
    ],
)
def test_renew_refusals(sim: IlsSimulator, wire: Wire, patron, item, reason) -> None:
    response = renew(wire, patron, item)
    assert not response.ok and not response.renewal_ok
    assert response.screen_messages == (reason,)
    assert sim.library.applied() == 0


def test_too_many_items_does_not_stop_renewing(wire: Wire) -> None:
    assert renew(wire, S.PATRON_TOO_MANY_ITEMS.id, S.ITEM_TOO_MANY_ITEMS_LOAN).ok


def test_renew_all_renews_what_the_rules_allow(sim: IlsSimulator, wire: Wire) -> None:
    response = wire.request(
        RenewAll(institution_id=AO, patron_id=S.PATRON_VALID.id, patron_password=S.PATRON_VALID.pin)
    )
    assert isinstance(response, RenewAllResponse)
    assert response.ok
    assert set(response.renewed_items) == {S.ITEM_RENEWABLE, S.ITEM_TRANSIT}
    assert set(response.unrenewed_items) == {S.ITEM_RENEWAL_LIMIT, S.ITEM_HOLD_HERE, S.ITEM_HOLD_OTHER_BRANCH}
    assert (response.renewed_count, response.unrenewed_count) == (2, 3)
    assert sim.library.applied("65") == 2 and sim.library.count(message="65", applied=False) == 3
    unknown = wire.request(RenewAll(institution_id=AO, patron_id=S.UNKNOWN_PATRON))
    assert isinstance(unknown, RenewAllResponse) and not unknown.ok


# --- 15 hold -----------------------------------------------------------------------------------------


def hold(wire: Wire, mode: str, patron: S.SamplePatron, item: str | None, **kw: object) -> HoldResponse:
    response = wire.request(
        Hold(
            hold_mode=mode,
            institution_id=AO,
            patron_id=patron.id,
            item_id=item,
            patron_password=patron.pin,
            **kw,
        )
    )
    assert isinstance(response, HoldResponse)
    return response


def test_place_change_and_cancel_a_hold(sim: IlsSimulator, wire: Wire) -> None:
    placed = hold(wire, "+", S.PATRON_CLEAN, S.ITEM_RENEWABLE)
    assert placed.ok and not placed.available
    assert (placed.queue_position, placed.pickup_location) == ("1", S.EAST)  # the patron's home branch
    assert placed.title == "The Great Gatsby" and decode_date(placed.expiration_date) > T0
    second = hold(wire, "+", S.PATRON_VALID, S.ITEM_ON_HOLD_FOR_OTHER, pickup_location=S.MAIN)
    assert second.ok and second.queue_position == "2" and second.available
    changed = hold(wire, "*", S.PATRON_CLEAN, S.ITEM_RENEWABLE, pickup_location=S.MAIN)
    assert changed.ok and changed.pickup_location == S.MAIN
    cancelled = hold(wire, "-", S.PATRON_CLEAN, S.ITEM_RENEWABLE)
    assert cancelled.ok
    assert not any(h.patron_id == S.PATRON_CLEAN.id for h in sim.library.holds(item_id=S.ITEM_RENEWABLE))
    assert [r.outcome for r in sim.library.ledger()] == [
        "hold_placed",
        "hold_placed",
        "hold_changed",
        "hold_cancelled",
    ]


@pytest.mark.parametrize(
    ("mode", "patron", "item", "reason"),
    [
        ("+", S.PATRON_NO_HOLDS, S.ITEM_RENEWABLE, "Patron may not place holds"),
        (
            "+",
            S.PATRON_BLOCKED,
            S.ITEM_RENEWABLE,
            "Patron account is blocked: Please contact the library staff",
        ),
        ("+", S.PATRON_HOLDS, S.ITEM_ON_HOLD_FOR_OTHER, "Patron already has a hold on this item"),
        ("+", S.PATRON_VALID, S.ITEM_RENEWABLE, "Item is checked out to this patron"),
        ("+", S.PATRON_CLEAN, S.ITEM_NOT_FOR_LOAN, "Item not for loan"),
        ("+", S.PATRON_CLEAN, S.UNKNOWN_ITEM, "Item not found"),
        ("+", S.PATRON_CLEAN, None, "Item identifier required"),
        ("-", S.PATRON_CLEAN, S.ITEM_RENEWABLE, "Patron has no hold on this item"),
        ("?", S.PATRON_CLEAN, S.ITEM_RENEWABLE, "Unknown hold mode '?'"),
    ],
)
def test_hold_refusals(wire: Wire, mode, patron, item, reason) -> None:
    response = hold(wire, mode, patron, item)
    assert not response.ok and response.screen_messages == (reason,)


def test_an_unknown_pickup_location_is_refused(wire: Wire) -> None:
    response = hold(wire, "+", S.PATRON_CLEAN, S.ITEM_RENEWABLE, pickup_location="NORTH")
    assert not response.ok and response.screen_messages == ("Unknown pickup location",)


# --- 37 fee paid -------------------------------------------------------------------------------------


def pay(wire: Wire, patron: str, amount: str, **kw: object) -> FeePaidResponse:
    response = wire.request(
        FeePaid(institution_id=AO, patron_id=patron, fee_amount=amount, currency_type="EUR", **kw)
    )
    assert isinstance(response, FeePaidResponse)
    return response


def test_fee_paid_reduces_the_balance_and_lifts_the_fine_block(sim: IlsSimulator, wire: Wire) -> None:
    patron = S.PATRON_FINES
    paid = pay(wire, patron.id, "20.00", transaction_id="KIOSK-1")
    assert paid.payment_accepted and paid.transaction_id == "KIOSK-1"
    status = wire.request(
        PatronStatusRequest(institution_id=AO, patron_id=patron.id, patron_password=patron.pin)
    )
    assert isinstance(status, PatronStatusResponse)
    assert status.fee_amount == "5.00" and status.patron_status == PatronStatus()
    generated = pay(wire, patron.id, "5.00")
    assert generated.payment_accepted and generated.transaction_id  # the ILS made one up
    assert sim.library.standing(patron.id).fines_owed == 0


@pytest.mark.parametrize(
    ("patron", "amount", "extra", "reason"),
    [
        (S.PATRON_FINES.id, "30.00", {}, "Payment exceeds the amount owed"),
        (S.PATRON_FINES.id, "-1.00", {}, "Invalid amount"),
        (S.PATRON_FINES.id, "ten", {}, "Invalid amount"),
        (S.PATRON_FINES.id, "1.00", {"currency_type": "USD"}, "Currency not accepted"),
        (S.PATRON_CLEAN.id, "1.00", {}, "Patron owes nothing"),
        (S.UNKNOWN_PATRON, "1.00", {}, "Patron not found"),
    ],
)
def test_fee_paid_refusals(sim: IlsSimulator, wire: Wire, patron, amount, extra, reason) -> None:
    kw = {"currency_type": "EUR", **extra}
    response = wire.request(FeePaid(institution_id=AO, patron_id=patron, fee_amount=amount, **kw))
    assert isinstance(response, FeePaidResponse)
    assert not response.payment_accepted and response.screen_messages == (reason,)
    assert sim.library.applied("37") == 0


def test_fee_paid_for_one_fee_identifier(sim: IlsSimulator, wire: Wire) -> None:
    replacement = next(f for f in sim.library.fines(S.PATRON_FINES.id) if f.fee_type == "07")
    assert pay(wire, S.PATRON_FINES.id, "20.00", fee_identifier=str(replacement.id)).payment_accepted
    assert [(f.fee_type, f.owed) for f in sim.library.fines(S.PATRON_FINES.id)] == [("04", 500)]


# --- 17 / 19 items ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "status"),
    [
        (S.ITEM_AVAILABLE, CirculationStatus.AVAILABLE),
        (S.ITEM_RENEWABLE, CirculationStatus.CHARGED),
        (S.ITEM_HOLD_SHELF, CirculationStatus.WAITING_ON_HOLD_SHELF),
        (S.ITEM_IN_TRANSIT_HOME, CirculationStatus.IN_TRANSIT),
        (S.ITEM_LOST, CirculationStatus.LOST),
        (S.ITEM_MISSING, CirculationStatus.MISSING),
        (S.ITEM_CLAIMED_RETURNED, CirculationStatus.CLAIMED_RETURNED),
        (S.ITEM_ON_ORDER, CirculationStatus.ON_ORDER),
        (S.ITEM_IN_PROCESS, CirculationStatus.IN_PROCESS),
        (S.ITEM_NOT_FOR_LOAN, CirculationStatus.OTHER),
        (S.UNKNOWN_ITEM, CirculationStatus.OTHER),
    ],
)
def test_item_information_circulation_status(wire: Wire, item: str, status: CirculationStatus) -> None:
    response = wire.request(ItemInformation(institution_id=AO, item_id=item))
    assert isinstance(response, ItemInformationResponse)
    assert response.circulation_status == status
    assert response.item_id == item


def test_item_information_details(sim: IlsSimulator, wire: Wire) -> None:
    on_loan = wire.request(ItemInformation(institution_id=AO, item_id=S.ITEM_RENEWABLE))
    assert isinstance(on_loan, ItemInformationResponse)
    assert decode_date(on_loan.due_date) == sim.library.loan(S.ITEM_RENEWABLE).due
    assert (on_loan.title, on_loan.permanent_location, on_loan.owner) == ("The Great Gatsby", S.MAIN, AO)
    shelf = wire.request(ItemInformation(institution_id=AO, item_id=S.ITEM_HOLD_SHELF))
    assert isinstance(shelf, ItemInformationResponse)
    assert shelf.hold_pickup_date and shelf.hold_queue_length == "1" and shelf.due_date is None
    rental = wire.request(ItemInformation(institution_id=AO, item_id=S.ITEM_RENTAL))
    assert isinstance(rental, ItemInformationResponse)
    assert (rental.fee_type, rental.fee_amount, rental.media_type) == ("06", "2.00", "006")
    unknown = wire.request(ItemInformation(institution_id=AO, item_id=S.UNKNOWN_ITEM))
    assert isinstance(unknown, ItemInformationResponse)
    assert unknown.title == "" and unknown.screen_messages == ("Item not found",)


def test_item_information_after_a_checkout_shows_it_charged(wire: Wire) -> None:
    """What a kiosk asks after a lost checkout response (reference §4 #8)."""
    assert checkout(wire, S.PATRON_CLEAN.id, S.ITEM_AVAILABLE).ok
    response = wire.request(ItemInformation(institution_id=AO, item_id=S.ITEM_AVAILABLE))
    assert isinstance(response, ItemInformationResponse)
    assert response.circulation_status == CirculationStatus.CHARGED and response.due_date


def test_item_status_update_sets_the_item_properties(sim: IlsSimulator, wire: Wire) -> None:
    response = wire.request(
        ItemStatusUpdate(institution_id=AO, item_id=S.ITEM_AVAILABLE, item_properties="worn")
    )
    assert isinstance(response, ItemStatusUpdateResponse)
    assert (
        response.item_properties_ok and response.item_properties == "worn" and response.title == "The Hobbit"
    )
    assert sim.library.item(S.ITEM_AVAILABLE).properties == "worn"
    unknown = wire.request(ItemStatusUpdate(institution_id=AO, item_id=S.UNKNOWN_ITEM, item_properties="x"))
    assert isinstance(unknown, ItemStatusUpdateResponse) and not unknown.item_properties_ok


def test_pipelined_requests_are_answered_in_order(wire: Wire) -> None:
    from sip2.codec import decode_frame, encode

    data = encode(SCStatus(), sequence=5) + encode(
        ItemInformation(institution_id=AO, item_id=S.ITEM_AVAILABLE), sequence=6
    )
    wire.send_raw(data)
    first, second = decode_frame(wire.read_frame()), decode_frame(wire.read_frame())
    assert isinstance(first.message, ACSStatus) and first.sequence == 5
    assert isinstance(second.message, ItemInformationResponse) and second.sequence == 6
