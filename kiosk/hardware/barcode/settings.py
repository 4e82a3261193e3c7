"""[scanner]: the barcode scanner, how it is connected, and which barcodes are this library's.

A schema section in the style of :mod:`kiosk.config`, next to the drivers it configures
(:class:`~kiosk.hardware.barcode.serial_scanner.SerialScanner`,
:class:`~kiosk.hardware.barcode.evdev_scanner.EvdevScanner`) and the classifier
(:func:`~kiosk.hardware.barcode.classify.rules_from_config`). The rules are checked as a whole in
:func:`check_scanner` (for ``kiosk.config.CROSS_CHECKS``), which names the rule and the key at fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kiosk.config_schema import Check, boolean, integer, one_of, setting, text
from kiosk.hardware.barcode.base import Scanner
from kiosk.hardware.barcode.classify import BarcodeRulesError, ClassificationRules, rules_from_config
from kiosk.hardware.barcode.events import ScanFormat
from kiosk.hardware.barcode.framing import TERMINATORS

DRIVERS = ("none", "evdev", "serial")

#: The built-in rules: 14-digit Codabar library barcodes (type digit 2 for patrons, 3 for items,
#: with the Codabar-14 check digit), as :data:`~kiosk.hardware.barcode.classify.DEFAULT_RULES`.
DEFAULT_RULE_TABLES: tuple[dict[str, str], ...] = (
    {"kind": "patron", "pattern": "2\\d{13}", "check": "codabar14", "name": "codabar14-patron"},
    {"kind": "item", "pattern": "3\\d{13}", "check": "codabar14", "name": "codabar14-item"},
)


def rule_tables() -> Check:
    """Shape only; what each table says is checked by :func:`check_scanner`, with the reason."""
    return Check(
        'an array of tables such as { kind = "patron", pattern = "2\\\\d{13}", check = "codabar14" }',
        lambda v: isinstance(v, list) and all(isinstance(rule, dict) for rule in v),
        convert=lambda v: tuple(dict(rule) for rule in v),
    )


@dataclass(frozen=True, kw_only=True)
class ScannerSettings:
    """[scanner]: the barcode scanner."""

    driver: str = setting("none", check=one_of(*DRIVERS), doc="scanner driver; none: no scanner")
    device: str = setting("", check=text(), doc="serial port, or evdev input device path or name")
    baudrate: int = setting(9600, check=integer(1200, 921600), doc="serial speed, as set on the scanner")
    terminator: str = setting("CR", check=one_of(*sorted(TERMINATORS)), doc="end of a scan on a serial line")
    grab: bool = setting(True, check=boolean(), doc="evdev: keep the scanner's keys from the screen")
    prefix: str = setting("", check=text(), doc="text the scanner sends before each barcode, removed")
    suffix: str = setting("", check=text(), doc="text the scanner sends after each barcode, removed")
    aim_identifier: bool = setting(False, check=boolean(), doc="the scanner sends an AIM symbology identifier")
    rules: tuple[dict[str, str], ...] = setting(
        DEFAULT_RULE_TABLES, check=rule_tables(), doc="which barcodes are patron cards and which items"
    )
    detect_publisher_barcodes: bool = setting(
        True, check=boolean(), doc="tell a patron who scanned an ISBN where the library barcode is"
    )


def rules_from(scanner: ScannerSettings) -> ClassificationRules:
    """The classification rules (valid settings make valid rules: :func:`check_scanner`)."""
    tables = [dict(rule) for rule in scanner.rules]
    return rules_from_config({"rules": tables, "detect_publisher_barcodes": scanner.detect_publisher_barcodes})


def scan_format_from(scanner: ScannerSettings) -> ScanFormat:
    return ScanFormat(strip_prefix=scanner.prefix, strip_suffix=scanner.suffix,
                      aim_identifier=scanner.aim_identifier)


def scanner_from(scanner: ScannerSettings) -> Scanner | None:
    """The configured driver, not started; None for ``driver = "none"``. Raises the driver's
    ``ScannerDependencyMissing`` when evdev is not installed."""
    if scanner.driver == "serial":
        from kiosk.hardware.barcode.serial_scanner import SerialScanner

        return SerialScanner(scanner.device, baudrate=scanner.baudrate, terminator=scanner.terminator,
                             scan_format=scan_format_from(scanner))
    if scanner.driver == "evdev":
        from kiosk.hardware.barcode.evdev_scanner import EvdevScanner

        return EvdevScanner(scanner.device, grab=scanner.grab, scan_format=scan_format_from(scanner))
    return None


def check_scanner(settings: Any, origin: Any) -> Iterator[str]:
    """Cross-key checks of [scanner] (a ``kiosk.config.CrossCheck``: settings, provenance -> lines)."""
    scanner: ScannerSettings = settings.scanner
    if scanner.driver != "none" and not scanner.device.strip():
        what = "the serial port, e.g. /dev/serial/by-id/..." if scanner.driver == "serial" else (
            "an input device path (/dev/input/by-id/...-event-kbd) or part of its name")
        yield f'{origin.label("scanner.driver")}: scanner.driver: "{scanner.driver}" needs scanner.device: {what}'
    try:
        rules_from(scanner)
    except BarcodeRulesError as exc:
        yield f"{origin.label('scanner.rules')}: scanner.rules: {str(exc).replace('barcode.', 'scanner.')}"
