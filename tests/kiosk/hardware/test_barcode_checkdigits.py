"""Check digits: published examples, python-stdnum as an independent implementation, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean as stdnum_ean
from stdnum import luhn as stdnum_luhn

from kiosk.hardware.barcode.checkdigits import (
    codabar14_is_valid,
    gtin_check_digit,
    gtin_is_valid,
    luhn_check_digit,
    luhn_is_valid,
    upce_is_valid,
    upce_to_upca,
)

digits = st.text(alphabet="0123456789", min_size=1, max_size=30)


# --- published examples (platform.md §4.3) ------------------------------------------------------


@pytest.mark.parametrize("number", ["30234000517861", "33191000105864"])
def test_published_library_barcodes_pass_luhn_and_codabar14(number: str) -> None:
    assert luhn_is_valid(number)
    assert codabar14_is_valid(number)
    assert codabar14_is_valid(number, type_digit="3")
    assert not codabar14_is_valid(number, type_digit="2")


def test_published_isbn_passes_gtin() -> None:
    assert gtin_is_valid("9780306406157")
    assert gtin_check_digit("978030640615") == "7"


@pytest.mark.parametrize(
    ("upce", "upca"),
    [
        ("01234501", "012000003451"),  # last digit 0-2: NS d1 d2 d6 0000 d3 d4 d5
        ("04252614", "042100005264"),
        ("01234531", "012300000451"),  # last digit 3: NS d1 d2 d3 00000 d4 d5
        ("01234541", "012340000051"),  # last digit 4: NS d1 d2 d3 d4 00000 d5
        ("01234565", "012345000065"),  # last digit 5-9: NS d1..d5 0000 d6
        ("00123457", "001234000057"),
    ],
)
def test_upce_expansion_follows_the_gs1_table(upce: str, upca: str) -> None:
    assert upce_to_upca(upce) == upca


def test_upce_validity_uses_the_upca_check_digit() -> None:
    assert upce_is_valid("01234565")
    assert upce_is_valid("04252614")
    assert not upce_is_valid("01234566")
    assert not upce_is_valid("21234565")  # number system 2 does not exist in UPC-E


@pytest.mark.parametrize("payload", ["", "12a", "１２３", "²3"])
def test_check_digit_functions_reject_non_ascii_digits(payload: str) -> None:
    with pytest.raises(ValueError):
        luhn_check_digit(payload)
    with pytest.raises(ValueError):
        gtin_check_digit(payload)


@pytest.mark.parametrize(
    "number", ["", "7", "3023400051786x", "３０２３４０００５１７８６１", "30234000517861 "]
)
def test_validators_say_false_on_junk(number: str) -> None:
    assert not luhn_is_valid(number)
    assert not codabar14_is_valid(number)
    assert not gtin_is_valid(number)
    assert not upce_is_valid(number)


# --- independent implementation -----------------------------------------------------------------


@given(digits)
def test_luhn_check_digit_agrees_with_stdnum(payload: str) -> None:
    assert luhn_check_digit(payload) == stdnum_luhn.calc_check_digit(payload)


@given(st.text(alphabet="0123456789", min_size=2, max_size=30))
def test_luhn_validity_agrees_with_stdnum(number: str) -> None:
    assert luhn_is_valid(number) == stdnum_luhn.is_valid(number)


@given(
    st.sampled_from([7, 11, 12, 13]).flatmap(lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n))
)
def test_gtin_check_digit_agrees_with_stdnum(payload: str) -> None:
    assert gtin_check_digit(payload) == stdnum_ean.calc_check_digit(payload)
    number = payload + gtin_check_digit(payload)
    assert gtin_is_valid(number) == stdnum_ean.is_valid(number)


# --- properties ---------------------------------------------------------------------------------


def _change_digit_at(number: str, index: int, data: st.DataObject) -> str:
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != number[index]]))
    return number[:index] + replacement + number[index + 1 :]


def _change_one_digit(number: str, data: st.DataObject) -> str:
    return _change_digit_at(number, data.draw(st.integers(0, len(number) - 1)), data)


@given(digits, st.data())
def test_luhn_appended_digit_validates_and_every_single_digit_change_is_caught(payload: str, data) -> None:
    number = payload + luhn_check_digit(payload)
    assert luhn_is_valid(number)
    assert not luhn_is_valid(_change_one_digit(number, data))


@given(
    st.sampled_from([7, 11, 12, 13]).flatmap(
        lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)
    ),
    st.data(),
)
def test_gtin_appended_digit_validates_and_every_single_digit_change_is_caught(payload: str, data) -> None:
    number = payload + gtin_check_digit(payload)
    assert gtin_is_valid(number)
    assert not gtin_is_valid(_change_one_digit(number, data))


@given(st.sampled_from("23"), st.text(alphabet="0123456789", min_size=12, max_size=12), st.data())
def test_codabar14_built_numbers_validate_and_single_digit_changes_fail(
    type_digit: str, rest: str, data
) -> None:
    number = type_digit + rest + luhn_check_digit(type_digit + rest)
    assert codabar14_is_valid(number, type_digit)
    changed = _change_one_digit(number, data)
    assert not codabar14_is_valid(changed, type_digit)


@given(st.sampled_from("01"), st.text(alphabet="0123456789", min_size=6, max_size=6), st.data())
def test_upce_with_computed_check_validates_and_data_digit_changes_fail(system: str, body: str, data) -> None:
    """UPC-E's sixth data digit chooses how the others expand, so changing it can move digits to
    places where the check digit is again right (e.g. 19999926 -> 19999936). Every other single-digit
    change, the number system and the check digit included, is caught."""
    number = system + body + gtin_check_digit(upce_to_upca(system + body + "0")[:11])
    assert upce_is_valid(number)
    index = data.draw(st.sampled_from([0, 1, 2, 3, 4, 5, 7]))
    assert not upce_is_valid(_change_digit_at(number, index, data))


def test_upce_layout_digit_change_can_escape_the_check() -> None:
    # Documents the limit stated above, so nobody "fixes" the property test into a false claim.
    assert upce_is_valid("19999926")
    assert upce_is_valid("19999936")
