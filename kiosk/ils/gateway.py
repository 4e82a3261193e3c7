"""The one door from the circulation core to the library system.

The core's ILS commands (``LookUpPatron``, ``CheckOut``...) go in, answer events come out, and
nothing in between is the core's business: which protocol, how many connections, what happens when
an answer is lost. :class:`IlsGateway` is that door; :class:`SipGateway` is the online one, over a
pool of SIP2 sessions. The offline path (journal + policy, next issue) is another implementation
of the same protocol, or a wrapper around this one that journals each command before delegating:
the runner only ever sees an :class:`IlsGateway`.

A lost answer is the dangerous case. A checkout or checkin whose response never came may or may
not have been applied, and sending it again is wrong (a second checkout is a renewal on most
ILSs). So the gateway asks what the ILS now holds (63 Patron Information, 17 Item Information),
and sends the request once more only when those answers prove the first one did not happen. When
they cannot settle it, the core gets ``IlsFailed(OUTCOME_UNKNOWN)``, which it must not show as done.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol, TypeVar

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
from kiosk.circulation.model import Failure, FailureKind, Loan, LoanAnswer
from kiosk.ils.answers import (
    CHARGED_STATUSES,
    loan_answer,
    loan_from,
    patron_account,
    renew_all_answer,
    return_answer,
    return_from_item_status,
)
from kiosk.sync.resolve import Verdict, checkout_applied
from sip2.errors import OutcomeUnknown, SIP2ConnectionError, SIP2Error, TLSVerificationError
from sip2.fields import Summary

if TYPE_CHECKING:
    from kiosk.config import Settings
    from sip2.client import SIP2Client, SIP2Pool
    from sip2.messages import CheckoutResponse, ItemInformationResponse, PatronInformationResponse

log = logging.getLogger("kiosk.ils")

T = TypeVar("T")
A = TypeVar("A", bound="LoanAnswered | ReturnAnswered | IlsFailed")
C = TypeVar("C", CheckOut, CheckIn)

IlsCommand = LookUpPatron | CheckOut | Renew | RenewAll | CheckIn | EndPatronSession
IlsAnswer = PatronLookedUp | LoanAnswered | RenewAllAnswered | ReturnAnswered | SessionEnded | IlsFailed
ILS_COMMANDS: tuple[type, ...] = (LookUpPatron, CheckOut, Renew, RenewAll, CheckIn, EndPatronSession)


class IlsGateway(Protocol):
    """What the runner needs from the library system. Methods block (the runner calls them on
    worker threads, up to :attr:`sessions` at once) and never raise for an ILS problem: every
    failure is an ``IlsFailed`` answer carrying the command's ref."""

    @property
    def sessions(self) -> int:
        """How many requests the gateway can carry at once (the runner sizes its ILS workers by it)."""
        ...

    def open(self) -> None:
        """Prepare connections ahead of the first patron. Never raises: failures show in :meth:`health`."""
        ...

    def look_up_patron(self, command: LookUpPatron) -> PatronLookedUp | IlsFailed: ...

    def check_out(self, command: CheckOut) -> LoanAnswered | IlsFailed: ...

    def renew(self, command: Renew) -> LoanAnswered | IlsFailed: ...

    def renew_all(self, command: RenewAll) -> RenewAllAnswered | IlsFailed: ...

    def check_in(self, command: CheckIn) -> ReturnAnswered | IlsFailed: ...

    def end_patron_session(self, command: EndPatronSession) -> SessionEnded:
        """Best effort: the patron has left whatever the ILS says."""
        ...

    def health(self) -> IlsHealth: ...

    def close(self) -> None: ...


def answer(gateway: IlsGateway, command: IlsCommand) -> IlsAnswer:
    """Send one core command through ``gateway`` (the runner's single entry point)."""
    if isinstance(command, LookUpPatron):
        return gateway.look_up_patron(command)
    if isinstance(command, CheckOut):
        return gateway.check_out(command)
    if isinstance(command, Renew):
        return gateway.renew(command)
    if isinstance(command, RenewAll):
        return gateway.renew_all(command)
    if isinstance(command, CheckIn):
        return gateway.check_in(command)
    if isinstance(command, EndPatronSession):
        return gateway.end_patron_session(command)
    raise TypeError(f"not an ILS command: {type(command).__name__}")


_LOST_TWICE = "{} not applied; its answer was lost twice"
_UNSETTLED = "the ILS could not say whether it was applied"


def _failed(ref: str, kind: FailureKind, detail: str) -> IlsFailed:
    return IlsFailed(ref, Failure(kind, detail))


class _Scored:
    """The questions that settle a lost answer, asked through the gateway's ``_call`` so they count in
    the ILS's health like every other request."""

    def __init__(self, gateway: SipGateway, client: SIP2Client) -> None:
        self._call = gateway._call
        self._client = client

    def item_information(self, item_id: str) -> ItemInformationResponse:
        return self._call(self._client.item_information, item_id)

    def patron_information(self, patron_id: str, **kwargs: object) -> PatronInformationResponse:
        return self._call(self._client.patron_information, patron_id, **kwargs)


class _Health:
    """Connected / last error / latency, updated by every exchange from any worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = IlsHealth(connected=False)

    def ok(self, latency_ms: float) -> None:
        with self._lock:
            self._value = IlsHealth(connected=True, latency_ms=round(latency_ms, 1), last_error="")

    def failed(self, exc: SIP2Error) -> None:
        # A lost connection (or a lost answer, which means one) says "disconnected"; a request the
        # codec refused says nothing about the line.
        with self._lock:
            lost = isinstance(exc, SIP2ConnectionError | OutcomeUnknown)
            connected = False if lost else self._value.connected
            self._value = IlsHealth(connected, self._value.latency_ms, str(exc))

    def get(self) -> IlsHealth:
        with self._lock:
            return self._value


class SipGateway:
    """The online gateway: each command borrows one session of a :class:`~sip2.client.SIP2Pool`
    for its whole exchange (including any resolution of a lost answer), so N commands run on N
    sessions at once.

    ``loan_details`` bounds the 17 Item Information lookups a patron lookup makes to give loans a
    title and due date and ready holds a title when the ILS lists bare item ids (most do): each
    costs one round trip while the patron waits, so a patron with hundreds of loans gets the first
    ones described and the rest by id. ``borrow_timeout`` bounds the wait for a free session.
    """

    def __init__(
        self,
        pool: SIP2Pool,
        *,
        loan_details: int = 20,
        borrow_timeout: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._pool = pool
        self.loan_details = loan_details
        self._borrow_timeout = borrow_timeout if borrow_timeout is not None else pool.config.timeout
        self._clock = clock
        self._health = _Health()

    @classmethod
    def from_settings(cls, settings: Settings) -> SipGateway:
        from kiosk.ils.connection import pool

        return cls(pool(settings))

    @property
    def sessions(self) -> int:
        return self._pool.size

    def health(self) -> IlsHealth:
        return self._health.get()

    def open(self) -> None:
        """Connect and log in every session now, so the first stack does not pay for it."""
        start = self._clock()
        try:
            with contextlib.ExitStack() as held:
                for _ in range(self._pool.size):
                    held.enter_context(self._pool.client(timeout=self._borrow_timeout))
        except SIP2Error as exc:
            self._health.failed(exc)
            # A refused certificate does not heal itself like a network fault: it is IT's to fix.
            level = logging.ERROR if isinstance(exc, TLSVerificationError) else logging.WARNING
            log.log(level, "cannot open the SIP2 sessions: %s", exc)
            return
        self._health.ok((self._clock() - start) * 1000 / self._pool.size)

    def probe(self) -> IlsHealth:
        """Ask the ILS how it is (99 SC Status) on one pooled session, and keep what that says.

        An idle kiosk makes no exchange, so nothing else would notice an ILS that went away between
        patrons. 99 changes nothing at the ILS, so a probe whose answer is lost is simply a failure."""
        start = self._clock()
        try:
            with self._session() as client:
                client.sc_status()
        except SIP2Error as exc:
            self._health.failed(exc)
        else:
            self._health.ok((self._clock() - start) * 1000)
        return self._health.get()

    def close(self) -> None:
        self._pool.close()

    # -- plumbing ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _session(self) -> Iterator[SIP2Client]:
        """A pooled session; connecting (or the wait for a free one) fails before anything is sent."""
        try:
            with self._pool.client(timeout=self._borrow_timeout) as client:
                yield client
        except SIP2Error as exc:
            self._health.failed(exc)
            raise

    def _call(self, request: Callable[..., T], *args: object, **kwargs: object) -> T:
        """One exchange, timed for :meth:`health`."""
        start = self._clock()
        try:
            result = request(*args, **kwargs)
        except SIP2Error as exc:
            self._health.failed(exc)
            raise
        self._health.ok((self._clock() - start) * 1000)
        return result

    def _charged_items(
        self, client: SIP2Client, patron_id: str, pin: str | None
    ) -> PatronInformationResponse:
        return self._call(client.patron_information, patron_id, pin=pin, summary=Summary.CHARGED_ITEMS)

    def _item_details(self, client: SIP2Client, item_id: str) -> ItemInformationResponse | None:
        try:
            return self._call(client.item_information, item_id)
        except SIP2Error as exc:
            log.info("item information for %s failed: %s", item_id, exc)
            return None

    # -- patron -----------------------------------------------------------------------------------

    def look_up_patron(self, command: LookUpPatron) -> PatronLookedUp | IlsFailed:
        try:
            with self._session() as client:
                info = self._charged_items(client, command.patron_id, command.pin)
                account = patron_account(command.patron_id, command.pin, info)
                if not account.known or account.pin_ok is False:
                    return PatronLookedUp(command.ref, account)  # nothing more to show a stranger
                budget = [self.loan_details]
                loans = self._describe_loans(client, info.charged_items, budget)
                holds = self._ready_holds(client, command, account.holds_ready_count, budget)
        except SIP2Error as exc:
            return _failed(command.ref, FailureKind.UNREACHABLE, str(exc))
        return PatronLookedUp(
            command.ref,
            patron_account(command.patron_id, command.pin, info, loans=loans, holds_ready=holds),
        )

    def _describe_loans(
        self, client: SIP2Client, item_ids: tuple[str, ...], budget: list[int]
    ) -> tuple[Loan, ...]:
        loans = []
        for raw in item_ids:
            item_id = raw.strip()
            if not item_id:
                continue
            details = None
            if budget[0] > 0:
                budget[0] -= 1
                details = self._item_details(client, item_id)
                if details is None:
                    budget[0] = 0  # the line is failing: do not make the patron wait for every loan
            loans.append(loan_from(item_id, details))
        return tuple(loans)

    def _ready_holds(
        self, client: SIP2Client, command: LookUpPatron, count: int, budget: list[int]
    ) -> tuple[str, ...]:
        """Ready holds need a second 63 (a 63 carries one list); titles from 17 where the ILS gave ids."""
        if count <= 0:
            return ()
        try:
            info = self._call(
                client.patron_information, command.patron_id, pin=command.pin, summary=Summary.HOLD_ITEMS
            )
        except SIP2Error as exc:
            log.info("hold list for a patron failed: %s", exc)
            return ()
        holds = []
        for raw in info.hold_items:
            entry = raw.strip()
            if not entry:
                continue
            details = None
            if budget[0] > 0:
                budget[0] -= 1
                details = self._item_details(client, entry)
            title = details.title.strip() if details is not None and details.item_id.strip() == entry else ""
            holds.append(title or entry)
        return tuple(holds)

    def end_patron_session(self, command: EndPatronSession) -> SessionEnded:
        try:
            with self._session() as client:
                self._call(client.end_patron_session, command.patron_id, pin=command.pin)
        except SIP2Error as exc:
            log.info("end patron session failed (the session ends anyway): %s", exc)
        return SessionEnded(command.ref)

    # -- loans ------------------------------------------------------------------------------------

    def check_out(self, command: CheckOut) -> LoanAnswered | IlsFailed:
        try:
            with self._session() as client:
                try:
                    response = self._checkout(client, command)
                except OutcomeUnknown as lost:
                    return self._settled(self._settle_checkout, client, command, lost)
        except SIP2Error as exc:
            return _failed(command.ref, FailureKind.UNREACHABLE, str(exc))
        return LoanAnswered(command.ref, loan_answer(command.item_id, response))

    @staticmethod
    def _settled(
        settle: Callable[[SIP2Client, C, OutcomeUnknown], A], client: SIP2Client, command: C, lost: OutcomeUnknown
    ) -> A | IlsFailed:
        """Settling a lost answer may itself fail; that must never read as "not sent"."""
        try:
            return settle(client, command, lost)
        except SIP2Error as exc:
            return _failed(command.ref, FailureKind.OUTCOME_UNKNOWN, f"{lost}; settling it failed: {exc}")

    def _checkout(self, client: SIP2Client, command: CheckOut) -> CheckoutResponse:
        return self._call(client.checkout, command.patron_id, command.item_id, pin=command.pin)

    def _settle_checkout(
        self, client: SIP2Client, command: CheckOut, lost: OutcomeUnknown
    ) -> LoanAnswered | IlsFailed:
        """Find out whether a checkout whose answer was lost happened (the questions the replay asks
        too: :func:`kiosk.sync.resolve.checkout_applied`); resend at most once, and only when the ILS
        proved it did not."""
        log.warning("checkout of %s: %s; asking the ILS", command.item_id, lost)
        questions = _Scored(self, client)
        for attempt in range(2):
            found = checkout_applied(questions, command.item_id, command.patron_id, pin=command.pin or "")
            if found.verdict is Verdict.APPLIED:
                answer = LoanAnswer(command.item_id, ok=True, title=found.title or "", due=found.due_date or "")
                return LoanAnswered(command.ref, answer)
            if found.verdict is Verdict.UNDECIDABLE:
                log.info("checkout of %s: %s", command.item_id, found.evidence)
                break
            if attempt == 1:
                return _failed(command.ref, FailureKind.UNREACHABLE, _LOST_TWICE.format("checkout"))
            log.info("checkout of %s was not applied (%s); sending it once more", command.item_id, found.evidence)
            try:
                response = self._checkout(client, command)
            except OutcomeUnknown:
                continue
            except SIP2Error as exc:
                return _failed(command.ref, FailureKind.UNREACHABLE, f"checkout not applied: {exc}")
            return LoanAnswered(command.ref, loan_answer(command.item_id, response))
        return _failed(command.ref, FailureKind.OUTCOME_UNKNOWN, f"{lost}; {_UNSETTLED}")

    def renew(self, command: Renew) -> LoanAnswered | IlsFailed:
        try:
            with self._session() as client:
                try:
                    response = self._call(client.renew, command.patron_id, command.item_id, pin=command.pin)
                except OutcomeUnknown as lost:
                    # Not resent and not guessed: a second renewal would use up one more of the patron's.
                    return _failed(command.ref, FailureKind.OUTCOME_UNKNOWN, str(lost))
        except SIP2Error as exc:
            return _failed(command.ref, FailureKind.UNREACHABLE, str(exc))
        return LoanAnswered(command.ref, loan_answer(command.item_id, response))

    def renew_all(self, command: RenewAll) -> RenewAllAnswered | IlsFailed:
        try:
            with self._session() as client:
                try:
                    response = self._call(client.renew_all, command.patron_id, pin=command.pin)
                except OutcomeUnknown as lost:
                    return _failed(command.ref, FailureKind.OUTCOME_UNKNOWN, str(lost))
        except SIP2Error as exc:
            return _failed(command.ref, FailureKind.UNREACHABLE, str(exc))
        return RenewAllAnswered(command.ref, renew_all_answer(response))

    # -- returns ----------------------------------------------------------------------------------

    def check_in(self, command: CheckIn) -> ReturnAnswered | IlsFailed:
        try:
            with self._session() as client:
                try:
                    response = self._call(client.checkin, command.item_id)
                except OutcomeUnknown as lost:
                    return self._settled(self._settle_checkin, client, command, lost)
        except SIP2Error as exc:
            return _failed(command.ref, FailureKind.UNREACHABLE, str(exc))
        return ReturnAnswered(command.ref, return_answer(command.item_id, response))

    def _settle_checkin(
        self, client: SIP2Client, command: CheckIn, lost: OutcomeUnknown
    ) -> ReturnAnswered | IlsFailed:
        """A checkin applied takes the item off loan: 17 tells. Still charged: it did not happen, and
        is sent once more (a checkin that never arrived is safe to send)."""
        log.warning("checkin of %s: %s; asking the ILS", command.item_id, lost)
        for attempt in range(2):
            details = self._item_details(client, command.item_id)
            if details is None or details.circulation_status is None:
                break
            if details.circulation_status not in CHARGED_STATUSES:
                return ReturnAnswered(command.ref, return_from_item_status(command.item_id, details))
            if attempt == 1:
                return _failed(command.ref, FailureKind.UNREACHABLE, _LOST_TWICE.format("checkin"))
            log.info("checkin of %s was not applied; sending it once more", command.item_id)
            try:
                response = self._call(client.checkin, command.item_id)
            except OutcomeUnknown:
                continue
            except SIP2Error as exc:
                return _failed(command.ref, FailureKind.UNREACHABLE, f"checkin not applied: {exc}")
            return ReturnAnswered(command.ref, return_answer(command.item_id, response))
        return _failed(command.ref, FailureKind.OUTCOME_UNKNOWN, f"{lost}; {_UNSETTLED}")
