"""Barcode scanning: the serial driver's latency and the classifier's throughput, each with a baseline.

1. Latency from a scan's bytes written into the simulated scanner's pty to the `Scan` event in the
   callback, through `SerialScanner` (pyserial, framing, reader thread). Baseline: a bare pyserial
   loop on the same pty reading until CR. The difference is the driver's own cost; a patron notices
   nothing under ~50 ms. A real 9600-baud scanner adds ~1 ms per character on the wire.
2. `classify()` calls per second on a realistic mix (patron cards, items, ISBNs, junk) with the
   default 14-digit Codabar rules. Baseline: the least any classifier must do for the same mix, a
   regex full match plus python-stdnum's Luhn check.

Run: ``.venv/bin/python bench/barcode_scan.py [--scans N] [--seconds S]``
"""

from __future__ import annotations

import argparse
import queue
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import serial
from stdnum import luhn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hardware_mocks.scanner import SimulatedSerialScanner
from kiosk.hardware.barcode import SerialScanner, classify
from kiosk.hardware.barcode.checkdigits import luhn_check_digit


def driver_latency(device: SimulatedSerialScanner, scans: int) -> list[float]:
    events: queue.Queue = queue.Queue()
    latencies = []
    with SerialScanner(device.port) as scanner:
        scanner.start(events.put)
        for index in range(scans):
            text = f"3{index:012d}"
            started = time.perf_counter()
            device.scan(text, pace=False)
            event = events.get(timeout=5)
            latencies.append(time.perf_counter() - started)
            assert event.text == text, event
            time.sleep(0.002)  # scans arrive one at a time, as at the kiosk
    return latencies


def bare_pyserial_latency(device: SimulatedSerialScanner, scans: int) -> list[float]:
    latencies = []
    with serial.Serial(device.port, 9600, timeout=5) as port:
        for index in range(scans):
            text = f"3{index:012d}".encode()
            started = time.perf_counter()
            device.scan(text, pace=False)
            line = port.read_until(b"\r")
            latencies.append(time.perf_counter() - started)
            assert line == text + b"\r", line
            time.sleep(0.002)
    return latencies


def scan_mix() -> list[str]:
    mix = []
    for index in range(250):
        patron = f"2{1234:04d}{index:08d}"
        item = f"3{1234:04d}{index:08d}"
        patron, item = patron + luhn_check_digit(patron), item + luhn_check_digit(item)
        mix += [patron, item, "9780306406157", f"junk{index}"]
    return mix


def per_second(function, inputs: list[str], seconds: float) -> float:
    calls, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for text in inputs:
            function(text)
        calls += len(inputs)
    return calls / (time.perf_counter() - started)


_BASELINE = re.compile(r"[23]\d{13}")


def baseline_classify(text: str) -> bool:
    return bool(_BASELINE.fullmatch(text)) and luhn.is_valid(text)


def describe(name: str, latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    median, p95 = statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]
    print(f"  {name:<28} median {median * 1000:6.3f} ms   p95 {p95 * 1000:6.3f} ms")
    return median, p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()

    print(f"1. scan latency over a pty, {args.scans} scans")
    with tempfile.TemporaryDirectory() as tmp, SimulatedSerialScanner(Path(tmp) / "scanner") as device:
        bare_pyserial_latency(device, 20)  # warm up both paths
        ours = describe("SerialScanner -> callback", driver_latency(device, args.scans))
        base = describe("bare pyserial read_until", bare_pyserial_latency(device, args.scans))
    print(f"  ratio (ours / baseline): median {ours[0] / base[0]:.2f}x, p95 {ours[1] / base[1]:.2f}x")

    print(f"2. classification throughput, {args.seconds:.0f} s each")
    mix = scan_mix()
    ours_rate = per_second(classify, mix, args.seconds)
    base_rate = per_second(baseline_classify, mix, args.seconds)
    print(f"  classify():                  {ours_rate:12,.0f} /s")
    print(f"  regex + stdnum luhn:         {base_rate:12,.0f} /s")
    print(f"  ratio (baseline / ours): {base_rate / ours_rate:.2f}x slower than the bare minimum")


if __name__ == "__main__":
    main()
