"""The demo's world: a simulated library system and simulated devices the real kiosk drives.

:class:`DemoHardware` starts, each speaking its device's own protocol so the kiosk's production
drivers are what runs:

* the simulated ILS, a real SIP2 server on loopback (``hardware_mocks.ils``);
* a FEIG stack reader on a pty (``hardware_mocks.feig_pty``) with a
  :class:`~hardware_mocks.pad.VirtualPad` that puts the sample library's books and cards on it as
  ISO 28560 tags;
* a USB-serial barcode scanner on a pty, and an ESC/POS receipt printer on a pty whose paper is
  decoded back to text;
* gpiozero ``MockFactory`` pins for the gate relay, its alarm and the light tower.

:meth:`DemoHardware.settings` gives the kiosk's settings pointing at all of it (a temporary journal
included), :meth:`DemoHardware.devices` the one thing settings cannot name (the mock pin factory),
so ``Station.from_settings(hw.settings(), devices=hw.devices())`` is the demo kiosk. The panel the
demo shows beside the screen drives this world through
:class:`~kiosk.demo.panel_api.DemoPanelApi`, which this class implements.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hardware_mocks.feig_pty import FeigPtySimulator
from hardware_mocks.gpio import MockPins, wired_factory
from hardware_mocks.ils import IlsSimulator, load_sample_data
from hardware_mocks.ils import scenarios as S
from hardware_mocks.pad import DEMO_OWNER, VirtualPad
from hardware_mocks.printer_pty import SimulatedPrinter
from hardware_mocks.scanner import SimulatedSerialScanner
from kiosk.assembly import Devices
from kiosk.config import Layer, Settings, defaults_layer, parse_layers
from kiosk.demo.panel_api import Listener, SampleTag
from kiosk.hardware.gpio_settings import GpioSettings
from kiosk.hardware.rfid.security import SecurityScheme
from kiosk.staff_pin import hash_pin

log = logging.getLogger("kiosk.demo")

#: The staff PIN the demo kiosk accepts (the demo's own hash of it is in its settings).
DEMO_STAFF_PIN = "2468"
#: The demo's installation: a gate relay held open while the kiosk is in service, its alarm, and a
#: light tower, on a Pi 3B-style header.
DEMO_GPIO = {
    "gate_pin": 17, "gate_mode": "hold", "gate_alarm_pin": 27,
    "light_green_pin": 22, "light_amber_pin": 23, "light_red_pin": 24,
}
#: A returns bin adds the slot lock and the diverter (hardware_mocks.gpio's demo installation).
DEMO_RETURNS_GPIO = {
    "slot_pin": 25, "diverter_hold_seconds": 0.2,
    "diverter_bins": {"holds": [5], "transit": [6], "reshelve": [], "exceptions": [5, 6]},
}
#: How often the panel's view of the world is compared with the last one it was told about.
WATCH_SECONDS = 0.1


def _toml(value: Any) -> str:
    """One TOML value (the demo's overrides are strings, numbers, booleans, arrays and tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def toml_document(tables: Mapping[str, Mapping[str, Any]]) -> bytes:
    lines: list[str] = []
    for table, keys in tables.items():
        lines.append(f"[{table}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in keys.items())
        lines.append("")
    return "\n".join(lines).encode("utf-8")


def _merge(base: dict[str, dict[str, Any]], extra: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    merged = {table: dict(keys) for table, keys in base.items()}
    for table, keys in extra.items():
        merged.setdefault(table, {}).update(keys)
    return merged


class DemoHardware:
    """The simulated world (see the module docstring). :meth:`start` it, :meth:`stop` it (or use
    ``with``); stop the station running on it first. ``scheme`` is the gates' security scheme the
    items are labelled with (the kiosk's default when not given). ``returns_bin`` makes it an
    unattended returns bin: the pad is the chute's reader, and GPIO adds the slot and the diverter.
    """

    def __init__(self, *, scheme: SecurityScheme | None = None, returns_bin: bool = False) -> None:
        self.scheme = scheme or SecurityScheme()
        self.returns_bin = returns_bin
        self.gpio = {**DEMO_GPIO, **(DEMO_RETURNS_GPIO if returns_bin else {})}
        bins = self.gpio.get("diverter_bins", {})
        self.gpio_settings = GpioSettings(**{**self.gpio, "diverter_bins": {b: tuple(p) for b, p in bins.items()}})
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self.ils: IlsSimulator | None = None
        self.reader: FeigPtySimulator | None = None
        self.pad: VirtualPad | None = None
        self.scanner: SimulatedSerialScanner | None = None
        self.printer: SimulatedPrinter | None = None
        self.factory: Any = None
        self.pins: MockPins | None = None
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None
        self._last_view: object = None
        self._books, self._cards = _sample_tags()
        self._pin_hash = ""  # made once: hashing is slow on purpose

    # -- life cycle ---------------------------------------------------------------------------------

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("the demo hardware is not started")
        return Path(self._workdir.name)

    def start(self) -> DemoHardware:
        if self._workdir is not None:
            raise RuntimeError("the demo hardware is already started")
        self._workdir = tempfile.TemporaryDirectory(prefix="kiosk-demo-")
        try:
            self.ils = IlsSimulator(host="127.0.0.1", port=0, accounts={S.LOGIN_USER: S.LOGIN_PASSWORD}).start()
            self.reader = FeigPtySimulator(link_path=str(self.workdir / "rfid")).start()
            self.pad = VirtualPad(self.reader, scheme=self.scheme)
            self.scanner = SimulatedSerialScanner(self.workdir / "scanner")
            self.printer = SimulatedPrinter(paper_width="80mm", link_path=str(self.workdir / "printer")).start()
            self.factory = wired_factory()
            self.pins = MockPins(self.factory, self.gpio_settings)
            self.pins.rest()
            self._stop.clear()
            self._watch = threading.Thread(target=self._watch_world, name="demo-panel-watch", daemon=True)
            self._watch.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every simulation and remove the temporary files (journal included). Idempotent."""
        self._stop.set()
        if self._watch is not None:
            self._watch.join(timeout=5)
            self._watch = None
        steps: list[tuple[str, Callable[[], object]]] = []
        if self.printer is not None:
            steps.append(("printer", self.printer.stop))
        if self.scanner is not None:
            steps.append(("scanner", self.scanner.close))
        if self.reader is not None:
            steps.append(("reader", self.reader.stop))
        if self.ils is not None:
            steps.append(("ILS", self.ils.stop))
        if self.factory is not None:
            steps.append(("GPIO pins", self.factory.close))
        for name, step in steps:
            try:
                step()
            except Exception:
                log.exception("stopping the simulated %s failed", name)
        self.printer = self.scanner = self.reader = self.pad = self.ils = None
        self.factory = self.pins = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> DemoHardware:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the kiosk is pointed at ---------------------------------------------------------------

    def overrides(self) -> dict[str, dict[str, Any]]:
        """The settings that point a kiosk at this world, as TOML tables."""
        assert self.ils is not None and self.reader is not None and self.printer is not None
        host, port = self.ils.host, self.ils.port  # known while the ILS is down too
        return {
            "sip2": {"host": host, "port": port, "tls": False, "allow_plain_tcp": True,
                     "username": S.LOGIN_USER, "password": S.LOGIN_PASSWORD, "timeout_seconds": 3.0},
            "journal": {"path": str(self.workdir / "journal.sqlite"), "lost_answer_wait_seconds": 0.0},
            "offline": {"probe_min_seconds": 0.5, "probe_max_seconds": 2.0},
            # 8N1, not the FEIG default 8E1: this kernel's pty takes even parity only once (after the
            # first close tcsetattr refuses PARENB with EINVAL), so a reader the kiosk reopens after a
            # missed reply would be gone for good. The simulation ignores parity; real adapters take 8E1.
            "rfid": {"driver": "feig", "port": self.reader.path, "owner_library": DEMO_OWNER, "feig_parity": "N"},
            "scanner": {"driver": "serial", "device": str(self.workdir / "scanner"),
                        "baudrate": self.scanner.baudrate if self.scanner else 9600},
            "printer": {"connection": "serial", "device": self.printer.path, "status_interval_seconds": 1.0},
            "gpio": dict(self.gpio),
            "staff": {"pin_hash": self._staff_pin_hash()},
            "station": {"kind": "returns-bin" if self.returns_bin else "self-check"},
        }

    def _staff_pin_hash(self) -> str:
        if not self._pin_hash:
            self._pin_hash = hash_pin(DEMO_STAFF_PIN)
        return self._pin_hash

    def layer(self, extra: Mapping[str, Mapping[str, Any]] | None = None) -> Layer:
        """The overrides (and ``extra`` tables on top) as a configuration layer. It holds the demo's
        staff PIN hash and lives only in memory, so it counts as a file only its owner reads."""
        tables = _merge(self.overrides(), extra or {})
        return Layer("demo hardware", toml_document(tables), kind="config", world_readable=False)

    def settings(
        self, extra: Mapping[str, Mapping[str, Any]] | None = None, *, base: Sequence[Layer] | None = None
    ) -> Settings:
        """The kiosk's validated settings: ``base`` layers (the package defaults when not given),
        then this world's overrides, then ``extra`` (e.g. ``{"offline": {"mode": "none"}}``)."""
        layers = [*(base if base is not None else [defaults_layer()]), self.layer(extra)]
        return parse_layers(layers).settings

    def devices(self) -> Devices:
        """What settings cannot name: the mock GPIO pin factory."""
        factory = self.factory
        return Devices(gpio_factory=lambda: factory)

    # -- faults a test or the demo can stage -------------------------------------------------------

    def unplug_reader(self) -> None:
        """Pull the reader's USB plug: its pty goes, and so does the by-id style link to it."""
        assert self.reader is not None
        self.reader.unplug()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.reader.path)

    def plug_reader(self) -> None:
        assert self.reader is not None
        self.reader.start()

    # -- the panel's API (kiosk.demo.panel_api.DemoPanelApi) ----------------------------------------

    def books(self) -> list[SampleTag]:
        return list(self._books.values())

    def cards(self) -> list[SampleTag]:
        return list(self._cards.values())

    def on_pad(self) -> frozenset[str]:
        with self._lock:
            return frozenset(tag.barcode for tag in self._pad().tags_on_pad())

    def place(self, id: str) -> None:
        with self._lock:
            if id in self._cards:
                self._pad().place_patron_card(id)
            elif id in self._books:
                self._pad().place_set(id)
            else:
                raise KeyError(f"no sample book or card {id!r}")
        self._notify()

    def lift(self, id: str) -> None:
        with self._lock:
            self._pad().remove(id)
        self._notify()

    def scan(self, barcode: str) -> None:
        assert self.scanner is not None
        self.scanner.scan(barcode)

    def receipts(self) -> list[str]:
        printer = self.printer
        return [] if printer is None else [sheet.text() for sheet in list(printer.sheets)]

    def outputs(self) -> dict[str, bool]:
        pins = self.pins
        if pins is None:
            return {"gate_open": False, "green": False, "amber": False, "red": False}
        return {"gate_open": pins.gate(), **pins.lights()}

    def ils_online(self) -> bool:
        return self.ils is not None and self.ils.running

    def set_ils_online(self, online: bool) -> None:
        assert self.ils is not None
        if online:
            self.ils.start()  # back on the same port
        else:
            self.ils.stop()
        self._notify()

    def set_paper_out(self, out: bool) -> None:
        assert self.printer is not None
        self.printer.set_state(paper="out" if out else "ok")
        self._notify()

    def paper_out(self) -> bool:
        return self.printer is not None and self.printer.paper == "out"

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    # -- inside -------------------------------------------------------------------------------------

    def _pad(self) -> VirtualPad:
        if self.pad is None:
            raise RuntimeError("the demo hardware is not started")
        return self.pad

    def _view(self) -> object:
        """What the panel shows, to compare: a change in it is news for the listeners."""
        sheets = len(self.printer.sheets) if self.printer is not None else 0
        return self.on_pad(), sheets, tuple(sorted(self.outputs().items())), self.ils_online(), self.paper_out()

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
            self._last_view = self._view() if self.pad is not None else None
        for listener in listeners:
            try:
                listener()
            except Exception:
                log.exception("demo panel listener %r failed", listener)

    def _watch_world(self) -> None:
        """What changes without the panel doing it (the printer cuts a receipt, a light switches)."""
        while not self._stop.wait(WATCH_SECONDS):
            try:
                with self._lock:
                    changed = self.pad is not None and self._view() != self._last_view
            except Exception:
                log.exception("watching the demo hardware failed")
                continue
            if changed:
                self._notify()


def _sample_tags() -> tuple[dict[str, SampleTag], dict[str, SampleTag]]:
    """The shelf the panel offers (free books first, then every named scenario item) and the
    sample patrons' cards (labelled with their PINs: it is a demo)."""
    data = load_sample_data()
    items = {item["id"]: item for item in data["items"]}
    named = [value for name, value in vars(S).items() if name.startswith("ITEM_") and isinstance(value, str)]
    books: dict[str, SampleTag] = {}
    for item_id in (*S.AVAILABLE_BOOKS[:6], *named):
        item = items.get(item_id)
        if item is not None and item_id not in books:
            books[item_id] = SampleTag(item_id, item["title"], "item", int(item.get("parts", 1)))
    cards = {
        patron.id: SampleTag(patron.id, f"{patron.name} (PIN {patron.pin})", "card")
        for name, patron in vars(S).items() if name.startswith("PATRON_") and isinstance(patron, S.SamplePatron)
    }
    return books, cards
