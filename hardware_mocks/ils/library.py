"""The simulated library: patrons, items, loans, holds, fines, and the rules that govern them.

No sockets and no wire format here; ``app.py`` maps SIP2 messages onto these operations. The
rules are the ones real ILSs apply at a self-check (loan period per item type, item and hold
limits, renewal limit, holds block renewal, fines, expiry, blocks), because the kiosk is only
tested properly if the simulation refuses things for the reasons and in the order a real ILS does.

Every circulation request writes one ledger row, in the same SQLite transaction as its effect and
under one lock, so a test can prove a transaction was applied exactly once even when the
connection died between applying it and answering.

What differs between real ILSs (a repeated checkout renews or is refused; a no-block due date or
return date is honoured or ignored; a checkin of an item not on loan answers ok=0 or ok=1) is a
:class:`Behaviour`, derived from :mod:`sip2.dialects` and switchable at runtime.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from hardware_mocks.ils.records import (
    CheckinResult,
    CheckoutResult,
    Fine,
    Hold,
    HoldResult,
    HoldStatus,
    Item,
    ItemStatus,
    LedgerEntry,
    Loan,
    Patron,
    PatronResult,
    PaymentResult,
    RenewAllResult,
    Routing,
    Rules,
    Standing,
    end_of_day,
    format_cents,
    to_cents,
)
from hardware_mocks.ils.store import (
    HOLD_ORDER,
    create_schema,
    dt,
    fine_from_row,
    hold_from_row,
    item_from_row,
    load_sample_data,
    loan_from_row,
    patron_from_row,
    seed,
    ts,
    where_clause,
)
from sip2.dialects import NotOnLoanCheckin, RepeatedCheckout, get_dialect
from sip2.fields import AlertType

# --- dialect behaviour -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How this simulated ILS answers the cases where real ILSs disagree (reference §2-§4)."""

    repeated_checkout_renews: bool = True  # SIPServer, Sierra, Alma: a second checkout renews
    honours_nb_due_date: bool = False  # SIPServer ignores the SC's no-block due date
    honours_return_date: bool = False  # Evergreen ignores it; Koha uses it for fines
    not_on_loan_checkin_ok: bool = False  # Koha default / SIPServer answer ok=0
    dialect: str = "generic"

    @classmethod
    def for_dialect(cls, name: str, **overrides: Any) -> Behaviour:
        """The behaviour of ``sip2.dialects`` profile ``name``; unknown or per-site values take the
        pessimistic choice a kiosk must survive (ignore the SC's dates, refuse not-on-loan)."""
        dialect = get_dialect(name)
        base = cls(
            repeated_checkout_renews=dialect.repeated_checkout is not RepeatedCheckout.REFUSES,
            honours_nb_due_date=bool(dialect.honours_nb_due_date),
            honours_return_date=bool(dialect.honours_return_date),
            not_on_loan_checkin_ok=dialect.not_on_loan_checkin is NotOnLoanCheckin.ACCEPTED,
            dialect=name,
        )
        return replace(base, **overrides)


# --- refusal texts (the ILS's own words; tests and the README refer to these) ----------------

PATRON_NOT_FOUND = "Patron not found"
WRONG_PIN = "Invalid patron password"
ITEM_NOT_FOUND = "Item not found"
CARD_LOST = "Patron card reported lost"
CARD_EXPIRED = "Patron card has expired"
ACCOUNT_BLOCKED = "Patron account is blocked"
FINES_OVER_LIMIT = "Patron has outstanding fines over the limit"
TOO_MANY_OVERDUE = "Patron has too many overdue items"
TOO_MANY_ITEMS = "Patron has too many items"
TOO_MANY_HOLDS = "Patron has too many holds"
HOLDS_RESTRICTED = "Patron may not place holds"
RENEWALS_RESTRICTED = "Patron may not renew items"
NOT_FOR_LOAN = "Item not for loan"
ON_LOAN_TO_OTHER = "Item checked out to another patron"
ALREADY_ON_LOAN = "Item already checked out to this patron"
ON_HOLD_FOR_OTHER = "Item is on hold for another patron"
RENEWAL_LIMIT = "Item has reached the maximum number of renewals"
NOT_CHECKED_OUT = "Item not checked out"
RENTAL_FEE = "Item has a rental fee"
ITEM_REQUIRED = "Item identifier required"
ALREADY_HELD = "Patron already has a hold on this item"
HOLD_ON_OWN_LOAN = "Item is checked out to this patron"
NO_SUCH_HOLD = "Patron has no hold on this item"
UNKNOWN_BRANCH = "Unknown pickup location"
BAD_AMOUNT = "Invalid amount"
OVERPAYMENT = "Payment exceeds the amount owed"
WRONG_CURRENCY = "Currency not accepted"
NOTHING_OWED = "Patron owes nothing"
NO_SC_BLOCK = "Patron is not blocked by a self-check"

ITEM_STATUS_REFUSAL = {
    ItemStatus.LOST: "Item is marked lost; please take it to the desk",
    ItemStatus.MISSING: "Item is marked missing; please take it to the desk",
    ItemStatus.CLAIMED_RETURNED: "Item is claimed returned; please take it to the desk",
    ItemStatus.IN_TRANSIT: "Item is in transit",
    ItemStatus.ON_ORDER: "Item is on order",
    ItemStatus.IN_PROCESS: "Item is being processed",
}


def _account_block(patron: Patron, expired: bool) -> str | None:
    """The block that takes every privilege away, if any, in the order staff would explain them."""
    if patron.card_lost:
        return CARD_LOST
    if patron.blocked:
        return f"{ACCOUNT_BLOCKED}: {patron.blocked}"
    if patron.sc_block:
        return f"{ACCOUNT_BLOCKED}: {patron.sc_block}"
    if expired:
        return CARD_EXPIRED
    return None


# --- the library -----------------------------------------------------------------------------


class Library:
    """The ILS's database and circulation rules. Thread-safe: one lock serialises every access,
    because the SIP2 server runs one thread per connection over a single SQLite connection."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        behaviour: Behaviour | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._conn = conn
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self.behaviour = behaviour or Behaviour()
        self._clock = clock or datetime.now
        settings = json.loads(self.db["settings"].get("library")["value"])
        self.institution_id: str = settings["institution_id"]
        self.library_name: str = settings["library_name"]
        self.currency: str = settings["currency"]
        self.default_branch: str = settings["default_branch"]
        self.rules = Rules.from_data(settings["rules"])
        self.sort_bins: dict[str, str] = settings["sort_bins"]
        self.media_types: dict[str, str] = settings["media_types"]
        self.branches: dict[str, str] = {r["code"]: r["name"] for r in self.db["branches"].rows}

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        data: dict[str, Any] | None = None,
        behaviour: Behaviour | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Library:
        """Open ``path`` (seeding it from ``data`` or the sample if it is new), or a fresh
        in-memory copy of the sample when ``path`` is None."""
        conn = sqlite3.connect(":memory:" if path is None else str(path), check_same_thread=False)
        db = sqlite_utils.Database(conn)
        if "settings" not in db.table_names():
            create_schema(db)
            seed(db, data or load_sample_data(), (clock or datetime.now)().replace(microsecond=0))
            conn.commit()
        return cls(conn, behaviour=behaviour, clock=clock)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def now(self) -> datetime:
        return self._clock().replace(microsecond=0, tzinfo=None)

    # -- reads ----------------------------------------------------------------------------------

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        rows = list(self.db.query(sql, list(params)))
        return rows[0] if rows else None

    def patron(self, patron_id: str) -> Patron | None:
        with self._lock:
            row = self._one("select * from patrons where id = ?", [patron_id])
        return None if row is None else patron_from_row(row)

    def item(self, item_id: str) -> Item | None:
        with self._lock:
            row = self._one("select * from items where id = ?", [item_id])
        return None if row is None else item_from_row(row)

    def loan(self, item_id: str) -> Loan | None:
        with self._lock:
            row = self._one("select * from loans where item_id = ?", [item_id])
        return None if row is None else loan_from_row(row)

    def loans(self, patron_id: str) -> list[Loan]:
        with self._lock:
            rows = list(
                self.db.query("select * from loans where patron_id = ? order by due, item_id", [patron_id])
            )
        return [loan_from_row(r) for r in rows]

    def holds(self, *, item_id: str | None = None, patron_id: str | None = None) -> list[Hold]:
        """Holds in queue order: ready first, then in transit, then waiting by date placed."""
        where, params = where_clause(item_id=item_id, patron_id=patron_id)
        with self._lock:
            rows = list(self.db.query(f"select * from holds {where} {HOLD_ORDER}", params))
        return [hold_from_row(r) for r in rows]

    def fines(self, patron_id: str, *, unpaid_only: bool = True) -> list[Fine]:
        extra = " and paid < amount" if unpaid_only else ""
        with self._lock:
            rows = list(
                self.db.query(
                    f"select * from fines where patron_id = ?{extra} order by created, id", [patron_id]
                )
            )
        return [fine_from_row(r) for r in rows]

    def standing(self, patron_id: str) -> Standing | None:
        with self._lock:
            patron = self.patron(patron_id)
            if patron is None:
                return None
            return self._standing(patron, self.now())

    def _standing(self, patron: Patron, now: datetime) -> Standing:
        loans = tuple(self.loans(patron.id))
        overdue = tuple(loan for loan in loans if loan.due < now)
        holds = self.holds(patron_id=patron.id)
        fines = tuple(self.fines(patron.id))
        owed = sum(f.owed for f in fines)
        rules = self.rules
        max_items = rules.limit(patron.patron_class, "max_items")
        max_holds = rules.limit(patron.patron_class, "max_holds")
        expired = patron.expires < now
        fines_over = owed > rules.fine_limit
        too_many_overdue = len(overdue) >= rules.max_overdue
        account = _account_block(patron, expired)
        borrow = account or (
            FINES_OVER_LIMIT if fines_over else TOO_MANY_OVERDUE if too_many_overdue else None
        )
        renew = borrow or (RENEWALS_RESTRICTED if "renewals" in patron.restrictions else None)
        at_hold_limit = len(holds) >= max_holds
        hold = account or (
            HOLDS_RESTRICTED if "holds" in patron.restrictions else TOO_MANY_HOLDS if at_hold_limit else None
        )
        return Standing(
            patron=patron,
            loans=loans,
            overdue=overdue,
            holds_ready=tuple(h for h in holds if h.status is HoldStatus.READY),
            holds_waiting=tuple(h for h in holds if h.status is not HoldStatus.READY),
            fines=fines,
            fines_owed=owed,
            max_items=max_items,
            max_holds=max_holds,
            max_overdue=rules.max_overdue,
            fine_limit=rules.fine_limit,
            expired=expired,
            fines_over_limit=fines_over,
            too_many_items=len(loans) >= max_items,
            too_many_overdue=too_many_overdue,
            at_hold_limit=at_hold_limit,
            borrow_block=borrow,
            renew_block=renew,
            hold_block=hold,
        )

    def check_pin(self, patron: Patron, pin: str | None) -> bool:
        return pin is not None and pin == patron.pin

    def queue_position(self, hold: Hold) -> int:
        queue = self.holds(item_id=hold.item_id)
        return next(i for i, h in enumerate(queue, 1) if h.id == hold.id)

    def media_code(self, item: Item) -> str:
        return self.media_types.get(item.media_type, "000")

    def branch_for(self, *codes: str | None) -> str:
        """The first of ``codes`` that names a branch, else the default branch."""
        for code in codes:
            if code and code in self.branches:
                return code
        return self.default_branch

    # -- ledger ---------------------------------------------------------------------------------

    def _record(
        self,
        message: str,
        *,
        patron: str | None,
        item: str | None,
        outcome: str,
        applied: bool,
        no_block: bool = False,
        connection: str | None = None,
        detail: str = "",
        now: datetime,
    ) -> None:
        self._conn.execute(
            "insert into ledger (time, message, patron, item, outcome, applied, no_block, connection, "
            "detail) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ts(now), message, patron, item, outcome, int(applied), int(no_block), connection, detail),
        )

    def ledger(
        self,
        *,
        message: str | None = None,
        patron: str | None = None,
        item: str | None = None,
        outcome: str | None = None,
        applied: bool | None = None,
        connection: str | None = None,
    ) -> list[LedgerEntry]:
        """Ledger rows in the order they were written, filtered by the given columns."""
        where, params = where_clause(
            message=message,
            patron=patron,
            item=item,
            outcome=outcome,
            applied=None if applied is None else int(applied),
            connection=connection,
        )
        with self._lock:
            rows = list(self.db.query(f"select * from ledger {where} order by seq", params))
        return [
            LedgerEntry(
                seq=r["seq"],
                time=dt(r["time"]) or datetime.min,
                message=r["message"],
                patron=r["patron"],
                item=r["item"],
                outcome=r["outcome"],
                applied=bool(r["applied"]),
                no_block=bool(r["no_block"]),
                connection=r["connection"],
                detail=r["detail"] or "",
            )
            for r in rows
        ]

    def count(self, **filters: Any) -> int:
        """How many ledger rows match, e.g. ``count(message="11", item=..., applied=True)``."""
        return len(self.ledger(**filters))

    def applied(
        self, message: str | None = None, *, item: str | None = None, patron: str | None = None
    ) -> int:
        """How many transactions were applied (refusals excluded)."""
        return self.count(message=message, item=item, patron=patron, applied=True)

    # -- circulation ----------------------------------------------------------------------------

    def _refuse(
        self,
        message: str,
        reason: str,
        *,
        patron: str | None,
        item: str | None,
        no_block: bool,
        connection: str | None,
        now: datetime,
    ) -> None:
        self._record(
            message,
            patron=patron,
            item=item,
            outcome="refused",
            applied=False,
            no_block=no_block,
            connection=connection,
            detail=reason,
            now=now,
        )

    def checkout(
        self,
        patron_id: str,
        item_id: str,
        *,
        pin: str | None = None,
        no_block: bool = False,
        nb_due_date: datetime | None = None,
        fee_acknowledged: bool = False,
        connection: str | None = None,
    ) -> CheckoutResult:
        """Lend ``item_id`` to ``patron_id``. A no-block checkout records what already happened at
        the self-check while the ILS was unreachable, so it skips every patron and item check."""
        with self._lock, self._conn:
            now = self.now()
            patron = self.patron(patron_id)
            item = self.item(item_id)

            def refuse(reason: str, **extra: Any) -> CheckoutResult:
                self._refuse(
                    "11",
                    reason,
                    patron=patron_id,
                    item=item_id,
                    no_block=no_block,
                    connection=connection,
                    now=now,
                )
                return CheckoutResult(False, item, patron, message=reason, **extra)

            if patron is None:
                return refuse(PATRON_NOT_FOUND)
            if pin and not self.check_pin(patron, pin):
                return refuse(WRONG_PIN)
            if item is None:
                return refuse(ITEM_NOT_FOUND)
            loan = self.loan(item_id)
            if loan is not None and loan.patron_id == patron_id:
                if not self.behaviour.repeated_checkout_renews:
                    return refuse(ALREADY_ON_LOAN)
                return self._renew(
                    patron,
                    item,
                    loan,
                    now=now,
                    message="11",
                    no_block=no_block,
                    nb_due_date=nb_due_date,
                    connection=connection,
                )
            standing = self._standing(patron, now)
            first_hold = next(iter(self.holds(item_id=item_id)), None)
            if not no_block:
                if standing.borrow_block:
                    return refuse(standing.borrow_block)
                if not item.loanable:
                    return refuse(NOT_FOR_LOAN)
                if loan is not None:
                    return refuse(ON_LOAN_TO_OTHER)
                if item.status in ITEM_STATUS_REFUSAL:
                    return refuse(ITEM_STATUS_REFUSAL[item.status])
                if first_hold is not None and first_hold.patron_id != patron_id:
                    return refuse(ON_HOLD_FOR_OTHER)
                if standing.too_many_items:
                    return refuse(TOO_MANY_ITEMS)
                if item.rental_fee and not fee_acknowledged:
                    return refuse(
                        f"{RENTAL_FEE} of {format_cents(item.rental_fee)} {self.currency}",
                        fee_type="06",
                        fee_amount=item.rental_fee,
                    )
            detail = []
            if loan is not None:  # only with no_block: the item left with someone else
                self._conn.execute("delete from loans where item_id = ?", [item_id])
                detail.append(f"loan of {loan.patron_id} closed")
            # The patron's own hold is filled; a hold trapped for someone else goes back to waiting.
            self._conn.execute("delete from holds where item_id = ? and patron_id = ?", [item_id, patron_id])
            self._conn.execute(
                "update holds set status = ?, shelf_until = null where item_id = ? and status != ?",
                [HoldStatus.PENDING.value, item_id, HoldStatus.PENDING.value],
            )
            honoured = no_block and nb_due_date is not None and self.behaviour.honours_nb_due_date
            due = nb_due_date.replace(tzinfo=None) if honoured and nb_due_date else self._due(item, now)
            self._conn.execute(
                "insert into loans (item_id, patron_id, checked_out, due, renewals, no_block) "
                "values (?, ?, ?, ?, 0, ?)",
                [item_id, patron_id, ts(now), ts(due), int(no_block)],
            )
            self._conn.execute(
                "update items set status = ?, transit_to = null where id = ?",
                [ItemStatus.ON_LOAN.value, item_id],
            )
            fee = 0
            if item.rental_fee and (fee_acknowledged or no_block):
                fee = item.rental_fee
                self._add_fine(patron_id, item_id, "06", fee, f"Rental: {item.title}", now)
            if no_block:
                detail.append("nb due date honoured" if honoured else "own due date")
            self._record(
                "11",
                patron=patron_id,
                item=item_id,
                outcome="checked_out",
                applied=True,
                no_block=no_block,
                connection=connection,
                now=now,
                detail="; ".join([f"due {ts(due)}", *detail]),
            )
            return CheckoutResult(
                True, self.item(item_id), patron, due=due, fee_type="06" if fee else None, fee_amount=fee
            )

    def cancel_checkout(
        self, patron_id: str, item_id: str, *, connection: str | None = None
    ) -> CheckoutResult:
        """11 with BI=Y: undo a checkout the self-check could not complete (e.g. the tag's security
        bit would not switch off), so the item is not left on the patron's account."""
        with self._lock, self._conn:
            now = self.now()
            patron = self.patron(patron_id)
            item = self.item(item_id)
            loan = self.loan(item_id)
            if patron is None or item is None or loan is None or loan.patron_id != patron_id:
                reason = (
                    PATRON_NOT_FOUND
                    if patron is None
                    else ITEM_NOT_FOUND
                    if item is None
                    else NOT_CHECKED_OUT
                )
                self._refuse(
                    "11",
                    reason,
                    patron=patron_id,
                    item=item_id,
                    no_block=False,
                    connection=connection,
                    now=now,
                )
                return CheckoutResult(False, item, patron, message=reason)
            self._conn.execute("delete from loans where item_id = ?", [item_id])
            self._conn.execute(
                "delete from fines where patron_id = ? and item_id = ? and fee_type = '06' and paid = 0 "
                "and created >= ?",
                [patron_id, item_id, ts(loan.checked_out)],
            )
            self._set_item(item_id, ItemStatus.AVAILABLE, item.current_branch, None)
            self._record(
                "11",
                patron=patron_id,
                item=item_id,
                outcome="checkout_cancelled",
                applied=True,
                connection=connection,
                now=now,
            )
            return CheckoutResult(True, self.item(item_id), patron)

    def _due(self, item: Item, now: datetime) -> datetime:
        days = self.rules.loan_days.get(item.media_type, self.rules.loan_days.get("book", 21))
        return end_of_day(now + timedelta(days=days))

    def _renew(
        self,
        patron: Patron,
        item: Item,
        loan: Loan,
        *,
        now: datetime,
        message: str,
        no_block: bool,
        nb_due_date: datetime | None,
        connection: str | None,
    ) -> CheckoutResult:
        if not no_block:
            reason: str | None = self._standing(patron, now).renew_block
            if reason is None and loan.renewals >= self.rules.max_renewals:
                reason = RENEWAL_LIMIT
            if reason is None and any(h.patron_id != patron.id for h in self.holds(item_id=item.id)):
                reason = ON_HOLD_FOR_OTHER
            if reason is not None:
                self._refuse(
                    message,
                    reason,
                    patron=patron.id,
                    item=item.id,
                    no_block=no_block,
                    connection=connection,
                    now=now,
                )
                return CheckoutResult(False, item, patron, renewal=True, due=loan.due, message=reason)
        honoured = no_block and nb_due_date is not None and self.behaviour.honours_nb_due_date
        # The new period runs from the old due date unless that has passed (Koha's
        # RenewalPeriodBase = date_due), so a renewal always moves the due date.
        due = (
            nb_due_date.replace(tzinfo=None)
            if honoured and nb_due_date
            else self._due(item, max(now, loan.due))
        )
        self._conn.execute(
            "update loans set due = ?, renewals = renewals + 1 where item_id = ?", [ts(due), item.id]
        )
        self._record(
            message,
            patron=patron.id,
            item=item.id,
            outcome="renewed",
            applied=True,
            no_block=no_block,
            connection=connection,
            now=now,
            detail=f"due {ts(due)}; renewal {loan.renewals + 1}",
        )
        return CheckoutResult(True, item, patron, renewal=True, due=due)

    def renew(
        self,
        patron_id: str,
        item_id: str | None,
        *,
        pin: str | None = None,
        no_block: bool = False,
        nb_due_date: datetime | None = None,
        connection: str | None = None,
    ) -> CheckoutResult:
        with self._lock, self._conn:
            now = self.now()
            patron = self.patron(patron_id)
            item = self.item(item_id) if item_id else None

            def refuse(reason: str) -> CheckoutResult:
                self._refuse(
                    "29",
                    reason,
                    patron=patron_id,
                    item=item_id,
                    no_block=no_block,
                    connection=connection,
                    now=now,
                )
                return CheckoutResult(False, item, patron, renewal=True, message=reason)

            if patron is None:
                return refuse(PATRON_NOT_FOUND)
            if pin and not self.check_pin(patron, pin):
                return refuse(WRONG_PIN)
            if not item_id:
                return refuse(ITEM_REQUIRED)
            if item is None:
                return refuse(ITEM_NOT_FOUND)
            loan = self.loan(item.id)
            if loan is None:
                return refuse(NOT_CHECKED_OUT)
            if loan.patron_id != patron_id:
                return refuse(ON_LOAN_TO_OTHER)
            return self._renew(
                patron,
                item,
                loan,
                now=now,
                message="29",
                no_block=no_block,
                nb_due_date=nb_due_date,
                connection=connection,
            )

    def renew_all(
        self, patron_id: str, *, pin: str | None = None, connection: str | None = None
    ) -> RenewAllResult:
        with self._lock, self._conn:
            now = self.now()
            patron = self.patron(patron_id)
            if patron is None or (pin and not self.check_pin(patron, pin)):
                reason = PATRON_NOT_FOUND if patron is None else WRONG_PIN
                self._refuse(
                    "65", reason, patron=patron_id, item=None, no_block=False, connection=connection, now=now
                )
                return RenewAllResult(False, patron, message=reason)
            renewed: list[str] = []
            unrenewed: list[str] = []
            for loan in self.loans(patron_id):
                item = self.item(loan.item_id)
                assert item is not None
                result = self._renew(
                    patron,
                    item,
                    loan,
                    now=now,
                    message="65",
                    no_block=False,
                    nb_due_date=None,
                    connection=connection,
                )
                (renewed if result.ok else unrenewed).append(loan.item_id)
            return RenewAllResult(True, patron, tuple(renewed), tuple(unrenewed))

    def checkin(
        self,
        item_id: str,
        *,
        branch: str | None = None,
        no_block: bool = False,
        return_date: datetime | None = None,
        connection: str | None = None,
    ) -> CheckinResult:
        """Return ``item_id`` at ``branch`` and route it: to the hold shelf, to another branch,
        or back to the shelf. A no-block checkin's return date counts for fines only if the
        behaviour honours it."""
        with self._lock, self._conn:
            now = self.now()
            here = self.branch_for(branch)
            item = self.item(item_id)
            if item is None:
                self._refuse(
                    "09",
                    ITEM_NOT_FOUND,
                    patron=None,
                    item=item_id,
                    no_block=no_block,
                    connection=connection,
                    now=now,
                )
                return CheckinResult(
                    False,
                    None,
                    routing=Routing(AlertType.OTHER, self.sort_bins.get("other", "")),
                    messages=(ITEM_NOT_FOUND,),
                )
            messages: list[str] = []
            loan = self.loan(item_id)
            fine = 0
            honoured = no_block and return_date is not None and self.behaviour.honours_return_date
            returned = return_date.replace(tzinfo=None) if honoured and return_date else now
            if loan is not None:
                self._conn.execute("delete from loans where item_id = ?", [item_id])
                fine = self._overdue_fine(item, loan, returned)
                if fine:
                    self._add_fine(loan.patron_id, item_id, "04", fine, f"Overdue: {item.title}", now)
                    messages.append(f"Overdue fine {format_cents(fine)} {self.currency}")
            elif item.status in (ItemStatus.LOST, ItemStatus.MISSING, ItemStatus.CLAIMED_RETURNED):
                messages.append(f"Item was marked {item.status.value.replace('_', ' ')}; status cleared")
            else:
                messages.append(NOT_CHECKED_OUT)
            routing = self._route(item, here, now)
            ok = loan is not None or self.behaviour.not_on_loan_checkin_ok
            detail = [f"at {here}", f"alert {routing.alert.value if routing.alert else 'none'}"]
            if no_block:
                detail.append("return date honoured" if honoured else "own return date")
            if fine:
                detail.append(f"fine {format_cents(fine)}")
            self._record(
                "09",
                patron=loan.patron_id if loan else None,
                item=item_id,
                outcome="checked_in" if loan else "not_on_loan",
                applied=True,
                no_block=no_block,
                connection=connection,
                now=now,
                detail="; ".join(detail),
            )
            return CheckinResult(
                ok, self.item(item_id), loan.patron_id if loan else None, routing, tuple(messages), fine
            )

    def _overdue_fine(self, item: Item, loan: Loan, returned: datetime) -> int:
        days = (returned.date() - loan.due.date()).days
        if days <= 0:
            return 0
        rate = self.rules.fine_per_day.get(item.media_type, self.rules.fine_per_day.get("book", 0))
        return min(days * rate, self.rules.max_fine_per_item)

    def _route(self, item: Item, here: str, now: datetime) -> Routing:
        hold = next(iter(self.holds(item_id=item.id)), None)
        if hold is not None:
            holder = self.patron(hold.patron_id)
            if hold.pickup_branch == here:
                shelf_until = end_of_day(now + timedelta(days=self.rules.hold_shelf_days))
                self._conn.execute(
                    "update holds set status = ?, shelf_until = ? where id = ?",
                    [HoldStatus.READY.value, ts(shelf_until), hold.id],
                )
                self._set_item(item.id, ItemStatus.ON_HOLD_SHELF, here, None)
                return Routing(AlertType.HOLD_HERE, self.sort_bins["hold"], None, holder)
            self._conn.execute(
                "update holds set status = ?, shelf_until = null where id = ?",
                [HoldStatus.IN_TRANSIT.value, hold.id],
            )
            self._set_item(item.id, ItemStatus.IN_TRANSIT, here, hold.pickup_branch)
            return Routing(AlertType.HOLD_OTHER_BRANCH, self.sort_bins["transit"], hold.pickup_branch, holder)
        if item.home_branch != here:
            self._set_item(item.id, ItemStatus.IN_TRANSIT, here, item.home_branch)
            return Routing(AlertType.TRANSIT, self.sort_bins["transit"], item.home_branch)
        self._set_item(item.id, ItemStatus.AVAILABLE, here, None)
        return Routing(None, self.sort_bins.get(item.media_type, self.sort_bins.get("other", "")))

    def _set_item(self, item_id: str, status: ItemStatus, branch: str, transit_to: str | None) -> None:
        self._conn.execute(
            "update items set status = ?, current_branch = ?, transit_to = ? where id = ?",
            [status.value, branch, transit_to, item_id],
        )

    def _add_fine(
        self, patron_id: str, item_id: str | None, fee_type: str, cents: int, text: str, now: datetime
    ) -> None:
        self._conn.execute(
            "insert into fines (patron_id, item_id, fee_type, amount, paid, description, created) "
            "values (?, ?, ?, ?, 0, ?, ?)",
            [patron_id, item_id, fee_type, cents, text, ts(now)],
        )

    # -- holds ----------------------------------------------------------------------------------

    def _hold_request(
        self, patron_id: str, item_id: str | None, pin: str | None, connection: str | None, now: datetime
    ) -> tuple[Callable[[str], HoldResult], HoldResult | None, Patron | None, Item | None]:
        """What every 15 Hold checks first: the patron, the PIN, the item. Returns the refusal
        function for the later checks, and the refusal already made, if any. Call under the lock."""
        patron = self.patron(patron_id)
        item = self.item(item_id) if item_id else None

        def refuse(reason: str) -> HoldResult:
            self._refuse("15", reason, patron=patron_id, item=item_id, no_block=False, connection=connection,
                         now=now)
            return HoldResult(False, patron, item, message=reason)

        if patron is None:
            return refuse, refuse(PATRON_NOT_FOUND), patron, item
        if pin and not self.check_pin(patron, pin):
            return refuse, refuse(WRONG_PIN), patron, item
        if item is None:
            return refuse, refuse(ITEM_REQUIRED if not item_id else ITEM_NOT_FOUND), patron, item
        return refuse, None, patron, item

    def place_hold(
        self,
        patron_id: str,
        item_id: str | None,
        *,
        pin: str | None = None,
        pickup: str | None = None,
        expires: datetime | None = None,
        connection: str | None = None,
    ) -> HoldResult:
        with self._lock, self._conn:
            now = self.now()
            refuse, refused, patron, item = self._hold_request(patron_id, item_id, pin, connection, now)
            if refused is not None:
                return refused
            assert patron is not None and item is not None
            block = self._standing(patron, now).hold_block
            if block:
                return refuse(block)
            if not item.loanable:
                return refuse(NOT_FOR_LOAN)
            if pickup and pickup not in self.branches:
                return refuse(UNKNOWN_BRANCH)
            if any(h.patron_id == patron_id for h in self.holds(item_id=item_id)):
                return refuse(ALREADY_HELD)
            loan = self.loan(item_id)
            if loan is not None and loan.patron_id == patron_id:
                return refuse(HOLD_ON_OWN_LOAN)
            pickup_branch = pickup or patron.home_branch
            until = expires or end_of_day(now + timedelta(days=self.rules.hold_expiry_days))
            cursor = self._conn.execute(
                "insert into holds (item_id, patron_id, pickup_branch, placed, expires, status) "
                "values (?, ?, ?, ?, ?, ?)",
                [
                    item_id,
                    patron_id,
                    pickup_branch,
                    ts(now),
                    ts(until.replace(tzinfo=None)),
                    HoldStatus.PENDING.value,
                ],
            )
            hold = next(h for h in self.holds(item_id=item_id) if h.id == cursor.lastrowid)
            position = self.queue_position(hold)
            self._record(
                "15",
                patron=patron_id,
                item=item_id,
                outcome="hold_placed",
                applied=True,
                connection=connection,
                now=now,
                detail=f"pickup {pickup_branch}; position {position}",
            )
            return HoldResult(
                True, patron, item, hold, position, available=item.status is ItemStatus.AVAILABLE
            )

    def cancel_hold(
        self, patron_id: str, item_id: str | None, *, pin: str | None = None, connection: str | None = None
    ) -> HoldResult:
        return self._change_hold(patron_id, item_id, pin=pin, cancel=True, connection=connection)

    def change_hold(
        self,
        patron_id: str,
        item_id: str | None,
        *,
        pin: str | None = None,
        pickup: str | None = None,
        expires: datetime | None = None,
        connection: str | None = None,
    ) -> HoldResult:
        return self._change_hold(
            patron_id, item_id, pin=pin, pickup=pickup, expires=expires, connection=connection
        )

    def _change_hold(
        self,
        patron_id: str,
        item_id: str | None,
        *,
        pin: str | None,
        cancel: bool = False,
        pickup: str | None = None,
        expires: datetime | None = None,
        connection: str | None = None,
    ) -> HoldResult:
        with self._lock, self._conn:
            now = self.now()
            refuse, refused, patron, item = self._hold_request(patron_id, item_id, pin, connection, now)
            if refused is not None:
                return refused
            assert patron is not None and item is not None
            hold = next((h for h in self.holds(item_id=item.id) if h.patron_id == patron_id), None)
            if hold is None:
                return refuse(NO_SUCH_HOLD)
            if cancel:
                self._conn.execute("delete from holds where id = ?", [hold.id])
                if hold.status is not HoldStatus.PENDING and item.status in (
                    ItemStatus.ON_HOLD_SHELF,
                    ItemStatus.IN_TRANSIT,
                ):
                    # Staff pull it from the hold shelf; the next hold is trapped at its next checkin.
                    self._set_item(item.id, ItemStatus.AVAILABLE, item.current_branch, None)
                self._record(
                    "15",
                    patron=patron_id,
                    item=item.id,
                    outcome="hold_cancelled",
                    applied=True,
                    connection=connection,
                    now=now,
                )
                return HoldResult(True, patron, self.item(item.id), hold)
            if pickup and pickup not in self.branches:
                return refuse(UNKNOWN_BRANCH)
            self._conn.execute(
                "update holds set pickup_branch = ?, expires = ? where id = ?",
                [
                    pickup or hold.pickup_branch,
                    ts(expires.replace(tzinfo=None)) if expires else ts(hold.expires),
                    hold.id,
                ],
            )
            changed = next(h for h in self.holds(item_id=item.id) if h.id == hold.id)
            self._record(
                "15",
                patron=patron_id,
                item=item.id,
                outcome="hold_changed",
                applied=True,
                connection=connection,
                now=now,
                detail=f"pickup {changed.pickup_branch}",
            )
            return HoldResult(
                True,
                patron,
                item,
                changed,
                self.queue_position(changed),
                available=changed.status is HoldStatus.READY,
            )

    # -- money ----------------------------------------------------------------------------------

    def pay(
        self,
        patron_id: str,
        amount: str,
        *,
        currency: str | None = None,
        fee_id: str | None = None,
        transaction_id: str | None = None,
        connection: str | None = None,
    ) -> PaymentResult:
        """Pay ``amount`` off the fine ``fee_id``, or off the oldest fines first."""
        with self._lock, self._conn:
            now = self.now()
            patron = self.patron(patron_id)

            def refuse(reason: str) -> PaymentResult:
                self._refuse(
                    "37", reason, patron=patron_id, item=None, no_block=False, connection=connection, now=now
                )
                return PaymentResult(False, patron, transaction_id, message=reason)

            if patron is None:
                return refuse(PATRON_NOT_FOUND)
            if currency and currency.strip() and currency.strip() != self.currency:
                return refuse(WRONG_CURRENCY)
            try:
                cents = to_cents(amount)
            except ValueError:
                return refuse(BAD_AMOUNT)
            if cents <= 0:
                return refuse(BAD_AMOUNT)
            fines = self.fines(patron_id)
            if fee_id:
                fines = [f for f in fines if str(f.id) == fee_id.strip()]
            owed = sum(f.owed for f in fines)
            if owed == 0:
                return refuse(NOTHING_OWED)
            if cents > owed:
                return refuse(OVERPAYMENT)
            left = cents
            for fine in fines:
                part = min(left, fine.owed)
                self._conn.execute("update fines set paid = paid + ? where id = ?", [part, fine.id])
                left -= part
                if not left:
                    break
            seq = self._one("select coalesce(max(seq), 0) + 1 as n from ledger")
            tx = transaction_id or f"TX{seq['n'] if seq else 1:06d}"
            self._record(
                "37",
                patron=patron_id,
                item=None,
                outcome="paid",
                applied=True,
                connection=connection,
                now=now,
                detail=f"{format_cents(cents)} {self.currency}; transaction {tx}",
            )
            return PaymentResult(True, patron, tx, cents)

    # -- items and patrons ----------------------------------------------------------------------

    def set_item_properties(
        self, item_id: str, properties: str, *, connection: str | None = None
    ) -> Item | None:
        with self._lock, self._conn:
            now = self.now()
            if self.item(item_id) is None:
                self._refuse(
                    "19",
                    ITEM_NOT_FOUND,
                    patron=None,
                    item=item_id,
                    no_block=False,
                    connection=connection,
                    now=now,
                )
                return None
            self._conn.execute("update items set properties = ? where id = ?", [properties, item_id])
            self._record(
                "19",
                patron=None,
                item=item_id,
                outcome="properties_set",
                applied=True,
                connection=connection,
                now=now,
            )
            return self.item(item_id)

    def block_patron(
        self, patron_id: str, message: str, *, card_retained: bool = False, connection: str | None = None
    ) -> PatronResult:
        """01 Block Patron: a self-check found the card misused (or kept it)."""
        with self._lock, self._conn:
            now = self.now()
            patron = self.patron(patron_id)
            if patron is None:
                self._refuse(
                    "01",
                    PATRON_NOT_FOUND,
                    patron=patron_id,
                    item=None,
                    no_block=False,
                    connection=connection,
                    now=now,
                )
                return PatronResult(False, None, PATRON_NOT_FOUND)
            text = message.strip() or "Blocked by self-check"
            self._conn.execute("update patrons set sc_block = ? where id = ?", [text, patron_id])
            self._record(
                "01",
                patron=patron_id,
                item=None,
                outcome="blocked",
                applied=True,
                connection=connection,
                now=now,
                detail=f"{text}; card retained" if card_retained else text,
            )
            return PatronResult(True, self.patron(patron_id))

    def enable_patron(
        self, patron_id: str, *, pin: str | None = None, connection: str | None = None
    ) -> PatronResult:
        """25 Patron Enable lifts a block a self-check set (never a staff block)."""
        with self._lock, self._conn:
            now = self.now()
            patron = self.patron(patron_id)
            reason = (
                PATRON_NOT_FOUND
                if patron is None
                else WRONG_PIN
                if pin and not self.check_pin(patron, pin)
                else NO_SC_BLOCK
                if not patron.sc_block
                else None
            )
            if reason is not None:
                self._refuse(
                    "25", reason, patron=patron_id, item=None, no_block=False, connection=connection, now=now
                )
                return PatronResult(False, patron, reason)
            self._conn.execute("update patrons set sc_block = null where id = ?", [patron_id])
            self._record(
                "25",
                patron=patron_id,
                item=None,
                outcome="enabled",
                applied=True,
                connection=connection,
                now=now,
            )
            return PatronResult(True, self.patron(patron_id))


__all__ = [
    "Behaviour",
    "CheckinResult",
    "CheckoutResult",
    "Fine",
    "Hold",
    "HoldResult",
    "HoldStatus",
    "Item",
    "ItemStatus",
    "LedgerEntry",
    "Library",
    "Loan",
    "Patron",
    "PatronResult",
    "PaymentResult",
    "RenewAllResult",
    "Routing",
    "Rules",
    "Standing",
    "format_cents",
    "load_sample_data",
    "to_cents",
]
