"""classify(): site rules first, then the publisher-barcode detector; never raises."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean as stdnum_ean
from stdnum import luhn as stdnum_luhn

from kiosk.hardware.barcode import (
    DEFAULT_RULES,
    MESSAGES,
    BarcodeKind,
    BarcodeRule,
    BarcodeRulesError,
    CheckDigit,
    Classification,
    ClassificationRules,
    classify,
    rules_from_config,
)
from kiosk.hardware.barcode.aim import CODABAR, EAN_UPC

PUBLISHED_ITEM = "30234000517861"  # platform.md §4.3 (jerseycat.org FAQ)
ISBN = "9780306406157"


def codabar14(type_digit: str, body: str) -> str:
    """A 14-digit library number, check digit from python-stdnum (not from the code under test)."""
    payload = type_digit + body
    return payload + stdnum_luhn.calc_check_digit(payload)


def gtin(payload: str) -> str:
    return payload + stdnum_ean.calc_check_digit(payload)


# --- site rules ---------------------------------------------------------------------------------


def test_published_item_number_is_an_item() -> None:
    result = classify(PUBLISHED_ITEM)
    assert result == Classification(BarcodeKind.ITEM, PUBLISHED_ITEM, None, "codabar14-item")


def test_patron_card_is_a_patron() -> None:
    card = codabar14("2", "123400001234")
    result = classify(card)
    assert (result.kind, result.identifier, result.message) == (BarcodeKind.PATRON, card, None)


def test_codabar_start_stop_characters_are_stripped() -> None:
    for wrapped in (f"A{PUBLISHED_ITEM}B", f"c{PUBLISHED_ITEM}d", f" A{PUBLISHED_ITEM}A\r\n"):
        result = classify(wrapped)
        assert (result.kind, result.identifier) == (BarcodeKind.ITEM, PUBLISHED_ITEM)


def test_start_stop_stripping_can_be_turned_off() -> None:
    rules = ClassificationRules(rules=DEFAULT_RULES.rules, strip_codabar_start_stop=False)
    assert classify(f"A{PUBLISHED_ITEM}B", rules).kind is BarcodeKind.NOT_LIBRARY


def test_alphanumeric_code39_id_is_matched_as_sent_not_as_codabar() -> None:
    rules = ClassificationRules(rules=(BarcodeRule(BarcodeKind.ITEM, re.compile(r"[A-D]\d{4}[A-D]")),))
    assert classify("A1234B", rules).identifier == "A1234B"


def test_wrong_check_digit_asks_to_scan_again() -> None:
    wrong = PUBLISHED_ITEM[:-1] + str((int(PUBLISHED_ITEM[-1]) + 1) % 10)
    result = classify(wrong)
    assert result.kind is BarcodeKind.NOT_LIBRARY
    assert result.message.id == "barcode.check_failed"
    assert result.detail == "check_digit"


def test_codabar14_check_requires_the_type_digit_of_the_rule_kind() -> None:
    # A valid patron number matched by an item-shaped pattern is not an item.
    rules = ClassificationRules(
        rules=(BarcodeRule(BarcodeKind.ITEM, re.compile(r"\d{14}"), CheckDigit.CODABAR14),)
    )
    assert classify(codabar14("2", "000100000001"), rules).detail == "check_digit"
    assert classify(codabar14("3", "000100000001"), rules).kind is BarcodeKind.ITEM


def test_rules_apply_in_order_first_match_wins() -> None:
    patron_first = ClassificationRules(
        rules=(
            BarcodeRule(BarcodeKind.PATRON, re.compile(r"\d{8}")),
            BarcodeRule(BarcodeKind.ITEM, re.compile(r"\d+")),
        )
    )
    assert classify("12345678", patron_first).kind is BarcodeKind.PATRON
    assert classify("1234567", patron_first).kind is BarcodeKind.ITEM


def test_rule_prefix_is_removed_from_the_identifier_before_the_check() -> None:
    card = "P79927398713"  # 79927398713 is the classic Luhn example
    rules = ClassificationRules(
        rules=(BarcodeRule(BarcodeKind.PATRON, re.compile(r"P\d{11}"), CheckDigit.LUHN, strip_prefix="P"),)
    )
    result = classify(card, rules)
    assert (result.kind, result.identifier) == (BarcodeKind.PATRON, "79927398713")
    assert classify("P79927398714", rules).detail == "check_digit"


def test_scanner_prefixes_and_suffixes_are_stripped_before_the_rules() -> None:
    rules = ClassificationRules(
        rules=DEFAULT_RULES.rules, strip_prefixes=("]F0", "LIB:"), strip_suffixes=("#",)
    )
    for sent in (f"]F0{PUBLISHED_ITEM}", f"LIB:{PUBLISHED_ITEM}#", f"{PUBLISHED_ITEM}#"):
        assert classify(sent, rules).identifier == PUBLISHED_ITEM


# --- publisher barcodes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (ISBN, "isbn"),
        (gtin("979106929000"), "isbn"),
        (gtin("977123456700"), "issn"),
        ("4006381333931", "ean13"),
        (ISBN + "12", "isbn+2"),
        (ISBN + "51299", "isbn+5"),
        (ISBN + " 51299", "isbn+5"),
        ("036000291452", "upca"),
        ("036000291452" + "07", "upca+2"),
        ("036000291452" + "12345", "upca+5"),
        ("01234565", "upce"),
    ],
)
def test_publisher_barcodes_get_the_inside_cover_message(text: str, detail: str) -> None:
    result = classify(text)
    assert (result.kind, result.identifier, result.detail) == (BarcodeKind.PUBLISHER, None, detail)
    assert result.message.id == "barcode.publisher"
    assert result.message.default == "Please scan the library barcode inside the cover"


def test_site_patterns_win_over_the_publisher_detector() -> None:
    rules = ClassificationRules(rules=(BarcodeRule(BarcodeKind.ITEM, re.compile(r"\d{13}")),))
    assert classify(ISBN, rules).kind is BarcodeKind.ITEM


def test_a_library_number_that_is_also_a_valid_gtin14_is_still_a_library_number() -> None:
    # About one 14-digit library number in ten is also a valid GTIN-14: find one, it must stay an item.
    item = next(n for n in (codabar14("3", f"{i:012d}") for i in range(1000)) if stdnum_ean.is_valid(n))
    assert classify(item).kind is BarcodeKind.ITEM


def test_scanner_reporting_ean_upc_marks_a_publisher_barcode_even_with_odd_digits() -> None:
    assert classify("123", symbology=EAN_UPC).detail == "ean_upc_symbology"
    assert classify(PUBLISHED_ITEM, symbology=EAN_UPC).kind is BarcodeKind.ITEM  # rules still first
    assert classify(ISBN, symbology=CODABAR).kind is BarcodeKind.PUBLISHER


def test_publisher_detection_can_be_turned_off() -> None:
    rules = ClassificationRules(rules=DEFAULT_RULES.rules, detect_publisher_barcodes=False)
    assert classify(ISBN, rules).kind is BarcodeKind.NOT_LIBRARY


# --- not a library barcode ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", "empty"),
        ("  \r\n", "empty"),
        ("hello", "no_rule"),
        ("9" * 65, "too_long"),
        (ISBN[:-1] + "8", "no_rule"),
    ],
)
def test_everything_else_is_not_a_library_barcode(text: str, detail: str) -> None:
    result = classify(text)
    assert (result.kind, result.identifier, result.detail) == (BarcodeKind.NOT_LIBRARY, None, detail)
    assert result.message.id == "barcode.not_library"


def test_messages_have_distinct_ids_and_plain_default_text() -> None:
    assert len({m.id for m in MESSAGES}) == len(MESSAGES)
    assert all(m.id.startswith("barcode.") and m.default and m.default[0].isupper() for m in MESSAGES)


# --- configuration --------------------------------------------------------------------------------


def test_rules_from_config_builds_working_rules() -> None:
    rules = rules_from_config(
        {
            "strip_prefixes": ["]F0"],
            "rules": [
                {"kind": "patron", "pattern": r"2\d{13}", "check": "codabar14", "name": "card"},
                {"kind": "item", "pattern": r"I\d{6}", "strip_prefix": "I"},
            ],
        }
    )
    assert classify(codabar14("2", "555500001111"), rules).detail == "card"
    assert classify("]F0I123456", rules).identifier == "123456"
    assert classify(ISBN, rules).kind is BarcodeKind.PUBLISHER


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"rules": [{"kind": "patron", "pattern": "(unclosed"}]}, "barcode.rules[0].pattern"),
        ({"rules": [{"kind": "staff", "pattern": "x"}]}, "barcode.rules[0].kind"),
        ({"rules": [{"kind": "item", "pattern": "x", "check": "mod11"}]}, "barcode.rules[0].check"),
        ({"rules": [{"kind": "item", "pattern": "x", "chekc": "luhn"}]}, "chekc"),
        ({"rules": [{"kind": "item"}]}, "barcode.rules[0].pattern"),
        ({"rules": ["x"]}, "barcode.rules[0]"),
        ({"rules": "x"}, "barcode.rules"),
        ({"strip_prefixes": "]F0"}, "strip_prefixes"),
        ({"detect_publisher_barcodes": "yes"}, "detect_publisher_barcodes"),
        ({"max_length": 0}, "max_length"),
        ({"patterns": []}, "patterns"),
    ],
)
def test_bad_configuration_is_one_typed_error_naming_the_setting(settings: dict, names: str) -> None:
    with pytest.raises(BarcodeRulesError, match=re.escape(names)):
        rules_from_config(settings)


def test_rule_built_in_code_accepts_strings_and_rejects_bad_values() -> None:
    rule = BarcodeRule("item", r"\d+", "luhn")  # type: ignore[arg-type]
    assert (rule.kind, rule.check, rule.pattern.pattern) == (BarcodeKind.ITEM, CheckDigit.LUHN, r"\d+")
    with pytest.raises(BarcodeRulesError):
        BarcodeRule(BarcodeKind.PUBLISHER, r"\d+")
    with pytest.raises(BarcodeRulesError):
        BarcodeRule(BarcodeKind.ITEM, "(")  # type: ignore[arg-type]


# --- properties -----------------------------------------------------------------------------------


@given(st.text(max_size=100), st.one_of(st.none(), st.text(max_size=20), st.just(EAN_UPC)))
def test_classify_never_raises_and_is_consistent(text: str, symbology: str | None) -> None:
    result = classify(text, symbology=symbology)
    assert result.kind in BarcodeKind
    assert (result.identifier is not None) == (result.kind in (BarcodeKind.PATRON, BarcodeKind.ITEM))
    assert (result.message is None) == (result.kind in (BarcodeKind.PATRON, BarcodeKind.ITEM))
    assert result.message is None or result.message in MESSAGES


_RULES_WITH_EVERYTHING = rules_from_config(
    {
        "strip_prefixes": ["]", "LIB"],
        "strip_suffixes": ["\t"],
        "rules": [
            {"kind": "patron", "pattern": r"(?i)p[0-9a-z]{1,20}", "check": "luhn", "strip_prefix": "P"},
            {"kind": "item", "pattern": r".{1,20}", "check": "codabar14"},
            {"kind": "item", "pattern": r"[A-D]?\d+[A-D]?"},
        ],
    }
)


@given(st.text(max_size=100))
def test_classify_never_raises_with_every_option_in_play(text: str) -> None:
    assert isinstance(classify(text, _RULES_WITH_EVERYTHING), Classification)


@given(st.sampled_from("23"), st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_every_valid_codabar14_number_is_classified_by_its_type_digit(type_digit: str, body: str) -> None:
    number = codabar14(type_digit, body)
    result = classify(number)
    assert result.kind is (BarcodeKind.PATRON if type_digit == "2" else BarcodeKind.ITEM)
    assert result.identifier == number


@given(
    st.sampled_from("23"),
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.integers(0, 13),
    st.integers(1, 9),
)
def test_a_single_wrong_digit_never_yields_a_patron_or_item(
    type_digit: str, body: str, index: int, shift: int
) -> None:
    number = codabar14(type_digit, body)
    changed = number[:index] + str((int(number[index]) + shift) % 10) + number[index + 1 :]
    assert classify(changed).kind in (BarcodeKind.NOT_LIBRARY, BarcodeKind.PUBLISHER)
