"""The library a simulated day runs in: the ILS, the devices, and the kiosks' configuration.

Everything here lives in the driver's process and speaks the devices' own protocols, so the kiosk
processes under test run their production drivers against it:

* a simulated ILS (a real SIP2 server on loopback) holding a library made for the day
  (:func:`day_library`, 120 patrons and 1,500 books by default) with unique names and titles, so a
  screen or a receipt that shows one patron's name or one book's title is unambiguous; some books
  start on loan (the returns bin has work from the first minute), a few are reference copies
  (refused online; their tags say "not for circulation", as a library's reference tags do, so the
  kiosk refuses them offline too);
* a FEIG reader on a pty under the self-check's pad, and another under the returns bin's chute, each
  with a :class:`~hardware_mocks.pad.VirtualPad`;
* a serial barcode scanner and an ESC/POS receipt printer on ptys (the paper is decoded back to text);
* the configuration directories of the two kiosks (``selfcheck/``, ``returns/``): each its own journal,
  ``[offline] mode = "checkin_and_checkout"``, retention 0 days (patron ids masked as soon as a
  transaction is settled, so the journal's size after retention is what a day leaves on disk), and
  the bins' capacity raised out of the way (emptying bins is staff's work, not part of this day).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardware_mocks.feig_pty import FeigPtySimulator
from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils.library import Library
from hardware_mocks.pad import DEMO_OWNER, VirtualPad
from hardware_mocks.printer_pty import SimulatedPrinter
from hardware_mocks.scanner import SimulatedSerialScanner
from kiosk.demo.hardware import toml_document
from kiosk.hardware.barcode.checkdigits import luhn_check_digit
from kiosk.hardware.rfid.models import UsageType

INSTITUTION = "demo"
SIP2_USER = "soak"
SIP2_PASSWORD = "soak-pass"  # in the kiosks' secrets files, as a site keeps it
#: The readers' serial parity. A FEIG reader's 8E1 works on a pty only once: after the first process
#: that set PARENB closes the pty (or is killed), this kernel's pty refuses PARENB again (tcsetattr
#: EINVAL), so a restarted kiosk could never reopen its reader. A real USB-serial adapter keeps taking
#: 8E1; the simulation does not look at parity at all. 8N1 keeps the restarts about the kiosk.
PTY_PARITY = "N"


@dataclass(frozen=True, slots=True)
class Patron:
    id: str
    pin: str
    name: str


@dataclass(frozen=True, slots=True)
class Book:
    id: str
    title: str
    loanable: bool = True

    @property
    def usage(self) -> UsageType:
        """What the library's tag programmer wrote on its tag (ISO 28560 type of usage)."""
        return UsageType.CIRCULATING_ITEM if self.loanable else UsageType.NOT_FOR_CIRCULATION


def barcode(type_digit: str, serial: int) -> str:
    """The 14-digit Codabar library format the kiosk's classifier accepts: type, institution 1234,
    serial, Luhn check digit (the sample library's scheme)."""
    payload = f"{type_digit}1234{serial:08d}"
    return payload + luhn_check_digit(payload)


def day_library(patrons: int, books: int, *, on_loan: int, reference: int, seed: int
                ) -> tuple[dict[str, Any], list[Patron], list[Book]]:
    """The ILS's data for the day (the sample library's rules and branches), and its patrons and books.

    ``on_loan`` books start lent, spread over the patrons; ``reference`` more are not for loan."""
    from hardware_mocks.ils import load_sample_data

    rng = random.Random(seed)
    sample = load_sample_data()
    people = [Patron(barcode("2", 5000 + n), f"{rng.randrange(10000):04d}", f"Reader{n:04d} Day")
              for n in range(patrons)]
    shelf = [Book(barcode("3", 50000 + n), f"Day Title {n:05d}") for n in range(books)]
    refs = [Book(barcode("3", 90000 + n), f"Day Reference {n:03d}", loanable=False) for n in range(reference)]
    lent = shelf[:on_loan]
    data = {key: sample[key] for key in ("institution_id", "library_name", "currency", "default_branch", "branches",
                                          "rules", "sort_bins", "media_types")}
    data["rules"] = {**data["rules"], "patron_classes": {"adult": {"max_items": 10, "max_holds": 5},
                                                         "child": {"max_items": 5, "max_holds": 3}}}
    data["patrons"] = [{"id": p.id, "pin": p.pin, "name": p.name, "home_branch": "MAIN"} for p in people]
    data["items"] = [
        {"id": b.id, "title": b.title, "media_type": "book", "home_branch": "MAIN", "current_branch": "MAIN",
         "status": "on_loan" if b in lent else "available", "loanable": b.loanable}
        for b in (*shelf, *refs)
    ]
    data["loans"] = [{"item": b.id, "patron": people[n % len(people)].id, "checked_out_days_ago": 3,
                      "due_in_days": 18} for n, b in enumerate(lent)]
    data["holds"] = []
    data["fines"] = []
    return data, people, [*shelf, *refs]


class World:
    """The simulated library and devices (see the module docstring). :meth:`start`, :meth:`stop`."""

    def __init__(self, workdir: Path, *, patrons: int = 120, books: int = 1500, on_loan: int = 150,
                 reference: int = 4, seed: int = 0) -> None:
        self.workdir = workdir
        self.data, self.patrons, self.books = day_library(patrons, books, on_loan=on_loan, reference=reference,
                                                          seed=seed)
        self.titles = {b.id: b.title for b in self.books}
        self.ils: IlsSimulator | None = None
        self.pad_reader: FeigPtySimulator | None = None
        self.chute_reader: FeigPtySimulator | None = None
        self.pad: VirtualPad | None = None
        self.chute: VirtualPad | None = None
        self.scanner: SimulatedSerialScanner | None = None
        self.printer: SimulatedPrinter | None = None

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> World:
        dev = self.workdir / "dev"
        dev.mkdir(parents=True, exist_ok=True)
        try:
            library = Library.open(data=self.data)
            self.ils = IlsSimulator(library, host="127.0.0.1", port=0, accounts={SIP2_USER: SIP2_PASSWORD}).start()
            self.pad_reader = FeigPtySimulator(link_path=str(dev / "pad-reader")).start()
            self.chute_reader = FeigPtySimulator(link_path=str(dev / "chute-reader")).start()
            usage = {b.id: b.usage for b in self.books}  # the same tags on the pad and in the chute
            self.pad = VirtualPad(self.pad_reader, parts={}, usage=usage)
            self.chute = VirtualPad(self.chute_reader, parts={}, usage=usage)
            self.scanner = SimulatedSerialScanner(dev / "scanner")
            self.printer = SimulatedPrinter(paper_width="80mm", link_path=str(dev / "printer")).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for part in (self.printer, self.scanner, self.chute_reader, self.pad_reader, self.ils):
            if part is None:
                continue
            with contextlib.suppress(Exception):
                (part.close if isinstance(part, SimulatedSerialScanner) else part.stop)()
        self.printer = self.scanner = self.chute_reader = self.pad_reader = self.ils = None

    # -- faults the day stages ----------------------------------------------------------------------

    def ils_down(self) -> None:
        """The ILS goes away: it stops listening and every connection closes."""
        assert self.ils is not None
        self.ils.stop()

    def ils_up(self) -> None:
        assert self.ils is not None
        self.ils.start()  # back on the same port

    def unplug_pad_reader(self) -> None:
        """The pad's reader loses its USB plug: the pty and the by-id style link to it go."""
        assert self.pad_reader is not None
        self.pad_reader.unplug()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pad_reader.path)

    def plug_pad_reader(self) -> None:
        assert self.pad_reader is not None
        if not self.pad_reader.plugged_in:
            self.pad_reader.start()

    def paper(self, out: bool) -> None:
        assert self.printer is not None
        self.printer.set_state(paper="out" if out else "ok")

    def receipts(self) -> list[str]:
        printer = self.printer
        return [] if printer is None else [sheet.text() for sheet in list(printer.sheets)]

    # -- the kiosks' configuration -----------------------------------------------------------------

    def config_dir(self, kind: str) -> Path:
        """Write and return the configuration directory of the ``"self-check"`` or ``"returns-bin"``
        kiosk: ``kiosk.toml``, and ``secrets.toml`` (the SIP2 password) readable by its owner only."""
        assert self.ils is not None and self.pad_reader is not None and self.chute_reader is not None
        assert self.scanner is not None and self.printer is not None
        name = "selfcheck" if kind == "self-check" else "returns"
        directory = self.workdir / name
        directory.mkdir(parents=True, exist_ok=True)
        tables: dict[str, dict[str, Any]] = {
            "site": {"name": "Day Library", "institution_id": INSTITUTION},
            "sip2": {"host": self.ils.host, "port": self.ils.port, "tls": False, "allow_plain_tcp": True,
                     "username": SIP2_USER, "timeout_seconds": 3.0, "pool_size": 2},
            "journal": {"path": str(directory / "journal.sqlite"), "retention_days": 0,
                        "lost_answer_wait_seconds": 0.5, "retry_min_seconds": 0.2, "retry_max_seconds": 2.0,
                        "poll_seconds": 0.5},
            "offline": {"mode": "checkin_and_checkout", "max_checkouts": 10, "patron_pattern": r"2\d{13}",
                        "probe_min_seconds": 0.5, "probe_max_seconds": 2.0},
            "station": {"kind": kind},
            "metrics": {"listen": ""},
            "logging": {"level": "info"},
        }
        if kind == "self-check":
            tables.update({
                "rfid": {"driver": "feig", "port": self.pad_reader.path, "owner_library": DEMO_OWNER,
                         "feig_parity": PTY_PARITY},
                "scanner": {"driver": "serial", "device": self.scanner.port, "baudrate": self.scanner.baudrate},
                "printer": {"connection": "serial", "device": self.printer.path, "status_interval_seconds": 0.5},
                "circulation": {"pin_required": True, "receipt": "ask"},
                "ui": {"fullscreen": False, "width": 1024, "height": 600, "sounds": False},
            })
        else:
            tables.update({
                "rfid": {"driver": "feig", "port": self.chute_reader.path, "owner_library": DEMO_OWNER,
                         "feig_parity": PTY_PARITY},
                "returns": {"bin_capacity": 100000, "slips": False},
                # A sorter, on gpiozero's own MockFactory pins (the process runs with
                # GPIOZERO_PIN_FACTORY=mock, the way a site chooses lgpio): without one the bin's first
                # RouteToBin fails and it stays faulted all day (bench/returns_memory.py found that).
                "gpio": SORTER,
            })
        (directory / "kiosk.toml").write_bytes(toml_document(tables))
        secrets = directory / "secrets.toml"
        secrets.write_bytes(toml_document({"sip2": {"password": SIP2_PASSWORD}}))
        secrets.chmod(0o600)
        return directory


#: The returns bin's diverter and slot lock: every bin reachable, each position held until the next item.
SORTER: dict[str, Any] = {"diverter_bins": {"holds": [5], "transit": [6], "reshelve": [], "exceptions": [5, 6]},
                          "diverter_hold_seconds": 0.0, "slot_pin": 25}
#: The returns bin's environment: its pins are gpiozero's mock pins.
MOCK_PINS = {"GPIOZERO_PIN_FACTORY": "mock"}


def dump(data: dict[str, Any], path: Path) -> None:
    """Keep the day's library next to the run's logs (to replay a finding by hand)."""
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False))
