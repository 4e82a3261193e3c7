"""The simulated library's records and the results of its operations, as plain values.

Kept apart from the rules (``library.py``) and the storage (``store.py``) so that the SIP2 layer
and the tests can name them without pulling in SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sip2.fields import AlertType

# --- money -----------------------------------------------------------------------------------


def to_cents(amount: str | int | Decimal) -> int:
    """Money is kept in integer cents: float arithmetic would make 0.10 + 0.20 owe a fraction."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ValueError(f"not an amount: {amount!r}") from None
    if not value.is_finite():
        raise ValueError(f"not an amount: {amount!r}")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"more than two decimals: {amount!r}")
    return int(cents)


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def end_of_day(value: datetime) -> datetime:
    """Due dates fall at closing time of the day, as Koha and most ILSs set them."""
    return datetime.combine(value.date(), time(23, 59, 59))


# --- records ---------------------------------------------------------------------------------


class ItemStatus(StrEnum):
    AVAILABLE = "available"
    ON_LOAN = "on_loan"
    ON_HOLD_SHELF = "on_hold_shelf"
    IN_TRANSIT = "in_transit"
    LOST = "lost"
    MISSING = "missing"
    CLAIMED_RETURNED = "claimed_returned"
    ON_ORDER = "on_order"
    IN_PROCESS = "in_process"


class HoldStatus(StrEnum):
    PENDING = "pending"  # waiting for a copy to come back
    IN_TRANSIT = "in_transit"  # trapped at checkin, travelling to the pickup branch
    READY = "ready"  # on the hold shelf at the pickup branch


@dataclass(frozen=True, slots=True)
class Patron:
    id: str
    pin: str
    name: str
    email: str
    phone: str
    address: str
    home_branch: str
    patron_class: str
    language: str
    expires: datetime
    blocked: str | None  # staff block with its reason
    card_lost: bool
    restrictions: frozenset[str]  # "holds", "renewals"
    sc_block: str | None  # set by a 01 Block Patron from a self-check


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    title: str
    author: str
    media_type: str
    call_number: str
    collection: str
    home_branch: str
    current_branch: str
    status: ItemStatus
    loanable: bool
    parts: int
    rental_fee: int  # cents; 0 = none
    properties: str
    transit_to: str | None


@dataclass(frozen=True, slots=True)
class Loan:
    item_id: str
    patron_id: str
    checked_out: datetime
    due: datetime
    renewals: int


@dataclass(frozen=True, slots=True)
class Hold:
    id: int
    item_id: str
    patron_id: str
    pickup_branch: str
    placed: datetime
    expires: datetime
    status: HoldStatus
    shelf_until: datetime | None


@dataclass(frozen=True, slots=True)
class Fine:
    id: int
    patron_id: str
    item_id: str | None
    fee_type: str  # SIP2 fee type: 01 other, 04 overdue, 06 rental, 07 replacement
    amount: int  # cents
    paid: int
    description: str
    created: datetime

    @property
    def owed(self) -> int:
        return self.amount - self.paid


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    seq: int
    time: datetime
    message: str  # SIP2 request code, "11" checkout, "09" checkin...
    patron: str | None
    item: str | None
    outcome: str  # checked_out, renewed, checked_in, not_on_loan, refused, ...
    applied: bool
    no_block: bool
    connection: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class Rules:
    loan_days: dict[str, int]
    max_renewals: int
    fine_per_day: dict[str, int]  # cents
    max_fine_per_item: int
    fine_limit: int
    max_overdue: int
    hold_shelf_days: int
    hold_expiry_days: int
    patron_classes: dict[str, dict[str, int]]
    card_valid_days: int

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Rules:
        return cls(
            loan_days={k: int(v) for k, v in data["loan_days"].items()},
            max_renewals=int(data["max_renewals"]),
            fine_per_day={k: to_cents(v) for k, v in data["fine_per_day"].items()},
            max_fine_per_item=to_cents(data["max_fine_per_item"]),
            fine_limit=to_cents(data["fine_limit"]),
            max_overdue=int(data["max_overdue"]),
            hold_shelf_days=int(data["hold_shelf_days"]),
            hold_expiry_days=int(data["hold_expiry_days"]),
            patron_classes={
                k: {kk: int(vv) for kk, vv in v.items()} for k, v in data["patron_classes"].items()
            },
            card_valid_days=int(data["card_valid_days"]),
        )

    def limit(self, patron_class: str, name: str) -> int:
        limits = self.patron_classes.get(patron_class) or self.patron_classes["adult"]
        return limits[name]


@dataclass(frozen=True, slots=True)
class Standing:
    """A patron's account as the circulation rules see it, with the first reason (if any) that
    stops each privilege. Reasons are the ILS's own words, shown to the patron as AF."""

    patron: Patron
    loans: tuple[Loan, ...]
    overdue: tuple[Loan, ...]
    holds_ready: tuple[Hold, ...]
    holds_waiting: tuple[Hold, ...]
    fines: tuple[Fine, ...]
    fines_owed: int
    max_items: int
    max_holds: int
    max_overdue: int
    fine_limit: int
    expired: bool
    fines_over_limit: bool
    too_many_items: bool
    too_many_overdue: bool
    at_hold_limit: bool
    borrow_block: str | None  # stops checkout (and renewal)
    renew_block: str | None
    hold_block: str | None

    @property
    def account_block(self) -> bool:
        """Blocks that take every privilege away: lost card, staff or self-check block, expiry."""
        p = self.patron
        return p.card_lost or bool(p.blocked) or bool(p.sc_block) or self.expired


@dataclass(frozen=True, slots=True)
class Routing:
    """Where a returned item goes next: what the sorter and the kiosk must be told."""

    alert: AlertType | None  # None: no alert, reshelve
    sort_bin: str
    destination: str | None = None  # CT: branch the item travels to
    hold_patron: Patron | None = None


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    ok: bool
    item: Item | None
    patron: Patron | None
    renewal: bool = False
    due: datetime | None = None
    message: str | None = None  # refusal reason, or a note for the patron
    fee_type: str | None = None
    fee_amount: int = 0  # cents


@dataclass(frozen=True, slots=True)
class CheckinResult:
    ok: bool
    item: Item | None
    patron_id: str | None = None  # who had it on loan
    routing: Routing | None = None
    messages: tuple[str, ...] = ()
    fine: int = 0  # cents charged for lateness


@dataclass(frozen=True, slots=True)
class RenewAllResult:
    ok: bool
    patron: Patron | None
    renewed: tuple[str, ...] = ()
    unrenewed: tuple[str, ...] = ()
    message: str | None = None


@dataclass(frozen=True, slots=True)
class HoldResult:
    ok: bool
    patron: Patron | None
    item: Item | None
    hold: Hold | None = None
    queue_position: int | None = None
    available: bool = False
    message: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentResult:
    ok: bool
    patron: Patron | None
    transaction_id: str | None = None
    paid: int = 0
    message: str | None = None


@dataclass(frozen=True, slots=True)
class PatronResult:
    """Outcome of 01 Block Patron / 25 Patron Enable."""

    ok: bool
    patron: Patron | None
    message: str | None = None
