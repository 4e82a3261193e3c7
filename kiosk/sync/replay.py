"""Forwarding offline transactions to the ILS, exactly once, in the order they happened.

``kiosk sync`` (its own process) runs :func:`run`: it settles whatever it left in flight, then
replays the queue FIFO with no block = Y, the original transaction date and the nb due date /
return date the patron was given, and records each answer. Rejected replays wait for staff.

Exactly once, with a kill possible at any instant, rests on one order of events:

1. a batch of queued transactions is marked ``sending`` in one durable write (the claim), and only
   then are their requests sent;
2. answers are recorded in one durable write per batch (or per ``flush_seconds``);
3. on start, and after any lost answer, every ``sending`` transaction is settled by asking the ILS
   (:mod:`kiosk.sync.resolve`) before anything else is sent: applied -> ``replayed``, not applied
   -> back to the queue in its place, undecidable -> ``unknown`` for staff.

A crash between 1 and 3 costs a question to the ILS per transaction in flight, never a resend. A
batch holds at most one transaction per item, so each item's state at the ILS speaks for exactly
one transaction. Marking a batch with one fsync instead of one per transaction is what makes the
replay rate independent of the disk (reference figures: bench/journal.py).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from kiosk.ils.answers import CHARGED_STATUSES
from kiosk.sync.journal import Answer, Journal, JournalError, Kind, ReplayOutcome, Transaction
from kiosk.sync.owner_lock import OwnerLock
from kiosk.sync.resolve import pre_image, resolve
from sip2.dialects import Dialect
from sip2.errors import LoginFailed, OutcomeUnknown, SIP2ConnectionError, SIP2EncodeError, SIP2Error
from sip2.fields import decode_date
from sip2.messages import CheckinResponse, CheckoutResponse, RenewResponse

if TYPE_CHECKING:
    from sip2.client import SIP2Client

log = logging.getLogger("kiosk.sync")

#: The owner role ``kiosk sync`` writes on the transactions it sends (and its lock's name).
SYNC_OWNER = "sync"

#: ``hook(point, transaction)``: called at each step boundary, for tests that crash the replay there.
#: Points: "claimed", "answered", "recorded", "lost", "resolved".
Hook = Callable[[str, Transaction], None]


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    owner: str = SYNC_OWNER
    batch: int = 32
    flush_seconds: float = 1.0
    lost_answer_wait: float = 5.0


@dataclass
class ReplayStats:
    replayed: int = 0
    rejected: int = 0
    settled: int = 0  # in-flight transactions whose outcome was found out by asking the ILS
    unknown: int = 0
    requeued: int = 0  # in-flight transactions the ILS proved not applied, back in the queue
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        return (f"replayed {self.replayed}, rejected {self.rejected}, settled in flight {self.settled} "
                f"({self.requeued} sent again, {self.unknown} unknown)")


def _screen_text(messages: tuple[str, ...]) -> str | None:
    return "; ".join(m.strip() for m in messages if m.strip()) or None


def _date_or_none(text: str | None) -> datetime | None:
    try:
        return decode_date(text) if text and text.strip() else None
    except ValueError:
        return None  # free-text due dates exist (reference §1.2): nothing to compare


class Replayer:
    """Replays one journal's queue through one SIP2 client. Not thread-safe: one replayer per process."""

    def __init__(
        self,
        journal: Journal,
        client: SIP2Client,
        dialect: Dialect,
        options: ReplayOptions | None = None,
        *,
        hook: Hook | None = None,
        stop: threading.Event | None = None,
        today: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.journal = journal
        self.client = client
        self.dialect = dialect
        self.options = options or ReplayOptions()
        self.stats = ReplayStats()
        self._hook = hook or (lambda point, transaction: None)
        self._stop = stop or threading.Event()
        self._today = today

    # -- settling what is in flight -------------------------------------------------------------

    def _pause_before_asking(self) -> bool:
        """Give a request the ILS may still be working on time to land; False if told to stop."""
        return not self._stop.wait(self.options.lost_answer_wait) if self.options.lost_answer_wait else True

    def _settle(self, transaction: Transaction) -> None:
        resolution = resolve(transaction, self.client)
        self._hook("resolved", transaction)
        self.journal.record_resolution(
            transaction.id, applied=resolution.applied, evidence=resolution.evidence,
            due_date=resolution.due_date, title=resolution.title,
        )
        self.stats.settled += 1
        if resolution.applied is None:
            self.stats.unknown += 1
            log.warning("transaction %d (%s of %s): outcome unknown, for staff: %s", transaction.id,
                        transaction.kind, transaction.item_id, resolution.evidence)
        elif resolution.applied:
            self.stats.replayed += 1
        else:
            self.stats.requeued += 1
        log.info("transaction %d in flight: %s (%s)", transaction.id, resolution.verdict, resolution.evidence)

    def settle_in_flight(self) -> int:
        """Settle every transaction this owner left ``sending``. Only safe while no other process
        of the same role runs, so the journal must own the role (:meth:`Journal.own`)."""
        if not self.journal.owns(self.options.owner):
            raise JournalError(f"journal {self.journal.path}: replaying as {self.options.owner!r} needs "
                               f"journal.own({self.options.owner!r}) first")
        rows = self.journal.in_flight(self.options.owner)
        if not rows or not self._pause_before_asking():
            return 0
        for row in rows:
            self._settle(row)
        return len(rows)

    def settle_orphans(self) -> int:
        """Settle transactions other owners left ``sending`` when they died (their lock is free)."""
        settled = 0
        for owner in sorted(self.journal.owners_in_flight() - {self.options.owner}):
            if not owner.isidentifier():
                log.warning("transactions in flight for owner %r: not a lock name, left for staff", owner)
                continue
            with OwnerLock(self.journal.path, owner).taken() as mine:
                if not mine:
                    continue  # alive: its requests may be on the wire right now
                rows = self.journal.in_flight(owner)
                if rows and self._pause_before_asking():
                    for row in rows:
                        self._settle(row)
                    settled += len(rows)
        return settled

    # -- replaying -------------------------------------------------------------------------------

    def _send(self, row: Transaction) -> Answer:
        client = self.client
        if row.kind is Kind.CHECKOUT:
            assert row.patron_id is not None
            loan: CheckoutResponse | RenewResponse = client.checkout(
                row.patron_id, row.item_id, no_block=True, transaction_date=row.transaction_date,
                nb_due_date=row.nb_due_date,
            )
            return self._loan_answer(row, loan)
        if row.kind is Kind.RENEW:
            assert row.patron_id is not None
            loan = client.renew(
                row.patron_id, row.item_id, no_block=True, transaction_date=row.transaction_date,
                nb_due_date=row.nb_due_date,
            )
            return self._loan_answer(row, loan)
        checkin = client.checkin(
            row.item_id, no_block=True, transaction_date=row.transaction_date,
            return_date=row.return_date or row.transaction_date,
        )
        return self._checkin_answer(row, checkin)

    def _loan_answer(self, row: Transaction, response: CheckoutResponse | RenewResponse) -> Answer:
        title = response.title.strip() or None
        if not response.ok:
            reason = _screen_text(response.screen_messages) or "refused by the ILS (no reason given)"
            return Answer(False, reason=reason, title=title)
        due = response.due_date.strip() or None
        notes = []
        if row.kind is Kind.CHECKOUT and response.renewal_ok:
            notes.append("the ILS treated it as a renewal: the patron already had the item")
        given, answered = row.nb_due_date, _date_or_none(due)
        if given is not None and answered is not None and answered.date() != given.date():
            told = given.date().isoformat()
            if self.dialect.honours_nb_due_date:
                notes.append(f"the ILS set due date {answered.date()} although it should honour the one the "
                             f"patron was told ({told})")
            else:
                notes.append(f"the ILS set its own due date {answered.date()}; the patron was told {told}")
        return Answer(True, due_date=due, title=title, note="; ".join(notes) or None)

    def _checkin_answer(self, row: Transaction, response: CheckinResponse) -> Answer:
        title = (response.title or "").strip() or None
        notes = []
        returned = row.return_date or row.transaction_date
        if self.dialect.honours_return_date is not True and returned.date() < self._today().date():
            notes.append(f"returned {returned.date()}; this ILS may count today instead (check overdue fines)")
        if response.ok:
            return Answer(True, title=title, note="; ".join(notes) or None)
        reason = _screen_text(response.screen_messages) or "refused by the ILS (no reason given)"
        # Many ILSs answer ok=0 for an item that was not on loan (reference §4 #10); the item is
        # checked in all the same. 17 (safe to ask) tells that apart from a real refusal.
        try:
            info = self.client.item_information(row.item_id)
        except SIP2Error as exc:
            return Answer(False, reason=f"{reason} (and 17 failed: {exc})", title=title)
        if info.title.strip() and info.circulation_status not in CHARGED_STATUSES:
            notes.insert(0, f"the ILS says the item was not on loan ({reason})")
            return Answer(True, title=title or info.title.strip(), note="; ".join(notes))
        return Answer(False, reason=reason, title=title)

    def replay_batch(self) -> int:
        """Claim, send and record one batch; return how many transactions it took (0: queue empty).

        Raises the client's connection errors when the ILS cannot be reached (the batch goes back
        to the queue untouched) or cannot be asked about a lost answer (it stays in flight).
        """
        head = self.journal.queue_head()
        if head is None:
            return 0
        pre: dict[int, str] = {}
        if head.kind is Kind.RENEW:
            try:
                pre[head.id] = pre_image(self.client, head.item_id)
            except SIP2EncodeError:
                pre[head.id] = ""  # the renewal cannot be sent either: it is rejected below
        rows = self.journal.claim(self.options.owner, self.options.batch, pre_images=pre)
        if not rows:
            return 0
        self._hook("claimed", rows[0])
        outcomes: list[ReplayOutcome] = []
        flushed = time.monotonic()
        for i, row in enumerate(rows):
            try:
                answer = self._send(row)
            except (SIP2ConnectionError, LoginFailed):
                # The request was never written (connect or login failed): the rest goes back as is.
                self._record(outcomes, release=[r.id for r in rows[i:]])
                raise
            except SIP2EncodeError as exc:
                # Refused before a byte left (a barcode the ILS's character set cannot carry): it
                # never will be sent, so it is for staff, and must not hold up the queue.
                answer = Answer(False, reason=f"cannot be sent to the ILS: {exc}")
            except (OutcomeUnknown, SIP2Error) as exc:
                log.warning("transaction %d (%s of %s): %s", row.id, row.kind, row.item_id, exc)
                self._hook("lost", row)
                self._record(outcomes, release=[r.id for r in rows[i + 1:]])
                if self._pause_before_asking():
                    self._settle(self.journal.get(row.id))
                return i + 1
            outcomes.append(ReplayOutcome(row.id, answer))
            self._hook("answered", row)
            if time.monotonic() - flushed >= self.options.flush_seconds:
                self._record(outcomes)
                outcomes, flushed = [], time.monotonic()
            if self._stop.is_set():
                self._record(outcomes, release=[r.id for r in rows[i + 1:]])
                return i + 1
        self._record(outcomes)
        self._hook("recorded", rows[-1])
        return len(rows)

    def _record(self, outcomes: list[ReplayOutcome], release: list[int] | None = None) -> None:
        self.journal.record_replays(outcomes, release=release or ())
        for outcome in outcomes:
            if outcome.answer.ok:
                self.stats.replayed += 1
            else:
                self.stats.rejected += 1
                log.warning("transaction %d rejected by the ILS: %s", outcome.id, outcome.answer.reason)

    def drain(self, between_batches: Callable[[], object] | None = None) -> ReplayStats:
        """Settle what is in flight, then replay until the queue is empty (or told to stop).
        ``between_batches`` runs after each batch (the systemd watchdog's feed: a long queue must
        not look like a hang)."""
        self.settle_in_flight()
        self.settle_orphans()
        while not self._stop.is_set() and self.replay_batch():
            if between_batches is not None:
                between_batches()
        return self.stats


@dataclass(frozen=True, slots=True)
class LoopTiming:
    retry_min: float = 1.0
    retry_max: float = 60.0
    poll: float = 2.0
    purge_every: float = 3600.0


#: ``wait(stop, seconds) -> stopped``: how the loop sleeps; the systemd watchdog's ``wait`` keeps
#: pinging through a back-off of a minute.
Wait = Callable[[threading.Event, float], bool]


def _plain_wait(stop: threading.Event, seconds: float) -> bool:
    return stop.wait(seconds)


def run(
    replayer: Replayer,
    *,
    once: bool,
    stop: threading.Event,
    retention_days: int,
    timing: LoopTiming | None = None,
    alive: Callable[[], object] | None = None,
    wait: Wait = _plain_wait,
) -> int:
    """The ``kiosk sync`` loop: drain, wait for new work, back off while the ILS is unreachable.

    With ``once``: one drain; 0 when the queue is empty, 1 when the ILS (or the journal) failed.
    ``alive`` is called every round and between batches, ``wait`` does the sleeping: both are for
    the systemd watchdog (:class:`kiosk.ops.watchdog.Watchdog` ``feed`` and ``wait``).
    """
    timing = timing or LoopTiming()
    journal, client = replayer.journal, replayer.client
    backoff = timing.retry_min
    last_purge = float("-inf")
    while not stop.is_set():
        if alive is not None:
            alive()
        try:
            if time.monotonic() - last_purge >= timing.purge_every:
                purged = journal.purge(retention_days)
                last_purge = time.monotonic()
                if purged:
                    log.info("masked the patron ids of %d settled transactions", purged)
            if not client.connected:
                client.connect()
            replayer.drain(alive)
        except (SIP2Error, JournalError) as exc:
            if once:
                log.error("kiosk sync stopped: %s", exc)
                return 1
            pause = backoff * random.uniform(0.8, 1.2)
            log.warning("kiosk sync: %s; trying again in %.1f s", exc, pause)
            wait(stop, pause)
            backoff = min(backoff * 2, timing.retry_max)
            continue
        backoff = timing.retry_min
        if once:
            return 0
        wait(stop, timing.poll)
    return 0
