"""Masking of frames for logs, and messages whose repr cannot show a secret."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from sip2 import messages as m
from sip2.codec import encode
from sip2.fields import SECRET_FIELDS
from sip2.masking import PERSONAL_FIELDS, masked_frame, masked_text

PIN, PASSWORD, CARD = "73914628", "pw-Kx7q9vTr", "21234000000018"
_VALUE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 -.@", min_size=6, max_size=20)


def _frame(message: m.Message, encoding: str = "cp850") -> bytes:
    return encode(message, sequence=1, encoding=encoding)


def test_the_wire_log_masks_secrets_whole_and_the_patron_id_to_its_last_four() -> None:
    raw = _frame(m.PatronInformation(institution_id="LIB", patron_id=CARD, patron_password=PIN,
                                     terminal_password=PASSWORD))
    shown = masked_frame(raw)
    assert PIN not in shown and PASSWORD not in shown and CARD not in shown
    assert "AA****0018|" in shown and "AD****" in shown and "AC****" in shown and shown.endswith("\\r")


def test_a_reply_loses_name_address_email_phone_and_birth_date() -> None:
    reply = m.PatronInformationResponse(
        institution_id="LIB", patron_id=CARD, personal_name="Maria Hernández", valid_patron=True,
        home_address="1 Library Lane", email_address="maria@example.org", home_phone_number="555-0101",
        birth_date="19800101", screen_messages=("Welcome",),
    )
    shown = masked_frame(_frame(reply, "utf-8"), "utf-8")
    assert "Hernández" in _frame(reply, "utf-8").decode("utf-8")  # it was there to be masked
    for secret in ("Hernández", "1 Library Lane", "maria@example.org", "555-0101", "19800101", CARD):
        assert secret not in shown
    assert "AFWelcome" in shown and "AE****" in shown and "BE****" in shown


def test_the_cli_raw_view_keeps_what_its_operator_typed_but_never_a_secret() -> None:
    text = _frame(m.Checkout(institution_id="LIB", patron_id=CARD, item_id="3123", patron_password=PIN)).decode()
    shown = masked_text(text.rstrip("\r"))
    assert CARD in shown and PIN not in shown


def test_a_short_patron_id_is_masked_whole() -> None:
    assert "AA****|" in masked_frame(_frame(m.PatronStatusRequest(institution_id="LIB", patron_id="1234")))


@settings(max_examples=200, deadline=None)
@given(card=_VALUE, pin=_VALUE, name=_VALUE)
def test_whatever_the_values_none_survives_the_wire_log(card: str, pin: str, name: str) -> None:
    request = _frame(m.PatronInformation(institution_id="LIB", patron_id=card, patron_password=pin))
    reply = _frame(m.PatronInformationResponse(institution_id="LIB", patron_id=card, personal_name=name))
    for shown in (masked_frame(request), masked_frame(reply)):
        body = shown.split("|", 1)[1]  # the fixed part (dates, flags) cannot hold a personal value
        assert pin not in body and name not in body and card not in body


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_can_be_logged(raw: bytes) -> None:
    assert isinstance(masked_frame(raw), str)
    assert isinstance(masked_text(raw.decode("latin-1"), personal=True), str)


def test_no_message_shows_a_secret_field_in_its_repr() -> None:
    checked = 0
    for cls in m.MESSAGE_TYPES.values():
        secret = [f for f in dataclasses.fields(cls) if f.metadata.get("var") in SECRET_FIELDS]
        for field in secret:
            assert field.repr is False, f"{cls.__name__}.{field.name}"
            checked += 1
    assert checked >= 10
    login = m.Login(login_user_id="kiosk", login_password=PASSWORD)
    assert PASSWORD not in repr(login) and "kiosk" in repr(login)
    assert PIN not in repr(m.Checkout(institution_id="LIB", patron_id=CARD, item_id="1", patron_password=PIN))


def test_secret_and_personal_fields_do_not_overlap() -> None:
    assert not SECRET_FIELDS & PERSONAL_FIELDS and "AA" in PERSONAL_FIELDS
