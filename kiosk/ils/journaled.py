"""The gateway the kiosk runs on: every transaction journaled, the offline policy when the ILS is away.

:class:`JournaledGateway` wraps :class:`~kiosk.ils.gateway.SipGateway` (which talks SIP2 and settles
a lost answer itself) with the journal (:mod:`kiosk.sync.journal`) and the offline policy
(:mod:`kiosk.ils.offline`). For each checkout, checkin and renewal:

1. While the journal holds unsent offline transactions, or the ILS is known to be away and no probe
   is due, the transaction is handled offline straight away: accepted by the policy it is queued
   (``queue_offline``) and answered ``offline=True``; refused, it is answered with a message id.
   Queuing behind the backlog is what lets the ILS see transactions in the order they happened.
2. Otherwise its intent is written (``begin_online``, state ``sending``) before the request goes
   out, and its outcome after: confirmed, refused, or, when the ILS turned out to be unreachable (the
   request never left), taken over by the policy (``queue_instead``) or failed.

A crash between 1 and the outcome leaves the row ``sending`` under the owner ``kiosk``: :meth:`open`
(and ``kiosk sync``, for a dead kiosk) settles such rows by asking the ILS (``kiosk.sync.resolve``).
An answer lost while the kiosk lives, which the online gateway could not settle at once (the ILS went
away before it could be asked), is left ``sending`` the same way and settled by asking the ILS as soon
as it can be asked (:meth:`heartbeat`): ``unknown`` (staff) is written only when the ILS was asked and
its answers do not say, as the journal defines it — not because the line was down for a moment.

Patron lookups are not journaled (they change nothing); offline, the policy builds the account
(``offline=True``, no PIN checked). An offline checkout of an item whose tag says it is not for loan
(``CheckOut.tag_usages``, the ``[offline] refuse_usage_types``) is refused and queues nothing.
Renewals and renew-all are refused offline; a renewal sent online journals the due date read just
before (``pre_image``) so a lost answer can be settled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from kiosk.circulation.commands import CheckIn, CheckOut, EndPatronSession, LookUpPatron, Renew, RenewAll
from kiosk.circulation.events import (
    IlsFailed,
    IlsHealth,
    LoanAnswered,
    PatronLookedUp,
    RenewAllAnswered,
    ReturnAnswered,
    SessionEnded,
)
from kiosk.circulation.model import Failure, FailureKind, LoanAnswer, RenewAllAnswer, ReturnAnswer
from kiosk.ils import connection
from kiosk.ils.gateway import SipGateway
from kiosk.ils.offline import NO_RENEWALS, Decision, OfflinePolicy, Reachability
from kiosk.sync.journal import Answer, Journal, JournalError, Kind, Transaction
from kiosk.sync.resolve import Verdict, pre_image, settle
from sip2.errors import SIP2Error

if TYPE_CHECKING:
    from kiosk.config import OfflineSettings, Settings
    from sip2.client import SIP2Pool

#: How long a checkout whose answer was lost keeps asking the ILS while the patron waits at the pad.
SETTLE_RETRY_SECONDS = 3.0

log = logging.getLogger("kiosk.ils")

#: The owner role the kiosk process sends its online transactions under (kiosk.sync.owner_lock).
KIOSK_OWNER = "kiosk"
#: Said with a refused renew-all (RenewAllAnswer carries the ILS's words, not message ids).
RENEW_ALL_OFFLINE = "Renewals are not possible while the library system is offline."


def _due_text(due: datetime) -> str:
    return due.date().isoformat()


class JournaledGateway:
    """An :class:`~kiosk.ils.gateway.IlsGateway`: SIP2 with the journal and the offline policy.

    ``now`` gives the local (naive) time written as the transaction date; ``clock`` drives the probe
    back-off. The journal must be owned as ``owner`` before the first transaction (:meth:`open`
    takes it); if another live process holds it, online transactions are refused as unreachable.

    ``idle_probe_seconds``: while online, :meth:`heartbeat` asks the ILS (99) this often, so one
    that went away between patrons is noticed (0: never).

    ``lost_answer_wait`` is how long :meth:`open` waits, once, before asking the ILS about rows a
    crash left in flight: a request the dead process sent may still be on its way or being worked
    on, and asking before it lands would find it "not applied" and then see it applied. ``sleep``
    is that wait (injected by tests).
    """

    def __init__(
        self,
        pool: SIP2Pool,
        journal: Journal,
        settings: OfflineSettings,
        *,
        owner: str = KIOSK_OWNER,
        online: SipGateway | None = None,
        now: Callable[[], datetime] = datetime.now,
        reachability: Reachability | None = None,
        lost_answer_wait: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        closes_journal: bool = False,
        idle_probe_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        settle_retry_seconds: float = SETTLE_RETRY_SECONDS,
    ) -> None:
        if lost_answer_wait < 0:
            raise ValueError("lost_answer_wait must be >= 0")
        self._pool = pool
        self._online = online or SipGateway(pool)
        self._journal = journal
        self.policy = OfflinePolicy(settings)
        self.reachability = reachability or Reachability(
            probe_min=settings.probe_min_seconds, probe_max=settings.probe_max_seconds
        )
        self._owner = owner
        self._now = now
        self._lock = threading.Lock()
        self._offline_checkouts: dict[str, int] = {}  # patron id -> this session's; wiped at its end
        self._lost_answer_wait = lost_answer_wait
        self._sleep = sleep
        self._waited = False  # the wait before settling is owed once per process, not per attempt
        # Rows no thread of this process is sending any more, to be settled by asking the ILS: left in
        # flight by a dead process (found at open()), or answers lost and not settled at once.
        self._orphans: set[int] = set()
        self._orphans_lock = threading.Lock()  # worker threads add lost answers; the watch settles them
        self._closes_journal = closes_journal
        self._idle_probe_seconds = idle_probe_seconds
        self._clock = clock
        self._last_probe = clock()
        self._settle_retry_seconds = settle_retry_seconds

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        now: Callable[[], datetime] = datetime.now,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> JournaledGateway:
        """The gateway a kiosk runs on, from its settings: SIP2 over the ``[sip2]`` pool, the journal
        at ``[journal] path``, the ``[offline]`` policy and probe back-off. It closes the journal it
        opened in :meth:`close`. Raises :class:`~kiosk.sync.journal.JournalError` if the journal
        cannot be opened (the kiosk cannot run transactions it cannot record)."""
        journal = Journal.open(settings.journal.path, busy_timeout=settings.journal.busy_timeout_seconds)
        offline = settings.offline
        reachability = Reachability(probe_min=offline.probe_min_seconds, probe_max=offline.probe_max_seconds,
                                    clock=clock)
        return cls(connection.pool(settings), journal, offline, now=now, reachability=reachability,
                   lost_answer_wait=settings.journal.lost_answer_wait_seconds, sleep=sleep,
                   closes_journal=True, idle_probe_seconds=offline.idle_probe_seconds, clock=clock)

    @property
    def journal(self) -> Journal:
        """The journal this gateway writes to (the kiosk's ILS watch reports its offline queue)."""
        return self._journal

    # -- the IlsGateway protocol ------------------------------------------------------------------

    @property
    def sessions(self) -> int:
        return self._online.sessions

    def open(self) -> None:
        """Own the journal, connect, and settle what a crash of this kiosk left in flight.

        The rows in flight are noted before anything is sent, so only a dead process's rows are ever
        settled (never one a worker thread of this process is sending); if the ILS cannot be asked
        now, :meth:`heartbeat` settles them when it is back."""
        if not self._journal.own(self._owner):
            log.error("journal %s: another kiosk process owns it; online transactions are refused",
                      self._journal.path)
        elif not self._orphans:
            try:
                found = {row.id for row in self._journal.in_flight(self._owner)}
                with self._orphans_lock:
                    self._orphans |= found
            except JournalError as exc:
                log.error("journal: %s", exc)
        self._online.open()
        if not self._online.health().connected:
            self.reachability.failed(self._online.health().last_error)
            return
        self.settle_in_flight()

    def settle_in_flight(self) -> int:
        """Ask the ILS about the transactions a crash left ``sending`` (found at :meth:`open`) or whose
        answers were lost, after waiting ``lost_answer_wait`` once; how many settled. Those it cannot
        settle yet stay noted."""
        with self._orphans_lock:
            wanted = set(self._orphans)
        if not self._journal.owns(self._owner) or not wanted:
            return 0
        try:
            rows = [row for row in self._journal.in_flight(self._owner) if row.id in wanted]
        except JournalError as exc:
            log.warning("could not read transactions in flight: %s", exc)
            return 0
        with self._orphans_lock:  # settled by another route meanwhile: forgotten
            self._orphans -= wanted - {row.id for row in rows}
        if not rows:
            return 0
        if not self._waited:
            if self._lost_answer_wait:
                log.info("%d transaction(s) in flight at start: waiting %.1f s before asking the ILS",
                         len(rows), self._lost_answer_wait)
                self._sleep(self._lost_answer_wait)
            self._waited = True
        settled = 0
        try:
            with self._pool.client() as client:
                for row in rows:
                    _, resolution = settle(self._journal, row, client)
                    log.info("transaction %d left in flight: %s (%s)", row.id, resolution.verdict,
                             resolution.evidence)
                    with self._orphans_lock:
                        self._orphans.discard(row.id)
                    settled += 1
        except SIP2Error as exc:
            log.warning("could not settle transactions in flight: %s", exc)
            self._report(False, str(exc))  # asked again when a probe finds the ILS back
        except JournalError as exc:
            log.warning("could not settle transactions in flight: %s", exc)
        return settled

    def _lost(self, tx: Transaction, answer: IlsFailed) -> None:
        """An answer lost that the online gateway could not settle: the row stays ``sending`` and is
        settled by asking the ILS when it can be (:meth:`heartbeat`), or at the next start."""
        log.warning("transaction %d: %s; asking the ILS again when it can be asked", tx.id, answer.failure.detail)
        with self._orphans_lock:
            self._orphans.add(tx.id)

    def health(self) -> IlsHealth:
        health = self._online.health()
        if self.reachability.online:
            return health
        return IlsHealth(False, health.latency_ms, f"offline: {self.reachability.last_error}".rstrip(": "))

    def close(self) -> None:
        self._online.close()
        if self._closes_journal:
            self._journal.close()

    def heartbeat(self) -> bool:
        """Probe the ILS if a probe is due (call it on a timer); True when it is reachable. Reachable,
        it settles the transactions whose answers were lost (if any wait)."""
        if self.reachability.online:
            if self._orphans:
                self.settle_in_flight()
            elif self._idle_probe_due():
                health = self._online.probe()
                self._report(health.connected, health.last_error)
            return self.reachability.online
        if not self.reachability.should_try():
            return False
        self._online.open()
        health = self._online.health()
        self._report(health.connected, health.last_error)
        if health.connected:
            self.settle_in_flight()
        return health.connected

    def _idle_probe_due(self) -> bool:
        """Online, an ILS that went away is only noticed by the next exchange: ask it now and then
        (``idle_probe_seconds``; 0 = never), so the kiosk shows it before a patron finds out."""
        if not self._idle_probe_seconds:
            return False
        now = self._clock()
        if now - self._last_probe < self._idle_probe_seconds:
            return False
        self._last_probe = now
        return True

    # -- reachability -----------------------------------------------------------------------------

    def _report(self, reached: bool, error: str = "") -> None:
        if reached:
            if not self.reachability.online:
                log.info("the ILS is reachable again")
            self.reachability.succeeded()
        else:
            if self.reachability.online:
                log.warning("the ILS is unreachable, working offline: %s", error)
            self.reachability.failed(error)

    def _unreachable(self, answer: object) -> bool:
        failed = isinstance(answer, IlsFailed) and answer.failure.kind is FailureKind.UNREACHABLE
        self._report(not failed, answer.failure.detail if isinstance(answer, IlsFailed) else "")
        return failed

    def _goes_offline(self) -> bool:
        """Queue behind unsent offline transactions, or skip a line known to be dead."""
        try:
            if self._journal.backlog():
                return True
        except JournalError as exc:
            log.error("journal: %s", exc)
        return not self.reachability.should_try()

    def _fail(self, transaction_id: int, reason: str) -> None:
        try:
            self._journal.fail(transaction_id, reason)
        except JournalError as exc:  # left "sending": settled by asking the ILS at the next start
            log.error("journal: cannot record transaction %d as failed: %s", transaction_id, exc)

    # -- patrons ----------------------------------------------------------------------------------

    def look_up_patron(self, command: LookUpPatron) -> PatronLookedUp | IlsFailed:
        if self.reachability.should_try():
            answer = self._online.look_up_patron(command)
            if not self._unreachable(answer):
                return answer
            detail = answer.failure.detail if isinstance(answer, IlsFailed) else ""
        else:
            detail = "offline"
        account = self.policy.patron(command.patron_id)
        if account is None:
            return IlsFailed(command.ref, Failure(FailureKind.UNREACHABLE, detail))
        return PatronLookedUp(command.ref, account)

    def end_patron_session(self, command: EndPatronSession) -> SessionEnded:
        with self._lock:
            self._offline_checkouts.pop(command.patron_id, None)
        if not self.reachability.online:
            return SessionEnded(command.ref)  # nothing to end at an ILS that never saw the patron
        return self._online.end_patron_session(command)

    # -- checkouts --------------------------------------------------------------------------------

    def _offline_checkout_decision(self, command: CheckOut, now: datetime) -> Decision:
        with self._lock:
            done = self._offline_checkouts.get(command.patron_id, 0)
            decision = self.policy.checkout(command.patron_id, done_this_session=done, now=now,
                                            tag_usages=command.tag_usages)
            if decision.accepted:
                self._offline_checkouts[command.patron_id] = done + 1
        return decision

    def _undo_count(self, patron_id: str) -> None:
        with self._lock:
            if self._offline_checkouts.get(patron_id):
                self._offline_checkouts[patron_id] -= 1

    def check_out(self, command: CheckOut) -> LoanAnswered | IlsFailed:
        now = self._now()
        if self._goes_offline():
            return self._checkout_offline(command, now)
        try:
            tx = self._journal.begin_online(Kind.CHECKOUT, patron_id=command.patron_id, item_id=command.item_id,
                                            transaction_date=now, owner=self._owner, session_ref=command.ref)
        except (JournalError, ValueError) as exc:
            return IlsFailed(command.ref, Failure(FailureKind.UNREACHABLE, f"journal: {exc}"))
        answer = self._online.check_out(command)
        if self._unreachable(answer):
            decision = self._offline_checkout_decision(command, now)
            if decision.accepted and decision.due is not None:
                try:
                    self._journal.queue_instead(tx.id, nb_due_date=decision.due)
                except JournalError as exc:
                    self._undo_count(command.patron_id)
                    return IlsFailed(command.ref, Failure(FailureKind.UNREACHABLE, f"journal: {exc}"))
                return LoanAnswered(command.ref, LoanAnswer(command.item_id, ok=True, due=_due_text(decision.due),
                                                            offline=True))
            self._fail(tx.id, "the ILS was unreachable; not taken offline")
            return LoanAnswered(command.ref, LoanAnswer(command.item_id, ok=False, offline=True,
                                                        message_id=decision.message_id))
        if isinstance(answer, IlsFailed) and answer.failure.kind is FailureKind.OUTCOME_UNKNOWN:
            return self._checkout_settled_while_waiting(tx, command, answer)
        self._record_loan(tx, answer)
        return answer

    def _checkout_settled_while_waiting(
        self, tx: Transaction, command: CheckOut, lost: IlsFailed
    ) -> LoanAnswered | IlsFailed:
        """A checkout whose answer was lost and which the online gateway could not settle at once (the
        line failed again while it asked): ask the ILS again for a few seconds while the patron still
        waits at the pad, so they hear "lent" rather than "see staff" for a loan the ILS made a second
        ago (the simulated day found two). Proven not applied: the patron may try again. Still
        undecided, or the ILS still cannot be asked: staff, as before, and the row stays in flight
        for :meth:`heartbeat` if nobody could ask."""
        waited, delay = 0.0, 0.25
        while waited + delay <= self._settle_retry_seconds:
            self._sleep(delay)
            waited, delay = waited + delay, delay * 2
            try:
                with self._pool.client() as client:
                    _, resolution = settle(self._journal, tx, client)
            except SIP2Error as exc:
                log.info("transaction %d: the ILS still cannot be asked: %s", tx.id, exc)
                continue
            except JournalError as exc:
                log.error("journal: cannot record the outcome of transaction %d: %s", tx.id, exc)
                break
            log.info("transaction %d settled while the patron waited: %s (%s)", tx.id, resolution.verdict,
                     resolution.evidence)
            if resolution.verdict is Verdict.APPLIED:
                answer = LoanAnswer(command.item_id, ok=True, title=resolution.title or "",
                                    due=resolution.due_date or "")
                return LoanAnswered(command.ref, answer)
            if resolution.verdict is Verdict.NOT_APPLIED:
                return IlsFailed(command.ref, Failure(FailureKind.UNREACHABLE, "checkout not applied; "
                                                      "its answer was lost"))
            return lost
        self._lost(tx, lost)
        return lost

    def _checkout_offline(self, command: CheckOut, now: datetime) -> LoanAnswered | IlsFailed:
        decision = self._offline_checkout_decision(command, now)
        if not decision.accepted or decision.due is None:
            return LoanAnswered(command.ref, LoanAnswer(command.item_id, ok=False, offline=True,
                                                        message_id=decision.message_id))
        try:
            self._journal.queue_offline(Kind.CHECKOUT, patron_id=command.patron_id, item_id=command.item_id,
                                        transaction_date=now, nb_due_date=decision.due, session_ref=command.ref)
        except (JournalError, ValueError) as exc:
            self._undo_count(command.patron_id)
            return IlsFailed(command.ref, Failure(FailureKind.UNREACHABLE, f"journal: {exc}"))
        return LoanAnswered(command.ref, LoanAnswer(command.item_id, ok=True, due=_due_text(decision.due),
                                                    offline=True))

    def _record_loan(self, tx: Transaction, answer: LoanAnswered | IlsFailed) -> None:
        """The outcome of an online checkout or renewal; a journal failure here is logged, not
        raised: the ILS already acted, and the row left ``sending`` is settled at the next start."""
        try:
            if isinstance(answer, IlsFailed):
                self._lost(tx, answer)
            elif answer.answer.ok:
                self._journal.confirm(tx.id, Answer(True, due_date=answer.answer.due or None,
                                                    title=answer.answer.title or None))
            else:
                reason = "; ".join(answer.answer.messages) or "refused by the ILS (no reason given)"
                self._journal.refuse(tx.id, Answer(False, reason=reason, title=answer.answer.title or None))
        except JournalError as exc:
            log.error("journal: cannot record the outcome of transaction %d: %s", tx.id, exc)

    # -- renewals ---------------------------------------------------------------------------------

    def renew(self, command: Renew) -> LoanAnswered | IlsFailed:
        refused = LoanAnswered(command.ref, LoanAnswer(command.item_id, ok=False, offline=True,
                                                       message_id=NO_RENEWALS))
        if self._goes_offline():
            return refused
        try:
            with self._pool.client() as client:
                before = pre_image(client, command.item_id)
        except SIP2Error as exc:
            self._report(False, str(exc))
            return refused
        try:
            tx = self._journal.begin_online(Kind.RENEW, patron_id=command.patron_id, item_id=command.item_id,
                                            transaction_date=self._now(), owner=self._owner,
                                            session_ref=command.ref, due_before=before)
        except (JournalError, ValueError) as exc:
            return IlsFailed(command.ref, Failure(FailureKind.UNREACHABLE, f"journal: {exc}"))
        answer = self._online.renew(command)
        if self._unreachable(answer):
            self._fail(tx.id, "the ILS was unreachable; renewals are not taken offline")
            return refused
        self._record_loan(tx, answer)
        return answer

    def renew_all(self, command: RenewAll) -> RenewAllAnswered | IlsFailed:
        """Not journaled item by item (the ILS picks the items); refused offline and while offline
        transactions wait, as a renewal queued behind them could not be replayed as one."""
        refused = RenewAllAnswered(command.ref, RenewAllAnswer(ok=False, messages=(RENEW_ALL_OFFLINE,)))
        if self._goes_offline():
            return refused
        answer = self._online.renew_all(command)
        return refused if self._unreachable(answer) else answer

    # -- checkins ---------------------------------------------------------------------------------

    def check_in(self, command: CheckIn) -> ReturnAnswered | IlsFailed:
        now = self._now()
        if self._goes_offline():
            return self._checkin_offline(command, now)
        try:
            tx = self._journal.begin_online(Kind.CHECKIN, patron_id=None, item_id=command.item_id,
                                            transaction_date=now, owner=self._owner, session_ref=command.ref)
        except (JournalError, ValueError) as exc:
            return IlsFailed(command.ref, Failure(FailureKind.UNREACHABLE, f"journal: {exc}"))
        answer = self._online.check_in(command)
        if self._unreachable(answer):
            decision = self.policy.checkin()
            if decision.accepted:
                try:
                    self._journal.queue_instead(tx.id, return_date=now)
                except JournalError as exc:
                    return IlsFailed(command.ref, Failure(FailureKind.UNREACHABLE, f"journal: {exc}"))
                return ReturnAnswered(command.ref, ReturnAnswer(command.item_id, ok=True, offline=True))
            self._fail(tx.id, "the ILS was unreachable; not taken offline")
            return ReturnAnswered(command.ref, ReturnAnswer(command.item_id, ok=False, offline=True,
                                                            message_id=decision.message_id))
        try:
            if isinstance(answer, IlsFailed):
                self._lost(tx, answer)
            elif answer.answer.ok:
                self._journal.confirm(tx.id, Answer(True, title=answer.answer.title or None))
            else:
                reason = "; ".join(answer.answer.messages) or "refused by the ILS (no reason given)"
                self._journal.refuse(tx.id, Answer(False, reason=reason, title=answer.answer.title or None))
        except JournalError as exc:
            log.error("journal: cannot record the outcome of transaction %d: %s", tx.id, exc)
        return answer

    def _checkin_offline(self, command: CheckIn, now: datetime) -> ReturnAnswered | IlsFailed:
        decision = self.policy.checkin()
        if not decision.accepted:
            return ReturnAnswered(command.ref, ReturnAnswer(command.item_id, ok=False, offline=True,
                                                            message_id=decision.message_id))
        try:
            self._journal.queue_offline(Kind.CHECKIN, patron_id=None, item_id=command.item_id,
                                        transaction_date=now, return_date=now, session_ref=command.ref)
        except (JournalError, ValueError) as exc:
            return IlsFailed(command.ref, Failure(FailureKind.UNREACHABLE, f"journal: {exc}"))
        return ReturnAnswered(command.ref, ReturnAnswer(command.item_id, ok=True, offline=True))
