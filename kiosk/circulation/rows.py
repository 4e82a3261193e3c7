"""One row per item in a patron's session, and how a row moves on.

A row is the patron's view of one item: what the kiosk is doing with it and what it says about it.
The functions here are the row's own rules (what an ILS answer, a security result or a change of
the pad means for *this* item); the session machine (``session.py``) decides which rows exist and
turns rows that need the ILS or the tag into commands. That split keeps the promise "done means
ILS-confirmed and security verified" checkable in one small place: only :func:`secured` and
:func:`confirmed` ever produce ``DONE``.

A row that needs a command is left in ``ASKING`` or ``SECURING`` with an empty ``ref``; the machine
gives it a ref and issues the command in the same step (``PatronSessionMachine._dispatch``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from kiosk.circulation.model import Alert, IncompleteSet, LoanAnswer, Pad, PatronAccount, ReturnAnswer

Param = str | int | tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Message:
    """Something to tell the patron, as an id the UI translates plus its parameters (the ILS's own
    words travel as the ``ils`` parameter, untranslated). Parameters are a tuple of pairs so a
    state stays an immutable value."""

    id: str
    params: tuple[tuple[str, Param], ...] = ()

    @classmethod
    def of(cls, message_id: str, **params: Param) -> Message:
        return cls(message_id, tuple(params.items()))

    @property
    def args(self) -> dict[str, Param]:
        return dict(self.params)


class RowKind(StrEnum):
    BORROW = "borrow"  # checkout, or a renewal offered because it is already on loan to this patron
    RETURN = "return"  # checkin at the kiosk


class Request(StrEnum):
    """The ILS request a row makes (or made last)."""

    CHECKOUT = "checkout"
    RENEW = "renew"
    CHECKIN = "checkin"


class RowState(StrEnum):
    WAITING = "waiting"  # a multi-part set with parts missing: not sent until the pad completes it
    OFFERED = "offered"  # already on loan to this patron: "renew?" — nothing sent until they answer
    ASKING = "asking"  # the ILS request is out
    SECURING = "securing"  # the ILS confirmed; the tag write (and read-back) is out
    PUT_BACK = "put back"  # the ILS confirmed; the tags must be on the pad to set security
    DONE = "done"  # the ILS confirmed and every tag seen was verified
    UNTAGGED = "untagged"  # the ILS confirmed; no tag of this item was ever seen, so none was set
    DECLINED = "declined"  # the patron declined the renewal offer
    REFUSED = "refused"  # by the ILS (its words) or by this kiosk's rules (never sent)
    UNREACHABLE = "unreachable"  # the request could not be sent: the patron may try again
    NEEDS_STAFF = "needs staff"  # outcome unknown, or the tag would not take security: staff must look


IN_FLIGHT = frozenset({RowState.ASKING, RowState.SECURING})
"""A command is out for the row: the session does not end before its answer is in."""

UNSENT = frozenset({RowState.WAITING, RowState.OFFERED, RowState.DECLINED})
"""Nothing was asked of the ILS; the row goes away when its item leaves the pad."""

SETTLED = frozenset({RowState.DONE, RowState.UNTAGGED, RowState.DECLINED, RowState.REFUSED})
"""Nothing more will happen to the item in this row: it may start a row of the other kind."""


@dataclass(frozen=True, slots=True)
class Row:
    item_id: str
    kind: RowKind
    state: RowState
    message: Message  # what the row says now
    request: Request | None = None  # the ILS request this row makes; None until it makes one
    ref: str = ""  # of the command out for this row ("" = none out, or one to issue)
    asked: bool = False  # a request reached the runner (a refusal is then the ILS's, not ours)
    uids: tuple[bytes, ...] = ()  # every tag of this item seen on the pad in this session
    usages: tuple[str, ...] = ()  # the types of usage those tags stated (for the offline policy)
    secured: tuple[bytes, ...] = ()  # tags read back in the wanted state after the ILS confirmed
    securing: tuple[bytes, ...] = ()  # tags in the security write that is out
    security_tries: int = 0
    confirmed: bool = False  # the ILS confirmed the loan, renewal or return
    renewed: bool = False  # the confirmed loan is a renewal (offered, or the ILS's own choice)
    title: str = ""
    due: str = ""
    outcome: Message | None = None  # what the row says once done (set when the ILS confirms)
    note: Message | None = None  # shown beside the state, e.g. a part the site lets go missing
    offline: bool = False  # recorded in the journal under the offline policy, not yet confirmed by the ILS

    @property
    def pending(self) -> tuple[bytes, ...]:
        """Tags of this item whose security is not yet verified."""
        return tuple(u for u in self.uids if u not in self.secured)

    @property
    def in_flight(self) -> bool:
        return self.state in IN_FLIGHT

    @property
    def unsent(self) -> bool:
        return self.state in UNSENT or (self.state is RowState.REFUSED and not self.asked)

    @property
    def label(self) -> str:
        return self.title or self.item_id


# --- creating a row ----------------------------------------------------------------------------


def admit(item_id: str, kind: RowKind, pad: Pad, account: PatronAccount, set_policy: str) -> Row:
    """The row for an item new to this session (on the pad or scanned).

    Borrowing relies on ``account.may_borrow`` alone: the gateway computes it from the 14 status
    flags, and hold or renewal denials do not stop a checkout. An item the patron already has is
    offered as a renewal instead of being sent as a checkout, which most ILSs would silently treat
    as a renewal.
    """
    row = Row(item_id, kind, RowState.WAITING, Message("item.waiting"), uids=pad.uids_of(item_id),
              usages=pad.usages_of(item_id))
    if kind is RowKind.RETURN:
        gap = incomplete(pad, item_id)
        return ask(replace(row, note=_parts_note(gap)), Request.CHECKIN)
    if not account.may_borrow:
        return replace(row, state=RowState.REFUSED, message=Message.of("item.blocked", ils=account.messages))
    loan = next((loan for loan in account.loans if loan.item_id == item_id), None)
    if loan is not None:
        offer = Message.of("item.offer_renewal", due=loan.due)
        return replace(row, state=RowState.OFFERED, title=loan.title, due=loan.due, message=offer)
    return apply_set_policy(row, pad, set_policy)


def apply_set_policy(row: Row, pad: Pad, set_policy: str) -> Row:
    """Send a checkout now, or hold/refuse it because parts of a multi-part set are not on the pad."""
    gap = incomplete(pad, row.item_id)
    if gap is None:
        return ask(replace(row, note=None), Request.CHECKOUT)
    if set_policy == "allow_with_message":
        return ask(replace(row, note=_parts_note(gap)), Request.CHECKOUT)
    parts = {"parts": gap.parts_in_set, "missing": gap.missing}
    if set_policy == "refuse":
        return replace(row, state=RowState.REFUSED, message=Message.of("item.set_incomplete", **parts))
    return replace(row, state=RowState.WAITING, message=Message.of("item.put_all_parts", **parts))


def ask(row: Row, request: Request) -> Row:
    """Make ``request`` for the row (the machine issues it)."""
    message = {
        Request.CHECKOUT: "item.asking", Request.RENEW: "item.renewing", Request.CHECKIN: "item.returning",
    }[request]
    return replace(row, state=RowState.ASKING, request=request, ref="", message=Message(message))


def incomplete(pad: Pad, item_id: str) -> IncompleteSet | None:
    return next((s for s in pad.incomplete_sets if s.item_id == item_id), None)


def _parts_note(gap: IncompleteSet | None) -> Message | None:
    return None if gap is None else Message.of("item.parts_missing", parts=gap.parts_in_set, missing=gap.missing)


# --- the ILS answered --------------------------------------------------------------------------


def loan_answered(row: Row, answer: LoanAnswer, pad: Pad) -> Row:
    """A checkout or renewal answer for a row that asked."""
    row = replace(row, ref="", title=answer.title or row.title)
    renewing = row.request is Request.RENEW
    if not answer.ok:
        if answer.message_id:  # the kiosk's own refusal (the offline policy), not the ILS's
            return replace(row, state=RowState.REFUSED, message=Message(answer.message_id))
        refusal = "item.renew_refused" if renewing else "item.refused"
        return replace(row, state=RowState.REFUSED, message=Message.of(refusal, ils=answer.messages))
    due = answer.due or row.due
    if answer.offline:
        # Recorded in the journal for the ILS: security is released as online, and the patron is
        # told it was recorded offline (the ILS may yet refuse it; staff see that in the queue).
        outcome = Message.of("item.done_offline", due=due)
        row = replace(row, confirmed=True, offline=True, due=due, outcome=outcome)
        return secure_or_wait(row, pad)
    if renewing:
        outcome = Message.of("item.renewed", due=due)
    elif answer.renewed:
        # The ILS took a checkout of an item this patron already had as a renewal: say so.
        outcome = Message.of("item.renewed_by_ils", due=due, ils=answer.messages)
    else:
        outcome = Message.of("item.done", due=due)
    row = replace(row, confirmed=True, renewed=renewing or answer.renewed, due=due, outcome=outcome)
    return secure_or_wait(row, pad)


def return_answered(row: Row, answer: ReturnAnswer, pad: Pad, patron_id: str) -> Row:
    row = replace(row, ref="", title=answer.title or row.title)
    if not answer.ok:
        if answer.message_id:
            return replace(row, state=RowState.REFUSED, message=Message(answer.message_id))
        return replace(row, state=RowState.REFUSED, message=Message.of("return.refused", ils=answer.messages))
    if answer.offline:
        return secure_or_wait(replace(row, confirmed=True, offline=True, outcome=Message("return.done_offline")), pad)
    row = replace(row, confirmed=True, outcome=Message.of(_return_outcome(answer, patron_id), ils=answer.messages))
    return secure_or_wait(row, pad)


def _return_outcome(answer: ReturnAnswer, patron_id: str) -> str:
    """Where the returned item goes, from the ILS's alert: the patron never learns who else is waiting."""
    if answer.alert is Alert.HOLD_HERE and answer.hold_patron_id and answer.hold_patron_id == patron_id:
        return "return.hold_for_you"
    if answer.alert is Alert.NONE:
        return "return.slot"
    return "return.staff"  # a hold for someone else, a transit, or an alert the ILS did not explain


def not_reached(row: Row) -> Row:
    """The request never left the kiosk (no connection): nothing happened, the patron may retry."""
    return replace(row, ref="", state=RowState.UNREACHABLE, message=Message("item.unreachable"))


def outcome_unknown(row: Row) -> Row:
    """The request may have been applied. Never resent (a second checkout is a renewal on most
    ILSs); never shown as done; staff resolve it."""
    return replace(row, ref="", state=RowState.NEEDS_STAFF, message=Message("item.outcome_unknown"))


# --- security ----------------------------------------------------------------------------------


def secure_or_wait(row: Row, pad: Pad) -> Row:
    """After the ILS confirmed: write security when every unverified tag is on the pad, else ask
    for the item back. Only here and in :func:`secured` does a row become ``DONE``."""
    if not row.uids:
        return replace(row, ref="", state=RowState.UNTAGGED, message=Message.of(_untagged(row), due=row.due))
    if not row.pending:
        return replace(row, ref="", state=RowState.DONE, message=row.outcome or Message("item.done"))
    on_pad = set(pad.uids_of(row.item_id))
    if all(uid in on_pad for uid in row.pending):
        message = "item.securing" if row.kind is RowKind.BORROW else "return.securing"
        return replace(row, ref="", state=RowState.SECURING, message=Message(message))
    return replace(row, ref="", state=RowState.PUT_BACK, message=Message("item.put_back"))


def _untagged(row: Row) -> str:
    return "item.untagged" if row.kind is RowKind.BORROW else "return.untagged"


def secured(row: Row, ok: bool, failed_uids: tuple[bytes, ...], pad: Pad, attempts: int) -> Row:
    """The answer to the row's security write."""
    if ok:
        failed: set[bytes] = set()
    else:  # a failure that names no tag leaves every tag of the write in doubt
        failed = set(failed_uids) if failed_uids else set(row.securing)
    verified = tuple(u for u in row.securing if u not in failed)
    row = replace(row, ref="", securing=(), secured=(*row.secured, *(u for u in verified if u not in row.secured)))
    if ok:
        return secure_or_wait(row, pad)  # DONE, or more parts appeared meanwhile
    if row.security_tries >= attempts:
        return replace(row, state=RowState.NEEDS_STAFF, message=Message("item.security_failed"))
    return replace(row, state=RowState.PUT_BACK, message=Message("item.put_back"))


def put_back_on_pad(row: Row, pad: Pad) -> bool:
    """The row asks for its item back, yet every unverified tag is on the pad as last seen.

    Either the patron lifted it during the write and put it back before the tag watcher noticed it
    was gone (so no new pad will come to retry on), or the tag sat there and refused the write. Both
    are retried on a timer, and the attempts limit sends a tag that keeps refusing to staff."""
    if row.state is not RowState.PUT_BACK or not row.pending:
        return False
    on_pad = set(pad.uids_of(row.item_id))
    return all(u in on_pad for u in row.pending)


def retry_security(row: Row, pad: Pad, attempts: int) -> Row:
    """The retry timer of a :func:`put_back_on_pad` row fired: write again, or ask for help once the
    attempts are used up."""
    if not put_back_on_pad(row, pad):
        return row
    if row.security_tries >= attempts:
        return replace(row, state=RowState.NEEDS_STAFF, message=Message("item.security_failed"))
    return secure_or_wait(row, pad)


# --- the pad changed ---------------------------------------------------------------------------


def pad_changed(row: Row, pad: Pad, set_policy: str) -> Row:
    """What a new view of the pad means for this row: more tags seen, a set completed, an item put
    back so its security can be (re)tried, or a new part of a done item that needs its security."""
    on_pad = pad.uids_of(row.item_id)
    usages = pad.usages_of(row.item_id)
    row = replace(row, uids=(*row.uids, *(u for u in on_pad if u not in row.uids)),
                  usages=(*row.usages, *(u for u in usages if u not in row.usages)))
    gap = incomplete(pad, row.item_id)
    if on_pad and row.note is not None and row.note.id == "item.parts_missing":
        row = replace(row, note=_parts_note(gap))
    if row.state is RowState.WAITING and on_pad:
        return apply_set_policy(row, pad, set_policy)
    if (row.state is RowState.REFUSED and not row.asked and row.message.id == "item.set_incomplete"
            and on_pad and gap is None):
        return apply_set_policy(row, pad, set_policy)  # the site refuses incomplete sets, not this one
    waiting_for_tags = row.state in (RowState.PUT_BACK, RowState.DONE, RowState.UNTAGGED)
    if waiting_for_tags and row.pending and all(u in on_pad for u in row.pending):
        return secure_or_wait(row, pad)
    return row
