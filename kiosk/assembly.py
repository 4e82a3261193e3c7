"""One running kiosk, wired from its settings: the station machine, its runner, and every device.

Every part exists on its own and is tested on its own (the runner, the journaled gateway, the
drivers, the shell's feeds and listeners); this module is the one place that knows how they plug
together, so a kiosk process, the demo and the system tests all run the same wiring:

* the station machine (:mod:`kiosk.circulation.station`): the patron session or the returns bin,
  with staff mode, as one machine, driven by one :class:`~kiosk.runner.Runner`;
* the ILS: the :class:`~kiosk.ils.journaled.JournaledGateway` (journal, offline policy), opened by the
  runner, and an :class:`~kiosk.shell.ils_watch.IlsWatch` reporting the ILS and the offline queue;
* the RFID reader, shared by a :class:`~kiosk.hardware.rfid.watcher.TagWatcher` (the pad, or the
  returns chute's drops) and the security writes, tag programming and reader test;
* the barcode scanner, the receipt printer with its status, the mailer;
* the GPIO board (light tower, gate, returns slot and sensors) and the gate-alarm log, following the
  runner's steps; the core's ``OpenGate`` (a patron leaving with a loan, staff's "Open the gate")
  reaches the gate relay through the runner's outputs;
* at a returns bin, its memory (:mod:`kiosk.shell.returns_memory`): the bins' counts, the exceptions
  and the sorter's fault, read before the machine starts and written as they change.

Device health flows one way: every device reports into one
:class:`~kiosk.hardware.health.HealthRegistry`, and each change reaches the station as a
``DeviceStatus`` (staff mode's device rows, the printer offer, the out-of-service policy). A device
that is missing or unplugged never stops the station: it starts, the device is reported failed, and
it is tried again (the watcher reopens the reader, the :class:`~kiosk.hardware.health.Reprober`
restarts the scanner and re-asks the printer and GPIO).

What the UI needs is here too: ``subscribe`` (state changes, on the runner thread), ``on_signal``
(sound cues), ``submit``, ``snapshot`` and a settable ``kiosk_mode``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from kiosk.circulation.commands import Command
from kiosk.circulation.events import Event
from kiosk.circulation.returns import ReturnsBinMachine
from kiosk.circulation.session import PatronSessionMachine
from kiosk.circulation.staff import StaffMachine
from kiosk.circulation.station import KioskState, KioskStationMachine, ReturnsStationMachine, ReturnsStationState
from kiosk.config import Settings
from kiosk.hardware.barcode.base import Scanner
from kiosk.hardware.barcode.events import Scan, ScannerError, ScannerEvent, ScannerUnavailable
from kiosk.hardware.barcode.settings import rules_from, scanner_from
from kiosk.hardware.health import DeviceHealth, HealthRegistry, Reprober
from kiosk.hardware.rfid.readers.base import TagReader
from kiosk.hardware.rfid.readers.shared import SharedReader
from kiosk.hardware.rfid.settings import reader_from, scheme_from, watcher_settings_from
from kiosk.hardware.rfid.watcher import ReaderLost, ReaderRestored, StackChanged, StackStable, TagWatcher, WatcherEvent
from kiosk.ils.journaled import JournaledGateway
from kiosk.runner import Runner
from kiosk.shell.device_tests import DeviceTests
from kiosk.shell.gate_alarm import GateAlarmLog
from kiosk.shell.gpio_wiring import GpioShell, device_status
from kiosk.shell.ils_watch import IlsWatch
from kiosk.shell.inputs import ChuteFeed, scanner_feed, watcher_feed
from kiosk.shell.kiosk_mode import KioskMode
from kiosk.shell.outputs import (
    BinDiverter,
    Gate,
    Mailer,
    NoDiverter,
    NoGate,
    NoMailer,
    NoPrinter,
    Outputs,
    ReceiptPrinter,
)
from kiosk.shell.printer_status import PrinterStatusListener
from kiosk.shell.returns_memory import ReturnsMemory, memory_path
from kiosk.shell.tag_programming import TagProgrammer
from kiosk.shell.tag_security import TagSecurity
from kiosk.staff_pin import verifier
from kiosk.station_settings import station_languages
from kiosk.ui.i18n import receipt_wording

log = logging.getLogger("kiosk.assembly")

S = TypeVar("S", KioskState, ReturnsStationState)

READER = "reader"
SCANNER = "scanner"
PRINTER = "printer"
MAILER = "mailer"
#: How often the reprober tries a failed scanner or printer again (GPIO has its own setting).
REPROBE_SECONDS = 10.0
#: Bounds of the ILS watch's round: at least this often the offline queue is reported, at most.
ILS_WATCH_SECONDS = (0.2, 5.0)

StateListener = Callable[[Any], None]
SignalListener = Callable[[str], None]
StepObserver = Callable[[Event, Any, tuple[Command, ...]], None]


@dataclass(frozen=True)
class Devices:
    """Devices built by the caller instead of from the settings (tests, the demo). ``None`` builds
    from the settings. The station runs what it is given as its own: it starts and stops the reader
    (through the watcher) and the scanner; a printer or mailer given here is used but not closed.
    ``gpio_factory`` makes the gpiozero pin factory (the demo's ``MockFactory``)."""

    reader: TagReader | None = None
    scanner: Scanner | None = None
    printer: ReceiptPrinter | None = None
    mailer: Mailer | None = None
    gpio_factory: Callable[[], Any] | None = None


class _KioskModeRelay:
    """The runner's KioskMode, forwarding to whatever the station's ``kiosk_mode`` is now: the UI is
    built after the station, and may be replaced (a config reload) while the runner keeps running."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: KioskMode | None = None
        self.out_of_service = False

    @property
    def target(self) -> KioskMode | None:
        with self._lock:
            return self._target

    def attach(self, target: KioskMode | None) -> None:
        with self._lock:
            self._target = target
            on = self.out_of_service
        if target is not None and on:
            target.set_out_of_service(True)  # a late UI learns what staff already switched

    def set_out_of_service(self, on: bool) -> None:
        with self._lock:
            self.out_of_service = on
            target = self._target
        if target is not None:
            target.set_out_of_service(on)

    def leave(self) -> None:
        target = self.target
        if target is None:
            log.warning("staff asked to leave the kiosk, but no screen is attached to do it")
            return
        target.leave()


class _Listeners:
    """Callbacks to call in order, each failure logged and the rest still called."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self._callbacks: list[Callable[..., object]] = []

    def add(self, callback: Callable[..., object]) -> Callable[[], None]:
        with self._lock:
            self._callbacks.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return remove

    def __call__(self, *args: object) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(*args)
            except Exception:
                log.exception("%s listener %r failed", self._what, callback)


class Station(Generic[S]):
    """A kiosk's station, built by :meth:`from_settings`; :meth:`start` it, :meth:`close` it.

    ``kind`` is ``"self-check"`` (state :class:`KioskState`) or ``"returns-bin"``
    (:class:`ReturnsStationState`). The parts are attributes for staff tools and tests; the UI uses
    ``snapshot``, ``subscribe``, ``submit``, ``on_signal`` and ``kiosk_mode`` only.
    """

    def __init__(self, settings: Settings, kind: str) -> None:
        self.settings = settings
        self.kind = kind
        self.health = HealthRegistry()
        self._changed = _Listeners("state")
        self._signals = _Listeners("signal")
        self._steps = _Listeners("step")
        self._mode = _KioskModeRelay()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._closers: list[tuple[str, Callable[[], object]]] = []  # in the order opened
        # the parts, filled in by from_settings
        self.runner: Runner[S]
        self.gateway: JournaledGateway
        self.gpio: GpioShell
        self.alarms: GateAlarmLog
        self.reader: TagReader | None = None
        self.watcher: TagWatcher | None = None
        self.chute: ChuteFeed | None = None
        self.scanner: Scanner | None = None
        self.printer: ReceiptPrinter = NoPrinter()
        self.mailer: Mailer = NoMailer()
        self.ils_watch: IlsWatch | None = None
        self.reprober: Reprober | None = None
        self.returns_memory: ReturnsMemory | None = None
        self._printer_listener: PrinterStatusListener | None = None
        self._printer_stop = threading.Event()
        self._printer_thread: threading.Thread | None = None
        self._scanner_feed: Callable[[ScannerEvent], None] | None = None
        self._unsubscribe_health: Callable[[], None] | None = None
        self._build_problems: list[DeviceHealth] = []  # devices that could not even be built

    # -- building -----------------------------------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: Settings, *, devices: Devices | None = None) -> Station[Any]:
        """The station ``settings`` describe, built but not started: nothing is opened yet but the
        journal (:class:`~kiosk.sync.journal.JournalError` if it cannot be: a kiosk that cannot record
        transactions must not take them) and, at a returns bin, its memory beside the journal (which
        never stops the bin: an unreadable one is set aside and the bin starts empty). A device whose
        driver cannot be built (a missing optional package, an unreadable logo) is reported failed at
        :meth:`start`; the station runs without it.
        """
        devices = devices or Devices()
        kind = settings.station.kind
        station: Station[Any] = cls(settings, kind)
        station.gateway = JournaledGateway.from_settings(settings)
        try:
            station._build(devices)
        except BaseException:
            station._close_memory()
            station.gateway.close()
            raise
        return station

    def _build(self, devices: Devices) -> None:
        settings = self.settings
        languages = station_languages(settings.site.language, settings.station)
        staff = _staff_machine(settings)
        machine: KioskStationMachine | ReturnsStationMachine
        if self.kind == "returns-bin":
            # The bins are as full as they were when the process stopped: start from what was remembered.
            self.returns_memory = ReturnsMemory.open(memory_path(settings.journal.path),
                                                     busy_timeout=settings.journal.busy_timeout_seconds)
            self.on_step(self.returns_memory.observe)
            bin_machine = ReturnsBinMachine(settings.returns, remembered=self.returns_memory.remembered)
            machine = ReturnsStationMachine(bin_machine, staff, offline_mode=settings.offline.mode,
                                            languages=languages)
        else:
            # Receipts leave the kiosk as text, so they are worded (and their due dates written) in
            # the patron's language from the same catalogs as the screen; the catalogs need no Kivy.
            session = PatronSessionMachine(settings.circulation, languages=languages, wording=receipt_wording,
                                           gate=opens_on_request(settings))
            machine = KioskStationMachine(session, staff, offline_mode=settings.offline.mode, languages=languages)

        self.alarms = GateAlarmLog()
        self.gpio = GpioShell(settings.gpio, health=self.health, alarms=self.alarms, factory=devices.gpio_factory)
        self.printer = devices.printer or self._build_printer()
        self.mailer = devices.mailer or self._build_mailer()
        self.reader = self._build_reader(devices.reader)
        shared = SharedReader(self.reader) if self.reader is not None else None
        scheme = scheme_from(settings.rfid)
        tags = TagSecurity(shared, scheme, attempts=settings.rfid.write_attempts) if shared is not None else None
        programmer = None
        if shared is not None and self.kind == "self-check":
            programmer = TagProgrammer(shared, scheme, owner_library=settings.rfid.owner_library or None,
                                       model=settings.rfid.model)
        diverter: BinDiverter = self.gpio.diverter if settings.gpio.diverter_bins else NoDiverter()
        gate: Gate = self.gpio.gate if settings.gpio.gate_pin is not None else NoGate()
        outputs = Outputs(printer=self.printer, mailer=self.mailer, diverter=diverter, gate=gate)
        self.runner = Runner(
            machine,  # type: ignore[arg-type]
            gateway=self.gateway, tags=tags, outputs=outputs, programmer=programmer,
            devices=DeviceTests(shared, self.printer), kiosk_mode=self._mode,
            on_change=self._changed, on_step=self._stepped, on_signal=self._signals,
            name="returns" if self.kind == "returns-bin" else "kiosk",
        )
        if shared is not None:
            if self.kind == "returns-bin":
                self.chute = ChuteFeed(self.gpio.chute_submit)
                feed: Callable[[WatcherEvent], None] = self.chute
            else:
                feed = watcher_feed(self.runner.submit)
            self.watcher = TagWatcher(shared, settings=watcher_settings_from(settings.rfid),
                                      on_event=self._reader_events(feed))
            if programmer is not None:
                programmer.forget = self.watcher.forget
        self.scanner = self._build_scanner(devices.scanner)
        if self.scanner is not None:
            self._scanner_feed = self._scanner_events(scanner_feed(self.runner.submit, rules_from(settings.scanner)))
        interval = min(max(settings.offline.probe_min_seconds, ILS_WATCH_SECONDS[0]), ILS_WATCH_SECONDS[1])
        self.ils_watch = IlsWatch(self.gateway, self.gateway.journal, [self.runner.submit], interval=interval)

    def _build_printer(self) -> ReceiptPrinter:
        printer_settings = self.settings.printer
        if printer_settings.connection == "none":
            return NoPrinter()
        from kiosk.hardware.printer.device import EscposReceiptPrinter  # python-escpos loads only when used

        self._printer_listener = PrinterStatusListener(health=self.health, component=PRINTER)
        zone = self.settings.site.timezone
        try:
            return EscposReceiptPrinter(
                printer_settings, library=self.settings.site.name, on_status=self._printer_listener,
                now=(lambda: datetime.now(ZoneInfo(zone))) if zone else (lambda: datetime.now().astimezone()),
            )
        except Exception as exc:
            self._printer_listener = None
            self._build_problems.append(DeviceHealth.down(PRINTER, f"cannot use the printer: {exc}"))
            return NoPrinter()

    def _build_mailer(self) -> Mailer:
        smtp = self.settings.smtp
        if not smtp.host:
            return NoMailer()
        from kiosk.hardware.mailer import SmtpMailer

        printer = self.settings.printer
        try:
            return SmtpMailer(smtp, library=self.settings.site.name, footer=printer.footer,
                              date_format=printer.date_format)
        except Exception as exc:
            self._build_problems.append(DeviceHealth.down(MAILER, f"cannot send e-mail: {exc}"))
            return NoMailer()

    def _build_reader(self, given: TagReader | None) -> TagReader | None:
        if given is not None:
            return given
        try:
            return reader_from(self.settings.rfid)
        except Exception as exc:  # a driver's package missing (pyscard): no reader, and staff are told
            self._build_problems.append(DeviceHealth.down(READER, f"cannot use the reader: {exc}"))
            return None

    def _build_scanner(self, given: Scanner | None) -> Scanner | None:
        if given is not None:
            return given
        try:
            return scanner_from(self.settings.scanner)
        except Exception as exc:  # evdev not installed
            self._build_problems.append(DeviceHealth.down(SCANNER, f"cannot use the scanner: {exc}"))
            return None

    # -- device health as the station sees it -------------------------------------------------------

    def _reader_events(self, feed: Callable[[WatcherEvent], None]) -> Callable[[WatcherEvent], None]:
        """The watcher's events to ``feed``, and the reader's health from them: lost is down; any
        inventory (a stack changed or settled) or a reopen is up."""

        def on_event(event: WatcherEvent) -> None:
            if isinstance(event, ReaderLost):
                self.health.report(DeviceHealth.down(READER, event.reason))
            elif isinstance(event, ReaderRestored | StackChanged | StackStable):
                self.health.report(DeviceHealth.up(READER))
            feed(event)

        return on_event

    def _scanner_events(self, feed: Callable[[ScannerEvent], None]) -> Callable[[ScannerEvent], None]:
        def on_event(event: ScannerEvent) -> None:
            if isinstance(event, ScannerUnavailable):
                self.health.report(DeviceHealth.down(SCANNER, event.reason))
            elif isinstance(event, Scan):
                self.health.report(DeviceHealth.up(SCANNER))
            feed(event)

        return on_event

    def _start_scanner(self) -> DeviceHealth:
        """Start the scanner unless it runs; its health either way (the reprober's probe too)."""
        scanner, feed = self.scanner, self._scanner_feed
        assert scanner is not None and feed is not None
        if getattr(scanner, "running", False):
            return DeviceHealth.up(SCANNER)
        try:
            scanner.start(feed)
        except ScannerError as exc:
            health = DeviceHealth.down(SCANNER, str(exc))
        except Exception as exc:  # a driver bug: the kiosk still runs, and staff see the scanner failed
            log.exception("starting the scanner failed")
            health = DeviceHealth.down(SCANNER, f"driver error: {exc!r}")
        else:
            health = DeviceHealth.up(SCANNER)
        self.health.report(health)
        return health

    def _watch_printer(self) -> None:
        watch = getattr(self.printer, "watch", None)
        if callable(watch):
            watch(self._printer_stop)

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> Station[S]:
        """Start everything: the runner (which opens the ILS), the GPIO board, the printer's status
        watch, the reader's watcher, the scanner, the ILS watch and the reprober. Returns at once;
        devices open on their own threads and report how they are."""
        with self._lock:
            if self._started or self._closed:
                raise RuntimeError("station already started" if self._started else "station closed")
            self._started = True
        try:
            self._start()
        except BaseException:
            self.close()  # what did start is closed again: a failed start leaves nothing running
            raise
        return self

    def _start(self) -> None:
        self.runner.start()
        self._opened("runner", self.runner.close)
        self._unsubscribe_health = self.health.subscribe(lambda h: self.runner.submit(device_status(h)))
        self._opened("health", self._unsubscribe_health)
        for problem in self._build_problems:
            self.health.report(problem)
        self.gpio.start(self.runner.submit)
        self._opened("gpio", self.gpio.close)
        probes: list[tuple[str, Callable[[], object], float]] = []  # what the reprober retries
        if callable(getattr(self.printer, "watch", None)):
            self._printer_thread = threading.Thread(target=self._watch_printer, name="printer-status", daemon=True)
            self._printer_thread.start()
            self._opened("printer", self._close_printer)
            status = getattr(self.printer, "status", None)
            if callable(status):
                probes.append((PRINTER, status, REPROBE_SECONDS))
        if self.watcher is not None:
            self.watcher.start()
            self._opened("reader", self.watcher.stop)
        if self.scanner is not None:
            self._start_scanner()
            self._opened("scanner", self._stop_scanner)
            probes.append((SCANNER, self._start_scanner, REPROBE_SECONDS))
        if self.ils_watch is not None:
            self.ils_watch.start()
            self._opened("ils watch", self.ils_watch.close)
        if self.gpio.board.configured:
            probes.append(("gpio", self.gpio.probe, self.settings.gpio.probe_seconds))
        self.reprober = Reprober(self.health, REPROBE_SECONDS)
        self._opened("reprober", self.reprober.close)
        for component, probe, interval in probes:
            self.reprober.add(component, probe, interval)

    def _opened(self, name: str, close: Callable[[], object]) -> None:
        with self._lock:
            self._closers.append((name, close))

    def _close_printer(self) -> None:
        self._printer_stop.set()
        if self._printer_thread is not None:
            self._printer_thread.join(timeout=5)
        close = getattr(self.printer, "close", None)
        if callable(close):
            close()

    def _stop_scanner(self) -> None:
        assert self.scanner is not None
        self.scanner.close()

    def close(self) -> None:
        """Close everything this station opened, in reverse order, then the returns bin's memory (its
        last change written once the runner has stopped), the ILS and the journal. A part that fails to
        close is logged and the rest still close. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            closers, self._closers = self._closers, []
        for name, close in reversed(closers):
            try:
                close()
            except Exception:
                log.exception("closing the %s failed", name)
        self._close_memory()
        try:
            self.gateway.close()
        except Exception:
            log.exception("closing the ILS gateway failed")

    def _close_memory(self) -> None:
        if self.returns_memory is None:
            return
        try:
            self.returns_memory.close()
        except Exception:
            log.exception("closing the returns bin's memory failed")

    def __enter__(self) -> Station[S]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the UI and the shell use --------------------------------------------------------------

    def submit(self, event: Event) -> bool:
        """Queue an event (thread-safe); False once the station is closed."""
        return self.runner.submit(event)

    def snapshot(self) -> S:
        return self.runner.snapshot()

    def wait_for(self, predicate: Callable[[S], bool], timeout: float) -> S:
        """Block until the state satisfies ``predicate`` (scripts, tests); TimeoutError otherwise."""
        return self.runner.wait_for(predicate, timeout)

    def subscribe(self, callback: Callable[[S], None]) -> Callable[[], None]:
        """``callback(state)`` on every state change, on the runner thread (a Kivy UI hands it on
        with ``Clock.schedule_once``). Returns the function that unsubscribes."""
        return self._changed.add(callback)

    def on_signal(self, callback: SignalListener) -> Callable[[], None]:
        """``callback(kind)`` for each sound/light cue ("success", "attention", "error")."""
        return self._signals.add(callback)

    def on_step(self, observer: StepObserver) -> Callable[[], None]:
        """``observer(event, state, commands)`` after every step (metrics, logs), after the GPIO
        shell and the gate-alarm log have seen it."""
        return self._steps.add(observer)

    @property
    def kiosk_mode(self) -> KioskMode | None:
        """What carries out staff's out-of-service switch and "leave the kiosk" (the UI)."""
        return self._mode.target

    @kiosk_mode.setter
    def kiosk_mode(self, mode: KioskMode | None) -> None:
        self._mode.attach(mode)

    def subscribe_signals(self, callback: SignalListener) -> Callable[[], None]:
        """:meth:`on_signal` under the name the Kivy app looks for."""
        return self.on_signal(callback)

    # Fixed facts the screens need (kiosk.ui.site.Site.of reads them once).

    @property
    def site_name(self) -> str:
        return self.settings.site.name

    @property
    def site_language(self) -> str:
        return self.settings.site.language

    @property
    def ui_settings(self) -> Any:
        return self.settings.ui

    @property
    def checkin_enabled(self) -> bool:
        return self.settings.circulation.checkin_enabled

    @property
    def more_time_seconds(self) -> float:
        return self.settings.circulation.more_time_seconds

    def device_health(self) -> dict[str, DeviceHealth]:
        """Every device's health now, by component."""
        return self.health.snapshot()

    def _stepped(self, event: Event, state: object, commands: tuple[Command, ...]) -> None:
        try:
            self.gpio.on_step(event, state, commands)
        except Exception:
            log.exception("the GPIO shell failed on a step")
        self._steps(event, state, commands)


def _staff_machine(settings: Settings) -> StaffMachine:
    """Staff mode with the site's PIN check and timings (``[staff]``); without a PIN hash every PIN
    is refused, which is the safe default (:func:`kiosk.staff_pin.verifier`). "Open the gate" is
    offered where a gate relay opens on request ("pulse" mode); a held gate is already open."""
    staff = settings.staff
    return StaffMachine(verifier(settings), max_attempts=staff.max_attempts, lockout_seconds=staff.lockout_seconds,
                        idle_seconds=staff.idle_seconds, gate=opens_on_request(settings))


def opens_on_request(settings: Settings) -> bool:
    """An exit barrier is wired whose relay opens on request ("pulse" mode): the patron leaving with a
    loan and staff's "Open the gate" ask it to. A "hold" gate is open while the kiosk is in service."""
    return settings.gpio.gate_pin is not None and settings.gpio.gate_mode == "pulse"


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout``; for scripts that wait on the world (paper)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


__all__ = ["Devices", "Station", "wait_until"]
