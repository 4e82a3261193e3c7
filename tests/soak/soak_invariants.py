"""What a simulated day must hold, judged from the simulated ILS's ledger, the printed receipts and
the two journals, against what the day recorded the patrons were shown.

* **Told means applied, exactly once.** A book a screen showed as confirmed (done, or recorded
  offline), or a receipt listed with a due date, has exactly one applied checkout in the ledger for
  that patron. Attribution is by item: an item is with one patron at a time, and the driver takes a
  book from the shelf only when the ILS has it available and no journal holds a transaction for it,
  so every applied checkout belongs to the last attempt on that item that began before it.
* **Nothing else is applied.** Every applied checkout belongs to an attempt by the same patron; none
  is applied twice (a resend would show as a second row, or as a renewal); no renewal at all (nobody
  asked for one). An applied checkout nobody was told about is only possible when the kiosk died
  between the ILS's answer and the screen: it must then be an interrupted attempt, and the journal
  must hold it as applied (it is counted and listed, not hidden).
* **The journal tells the truth.** Per item, the ledger's applied checkouts are the self-check
  journal's confirmed and replayed checkouts, and its checkins the returns journal's; nothing is
  left queued or in flight at the end of the day.
* **Not for loan means not lent.** A reference copy's tag says "not for circulation": online the
  ILS refuses it, and offline the kiosk must too (the replay's "no block" would make it a loan). No
  reference copy is ever shown lent or applied; in a session while the ILS is down its row says it is
  for use in the library only, and the self-check journal holds no offline checkout of it.
* **Returns.** Every book dropped while on loan is checked in exactly once, or waits for staff in
  the returns journal.
* **Security.** No book shown "done" left the pad with its alarm on; no book that was not lent left
  it with its alarm off.
* **No leaks.** A receipt lists only its own session's books and its own patron's card (the screen
  is checked live by the driver).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kiosk.ils.offline import LIBRARY_USE_ONLY
from kiosk.sync.journal import Journal, Kind, Mode, State, Transaction

APPLIED = {State.CONFIRMED, State.REPLAYED}
#: A listed book: its title, or its barcode when the kiosk had no title for it (recorded offline).
TITLE_LINE = re.compile(r"Day (?:Title \d{5}|Reference \d{3})|3\d{13}")
CARD = re.compile(r"Card: \*+(\S{4})")
#: Row states of a book still being worked on (the patron gave up, or the kiosk died, before they settled).
UNSETTLED = {"", "asking", "securing", "waiting", "put back"}


def parse_receipt(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The card's last four characters, and each listed title with the line after it."""
    lines = text.splitlines()
    card = next((m.group(1) for line in lines if (m := CARD.search(line))), "")
    listed = [(line.strip(), lines[n + 1].strip() if n + 1 < len(lines) else "")
              for n, line in enumerate(lines) if TITLE_LINE.fullmatch(line.strip())]
    return card, listed


def journal_rows(path: Path) -> list[Transaction]:
    if not path.exists():
        return []
    with Journal.open(path) as journal:
        return journal.transactions()


def journal_bytes(path: Path) -> dict[str, int]:
    """The journal's database file and its write-ahead log, as they lie on disk."""
    sizes = {"db": path, "wal": Path(f"{path}-wal"), "shm": Path(f"{path}-shm")}
    return {name: p.stat().st_size if p.exists() else 0 for name, p in sizes.items()}


def judge(*, ledger: Sequence[Any], attempts: Sequence[Any], drops: Sequence[Any], sessions: Sequence[Any],
          receipts: Sequence[str], titles: dict[str, str], initially_on_loan: Iterable[str],
          selfcheck_journal: Path, returns_journal: Path) -> tuple[list[str], list[str], dict[str, Any]]:
    """(violations, findings, figures) of one day."""
    violations: list[str] = []
    findings: list[str] = []
    figures: dict[str, Any] = {}
    selfcheck = journal_rows(selfcheck_journal)
    returns = journal_rows(returns_journal)
    item_of_title = {title: item for item, title in titles.items()}

    _receipts(receipts, sessions, attempts, item_of_title, violations, figures)
    lent = _checkouts(ledger, attempts, selfcheck, violations, findings, figures)
    _reference_copies(attempts, sessions, selfcheck, violations, figures)
    _checkins(ledger, drops, returns, set(initially_on_loan), violations, findings, figures)
    _journals(ledger, selfcheck, returns, violations, findings, figures)
    _security(attempts, drops, lent, violations, findings, figures)
    figures["journal_bytes"] = {"selfcheck": journal_bytes(selfcheck_journal),
                                "returns": journal_bytes(returns_journal)}
    figures["journal_rows"] = {"selfcheck": len(selfcheck), "returns": len(returns)}
    figures["journal_states"] = {"selfcheck": dict(Counter(t.state.value for t in selfcheck)),
                                 "returns": dict(Counter(t.state.value for t in returns))}
    unmasked = [t for t in [*selfcheck, *returns] if t.settled and t.patron_id and not t.purged_at]
    figures["settled_rows_with_patron_id_after_retention"] = len(unmasked)
    if unmasked:
        violations.append(f"{len(unmasked)} settled journal rows still hold a patron id after retention 0 days")
    return violations, findings, figures


def _receipts(receipts: Sequence[str], sessions: Sequence[Any], attempts: Sequence[Any],
              item_of_title: dict[str, str], violations: list[str], figures: dict[str, Any]) -> None:
    by_session: dict[int, list[Any]] = defaultdict(list)
    for attempt in attempts:
        by_session[attempt.session].append(attempt)
    printed = [s for s in sessions if s.printed]
    matched: set[int] = set()
    for n, text in enumerate(receipts):
        card, listed = parse_receipt(text)
        items = [item_of_title.get(title, title) for title, _ in listed]
        candidates = [s for s in printed if s.index not in matched and s.patron.id.endswith(card)
                      and set(items) <= set(s.books)]
        if not candidates:
            violations.append(f"receipt {n} (card ...{card}, {[t for t, _ in listed]}) matches no session that "
                              f"printed: it lists another session's books or another patron's card")
            continue
        session = candidates[0]
        matched.add(session.index)
        mine = {a.item: a for a in by_session[session.index]}
        for (_title, detail), item in zip(listed, items, strict=True):
            if "due" in detail:
                mine[item].on_receipt = True
        for attempt in mine.values():
            if attempt.shown == "done" and not attempt.on_receipt:
                violations.append(f"session {session.index}: {attempt.item} was shown done but is not on its receipt")
    for session in printed:
        if session.index not in matched:
            violations.append(f"session {session.index} printed, but no receipt on the paper is its own")
    figures["receipts"] = len(receipts)


def _checkouts(ledger: Sequence[Any], attempts: Sequence[Any], journal: Sequence[Transaction],
               violations: list[str], findings: list[str], figures: dict[str, Any]) -> set[int]:
    """Judge the checkouts; the ``id()`` of every attempt the ILS applied a checkout for."""
    by_item: dict[str, list[Any]] = defaultdict(list)
    for attempt in attempts:
        by_item[attempt.item].append(attempt)
    applied_to: dict[int, list[Any]] = defaultdict(list)  # id(attempt) -> its ledger rows
    for entry in ledger:
        if entry.message == "29" or (entry.message == "11" and entry.applied and entry.outcome != "checked_out"):
            violations.append(f"ledger {entry.seq}: {entry.message} {entry.outcome} of {entry.item} for "
                              f"{entry.patron}: nobody asked for a renewal (a checkout sent twice?)")
            continue
        if entry.message != "11" or not entry.applied:
            continue
        earlier = [a for a in by_item.get(entry.item, []) if a.pick_seq < entry.seq]
        if not earlier:
            violations.append(f"ledger {entry.seq}: checkout of {entry.item} for {entry.patron} that no patron made")
            continue
        attempt = earlier[-1]
        if attempt.patron != entry.patron:
            violations.append(f"ledger {entry.seq}: checkout of {entry.item} for {entry.patron}, but the book was "
                              f"with {attempt.patron} (session {attempt.session})")
            continue
        applied_to[id(attempt)].append(entry)
    confirmed_in_journal = Counter(t.item_id for t in journal if t.kind is Kind.CHECKOUT and t.state in APPLIED)
    told = Counter()
    untold_applied = 0
    for attempt in attempts:
        rows = applied_to.get(id(attempt), [])
        was_told = bool(attempt.told) or attempt.on_receipt
        if was_told:
            told["offline" if attempt.told == "offline" else "online"] += 1
        if len(rows) > 1:
            violations.append(f"session {attempt.session}: {attempt.item} applied {len(rows)} times "
                              f"(ledger {[r.seq for r in rows]})")
        elif was_told and not rows:
            violations.append(f"session {attempt.session}: {attempt.item} was told {attempt.told or 'on the receipt'}"
                              f" (shown {attempt.shown or '-'}) but never applied")
        elif rows and not was_told:
            untold_applied += 1
            if not attempt.interrupted:
                violations.append(f"session {attempt.session}: {attempt.item} applied (ledger {rows[0].seq}) but the "
                                  f"patron was never told (shown {attempt.shown or '-'})")
            elif not confirmed_in_journal[attempt.item]:
                violations.append(f"session {attempt.session}: {attempt.item} applied while the kiosk died, and the "
                                  f"journal does not know")
            else:
                findings.append(f"session {attempt.session}: {attempt.item} applied as the kiosk was killed, before "
                                f"the screen said so (the journal has it as applied)")
        if attempt.reference and rows and attempt.told != "offline":  # told offline: _reference_copies
            violations.append(f"session {attempt.session}: reference copy {attempt.item} was lent online")
    figures["told"] = dict(told)
    figures["applied_not_told_when_killed"] = untold_applied
    figures["attempts"] = len(attempts)
    return {key for key, rows in applied_to.items() if rows}


def _reference_copies(attempts: Sequence[Any], sessions: Sequence[Any], journal: Sequence[Transaction],
                      violations: list[str], figures: dict[str, Any]) -> None:
    """Offline the kiosk refuses a reference copy on its tag's word, says why, and queues nothing."""
    offline = {s.index for s in sessions if "ils down" in s.faults}
    references = {a.item for a in attempts if a.reference}
    refused_offline = 0
    for attempt in attempts:
        if not attempt.reference:
            continue
        where = f"session {attempt.session}: reference copy {attempt.item}"
        if attempt.told == "offline":
            violations.append(f"{where} was lent offline, though its tag says it is not for circulation")
        elif attempt.session in offline and not attempt.interrupted and attempt.shown not in UNSETTLED:
            if attempt.shown == "refused" and attempt.message == LIBRARY_USE_ONLY:
                refused_offline += 1
            else:
                violations.append(f"{where}, the ILS down: shown {attempt.shown} ({attempt.message}), not "
                                  f"refused as for use in the library only")
    for t in journal:
        if t.kind is Kind.CHECKOUT and t.mode is Mode.OFFLINE and t.item_id in references:
            violations.append(f"self-check journal row {t.id}: an offline checkout of reference copy {t.item_id} "
                              f"({t.state})")
    figures["reference_copies_refused_offline"] = refused_offline


def _checkins(ledger: Sequence[Any], drops: Sequence[Any], journal: Sequence[Transaction],
              initially_on_loan: set[str], violations: list[str], findings: list[str],
              figures: dict[str, Any]) -> None:
    by_item: dict[str, list[Any]] = defaultdict(list)
    for drop in drops:
        by_item[drop.item].append(drop)
    checked_in: dict[int, list[Any]] = defaultdict(list)
    for entry in ledger:
        if entry.message != "09" or entry.outcome != "checked_in":
            continue
        earlier = [d for d in by_item.get(entry.item, []) if d.pick_seq < entry.seq]
        if not earlier:
            violations.append(f"ledger {entry.seq}: checkin of {entry.item} that nobody dropped")
            continue
        checked_in[id(earlier[-1])].append(entry)
    waiting_for_staff = {t.item_id for t in journal if t.kind is Kind.CHECKIN and t.needs_staff}
    not_checked_in = 0
    for drop in drops:
        rows = checked_in.get(id(drop), [])
        if len(rows) > 1:
            violations.append(f"drop {drop.index}: {drop.item} checked in {len(rows)} times")
        elif not rows:
            not_checked_in += 1
            if drop.item in waiting_for_staff:
                findings.append(f"drop {drop.index}: {drop.item} waits for staff in the returns journal")
            else:
                violations.append(f"drop {drop.index}: {drop.item} was dropped while on loan and never checked in")
    figures["drops_not_checked_in"] = not_checked_in


def _journals(ledger: Sequence[Any], selfcheck: Sequence[Transaction], returns: Sequence[Transaction],
              violations: list[str], findings: list[str], figures: dict[str, Any]) -> None:
    ledger_checkouts = Counter(e.item for e in ledger if e.message == "11" and e.applied and e.outcome == "checked_out")
    ledger_checkins = Counter(e.item for e in ledger if e.message == "09" and e.outcome == "checked_in")
    journal_checkouts = Counter(t.item_id for t in selfcheck if t.kind is Kind.CHECKOUT and t.state in APPLIED)
    journal_checkins = Counter(t.item_id for t in returns if t.kind is Kind.CHECKIN and t.state in APPLIED)
    for what, ours, theirs in (("checkouts", journal_checkouts, ledger_checkouts),
                               ("checkins", journal_checkins, ledger_checkins)):
        if ours != theirs:
            differ = {i: (ours[i], theirs[i]) for i in set(ours) | set(theirs) if ours[i] != theirs[i]}
            violations.append(f"the journal's applied {what} differ from the ledger's (journal, ledger): {differ}")
    for name, rows, kind in (("self-check", selfcheck, Kind.CHECKOUT), ("returns", returns, Kind.CHECKIN)):
        unsettled = [t for t in rows if t.state in (State.QUEUED, State.SENDING)]
        if unsettled:
            violations.append(f"the {name} journal still has {len(unsettled)} transactions queued or in flight")
        strangers = [t for t in rows if t.kind is not kind]
        if strangers:
            violations.append(f"the {name} journal holds {len(strangers)} {strangers[0].kind} rows nobody asked for")
        for t in rows:
            if t.needs_staff:
                findings.append(f"{name} journal row {t.id}: {t.kind} {t.item_id} {t.state} for staff: {t.reason}")
        figures[f"{name}_resolved_after_a_death"] = sum(1 for t in rows if t.resolved_by)


def _security(attempts: Sequence[Any], drops: Sequence[Any], lent: set[int], violations: list[str],
              findings: list[str], figures: dict[str, Any]) -> None:
    """Done means the alarm is off; the alarm goes off only for a loan the ILS applied (a kill may
    fall between the two and the screen, so "not told" alone is no violation)."""
    for attempt in attempts:
        if attempt.shown == "done" and attempt.security_on_at_lift:
            violations.append(f"session {attempt.session}: {attempt.item} shown done with its alarm still on")
        if attempt.security_on_at_lift is False and id(attempt) not in lent:
            violations.append(f"session {attempt.session}: {attempt.item} left the pad with its alarm off, "
                              f"but the ILS never lent it")
    unsecured = [d for d in drops if d.secured is False]
    figures["drops_left_chute_unsecured"] = len(unsecured)
    for drop in unsecured:
        findings.append(f"drop {drop.index}: {drop.item} left the chute after {drop.seconds:.1f} s with its alarm off")
