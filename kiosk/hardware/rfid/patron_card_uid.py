"""ISO 14443 patron cards (MIFARE, DESFire) known by their UID, written as the library's card system
writes it. Sans-IO: bytes in, text out.

Most RFID library cards are ISO 14443 cards that hold no library data at all. The card system
enrolled each one by reading its UID on a desk reader and storing what that reader typed as the
patron's card number, so the kiosk must write the UID exactly the same way or the ILS will not know
the card. Desk readers differ in two choices, hence the formats:

* hexadecimal or decimal;
* byte order. ``uid`` here is in the order PC/SC GET DATA (``FF CA 00 00 00``) returns it, which
  for ISO 14443-A is the order the card sends it during anticollision: UID0 first (``04`` first
  on NXP's 7-byte UIDs). The ``*_reversed`` formats read it last byte first, as many keyboard-wedge
  desk readers do (they treat the UID as a little-endian number).

Hex is upper case, two digits per byte. Decimal is the UID as one unsigned number, zero-padded to
the width of the largest number of that many bytes: 10 digits for a 4-byte UID (the common
"10-digit decimal" reader setting), 17 for 7 bytes, 25 for 10 bytes. A fixed width keeps every
card's number the same length, as desk readers print it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.hardware.rfid.readers.pcsc_apdu import CardKind

#: ``TagInfo.tag_type`` of the cards this module names: ISO 14443 A or B, storage or processor
#: card. An ISO 15693 tag is a library label, and an unknown card is not a patron's card.
ISO14443_TAG_TYPES: frozenset[str] = frozenset(
    kind.value for kind in (CardKind.ISO14443A, CardKind.ISO14443B, CardKind.ISO14443_4)
)

#: ISO 14443-3 UIDs are 4, 7 or 10 bytes (type B PUPIs 4); anything longer is not a UID.
MAX_UID_BYTES = 10


class UidFormat(StrEnum):
    """``[rfid] patron_card_uid``: how a card's UID is written as its patron's card number."""

    NONE = "none"  # ISO 14443 cards are not patron cards: they show as unreadable
    # UID 04 A1 B2 C3 as GET DATA gives it:
    HEX = "hex"  # 04A1B2C3
    HEX_REVERSED = "hex_reversed"  # C3B2A104
    DECIMAL = "decimal"  # 0077705923
    DECIMAL_REVERSED = "decimal_reversed"  # 3283263748


UID_FORMATS: tuple[str, ...] = tuple(f.value for f in UidFormat)


class CardUidError(ValueError):
    """A UID that cannot be written as a card number (none, empty, too long), or text that is no
    card number in the format asked for."""


def decimal_width(length: int) -> int:
    """Digits of the largest ``length``-byte number: the width a decimal card number is padded to."""
    return len(str(256**length - 1))


def _reversed(fmt: UidFormat) -> bool:
    return fmt in (UidFormat.HEX_REVERSED, UidFormat.DECIMAL_REVERSED)


def _check_length(length: int) -> None:
    if not 1 <= length <= MAX_UID_BYTES:
        raise CardUidError(f"a card UID has 1 to {MAX_UID_BYTES} bytes, not {length}")


def uid_text(uid: bytes, fmt: UidFormat) -> str:
    """``uid`` written in ``fmt`` (without any prefix)."""
    if fmt is UidFormat.NONE:
        raise CardUidError('patron_card_uid = "none": card UIDs are not patron card numbers')
    _check_length(len(uid))
    ordered = uid[::-1] if _reversed(fmt) else bytes(uid)
    if fmt in (UidFormat.HEX, UidFormat.HEX_REVERSED):
        return ordered.hex().upper()
    return str(int.from_bytes(ordered, "big")).zfill(decimal_width(len(uid)))


def uid_from_text(text: str, fmt: UidFormat, length: int) -> bytes:
    """The ``length``-byte UID that ``text`` writes in ``fmt``: the inverse of :func:`uid_text`, for
    checking a printed card number against what the reader sees. Hex digits in either case."""
    if fmt is UidFormat.NONE:
        raise CardUidError('patron_card_uid = "none" writes no card numbers')
    _check_length(length)
    if fmt in (UidFormat.HEX, UidFormat.HEX_REVERSED):
        if len(text) != 2 * length or not set(text) <= set(string.hexdigits):
            raise CardUidError(f"expected {2 * length} hex digits for a {length}-byte UID")
        ordered = bytes.fromhex(text)
    else:
        if len(text) != decimal_width(length) or not text.isascii() or not text.isdigit():
            raise CardUidError(f"expected {decimal_width(length)} decimal digits for a {length}-byte UID")
        value = int(text)
        if value >= 256**length:
            raise CardUidError(f"the number is too large for a {length}-byte UID")
        ordered = value.to_bytes(length, "big")
    return ordered[::-1] if _reversed(fmt) else ordered


@dataclass(frozen=True, slots=True)
class UidPatronCard:
    """What the tag watcher records for an ISO 14443 card on the pad: a patron card known by its UID.

    It travels the way an ISO 28560 patron card (type of usage 8) does: into the stack's patron
    cards, then into ``Pad.patron_cards``. The id is left out of ``repr``: stacks and events end up
    in tracebacks, and an id there would be a patron's card number in the log.
    """

    patron_id: str = field(repr=False)
    tag_type: str = CardKind.ISO14443A.value

    @property
    def is_patron_card(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class PatronCardIds:
    """How the kiosk turns an ISO 14443 card's UID into a patron card number
    (``[rfid] patron_card_uid`` and ``patron_card_prefix``)."""

    format: UidFormat = UidFormat.NONE
    prefix: str = ""

    @property
    def enabled(self) -> bool:
        return self.format is not UidFormat.NONE

    def patron_id(self, uid: bytes) -> str:
        """``prefix`` + the UID in ``format``; :class:`CardUidError` when there is none to give."""
        return self.prefix + uid_text(uid, self.format)

    def card(self, uid: bytes, tag_type: str = CardKind.ISO14443A.value) -> UidPatronCard:
        return UidPatronCard(self.patron_id(uid), tag_type)
