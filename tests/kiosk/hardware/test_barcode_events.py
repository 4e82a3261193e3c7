"""ScanFormat and AIM identifiers: what drivers do to a frame before it becomes an event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.hardware.barcode import Garbled, Scan, ScanFormat, ScannerUnavailable, UnreadableScan
from kiosk.hardware.barcode.aim import split_aim_identifier

AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("]F030234000517861", ("Codabar", "30234000517861")),
        ("]E09780306406157", ("EAN/UPC", "9780306406157")),
        ("]A0ABC", ("Code 39", "ABC")),
        ("]Y0123", (None, "]Y0123")),  # not an ISO/IEC 15424 symbology code
        ("]F", (None, "]F")),
        ("30234000517861", (None, "30234000517861")),
    ],
)
def test_aim_identifiers(text: str, expected: tuple[str | None, str]) -> None:
    assert split_aim_identifier(text) == expected


def test_prefix_then_aim_identifier_then_suffix() -> None:
    fmt = ScanFormat(strip_prefix="#", strip_suffix="!", aim_identifier=True)
    assert fmt.to_event("#]F0123!", "s", AT) == Scan("123", "s", "Codabar", AT)
    assert fmt.to_event("]F0123", "s", AT) == Scan("123", "s", "Codabar", AT)  # prefix absent: kept working


def test_nothing_left_after_stripping_is_unreadable() -> None:
    assert ScanFormat(strip_prefix="#").to_event("#", "s", AT) == UnreadableScan(
        "s", b"#", "no data after prefix/suffix", AT
    )


def test_garbled_frames_become_unreadable_scans_with_their_raw_bytes() -> None:
    assert ScanFormat().to_event(Garbled(b"\xff1", "not ascii"), "s", AT) == UnreadableScan(
        "s", b"\xff1", "not ascii", AT
    )


def test_scanner_unavailable_names_the_device_as_error_and_as_event() -> None:
    lost = ScannerUnavailable("/dev/serial/by-id/usb-x", "lost: EIO", at=AT)
    assert (lost.device, lost.reason, lost.at) == ("/dev/serial/by-id/usb-x", "lost: EIO", AT)
    assert str(lost) == "scanner /dev/serial/by-id/usb-x unavailable: lost: EIO"


@given(st.text(max_size=30), st.text(max_size=3), st.text(max_size=3), st.booleans())
def test_to_event_never_raises_and_never_returns_empty_text(
    text: str, prefix: str, suffix: str, aim: bool
) -> None:
    event = ScanFormat(prefix, suffix, aim).to_event(text, "s", AT)
    assert isinstance(event, UnreadableScan) or event.text
