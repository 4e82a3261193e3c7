"""SIP2 answers in the kiosk's terms: the mapping rules, and properties over every status flag combination."""

from __future__ import annotations

from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.circulation.model import Alert
from kiosk.ils.answers import (
    alert_of,
    fines_text,
    loan_answer,
    patron_account,
    renew_all_answer,
    return_answer,
    return_from_item_status,
)
from sip2.fields import CirculationStatus, PatronStatus
from sip2.messages import (
    CheckinResponse,
    CheckoutResponse,
    ItemInformationResponse,
    PatronInformationResponse,
    RenewAllResponse,
    RenewResponse,
)

statuses = st.builds(PatronStatus, *(st.booleans() for _ in fields(PatronStatus)))


def checkin(**kw) -> CheckinResponse:
    base = {"ok": True, "institution_id": "demo", "item_id": "i1", "permanent_location": "MAIN"}
    return CheckinResponse(**{**base, **kw})


@pytest.mark.parametrize(
    ("cv", "flag", "alert"),
    [
        ("01", True, Alert.HOLD_HERE),
        ("02", True, Alert.HOLD_OTHER_BRANCH),
        ("04", True, Alert.TRANSIT),
        ("99", True, Alert.OTHER),
        ("03", False, Alert.OTHER),  # a type we do not know is still an alert
        ("00", False, Alert.NONE),
        (None, False, Alert.NONE),
        (None, True, Alert.OTHER),  # the flag without a type: staff must look
        ("00", True, Alert.OTHER),
        ("", True, Alert.OTHER),
    ],
)
def test_alert_types(cv: str | None, flag: bool, alert: Alert) -> None:
    assert alert_of(checkin(alert_type=cv, alert=flag)) is alert


@given(st.one_of(st.none(), st.text(max_size=4)), st.booleans())
def test_an_alert_flag_is_never_read_as_no_alert(cv: str | None, flag: bool) -> None:
    alert = alert_of(checkin(alert_type=cv, alert=flag))
    if flag:
        assert alert is not Alert.NONE


def test_fines() -> None:
    assert [fines_text(v) for v in (None, "", " 0.00", "0", "2.50", "EUR 2,50")] == ["", "", "", "", "2.50", "EUR 2,50"]


def info(**kw) -> PatronInformationResponse:
    base = {"institution_id": "demo", "patron_id": "p1", "personal_name": "Ada"}
    return PatronInformationResponse(**{**base, **kw})


@given(statuses, st.sampled_from([True, False, None]), st.sampled_from([True, False, None]),
       st.sampled_from([None, "", "1234"]))
def test_may_borrow_is_known_card_pin_not_refused_and_no_blocking_flag(
    status: PatronStatus, valid: bool | None, pin_ok: bool | None, pin: str | None
) -> None:
    account = patron_account("p1", pin, info(patron_status=status, valid_patron=valid, valid_patron_password=pin_ok))
    known = valid if valid is not None else True  # named "Ada": an ILS without BL knows the card
    assert account.known is known
    assert account.pin_ok is (None if pin is None else pin_ok)
    assert account.may_borrow == (known and account.pin_ok is not False and not status.blocks_checkout)
    assert account.problems == status.problems


def test_hold_and_renewal_denials_do_not_stop_borrowing() -> None:
    denied = PatronStatus(hold_privileges_denied=True, renewal_privileges_denied=True, recall_privileges_denied=True)
    account = patron_account("p1", "1", info(patron_status=denied, valid_patron=True, valid_patron_password=True))
    assert account.may_borrow and set(account.problems) == {
        "hold_privileges_denied", "renewal_privileges_denied", "recall_privileges_denied"}


def test_a_card_the_ils_does_not_name_or_know() -> None:
    nobody = patron_account("p1", "1", info(personal_name="", valid_patron=None))
    assert not nobody.known and not nobody.may_borrow


def test_checkout_and_renewal_answers() -> None:
    common = {"institution_id": "demo", "patron_id": "p1", "item_id": "i1", "title": " Dune ",
              "due_date": "20261201    235959"}
    out = loan_answer("i1", CheckoutResponse(ok=True, **common))
    assert (out.ok, out.title, out.due, out.renewed) == (True, "Dune", "20261201    235959", False)
    assert loan_answer("i1", CheckoutResponse(ok=True, renewal_ok=True, **common)).renewed
    refused = loan_answer("i1", CheckoutResponse(ok=False, screen_messages=("No.", " "), **common))
    assert not refused.ok and refused.due == "" and refused.messages == ("No.",)
    assert loan_answer("i1", RenewResponse(ok=True, **common)).renewed
    assert not loan_answer("i1", RenewResponse(ok=False, **common)).renewed


def test_checkin_and_renew_all_answers() -> None:
    back = return_answer("i1", checkin(sort_bin="1", alert=True, alert_type="01", hold_patron_name="Zofia",
                                       hold_patron_id="p9", patron_id="p1", destination_location=None))
    assert (back.sort_bin, back.alert, back.hold_patron_name, back.was_on_loan_to) == ("1", Alert.HOLD_HERE,
                                                                                       "Zofia", "p1")
    everything = renew_all_answer(RenewAllResponse(ok=True, institution_id="demo", renewed_items=("a", " "),
                                                   unrenewed_items=("b",)))
    assert (everything.renewed, everything.not_renewed) == (("a",), ("b",))


@pytest.mark.parametrize(
    ("status", "title", "ok", "alert"),
    [
        (CirculationStatus.AVAILABLE, "Dune", True, Alert.NONE),
        (CirculationStatus.WAITING_TO_BE_RESHELVED, "Dune", True, Alert.NONE),
        (CirculationStatus.WAITING_ON_HOLD_SHELF, "Dune", True, Alert.HOLD_HERE),
        (CirculationStatus.IN_TRANSIT, "Dune", True, Alert.OTHER),  # where to is unknown: staff sort it
        (CirculationStatus.OTHER, "", False, Alert.OTHER),  # an item the ILS does not know
    ],
)
def test_a_lost_checkin_answer_rebuilt_from_item_information(status, title, ok, alert) -> None:
    details = ItemInformationResponse(circulation_status=status, item_id="i1", title=title)
    rebuilt = return_from_item_status("i1", details)
    assert (rebuilt.ok, rebuilt.alert, rebuilt.sort_bin) == (ok, alert, "")
