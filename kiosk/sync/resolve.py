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

This reads the state of one item, so it assumes nothing else touched that item between the request
and the question (the replay sends at most one transaction per item in flight, and the question
follows within seconds). Two states cannot be told apart and are documented rather than guessed:
a checkout to a patron who already had the item on loan reads as applied, and a checkin of an item
that was not on loan reads as applied (in both cases the ILS already shows the end state).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from kiosk.sync.journal import Journal, Kind, Transaction
from sip2.fields import CirculationStatus, Summary

if TYPE_CHECKING:
    from sip2.client import SIP2Client
    from sip2.messages import ItemInformationResponse

#: 18 circulation statuses that mean "on loan to someone".
CHARGED = frozenset(
    {CirculationStatus.CHARGED, CirculationStatus.CHARGED_NOT_TO_BE_RECALLED, CirculationStatus.RECALLED}
)
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


def pre_image(client: SIP2Client, item_id: str) -> str:
    """What a renewal is later judged against: the item's due date now ('' when it has none).
    Read it just before sending the renewal, and journal it with the intent or the claim."""
    return _due(client.item_information(item_id)) or ""


def resolve(transaction: Transaction, client: SIP2Client) -> Resolution:
    """Ask the ILS whether ``transaction`` was applied. Raises the client's ``SIP2Error`` when the
    ILS cannot be asked (then the transaction stays in flight and is asked about later)."""
    info = client.item_information(transaction.item_id)
    title = info.title.strip() or None
    if _unknown_item(info):
        # The ILS refuses every transaction on an item it does not know: nothing can have changed.
        return Resolution(Verdict.NOT_APPLIED, f"17: the ILS does not know item {transaction.item_id}")
    charged = info.circulation_status in CHARGED
    if transaction.kind is Kind.CHECKIN:
        if charged:
            return Resolution(Verdict.NOT_APPLIED, "17: the item is still on loan", title=title)
        return Resolution(Verdict.APPLIED, f"17: the item is not on loan (status {_status(info)})", title=title)
    if not charged:
        return Resolution(
            Verdict.NOT_APPLIED, f"17: the item is not on loan (status {_status(info)})", title=title
        )
    if transaction.kind is Kind.RENEW:
        return _renewal(transaction, info, title)
    return _checkout(transaction, client, info, title)


def _renewal(transaction: Transaction, info: ItemInformationResponse, title: str | None) -> Resolution:
    due = _due(info) or ""
    if transaction.due_before is None:
        return Resolution(
            Verdict.UNDECIDABLE, "17: on loan, but no due date was recorded before the renewal was sent",
            due_date=due or None, title=title,
        )
    if due != transaction.due_before:
        return Resolution(
            Verdict.APPLIED, f"17: due date moved from {transaction.due_before or 'none'} to {due or 'none'}",
            due_date=due or None, title=title,
        )
    return Resolution(Verdict.NOT_APPLIED, f"17: due date still {due or 'none'}", due_date=due or None, title=title)


def _checkout(
    transaction: Transaction, client: SIP2Client, info: ItemInformationResponse, title: str | None
) -> Resolution:
    patron = transaction.patron_id
    if not patron or patron.startswith("*"):
        return Resolution(Verdict.UNDECIDABLE, "17: on loan, but the patron id is no longer in the journal",
                          title=title)
    listed, evidence = charged_to(client, patron, transaction.item_id)
    evidence = f"17: on loan; {evidence}"
    if listed is None:
        return Resolution(Verdict.UNDECIDABLE, evidence, title=title)
    if listed:
        return Resolution(Verdict.APPLIED, evidence, due_date=_due(info), title=title)
    return Resolution(Verdict.NOT_APPLIED, evidence, title=title)


def charged_to(client: SIP2Client, patron_id: str, item_id: str) -> tuple[bool | None, str]:
    """Whether ``item_id`` is among the patron's charged items (63), paging with BP/BQ when the ILS
    sends the list in parts. None when the ILS gives fewer items than its own count says (no
    password, a list cut short), because absence from a partial list proves nothing."""
    seen: list[str] = []
    count = 0
    for _ in range(MAX_PAGES):
        start = len(seen) + 1
        answer = client.patron_information(
            patron_id, summary=Summary.CHARGED_ITEMS, start_item=start, end_item=start + PAGE - 1
        )
        if answer.valid_patron is False:
            return False, "63: the ILS does not know the patron"
        count = max(count, answer.charged_items_count or 0)
        new = [i.strip() for i in answer.charged_items if i.strip() and i.strip() not in seen]
        seen.extend(new)
        if item_id in seen:
            return True, f"63: among the patron's {count} charged items"
        if len(seen) >= count:
            return False, f"63: not among the patron's {count} charged items"
        if not new:
            break
    return None, f"63: the ILS listed {len(seen)} of the patron's {count} charged items, not this one"


def settle(journal: Journal, transaction: Transaction, client: SIP2Client) -> tuple[Transaction, Resolution]:
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
