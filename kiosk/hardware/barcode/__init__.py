"""Barcode scanners behind one interface, and the classification of what they read.

A package rather than the single ``barcode.py`` of DESIGN.md §3 because it holds two unrelated
jobs with different dependencies: pure logic (``classify``, ``checkdigits``, ``keymap``,
``keyboard``, ``framing``: no I/O, tested without devices) and device drivers (``serial_scanner``
on pyserial, ``evdev_scanner`` on the optional evdev). Import from here; the module split is an
implementation detail.
"""

from kiosk.hardware.barcode.base import Scanner, ThreadedScanner
from kiosk.hardware.barcode.classify import (
    DEFAULT_RULES,
    MESSAGES,
    BarcodeKind,
    BarcodeRule,
    BarcodeRulesError,
    CheckDigit,
    Classification,
    ClassificationRules,
    Message,
    classify,
    publisher_barcode_type,
    rules_from_config,
)
from kiosk.hardware.barcode.evdev_scanner import EvdevScanner
from kiosk.hardware.barcode.events import (
    Garbled,
    Scan,
    ScanFormat,
    ScannerDependencyMissing,
    ScannerError,
    ScannerEvent,
    ScannerUnavailable,
    UnreadableScan,
)
from kiosk.hardware.barcode.keyboard import KeyboardScanner, KeystrokeAssembler, TypedText
from kiosk.hardware.barcode.keymap import US_LAYOUT, KeyboardLayout, KeyEventDecoder, decode_key_events
from kiosk.hardware.barcode.serial_scanner import SerialScanner

__all__ = [
    "DEFAULT_RULES",
    "MESSAGES",
    "US_LAYOUT",
    "BarcodeKind",
    "BarcodeRule",
    "BarcodeRulesError",
    "CheckDigit",
    "Classification",
    "ClassificationRules",
    "EvdevScanner",
    "Garbled",
    "KeyEventDecoder",
    "KeyboardLayout",
    "KeyboardScanner",
    "KeystrokeAssembler",
    "Message",
    "Scan",
    "ScanFormat",
    "Scanner",
    "ScannerDependencyMissing",
    "ScannerError",
    "ScannerEvent",
    "ScannerUnavailable",
    "SerialScanner",
    "ThreadedScanner",
    "TypedText",
    "UnreadableScan",
    "classify",
    "decode_key_events",
    "publisher_barcode_type",
    "rules_from_config",
]
