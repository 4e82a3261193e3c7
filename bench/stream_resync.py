"""How the serial stream decoders' cost grows with garbage: bytes per second through the FEIG and 3M
decoders fed garbage that keeps announcing complete frames with bad checksums (the shape the fuzzer
found), against the same decoder fed the same number of bytes of valid frames, in the same run.

The search behind a bad frame used to go through the whole buffer once per bad frame, so garbage cost
grew with the square of its length (4 KB took seconds). The figure that shows it is fixed is the
ratio (garbage time / valid-frames time) at each size: it must stay about the same as the input grows
(linear), where before it grew about 4x for every 4x more garbage.

Then the fuzzer's own finds (tests/kiosk/hardware/rfid/fuzz_found/feig-stream-*.bin: the two that were
quadratic, and two whose 0xFF bytes announce 255-byte frames at every position, which made the CRC
the cost while it was computed in Python), each through the fuzz target's three decoders, against a
stream of valid frames of the same length.

Run: ``.venv/bin/python bench/stream_resync.py [--sizes 1024,4096,16384,65536] [--repeat N]``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.hardware.rfid.readers import feig_protocol as fp
from kiosk.hardware.rfid.readers import m3_810_protocol as mp

UID = bytes.fromhex("E004010012345678")
FOUND = Path(__file__).resolve().parent.parent / "tests" / "kiosk" / "hardware" / "rfid" / "fuzz_found"


def repeated(unit: bytes, size: int) -> bytes:
    return (unit * (size // len(unit) + 1))[:size]


def feig_garbage(size: int) -> bytes:
    # each 0x07 announces a 7-byte frame that is all there, with a CRC that never holds
    return repeated(bytes((7, 0xFF, 0xB0, 0x00, 0x00, 0x12, 0x34)), size)


def feig_valid(size: int) -> bytes:
    reply = fp.Reply(0xB0, fp.Status.OK, fp.build_read_blocks_data(4, bytes(range(32))))
    return repeated(fp.build_reply(reply), size)


def m3_garbage(size: int) -> bytes:
    return repeated(bytes((0xD6, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00)), size)


def m3_valid(size: int) -> bytes:
    return repeated(mp.build_reply(mp.Reply(0x02, 0, UID + bytes(16))), size)


def drain(make: Callable[[], fp.FrameDecoder | mp.FrameDecoder], data: bytes, read: int = 0) -> int:
    """Feed ``data`` in reads of ``read`` bytes (0: all at once, as a buffer that filled while the host
    was busy, the worst case), taking every frame and error out after each read."""
    decoder = make()
    out = 0
    read = read or len(data)
    for start in range(0, len(data), read):
        decoder.feed(data[start : start + read])
        while True:
            try:
                if decoder.next_frame() is None:
                    break
            except decoder.error_type:
                pass
            out += 1
    return out


def bytes_per_second(
    make: Callable[[], fp.FrameDecoder | mp.FrameDecoder], data: bytes, repeat: int, read: int = 0
) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        drain(make, data, read)
        best = min(best, time.perf_counter() - started)
    return len(data) / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,4096,16384,65536")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--read", type=int, default=0, help="bytes per read (default: the whole input at once)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    decoders = (
        ("FEIG", lambda: fp.FrameDecoder("reply"), feig_garbage, feig_valid),
        ("3M 810", lambda: mp.FrameDecoder("reply"), m3_garbage, m3_valid),
    )
    print("| decoder | bytes | garbage ms | valid frames ms (baseline) | ratio |")
    print("|---|---|---|---|---|")
    for name, make, garbage, valid in decoders:
        for size in sizes:
            bad = bytes_per_second(make, garbage(size), args.repeat, args.read)
            good = bytes_per_second(make, valid(size), args.repeat, args.read)
            bad_ms, good_ms = size / bad * 1000, size / good * 1000
            print(f"| {name} | {size:,} | {bad_ms:,.2f} | {good_ms:,.2f} | {bad_ms / good_ms:,.1f} |", flush=True)
    print()
    print("| fuzzer's input | bytes | ms (3 decoders) | valid frames, same length, ms (baseline) | ratio |")
    print("|---|---|---|---|---|")
    kinds = (lambda: fp.FrameDecoder("reply"), lambda: fp.FrameDecoder("request"),
             lambda: fp.FrameDecoder("reply", expect_command=fp.Command.ISO_HOST))
    for path in sorted(FOUND.glob("feig-stream-*.bin")):
        data = path.read_bytes()
        found = sum(len(data) / bytes_per_second(make, data, args.repeat * 20) for make in kinds)
        valid = sum(len(data) / bytes_per_second(make, feig_valid(len(data)), args.repeat * 20) for make in kinds)
        print(f"| {path.stem} | {len(data)} | {found * 1000:.2f} | {valid * 1000:.2f} | {found / valid:.1f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
