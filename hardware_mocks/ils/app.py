"""The SIP2 face of the simulated library: one handler per request, mapping it onto a
:class:`~hardware_mocks.ils.library.Library` operation, and the fault plan around it.

Answers are shaped like a real ILS's (reference §1.2, §3.1): the 14 patron-status flags say
which privilege is denied and why, refusals carry the ILS's own reason in AF, checkin answers
carry sort bin (CL), alert type (CV), destination (CT) and hold patron (CY/DA), and text that the
wire encoding cannot carry is transliterated the way SIPServer does rather than breaking the
connection.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hardware_mocks.ils.faults import GARBAGE, Action, Faults, When
from hardware_mocks.ils.library import (
    PATRON_NOT_FOUND,
    TOO_MANY_ITEMS,
    WRONG_PIN,
    CheckoutResult,
    HoldResult,
    Item,
    ItemStatus,
    Library,
    Standing,
    format_cents,
)
from sip2.fields import CirculationStatus, PatronStatus, Summary, SupportedMessages, decode_date, encode_date
from sip2.messages import (
    ACSStatus,
    BlockPatron,
    Checkin,
    CheckinResponse,
    Checkout,
    CheckoutResponse,
    EndPatronSession,
    EndSessionResponse,
    FeePaid,
    FeePaidResponse,
    Hold,
    HoldResponse,
    ItemInformation,
    ItemInformationResponse,
    ItemStatusUpdate,
    ItemStatusUpdateResponse,
    Login,
    LoginResponse,
    PatronEnable,
    PatronEnableResponse,
    PatronInformation,
    PatronInformationResponse,
    PatronStatusRequest,
    PatronStatusResponse,
    Renew,
    RenewAll,
    RenewAllResponse,
    RenewResponse,
    Request,
    Response,
    SCStatus,
)
from sip2.server import ConnectionContext, Corrupted, HandlerResult, Router

#: The account the kiosk's built-in defaults log in with (kiosk/defaults.toml: user "demo",
#: no password), so `kiosk demo` works against `kiosk ils-sim` unconfigured.
DEFAULT_ACCOUNTS = {"demo": ""}

#: Reported in 98 when the server has no idle timeout ("999 = unknown" in SIP2).
UNKNOWN_TIMEOUT = 999
RETRIES_ALLOWED = 3

_CIRCULATION_STATUS = {
    ItemStatus.AVAILABLE: CirculationStatus.AVAILABLE,
    ItemStatus.ON_LOAN: CirculationStatus.CHARGED,
    ItemStatus.ON_HOLD_SHELF: CirculationStatus.WAITING_ON_HOLD_SHELF,
    ItemStatus.IN_TRANSIT: CirculationStatus.IN_TRANSIT,
    ItemStatus.LOST: CirculationStatus.LOST,
    ItemStatus.MISSING: CirculationStatus.MISSING,
    ItemStatus.CLAIMED_RETURNED: CirculationStatus.CLAIMED_RETURNED,
    ItemStatus.ON_ORDER: CirculationStatus.ON_ORDER,
    ItemStatus.IN_PROCESS: CirculationStatus.IN_PROCESS,
}


def circulation_status(item: Item) -> CirculationStatus:
    if item.status is ItemStatus.AVAILABLE and not item.loanable:
        return CirculationStatus.OTHER  # reference copy on the shelf: not "available" to a self-check
    return _CIRCULATION_STATUS[item.status]


def patron_status(standing: Standing) -> PatronStatus:
    """The 14 flags as a real ILS sets them. Hold/renewal denials and "too many items" leave
    charge privileges alone: a kiosk that refuses checkout on them is wrong (NYPL PR #495/#656)."""
    return PatronStatus(
        charge_privileges_denied=standing.borrow_block is not None,
        renewal_privileges_denied=standing.renew_block is not None,
        recall_privileges_denied=standing.account_block,
        hold_privileges_denied=standing.hold_block is not None,
        card_reported_lost=standing.patron.card_lost,
        too_many_items_charged=standing.too_many_items,
        too_many_items_overdue=standing.too_many_overdue,
        excessive_outstanding_fines=standing.fines_over_limit,
    )


#: What SIPServer answers for a patron it does not know: every privilege denied.
UNKNOWN_PATRON_STATUS = PatronStatus(True, True, True, True)


def fit_text(text: str, encoding: str) -> str:
    """``text`` as the wire encoding can carry it: letters it lacks lose their accents (NFD),
    anything else becomes ``?`` (SIPServer's behaviour, reference §1.4); ``|`` and CR, which would
    end a field or the message, become ``/`` and a space."""
    text = text.replace("|", "/").replace("\r", " ").replace("\n", " ")
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        try:
            char.encode(encoding)
            out.append(char)
            continue
        except UnicodeEncodeError:
            pass
        base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
        try:
            base.encode(encoding)
            out.append(base or "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)


def fit_response(response: Response, encoding: str) -> Response:
    """Every text field of ``response`` passed through :func:`fit_text`."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(response):
        value = getattr(response, f.name)
        if isinstance(value, str):
            fitted = fit_text(value, encoding)
            if fitted != value:
                changes[f.name] = fitted
        elif isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
            fitted_items = tuple(fit_text(v, encoding) for v in value)
            if fitted_items != value:
                changes[f.name] = fitted_items
    return dataclasses.replace(response, **changes) if changes else response


def corrupt_checksum(frame: bytes) -> bytes:
    """``frame`` with its checksum off by one (unchanged if it carries none: nothing to damage
    that the client could detect)."""
    body = frame.rstrip(b"\r\n")
    if body[-6:-4] != b"AZ":
        return frame
    value = (int(body[-4:], 16) + 1) & 0xFFFF
    return body[:-4] + f"{value:04X}".encode("ascii") + frame[len(body) :]


def _date_text(text: str | None) -> datetime | None:
    """A date given as text (BW expiration): SIP2 format, else ignored."""
    if not text:
        return None
    try:
        return decode_date(text)
    except ValueError:
        return None


class IlsApp:
    """Route SIP2 requests to the library, wrapped in the fault plan of :class:`Faults`."""

    def __init__(
        self,
        library: Library,
        faults: Faults | None = None,
        *,
        accounts: dict[str, str] | None = None,
    ) -> None:
        self.library = library
        self.faults = faults or Faults()
        self.accounts = dict(DEFAULT_ACCOUNTS if accounts is None else accounts)
        self.router = Router()
        self.supported: set[str] = {"97"}  # answered by the toolkit's session itself
        self._connections = itertools.count(1)
        self._connections_lock = threading.Lock()
        routes: list[tuple[type[Request], Callable[[Any, ConnectionContext], Response]]] = [
            (Login, self.login),
            (SCStatus, self.sc_status),
            (PatronStatusRequest, self.patron_status),
            (PatronInformation, self.patron_information),
            (Checkout, self.checkout),
            (Checkin, self.checkin),
            (Renew, self.renew),
            (RenewAll, self.renew_all),
            (Hold, self.hold),
            (FeePaid, self.fee_paid),
            (ItemInformation, self.item_information),
            (ItemStatusUpdate, self.item_status_update),
            (PatronEnable, self.patron_enable),
            (EndPatronSession, self.end_session),
            (BlockPatron, self.block_patron),
        ]
        for request_type, handler in routes:
            self.router.route(request_type)(handler)
            self.supported.add(request_type.code)

    # -- the fault plan around every request ------------------------------------------------------

    def handle(self, request: Request, ctx: ConnectionContext) -> HandlerResult:
        self.connection_id(ctx)
        plan = self.faults.plan(request.code)
        if plan.delay_before:
            self.faults.wait(plan, plan.delay_before)
        if plan.drop is When.BEFORE_APPLY:
            return None
        if plan.stall is When.BEFORE_APPLY:
            self.faults.wait(plan, None)
            return None
        response = self.router.handle(request, ctx)
        if plan.drop is When.AFTER_APPLY:
            return None
        if plan.stall is When.AFTER_APPLY:
            self.faults.wait(plan, None)
            return None
        if plan.delay_after:
            self.faults.wait(plan, plan.delay_after)
        if not isinstance(response, Response):
            return response
        response = fit_response(response, ctx.server.encoding)
        if plan.corrupt is Action.GARBAGE:
            return GARBAGE
        if plan.corrupt is Action.BAD_CHECKSUM:
            return Corrupted(response, corrupt_checksum)
        return response

    def connection_id(self, ctx: ConnectionContext) -> str:
        """A short name for the connection, written to the ledger ("c1", "c2"...)."""
        name = ctx.data.get("connection")
        if name is None:
            with self._connections_lock:
                name = ctx.data["connection"] = f"c{next(self._connections)}"
        return str(name)

    # -- session ----------------------------------------------------------------------------------

    def login(self, req: Login, ctx: ConnectionContext) -> LoginResponse:
        ok = (
            not self.faults.reject_logins
            and req.login_user_id in self.accounts
            and self.accounts[req.login_user_id] == req.login_password
        )
        ctx.logged_in = ok
        ctx.login_user = req.login_user_id if ok else None
        ctx.data["location"] = req.location_code or None
        return LoginResponse(ok=ok)

    def sc_status(self, req: SCStatus, ctx: ConnectionContext) -> ACSStatus:
        lib = self.library
        idle = ctx.server.idle_timeout
        timeout = UNKNOWN_TIMEOUT if idle is None else min(UNKNOWN_TIMEOUT, round(idle * 10))
        return ACSStatus(
            online_status=True,
            checkin_ok=True,
            checkout_ok=True,
            acs_renewal_policy=True,
            status_update_ok=True,
            offline_ok=True,
            timeout_period=timeout,
            retries_allowed=RETRIES_ALLOWED,
            date_time_sync=lib.now(),
            institution_id=lib.institution_id,
            library_name=lib.library_name,
            supported_messages=SupportedMessages.of(self.supported),
            terminal_location=ctx.data.get("location"),
        )

    def end_session(self, req: EndPatronSession, ctx: ConnectionContext) -> EndSessionResponse:
        return EndSessionResponse(
            end_session=True,
            transaction_date=self.library.now(),
            institution_id=self.library.institution_id,
            patron_id=req.patron_id,
        )

    # -- patrons ----------------------------------------------------------------------------------

    def _patron_answer(self, patron_id: str, pin: str | None) -> dict[str, Any]:
        """Fields 24, 26 and 64 share: status, language, name, BL, CQ, fees, screen messages."""
        lib = self.library
        standing = lib.standing(patron_id)
        if standing is None:
            return {
                "patron_status": UNKNOWN_PATRON_STATUS,
                "language": "000",
                "transaction_date": lib.now(),
                "institution_id": lib.institution_id,
                "patron_id": patron_id,
                "personal_name": "",
                "valid_patron": False,
                "screen_messages": (PATRON_NOT_FOUND,),
            }
        pin_ok = lib.check_pin(standing.patron, pin)
        messages = [WRONG_PIN] if pin and not pin_ok else []
        if standing.borrow_block:
            messages.append(standing.borrow_block)
        elif standing.too_many_items:
            messages.append(TOO_MANY_ITEMS)
        return {
            "patron_status": patron_status(standing),
            "language": standing.patron.language,
            "transaction_date": lib.now(),
            "institution_id": lib.institution_id,
            "patron_id": patron_id,
            "personal_name": standing.patron.name,
            "valid_patron": True,
            "valid_patron_password": pin_ok,
            "screen_messages": tuple(messages),
            "_standing": standing,
        }

    def patron_status(self, req: PatronStatusRequest, ctx: ConnectionContext) -> PatronStatusResponse:
        fields = self._patron_answer(req.patron_id, req.patron_password)
        standing: Standing | None = fields.pop("_standing", None)
        if standing is not None:
            fields["currency_type"] = self.library.currency
            fields["fee_amount"] = format_cents(standing.fines_owed)
        return PatronStatusResponse(**fields)

    def patron_information(self, req: PatronInformation, ctx: ConnectionContext) -> PatronInformationResponse:
        fields = self._patron_answer(req.patron_id, req.patron_password)
        standing: Standing | None = fields.pop("_standing", None)
        if standing is None:
            return PatronInformationResponse(**fields)
        lib = self.library
        patron = standing.patron
        fields.update(
            hold_items_count=len(standing.holds_ready),
            overdue_items_count=len(standing.overdue),
            charged_items_count=len(standing.loans),
            fine_items_count=len(standing.fines),
            recall_items_count=0,
            unavailable_holds_count=len(standing.holds_waiting),
            hold_items_limit=str(standing.max_holds),
            overdue_items_limit=str(standing.max_overdue),
            charged_items_limit=str(standing.max_items),
            currency_type=lib.currency,
            fee_amount=format_cents(standing.fines_owed),
            fee_limit=format_cents(standing.fine_limit),
        )
        # A wrong PIN still gets the counts (as SIPServer and Koha answer) but not the lists or
        # the contact details; an empty PIN is a kiosk that verified it earlier.
        if fields["valid_patron_password"] or not req.patron_password:
            fields.update(
                home_address=patron.address or None,
                email_address=patron.email or None,
                home_phone_number=patron.phone or None,
                expiration_date=encode_date(patron.expires),
                patron_class=patron.patron_class,
            )
            lists = {
                Summary.HOLD_ITEMS: ("hold_items", [h.item_id for h in standing.holds_ready]),
                Summary.OVERDUE_ITEMS: ("overdue_items", [loan.item_id for loan in standing.overdue]),
                Summary.CHARGED_ITEMS: ("charged_items", [loan.item_id for loan in standing.loans]),
                Summary.FINE_ITEMS: (
                    "fine_items",
                    [f"{f.id} {format_cents(f.owed)} {lib.currency} {f.description}" for f in standing.fines],
                ),
                Summary.RECALL_ITEMS: ("recall_items", []),
                Summary.UNAVAILABLE_HOLDS: (
                    "unavailable_hold_items",
                    [h.item_id for h in standing.holds_waiting],
                ),
            }
            if req.summary is not None:
                name, values = lists[req.summary]
                fields[name] = tuple(_range(values, req.start_item, req.end_item))
        return PatronInformationResponse(**fields)

    def patron_enable(self, req: PatronEnable, ctx: ConnectionContext) -> PatronEnableResponse:
        result = self.library.enable_patron(
            req.patron_id, pin=req.patron_password, connection=self.connection_id(ctx)
        )
        fields = self._patron_answer(req.patron_id, req.patron_password)
        fields.pop("_standing", None)
        if result.message and result.message not in fields["screen_messages"]:
            fields["screen_messages"] = (*fields["screen_messages"], result.message)
        return PatronEnableResponse(**fields)

    def block_patron(self, req: BlockPatron, ctx: ConnectionContext) -> PatronStatusResponse:
        self.library.block_patron(
            req.patron_id,
            req.blocked_card_msg,
            card_retained=req.card_retained,
            connection=self.connection_id(ctx),
        )
        fields = self._patron_answer(req.patron_id, None)
        fields.pop("_standing", None)
        fields.pop("valid_patron_password", None)
        fields["screen_messages"] = tuple(m for m in fields["screen_messages"] if m != WRONG_PIN)
        return PatronStatusResponse(**fields)

    # -- circulation ------------------------------------------------------------------------------

    def _item_fields(self, item: Item | None) -> dict[str, Any]:
        if item is None:
            return {}
        return {
            "media_type": self.library.media_code(item),
            "item_properties": item.properties or None,
        }

    def _parts_note(self, item: Item | None) -> tuple[str, ...]:
        if item is None or item.parts < 2:
            return ()
        return (f"This item has {item.parts} parts: please check all are present",)

    def _loan_response(self, cls: type[Response], result: CheckoutResult, req: Checkout | Renew) -> Response:
        lib = self.library
        messages = (result.message,) if result.message else ()
        if result.ok:
            messages += self._parts_note(result.item)
        fee = {}
        if result.fee_type:
            fee = {
                "fee_type": result.fee_type,
                "currency_type": lib.currency,
                "fee_amount": format_cents(result.fee_amount),
            }
        return cls(
            ok=result.ok,
            renewal_ok=result.ok and result.renewal,
            magnetic_media=False if result.ok else None,
            desensitize=result.ok if cls is CheckoutResponse else None,
            transaction_date=lib.now(),
            institution_id=lib.institution_id,
            patron_id=req.patron_id,
            item_id=req.item_id or "",
            title=result.item.title if result.item else "",
            due_date=encode_date(result.due) if result.ok and result.due else "",
            screen_messages=messages,
            **fee,
            **self._item_fields(result.item),
        )

    def checkout(self, req: Checkout, ctx: ConnectionContext) -> Response:
        lib = self.library
        if req.cancel:
            result = lib.cancel_checkout(req.patron_id, req.item_id, connection=self.connection_id(ctx))
        else:
            result = lib.checkout(
                req.patron_id,
                req.item_id,
                pin=req.patron_password,
                no_block=req.no_block,
                nb_due_date=req.nb_due_date,
                fee_acknowledged=bool(req.fee_acknowledged),
                connection=self.connection_id(ctx),
            )
        response = self._loan_response(CheckoutResponse, result, req)
        if req.cancel and result.ok:
            # The checkout was undone: the item must be secured again, not desensitized.
            response = dataclasses.replace(response, desensitize=False, due_date="")
        return response

    def renew(self, req: Renew, ctx: ConnectionContext) -> Response:
        result = self.library.renew(
            req.patron_id,
            req.item_id,
            pin=req.patron_password,
            no_block=req.no_block,
            nb_due_date=req.nb_due_date,
            connection=self.connection_id(ctx),
        )
        return self._loan_response(RenewResponse, result, req)

    def renew_all(self, req: RenewAll, ctx: ConnectionContext) -> RenewAllResponse:
        lib = self.library
        result = lib.renew_all(req.patron_id, pin=req.patron_password, connection=self.connection_id(ctx))
        return RenewAllResponse(
            ok=result.ok,
            renewed_count=len(result.renewed),
            unrenewed_count=len(result.unrenewed),
            transaction_date=lib.now(),
            institution_id=lib.institution_id,
            renewed_items=result.renewed,
            unrenewed_items=result.unrenewed,
            screen_messages=(result.message,) if result.message else (),
        )

    def checkin(self, req: Checkin, ctx: ConnectionContext) -> CheckinResponse:
        lib = self.library
        branch = lib.branch_for(req.current_location, ctx.data.get("location"))
        result = lib.checkin(
            req.item_id,
            branch=branch,
            no_block=req.no_block,
            return_date=req.return_date,
            connection=self.connection_id(ctx),
        )
        item, routing = result.item, result.routing
        alert = routing.alert if routing else None
        hold_patron = routing.hold_patron if routing else None
        return CheckinResponse(
            ok=result.ok,
            resensitize=item is not None,
            magnetic_media=False if item is not None else None,
            alert=alert is not None,
            transaction_date=lib.now(),
            institution_id=lib.institution_id,
            item_id=req.item_id,
            permanent_location=item.home_branch if item else "",
            title=item.title if item else None,
            sort_bin=routing.sort_bin if routing and routing.sort_bin else None,
            patron_id=result.patron_id,
            alert_type=alert.value if alert else None,
            destination_location=routing.destination if routing else None,
            call_number=item.call_number or None if item else None,
            collection_code=item.collection or None if item else None,
            hold_patron_id=hold_patron.id if hold_patron else None,
            hold_patron_name=hold_patron.name if hold_patron else None,
            screen_messages=result.messages + self._parts_note(item),
            **self._item_fields(item),
        )

    def hold(self, req: Hold, ctx: ConnectionContext) -> HoldResponse:
        lib = self.library
        connection = self.connection_id(ctx)
        expires = _date_text(req.expiration_date)
        if req.hold_mode == "+":
            result = lib.place_hold(
                req.patron_id,
                req.item_id,
                pin=req.patron_password,
                pickup=req.pickup_location,
                expires=expires,
                connection=connection,
            )
        elif req.hold_mode == "-":
            result = lib.cancel_hold(
                req.patron_id, req.item_id, pin=req.patron_password, connection=connection
            )
        elif req.hold_mode == "*":
            result = lib.change_hold(
                req.patron_id,
                req.item_id,
                pin=req.patron_password,
                pickup=req.pickup_location,
                expires=expires,
                connection=connection,
            )
        else:
            result = HoldResult(
                False, lib.patron(req.patron_id), None, message=f"Unknown hold mode {req.hold_mode!r}"
            )
        hold = result.hold if result.ok else None
        return HoldResponse(
            ok=result.ok,
            available=result.available,
            transaction_date=lib.now(),
            expiration_date=encode_date(hold.expires) if hold and req.hold_mode != "-" else None,
            queue_position=str(result.queue_position) if result.queue_position else None,
            pickup_location=hold.pickup_branch if hold else None,
            institution_id=lib.institution_id,
            patron_id=req.patron_id,
            item_id=req.item_id,
            title=result.item.title if result.item else None,
            screen_messages=(result.message,) if result.message else (),
        )

    def fee_paid(self, req: FeePaid, ctx: ConnectionContext) -> FeePaidResponse:
        lib = self.library
        result = lib.pay(
            req.patron_id,
            req.fee_amount,
            currency=req.currency_type,
            fee_id=req.fee_identifier,
            transaction_id=req.transaction_id,
            connection=self.connection_id(ctx),
        )
        return FeePaidResponse(
            payment_accepted=result.ok,
            transaction_date=lib.now(),
            institution_id=lib.institution_id,
            patron_id=req.patron_id,
            transaction_id=result.transaction_id,
            screen_messages=(result.message,) if result.message else (),
        )

    # -- items ------------------------------------------------------------------------------------

    def item_information(self, req: ItemInformation, ctx: ConnectionContext) -> ItemInformationResponse:
        lib = self.library
        item = lib.item(req.item_id)
        if item is None:
            return ItemInformationResponse(
                circulation_status=CirculationStatus.OTHER,
                transaction_date=lib.now(),
                item_id=req.item_id,
                title="",
                screen_messages=("Item not found",),
            )
        loan = lib.loan(item.id)
        holds = lib.holds(item_id=item.id)
        ready = next((h for h in holds if h.shelf_until is not None), None)
        fee = {}
        if item.rental_fee:
            fee = {
                "fee_type": "06",
                "currency_type": lib.currency,
                "fee_amount": format_cents(item.rental_fee),
            }
        return ItemInformationResponse(
            circulation_status=circulation_status(item),
            security_marker="00",
            transaction_date=lib.now(),
            hold_queue_length=str(len(holds)),
            due_date=encode_date(loan.due) if loan else None,
            hold_pickup_date=encode_date(ready.shelf_until) if ready and ready.shelf_until else None,
            item_id=item.id,
            title=item.title,
            owner=lib.institution_id,
            permanent_location=item.home_branch,
            current_location=item.current_branch,
            screen_messages=() if item.loanable else ("Item not for loan",),
            **fee,
            **self._item_fields(item),
        )

    def item_status_update(self, req: ItemStatusUpdate, ctx: ConnectionContext) -> ItemStatusUpdateResponse:
        item = self.library.set_item_properties(
            req.item_id, req.item_properties, connection=self.connection_id(ctx)
        )
        return ItemStatusUpdateResponse(
            item_properties_ok=item is not None,
            transaction_date=self.library.now(),
            item_id=req.item_id,
            title=item.title if item else None,
            item_properties=item.properties if item else None,
            screen_messages=() if item else ("Item not found",),
        )


def _range(values: list[str], start: str | None, end: str | None) -> list[str]:
    """BP/BQ: a 1-based inclusive range; missing or unreadable bounds mean "from the first" /
    "to the last"."""
    first = int(start) if start and start.strip().isdigit() else 1
    last = int(end) if end and end.strip().isdigit() else len(values)
    return values[max(first, 1) - 1 : max(last, 0)]
