"""Receipt printer: how long the kiosk waits to know whether a receipt can come out, and to print one.

1. A status check (DLE EOT 1 and 4, as before every receipt) through ``EscposReceiptPrinter.status()``
   on the simulated printer's pty. Baseline: python-escpos's own ``is_online()`` + ``paper_status()``
   on the same pty with the same timeout: its ``query_status`` reads 16 bytes, so each query waits its
   full timeout even though the printer answered 1 byte at once.
2. A whole receipt (status check, layout, code pages, job bytes, write) until the simulated printer
   has cut it off. Baseline: the same receipt's lines sent with python-escpos's ``textln()`` and
   ``cut()`` (magic encoding, no status check, no layout).

A pty has no baud rate: a real 38400-baud serial printer adds ~0.26 ms per byte on the wire (a 1.2 kB
receipt: ~0.3 s), 9600 baud four times that.

Run: ``.venv/bin/python bench/printer_status.py [--rounds N] [--timeout S]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hardware_mocks.printer_pty import SimulatedPrinter
from kiosk.circulation.commands import ReceiptLine
from kiosk.hardware.printer.device import EscposReceiptPrinter
from kiosk.hardware.printer.escpos_import import load_escpos
from kiosk.hardware.printer.settings import PrinterSettings

LINES = (
    ReceiptLine("Library receipt", bold=True),
    ReceiptLine("Card: ****3456"),
    ReceiptLine("Borrowed", bold=True),
    *(
        line
        for i in range(6)
        for line in (ReceiptLine(f"Müller, Ærø: volume {i}"), ReceiptLine("  due 2025-03-15"))
    ),
)


def wait_sheets(sim: SimulatedPrinter, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(sim.sheets) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the simulated printer did not cut the receipt")
        time.sleep(0.0005)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=0.2, help="status / read timeout, seconds")
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="bench-escpos-"))
    escpos = load_escpos(cache)

    with SimulatedPrinter(paper_width="80mm") as sim:
        settings = PrinterSettings(connection="serial", device=sim.path, status_timeout_seconds=args.timeout)
        printer = EscposReceiptPrinter(settings, library="Stadtbücherei", cache=cache)
        printer.status()  # open the port once, as the running kiosk has it open
        ours = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            assert printer.status().can_print
            ours.append(time.perf_counter() - started)

        raw = escpos.Serial(devfile=sim.path, timeout=args.timeout, dsrdtr=False)
        raw.open()
        theirs = []
        for _ in range(max(3, args.rounds // 4)):  # each one costs 2 x timeout
            started = time.perf_counter()
            assert raw.is_online() and raw.paper_status() == 2
            theirs.append(time.perf_counter() - started)
        raw.close()
        print(
            f"status check   ours {median_ms(ours):8.2f} ms   python-escpos {median_ms(theirs):8.2f} ms   "
            f"ratio {median_ms(theirs) / median_ms(ours):6.1f}x faster  (timeout {args.timeout} s)"
        )

        receipts = []
        for _ in range(args.rounds):
            count = len(sim.sheets) + 1
            started = time.perf_counter()
            printer.print_lines(LINES, kind="receipt")
            wait_sheets(sim, count)
            receipts.append(time.perf_counter() - started)
        printer.close()

        raw = escpos.Serial(devfile=sim.path, timeout=args.timeout, dsrdtr=False)
        raw.open()
        plain = []
        for _ in range(args.rounds):
            count = len(sim.sheets) + 1
            started = time.perf_counter()
            for line in LINES:
                raw.textln(line.text)
            raw.cut()
            wait_sheets(sim, count)
            plain.append(time.perf_counter() - started)
        raw.close()
        print(
            f"whole receipt  ours {median_ms(receipts):8.2f} ms   python-escpos {median_ms(plain):8.2f} ms   "
            f"ratio {median_ms(receipts) / median_ms(plain):6.1f}x slower (status check + layout)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
