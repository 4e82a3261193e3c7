"""The privacy proof: patron and staff sessions with known secrets through the whole kiosk, then every
place the kiosk writes to is searched for them.

The kiosk is the real one (:class:`kiosk.assembly.Station` from its settings) on the demo's simulated
world (:class:`kiosk.demo.hardware.DemoHardware`): the SIP2 client against the simulated ILS over
TCP, the journaled gateway and its SQLite journal, the runner and the circulation machines, the FEIG
reader on a pty, the ESC/POS printer on a pty, e-mail receipts through a real SMTP server (aiosmtpd)
on loopback, and the metrics and health endpoints over HTTP. The sessions: a wrong patron PIN then
the right one, a borrow with an e-mailed receipt, a borrow with a printed receipt, a borrow while the
ILS is down (recorded offline) and its replay by ``kiosk sync``'s replayer, staff logins with a
wrong and the right staff PIN, and a crash of a state listener.

Searched: every log record of every logger at DEBUG (message and traceback, before any formatter: the
call sites themselves must be clean), what the process wrote to stdout and stderr, the journal's
files byte for byte, the bytes the printer received, the e-mails as the mail server received them,
and /metrics and /healthz. Needles: the patron PIN (right and wrong), the SIP2 login password and the
staff PIN (right and wrong) must be nowhere. The patron's card number may appear only masked
(``****0018``), except in the journal, which must keep it until the transaction is settled and the
retention window has passed; after the purge it is gone from the journal's bytes too. The patron's
name and e-mail address may appear only in the e-mail sent to that address.

Loggers of the simulated world (the ILS, the mail server) are left out of the log search: they stand
for the library's own systems, whose logs are not the kiosk's.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import threading
import traceback
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from hardware_mocks.escpos_stream import EscposStream
from hardware_mocks.ils import scenarios as S
from hardware_mocks.printer_pty import SimulatedPrinter
from kiosk.assembly import Station, wait_until
from kiosk.circulation.events import PinEntered, Pressed
from kiosk.circulation.rows import RowKind, RowState
from kiosk.circulation.session import Phase
from kiosk.circulation.staff import Screen
from kiosk.demo import hardware as demo_hardware
from kiosk.demo.hardware import DemoHardware
from kiosk.ops.wiring import attach_ops
from kiosk.staff_pin import hash_pin
from kiosk.sync.journal import Journal
from kiosk.sync.replay import Replayer, ReplayOptions
from sip2.client import ClientConfig, SIP2Client
from sip2.dialects import get_dialect

PATRON = S.PATRON_VALID  # has an e-mail address and loans in the sample library
PIN = "73914628"
WRONG_PIN = "51177330"
PASSWORD = "sip2-pw-Kx7q9vTr"
STAFF_PIN = "80357146"
WRONG_STAFF_PIN = "64209915"
MASKED_CARD = "****" + PATRON.id[-4:]
EMAIL = "maria.hernandez@example.org"
SECRETS = {"patron PIN": PIN, "wrong patron PIN": WRONG_PIN, "SIP2 password": PASSWORD,
           "staff PIN": STAFF_PIN, "wrong staff PIN": WRONG_STAFF_PIN}
PERSONAL = {"card number": PATRON.id, "name": PATRON.name, "e-mail address": EMAIL}
WAIT = 15.0
WORLD_LOGGERS = ("hardware_mocks", "mail.log", "sip2.server")  # the library's systems, not the kiosk


class _RecordingStream(EscposStream):
    """The printer's wire decoder, keeping a copy of every byte that came down the wire."""

    def __init__(self, sink: bytearray) -> None:
        super().__init__()
        self._sink = sink

    def feed(self, data: bytes) -> None:
        self._sink.extend(data)
        super().feed(data)


class _RecordingPrinter(SimulatedPrinter):
    wire = bytearray()

    def _new_decoder(self) -> EscposStream:  # type: ignore[override]
        return _RecordingStream(self.wire)


@dataclass
class _Inbox:
    """aiosmtpd's handler: every message as the server received it."""

    messages: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content)
        return "250 Message accepted"


class _Everything(logging.Handler):
    """Every record, rendered without any formatter: message, traceback and stack."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        if record.stack_info:
            text += "\n" + record.stack_info
        with self._guard:
            self.lines.append((record.name, text))

    def kiosk_text(self) -> str:
        with self._guard:
            return "\n".join(f"{name}: {text}" for name, text in self.lines if not name.startswith(WORLD_LOGGERS))


@pytest.fixture
def every_log_record() -> Iterator[_Everything]:
    handler = _Everything()
    root = logging.getLogger()
    # Every logger at DEBUG, whatever an earlier test in this process set (kiosk.ops.logging quiets
    # sip2.wire unless IT asks for frames): the search must see everything a kiosk could ever log.
    loggers = [root, *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    levels = [logger.level for logger in loggers]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[_Inbox, int]]:
    handler = _Inbox()
    port = _free_port()  # aiosmtpd checks its port by connecting to it: it needs a real number
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoHardware]:
    _RecordingPrinter.wire = bytearray()
    monkeypatch.setattr(demo_hardware, "SimulatedPrinter", _RecordingPrinter)
    with DemoHardware() as hw:
        assert hw.ils is not None
        hw.ils.app.accounts[S.LOGIN_USER] = PASSWORD  # the ILS now wants our known password
        hw.ils.library.db["patrons"].update(PATRON.id, {"pin": PIN})
        yield hw


def _journal_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.parent.iterdir()) if p.name.startswith(path.name))


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # loopback: our own server
        return bytes(response.read())


def _borrow(station: Station[Any], hw: DemoHardware, books: tuple[str, ...], receipt: str) -> None:
    """Card, PIN, books on the pad, finish, and the receipt ``receipt`` ("print", "email")."""

    def reach(what: str, predicate: Any) -> Any:
        try:
            return station.wait_for(predicate, WAIT)
        except TimeoutError as exc:
            raise AssertionError(f"{what} not reached: {exc}") from None

    reach("idle, empty pad", lambda s: s.session.phase is Phase.IDLE and s.staff.screen is Screen.CLOSED
          and not s.card_on_pad and not s.pad.items)
    hw.place(PATRON.id)
    reach("PIN asked", lambda s: s.session.phase is Phase.PIN)
    station.submit(PinEntered(PIN))
    reach("account", lambda s: s.session.phase is Phase.ACTIVE)
    hw.lift(PATRON.id)
    reach("card taken", lambda s: not s.card_on_pad)  # one thing at a time: the test is about data
    for book in books:
        hw.place(book)

    def settled(s: Any) -> bool:
        rows = {r.item_id: r.state for r in s.session.rows if r.kind is RowKind.BORROW}
        return all(rows.get(b) is RowState.DONE for b in books)

    reach("books borrowed", settled)
    for book in books:
        hw.lift(book)
    station.submit(Pressed("finish"))
    choice = reach("receipt choice", lambda s: s.session.phase is Phase.RECEIPT)
    assert receipt in choice.session.receipt_choices, choice.session.receipt_choices
    station.submit(Pressed(f"receipt_{receipt}"))
    reach("session over", lambda s: s.session.phase is Phase.IDLE and not s.pad.items)


def test_no_pin_password_or_card_number_leaks_anywhere(
    world: DemoHardware, inbox: tuple[_Inbox, int], every_log_record: _Everything, capfd: pytest.CaptureFixture[str]
) -> None:
    hw = world
    mail, smtp_port = inbox
    settings = hw.settings({
        "sip2": {"password": PASSWORD},
        "staff": {"pin_hash": hash_pin(STAFF_PIN), "max_attempts": 3},
        "circulation": {"email_receipts": True},
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "from_address": "kiosk@library.example"},
        "offline": {"mode": "checkin_and_checkout"},
        "metrics": {"listen": f"127.0.0.1:{_free_port()}"},
    })
    journal_path = Path(settings.journal.path)
    station = Station.from_settings(settings, devices=hw.devices())
    ops = attach_ops(settings, health=station.health, journal=station.gateway.journal,
                     observe_steps=station.on_step, subscribe=station.subscribe)
    assert ops.server is not None
    metrics_url = "http://{}:{}".format(*ops.server.address)

    def crash(state: Any) -> None:
        if state.session.phase is Phase.PIN:
            raise RuntimeError("a listener bug while a patron types a PIN")

    station.subscribe(crash)
    station.start()
    try:
        # a wrong PIN, then the right one; e-mailed receipt
        station.wait_for(lambda s: s.session.phase is Phase.IDLE and s.out_of_service is None, WAIT)
        hw.place(PATRON.id)
        station.wait_for(lambda s: s.session.phase is Phase.PIN, WAIT)
        station.submit(PinEntered(WRONG_PIN))
        station.wait_for(lambda s: s.session.phase is Phase.PIN and s.session.pin_failures == 1, WAIT)
        station.submit(Pressed("cancel"))
        hw.lift(PATRON.id)
        station.wait_for(lambda s: s.session.phase is Phase.IDLE and not s.card_on_pad, WAIT)
        _borrow(station, hw, (S.AVAILABLE_BOOKS[0],), "email")
        assert wait_until(lambda: len(mail.messages) == 1, WAIT)
        # a printed receipt
        printed_before = len(hw.receipts())
        _borrow(station, hw, (S.AVAILABLE_BOOKS[1], S.AVAILABLE_BOOKS[2]), "print")
        assert wait_until(lambda: len(hw.receipts()) > printed_before, WAIT)
        # the ILS goes down: a loan recorded offline, printed
        hw.set_ils_online(False)
        _borrow(station, hw, (S.AVAILABLE_BOOKS[3],), "print")
        hw.set_ils_online(True)
        station.wait_for(lambda s: s.online, WAIT)
        # staff: a wrong PIN, the right one, log out
        station.submit(Pressed("staff"))
        station.wait_for(lambda s: s.staff.screen is Screen.PIN, WAIT)
        station.submit(PinEntered(WRONG_STAFF_PIN))
        station.wait_for(lambda s: s.staff.failures == 1, WAIT)
        station.submit(PinEntered(STAFF_PIN))
        station.wait_for(lambda s: s.staff.screen is Screen.MENU, WAIT)
        station.submit(Pressed("logout"))
        station.wait_for(lambda s: s.staff.screen is Screen.CLOSED, WAIT)
        # what Prometheus and a load balancer would read
        scraped = _get(metrics_url + "/metrics") + _get(metrics_url + "/healthz")
        json.loads(_get(metrics_url + "/healthz"))
    finally:
        station.close()
        ops.close()

    # kiosk sync replays the offline loan (its own process in production: same code, same logs)
    host, port = hw.ils.address  # type: ignore[union-attr]
    client = SIP2Client(ClientConfig(host=host, port=port, username=S.LOGIN_USER, password=PASSWORD, timeout=3))
    with Journal.open(journal_path) as journal:
        assert journal.own("sync")
        replayer = Replayer(journal, client, get_dialect("generic"), ReplayOptions(lost_answer_wait=0.0))
        try:
            assert replayer.drain().replayed == 1
        finally:
            client.close()
        in_retention = _journal_bytes(journal_path)
        assert journal.purge(0) >= 4  # every settled transaction, as if the window had passed
        after_purge = _journal_bytes(journal_path)

    out, err = capfd.readouterr()
    logs = every_log_record.kiosk_text()
    emails = b"\n".join(mail.messages)
    places: dict[str, bytes] = {
        "log records": logs.encode("utf-8"),
        "stdout and stderr": (out + err).encode("utf-8"),
        "journal (within retention)": in_retention,
        "journal (after the purge)": after_purge,
        "printer wire": bytes(_RecordingPrinter.wire),
        "printed paper": "\n".join(hw.receipts()).encode("utf-8"),  # the wire speaks a code page
        "e-mail (as sent)": emails,
        "e-mail (decoded)": "\n".join(_decoded(m) for m in mail.messages).encode("utf-8"),
        "metrics and health": scraped,
    }
    leaks = [f"{what} in {where}" for where, data in places.items() for what, needle in SECRETS.items()
             if needle.encode("utf-8") in data]
    leaks += [f"{what} in {where}" for where, data in places.items() for what, needle in PERSONAL.items()
              if needle.encode("utf-8") in data
              and not (where.startswith("e-mail") and what != "card number")  # the patron's own e-mail
              and not (where == "journal (within retention)" and what == "card number")]
    assert leaks == []

    # ...and the search finds what is there: each place holds the kind of thing looked for
    assert "a listener bug while a patron types a PIN" in logs and "Traceback" in logs  # the crash was logged
    assert "AD****" in logs and "CO****" in logs  # frames with the PIN and password were logged, masked
    assert MASKED_CARD in logs and MASKED_CARD.encode() in places["printer wire"]
    assert MASKED_CARD.encode() in places["e-mail (decoded)"] and EMAIL.encode() in places["e-mail (decoded)"]
    assert PATRON.id.encode() in in_retention  # the journal keeps it while it must
    assert b"kiosk_transactions" in scraped and len(hw.receipts()) >= 2


def _decoded(raw: bytes) -> str:
    """An e-mail as its reader sees it: headers decoded, every part's body decoded."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if not part.is_multipart():
            parts.append(str(part.get_content()))
    return "\n".join(parts)
