"""What the ILS said, in the kiosk's own terms, and what is on the pad.

The gateway (``kiosk/ils``) turns SIP2 responses into these values, so the state machines never
parse a protocol and would not change if the ILS spoke NCIP instead. Everything is immutable:
state machines keep these in their state, and the UI gets them in snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Alert(StrEnum):
    """Why a returned item must not simply go back on the shelf (SIP2 CV alert type)."""

    NONE = "none"
    HOLD_HERE = "hold here"  # someone at this branch is waiting for it
    HOLD_OTHER_BRANCH = "hold other branch"
    TRANSIT = "transit"  # it belongs to another branch
    OTHER = "other"  # the ILS raised an alert it did not explain


@dataclass(frozen=True, slots=True)
class Loan:
    item_id: str
    title: str = ""
    due: str = ""  # as the ILS gave it: a SIP2 date or free text


@dataclass(frozen=True, slots=True)
class PatronAccount:
    """The answer to "who is this?" (63 Patron Information)."""

    patron_id: str
    known: bool  # the ILS knows this card
    pin_ok: bool | None  # None: the ILS did not check a PIN
    name: str = ""
    may_borrow: bool = True  # no status flag that stops a checkout is set
    problems: tuple[str, ...] = ()  # names of the status flags that are set
    loans_count: int = 0
    overdue_count: int = 0
    holds_ready_count: int = 0
    fines: str = ""  # amount as the ILS gave it, "" when none
    currency: str = ""
    email: str = ""  # where an e-mail receipt may go; "" when the ILS has none
    loans: tuple[Loan, ...] = ()
    holds_ready: tuple[str, ...] = ()  # titles or item ids, as listed by the ILS
    messages: tuple[str, ...] = ()  # the ILS's own words (AF), shown to the patron
    offline: bool = False  # not from the ILS: the card passed the offline policy (no PIN was checked)


@dataclass(frozen=True, slots=True)
class LoanAnswer:
    """The answer to a checkout or a renewal."""

    item_id: str
    ok: bool
    title: str = ""
    due: str = ""
    renewed: bool = False  # the ILS treated it as a renewal
    messages: tuple[str, ...] = ()  # refusal reasons, in the ILS's words
    offline: bool = False  # recorded in the journal under the offline policy, for the ILS later
    message_id: str = ""  # a refusal by this kiosk (offline policy), as a message id; "" = the ILS's


@dataclass(frozen=True, slots=True)
class ReturnAnswer:
    """The answer to a checkin."""

    item_id: str
    ok: bool
    title: str = ""
    sort_bin: str = ""  # CL, as the ILS names it
    alert: Alert = Alert.NONE
    destination: str = ""  # CT: where a transit or a hold elsewhere goes
    hold_patron_name: str = ""  # DA: for the hold slip, never shown on the screen
    hold_patron_id: str = ""
    was_on_loan_to: str = ""  # AA
    messages: tuple[str, ...] = ()
    offline: bool = False  # recorded in the journal under the offline policy, for the ILS later
    message_id: str = ""  # a refusal by this kiosk (offline policy), as a message id; "" = the ILS's


@dataclass(frozen=True, slots=True)
class RenewAllAnswer:
    ok: bool
    renewed: tuple[str, ...] = ()
    not_renewed: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()


class FailureKind(StrEnum):
    UNREACHABLE = "unreachable"  # no connection, login refused, timeout before sending
    OUTCOME_UNKNOWN = "outcome unknown"  # sent, answer lost: must be resolved, never resent
    REFUSED_BY_DEVICE = "device"  # a reader, printer or sensor failed


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    detail: str  # for IT's log; patrons get wording chosen by the core


@dataclass(frozen=True, slots=True)
class PadItem:
    """One item tag on the pad, as the tag watcher decoded it.

    ``usage`` is what the tag says the item is for (ISO 28560-1 type of usage, by the name the
    ``[offline]`` settings use: "circulating_item", "not_for_circulation", ...); "" when the tag does
    not say. Only the offline policy reads it: online the ILS knows better than any tag."""

    uid: bytes
    item_id: str
    parts_in_set: int | None = None
    part_number: int | None = None
    usage: str = ""


@dataclass(frozen=True, slots=True)
class IncompleteSet:
    item_id: str
    parts_in_set: int
    missing: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Pad:
    """What lies on the pad now (stable): items, patron cards, unreadable tags, incomplete sets."""

    items: tuple[PadItem, ...] = ()
    patron_cards: tuple[str, ...] = ()  # patron ids read from RFID patron cards
    unreadable: tuple[bytes, ...] = ()  # UIDs of tags that could not be decoded
    incomplete_sets: tuple[IncompleteSet, ...] = ()

    def item_ids(self) -> tuple[str, ...]:
        """Each item once, however many of its parts are on the pad, in pad order."""
        seen: dict[str, None] = {}
        for item in self.items:
            seen.setdefault(item.item_id, None)
        return tuple(seen)

    def uids_of(self, item_id: str) -> tuple[bytes, ...]:
        return tuple(i.uid for i in self.items if i.item_id == item_id)

    def usages_of(self, item_id: str) -> tuple[str, ...]:
        """The types of usage the item's tags on the pad state, each once (the parts of a set may differ)."""
        return tuple(dict.fromkeys(i.usage for i in self.items if i.item_id == item_id and i.usage))
