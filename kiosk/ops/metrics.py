"""The kiosk as Prometheus sees it: components, transactions, the ILS, the offline queue.

Everything is observed, nothing is asked: the runner's steps (:meth:`KioskMetrics.observe_step`:
commands going out, answers coming back, device and ILS reports), the station's states
(:meth:`KioskMetrics.observe_state`: in service, online, the returns bins) and the health registry
(:meth:`KioskMetrics.observe_health`). The offline queue is read from the journal when Prometheus
scrapes, so it is never stale and costs nothing between scrapes.

Nothing personal is exported: labels are component names, transaction types and result words,
bin names, the version and the config hash. Patron ids, names, PINs and titles never become a
label or a value (a test scrapes after patron sessions to keep it so).

The registry is the kiosk's own (not prometheus-client's global one), so two stations in one test
process, or a test and the library's defaults, never collide.
"""

from __future__ import annotations

import collections
import logging
import platform
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kiosk import __version__
from kiosk.circulation.commands import CheckIn, CheckOut, LookUpPatron, Renew, RenewAll
from kiosk.circulation.events import (
    BinFull,
    DeviceStatus,
    GateAlarm,
    GateOpened,
    IlsFailed,
    IlsHealth,
    LoanAnswered,
    OfflineQueueChanged,
    PatronLookedUp,
    RenewAllAnswered,
    ReturnAnswered,
)
from kiosk.circulation.model import FailureKind
from kiosk.hardware.health import DeviceHealth, HealthState
from kiosk.ops.logging import scrub

log = logging.getLogger("kiosk.ops.metrics")

#: What each ILS command is called in ``kiosk_transactions_total{type=...}``.
TRANSACTION_TYPES: dict[type, str] = {
    CheckOut: "checkout", CheckIn: "checkin", Renew: "renew", RenewAll: "renew_all", LookUpPatron: "patron",
}
RESULTS = ("ok", "offline", "refused", "unreachable", "unknown")
PAPER_STATES = ("ok", "low", "out", "unknown")
#: ``kiosk_gate_events_total{event=...}``: the security gate alarmed (an item left with its security
#: on), or the exit barrier did not open when a patron or staff asked (a patron may be stuck there).
GATE_EVENTS = ("alarm", "not_opened")
#: SIP2 round trips take milliseconds on a LAN and seconds over a struggling VPN.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Answers are matched to their commands by ref; a ref never answered is forgotten after this many.
MAX_PENDING = 1000

_FROM_STATUS = {"ok": HealthState.UP, "warning": HealthState.DEGRADED, "failed": HealthState.DOWN}


def result_of(event: object) -> str | None:
    """The result word of an answer event, or None if it is not an ILS answer."""
    match event:
        case LoanAnswered(answer=answer) | ReturnAnswered(answer=answer):
            if answer.ok:
                return "offline" if answer.offline else "ok"
            return "refused"
        case RenewAllAnswered(answer=answer):
            return "ok" if answer.ok else "refused"
        case PatronLookedUp(account=account):
            if account.offline:
                return "offline"
            return "ok" if account.known and account.pin_ok is not False else "refused"
        case IlsFailed(failure=failure):
            return "unknown" if failure.kind is FailureKind.OUTCOME_UNKNOWN else "unreachable"
    return None


def paper_state(health: DeviceHealth) -> str:
    """ok / low / out / unknown from the printer's health (its reason starts with the printer
    state: ``kiosk.hardware.printer.status.PrinterStatus.health``)."""
    if health.state is HealthState.UP and not health.reason:
        return "ok"
    word = health.reason.split(":", 1)[0].strip()
    return {"ready": "ok", "paper low": "low", "paper out": "out"}.get(word, "unknown")


def safe_reason(text: str) -> str:
    """A device or ILS error as /healthz may show it: no raw frames, no SIP2 patron fields."""
    cut = text.split(" (raw ", 1)[0]
    return scrub(cut)[:200]


class _JournalCollector(Collector):
    """The offline queue, read at scrape time. A journal that cannot be read says so in
    ``kiosk_journal_up`` instead of failing the whole scrape."""

    def __init__(self, journal: Any, now: Callable[[], datetime]) -> None:
        self._journal = journal
        self._now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("kiosk_journal_up", "1 when the transaction journal could be read")
        try:
            depth = self._journal.backlog()
            head = self._journal.queue_head()
            staff = len(self._journal.needs_staff())
            last = self._journal.last_replayed_at()
        except Exception as exc:  # JournalError, or a journal closed under us
            log.warning("metrics: cannot read the journal: %s", exc)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        now = self._now().astimezone(UTC).replace(tzinfo=None)
        yield GaugeMetricFamily("kiosk_offline_queue_depth", "offline transactions not yet replayed to the ILS",
                                value=depth)
        age = (now - head.created_at).total_seconds() if head is not None else 0.0
        yield GaugeMetricFamily("kiosk_offline_queue_oldest_age_seconds",
                                "age of the oldest offline transaction waiting for replay (0: none)",
                                value=max(0.0, age))
        yield GaugeMetricFamily("kiosk_exceptions_pending",
                                "transactions staff must look at (rejected on replay, or outcome unknown)",
                                value=staff)
        if last is not None:
            yield GaugeMetricFamily("kiosk_last_sync_timestamp_seconds",
                                    "when the ILS last took a replayed offline transaction",
                                    value=last.replace(tzinfo=UTC).timestamp())


class KioskMetrics:
    """The kiosk's metrics on its own :class:`CollectorRegistry` (``self.registry``).

    ``journal`` (a :class:`kiosk.sync.journal.Journal`) feeds the queue gauges at scrape time;
    without one, the ``OfflineQueueChanged`` reports do. ``config_hash`` and ``branch`` label
    ``kiosk_config_info`` (drift detection across a fleet).
    """

    def __init__(
        self,
        *,
        version: str = __version__,
        config_hash: str = "",
        branch: str = "",
        journal: Any = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        process: bool = True,
    ) -> None:
        # No *_created series: they double the page for a timestamp Prometheus does not need (the
        # switch is process-wide; the kiosk's process has no other Prometheus user).
        disable_created_metrics()
        self.registry = registry = CollectorRegistry()
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: collections.OrderedDict[str, tuple[str, float]] = collections.OrderedDict()
        self.version = version
        self.config_hash = config_hash
        Info("kiosk_build", "the kiosk's version", registry=registry).info(
            {"version": version, "python": platform.python_version()}
        )
        Info("kiosk_config", "the merged configuration's sha256 (secrets excluded) and branch",
             registry=registry).info({"hash": config_hash, "branch": branch})
        self.component_up = Gauge("kiosk_component_up", "1 while the component does its job (degraded included)",
                                  ["component"], registry=registry)
        self.component_degraded = Gauge("kiosk_component_degraded", "1 while the component works only in part",
                                        ["component"], registry=registry)
        self.transactions = Counter("kiosk_transactions", "ILS transactions by type and result",
                                    ["type", "result"], registry=registry)
        self.ils_latency = Histogram("kiosk_ils_latency_seconds",
                                     "from a command to the ILS's answer, as the patron waits for it",
                                     ["type"], buckets=LATENCY_BUCKETS, registry=registry)
        self.ils_round_trip = Gauge("kiosk_ils_round_trip_seconds", "the last SIP2 round trip the gateway saw",
                                    registry=registry)
        self.ils_up = Gauge("kiosk_ils_up", "1 while the ILS answers", registry=registry)
        self.offline = Gauge("kiosk_offline", "1 while the kiosk works offline (the ILS unreachable)",
                             registry=registry)
        self.out_of_service = Gauge("kiosk_out_of_service", "1 while the kiosk takes no patrons",
                                    registry=registry)
        self.printer_paper = Gauge("kiosk_printer_paper", "the receipt printer's paper: 1 for the current state",
                                   ["state"], registry=registry)
        self.bin_full = Gauge("kiosk_returns_bin_full", "1 while a returns bin is full", ["bin"], registry=registry)
        self.gate_events = Counter("kiosk_gate_events", "the security gate alarmed, or the exit barrier did not "
                                   "open when asked", ["event"], registry=registry)
        self.returns_exceptions = Gauge("kiosk_returns_exceptions", "returned items in staff's exceptions list",
                                        registry=registry)
        # Only a returns bin has a slot: made on its first state, so a self-check kiosk exports no 0.
        self.returns_accepting: Gauge | None = None
        self._queue_depth: Gauge | None = None
        self._queue_staff: Gauge | None = None
        for event in GATE_EVENTS:
            self.gate_events.labels(event)
        for kind in TRANSACTION_TYPES.values():  # every series exists from the start, so rate() works
            self.ils_latency.labels(kind)
            for result in RESULTS:
                self.transactions.labels(kind, result)
        if journal is not None:
            registry.register(_JournalCollector(journal, now))
        else:
            self._queue_depth = Gauge("kiosk_offline_queue_depth", "offline transactions not yet replayed",
                                      registry=registry)
            self._queue_staff = Gauge("kiosk_exceptions_pending", "transactions staff must look at",
                                      registry=registry)
        if process and platform.system() == "Linux":
            ProcessCollector(registry=registry)
        # What /healthz shows, kept alongside the gauges.
        self._components: dict[str, DeviceHealth] = {}
        self._ils: IlsHealth | None = None
        self._out_of_service: str | None = None
        self._online = True

    # -- observers ----------------------------------------------------------------------------------

    def observe_step(self, event: object, state: object, commands: Iterable[object]) -> None:
        """A runner ``on_step`` observer: counts and times ILS transactions, follows reports."""
        now = self._clock()
        self._answered(event, now)
        for command in commands:
            kind = TRANSACTION_TYPES.get(type(command))
            ref = getattr(command, "ref", None)
            if kind is not None and ref is not None:
                with self._lock:
                    self._pending[ref] = (kind, now)
                    while len(self._pending) > MAX_PENDING:
                        self._pending.popitem(last=False)
        match event:
            case IlsHealth():
                self._observe_ils(event)
            case DeviceStatus(component=component, state=status, reason=reason):
                state_ = _FROM_STATUS.get(status, HealthState.DOWN)
                self.observe_health(DeviceHealth(component, state_, reason))
            case BinFull(bin=name, full=full):
                self.bin_full.labels(name).set(1.0 if full else 0.0)
            case GateAlarm():
                self.gate_events.labels("alarm").inc()
            case GateOpened(ok=False):
                self.gate_events.labels("not_opened").inc()
            case OfflineQueueChanged(waiting=waiting, needs_staff=staff):
                if self._queue_depth is not None and self._queue_staff is not None:
                    self._queue_depth.set(waiting)
                    self._queue_staff.set(staff)
        self.observe_state(state)

    def _answered(self, event: object, now: float) -> None:
        result = result_of(event)
        if result is None:
            return
        with self._lock:
            pending = self._pending.pop(getattr(event, "ref", ""), None)
        if pending is None:
            return  # an answer to a command sent before the metrics were attached
        kind, sent = pending
        self.transactions.labels(kind, result).inc()
        if result != "offline":  # an offline answer never went to the ILS
            self.ils_latency.labels(kind).observe(max(0.0, now - sent))

    def _observe_ils(self, health: IlsHealth) -> None:
        self._ils = health
        self.ils_up.set(1.0 if health.connected else 0.0)
        if health.latency_ms is not None:
            self.ils_round_trip.set(health.latency_ms / 1000)
        self.observe_health(DeviceHealth("ils", HealthState.UP if health.connected else HealthState.DOWN,
                                         "" if health.connected else health.last_error))

    def observe_state(self, state: object) -> None:
        """A station state (``KioskState`` or ``ReturnsStationState``; read by attribute, so any
        state with ``out_of_service``/``online``/``returns`` works)."""
        if state is None:
            return
        if hasattr(state, "out_of_service"):
            reason = state.out_of_service
            self._out_of_service = getattr(reason, "id", str(reason)) if reason is not None else None
            self.out_of_service.set(0.0 if reason is None else 1.0)
        if hasattr(state, "online"):
            self._online = bool(state.online)
            self.offline.set(0.0 if state.online else 1.0)
        returns = getattr(state, "returns", None)
        if returns is not None:
            full = set(getattr(returns, "full_bins", ()))
            for name, _count in getattr(returns, "counts", ()):
                self.bin_full.labels(name).set(1.0 if name in full else 0.0)
            for name in full:
                self.bin_full.labels(name).set(1.0)
            self.returns_exceptions.set(len(getattr(returns, "exceptions", ())))
        if hasattr(state, "accepting"):
            with self._lock:
                if self.returns_accepting is None:
                    self.returns_accepting = Gauge(
                        "kiosk_returns_accepting", "1 while the returns slot takes items (no bin full, no sorter "
                        "fault)", registry=self.registry)
            self.returns_accepting.set(1.0 if state.accepting else 0.0)

    def observe_health(self, health: DeviceHealth) -> None:
        """A :class:`~kiosk.hardware.health.HealthRegistry` listener."""
        with self._lock:
            self._components[health.component] = health
        self.component_up.labels(health.component).set(1.0 if health.usable else 0.0)
        self.component_degraded.labels(health.component).set(1.0 if health.state is HealthState.DEGRADED else 0.0)
        if health.component == "printer":
            current = paper_state(health)
            for state in PAPER_STATES:
                self.printer_paper.labels(state).set(1.0 if state == current else 0.0)

    # -- /healthz -----------------------------------------------------------------------------------

    def health_report(self) -> dict[str, Any]:
        """The JSON of /healthz: overall status, each component, the ILS, the queue. ``status`` is
        "ok", "degraded" (something is down or degraded, patrons are still served) or
        "out_of_service"."""
        with self._lock:
            components = dict(self._components)
        report: dict[str, Any] = {"version": self.version, "config_hash": self.config_hash}
        report["components"] = {
            name: {"state": str(h.state), "reason": safe_reason(h.reason)} for name, h in sorted(components.items())
        }
        ils = self._ils
        report["ils"] = {
            "connected": ils.connected if ils is not None else None,
            "latency_ms": ils.latency_ms if ils is not None else None,
            "error": safe_reason(ils.last_error) if ils is not None else "",
        }
        report["online"] = self._online
        report["out_of_service"] = self._out_of_service
        queue = self._queue_numbers()
        if queue is not None:
            report["offline_queue"] = queue
        if self._out_of_service is not None:
            report["status"] = "out_of_service"
        elif not self._online or any(h.state is not HealthState.UP for h in components.values()):
            report["status"] = "degraded"
        else:
            report["status"] = "ok"
        return report

    def _queue_numbers(self) -> dict[str, float] | None:
        numbers: dict[str, float] = {}
        for metric in self.registry.collect():
            if metric.name in ("kiosk_offline_queue_depth", "kiosk_offline_queue_oldest_age_seconds",
                               "kiosk_exceptions_pending"):
                for sample in metric.samples:
                    numbers[metric.name.removeprefix("kiosk_")] = sample.value
        return numbers or None
