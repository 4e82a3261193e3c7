"""Encode+decode of a realistic SIP2 message mix: ours against pysip2's codec, same run.

Each round decodes every frame of the mix and encodes the result again (with AY/AZ), which is
what a self-check does with every response and request. Rounds alternate between the two
codecs so background load hits both alike; the median round is reported. Goal: >= 3x.

    .venv/bin/python bench/sip2_codec.py [--rounds 15] [--loops 300]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import pysip2

from sip2 import codec

# One patron session's worth of traffic, as a kiosk sees it (frames from the reference's
# SIPServer transcript, plus the bigger responses a real ILS sends). The checkout carries a
# filled nb due date because pysip2 refuses the (common) blank one: the mix must be the same
# for both codecs.
MIX = [
    b"9300CNscclient|COclientpwd|CPkiosk1|AY0AZF134\r",
    b"941AY0AZFDFD\r",
    b"9900302.00AY1AZFCA5\r",
    b"98YNNYNN60000320261127    0040062.00AOUWOLS|BXYYYYYYYYYNYNYYYY|AY1AZEDE1\r",
    b"6300020261127    004006  Y       AOUWOLS|AAdjfiander|AC|AD6789|BP1|BQ5|AY2AZ",
    b"64              00120261127    004006000000000003000000000000AOUWOLS|AAdjfiander|AEDavid J. Fiander|"
    b"BZ0005|CB0020|BLY|CQY|AU1565921879|AU0440242746|AU0000000660|BEdjf@example.org|AFWelcome back|AY2AZ",
    b"11YN20261127    00400620261211    004006AOUWOLS|AAdjfiander|AB1565921879|AC|AD6789|AY4AZ",
    b"121NNY20261127    004006AOUWOLS|AAdjfiander|AB1565921879|AJPerl 5 desktop reference|"
    b"AH20261211    004006|CK001|AY4AZDFBF\r",
    b"09N20261127    00400620261127    004006APkiosk1|AOUWOLS|AB1565921879|AC|AY1AZED4C\r",
    b"101YNY20261127    004006AOUWOLS|AB1565921879|AQMain|AJPerl 5 desktop reference|CLHOLD|CV01|"
    b"CTMain|CY21234000000017|DAAnn Reader|AFHold for patron|AY1AZ",
    b"1720261127    004006AOUWOLS|AB1565921879|AC|AY5AZ",
    b"1803000120261127    004006CF0|AB1565921879|AJPerl 5 desktop reference|AQMain|AY5AZ",
    b"29NN20261127    00400620261218    004006AOUWOLS|AAdjfiander|AD6789|AB1565921879|AC|AY6AZ",
    b"301YNY20261127    004006AOUWOLS|AAdjfiander|AB1565921879|AJPerl 5 desktop reference|"
    b"AH20261218    004006|AY6AZ",
]


def _finish(frame: bytes) -> bytes:
    """Append the checksum to frames written above with a bare ``AZ``."""
    if frame.endswith(b"AZ"):
        return frame + codec.checksum(frame).encode() + b"\r"
    return frame


FRAMES = [_finish(f) for f in MIX]


def ours() -> None:
    for frame in FRAMES:
        f = codec.decode_frame(frame)
        codec.encode(f.message, sequence=f.sequence)


def theirs() -> None:
    for frame in FRAMES:
        d = pysip2.decode_message(frame)
        pysip2.encode_message(d.message, sequence_number=d.sequence_number, checksum=True)


def check_equivalence() -> None:
    """Both codecs must accept every frame and reproduce it, or the comparison is unfair."""
    for frame in FRAMES:
        f = codec.decode_frame(frame, strict=True)
        assert codec.encode(f.message, sequence=f.sequence) == frame, frame
        d = pysip2.decode_message(frame)
        pysip2.encode_message(d.message, sequence_number=d.sequence_number, checksum=True)


def measure(fn, loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - start) / (loops * len(FRAMES))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--loops", type=int, default=300)
    args = parser.parse_args()
    check_equivalence()
    for fn in (ours, theirs):  # warm caches and the generated code
        measure(fn, 20)
    ours_t, theirs_t = [], []
    for _ in range(args.rounds):
        ours_t.append(measure(ours, args.loops))
        theirs_t.append(measure(theirs, args.loops))
    o, t = statistics.median(ours_t), statistics.median(theirs_t)
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    print(f"mix: {len(FRAMES)} frames (login, status, patron info, checkout, checkin, item info, renew)")
    print(f"{'codec':<10} {'us/message':>11} {'messages/s':>12}")
    print(f"{'ours':<10} {o * 1e6:>11.2f} {1 / o:>12,.0f}")
    print(f"{'pysip2':<10} {t * 1e6:>11.2f} {1 / t:>12,.0f}")
    print(f"ratio (pysip2 time / ours): {t / o:.2f}x  (goal >= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
