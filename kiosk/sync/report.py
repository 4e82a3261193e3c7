"""What staff see of the journal: the open queue, and the exceptions report.

Pure formatting over :class:`~kiosk.sync.journal.Transaction` rows (no I/O), so the staff screen
can show the same lines the ``kiosk queue`` command prints. The exceptions report lists what a
person must act on (replays the ILS rejected, transactions whose outcome nobody could find out)
and, for information, replays the ILS took differently from what the patron was told (its own due
date, an item that was not on loan).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from kiosk.sync.journal import Journal, State, Transaction

CSV_COLUMNS = (
    "section", "id", "state", "kind", "mode", "transaction_date", "patron_id", "item_id", "title",
    "reason", "note", "nb_due_date", "return_date", "ils_due_date", "attempts", "resolved_by", "updated_at",
)

#: How far back the report's "for information" part looks.
NOTES_DAYS = 7


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _detail(row: Transaction) -> str:
    parts = [p for p in (row.reason, row.note) if p]
    if row.state is State.QUEUED and row.nb_due_date is not None:
        parts.insert(0, f"due {row.nb_due_date.date()} given offline")
    return "; ".join(parts)


def list_lines(rows: Sequence[Transaction]) -> list[str]:
    """One line per transaction, columns aligned, for ``kiosk queue list``."""
    header = ("ID", "STATE", "KIND", "MODE", "DATE", "PATRON", "ITEM", "DETAIL")
    table = [header] + [
        (str(r.id), r.state.value, r.kind.value, r.mode.value, _when(r.transaction_date), r.patron_id or "-",
         r.item_id, _detail(r))
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)) + "  " + line[-1]
        for line in table
    ]


def report_sections(journal: Journal, now: datetime | None = None) -> dict[str, list[Transaction]]:
    """``needs staff`` (rejected, unknown) and ``for information`` (recent replays with a note)."""
    since = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None) - timedelta(days=NOTES_DAYS)
    noted = [
        r for r in journal.transactions([State.REPLAYED])
        if r.note and r.settled_at is not None and r.settled_at >= since
    ]
    return {"needs staff": journal.needs_staff(), "for information": noted}


def _describe(row: Transaction) -> list[str]:
    who = f"patron {row.patron_id}" if row.patron_id else "no patron"
    title = f' "{row.title}"' if row.title else ""
    head = (f"#{row.id} {row.state.value} {row.mode.value} {row.kind.value} of {_when(row.transaction_date)}: "
            f"{who}, item {row.item_id}{title}")
    lines = [head]
    if row.reason:
        lines.append(f"    ILS: {row.reason}")
    if row.note:
        lines.append(f"    note: {row.note}")
    if row.nb_due_date is not None:
        lines.append(f"    due date given offline: {row.nb_due_date.date()}"
                     + (f"; ILS due date: {row.ils_due_date}" if row.ils_due_date else ""))
    if row.state is State.REJECTED:
        lines.append(f"    fix the cause, then: kiosk queue retry {row.id}; or after handling it at the desk: "
                     f"kiosk queue resolve {row.id} --note TEXT")
    elif row.state is State.UNKNOWN:
        lines.append(f"    check the ILS: if it happened, kiosk queue resolve {row.id} --note TEXT; if not and "
                     f"it should (offline), kiosk queue retry {row.id}")
    return lines


def report_text(sections: dict[str, list[Transaction]]) -> str:
    out: list[str] = []
    staff, info = sections["needs staff"], sections["for information"]
    out.append(f"Transactions that need staff: {len(staff)}")
    for row in staff:
        out.extend(_describe(row))
    out.append("")
    out.append(f"Replayed differently from what the patron was told (last {NOTES_DAYS} days): {len(info)}")
    for row in info:
        out.extend(_describe(row))
    return "\n".join(out) + "\n"


def report_csv(sections: dict[str, list[Transaction]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for section, rows in sections.items():
        for row in rows:
            values = {
                "section": section, "id": row.id, "state": row.state.value, "kind": row.kind.value,
                "mode": row.mode.value, "transaction_date": row.transaction_date.isoformat(),
                "patron_id": row.patron_id or "", "item_id": row.item_id, "title": row.title or "",
                "reason": row.reason or "", "note": row.note or "",
                "nb_due_date": row.nb_due_date.isoformat() if row.nb_due_date else "",
                "return_date": row.return_date.isoformat() if row.return_date else "",
                "ils_due_date": row.ils_due_date or "", "attempts": row.attempts,
                "resolved_by": row.resolved_by or "", "updated_at": row.updated_at.isoformat(),
            }
            writer.writerow([values[c] for c in CSV_COLUMNS])
    return buffer.getvalue()
