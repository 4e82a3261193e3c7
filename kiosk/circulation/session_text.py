"""The patron session's words: English defaults for its message ids, and the receipt.

States carry :class:`~kiosk.circulation.rows.Message` ids; the UI's i18n catalogs translate them and
fall back to this table. The receipt is built here because it leaves the kiosk as text (a printer
and a mail server do not translate ids), so it is worded in the patron's language by an injected
:data:`Wording` (the gettext catalogs provide one; :func:`english_wording` is the default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from kiosk.circulation.commands import ReceiptLine
from kiosk.circulation.rows import Message, Param, Row, RowKind, RowState

MESSAGES: dict[str, str] = {
    # identifying
    "patron.unknown": "This card is not known to the library. {ils}",
    "patron.lookup_failed": "The library system could not be reached. Please try again.",
    "patron.may_not_borrow": "You cannot borrow items right now. {ils} You can still see and renew your loans.",
    "pin.wrong": "Wrong PIN. Tries left: {left}. {ils}",
    "pin.locked": "Wrong PIN {attempts} times: this card is refused here. Please ask staff. {ils}",
    "pin.unchecked": "The library system could not check your PIN. Please ask staff.",
    "card.finish_first": "Please finish this session before using another card.",
    "patron.offline": "The library system is offline: what you do now is recorded and sent to it later.",
    "patron.offline_unknown": "The library system is offline and this card cannot be used now. Please ask staff.",
    # rows
    "item.waiting": "Waiting",
    "item.put_all_parts": "Put all {parts} parts on the pad: part {missing} missing.",
    "item.set_incomplete": "Not checked out: all {parts} parts must be on the pad (part {missing} missing).",
    "item.parts_missing": "Part {missing} of {parts} is missing.",
    "item.offer_renewal": "Already on loan to you, due {due}. Renew it?",
    "item.not_renewed": "Not renewed: still due {due}.",
    "item.asking": "Checking out…",
    "item.renewing": "Renewing…",
    "item.returning": "Returning…",
    "item.securing": "Releasing the alarm…",
    "return.securing": "Setting the alarm…",
    "item.put_back": "Needs attention: put it back on the pad.",
    "item.done": "Checked out. Due {due}.",
    "item.done_offline": "Checked out (recorded offline). Due {due}.",
    "item.renewed": "Renewed until {due}.",
    "item.renewed_by_ils": "Already on loan to you: the library system renewed it until {due}. {ils}",
    "item.untagged": "Checked out, due {due}. No tag found: if the gate alarms, show your receipt.",
    "item.refused": "Not checked out. {ils}",
    "item.renew_refused": "Not renewed. {ils}",
    "item.blocked": "Not checked out: you cannot borrow right now. {ils}",
    "item.unreachable": "Could not reach the library system. Please try again.",
    "item.outcome_unknown": "Needs attention: please ask staff.",
    "item.security_failed": "Needs help: the alarm could not be changed. Please ask staff.",
    "return.refused": "Not returned. {ils}",
    "return.done_offline": "Returned (recorded offline). Please put it in the returns slot.",
    # the offline policy's refusals
    "offline.no_checkouts": "Not checked out: borrowing is not possible while the library system is offline.",
    "offline.checkout_limit": "Not checked out: you have borrowed as many items as allowed while offline.",
    "offline.no_checkins": "Not returned: returns are not possible while the library system is offline.",
    "offline.no_renewals": "Not renewed: renewals are not possible while the library system is offline.",
    "offline.no_payments": "Payments are not possible while the library system is offline.",
    "offline.library_use_only": "Not checked out: this item is for use in the library only.",
    "offline.not_for_loan": "Not checked out: this item cannot be lent while the library system is offline. "
                            "Please ask staff.",
    "return.slot": "Returned. Please put it in the returns slot. {ils}",
    "return.staff": "Returned. Please leave it with staff. {ils}",
    "return.hold_for_you": "Returned. It is on hold for you: you can borrow it now. {ils}",
    "return.untagged": "Returned. No tag found: please leave it with staff. {ils}",
    # renewals from the loans list
    "renew.asking": "Renewing…",
    "renew.done": "Renewed until {due}.",
    "renew.refused": "Not renewed. {ils}",
    "renew.unreachable": "Could not reach the library system. Please try again.",
    "renew.outcome_unknown": "Could not tell whether it was renewed. Please ask staff.",
    # finishing
    "receipt.print_failed": "The receipt could not be printed.",
    "receipt.email_failed": "The e-mail receipt could not be sent.",
    "receipt.printer_unavailable": "The printer is not available.",
    # the kiosk's surroundings
    "gate.alarm": "An item was not checked out: please come back to the kiosk.",
    "gate.not_opened": "The exit gate did not open. Please ask staff to let you out.",
    # the receipt itself
    "receipt.title": "Library receipt",
    "receipt.card": "Card: {card}",
    "receipt.borrowed": "Borrowed",
    "receipt.renewed": "Renewed",
    "receipt.returned": "Returned",
    "receipt.ask_staff": "Please ask staff about",
    "receipt.due": "  due {due}",
    "receipt.due_offline": "  due {due}; recorded offline",
    "receipt.returned_offline": "  returned; recorded offline",
    "receipt.renewed_until": "  renewed until {due}",
    "receipt.was_returned": "  returned",
    "receipt.alarm_armed": "  due {due}; the alarm was not released: ask staff",
    "receipt.no_tag": "  due {due}; no tag found: show this receipt if the gate alarms",
    "receipt.not_confirmed": "  not confirmed by the library system",
}


Render = Callable[[str, Mapping[str, Param]], str]
"""(message id, parameters) -> text in one language. Parameters named ``due`` carry the ILS's raw date
text: a render may show it as a date of its language; English leaves it as the ILS gave it."""

Wording = Callable[[str], Render]
"""Language code -> its :data:`Render`. Must be pure (the machines call it inside ``step``)."""


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(message: Message, table: dict[str, str] = MESSAGES) -> str:
    """A message in words; a parameter the template lacks is left out, an unknown id shows as is."""
    template = table.get(message.id, message.id)
    return " ".join(template.format_map(_Blank({k: _text(v) for k, v in message.params})).split())


def _text(value: Param) -> str:
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value) if all(isinstance(v, str) for v in value) else ", ".join(
            str(v) for v in value)
    return str(value)


def masked(patron_id: str) -> str:
    """Only the last four characters: enough for the patron to recognise the card, useless to anyone else."""
    return "****" + patron_id[-4:] if len(patron_id) > 4 else "****"


def english(message_id: str, params: Mapping[str, Param]) -> str:
    """English from :data:`MESSAGES`, as the template has it (a receipt line keeps its leading indent,
    which :func:`render` would collapse); an unknown id shows as is, a missing parameter as nothing."""
    template = MESSAGES.get(message_id, message_id)
    return template.format_map(_Blank({k: _text(v) for k, v in params.items()}))


def english_wording(language: str) -> Render:
    """The default :data:`Wording`: English whatever the language (the kiosk's behaviour before catalogs)."""
    return english


def receipt_lines(patron_id: str, rows: Iterable[Row], renewed: Iterable[tuple[str, str]],
                  render: Render = english) -> tuple[ReceiptLine, ...]:
    """The receipt: what the ILS confirmed in this session, and what staff must look at.

    ``renewed`` are (title or item id, due) of renewals made from the loans list. Refused items are
    not listed (nothing happened to them). No PIN, and the card only masked. Empty when there is
    nothing to list, so no paper is wasted on a session that only looked. ``render`` words it (the
    patron's language); titles and item ids are printed as the ILS gave them.
    """
    borrowed: list[ReceiptLine] = []
    renewals: list[ReceiptLine] = []
    returned: list[ReceiptLine] = []
    staff: list[ReceiptLine] = []
    for row in rows:
        if not row.confirmed:
            if row.state is RowState.NEEDS_STAFF:
                staff += [ReceiptLine(row.label), _line(render, "receipt.not_confirmed")]
            continue
        if row.kind is RowKind.RETURN:
            returned += [ReceiptLine(row.label), _line(render, "receipt.returned_offline" if row.offline
                                                       else "receipt.was_returned")]
        elif row.state is RowState.UNTAGGED:
            borrowed += [ReceiptLine(row.label), _line(render, "receipt.no_tag", due=row.due)]
        elif row.state is not RowState.DONE:
            staff += [ReceiptLine(row.label), _line(render, "receipt.alarm_armed", due=row.due)]
        elif row.renewed:
            renewals += [ReceiptLine(row.label), _line(render, "receipt.renewed_until", due=row.due)]
        else:
            borrowed += [ReceiptLine(row.label), _line(render, "receipt.due_offline" if row.offline
                                                       else "receipt.due", due=row.due)]
    for label, due in renewed:
        renewals += [ReceiptLine(label), _line(render, "receipt.renewed_until", due=due)]
    sections = [("receipt.borrowed", borrowed), ("receipt.renewed", renewals), ("receipt.returned", returned),
                ("receipt.ask_staff", staff)]
    if not any(lines for _, lines in sections):
        return ()
    lines = [_line(render, "receipt.title", bold=True), _line(render, "receipt.card", card=masked(patron_id))]
    for heading, section in sections:
        if section:
            lines += [_line(render, heading, bold=True), *section]
    return tuple(lines)


def _line(render: Render, message_id: str, *, bold: bool = False, **params: Param) -> ReceiptLine:
    """One receipt line in the patron's words, indented as the English template is.

    The indent is the receipt's layout, not its wording: the printer's layout tells an item's title
    from its detail lines by it (``kiosk.hardware.printer.layout.totals``), so a translation that
    drops or adds leading spaces must not change it. A render that raises (a catalog entry naming a
    parameter that does not exist, say) gives the English line: a receipt in English is better
    than a session that cannot end."""
    template = MESSAGES[message_id]
    indent = template[:len(template) - len(template.lstrip(" "))]
    try:
        text = render(message_id, params)
    except Exception:
        text = english(message_id, params)
    return ReceiptLine(indent + str(text).strip(), bold=bold)
