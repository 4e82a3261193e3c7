"""Telling staff and IT when the kiosk needs a person: a chat webhook and/or e-mail.

Three parts, so the decisions are testable without threads, sockets or a clock:

* :class:`AlertPolicy` is pure: fed "this condition is (not) active now" per alert kind, it decides
  which messages go out — a new problem, a reminder while it lasts, "resolved" when it is gone —
  with at most one message per kind per ``min_interval_minutes`` (a flapping bin sensor must not
  flood a channel; what was held back is said at the next chance, if it is still true).
* :class:`AlertMonitor` turns what the kiosk observes (station states, health reports, runner
  steps, the journal) into those conditions, and runs the policy on a background thread.
* :class:`AlertSender` delivers, on its own thread, so the runner never waits for a webhook or a
  mail server; a failure is logged (never raised) and the next message is tried all the same.

Messages name the kiosk, the problem and what to do; they never carry a patron's id, name or
anything borrowed: only bin names, device states and counts.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from kiosk.circulation.events import BinFull, IlsHealth
from kiosk.hardware.health import DeviceHealth, HealthState
from kiosk.ops.settings import AlertSettings

log = logging.getLogger("kiosk.ops.alerts")

#: What each out-of-service reason (the station's message id) means for IT.
OUT_OF_SERVICE_WORDS = {
    "oos.staff": "switched out of service by staff",
    "oos.ils": "the ILS cannot be reached and this kiosk does nothing offline ([offline] mode = \"none\")",
    "oos.devices": "it cannot read items: the RFID reader and the scanner are down",
}
#: After a change wakes the monitor, it waits this long so a burst of steps makes one round.
COALESCE_SECONDS = 0.5
TITLES = {
    "bin_full": "returns bin full",
    "out_of_service": "out of service",
    "paper_out": "receipt printer out of paper",
    "offline": "working offline",
    "exceptions": "exceptions waiting for staff",
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to send. ``state`` is "firing", "reminder" or "resolved"."""

    kind: str
    state: str
    text: str

    def line(self, where: str) -> str:
        title = TITLES.get(self.kind, self.kind)
        if self.state == "resolved":
            return f"[{where}] RESOLVED {title}"
        word = "ALERT" if self.state == "firing" else "STILL"
        return f"[{where}] {word} {title}: {self.text}"


@dataclass(slots=True)
class _Kind:
    active: bool = False
    text: str = ""
    announced: bool = False  # what the channel was last told
    last_sent: float | None = None


class AlertPolicy:
    """Which messages to send, given each kind's condition over time. Pure; times in seconds."""

    def __init__(self, *, kinds: Iterable[str], min_interval: float, repeat: float, notify_resolved: bool) -> None:
        self.kinds = frozenset(kinds)
        self.min_interval = min_interval
        self.repeat = repeat
        self.notify_resolved = notify_resolved
        self._state: dict[str, _Kind] = {}

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> AlertPolicy:
        return cls(kinds=settings.kinds, min_interval=settings.min_interval_minutes * 60,
                   repeat=settings.repeat_minutes * 60, notify_resolved=settings.notify_resolved)

    def set(self, kind: str, active: bool, text: str = "") -> None:
        """The condition of ``kind`` now (its text is what a message would say)."""
        current = self._state.setdefault(kind, _Kind())
        current.active = active
        if active or text:
            current.text = text

    def due(self, now: float) -> list[Notice]:
        """The messages to send at ``now`` (each kind's send time is recorded)."""
        out: list[Notice] = []
        for kind, k in self._state.items():
            if kind not in self.kinds:
                continue
            may_send = k.last_sent is None or now - k.last_sent >= self.min_interval
            if k.active != k.announced:
                if not k.active and not self.notify_resolved:
                    k.announced = False
                    continue
                if may_send:
                    out.append(Notice(kind, "firing" if k.active else "resolved", k.text))
                    k.announced, k.last_sent = k.active, now
            elif k.active and self.repeat > 0 and k.last_sent is not None and now - k.last_sent >= self.repeat:
                out.append(Notice(kind, "reminder", k.text))
                k.last_sent = now
        return out


class Mailer(Protocol):
    def send(self, to: str, lines: Any) -> None: ...


class AlertSender:
    """Delivers notices from a queue on its own thread: webhook first, then each e-mail address.

    ``post(url, payload, timeout)`` defaults to requests; ``mailer`` is a
    :class:`kiosk.hardware.mailer.SmtpMailer` (or None for no e-mail).
    """

    def __init__(
        self,
        *,
        where: str,
        webhook_url: str = "",
        email_to: Iterable[str] = (),
        mailer: Mailer | None = None,
        timeout: float = 10.0,
        post: Callable[[str, dict[str, Any], float], None] | None = None,
        max_queued: int = 100,
    ) -> None:
        self.where = where
        self.webhook_url = webhook_url
        self.email_to = tuple(email_to)
        self.mailer = mailer
        self.timeout = timeout
        self._post = post or _post_json
        self._queue: queue.Queue[Notice | None] = queue.Queue(maxsize=max_queued)
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0
        self._idle = threading.Condition()
        self._busy = 0

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url or (self.email_to and self.mailer is not None))

    def start(self) -> AlertSender:
        self._thread = threading.Thread(target=self._work, name="kiosk-alerts-send", daemon=True)
        self._thread.start()
        return self

    def send(self, notice: Notice) -> bool:
        """Queue ``notice``; never blocks. False (and a log line) when the queue is full."""
        with self._idle:
            self._busy += 1
        try:
            self._queue.put_nowait(notice)
        except queue.Full:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()
            log.error("alerts: %d messages waiting already; dropped: %s", self._queue.qsize(), notice.kind)
            return False
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued notice was delivered or failed (tests, and a clean shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, timeout: float = 5.0) -> None:
        if self._thread is None:
            return
        self.wait_idle(timeout)
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def _work(self) -> None:
        while True:
            notice = self._queue.get()
            if notice is None:
                return
            try:
                self.deliver(notice)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def deliver(self, notice: Notice) -> None:
        """Send one notice everywhere it should go now (on the calling thread). Never raises."""
        text = notice.line(self.where)
        if self.webhook_url:
            try:
                self._post(self.webhook_url, {"text": text}, self.timeout)
                self.sent += 1
            except Exception as exc:
                self.failed += 1
                # The URL holds the webhook's token: name the host only.
                host = urlsplit(self.webhook_url).hostname or "?"
                log.warning("alerts: webhook at %s failed: %s", host, _no_url(str(exc), self.webhook_url))
        if self.mailer is not None:
            from kiosk.circulation.commands import ReceiptLine

            lines = (ReceiptLine(f"Kiosk alert: {TITLES.get(notice.kind, notice.kind)}", bold=True),
                     ReceiptLine(text))
            for address in self.email_to:
                try:
                    self.mailer.send(address, lines)
                    self.sent += 1
                except Exception as exc:
                    self.failed += 1
                    log.warning("alerts: e-mail failed: %s", exc)


def _no_url(text: str, url: str) -> str:
    return text.replace(url, "<webhook>")


def _post_json(url: str, payload: dict[str, Any], timeout: float) -> None:
    import requests

    response = requests.post(url, json=payload, timeout=timeout)
    response.raise_for_status()


def kiosk_name(site_name: str, branch: str, host: str | None = None) -> str:
    """How messages name this kiosk: library, branch and host name (a branch has several)."""
    parts = [p for p in (site_name, branch) if p]
    return f"{' / '.join(parts)} ({host or socket.gethostname()})"


class AlertMonitor:
    """Watches the kiosk and feeds :class:`AlertPolicy`; sends what it decides through ``sender``.

    Observers (call from any thread): :meth:`observe_state`, :meth:`observe_health`,
    :meth:`observe_step`. ``journal`` (optional) is asked every ``check_seconds`` how many
    transactions wait for staff. :meth:`start` runs the checks on a thread; :meth:`check` runs one
    round now (tests drive it with an injected clock).
    """

    def __init__(
        self,
        settings: AlertSettings,
        sender: AlertSender,
        *,
        journal: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.sender = sender
        self.policy = AlertPolicy.from_settings(settings)
        self._journal = journal
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._offline_since: float | None = None
        self._sensor_full: dict[str, bool] = {}
        self._state_full: tuple[str, ...] = ()
        self._returns_exceptions = 0
        self._oos: str | None = None
        self._fault = ""
        self._paper_out = False
        self._staff_read: tuple[float, int] | None = None

    # -- observing ----------------------------------------------------------------------------------

    def observe_state(self, state: object) -> None:
        if state is None:
            return
        with self._lock:
            if hasattr(state, "online"):
                self._set_online(bool(state.online))
            if hasattr(state, "out_of_service"):
                reason = state.out_of_service
                self._oos = getattr(reason, "id", str(reason)) if reason is not None else None
            returns = getattr(state, "returns", None)
            if returns is not None:
                self._state_full = tuple(getattr(returns, "full_bins", ()))
                self._fault = str(getattr(returns, "fault", ""))
                self._returns_exceptions = len(getattr(returns, "exceptions", ()))
        self._wake.set()

    def observe_health(self, health: DeviceHealth) -> None:
        if health.component != "printer":
            return
        paper_out = health.state is HealthState.DOWN and health.reason.startswith("paper out")
        with self._lock:
            self._paper_out = paper_out
        self._wake.set()

    def observe_step(self, event: object, state: object, commands: Iterable[object]) -> None:
        match event:
            case BinFull(bin=name, full=full):
                with self._lock:
                    self._sensor_full[name] = full
            case IlsHealth(connected=connected):
                with self._lock:
                    self._set_online(connected)
        self.observe_state(state)

    def _set_online(self, online: bool) -> None:
        if online:
            self._offline_since = None
        elif self._offline_since is None:
            self._offline_since = self._clock()

    # -- deciding -----------------------------------------------------------------------------------

    def conditions(self, now: float) -> dict[str, tuple[bool, str]]:
        """Each kind's condition now: (active, text)."""
        staff_waiting = self._journal_staff(now)
        with self._lock:
            full = sorted({*self._state_full, *(b for b, on in self._sensor_full.items() if on)})
            oos_words = ""
            if self._oos is not None:
                oos_words = OUT_OF_SERVICE_WORDS.get(self._oos, self._oos)
            if self._fault:
                oos_words = "; ".join(w for w in (oos_words, f"returns closed, the sorter needs staff: "
                                                             f"{self._fault}") if w)
            offline_for = now - self._offline_since if self._offline_since is not None else None
            paper_out = self._paper_out
            returns_exceptions = self._returns_exceptions
        exceptions = []
        if staff_waiting:
            exceptions.append(f"{staff_waiting} transaction(s) need staff (kiosk queue report)")
        if returns_exceptions:
            exceptions.append(f"{returns_exceptions} returned item(s) in the exceptions list (staff mode)")
        limit = self.settings.offline_minutes * 60
        return {
            "bin_full": (bool(full), f"{', '.join(full)}: empty it, then confirm in staff mode"),
            "out_of_service": (bool(oos_words), oos_words),
            "paper_out": (paper_out, "load a new roll; receipts are offered by e-mail meanwhile"),
            "offline": (
                offline_for is not None and offline_for >= limit,
                f"the ILS has not answered for {int((offline_for or 0) // 60)} minutes; transactions are "
                "recorded offline and replayed by kiosk sync",
            ),
            "exceptions": (bool(exceptions), "; ".join(exceptions)),
        }

    def _journal_staff(self, now: float) -> int:
        """Transactions waiting for staff, read at most every ``check_seconds``."""
        if self._journal is None:
            return 0
        if self._staff_read is not None and now - self._staff_read[0] < self.settings.check_seconds:
            return self._staff_read[1]
        try:
            count = len(self._journal.needs_staff())
        except Exception as exc:
            log.warning("alerts: cannot read the journal: %s", exc)
            return self._staff_read[1] if self._staff_read is not None else 0
        self._staff_read = (now, count)
        return count

    def check(self) -> list[Notice]:
        """One round: evaluate, decide, queue the messages. Never raises."""
        try:
            now = self._clock()
            for kind, (active, text) in self.conditions(now).items():
                self.policy.set(kind, active, text if active else "")
            notices = self.policy.due(now)
        except Exception:
            log.exception("alerts: a check round failed")
            return []
        for notice in notices:
            log.info("alert %s %s", notice.kind, notice.state)
            self.sender.send(notice)
        return notices

    # -- the thread ---------------------------------------------------------------------------------

    def start(self) -> AlertMonitor:
        self.sender.start()
        self._thread = threading.Thread(target=self._run, name="kiosk-alerts", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check()
            if self._wake.wait(self.settings.check_seconds):
                # A change woke us: let a burst of steps (a patron's stack) settle into one round.
                self._stop.wait(COALESCE_SECONDS)
            self._wake.clear()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.sender.close(timeout)
