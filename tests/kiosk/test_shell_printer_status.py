"""The printer's status reaches the patron session as DeviceStatus and the health registry as health."""

from __future__ import annotations

import pytest

from kiosk.circulation.events import DeviceStatus, Event
from kiosk.circulation.session import PatronSessionMachine
from kiosk.config import CirculationSettings
from kiosk.hardware.health import DeviceHealth, HealthRegistry, HealthState
from kiosk.hardware.printer.device import EscposReceiptPrinter
from kiosk.hardware.printer.settings import PrinterSettings
from kiosk.hardware.printer.status import PAPER, PRINTER, OfflineCause, PaperSensor, PrinterFlags, PrinterState
from kiosk.hardware.printer.status import PrinterStatus as S
from kiosk.shell.printer_status import PrinterStatusListener, printer_event, printer_health


@pytest.mark.parametrize(
    ("status", "state", "reason"),
    [
        (S(PrinterState.READY), "ok", ""),
        (S(PrinterState.PAPER_LOW, "the paper roll is nearly empty"), "warning",
         "paper low: the paper roll is nearly empty"),
        (S(PrinterState.UNKNOWN, "not asked", queried=False), "warning", "unknown: not asked"),
        (S(PrinterState.UNKNOWN, "no answer"), "failed", "unknown: no answer"),
        (S(PrinterState.PAPER_OUT, "the paper roll is empty"), "failed", "paper out: the paper roll is empty"),
        (S(PrinterState.COVER_OPEN), "failed", "cover open"),
        (S(PrinterState.OFFLINE), "failed", "offline"),
        (S(PrinterState.ERROR), "failed", "error"),
        (S(PrinterState.ABSENT, "no device"), "failed", "absent: no device"),
    ],
)
def test_every_printer_state_becomes_the_event_the_core_decides_with(status: S, state: str, reason: str) -> None:
    assert printer_event(status) == DeviceStatus("printer", state, reason)
    health = printer_health(status)
    assert (health.component, health.reason) == ("printer", reason)
    assert health.usable is status.can_print  # staff's "up" and the core's "print offered" agree
    # and the core's flag follows exactly what the driver says about printing
    machine = PatronSessionMachine(CirculationSettings(pin_required=False))
    after, _ = machine.step(machine.start()[0], printer_event(status))
    assert after.printer_ok is status.can_print


def test_the_listener_feeds_every_runner_and_the_registry_even_when_one_fails() -> None:
    heard: list[Event] = []

    def refusing(event: Event) -> object:
        raise RuntimeError("runner closed")

    registry = HealthRegistry()
    listener = PrinterStatusListener(refusing, heard.append, health=registry)
    listener(S(PrinterState.PAPER_OUT, "the paper roll is empty"))
    assert heard == [DeviceStatus("printer", "failed", "paper out: the paper roll is empty")]
    assert registry.get("printer") == DeviceHealth("printer", HealthState.DOWN, "paper out: the paper roll is empty")
    listener(S(PrinterState.READY))
    assert heard[-1] == DeviceStatus("printer", "ok") and registry.get("printer").state is HealthState.UP


class StatusLink:
    """The printer's side of the line, answering DLE EOT with the bytes a printer would send."""

    def __init__(self) -> None:
        self.flags = PrinterFlags()
        self.cause = OfflineCause()
        self.paper = PaperSensor()

    def write(self, data: bytes) -> None:
        pass

    def ask(self, question: bytes, timeout: float) -> int | None:
        n = question[-1]
        if n == PRINTER:
            return self.flags.encode()
        if n == PAPER:
            return self.paper.encode()
        return self.cause.encode() if n == 2 else 0x12

    def close(self) -> None:
        pass


def test_a_printer_running_out_of_paper_takes_print_away_from_the_patron_session(tmp_path) -> None:
    machine = PatronSessionMachine(CirculationSettings(pin_required=False))
    state = machine.start()[0]
    events: list[Event] = []
    link = StatusLink()
    printer = EscposReceiptPrinter(
        PrinterSettings(connection="serial", device="/dev/null"), library="L",
        on_status=PrinterStatusListener(events.append), connect=lambda: link, cache=tmp_path,
    )
    printer.status()
    link.flags, link.cause, link.paper = PrinterFlags(offline=True), OfflineCause(paper_end_stop=True), PaperSensor(
        end=True)
    printer.status()
    printer.status()  # no change: no event
    assert events == [DeviceStatus("printer", "ok"),
                      DeviceStatus("printer", "failed", "paper out: the paper roll is empty")]
    for event in events:
        state, _ = machine.step(state, event)
    assert not state.printer_ok
