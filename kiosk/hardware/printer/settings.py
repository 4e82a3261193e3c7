"""[printer]: which receipt printer, how it is connected, and what goes on the paper.

A schema section in the style of :mod:`kiosk.config` (frozen dataclass of ``setting(...)`` fields).
:func:`check_printer` holds the checks between keys, for ``kiosk.config.CROSS_CHECKS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kiosk.config_schema import (
    Check,
    boolean,
    existing_file,
    integer,
    one_of,
    positive_number,
    setting,
    text,
)
from kiosk.hardware.printer.codepage import CODECS
from kiosk.hardware.printer.profiles import profiles

CONNECTIONS = ("none", "serial", "usb", "network", "file")
FLOW_CONTROL = ("none", "rtscts", "dsrdtr", "xonxoff")


def code_page_list() -> Check:
    names = tuple(sorted(CODECS))
    return Check(
        f"an array of code page names from: {', '.join(names)}",
        lambda v: isinstance(v, list) and all(isinstance(n, str) and n in CODECS for n in v),
        convert=tuple,
        choices=names,
    )


def profile_name() -> Check:
    return Check(
        'a python-escpos printer profile name such as "default", "TM-T20II" or "POS-5890"',
        lambda v: isinstance(v, str) and v in profiles(),
        choices=tuple(sorted(profiles())),
    )


@dataclass(frozen=True, kw_only=True)
class PrinterSettings:
    """[printer]: the ESC/POS receipt printer."""

    connection: str = setting(
        "none", check=one_of(*CONNECTIONS), doc="how the printer is connected; none: no printer"
    )
    device: str = setting("", check=text(), doc="serial port or usblp device file (serial, file)")
    baudrate: int = setting(9600, check=integer(1200, 921600), doc="serial speed, as set on the printer")
    flow_control: str = setting("none", check=one_of(*FLOW_CONTROL), doc="serial flow control")
    usb_vendor_id: int = setting(0, check=integer(0, 0xFFFF), doc="USB vendor id (usb)")
    usb_product_id: int = setting(0, check=integer(0, 0xFFFF), doc="USB product id (usb)")
    host: str = setting("", check=text(), doc="printer host name or address (network)")
    port: int = setting(9100, check=integer(1, 65535), doc="printer TCP port (network)")
    profile: str = setting("default", check=profile_name(), doc="python-escpos profile: code pages, cutter")
    paper_width: str = setting("80mm", check=one_of("58mm", "80mm"), doc="paper roll width")
    columns: int = setting(0, check=integer(0, 64), doc="characters per line; 0: from the paper width")
    code_pages: tuple[str, ...] = setting(
        (), check=code_page_list(), doc="code pages to use, preferred first; empty: built-in order"
    )
    cut: str = setting("full", check=one_of("full", "partial", "none"), doc="cut after each printout")
    logo: str | None = setting(None, check=existing_file(), doc="image printed above receipts (PNG)")
    footer: str = setting("", check=text(), doc="text at the end of every receipt")
    date_format: str = setting("%Y-%m-%d %H:%M", check=text(nonempty=True), doc="strftime format of the date")
    status_queries: bool = setting(True, check=boolean(), doc="ask the printer for its status (DLE EOT)")
    status_timeout_seconds: float = setting(0.5, check=positive_number(), doc="wait for one status answer")
    status_interval_seconds: float = setting(60.0, check=positive_number(), doc="status check while idle")
    timeout_seconds: float = setting(5.0, check=positive_number(), doc="connect and write timeout")


def check_printer(settings: Any, origin: Any) -> Iterator[str]:
    """Cross-key checks of [printer] (a ``kiosk.config.CrossCheck``: settings, provenance -> lines)."""
    printer: PrinterSettings = settings.printer
    needs = {
        "serial": ("device", printer.device.strip() != "", "the serial port, e.g. /dev/serial/by-id/..."),
        "file": ("device", printer.device.strip() != "", "the device file, e.g. /dev/usb/lp0"),
        "network": ("host", printer.host.strip() != "", "the printer's host name or address"),
        "usb": (
            "usb_vendor_id",
            printer.usb_vendor_id != 0 and printer.usb_product_id != 0,
            "usb_vendor_id and usb_product_id (see lsusb)",
        ),
    }
    if printer.connection in needs:
        key, present, what = needs[printer.connection]
        if not present:
            yield (
                f"{origin.label('printer.connection')}: printer.connection: "
                f'"{printer.connection}" needs printer.{key}: {what}'
            )
    if printer.profile in profiles():
        model = profiles()[printer.profile]
        if printer.cut != "none" and not (model.full_cut or model.partial_cut):
            yield (
                f'{origin.label("printer.cut")}: printer.cut: expected "none" with printer.profile = '
                f'"{printer.profile}" (that model has no cutter; python-escpos would silently not cut), '
                f'got "{printer.cut}"'
            )
        missing = [name for name in printer.code_pages if name not in model.code_pages.values()]
        if missing:
            has = sorted(set(model.code_pages.values()) & set(CODECS))
            yield (
                f"{origin.label('printer.code_pages')}: printer.code_pages: "
                f'{", ".join(missing)} not in profile "{printer.profile}", which has: {", ".join(has)}'
            )
