"""Check digits of library numbers (Luhn, 14-digit Codabar) and publisher numbers (EAN/UPC).

Written here rather than taken from python-stdnum: each is a few lines, the kiosk needs exactly
these four, and the library-specific one (Codabar 14 with its type digit) is not in stdnum anyway.
The tests compare them with python-stdnum as an independent implementation.

``*_check_digit`` functions take the payload without its check digit and raise ValueError on
anything but ASCII digits (a caller's bug); ``*_is_valid`` functions take any text and answer
False for what is not a valid number, because they judge patron input.
"""

from __future__ import annotations

CODABAR14_LENGTH = 14
CODABAR14_PATRON_TYPE = "2"
CODABAR14_ITEM_TYPE = "3"


def is_ascii_digits(text: str) -> bool:
    """str.isdigit alone accepts '²' and Arabic-Indic digits, which int() or a check would trip on."""
    return text.isascii() and text.isdigit()


def _require_digits(payload: str) -> None:
    if not is_ascii_digits(payload):
        raise ValueError(f"check digit payload must be ASCII digits, got {payload!r}")


def luhn_check_digit(payload: str) -> str:
    """Luhn (mod 10, weights 2-1 from the right) as printed on library cards."""
    _require_digits(payload)
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:  # the digit next to the check digit is doubled
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_is_valid(number: str) -> bool:
    return len(number) >= 2 and is_ascii_digits(number) and luhn_check_digit(number[:-1]) == number[-1]


def codabar14_is_valid(number: str, type_digit: str | None = None) -> bool:
    """The North American 14-digit library barcode: type digit (2 patron, 3 item), institution,
    serial, Luhn check digit. ``type_digit`` None accepts either type."""
    return (
        len(number) == CODABAR14_LENGTH
        and luhn_is_valid(number)
        and (type_digit is None or number[0] == type_digit)
    )


def gtin_check_digit(payload: str) -> str:
    """GS1 mod 10 (weights 3-1 from the right): EAN-8, UPC-A, EAN-13/ISBN-13, GTIN-14."""
    _require_digits(payload)
    total = sum(
        int(char) * (3 if position % 2 == 0 else 1) for position, char in enumerate(reversed(payload))
    )
    return str((10 - total % 10) % 10)


def gtin_is_valid(number: str, lengths: tuple[int, ...] = (8, 12, 13, 14)) -> bool:
    return len(number) in lengths and is_ascii_digits(number) and gtin_check_digit(number[:-1]) == number[-1]


def upce_to_upca(upce: str) -> str:
    """Expand an 8-digit UPC-E (number system 0/1, six digits, check) to its 12-digit UPC-A.

    The check digit of a UPC-E is the one of its UPC-A expansion, so this is how it is validated.
    """
    if len(upce) != 8 or not is_ascii_digits(upce) or upce[0] not in "01":
        raise ValueError(f"not an 8-digit UPC-E with number system 0 or 1: {upce!r}")
    system, d, check = upce[0], upce[1:7], upce[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return system + body + check


def upce_is_valid(number: str) -> bool:
    if len(number) != 8 or not is_ascii_digits(number) or number[0] not in "01":
        return False
    return gtin_is_valid(upce_to_upca(number), lengths=(12,))
