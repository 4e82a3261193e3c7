"""Value types of SIP2 fields: dates, the 14 patron-status flags, the summary, the BX list.

These are where SIP2 is easiest to misread, so each type makes the wire meaning explicit:
the patron status says *denied* in every flag name (a ``Y`` takes a privilege away), a date
carries its zone label, and the summary is an enum instead of a position in a 10-char string.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta, tzinfo

DATE_LENGTH = 18
BLANK_DATE = " " * DATE_LENGTH


class ZoneLabel(tzinfo):
    """A SIP2 zone field that is neither blank (local time) nor ``   Z`` (UTC).

    The spec leaves ZZZZ free-form ("EST ", "+01 " are seen in the wild). We keep the label
    so the date re-encodes exactly, and report no UTC offset because the label does not give
    one reliably.
    """

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return self.label

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZoneLabel) and other.label == self.label

    def __hash__(self) -> int:
        return hash(self.label)

    def __repr__(self) -> str:
        return f"ZoneLabel({self.label!r})"


def encode_date(value: datetime | None) -> str:
    """18 chars ``YYYYMMDDZZZZHHMMSS``: naive = local (blank zone), UTC = ``   Z``.

    An aware datetime with another real offset is converted to UTC, because SIP2 has no way to
    say "+02:00" that servers agree on.
    """
    if value is None:
        return BLANK_DATE
    # The zone is part of the cache key: a datetime labelled " EST" compares equal to the
    # naive one (neither has a UTC offset), yet encodes differently.
    return _encode_date(value, value.tzinfo)


@functools.lru_cache(maxsize=512)
def _encode_date(value: datetime, tz: tzinfo | None) -> str:
    if tz is None:
        zone = "    "
    elif isinstance(tz, ZoneLabel):
        zone = tz.label
    else:
        value = value.astimezone(UTC)
        zone = "   Z"
    return (
        f"{value.year:04d}{value.month:02d}{value.day:02d}{zone}"
        f"{value.hour:02d}{value.minute:02d}{value.second:02d}"
    )


@functools.lru_cache(maxsize=512)
def decode_date(text: str) -> datetime | None:
    """Inverse of :func:`encode_date`; 18 blanks is "no date" (None). Raises ValueError."""
    if len(text) != DATE_LENGTH:
        raise ValueError(f"date must be {DATE_LENGTH} characters, got {len(text)}")
    if text == BLANK_DATE:
        return None
    digits = text[:8] + text[12:]
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"date {text!r} is not YYYYMMDDZZZZHHMMSS")
    zone = text[8:12]
    tz: tzinfo | None
    if zone == "    ":
        tz = None
    elif zone.strip() == "Z":
        tz = UTC if zone == "   Z" else ZoneLabel(zone)
    else:
        tz = ZoneLabel(zone)
    return datetime(
        int(text[0:4]), int(text[4:6]), int(text[6:8]),
        int(text[12:14]), int(text[14:16]), int(text[16:18]), tzinfo=tz,
    )


@dataclass(frozen=True, slots=True)
class PatronStatus:
    """The 14-character patron status of 24/26/64. ``True`` means the privilege is DENIED.

    On the wire ``Y`` means denied/true and a blank means not denied. Every name says
    ``denied`` (or names the problem) so ``if status.charge_privileges_denied`` cannot be read
    the wrong way round, a bug the PyPI ``sip2`` wrapper ships (reference §3.3).
    Positions follow the SIP2 2.00 spec.
    """

    charge_privileges_denied: bool = False
    renewal_privileges_denied: bool = False
    recall_privileges_denied: bool = False
    hold_privileges_denied: bool = False
    card_reported_lost: bool = False
    too_many_items_charged: bool = False
    too_many_items_overdue: bool = False
    too_many_renewals: bool = False
    too_many_claims_of_items_returned: bool = False
    too_many_items_lost: bool = False
    excessive_outstanding_fines: bool = False
    excessive_outstanding_fees: bool = False
    recall_overdue: bool = False
    too_many_items_billed: bool = False

    @classmethod
    def decode(cls, text: str) -> PatronStatus:
        if len(text) != 14:
            raise ValueError(f"patron status must be 14 characters, got {len(text)}")
        return _decode_patron_status(text)

    def encode(self) -> str:
        return _encode_patron_status(self)

    @property
    def problems(self) -> tuple[str, ...]:
        """Names of the flags that are set, in wire order."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name))

    @property
    def blocks_checkout(self) -> bool:
        """Whether any flag that stops *borrowing* is set.

        Hold, recall and renewal denials do not stop a checkout (NYPL circulation PR #495/#656):
        a patron who may not place holds may still borrow.
        """
        return any(
            (
                self.charge_privileges_denied,
                self.card_reported_lost,
                self.too_many_items_charged,
                self.too_many_items_overdue,
                self.too_many_claims_of_items_returned,
                self.too_many_items_lost,
                self.excessive_outstanding_fines,
                self.excessive_outstanding_fees,
                self.recall_overdue,
                self.too_many_items_billed,
            )
        )


# Status strings repeat endlessly (most patrons have none or one flag), and both values are
# immutable, so a small cache turns 14 conversions into one dictionary lookup.
@functools.lru_cache(maxsize=256)
def _decode_patron_status(text: str) -> PatronStatus:
    return PatronStatus(*(c == "Y" for c in text))


@functools.lru_cache(maxsize=256)
def _encode_patron_status(status: PatronStatus) -> str:
    return "".join("Y" if getattr(status, f.name) else " " for f in fields(status))


class Summary(enum.IntEnum):
    """Which item list a 63 Patron Information asks for: the position of the single ``Y``."""

    HOLD_ITEMS = 0  # AS
    OVERDUE_ITEMS = 1  # AT
    CHARGED_ITEMS = 2  # AU
    FINE_ITEMS = 3  # AV
    RECALL_ITEMS = 4  # BU
    UNAVAILABLE_HOLDS = 5  # CD


def encode_summary(value: Summary | None) -> str:
    if value is None:
        return " " * 10
    return " " * value + "Y" + " " * (9 - value)


def decode_summary(text: str) -> Summary | None:
    """The first ``Y`` wins; none means "no list". Positions 6-9 are unused by the spec."""
    if len(text) != 10:
        raise ValueError(f"summary must be 10 characters, got {len(text)}")
    pos = text.find("Y")
    if pos < 0:
        return None
    if pos > 5:
        raise ValueError(f"summary position {pos} is unused by SIP2 2.00")
    return Summary(pos)


#: BX "supported messages": position → request command code (SIP2 2.00 order).
SUPPORTED_MESSAGE_ORDER = (
    "23", "11", "09", "01", "99", "97", "93", "63", "35", "37", "17", "19", "25", "15", "29", "65",
)


@dataclass(frozen=True, slots=True)
class SupportedMessages:
    """BX of 98, as the set of request codes the ACS claims to support.

    Servers' claims are unreliable (SIPServer reports checkin unsupported while it works,
    reference §3.1), so treat this as a hint, never a gate.
    """

    codes: frozenset[str]
    raw: str = ""

    @classmethod
    def decode(cls, text: str) -> SupportedMessages:
        codes = frozenset(
            code for code, flag in zip(SUPPORTED_MESSAGE_ORDER, text, strict=False) if flag == "Y"
        )
        return cls(codes, text)

    def encode(self) -> str:
        if self.raw:
            return self.raw
        return "".join("Y" if code in self.codes else "N" for code in SUPPORTED_MESSAGE_ORDER)

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    @classmethod
    def of(cls, codes: set[str] | frozenset[str]) -> SupportedMessages:
        return cls(frozenset(codes))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SupportedMessages) and self.encode() == other.encode()

    def __hash__(self) -> int:
        return hash(self.encode())


#: Every variable field id we know, with a readable name. Used by the CLI and for ``extra``
#: fields that a message does not declare (vendor extensions are shown by name when known).
FIELD_NAMES: dict[str, str] = {
    "AA": "patron identifier", "AB": "item identifier", "AC": "terminal password",
    "AD": "patron password", "AE": "personal name", "AF": "screen message", "AG": "print line",
    "AH": "due date", "AJ": "title identifier", "AL": "blocked card msg", "AM": "library name",
    "AN": "terminal location", "AO": "institution id", "AP": "current location",
    "AQ": "permanent location", "AS": "hold items", "AT": "overdue items", "AU": "charged items",
    "AV": "fine items", "AY": "sequence number", "AZ": "checksum", "BD": "home address",
    "BE": "e-mail address", "BF": "home phone number", "BG": "owner", "BH": "currency type",
    "BI": "cancel", "BK": "transaction id", "BL": "valid patron", "BM": "renewed items",
    "BN": "unrenewed items", "BO": "fee acknowledged", "BP": "start item", "BQ": "end item",
    "BR": "queue position", "BS": "pickup location", "BT": "fee type", "BU": "recall items",
    "BV": "fee amount", "BW": "expiration date", "BX": "supported messages", "BY": "hold type",
    "BZ": "hold items limit", "CA": "overdue items limit", "CB": "charged items limit",
    "CC": "fee limit", "CD": "unavailable hold items", "CF": "hold queue length",
    "CG": "fee identifier", "CH": "item properties", "CI": "security inhibit", "CJ": "recall date",
    "CK": "media type", "CL": "sort bin", "CM": "hold pickup date", "CN": "login user id",
    "CO": "login password", "CP": "location code", "CQ": "valid patron password",
    # 3M extensions (SIP2 Extensions rev 1.20) as used by Koha and Evergreen
    "CR": "collection code", "CS": "call number", "CT": "destination location",
    "CV": "alert type", "CY": "hold patron id", "DA": "hold patron name",
    # Koha / Evergreen patron extensions
    "PA": "expiration date (ext)", "PB": "birth date (ext)", "PC": "patron class (ext)",
    "PI": "internet privileges (ext)", "XI": "internal patron id (ext)",
}

#: Fields whose values are secrets and must never reach a log.
SECRET_FIELDS = frozenset({"AD", "CO", "AC"})


class AlertType(enum.StrEnum):
    """CV alert type (3M extension, as Koha uses it, reference §1.3)."""

    NONE = "00"
    HOLD_HERE = "01"
    HOLD_OTHER_BRANCH = "02"
    TRANSIT = "04"
    OTHER = "99"


class CirculationStatus(enum.IntEnum):
    """18 Item Information circulation status."""

    OTHER = 1
    ON_ORDER = 2
    AVAILABLE = 3
    CHARGED = 4
    CHARGED_NOT_TO_BE_RECALLED = 5
    IN_PROCESS = 6
    RECALLED = 7
    WAITING_ON_HOLD_SHELF = 8
    WAITING_TO_BE_RESHELVED = 9
    IN_TRANSIT = 10
    CLAIMED_RETURNED = 11
    LOST = 12
    MISSING = 13
