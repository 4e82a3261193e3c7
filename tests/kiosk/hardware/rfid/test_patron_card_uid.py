"""ISO 14443 card UIDs written as patron card numbers: the formats, their inverse, and their byte order."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.hardware.rfid.patron_card_uid import (
    ISO14443_TAG_TYPES,
    MAX_UID_BYTES,
    UID_FORMATS,
    CardUidError,
    PatronCardIds,
    UidFormat,
    UidPatronCard,
    decimal_width,
    uid_from_text,
    uid_text,
)
from kiosk.hardware.rfid.readers.pcsc_apdu import CardKind

NAMING = [f for f in UidFormat if f is not UidFormat.NONE]
uids = st.binary(min_size=1, max_size=MAX_UID_BYTES)


# -- examples a person can check by hand -----------------------------------------------------------


def test_a_4_byte_uid_in_every_format() -> None:
    uid = bytes.fromhex("00000001")
    assert uid_text(uid, UidFormat.HEX) == "00000001"
    assert uid_text(uid, UidFormat.HEX_REVERSED) == "01000000"
    assert uid_text(uid, UidFormat.DECIMAL) == "0000000001"  # padded to 10 digits, as desk readers print it
    assert uid_text(uid, UidFormat.DECIMAL_REVERSED) == "0016777216"  # 0x01000000 = 2**24


def test_hex_is_upper_case_and_decimal_of_the_largest_uids_fills_the_width() -> None:
    assert uid_text(bytes.fromhex("04a1b2c3"), UidFormat.HEX) == "04A1B2C3"
    assert uid_text(b"\xff" * 4, UidFormat.DECIMAL) == "4294967295"
    assert uid_text(b"\xff" * 7, UidFormat.DECIMAL) == "72057594037927935"
    assert [decimal_width(n) for n in (4, 7, 10)] == [10, 17, 25]


def test_none_names_no_card_and_uids_outside_iso_14443_lengths_are_refused() -> None:
    with pytest.raises(CardUidError, match="none"):
        uid_text(bytes.fromhex("04A1B2C3"), UidFormat.NONE)
    with pytest.raises(CardUidError):
        uid_text(b"", UidFormat.HEX)
    with pytest.raises(CardUidError):
        uid_text(bytes(MAX_UID_BYTES + 1), UidFormat.DECIMAL)


def test_text_that_is_no_card_number_is_refused_without_echoing_it() -> None:
    for text, fmt in [("0123456789AB", UidFormat.HEX), ("04A1B2CG", UidFormat.HEX), ("4294967296", UidFormat.DECIMAL),
                      ("123456789", UidFormat.DECIMAL_REVERSED), ("１２３４５６７８９０", UidFormat.DECIMAL)]:
        with pytest.raises(CardUidError) as caught:
            uid_from_text(text, fmt, 4)
        assert text not in str(caught.value)
    assert uid_from_text("c3b2a104", UidFormat.HEX_REVERSED, 4) == bytes.fromhex("04A1B2C3")  # either case


def test_the_settings_values_are_the_formats() -> None:
    assert UID_FORMATS == ("none", "hex", "hex_reversed", "decimal", "decimal_reversed")


def test_patron_id_puts_the_prefix_first_and_the_card_hides_it_from_repr() -> None:
    ids = PatronCardIds(UidFormat.HEX_REVERSED, "P")
    assert ids.enabled and not PatronCardIds().enabled
    assert ids.patron_id(bytes.fromhex("04A1B2C3")) == "PC3B2A104"
    card = ids.card(bytes.fromhex("04A1B2C3"), "iso14443-4")
    assert (card.patron_id, card.tag_type, card.is_patron_card) == ("PC3B2A104", "iso14443-4", True)
    assert "C3B2A104" not in repr(card) and "04A1B2C3" not in repr(card)
    assert card == UidPatronCard("PC3B2A104", "iso14443-4")


def test_only_iso_14443_kinds_are_named() -> None:
    assert {CardKind(t) for t in ISO14443_TAG_TYPES} == {CardKind.ISO14443A, CardKind.ISO14443B, CardKind.ISO14443_4}
    assert CardKind.ISO15693.value not in ISO14443_TAG_TYPES and CardKind.OTHER.value not in ISO14443_TAG_TYPES


# -- properties ------------------------------------------------------------------------------------


@given(uid=uids, fmt=st.sampled_from(NAMING))
def test_every_format_round_trips(uid: bytes, fmt: UidFormat) -> None:
    assert uid_from_text(uid_text(uid, fmt), fmt, len(uid)) == uid


@given(uid=uids)
def test_reversed_is_the_plain_format_of_the_reversed_bytes(uid: bytes) -> None:
    assert uid_text(uid, UidFormat.HEX_REVERSED) == uid_text(uid[::-1], UidFormat.HEX)
    assert uid_text(uid, UidFormat.DECIMAL_REVERSED) == uid_text(uid[::-1], UidFormat.DECIMAL)
    # hex reversed is the hex read backwards two digits at a time
    plain = uid_text(uid, UidFormat.HEX)
    pairs = [plain[i : i + 2] for i in range(0, len(plain), 2)]
    assert uid_text(uid, UidFormat.HEX_REVERSED) == "".join(reversed(pairs))


@given(uid=uids)
def test_hex_and_decimal_are_the_same_number_at_a_fixed_width(uid: bytes) -> None:
    hex_text, decimal = uid_text(uid, UidFormat.HEX), uid_text(uid, UidFormat.DECIMAL)
    assert int(hex_text, 16) == int(decimal)
    assert len(hex_text) == 2 * len(uid) and hex_text == hex_text.upper()
    assert len(decimal) == decimal_width(len(uid)) and decimal.isdigit()


@given(a=uids, b=uids, fmt=st.sampled_from(NAMING))
def test_different_uids_of_one_length_give_different_numbers_and_one_uid_always_the_same(
    a: bytes, b: bytes, fmt: UidFormat
) -> None:
    assert uid_text(a, fmt) == uid_text(bytes(a), fmt)  # stable: nothing but the bytes decides
    if len(a) == len(b) and a != b:
        assert uid_text(a, fmt) != uid_text(b, fmt)


@given(text=st.text(max_size=40), fmt=st.sampled_from(list(UidFormat)), length=st.integers(-2, MAX_UID_BYTES + 2))
def test_any_text_parses_or_raises_the_typed_error(text: str, fmt: UidFormat, length: int) -> None:
    try:
        uid = uid_from_text(text, fmt, length)
    except CardUidError as exc:
        if len(text) >= 8 and set(text) <= set(string.hexdigits):
            assert text not in str(exc)  # what may be a card number never goes into the error
    else:
        assert len(uid) == length and uid_text(uid, fmt).upper() == text.upper()


@given(uid=st.binary(max_size=MAX_UID_BYTES + 4), fmt=st.sampled_from(list(UidFormat)))
def test_any_bytes_give_a_number_or_the_typed_error(uid: bytes, fmt: UidFormat) -> None:
    try:
        text = uid_text(uid, fmt)
    except CardUidError:
        assert fmt is UidFormat.NONE or not 1 <= len(uid) <= MAX_UID_BYTES
    else:
        assert text and text.isalnum()
