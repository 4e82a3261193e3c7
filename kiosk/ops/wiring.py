"""Attach the operations parts (metrics, /metrics + /healthz server, alerts, the transaction log
lines) to a running station.

A station (``kiosk/assembly.py``) wires this with one call; everything it needs is passed as plain
values and callables, so this module does not depend on how the station is built::

    ops = attach_ops(station.settings, health=station.health, journal=station.gateway.journal,
                     observe_steps=station.on_step)
    ...
    ops.close()

``observe_steps`` registers an ``(event, state, commands)`` observer (the runner's ``on_step``; each
step's state is observed with it). ``subscribe`` registers a state callback, for a station that only
offers state changes. With neither, the station forwards by hand: ``ops.observe_step(event, state,
commands)``, ``ops.observe_state(state)``. Nothing here raises for the kiosk's sake: a metrics port that is taken
is logged, and the kiosk serves patrons without its endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiosk.hardware.health import DeviceHealth, HealthRegistry
from kiosk.ops.alerts import AlertMonitor, AlertSender, kiosk_name
from kiosk.ops.metrics import KioskMetrics
from kiosk.ops.server import OpsServer
from kiosk.ops.steplog import StepLog

if TYPE_CHECKING:
    from kiosk.config import Settings

log = logging.getLogger("kiosk.ops")

StepObserver = Callable[[object, object, tuple[object, ...]], None]


@dataclass
class Ops:
    """What :func:`attach_ops` started; :meth:`close` stops it all (idempotent)."""

    metrics: KioskMetrics
    server: OpsServer | None = None
    alerts: AlertMonitor | None = None
    steplog: StepLog | None = None
    _undo: list[Callable[[], object]] = field(default_factory=list)

    def observe_step(self, event: object, state: object, commands: Iterable[object]) -> None:
        commands = tuple(commands)
        self.metrics.observe_step(event, state, commands)
        if self.steplog is not None:
            self.steplog(event, state, commands)
        if self.alerts is not None:
            self.alerts.observe_step(event, state, commands)

    def observe_state(self, state: object) -> None:
        self.metrics.observe_state(state)
        if self.alerts is not None:
            self.alerts.observe_state(state)

    def observe_health(self, health: DeviceHealth) -> None:
        self.metrics.observe_health(health)
        if self.alerts is not None:
            self.alerts.observe_health(health)

    def close(self) -> None:
        for undo in reversed(self._undo):
            try:
                undo()
            except Exception:
                log.exception("ops: closing %r failed", undo)
        self._undo.clear()
        if self.alerts is not None:
            self.alerts.close()
            self.alerts = None
        if self.server is not None:
            self.server.close()
            self.server = None


def build_alerts(settings: Settings, journal: Any = None) -> AlertMonitor | None:
    """The alert monitor the settings ask for, not started; None when alerts go nowhere."""
    alerts = settings.alerts
    mailer = None
    if alerts.email_to and settings.smtp.host:
        from kiosk.hardware.mailer import SmtpMailer

        mailer = SmtpMailer(settings.smtp, library=settings.site.name)
    sender = AlertSender(where=kiosk_name(settings.site.name, settings.site.branch),
                         webhook_url=alerts.webhook_url, email_to=alerts.email_to, mailer=mailer,
                         timeout=alerts.timeout_seconds)
    if not sender.configured:
        return None
    return AlertMonitor(alerts, sender, journal=journal)


def attach_ops(
    settings: Settings,
    *,
    health: HealthRegistry | None = None,
    journal: Any = None,
    observe_steps: Callable[[StepObserver], object] | None = None,
    subscribe: Callable[[Callable[[Any], None]], object] | None = None,
    serve: bool = True,
) -> Ops:
    """Metrics always; the HTTP server when ``[metrics] listen`` is set (and ``serve``); alerts when
    ``[alerts]`` names a webhook or an address. Returns the handle to observe and close them."""
    from kiosk.config import config_hash

    metrics = KioskMetrics(config_hash=config_hash(settings), branch=settings.site.branch, journal=journal)
    ops = Ops(metrics, steplog=StepLog())
    ops.alerts = build_alerts(settings, journal)
    if ops.alerts is not None:
        ops.alerts.start()
    if health is not None:
        _remember(ops, health.subscribe(ops.observe_health))
    if observe_steps is not None:
        _remember(ops, observe_steps(ops.observe_step))
    if subscribe is not None:
        _remember(ops, subscribe(ops.observe_state))
    if serve and settings.metrics.listen:
        server = OpsServer(settings.metrics.listen, metrics)
        try:
            ops.server = server.start()
        except OSError as exc:
            log.error("metrics: cannot listen on %s (%s): no /metrics or /healthz; set [metrics] listen",
                      settings.metrics.listen, exc)
    return ops


def _remember(ops: Ops, undo: object) -> None:
    """Keep an unsubscribe function, when the registration returned one."""
    if callable(undo):
        ops._undo.append(undo)
