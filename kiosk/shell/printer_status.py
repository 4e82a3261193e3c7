"""The receipt printer's real-time status (DLE EOT) as core events and health.

The printer driver calls ``on_status`` with every status that differs from the last one; this
module turns it into the ``DeviceStatus("printer", ...)`` the patron session decides with (it offers
"print" only while the printer can print) and staff mode shows, and into the
:class:`~kiosk.hardware.health.DeviceHealth` the health registry and the metrics keep.

Wiring (the printer's ``on_status`` is called holding the printer's lock, so the listener only
queues: ``Runner.submit`` and ``HealthRegistry.report`` both return at once)::

    listener = PrinterStatusListener(session_runner.submit, health=registry)
    printer = EscposReceiptPrinter(settings, library=..., on_status=listener)
    listener(printer.status())  # the first report, so the kiosk does not start on a guess
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kiosk.circulation.events import DeviceStatus, Event
from kiosk.hardware.health import DeviceHealth, HealthRegistry
from kiosk.hardware.printer.status import PrinterStatus

log = logging.getLogger(__name__)

COMPONENT = "printer"

Submit = Callable[[Event], object]


def printer_event(status: PrinterStatus, component: str = COMPONENT) -> DeviceStatus:
    """The core's event for a printer status: "ok" when ready, "warning" while it can still print
    (paper low, or a one-way printer that cannot tell), "failed" otherwise — unknown included."""
    state, reason = status.health
    return DeviceStatus(component, state, reason)


def printer_health(status: PrinterStatus, component: str = COMPONENT) -> DeviceHealth:
    state, reason = status.health
    return DeviceHealth.from_status(component, state, reason)


class PrinterStatusListener:
    """The printer's ``on_status``: each status goes to every ``submit`` (the patron session runner,
    and a returns bin's that prints slips) and to the health registry. A listener that raises is
    logged and the others still hear: the printer must never fail because a listener did."""

    def __init__(self, *submits: Submit, health: HealthRegistry | None = None,
                 component: str = COMPONENT) -> None:
        self._submits = submits
        self._health = health
        self.component = component

    def __call__(self, status: PrinterStatus) -> None:
        event = printer_event(status, self.component)
        for submit in self._submits:
            try:
                submit(event)
            except Exception:
                log.exception("printer status: a runner refused %s", event)
        if self._health is not None:
            try:
                self._health.report(printer_health(status, self.component))
            except Exception:
                log.exception("printer status: the health registry refused %s", event)
