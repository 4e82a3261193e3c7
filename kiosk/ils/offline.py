"""Is the ILS there, and what may a patron do while it is not? Pure logic, clock injected.

Two small objects the journaled gateway (:mod:`kiosk.ils.journaled`) consults:

* :class:`Reachability` remembers whether the last attempt reached the ILS. After a failure
  (connect or login refused, a timeout: the gateway's ``FailureKind.UNREACHABLE``) the kiosk stops
  making patrons wait for a dead line: it handles commands offline at once and only asks the ILS
  again when a probe is due, 1 s after the failure, then doubling up to ``probe_max_seconds``. The
  probe is the next real request (or :meth:`JournaledGateway.heartbeat`); success resets it all.
* :class:`OfflinePolicy` is the site's ``[offline]`` section turned into decisions: whether a
  card, a checkout, a checkin is accepted offline, and the due date the patron is told.

What offline cannot do, stated once: no PIN can be checked (the kiosk never stores PINs, and only
the ILS knows them), so an offline card is accepted on its barcode pattern alone; the item type is
usually unknown (only the ILS knows it from a barcode), so ``loan_days_by_type`` applies only when a
caller passes a type; renewals and fee payments need the ILS's answer and are refused.

What offline can still know about an item is what its own tag says: the ISO 28560 type of usage
(``CheckOut.tag_usages``). A reference copy's tag says "not for circulation"; online the ILS refuses
it, and offline the kiosk must not lend it either, since the replay sends checkouts with "no block"
and the ILS would then take as a loan what it never allowed. So a checkout whose tags state a type
in ``refuse_usage_types`` is refused offline. An item known only by its barcode (scanned, no tag on
the pad, or a tag that does not say) has no such word and goes by the rest of the policy.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.circulation.model import PatronAccount
from kiosk.config import OfflineSettings

#: Message ids of the offline policy's refusals (English in kiosk.circulation.session_text).
NO_CHECKINS = "offline.no_checkins"
NO_CHECKOUTS = "offline.no_checkouts"
CHECKOUT_LIMIT = "offline.checkout_limit"
NO_RENEWALS = "offline.no_renewals"
NO_PAYMENTS = "offline.no_payments"
LIBRARY_USE_ONLY = "offline.library_use_only"  # the tag says "not for circulation"
NOT_FOR_LOAN = "offline.not_for_loan"  # the tag states another type the site refuses (discarded, ...)


class Reachability:
    """Online / offline, with the back-off of probes while offline. Thread-safe (the runner's ILS
    workers report from several threads)."""

    def __init__(self, *, probe_min: float = 1.0, probe_max: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < probe_min <= probe_max:
            raise ValueError("need 0 < probe_min <= probe_max")
        self.probe_min = probe_min
        self.probe_max = probe_max
        self._clock = clock
        self._lock = threading.Lock()
        self._online = True  # until shown otherwise: the first request finds out
        self._wait = probe_min
        self._next_probe = 0.0
        self.last_error = ""

    @property
    def online(self) -> bool:
        with self._lock:
            return self._online

    @property
    def next_probe_in(self) -> float:
        """Seconds until the ILS is asked again (0 when online or due)."""
        with self._lock:
            return 0.0 if self._online else max(0.0, self._next_probe - self._clock())

    def should_try(self) -> bool:
        """Send this request to the ILS? Yes when online or a probe is due; a due probe is handed
        to one caller only, so a stack of items does not make every patron request wait on it."""
        with self._lock:
            if self._online:
                return True
            now = self._clock()
            if now < self._next_probe:
                return False
            self._next_probe = now + self._wait  # taken: others stay offline until it reports
            return True

    def failed(self, error: str = "") -> None:
        """The ILS could not be reached. The first failure waits ``probe_min``; each failed probe
        doubles the wait up to ``probe_max``."""
        with self._lock:
            wait = self.probe_min if self._online else min(self._wait * 2, self.probe_max)
            self._online = False
            self._wait = wait
            self._next_probe = self._clock() + wait
            self.last_error = error

    def succeeded(self) -> None:
        with self._lock:
            self._online = True
            self._wait = self.probe_min
            self._next_probe = 0.0
            self.last_error = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """Accepted (with the due date told, for a checkout) or refused with a message id."""

    accepted: bool
    message_id: str = ""
    due: datetime | None = None


class OfflinePolicy:
    """The ``[offline]`` settings as decisions. Pure: dates come in, nothing is remembered."""

    def __init__(self, settings: OfflineSettings) -> None:
        self.settings = settings
        self._pattern = re.compile(settings.patron_pattern)

    @property
    def enabled(self) -> bool:
        return self.settings.mode != "none"

    def card_accepted(self, patron_id: str) -> bool:
        return self.enabled and bool(patron_id) and self._pattern.fullmatch(patron_id) is not None

    def patron(self, patron_id: str) -> PatronAccount | None:
        """The account an offline session runs on, or None when the site does nothing offline.

        A card outside the pattern is "unknown"; one inside is known, with no PIN checked and no
        name, loans or fees (only the ILS has them)."""
        if not self.enabled:
            return None
        if not self.card_accepted(patron_id):
            return PatronAccount(patron_id, known=False, pin_ok=None, may_borrow=False, offline=True)
        return PatronAccount(patron_id, known=True, pin_ok=None, offline=True)

    def loan_days(self, item_type: str | None = None) -> int:
        if item_type is not None and item_type in self.settings.loan_days_by_type:
            return self.settings.loan_days_by_type[item_type]
        return self.settings.loan_days

    def due_date(self, now: datetime, item_type: str | None = None) -> datetime:
        """The end of the day ``loan_days`` from today: what the patron is told and the ILS is sent."""
        day = now + timedelta(days=self.loan_days(item_type))
        return day.replace(hour=23, minute=59, second=59, microsecond=0)

    def checkout(self, patron_id: str, *, done_this_session: int, now: datetime,
                 item_type: str | None = None, tag_usages: tuple[str, ...] = ()) -> Decision:
        """``tag_usages``: the types of usage the item's tags stated on the pad (empty: no tag said)."""
        if self.settings.mode != "checkin_and_checkout":
            return Decision(False, NO_CHECKOUTS)
        if not self.card_accepted(patron_id):
            return Decision(False, NO_CHECKOUTS)
        refused = self.refused_usage(tag_usages)
        if refused:
            return Decision(False, LIBRARY_USE_ONLY if refused == "not_for_circulation" else NOT_FOR_LOAN)
        if done_this_session >= self.settings.max_checkouts:
            return Decision(False, CHECKOUT_LIMIT)
        return Decision(True, due=self.due_date(now, item_type))

    def refused_usage(self, tag_usages: tuple[str, ...]) -> str:
        """The first stated type of usage the site does not lend offline, or "". One part of a set
        saying so is enough: the set goes out whole or not at all."""
        refused = self.settings.refuse_usage_types
        return next((usage for usage in tag_usages if usage in refused), "")

    def checkin(self) -> Decision:
        return Decision(True) if self.enabled else Decision(False, NO_CHECKINS)

    @staticmethod
    def renew() -> Decision:
        return Decision(False, NO_RENEWALS)

    @staticmethod
    def payment() -> Decision:
        return Decision(False, NO_PAYMENTS)
