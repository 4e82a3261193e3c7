"""The ESC/POS receipt printer behind :class:`kiosk.shell.outputs.ReceiptPrinter`, on python-escpos.

python-escpos does the connections (``Serial``, ``Usb``, ``Network``, ``File``) and the command bytes
(``Dummy`` builds a job in memory); the kiosk adds what a self-service kiosk needs from them:

* a printout is built completely in memory (templates, code pages, logo, cut) before the device is
  touched, then written in one go: a layout or encoding problem cannot leave half a receipt;
* before printing, the printer is asked for its real-time status (DLE EOT): with the paper out,
  the cover open or the printer offline nothing is sent and :class:`OutputUnavailable` says why,
  so the core offers the e-mail receipt instead, with the same lines;
* status is read one byte at a time with a short timeout. python-escpos's ``query_status`` reads 16
  bytes, so on a serial line every query waits its full timeout even when the byte came at once,
  and ``paper_status()`` reports "adequate" when the printer said nothing. Here a printer that does
  not answer is UNKNOWN, and the kiosk does not offer printing on it;
* a device that fails is closed and reopened at the next use: a printer switched off and on again,
  or re-plugged, is picked up without restarting the kiosk.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from kiosk.circulation.commands import ReceiptLine
from kiosk.hardware.printer import status as st
from kiosk.hardware.printer.codepage import DEFAULT_PREFERENCE, CodePage, Encoded, Transcoder, printer_pages
from kiosk.hardware.printer.escpos_import import load_escpos
from kiosk.hardware.printer.layout import COLUMNS, DOTS, Logo, Masthead, Printout, layout
from kiosk.hardware.printer.logo import printable_logo
from kiosk.hardware.printer.profiles import Profile, profile
from kiosk.hardware.printer.settings import PrinterSettings
from kiosk.hardware.printer.status import PrinterState, PrinterStatus
from kiosk.shell.outputs import Lines, OutputUnavailable

log = logging.getLogger(__name__)

ESC_AT = b"\x1b@"
TEAR_OFF_FEED = 4  # lines fed without a cutter, so the last line clears the tear bar


class Link(Protocol):
    """An open connection to the printer."""

    def write(self, data: bytes) -> None: ...

    def ask(self, question: bytes, timeout: float) -> int | None:
        """Send a real-time query and return the one byte answered, or None after ``timeout``."""
        ...

    def close(self) -> None: ...


def render_job(
    printout: Printout,
    encoded: Encoded,
    *,
    profile_name: str,
    logo: Image.Image | None,
    cut: str,
    cache: Path | None = None,
) -> bytes:
    """The bytes of one printout, built with python-escpos's ``Dummy`` (nothing is sent anywhere)."""
    escpos = load_escpos(cache)
    job = escpos.Dummy(profile=profile_name)
    job._raw(ESC_AT)
    text_bytes = iter(encoded.lines)
    style: tuple[str, bool, bool] | None = None
    for block in printout.blocks:
        if isinstance(block, Logo):
            if logo is not None:
                job.set(align="left")
                style = None
                job._raw(raster(logo))
            continue
        wanted = (block.align, block.bold, block.double)
        if wanted != style:
            job.set(
                align=block.align,
                bold=block.bold,
                double_width=block.double,
                double_height=block.double,
                normal_textsize=not block.double,
            )
            style = wanted
        job._raw(next(text_bytes) + b"\n")
    job.set(align="left", bold=False, normal_textsize=True)
    if cut == "none":
        job.print_and_feed(TEAR_OFF_FEED)
    else:
        job.cut(mode="PART" if cut == "partial" else "FULL")
    return bytes(job.output)


def raster(image: Image.Image) -> bytes:
    """``GS v 0`` raster of a 1-bit image. Built here rather than by python-escpos's ``image()``,
    which prints a warning to stdout for every image when the profile does not know its paper width."""
    from escpos.image import EscposImage  # after load_escpos: escpos.image imports nothing heavy

    picture = EscposImage(image)
    width_bytes, height = picture.width_bytes, picture.height
    header = b"\x1dv0\x00" + width_bytes.to_bytes(2, "little") + height.to_bytes(2, "little")
    return header + picture.to_raster_format()


class EscposReceiptPrinter:
    """A receipt printer on python-escpos; thread-safe (printing and status checks take turns).

    ``on_status`` is called with every status that differs from the last one seen, whether a status
    check or a print found it: the runner turns it into a ``DeviceStatus`` event, and the UI offers
    "print" only while ``status.can_print``. It is called holding the printer's lock: it must only
    hand the status on (put it on a queue), not print. ``connect`` replaces :func:`open_link`.
    """

    def __init__(
        self,
        settings: PrinterSettings,
        *,
        library: str,
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
        on_status: Callable[[PrinterStatus], None] | None = None,
        cache: Path | None = None,
        connect: Callable[[], Link] | None = None,
    ) -> None:
        if settings.connection == "none":
            raise ValueError('printer.connection = "none": use kiosk.shell.outputs.NoPrinter')
        self.settings = settings
        self._profile: Profile = profile(settings.profile)
        self._pages: tuple[CodePage, ...] = printer_pages(
            self._profile.code_pages, settings.code_pages or DEFAULT_PREFERENCE
        )
        if not self._pages:
            raise ValueError(
                f"printer profile {settings.profile!r} has none of the code pages the kiosk can use"
            )
        if settings.cut != "none" and not (self._profile.full_cut or self._profile.partial_cut):
            # python-escpos's cut() sends no cut at all for such a profile, silently
            raise ValueError(f'printer profile {settings.profile!r} has no cutter: set printer.cut = "none"')
        self.columns = settings.columns or COLUMNS[settings.paper_width]
        dots = DOTS[settings.paper_width]
        if self._profile.dots:
            dots = min(dots, self._profile.dots // 8 * 8)
        self.dots = dots
        self._logo = _load_logo(settings.logo, dots) if settings.logo else None
        self._masthead = Masthead(library, settings.footer, self._logo is not None, settings.date_format)
        self._now = now
        self._on_status = on_status
        self._cache = cache
        self._connect = connect or (lambda: open_link(settings, cache))
        self._lock = threading.Lock()
        self._link: Link | None = None
        self.last_status: PrinterStatus | None = None
        self._queries = settings.status_queries and settings.connection != "file"

    # -- ReceiptPrinter ---------------------------------------------------------------------------

    def print_lines(self, lines: Lines, *, kind: str) -> None:
        """Print one receipt or slip; OutputUnavailable (saying why) when it cannot come out.

        Nothing at all is printed for no lines: the core sends none, and blank paper helps no one.
        """
        if not lines:
            return
        transcoder = Transcoder(self._pages)
        printout = layout(
            kind,
            lines,
            columns=self.columns,
            printed_at=self._now(),
            masthead=self._masthead,
            prepare=transcoder.printable,
        )
        encoded = transcoder.encode([line.text for line in printout.text_lines])
        job = render_job(
            printout,
            encoded,
            profile_name=self.settings.profile,
            logo=self._logo,
            cut=self.settings.cut,
            cache=self._cache,
        )
        with self._lock:
            current = self._check()
            if not current.can_print:
                raise OutputUnavailable(f"printer {current.state}: {current.detail}")
            link = self._link
            assert link is not None
            try:
                link.write(job)
            except Exception as exc:  # serial, socket, USB and escpos errors alike: the device is gone
                self._drop_link()
                self._report(PrinterStatus(PrinterState.ABSENT, f"write failed: {exc}"))
                raise OutputUnavailable(f"printer write failed: {exc}") from exc
        if encoded.substitutions:
            shown = ", ".join(f"{c!r}->{r!r}" for c, r in encoded.substitutions)
            log.warning("printer has no code page for some characters; printed stand-ins: %s", shown)

    # -- status -----------------------------------------------------------------------------------

    def status(self) -> PrinterStatus:
        """Ask the printer now (opening it if need be)."""
        with self._lock:
            return self._check()

    def watch(self, stop: threading.Event) -> None:
        """Check the status now and every ``status_interval_seconds`` until ``stop`` is set (run it on
        a thread of its own); changes reach ``on_status``."""
        while True:
            try:
                self.status()
            except Exception:  # a watch that dies silently would leave "print" offered forever
                log.exception("printer status check failed")
            if stop.wait(self.settings.status_interval_seconds):
                return

    def print_test_page(self) -> PrinterStatus:
        """Staff's device test: a page showing the width, the code pages and the status."""
        current = self.status()
        ruler = "".join(str(i % 10) for i in range(1, self.columns + 1))
        lines = (
            ReceiptLine("Printer test", bold=True),
            ReceiptLine(f"Status: {current.state}{': ' + current.detail if current.detail else ''}"),
            ReceiptLine(
                f"Profile {self.settings.profile}, {self.settings.paper_width}, {self.columns} columns"
            ),
            ReceiptLine(ruler),
            ReceiptLine("Code pages: " + ", ".join(p.name for p in self._pages[:6])),
            ReceiptLine("ÀÉÎÕÜ àéîõü ß Æ ø Ł ó ź €"),
        )
        self.print_lines(lines, kind="receipt")
        return current

    def close(self) -> None:
        with self._lock:
            self._drop_link()

    # -- inside the lock --------------------------------------------------------------------------

    def _check(self) -> PrinterStatus:
        try:
            link = self._open()
        except OutputUnavailable as exc:
            return self._report(PrinterStatus(PrinterState.ABSENT, str(exc)))
        if not self._queries:
            why = (
                "a usblp device file cannot be asked"
                if self.settings.connection == "file"
                else "printer.status_queries = false"
            )
            return self._report(PrinterStatus(PrinterState.UNKNOWN, f"not asked ({why})", queried=False))
        for attempt in (1, 2):
            replies: dict[int, int | None] = {}
            try:
                while (n := st.needed(replies)) is not None:
                    replies[n] = link.ask(st.query(n), self.settings.status_timeout_seconds)
            except Exception as exc:
                self._drop_link()
                return self._report(PrinterStatus(PrinterState.ABSENT, f"status query failed: {exc}"))
            current = st.interpret(replies)
            # One garbled byte (line noise) must not cost a patron the receipt: ask once more. Silence
            # is not retried: it already cost a full timeout, and a silent printer stays silent.
            if attempt == 2 or not st.garbled(replies):
                break
        return self._report(current)

    def _open(self) -> Link:
        if self._link is None:
            try:
                self._link = self._connect()
            except OutputUnavailable:
                raise
            except Exception as exc:
                raise OutputUnavailable(f"printer not reachable: {exc}") from exc
        return self._link

    def _drop_link(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            try:
                link.close()
            except Exception:  # closing a device that vanished fails; it is gone either way
                log.debug("closing the printer failed", exc_info=True)

    def _report(self, current: PrinterStatus) -> PrinterStatus:
        if current != self.last_status:
            self.last_status = current
            if current.state is PrinterState.READY:
                log.info("printer ready")
            else:
                log.warning("printer %s: %s", current.state, current.detail)
            if self._on_status is not None:
                self._on_status(current)
        return current


def _load_logo(path: str, dots: int) -> Image.Image:
    try:
        with Image.open(path) as image:
            return printable_logo(image, dots)
    except (OSError, ValueError) as exc:  # Pillow's UnidentifiedImageError is an OSError
        raise ValueError(f"printer.logo {path}: not an image the kiosk can print ({exc})") from exc


# -- links on python-escpos's printer classes ----------------------------------------------------


def open_link(settings: PrinterSettings, cache: Path | None = None) -> Link:
    """Open the configured connection; OutputUnavailable with the reason when it cannot be."""
    escpos = load_escpos(cache)
    timeout = settings.timeout_seconds
    kind = settings.connection
    try:
        if kind == "serial":
            printer = escpos.Serial(
                devfile=settings.device,
                baudrate=settings.baudrate,
                timeout=timeout,
                dsrdtr=settings.flow_control == "dsrdtr",
                xonxoff=settings.flow_control == "xonxoff",
                profile=settings.profile,
            )
            printer.open()
            device = printer.device
            device.rtscts = settings.flow_control == "rtscts"  # python-escpos has no parameter for it
            device.write_timeout = timeout  # a printer holding CTS low must not hang the printer lane
            return SerialLink(printer)
        if kind == "network":
            printer = escpos.Network(
                host=settings.host, port=settings.port, timeout=timeout, profile=settings.profile
            )
            printer.open()
            return SocketLink(printer)
        if kind == "usb":
            printer = escpos.Usb(
                settings.usb_vendor_id,
                settings.usb_product_id,
                timeout=int(timeout * 1000),
                profile=settings.profile,
            )
            printer.open()
            return UsbLink(printer, int(timeout * 1000))
        if kind == "file":
            printer = escpos.File(devfile=settings.device, profile=settings.profile)
            printer.open()
            return WriteOnlyLink(printer)
    except RuntimeError as exc:  # python-escpos's "dependency missing" error
        raise OutputUnavailable(
            f"printer driver missing: {exc} (USB printers need: pip install pyusb)"
        ) from exc
    except Exception as exc:
        raise OutputUnavailable(f"printer not found ({kind} {_where(settings)}): {_one_line(exc)}") from exc
    raise OutputUnavailable(f"printer.connection {kind!r} is not one the kiosk can open")


def _where(settings: PrinterSettings) -> str:
    if settings.connection == "network":
        return f"{settings.host}:{settings.port}"
    if settings.connection == "usb":
        return f"{settings.usb_vendor_id:04x}:{settings.usb_product_id:04x}"
    return settings.device


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class SerialLink:
    def __init__(self, printer: Any) -> None:
        self._printer = printer
        self._port = printer.device

    def write(self, data: bytes) -> None:
        self._port.write(data)
        self._port.flush()

    def ask(self, question: bytes, timeout: float) -> int | None:
        port = self._port
        port.reset_input_buffer()  # a late answer to an earlier query must not pass for this one
        port.write(question)
        port.timeout = timeout
        answer = port.read(1)
        return answer[0] if answer else None

    def close(self) -> None:
        try:
            _close(self._printer)
        finally:
            self._port.close()  # python-escpos flushes first, which fails once the device is gone


def _close(printer: Any) -> None:
    """Close a python-escpos printer and mark it closed even when closing fails: its ``__del__``
    closes again, and on a vanished device that prints "Exception ignored" tracebacks to stderr."""
    try:
        printer.close()
    finally:
        printer.device = False


class SocketLink:
    def __init__(self, printer: Any) -> None:
        self._printer = printer
        self._socket: socket.socket = printer.device

    def write(self, data: bytes) -> None:
        self._socket.sendall(data)

    def ask(self, question: bytes, timeout: float) -> int | None:
        sock = self._socket
        saved = sock.gettimeout()
        try:
            sock.setblocking(False)
            try:
                while sock.recv(64):
                    pass  # drop late answers to earlier queries
            except BlockingIOError:
                pass
            sock.settimeout(timeout)
            sock.sendall(question)
            try:
                answer = sock.recv(1)
            except TimeoutError:
                return None
            if not answer:
                raise ConnectionError("the printer closed the connection")
            return answer[0]
        finally:
            sock.settimeout(saved)

    def close(self) -> None:
        _close(self._printer)


class UsbLink:
    def __init__(self, printer: Any, timeout_ms: int) -> None:
        self._printer = printer
        self._timeout_ms = timeout_ms

    def write(self, data: bytes) -> None:
        self._printer.device.write(self._printer.out_ep, data, self._timeout_ms)

    def ask(self, question: bytes, timeout: float) -> int | None:
        import usb.core  # present: Usb.open() needed it

        device = self._printer.device
        device.write(self._printer.out_ep, question, self._timeout_ms)
        try:
            answer = device.read(self._printer.in_ep, 16, max(1, int(timeout * 1000)))
        except usb.core.USBTimeoutError:
            return None
        return answer[-1] if len(answer) else None

    def close(self) -> None:
        _close(self._printer)


class WriteOnlyLink:
    """A usblp device file (/dev/usb/lp0): python-escpos only writes to it."""

    def __init__(self, printer: Any) -> None:
        self._printer = printer

    def write(self, data: bytes) -> None:
        self._printer._raw(data)

    def ask(self, question: bytes, timeout: float) -> int | None:
        return None

    def close(self) -> None:
        _close(self._printer)
