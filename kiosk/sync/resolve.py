"""Did it happen? Settling a transaction whose answer was lost by asking the ILS what it now holds.

A checkout, checkin or renewal left ``sending`` (a crash, a power cut, a connection that died
before the answer came) may or may not have been applied. Sending it again is not an answer: most
ILSs turn a repeated checkout into a renewal (reference §4 #8). So the ILS is asked about the state
the transaction would have changed:

* checkout: 17 Item Information. Not charged: it did not happen. Charged: 17 does not say to whom,
  so 63 Patron Information with the charged-items list says whether it is this patron's loan.
* checkin: 17. Still charged: it did not happen; otherwise the item is checked in.
* renewal: the item is charged either way, so 17's due date is compared with the one read just
  before the request was sent (:func:`pre_image`, kept in the journal as ``due_before``).

The same questions settle a lost answer while the patron is still at the kiosk
(:class:`kiosk.ils.gateway.SipGateway`, with the patron's PIN for 63 where the ILS wants one) and a
transaction left in the journal (the replay, without one): :func:`checkout_applied`,
:func:`checkin_applied` and :func:`renewal_applied` are shared by both.

This reads the state of one item, so it assumes nothing else touched that item between the request
and the question (the replay sends at most one transaction per item in flight, and the question
follows within seconds). Two states cannot be told apart and are documented rather than guessed:
a checkout to a patron who already had the item on loan reads as applied, and a checkin of an item
that was not on loan reads as applied (in both cases the ILS already shows the end state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from kiosk.ils.answers import CHARGED_STATUSES
from kiosk.sync.journal import Journal, Kind, Transaction
from sip2.fields import CirculationStatus, Summary

if TYPE_CHECKING:
    from sip2.messages import ItemInformationResponse, PatronInformationResponse


class IlsQuestions(Protocol):
    """The two questions asked (a :class:`~sip2.client.SIP2Client`, or a wrapper that keeps score)."""

    def item_information(self, item_id: str) -> ItemInformationResponse: ...

    def patron_information(
        self,
        patron_id: str,
        *,
        pin: str | None = ...,
        summary: Summary = ...,
        start_item: int | None = ...,
        end_item: int | None = ...,
    ) -> PatronInformationResponse: ...


#: Charged items asked for per 63 (BP/BQ), and how many pages before giving up.
PAGE = 50
MAX_PAGES = 40


class Verdict(StrEnum):
    APPLIED = "applied"
    NOT_APPLIED = "not applied"
    UNDECIDABLE = "undecidable"  # for staff: the ILS's answers do not settle it


@dataclass(frozen=True, slots=True)
class Resolution:
    verdict: Verdict
    evidence: str  # what the ILS said, in words, for the journal and for staff
    due_date: str | None = None  # the ILS's due date, when the loan exists
    title: str | None = None

    @property
    def applied(self) -> bool | None:
        return {Verdict.APPLIED: True, Verdict.NOT_APPLIED: False}.get(self.verdict)


def _status(info: ItemInformationResponse) -> str:
    status = info.circulation_status
    return "unknown" if status is None else f"{status:02d}"


def _unknown_item(info: ItemInformationResponse) -> bool:
    """How ILSs answer 17 for a barcode they do not have: status 01 (other) and no title."""
    return info.circulation_status in (None, CirculationStatus.OTHER) and not info.title.strip()


def _due(info: ItemInformationResponse) -> str | None:
    return (info.due_date or "").strip() or None


def pre_image(client: IlsQuestions, item_id: str) -> str:
    """What a renewal is later judged against: the item's due date now ('' when it has none).
    Read it just before sending the renewal, and journal it with the intent or the claim."""
    return _due(client.item_information(item_id)) or ""


def resolve(transaction: Transaction, client: IlsQuestions) -> Resolution:
    """Ask the ILS whether ``transaction`` was applied. Raises the client's ``SIP2Error`` when the
    ILS cannot be asked (then the transaction stays in flight and is asked about later)."""
    if transaction.kind is Kind.CHECKIN:
        return checkin_applied(client, transaction.item_id)
    if transaction.kind is Kind.RENEW:
        return renewal_applied(client, transaction.item_id, transaction.due_before)
    patron = transaction.patron_id
    if not patron or patron.startswith("*"):
        return _not_charged_or(
            client.item_information(transaction.item_id),
            transaction.item_id,
            lambda info, title: Resolution(
                Verdict.UNDECIDABLE, "17: on loan, but the patron id is no longer in the journal", title=title
            ),
        )
    return checkout_applied(client, transaction.item_id, patron)


def checkout_applied(client: IlsQuestions, item_id: str, patron_id: str, *, pin: str | None = None) -> Resolution:
    """Is ``item_id`` on loan to ``patron_id`` now? 17 first (not charged: not applied), then 63's
    charged list (17 does not say to whom). ``pin``: for an ILS that lists items only with it."""

    def charged(info: ItemInformationResponse, title: str | None) -> Resolution:
        listed, evidence = charged_to(client, patron_id, item_id, pin=pin)
        evidence = f"17: on loan; {evidence}"
        if listed is None:
            return Resolution(Verdict.UNDECIDABLE, evidence, title=title)
        if listed:
            return Resolution(Verdict.APPLIED, evidence, due_date=_due(info), title=title)
        return Resolution(Verdict.NOT_APPLIED, evidence, title=title)

    return _not_charged_or(client.item_information(item_id), item_id, charged)


def checkin_applied(client: IlsQuestions, item_id: str) -> Resolution:
    """Is ``item_id`` off loan now? 17 tells."""
    info = client.item_information(item_id)
    title = info.title.strip() or None
    if _unknown_item(info):
        return Resolution(Verdict.NOT_APPLIED, f"17: the ILS does not know item {item_id}")
    if info.circulation_status in CHARGED_STATUSES:
        return Resolution(Verdict.NOT_APPLIED, "17: the item is still on loan", title=title)
    return Resolution(Verdict.APPLIED, f"17: the item is not on loan (status {_status(info)})", title=title)


def renewal_applied(client: IlsQuestions, item_id: str, due_before: str | None) -> Resolution:
    """Did the due date of ``item_id`` move from ``due_before`` (see :func:`pre_image`)?"""
    return _not_charged_or(
        client.item_information(item_id), item_id, lambda info, title: _renewal(due_before, info, title)
    )


def _not_charged_or(
    info: ItemInformationResponse, item_id: str, charged: Callable[[ItemInformationResponse, str | None], Resolution]
) -> Resolution:
    """A checkout or renewal did not happen to an item the ILS does not know or has not on loan;
    otherwise ``charged`` decides."""
    title = info.title.strip() or None
    if _unknown_item(info):
        # The ILS refuses every transaction on an item it does not know: nothing can have changed.
        return Resolution(Verdict.NOT_APPLIED, f"17: the ILS does not know item {item_id}")
    if info.circulation_status not in CHARGED_STATUSES:
        return Resolution(Verdict.NOT_APPLIED, f"17: the item is not on loan (status {_status(info)})", title=title)
    return charged(info, title)


def _renewal(due_before: str | None, info: ItemInformationResponse, title: str | None) -> Resolution:
    due = _due(info) or ""
    if due_before is None:
        return Resolution(
            Verdict.UNDECIDABLE,
            "17: on loan, but no due date was recorded before the renewal was sent",
            due_date=due or None,
            title=title,
        )
    if due != due_before:
        return Resolution(
            Verdict.APPLIED,
            f"17: due date moved from {due_before or 'none'} to {due or 'none'}",
            due_date=due or None,
            title=title,
        )
    return Resolution(Verdict.NOT_APPLIED, f"17: due date still {due or 'none'}", due_date=due or None, title=title)


def charged_to(
    client: IlsQuestions, patron_id: str, item_id: str, *, pin: str | None = None
) -> tuple[bool | None, str]:
    """Whether ``item_id`` is among the patron's charged items (63), paging with BP/BQ when the ILS
    sends the list in parts. None when the ILS gives fewer items than its own count says (no
    password, a list cut short), or refused the ``pin`` it was given, because absence from a partial
    list proves nothing."""
    seen: list[str] = []
    count = 0
    for _ in range(MAX_PAGES):
        start = len(seen) + 1
        answer = client.patron_information(
            patron_id,
            pin="" if pin is None else pin,
            summary=Summary.CHARGED_ITEMS,
            start_item=start,
            end_item=start + PAGE - 1,
        )
        if answer.valid_patron is False:
            return False, "63: the ILS does not know the patron"
        refused = pin is not None and answer.valid_patron_password is False
        count = max(count, answer.charged_items_count or 0)
        new = [i.strip() for i in answer.charged_items if i.strip() and i.strip() not in seen]
        seen.extend(new)
        if item_id in seen:
            return True, f"63: among the patron's {count} charged items"
        if refused:
            return None, "63: the ILS refused the patron's password, so its list proves nothing"
        if len(seen) >= count:
            return False, f"63: not among the patron's {count} charged items"
        if not new:
            break
    return None, f"63: the ILS listed {len(seen)} of the patron's {count} charged items, not this one"


def settle(journal: Journal, transaction: Transaction, client: IlsQuestions) -> tuple[Transaction, Resolution]:
    """Resolve one in-flight transaction and record the verdict in the journal."""
    resolution = resolve(transaction, client)
    updated = journal.record_resolution(
        transaction.id,
        applied=resolution.applied,
        evidence=resolution.evidence,
        due_date=resolution.due_date,
        title=resolution.title,
    )
    return updated, resolution
