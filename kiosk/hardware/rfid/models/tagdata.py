"""The one value every tag data model decodes to, and the typed outcomes around it.

The kiosk cares about a handful of facts (which item, which library, how many parts, patron card or
not) whatever layout the tag uses; model-specific detail stays in each model's own rich type.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "BLANK_TAG",
    "USAGE_NAMES",
    "TagData",
    "TagEncodeError",
    "TagFormatError",
    "UnreadableTag",
    "UsageType",
    "usage_name",
    "usage_type_from_code",
]


class UsageType(IntEnum):
    """Type of usage, main category (ISO 28560-1; the low nibble of 28560-3 byte 0, the high hex digit
    of the 28560-2 type-of-usage element). Codes without a defined meaning (5, 10..15) stay plain ints."""

    ACQUISITION = 0
    CIRCULATING_ITEM = 1
    NOT_FOR_CIRCULATION = 2
    LOCAL_USE_A = 3
    LOCAL_USE_B = 4
    NO_INFORMATION = 6
    DISCARDED = 7
    PATRON_CARD = 8
    LIBRARY_EQUIPMENT = 9


_USAGE_BY_CODE = {member.value: member for member in UsageType}


def usage_type_from_code(code: int) -> UsageType | int:
    """Map a main-category code to UsageType, keeping unknown codes as int so nothing is lost."""
    return _USAGE_BY_CODE.get(code, code)


USAGE_NAMES: tuple[str, ...] = tuple(member.name.lower() for member in UsageType)
"""The defined types of usage by name ("not_for_circulation", ...): the words settings use."""


def usage_name(usage: UsageType | int | None) -> str:
    """A tag's type of usage as a name the circulation core and the settings share, so neither needs
    this module: "" when the tag does not say (RFID501, a 28560-2 tag without the element), and a
    code without a defined meaning keeps its number ("usage_5") rather than passing for another."""
    if usage is None:
        return ""
    known = _USAGE_BY_CODE.get(int(usage))
    return known.name.lower() if known is not None else f"usage_{int(usage)}"


class TagFormatError(ValueError):
    """Tag memory does not hold a valid instance of the data model asked for.

    Carries the raw bytes so the caller can log or show them; nothing read from the tag is lost.
    """

    def __init__(self, message: str, raw: bytes = b"") -> None:
        super().__init__(message)
        self.raw = bytes(raw)


class TagEncodeError(ValueError):
    """Values cannot be written in the data model asked for (too long, characters it cannot hold)."""


@dataclass(frozen=True, slots=True)
class TagData:
    """What the kiosk needs from a library tag, the same for every data model.

    ``model`` is one of "iso28560-3", "iso28560-3-dm11", "iso28560-2", "rfid501". ``extras`` holds
    further data elements as (name, text) pairs in tag order (shelf location, title, ...), so a
    screen can show them without knowing the model. ``block_reversed`` is True when the reader
    delivered every 4-byte block byte-reversed and the decoder undid it: a later write must reverse
    the same way.
    """

    model: str
    item_id: str
    parts_in_set: int | None
    part_number: int | None
    owner_library: str | None
    usage_type: UsageType | int | None
    raw: bytes
    extras: tuple[tuple[str, str], ...] = ()
    block_reversed: bool = False

    @property
    def is_patron_card(self) -> bool:
        return self.usage_type == UsageType.PATRON_CARD

    def extra(self, name: str) -> str | None:
        """The first extra element called ``name``, or None."""
        for key, value in self.extras:
            if key == name:
                return value
        return None


BLANK_TAG = "blank tag"


@dataclass(frozen=True, slots=True)
class UnreadableTag:
    """A tag whose memory no supported model explains: a result, not an exception, because a pad
    that is polled continuously must keep going (and show staff why) rather than crash."""

    reason: str
    raw: bytes

    @property
    def is_blank(self) -> bool:
        return self.reason == BLANK_TAG
