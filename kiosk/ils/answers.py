"""SIP2 responses in the kiosk's own terms (``kiosk.circulation.model``). Pure: values in, values out.

This is where a SIP2 quirk becomes a domain fact, once: which status flags stop borrowing, when a
checkin alert without a CV type still means "staff must look", that a zero fee is no fine. The
state machines then never read a SIP2 field, and a second ILS protocol would add a sibling module.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from kiosk.circulation.model import Alert, Loan, LoanAnswer, PatronAccount, RenewAllAnswer, ReturnAnswer
from sip2.fields import AlertType, CirculationStatus
from sip2.messages import (
    CheckinResponse,
    CheckoutResponse,
    ItemInformationResponse,
    PatronInformationResponse,
    RenewAllResponse,
    RenewResponse,
)

_ALERTS = {
    AlertType.HOLD_HERE.value: Alert.HOLD_HERE,
    AlertType.HOLD_OTHER_BRANCH.value: Alert.HOLD_OTHER_BRANCH,
    AlertType.TRANSIT.value: Alert.TRANSIT,
    AlertType.OTHER.value: Alert.OTHER,
}

#: 18 Item Information statuses that mean "someone has it on loan".
CHARGED_STATUSES = frozenset(
    {CirculationStatus.CHARGED, CirculationStatus.CHARGED_NOT_TO_BE_RECALLED, CirculationStatus.RECALLED}
)


def _text(value: str | None) -> str:
    return (value or "").strip()


def fines_text(amount: str | None) -> str:
    """The fee amount as the ILS wrote it, or "" when it owes nothing (many ILSs always send BV)."""
    text = _text(amount)
    if not text:
        return ""
    try:
        return "" if Decimal(text) == 0 else text
    except InvalidOperation:
        return text  # free text ("EUR 2,50"): show it as given


def alert_of(response: CheckinResponse) -> Alert:
    """CV when the ILS sent one; without it the alert flag alone still means "do not reshelve".

    "00" (or no CV) with the flag clear is no alert. An unknown CV value, or "00" with the flag set,
    is an alert the ILS did not explain: OTHER, so the item goes to staff instead of the shelf.
    """
    cv = _text(response.alert_type)
    if cv in _ALERTS:
        return _ALERTS[cv]
    if cv in ("", AlertType.NONE.value):
        # Koha answers a checkin of an item that was not on loan with ok=0 and the bare alert flag
        # (C4/SIP/Sip/MsgType.pm: alert = !ok): that flag says "refused", not "hold or transit".
        # Whether such an item may be sorted is the returns machine's call (accept_not_on_loan).
        return Alert.OTHER if response.alert and response.ok else Alert.NONE
    return Alert.OTHER


def patron_account(
    patron_id: str,
    pin: str | None,
    info: PatronInformationResponse,
    *,
    loans: tuple[Loan, ...] = (),
    holds_ready: tuple[str, ...] = (),
) -> PatronAccount:
    """The 64 answer as an account. ``pin`` is what was sent (None: the site uses no PIN).

    ``may_borrow`` needs a known card, a PIN that was not refused and no flag that stops a checkout
    (hold, recall and renewal denials do not: :attr:`sip2.fields.PatronStatus.blocks_checkout`).
    An ILS that omits BL is taken to know a card it names.
    """
    known = info.valid_patron if info.valid_patron is not None else bool(_text(info.personal_name))
    pin_ok = None if pin is None else info.valid_patron_password
    status = info.patron_status
    return PatronAccount(
        patron_id=patron_id,
        known=known,
        pin_ok=pin_ok,
        name=_text(info.personal_name),
        may_borrow=known and pin_ok is not False and not status.blocks_checkout,
        problems=status.problems,
        loans_count=info.charged_items_count or 0,
        overdue_count=info.overdue_items_count or 0,
        holds_ready_count=info.hold_items_count or 0,
        fines=fines_text(info.fee_amount),
        currency=_text(info.currency_type),
        email=_text(info.email_address),
        loans=loans,
        holds_ready=holds_ready,
        messages=tuple(m for m in info.screen_messages if m.strip()),
    )


def loan_from(item_id: str, details: ItemInformationResponse | None) -> Loan:
    """One charged item, with title and due date when an 18 answer supplied them."""
    if details is None:
        return Loan(item_id)
    return Loan(item_id, title=_text(details.title), due=_text(details.due_date))


def loan_answer(item_id: str, response: CheckoutResponse | RenewResponse) -> LoanAnswer:
    """A checkout or renewal answer. A checkout the ILS turned into a renewal says so (renewal ok)."""
    renewed = response.ok and (isinstance(response, RenewResponse) or response.renewal_ok)
    return LoanAnswer(
        item_id=item_id,
        ok=response.ok,
        title=_text(response.title),
        due=_text(response.due_date) if response.ok else "",
        renewed=renewed,
        messages=tuple(m for m in response.screen_messages if m.strip()),
    )


def return_answer(item_id: str, response: CheckinResponse) -> ReturnAnswer:
    return ReturnAnswer(
        item_id=item_id,
        ok=response.ok,
        title=_text(response.title),
        sort_bin=_text(response.sort_bin),
        alert=alert_of(response),
        destination=_text(response.destination_location),
        hold_patron_name=_text(response.hold_patron_name),
        hold_patron_id=_text(response.hold_patron_id),
        was_on_loan_to=_text(response.patron_id),
        messages=tuple(m for m in response.screen_messages if m.strip()),
    )


def renew_all_answer(response: RenewAllResponse) -> RenewAllAnswer:
    return RenewAllAnswer(
        ok=response.ok,
        renewed=tuple(_text(i) for i in response.renewed_items if _text(i)),
        not_renewed=tuple(_text(i) for i in response.unrenewed_items if _text(i)),
        messages=tuple(m for m in response.screen_messages if m.strip()),
    )


def return_from_item_status(item_id: str, details: ItemInformationResponse) -> ReturnAnswer:
    """A checkin whose answer was lost, rebuilt from 18 once the item shows as no longer charged.

    The lost answer's sort bin and hold details cannot be recovered, so only what 18 proves is
    claimed: on the hold shelf is a hold here; in transit could be a hold elsewhere or the way home,
    so it is an unexplained alert (staff sort it); an item the ILS does not know stays refused.
    """
    status = details.circulation_status
    if status == CirculationStatus.OTHER and not _text(details.title):
        return ReturnAnswer(item_id, ok=False, alert=Alert.OTHER, messages=tuple(details.screen_messages))
    if status == CirculationStatus.WAITING_ON_HOLD_SHELF:
        alert = Alert.HOLD_HERE
    elif status in (CirculationStatus.AVAILABLE, CirculationStatus.WAITING_TO_BE_RESHELVED):
        alert = Alert.NONE
    else:
        alert = Alert.OTHER
    return ReturnAnswer(item_id, ok=True, title=_text(details.title), alert=alert)
