"""Staff's device tests (``TestDevice`` → ``DeviceTested``): does the reader answer, does the printer print?

A test says what it saw in words staff can act on, and fails honestly: a kiosk without a printer
answers "no printer configured", never "OK". The reader test is an inventory, the one command every
reader has: it proves the line, the reader and its antenna, and counts what lies in the field. The
printer test prints a test page: the printer's own (``print_test_page()``, which the ESC/POS driver
has, with width, code pages and status) where it has one, else a short page through the plain
:class:`~kiosk.shell.outputs.ReceiptPrinter` interface.
"""

from __future__ import annotations

from typing import Any

from kiosk.circulation.commands import ReceiptLine, TestDevice
from kiosk.circulation.events import DeviceTested
from kiosk.hardware.rfid.readers.base import ReaderError, TagReader
from kiosk.shell.outputs import NoPrinter, OutputUnavailable, ReceiptPrinter

TEST_PAGE = (
    ReceiptLine("Printer test", bold=True),
    ReceiptLine("If you can read this, the kiosk's receipt printer works."),
)

#: The worker lane each component's test runs on: the reader's test takes turns with security writes.
LANES = {"reader": "rfid", "printer": "printer"}


class DeviceTests:
    """Tests ``reader`` (``None``: the kiosk has none) and ``printer``."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, reader: TagReader | None = None, printer: ReceiptPrinter | None = None) -> None:
        self.reader = reader
        self.printer = printer or NoPrinter()

    def perform(self, command: TestDevice) -> DeviceTested:
        if command.component == "reader":
            ok, detail = self._reader()
        elif command.component == "printer":
            ok, detail = self._printer()
        else:
            ok, detail = False, f"no test for {command.component!r}"
        return DeviceTested(command.ref, ok, detail)

    def _reader(self) -> tuple[bool, str]:
        if self.reader is None:
            return False, "no RFID reader configured"
        try:
            tags = self.reader.inventory()
        except ReaderError as exc:
            return False, str(exc)
        count = len(tags)
        return True, f"{self.reader.name} answers; {count} tag{'' if count == 1 else 's'} in the field"

    def _printer(self) -> tuple[bool, str]:
        own_page = getattr(self.printer, "print_test_page", None)
        try:
            if callable(own_page):
                status: Any = own_page()
            else:
                self.printer.print_lines(TEST_PAGE, kind="receipt")
                status = None
        except OutputUnavailable as exc:
            return False, str(exc)
        state = getattr(status, "state", None)
        detail = getattr(status, "detail", "")
        if state is None:
            return True, "test page printed"
        return True, f"test page printed; printer {state}{': ' + detail if detail else ''}"
