"""``kiosk doctor``: one screen of checks, each OK, WARN or FAIL with how to fix it.

What IT runs first when a branch calls, and what a fleet script runs on every kiosk: the exit code
is 0 when everything is OK, 1 with warnings, 2 with failures, and ``--json`` gives the same results
to a machine.

Every check runs on its own thread with ``[doctor] timeout_seconds``: a reader that never answers
or an ILS that accepts the connection and then says nothing becomes one FAIL line ("did not finish
within 15 s"), never a doctor that hangs. The checks run side by side, so the whole screen takes
about as long as the slowest check.

Devices belong to the kiosk that runs them: two processes talking to one serial reader or printer
steal each other's answers. So when a kiosk is running here (its ``/healthz`` answers on
``[metrics] listen``), the reader, scanner, printer and GPIO lines show what that kiosk reports;
``--direct`` probes the devices from the doctor instead (stop the kiosk first).
"""

from __future__ import annotations

import argparse
import codecs
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from kiosk import __version__

if TYPE_CHECKING:
    from kiosk.config import LoadedConfig, Settings
    from kiosk.hardware.rfid.readers.base import TagInfo
    from kiosk.hardware.rfid.settings import RfidSettings


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Result:
    """One line of the doctor's screen (and its hint line)."""

    check: str
    status: Status
    summary: str
    hint: str = ""


Command = Callable[[Sequence[str], float], tuple[int, str]]


def run_command(args: Sequence[str], timeout: float) -> tuple[int, str]:
    """(exit code, stdout); 127 when the program is missing, 124 when it timed out."""
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        return 127, ""
    except subprocess.TimeoutExpired:
        return 124, ""
    except OSError as exc:
        return 126, str(exc)
    return done.returncode, done.stdout


@dataclass
class Context:
    """What the checks read: the configuration (or why it is invalid) and the machine's seams."""

    loaded: LoadedConfig | None = None
    config_problems: tuple[str, ...] = ()
    config_warnings: tuple[str, ...] = ()
    run: Command = run_command
    exists: Callable[[str], bool] = os.path.exists
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    direct: bool = False
    gpio_factory: Callable[[], Any] | None = None
    running: dict[str, Any] | None = None  # the running kiosk's /healthz, when it answered

    @property
    def settings(self) -> Settings:
        if self.loaded is None:
            raise _Skip("not checked: the configuration is invalid (see the config line)")
        return self.loaded.settings


class _Skip(Exception):
    """A check that cannot run (the config is invalid): one WARN line with this message."""


CheckFunction = Callable[[Context], list[Result]]


@dataclass(frozen=True)
class Check:
    name: str  # the line shown when the check hangs or cannot run
    run: CheckFunction = field(repr=False)


# --------------------------------------------------------------------------------------------------
# configuration and clock


def check_config(ctx: Context) -> list[Result]:
    if ctx.loaded is None:
        shown = "; ".join(ctx.config_problems[:3]) + (" …" if len(ctx.config_problems) > 3 else "")
        return [Result("config", Status.FAIL, f"{len(ctx.config_problems)} problem(s): {shown}",
                       "kiosk config check  (lists every problem with the file that set it)")]
    from kiosk.config import config_hash

    layers = len(ctx.loaded.layers)
    summary = f"valid, {layers} layer(s), sha256 {config_hash(ctx.loaded.settings)[:12]}"
    if ctx.config_warnings:
        return [Result("config", Status.WARN, f"{summary}; {len(ctx.config_warnings)} warning(s): "
                       f"{ctx.config_warnings[0]}", "kiosk config check")]
    return [Result("config", Status.OK, summary)]


def check_clock(ctx: Context) -> list[Result]:
    """SIP2 carries the kiosk's clock in every transaction date: loans dated wrong are fines wrong."""
    hint = "timedatectl set-ntp true (systemd-timesyncd) and let it reach an NTP server; or chronyc sources"
    code, out = ctx.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], 5.0)
    answer = out.strip()
    if code == 0 and answer in ("yes", "no"):
        if answer == "yes":
            return [Result("clock", Status.OK, "synchronised (timedatectl)")]
        return [Result("clock", Status.WARN, "NOT synchronised (timedatectl NTPSynchronized=no)", hint)]
    if ctx.exists("/run/systemd/timesync/synchronized"):
        return [Result("clock", Status.OK, "synchronised (systemd-timesyncd)")]
    code, out = ctx.run(["chronyc", "tracking"], 5.0)
    if code == 0:
        leap = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Leap status")),
                    "")
        if leap == "Normal":
            return [Result("clock", Status.OK, "synchronised (chrony)")]
        return [Result("clock", Status.WARN, f"NOT synchronised (chrony: {leap or 'no leap status'})", hint)]
    return [Result("clock", Status.WARN, "cannot tell whether the clock is synchronised (no timedatectl answer, "
                   "no timesyncd flag, no chronyc)", hint)]


# --------------------------------------------------------------------------------------------------
# the ILS and the encoding

#: Accented letters to send through the ILS; each encoding sends those it can carry.
SAMPLE_LETTERS = "ÄÖÜäöüßéèàçñÅøæ"
#: The item id the echo test sends (17 Item Information, read-only, safe to repeat).
ECHO_PREFIX = "KIOSK-DOCTOR-"


def garbled(text: str, encoding: str) -> str | None:
    """Why ``text`` (decoded as ``encoding``) looks damaged, or None."""
    if "\ufffd" in text:
        return f"replacement characters: the ILS sends bytes that are not {encoding}"
    if encoding.replace("_", "-").lower() not in ("utf-8", "utf8") and not text.isascii():
        try:
            fixed = text.encode(encoding).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return None
        if fixed != text:
            return f'looks like UTF-8 read as {encoding} ("{fixed}")'
    return None


def carried_letters(encoding: str) -> str:
    return "".join(c for c in SAMPLE_LETTERS if _encodable(c, encoding))


def _encodable(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def check_ils(ctx: Context) -> list[Result]:
    """Connect and log in, read the 98 status, compare clocks, and send accented letters through."""
    from kiosk.ils.connection import client_config
    from sip2.client import SIP2Client
    from sip2.errors import LoginFailed, SIP2ConnectionError, SIP2Error, TLSVerificationError

    settings = ctx.settings
    s = settings.sip2
    config = dataclasses.replace(client_config(settings), heartbeat_interval=3600.0, status_after_login=True,
                                 connect_timeout=s.timeout_seconds)
    where = f"{s.host}:{s.port}{' (TLS)' if s.tls else ' (plain TCP)'}"
    client = SIP2Client(config)
    results: list[Result] = []
    try:
        start = time.perf_counter()
        try:
            client.connect()
        except LoginFailed:
            return [Result("ILS login", Status.FAIL, f"{where} refused the SIP2 login of user {s.username!r}",
                           "check sip2.username / sip2.password (secrets file) and sip2.location with the ILS "
                           f"admin; try: sip2 --host {s.host} --port {s.port} --user {s.username} "
                           "--password-file FILE login"),
                    *codec_only(s.encoding)]
        except TLSVerificationError as exc:
            return [Result("ILS connection", Status.FAIL, str(exc),
                           "set sip2.tls_ca_file to the CA that signed the ILS certificate")]
        except (SIP2ConnectionError, SIP2Error, OSError) as exc:
            return [Result("ILS connection", Status.FAIL, f"{where}: {exc}",
                           f"is the ILS up, and port {s.port} open from here (firewall, VPN)? "
                           f"try: sip2 --host {s.host} --port {s.port}{' --tls' if s.tls else ''} status"),
                    *codec_only(s.encoding)]
        connect_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        status = client.sc_status()
        round_trip_ms = (time.perf_counter() - start) * 1000
        login = f"login accepted as {s.username!r}" if s.username else "no login configured"
        results.append(Result("ILS connection", Status.OK,
                              f"{where}, {login}, connect {connect_ms:.0f} ms, round trip {round_trip_ms:.0f} ms"))
        results.append(_status_result(status, settings))
        results.append(_clock_result(status.date_time_sync, settings, ctx.now()))
        results.extend(_encoding_through(client, s.encoding, settings.doctor.test_item, status))
    except SIP2Error as exc:
        results.append(Result("ILS status", Status.FAIL, f"the ILS stopped answering: {exc}",
                              "check the ILS's SIP2 server log for this account"))
    finally:
        client.close()
    return results


def _status_result(status: Any, settings: Settings) -> Result:
    flags = {
        "online": status.online_status, "checkin": status.checkin_ok, "checkout": status.checkout_ok,
        "renewal": status.acs_renewal_policy, "offline": status.offline_ok,
    }
    shown = ", ".join(f"{name} {'Y' if on else 'N'}" for name, on in flags.items())
    needed = ["online", "checkout"] + (["checkin"] if settings.circulation.checkin_enabled else [])
    missing = [name for name in needed if not flags[name]]
    summary = f"{shown}; SIP2 {status.protocol_version}"
    if missing:
        return Result("ILS status", Status.WARN, f"{summary}: the ILS refuses {', '.join(missing)}",
                      "the ILS admin enables these for the kiosk's SIP2 account (or the ILS is in maintenance)")
    if not flags["renewal"]:
        return Result("ILS status", Status.WARN, f"{summary}: renewals not allowed",
                      "patrons cannot renew here; ask the ILS admin if that is intended")
    return Result("ILS status", Status.OK, summary)


def _clock_result(ils_time: datetime | None, settings: Settings, now: datetime) -> Result:
    if ils_time is None:
        return Result("ILS clock", Status.WARN, "the ILS sent no date in its status answer", "")
    zone = ZoneInfo(settings.site.timezone) if settings.site.timezone else None
    local = now.astimezone(zone).replace(tzinfo=None)
    skew = (local - ils_time.replace(tzinfo=None)).total_seconds()
    limit = settings.doctor.max_clock_skew_seconds
    summary = f"kiosk {'ahead of' if skew > 0 else 'behind'} the ILS by {abs(skew):.0f} s"
    if abs(skew) <= limit:
        return Result("ILS clock", Status.OK, summary)
    hint = "synchronise both clocks with NTP"
    if abs(abs(skew) - round(abs(skew) / 3600) * 3600) <= limit:
        hint = "a whole number of hours: set site.timezone to the ILS's time zone (SIP2 dates carry none)"
    return Result("ILS clock", Status.WARN, f"{summary} (more than {limit:g} s)", hint)


def _encoding_through(client: Any, encoding: str, test_item: str, status: Any) -> list[Result]:
    letters = carried_letters(encoding)
    problems: list[str] = []
    done: list[str] = []
    if letters:
        sent = ECHO_PREFIX + letters
        echo = client.item_information(sent).item_id
        if echo == sent:
            done.append(f"{letters} went through the ILS and back intact")
        elif not echo.strip():
            done.append("the ILS does not echo item ids (set [doctor] test_item for a round trip)")
        else:
            why = garbled(echo, encoding) or "changed on the way"
            problems.append(f'sent "{sent}", the ILS answered "{echo}": {why}')
    if test_item:
        title = client.item_information(test_item).title
        why = garbled(title, encoding)
        if why:
            problems.append(f'title of {test_item} "{title}": {why}')
        elif not title.strip():
            problems.append(f"the ILS has no title for [doctor] test_item {test_item}")
        elif title.isascii():
            done.append(f"title of {test_item} has no accented letters (pick another test_item)")
        else:
            done.append(f'title "{title}" arrived intact')
    for source, text in (("library name", status.library_name or ""), *(("ILS message", m) for m in
                                                                        status.screen_messages)):
        why = garbled(text, encoding)
        if why:
            problems.append(f'{source} "{text}": {why}')
    if not letters:
        problems.append(f"{encoding} carries no accented letters: names like Müller arrive as M?ller")
    if problems:
        return [Result("encoding", Status.WARN, f"sip2.encoding = {encoding!r}: " + "; ".join(problems),
                       "ask the ILS admin which character set its SIP2 server speaks (often cp850, latin-1 or "
                       'utf-8) and set sip2.encoding to it; check with: sip2 --encoding ENC item BARCODE')]
    return [Result("encoding", Status.OK, f"sip2.encoding = {encoding!r}: " + "; ".join(done))]


def codec_only(encoding: str) -> list[Result]:
    """Without the ILS only the codec itself can be checked."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        return [Result("encoding", Status.FAIL, f"Python has no codec {encoding!r}", "set sip2.encoding")]
    letters = carried_letters(encoding)
    if not letters:
        return [Result("encoding", Status.WARN, f"{encoding} carries no accented letters",
                       "set sip2.encoding to the ILS's character set")]
    return [Result("encoding", Status.WARN, f"codec {encoding} carries {letters}; no round trip (ILS not reached)",
                   "see the ILS line above; the round trip runs once the ILS answers")]


# --------------------------------------------------------------------------------------------------
# devices


def _reported(ctx: Context, component: str, label: str) -> Result | None:
    """The running kiosk's word on a device, when it is running and reports it (and not --direct)."""
    if ctx.direct or ctx.running is None:
        return None
    health = ctx.running.get("components", {}).get(component)
    if health is None:
        return None
    state, reason = health.get("state"), health.get("reason", "")
    words = f"{state}{': ' + reason if reason else ''} (reported by the running kiosk)"
    status = {"up": Status.OK, "degraded": Status.WARN}.get(state, Status.FAIL)
    hint = "" if status is Status.OK else "see staff mode's device screen; journalctl -u kiosk-ui"
    return Result(label, status, words, hint)


def check_reader(ctx: Context) -> list[Result]:
    settings = ctx.settings
    rfid = getattr(settings, "rfid", None)
    if rfid is None:
        return [Result("RFID reader", Status.WARN, "this kiosk build has no [rfid] section; reader not checked")]
    if rfid.driver == "none":
        return [Result("RFID reader", Status.OK, 'none configured (rfid.driver = "none")')]
    reported = _reported(ctx, "reader", "RFID reader")
    if reported is not None:
        return [reported]
    from kiosk.circulation.session_text import masked
    from kiosk.hardware.rfid.models.detect import decode_tag
    from kiosk.hardware.rfid.readers.base import ReaderError
    from kiosk.hardware.rfid.settings import reader_from

    reader = reader_from(rfid)
    assert reader is not None
    hint = ("pcscd running (systemctl status pcscd)? pcsc_scan lists the reader; rfid.pcsc_reader names part of it"
            if rfid.driver == "pcsc" else
            f"rfid.port {rfid.port!r} exists (ls -l /dev/serial/by-id/), the kiosk user is in group dialout, "
            "and the baud rate matches the reader; stop the kiosk or use its report (no --direct)")
    try:
        reader.open()
        tags = reader.inventory()
        if not tags:
            return [Result("RFID reader", Status.OK, f"{rfid.driver} reader answers; no tag on it (put an item on "
                           "the pad and run again to test reading one)")]
        labels = [t for t in tags if t.tag_type == LABEL_TAG_TYPE]
        if not labels:  # a card (PC/SC names its kind from the ATR): nothing on it to read
            return [_card_on_pad(rfid, tags[0])]
        tag = labels[0]
        decoded = decode_tag(reader.read_memory(tag.uid), tag.dsfid)
    except ReaderError as exc:
        return [Result("RFID reader", Status.FAIL, str(exc), hint)]
    finally:
        reader.close()
    item = getattr(decoded, "item_id", None)
    if item is None:
        return [Result("RFID reader", Status.WARN, f"{len(tags)} tag(s) seen; tag {tag.uid_hex} read but not a "
                       f"library tag: {getattr(decoded, 'reason', '')}", "is it tagged for this library?")]
    if getattr(decoded, "is_patron_card", False):  # an ISO 28560 patron card: its "item" is a card number
        return [Result("RFID reader", Status.OK, f"{len(tags)} tag(s) seen; a patron card read: number "
                       f"{masked(item)} ({decoded.model})")]
    return [Result("RFID reader", Status.OK, f"{len(tags)} tag(s) seen; tag {tag.uid_hex} read: item {item} "
                   f"({decoded.model})")]


#: ``TagInfo.tag_type`` of a library label (ISO 15693): the only kind the doctor reads.
LABEL_TAG_TYPE = "iso15693"
_TRY_A_TAG = "put an item's tag on the pad, alone, and run again to test reading one"


def _card_on_pad(rfid: RfidSettings, tag: TagInfo) -> Result:
    """A card, not a library label, on the pad: the reader works, but there is no tag data to read.

    An ISO 14443 card (MIFARE, DESFire) is a patron card when ``[rfid] patron_card_uid`` says how its
    UID is written as a card number; that number is a patron id, so only its last four characters are
    shown, and the UID never is (it *is* the number, in another notation).
    """
    from kiosk.circulation.session_text import masked
    from kiosk.hardware.rfid.patron_card_uid import ISO14443_TAG_TYPES, CardUidError
    from kiosk.hardware.rfid.settings import patron_cards_from

    answers = f"{rfid.driver} reader answers"
    if tag.tag_type not in ISO14443_TAG_TYPES:
        return Result("RFID reader", Status.WARN, f"{answers}; the card on the pad ({tag.tag_type}) is neither a "
                      "library tag nor an ISO 14443 card", _TRY_A_TAG)
    card = f"an ISO 14443 card ({tag.tag_type}) on the pad"
    ids = patron_cards_from(rfid)
    if not ids.enabled:
        return Result("RFID reader", Status.WARN, f'{answers}; {card}, not a library tag: with rfid.patron_card_uid '
                      '= "none" the kiosk shows it as unreadable',
                      f"{_TRY_A_TAG}; if the library's patron cards are such cards, set rfid.patron_card_uid "
                      "to how the card system writes their UID")
    try:
        number = ids.patron_id(tag.uid)
    except CardUidError as exc:
        return Result("RFID reader", Status.WARN, f"{answers}; {card} whose UID is no card number: {exc}",
                      _TRY_A_TAG)
    return Result("RFID reader", Status.OK, f"{answers}; {card}: a patron card, number {masked(number)} "
                  f"(rfid.patron_card_uid = {rfid.patron_card_uid!r}); {_TRY_A_TAG}")


def check_scanner(ctx: Context) -> list[Result]:
    settings = ctx.settings
    scanner = getattr(settings, "scanner", None)
    if scanner is None:
        return [Result("scanner", Status.WARN, "this kiosk build has no [scanner] section; scanner not checked")]
    if scanner.driver == "none":
        return [Result("scanner", Status.OK, 'none configured (scanner.driver = "none")')]
    reported = _reported(ctx, "scanner", "scanner")
    if reported is not None:
        return [reported]
    if scanner.driver == "serial":
        if not ctx.exists(scanner.device):
            return [Result("scanner", Status.FAIL, f"{scanner.device} does not exist",
                           "plugged in? ls -l /dev/serial/by-id/ and set scanner.device")]
        if not os.access(scanner.device, os.R_OK | os.W_OK):
            return [Result("scanner", Status.FAIL, f"{scanner.device}: no read/write access for this user",
                           "add the kiosk user to group dialout")]
        return [Result("scanner", Status.OK, f"serial scanner at {scanner.device}")]
    from kiosk.hardware.barcode.events import ScannerUnavailable
    from kiosk.hardware.barcode.settings import scanner_from

    try:
        device = scanner_from(scanner)
        path = device.find_device_path()  # type: ignore[union-attr]
    except ScannerUnavailable as exc:
        return [Result("scanner", Status.FAIL, str(exc),
                       "ls /dev/input/by-id/; the kiosk user needs group input")]
    except Exception as exc:  # evdev not installed
        return [Result("scanner", Status.FAIL, f"{type(exc).__name__}: {exc}",
                       'pip install "library-kiosk[evdev]" or apt install python3-evdev')]
    return [Result("scanner", Status.OK, f"keyboard-wedge scanner at {path}")]


def check_printer(ctx: Context) -> list[Result]:
    settings = ctx.settings
    printer = settings.printer
    if printer.connection == "none":
        return [Result("printer", Status.OK, 'none configured (printer.connection = "none")')]
    reported = _reported(ctx, "printer", "printer")
    if reported is not None:
        return [reported]
    from kiosk.hardware.printer.device import EscposReceiptPrinter
    from kiosk.hardware.printer.status import PrinterState

    device = EscposReceiptPrinter(printer, library=settings.site.name)
    try:
        status = device.status()
    finally:
        device.close()
    words = f"{status.state}{': ' + status.detail if status.detail else ''}"
    if status.state is PrinterState.READY:
        return [Result("printer", Status.OK, f"{printer.connection} printer ready")]
    if status.state is PrinterState.PAPER_LOW or (status.state is PrinterState.UNKNOWN and not status.queried):
        return [Result("printer", Status.WARN, words, "load a new roll soon" if status.state is
                       PrinterState.PAPER_LOW else "printer.status_queries is off: paper-out cannot be seen")]
    hints = {
        PrinterState.PAPER_OUT: "load a new paper roll",
        PrinterState.COVER_OPEN: "close the printer cover",
        PrinterState.ABSENT: "switched on and plugged in? printer.device / host right? kiosk user in group "
                             "dialout (serial) or plugdev (USB, /dev/usb/lp*; deploy/udev/70-kiosk.rules)?",
        PrinterState.UNKNOWN: "the printer did not answer its status query: check printer.baudrate and the cable",
    }
    return [Result("printer", Status.FAIL, words, hints.get(status.state, "see the printer's own status light"))]


def check_gpio(ctx: Context) -> list[Result]:
    settings = ctx.settings
    from kiosk.hardware.gpio_settings import pin_warnings

    gpio = settings.gpio
    configured = any(getattr(gpio, f.name) not in (None, {}, ()) for f in dataclasses.fields(gpio)
                     if f.name.endswith(("_pin", "_pins", "_bins")))
    if not configured:
        return [Result("GPIO", Status.OK, "no GPIO device configured")]
    reported = _reported(ctx, "gpio", "GPIO")
    if reported is not None:
        return [reported]
    from kiosk.hardware.gpio import GpioUnavailable, find_pin_factory

    try:
        if ctx.gpio_factory is not None:
            factory, owned = ctx.gpio_factory(), False
        else:
            factory, owned = find_pin_factory(gpio.pin_factory)
    except GpioUnavailable as exc:
        return [Result("GPIO", Status.FAIL, str(exc),
                       'apt install python3-lgpio (or pip install "library-kiosk[pi]"); the kiosk user in group '
                       "gpio; gpio.pin_factory = \"lgpio\"")]
    name = type(factory).__name__
    if owned:
        factory.close()
    warnings = pin_warnings(gpio)
    if warnings:
        return [Result("GPIO", Status.WARN, f"pin factory {name}; " + "; ".join(warnings),
                       "move these to other pins if you can (docs/hardware.md)")]
    return [Result("GPIO", Status.OK, f"pin factory {name}")]


# --------------------------------------------------------------------------------------------------
# disk and journal


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(ctx: Context) -> list[Result]:
    settings = ctx.settings
    journal = Path(settings.journal.path)
    usage = shutil.disk_usage(_existing_parent(journal.parent))
    free_mb = usage.free / 1e6
    minimum = settings.doctor.min_free_disk_mb
    results = []
    summary = f"{free_mb:,.0f} MB free of {usage.total / 1e6:,.0f} MB where the journal lives"
    if free_mb < minimum / 5:
        results.append(Result("disk", Status.FAIL, summary, "free space now: the journal cannot record transactions "
                              "on a full disk (journalctl --vacuum-size=100M, apt clean)"))
    elif free_mb < minimum:
        results.append(Result("disk", Status.WARN, f"{summary} (below {minimum} MB)",
                              "journalctl --vacuum-size=100M; apt clean; check /var/log"))
    else:
        results.append(Result("disk", Status.OK, summary))
    size = sum(p.stat().st_size for p in (journal, Path(f"{journal}-wal")) if p.exists())
    code, out = ctx.run(["journalctl", "--disk-usage"], 5.0)
    system_log = ""
    if code == 0 and "take up" in out:
        system_log = "; system journal " + out.split("take up", 1)[1].split("in the file", 1)[0].strip()
    summary = f"kiosk journal {size / 1e6:.1f} MB{system_log}"
    if size / 1e6 > settings.doctor.max_journal_mb:
        results.append(Result("journal size", Status.WARN, f"{summary} (above {settings.doctor.max_journal_mb} MB)",
                              "the journal keeps every transaction: when `kiosk queue list` shows nothing open, "
                              "stop kiosk-ui and kiosk-sync and move the file away (a new one is made)"))
    else:
        results.append(Result("journal size", Status.OK, summary))
    return results


def check_queue(ctx: Context) -> list[Result]:
    """Unsent offline transactions (and their age) and those waiting for staff."""
    settings = ctx.settings
    path = Path(settings.journal.path)
    if not path.exists():
        return [Result("offline queue", Status.WARN, f"no journal at {path} yet",
                       "the kiosk creates it when it starts; check [journal] path and that its directory is "
                       "writable by the kiosk user")]
    from kiosk.sync.journal import Journal, JournalError

    try:
        with Journal.open(path, busy_timeout=settings.journal.busy_timeout_seconds) as journal:
            waiting = journal.backlog()
            head = journal.queue_head()
            staff = len(journal.needs_staff())
    except JournalError as exc:
        return [Result("offline queue", Status.FAIL, str(exc), "run the doctor as the kiosk user (or root)")]
    results = []
    if not waiting:
        results.append(Result("offline queue", Status.OK, "nothing waiting to be sent to the ILS"))
    else:
        now = ctx.now().astimezone(UTC).replace(tzinfo=None)
        age = (now - head.created_at).total_seconds() / 60 if head is not None else 0.0
        summary = f"{waiting} offline transaction(s) not yet sent, the oldest {age:.0f} min old"
        if age > settings.doctor.stale_queue_minutes:
            results.append(Result("offline queue", Status.WARN, summary,
                                  "is kiosk sync running (systemctl status kiosk-sync)? does the ILS answer? "
                                  "journalctl -u kiosk-sync"))
        else:
            results.append(Result("offline queue", Status.OK, f"{summary} (kiosk sync is on it)"))
    if staff:
        results.append(Result("exceptions", Status.WARN, f"{staff} transaction(s) waiting for staff",
                              "kiosk queue report  (then retry or resolve each; docs/staff.md)"))
    else:
        results.append(Result("exceptions", Status.OK, "no transaction waiting for staff"))
    return results


CHECKS: tuple[Check, ...] = (
    Check("config", check_config),
    Check("clock", check_clock),
    Check("ILS", check_ils),
    Check("RFID reader", check_reader),
    Check("scanner", check_scanner),
    Check("printer", check_printer),
    Check("GPIO", check_gpio),
    Check("disk", check_disk),
    Check("offline queue", check_queue),
)


# --------------------------------------------------------------------------------------------------
# running them


def run_checks(checks: Sequence[Check], ctx: Context, timeout: float) -> list[Result]:
    """Every check on its own daemon thread, side by side; a check still running after ``timeout``
    seconds is reported as hung (its thread is left behind: a device call cannot be interrupted)."""
    outcomes: dict[int, list[Result]] = {}

    def run(index: int, check: Check) -> None:
        try:
            outcomes[index] = check.run(ctx)
        except _Skip as skip:
            outcomes[index] = [Result(check.name, Status.WARN, str(skip))]
        except Exception as exc:  # a bug, or a device failing in a way nobody foresaw
            outcomes[index] = [Result(check.name, Status.FAIL, f"the check itself failed: {type(exc).__name__}: "
                                      f"{exc}", "report this with the output of kiosk doctor --json")]

    threads = [threading.Thread(target=run, args=(i, c), name=f"doctor-{c.name}", daemon=True)
               for i, c in enumerate(checks)]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    results: list[Result] = []
    for index, check in enumerate(checks):
        if index in outcomes:
            results.extend(outcomes[index])
        else:
            results.append(Result(check.name, Status.FAIL, f"did not finish within {timeout:g} s (hung)",
                                  "a device or the ILS accepts the connection but never answers; "
                                  "[doctor] timeout_seconds sets the limit"))
    return results


def exit_code(results: Sequence[Result]) -> int:
    statuses = {r.status for r in results}
    return 2 if Status.FAIL in statuses else 1 if Status.WARN in statuses else 0


def render(results: Sequence[Result], *, title: str) -> str:
    width = max((len(r.check) for r in results), default=0)
    lines = [title, ""]
    for r in results:
        lines.append(f"{r.status.value:<5} {r.check:<{width}}  {r.summary}")
        if r.hint and r.status is not Status.OK:
            lines.append(f"{'':<5} {'':<{width}}  fix: {r.hint}")
    fails = sum(r.status is Status.FAIL for r in results)
    warns = sum(r.status is Status.WARN for r in results)
    lines += ["", f"{fails} failure(s), {warns} warning(s)" if fails or warns else "all OK"]
    return "\n".join(lines) + "\n"


def as_json(results: Sequence[Result], *, version: str = __version__) -> str:
    return json.dumps({
        "version": version, "exit_code": exit_code(results),
        "results": [{"check": r.check, "status": r.status.value, "summary": r.summary, "hint": r.hint}
                    for r in results],
    }, ensure_ascii=False, indent=2) + "\n"


def running_kiosk(listen: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The /healthz of the kiosk running on this machine, or None when none answers."""
    from kiosk.ops.settings import split_listen

    if not listen:
        return None
    try:
        host, port = split_listen(listen)
    except ValueError:
        return None
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            report: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:  # 503: out of service, the body is still the report
        try:
            report = json.loads(error.read())
        except ValueError:
            return None
    except (OSError, ValueError):
        return None
    return report if isinstance(report.get("components"), dict) else None


def diagnose(
    config_dir: str | None = None,
    secrets: str | None = None,
    *,
    direct: bool = False,
    environ: Mapping[str, str] | None = None,
    checks: Sequence[Check] = CHECKS,
    **seams: Any,
) -> list[Result]:
    """Load the configuration and run ``checks``; ``seams`` override :class:`Context` fields."""
    from kiosk.config import ConfigError, load_config

    ctx = Context(direct=direct, **seams)
    try:
        ctx.loaded = load_config(config_dir, secrets, environ)
        ctx.config_warnings = ctx.loaded.warnings
    except ConfigError as error:
        ctx.config_problems = tuple(error.problems)
        ctx.config_warnings = tuple(error.warnings)
    timeout = 15.0
    if ctx.loaded is not None:
        timeout = ctx.loaded.settings.doctor.timeout_seconds
        if ctx.running is None and not direct:
            ctx.running = running_kiosk(ctx.loaded.settings.metrics.listen)
    return run_checks(checks, ctx, timeout)


def run_doctor(args: argparse.Namespace) -> int:
    """``kiosk doctor [--json] [--direct]``."""
    from kiosk.ops.logging import setup_logging
    from kiosk.ops.settings import LoggingSettings

    setup_logging(LoggingSettings(level="error"))  # the screen is the report; log lines would clutter it
    results = diagnose(args.config_dir, args.secrets, direct=args.direct)
    if args.json:
        sys.stdout.write(as_json(results))
    else:
        import socket

        sys.stdout.write(render(results, title=f"kiosk doctor: {socket.gethostname()}, kiosk {__version__}"))
    return exit_code(results)

