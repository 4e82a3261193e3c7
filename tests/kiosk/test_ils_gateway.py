"""The SIP2 gateway against the simulated ILS over real TCP, with the ILS's ledger as the judge:
what the core is told must be what the ILS did, and a lost answer is settled, never resent blindly."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from hardware_mocks.ils import IlsSimulator, When
from hardware_mocks.ils import scenarios as S
from kiosk.circulation.commands import CheckIn, CheckOut, EndPatronSession, LookUpPatron, Renew, RenewAll
from kiosk.circulation.events import (
    IlsFailed,
    LoanAnswered,
    PatronLookedUp,
    RenewAllAnswered,
    ReturnAnswered,
    SessionEnded,
)
from kiosk.circulation.model import Alert, FailureKind
from kiosk.config import Settings, Sip2Settings, SiteSettings
from kiosk.ils.gateway import SipGateway, answer
from sip2.client import ClientConfig, SIP2Pool


def client_config(host: str, port: int) -> ClientConfig:
    return ClientConfig(host=host, port=port, username=S.LOGIN_USER, password=S.LOGIN_PASSWORD,
                        institution_id=S.INSTITUTION, timeout=2.0, connect_timeout=2.0, heartbeat_interval=3600)


@pytest.fixture
def gateway(sim: IlsSimulator) -> Iterator[SipGateway]:
    gw = SipGateway(SIP2Pool(client_config(*sim.address), size=2))
    yield gw
    gw.close()


def look_up(gateway: SipGateway, patron, pin: str | None = "use the patron's") -> PatronLookedUp:
    pin = patron.pin if pin == "use the patron's" else pin
    result = gateway.look_up_patron(LookUpPatron("lu-1", patron.id, pin))
    assert isinstance(result, PatronLookedUp), result
    assert result.ref == "lu-1"
    return result


# -- patrons ---------------------------------------------------------------------------------------


def test_a_patron_with_loans_gets_titles_and_due_dates(gateway: SipGateway) -> None:
    account = look_up(gateway, S.PATRON_VALID).account
    assert account.known and account.pin_ok is True and account.may_borrow
    assert account.name == S.PATRON_VALID.name and account.problems == ()
    assert account.loans_count == 5 == len(account.loans)
    by_id = {loan.item_id: loan for loan in account.loans}
    assert by_id[S.ITEM_RENEWABLE].title == "The Great Gatsby"
    assert all(len(loan.due) == 18 and loan.due[:8].isdigit() for loan in account.loans)  # SIP2 dates
    assert account.email  # the sample patron has one, for e-mail receipts


def test_ready_holds_are_listed_by_title(gateway: SipGateway) -> None:
    account = look_up(gateway, S.PATRON_HOLDS_READY).account
    assert account.holds_ready_count == 2
    assert set(account.holds_ready) == {"Circe", "Station Eleven"}


def test_fines_and_currency_and_a_clean_account(gateway: SipGateway) -> None:
    overdue = look_up(gateway, S.PATRON_OVERDUE).account
    assert (overdue.fines, overdue.currency, overdue.overdue_count) == ("2.50", "EUR", 2)
    assert overdue.may_borrow  # fines under the limit do not stop borrowing
    clean = look_up(gateway, S.PATRON_CLEAN).account
    assert clean.fines == "" and clean.loans == () and clean.holds_ready == ()


@pytest.mark.parametrize(
    ("patron", "may_borrow", "problem"),
    [
        (S.PATRON_NO_HOLDS, True, "hold_privileges_denied"),
        (S.PATRON_NO_RENEWALS, True, "renewal_privileges_denied"),
        (S.PATRON_BLOCKED, False, "charge_privileges_denied"),
        (S.PATRON_CARD_LOST, False, "card_reported_lost"),
        (S.PATRON_FINES, False, "excessive_outstanding_fines"),
        (S.PATRON_TOO_MANY_OVERDUE, False, "too_many_items_overdue"),
    ],
)
def test_status_flags_are_read_the_right_way_round(gateway: SipGateway, patron, may_borrow, problem) -> None:
    account = look_up(gateway, patron).account
    assert account.may_borrow is may_borrow
    assert problem in account.problems


def test_a_wrong_pin_and_an_unknown_card(gateway: SipGateway) -> None:
    wrong = look_up(gateway, S.PATRON_WRONG_PIN, pin="0000").account
    assert wrong.known and wrong.pin_ok is False and not wrong.may_borrow and wrong.loans == ()
    assert wrong.messages  # the ILS's own words
    unknown = gateway.look_up_patron(LookUpPatron("lu-2", S.UNKNOWN_PATRON, "1")).account
    assert not unknown.known and not unknown.may_borrow


def test_a_site_without_pins_sends_none_and_gets_no_pin_verdict(gateway: SipGateway) -> None:
    account = look_up(gateway, S.PATRON_CLEAN, pin=None).account
    assert account.pin_ok is None and account.may_borrow


# -- checkout, renewal ------------------------------------------------------------------------------


def test_checkout_ok_refused_and_a_repeated_checkout_that_renews(sim: IlsSimulator, gateway: SipGateway) -> None:
    p = S.PATRON_VALID
    ok = gateway.check_out(CheckOut("co-1", p.id, S.ITEM_AVAILABLE, p.pin))
    assert isinstance(ok, LoanAnswered) and ok.ref == "co-1"
    assert ok.answer.ok and ok.answer.title == "The Hobbit" and ok.answer.due and not ok.answer.renewed
    refused = gateway.check_out(CheckOut("co-2", p.id, S.ITEM_ON_HOLD_FOR_OTHER, p.pin)).answer
    assert not refused.ok and refused.messages == ("Item is on hold for another patron",) and refused.due == ""
    again = gateway.check_out(CheckOut("co-3", p.id, S.ITEM_RENEWABLE, p.pin)).answer
    assert again.ok and again.renewed  # what the ILS did, reported as such
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 1


def test_a_checkout_applied_whose_answer_was_lost_is_confirmed_not_resent(
    sim: IlsSimulator, gateway: SipGateway
) -> None:
    p = S.PATRON_CLEAN
    sim.faults.drop(code="11", when=When.AFTER_APPLY)
    result = gateway.check_out(CheckOut("co-1", p.id, S.ITEM_AVAILABLE, p.pin))
    assert isinstance(result, LoanAnswered), result
    assert result.answer.ok and result.answer.title == "The Hobbit" and result.answer.due
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 1
    assert len(sim.library.ledger(message="11", item=S.ITEM_AVAILABLE)) == 1  # asked once, never renewed


def test_a_checkout_lost_before_the_ils_applied_it_is_sent_once_more(sim: IlsSimulator, gateway: SipGateway) -> None:
    p = S.PATRON_CLEAN
    sim.faults.drop(code="11", when=When.BEFORE_APPLY)
    result = gateway.check_out(CheckOut("co-1", p.id, S.ITEM_AVAILABLE, p.pin))
    assert isinstance(result, LoanAnswered) and result.answer.ok and not result.answer.renewed
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 1


def test_a_checkout_lost_twice_before_applying_is_reported_not_done(sim: IlsSimulator, gateway: SipGateway) -> None:
    p = S.PATRON_CLEAN
    sim.faults.drop(code="11", when=When.BEFORE_APPLY, times=None)
    result = gateway.check_out(CheckOut("co-1", p.id, S.ITEM_AVAILABLE, p.pin))
    assert isinstance(result, IlsFailed) and result.failure.kind is FailureKind.UNREACHABLE
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 0
    assert [f.code for f in sim.faults.fired] == ["11", "11"]  # the original and exactly one resend


def test_a_lost_checkout_the_ils_cannot_settle_is_outcome_unknown(sim: IlsSimulator, gateway: SipGateway) -> None:
    p = S.PATRON_CLEAN
    sim.faults.drop(code="11", when=When.AFTER_APPLY)
    sim.faults.drop(code="17", times=None)
    sim.faults.drop(code="63", times=None)
    result = gateway.check_out(CheckOut("co-1", p.id, S.ITEM_AVAILABLE, p.pin))
    assert isinstance(result, IlsFailed) and result.failure.kind is FailureKind.OUTCOME_UNKNOWN
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 1  # it did happen: never claim otherwise
    assert [f.code for f in sim.faults.fired].count("11") == 1  # and it was not sent again


def test_a_checkout_to_someone_else_is_not_taken_for_ours(sim: IlsSimulator, gateway: SipGateway) -> None:
    """17 says charged, but 63 shows it is not this patron's loan: the first checkout was refused."""
    p = S.PATRON_CLEAN
    sim.faults.drop(code="11", when=When.AFTER_APPLY)
    result = gateway.check_out(CheckOut("co-1", p.id, S.ITEM_RENEWABLE, p.pin))  # on loan to PATRON_VALID
    assert isinstance(result, LoanAnswered) and not result.answer.ok
    assert result.answer.messages == ("Item checked out to another patron",)
    assert sim.library.applied("11", item=S.ITEM_RENEWABLE) == 0


def test_renewals(sim: IlsSimulator, gateway: SipGateway) -> None:
    p = S.PATRON_VALID
    renewed = gateway.renew(Renew("rn-1", p.id, S.ITEM_RENEWABLE, p.pin)).answer
    assert renewed.ok and renewed.renewed and renewed.due
    limit = gateway.renew(Renew("rn-2", p.id, S.ITEM_RENEWAL_LIMIT, p.pin)).answer
    assert not limit.ok and limit.messages
    everything = gateway.renew_all(RenewAll("ra-1", p.id, p.pin))
    assert isinstance(everything, RenewAllAnswered) and everything.ref == "ra-1"
    assert S.ITEM_RENEWAL_LIMIT in everything.answer.not_renewed
    assert set(everything.answer.renewed) | set(everything.answer.not_renewed) >= {S.ITEM_RENEWABLE}


def test_a_renewal_whose_answer_was_lost_is_not_renewed_again(sim: IlsSimulator, gateway: SipGateway) -> None:
    p = S.PATRON_VALID
    sim.faults.drop(code="29", when=When.AFTER_APPLY)
    result = gateway.renew(Renew("rn-1", p.id, S.ITEM_RENEWABLE, p.pin))
    assert isinstance(result, IlsFailed) and result.failure.kind is FailureKind.OUTCOME_UNKNOWN
    assert sim.library.applied("29", item=S.ITEM_RENEWABLE) == 1
    sim.faults.drop(code="65", when=When.AFTER_APPLY)
    lost_all = gateway.renew_all(RenewAll("ra-1", p.id, p.pin))
    assert isinstance(lost_all, IlsFailed) and lost_all.failure.kind is FailureKind.OUTCOME_UNKNOWN


# -- checkin ---------------------------------------------------------------------------------------


def test_checkin_answers_carry_the_routing(gateway: SipGateway) -> None:
    hold = gateway.check_in(CheckIn("ci-1", S.ITEM_HOLD_HERE))
    assert isinstance(hold, ReturnAnswered) and hold.ref == "ci-1"
    assert hold.answer.ok and hold.answer.alert is Alert.HOLD_HERE and hold.answer.sort_bin
    assert hold.answer.hold_patron_name == S.PATRON_HOLDS_READY.name
    assert hold.answer.was_on_loan_to == S.PATRON_VALID.id
    elsewhere = gateway.check_in(CheckIn("ci-2", S.ITEM_HOLD_OTHER_BRANCH)).answer
    assert elsewhere.alert is Alert.HOLD_OTHER_BRANCH and elsewhere.destination == S.EAST
    transit = gateway.check_in(CheckIn("ci-3", S.ITEM_TRANSIT)).answer
    assert transit.alert is Alert.TRANSIT and transit.destination == S.EAST
    shelf = gateway.check_in(CheckIn("ci-4", S.ITEM_AVAILABLE)).answer
    assert not shelf.ok and shelf.alert is Alert.NONE and shelf.messages == ("Item not checked out",)
    unknown = gateway.check_in(CheckIn("ci-5", S.UNKNOWN_ITEM)).answer
    assert not unknown.ok and unknown.alert is Alert.OTHER


def test_a_checkin_applied_whose_answer_was_lost_is_confirmed_from_the_item(
    sim: IlsSimulator, gateway: SipGateway
) -> None:
    sim.faults.drop(code="09", when=When.AFTER_APPLY)
    result = gateway.check_in(CheckIn("ci-1", S.ITEM_HOLD_HERE))
    assert isinstance(result, ReturnAnswered), result
    assert result.answer.ok and result.answer.alert is Alert.HOLD_HERE and result.answer.title == "The Road"
    assert sim.library.applied("09", item=S.ITEM_HOLD_HERE) == 1
    sim.faults.drop(code="09", when=When.AFTER_APPLY)
    transit = gateway.check_in(CheckIn("ci-2", S.ITEM_TRANSIT)).answer
    assert transit.ok and transit.alert is Alert.OTHER  # in transit, but where to is lost: staff sort it


def test_a_checkin_lost_before_applying_is_sent_once_more_with_its_full_answer(
    sim: IlsSimulator, gateway: SipGateway
) -> None:
    sim.faults.drop(code="09", when=When.BEFORE_APPLY)
    result = gateway.check_in(CheckIn("ci-1", S.ITEM_TRANSIT))
    assert isinstance(result, ReturnAnswered)
    assert result.answer.alert is Alert.TRANSIT and result.answer.destination == S.EAST
    assert sim.library.applied("09", item=S.ITEM_TRANSIT) == 1


def test_a_lost_checkin_the_ils_cannot_settle_is_outcome_unknown(sim: IlsSimulator, gateway: SipGateway) -> None:
    sim.faults.drop(code="09", when=When.AFTER_APPLY)
    sim.faults.drop(code="17", times=None)
    result = gateway.check_in(CheckIn("ci-1", S.ITEM_HOLD_HERE))
    assert isinstance(result, IlsFailed) and result.failure.kind is FailureKind.OUTCOME_UNKNOWN


# -- connection, health ----------------------------------------------------------------------------


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_ils_fails_every_command_and_shows_in_health() -> None:
    gw = SipGateway(SIP2Pool(client_config("127.0.0.1", _unused_port()), size=1))
    try:
        gw.open()
        assert not gw.health().connected and "cannot connect" in gw.health().last_error
        for command in (LookUpPatron("lu", "p", None), CheckOut("co", "p", "i", None), Renew("rn", "p", "i", None),
                        RenewAll("ra", "p", None), CheckIn("ci", "i")):
            result = answer(gw, command)
            assert isinstance(result, IlsFailed) and result.ref == command.ref
            assert result.failure.kind is FailureKind.UNREACHABLE  # nothing was sent: safe to retry
        assert answer(gw, EndPatronSession("end", "p", None)) == SessionEnded("end")
    finally:
        gw.close()


def test_health_reports_the_connection_and_the_latency(sim: IlsSimulator, gateway: SipGateway) -> None:
    assert not gateway.health().connected and gateway.health().latency_ms is None
    gateway.open()
    look_up(gateway, S.PATRON_CLEAN)
    health = gateway.health()
    assert health.connected and health.last_error == "" and health.latency_ms is not None
    sim.faults.drop(code="63", times=None)
    failed = gateway.look_up_patron(LookUpPatron("lu", S.PATRON_CLEAN.id, S.PATRON_CLEAN.pin))
    assert isinstance(failed, IlsFailed)
    assert not gateway.health().connected and gateway.health().last_error
    sim.faults.reset()
    look_up(gateway, S.PATRON_CLEAN)
    assert gateway.health().connected and gateway.health().last_error == ""


def test_the_gateway_is_built_from_the_kiosk_settings(sim: IlsSimulator) -> None:
    host, port = sim.address
    settings = Settings(
        site=SiteSettings(name="Demo Library", institution_id=S.INSTITUTION),
        sip2=Sip2Settings(host=host, port=port, tls=False, allow_plain_tcp=True, username=S.LOGIN_USER,
                          pool_size=3, heartbeat_seconds=3600),
    )
    gw = SipGateway.from_settings(settings)
    try:
        assert gw.sessions == 3
        assert look_up(gw, S.PATRON_CLEAN).account.name == S.PATRON_CLEAN.name
    finally:
        gw.close()


def test_a_settlement_that_breaks_down_is_still_outcome_unknown(sim: IlsSimulator, gateway: SipGateway) -> None:
    sim.faults.drop(code="11", when=When.AFTER_APPLY)
    sim.faults.drop(code="17", times=None)  # the line dies on every question about what happened
    result = gateway.check_out(CheckOut("co-1", S.PATRON_CLEAN.id, S.ITEM_AVAILABLE, S.PATRON_CLEAN.pin))
    assert isinstance(result, IlsFailed) and result.failure.kind is FailureKind.OUTCOME_UNKNOWN
    assert "settling it failed" in result.failure.detail
    assert sim.library.applied("11", item=S.ITEM_AVAILABLE) == 1
