"""APDU throughput of the PC/SC driver through the real pcscd, on the vpcd-simulated tag.

Three figures, each with a baseline measured in the same run:

1. Reading a 28-block ICODE tag with ``PcscReader.read_blocks`` (part 3 read binary, one APDU per
   block), in APDUs/s. Baseline: the same APDUs sent with bare ``scard.SCardTransmit`` on the same
   card: the floor pyscard + pcscd + vpcd impose. The ratio is the driver's own overhead.
2. ``write_afi`` (a raw ISO 15693 frame) per second with the transparent exchange (4 APDUs: start
   session, switch protocol, exchange, end session) against ACS direct transmit (1 APDU).
3. The simulator with and without TCP_QUICKACK: vpcd writes length and payload separately, and
   Nagle's algorithm meeting delayed ACKs costs ~40 ms per APDU. This decides how long the PC/SC
   tests take, not how the kiosk performs with a real reader (which adds its own RF time: about
   15 ms per 8-block read, shared/reference/rfid.md section 4.5).

Starts ``pcscd --foreground`` when none answers (root needed, as in CI) and stops what it started.
Run: ``.venv/bin/python bench/pcsc_apdu.py [--seconds S]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smartcard import scard

from hardware_mocks.pcsc_tag import PcscTagSimulator, SimulatedTag
from kiosk.hardware.rfid.readers.pcsc import AcsDirectTransmit, PcscReader, TransparentExchange
from kiosk.hardware.rfid.readers.pcsc_apdu import read_binary_apdu

SLOT = "Virtual PCD 00 00"


def pcscd_has_vpcd() -> bool:
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    hresult, readers = scard.SCardListReaders(context, [])
    scard.SCardReleaseContext(context)
    return hresult == scard.SCARD_S_SUCCESS and SLOT in readers


def ensure_pcscd() -> subprocess.Popen[bytes] | None:
    if pcscd_has_vpcd():
        return None
    process = subprocess.Popen(["pcscd", "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not pcscd_has_vpcd():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            sys.exit("pcscd did not come up with the vpcd reader (packages pcscd, vsmartcard-vpcd)")
        time.sleep(0.05)
    return process


def paired(seconds: float, ours, baseline) -> tuple[float, float]:
    """Medians of alternating short runs: the machine's load drifts, and both sides share the drift."""
    ours_rates, base_rates = [], []
    for _ in range(8):
        ours_rates.append(rate(seconds / 8, ours))
        base_rates.append(rate(seconds / 8, baseline))
    return statistics.median(ours_rates), statistics.median(base_rates)


def rate(seconds: float, step) -> float:
    """Units per second of ``step()`` (which returns how many units it did), run for ``seconds``."""
    done = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        done += step()
    return done / elapsed


def place(sim: PcscTagSimulator, tag: SimulatedTag, reader: PcscReader) -> None:
    sim.place(tag)
    deadline = time.monotonic() + 5
    while not reader.inventory():
        if time.monotonic() > deadline:
            sys.exit("pcscd never saw the simulated tag")
        time.sleep(0.02)


def raw_reads(reader: PcscReader, block_size: int, blocks: int, ours) -> tuple[float, float]:
    """Bare SCardTransmit of the same read-binary APDUs on a connection of its own, paired with ``ours``."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    hresult, card, protocol = scard.SCardConnect(
        context, reader.reader_name, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
    )
    assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
    apdus = [list(read_binary_apdu(n, block_size)) for n in range(blocks)]

    def step() -> int:
        for command in apdus:
            hresult, response = scard.SCardTransmit(card, protocol, command)
            assert hresult == scard.SCARD_S_SUCCESS and response[-2:] == [0x90, 0x00]
        return len(apdus)

    try:
        return paired(args.seconds, ours, step)
    finally:
        scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        scard.SCardReleaseContext(context)


def main() -> None:
    tag = SimulatedTag.icode_slix()
    uid = tag.uid
    started = ensure_pcscd()
    sim = PcscTagSimulator()
    try:
        reader = PcscReader("PCD 00 00")
        reader.open()
        place(sim, tag, reader)

        driver, floor = raw_reads(reader, 4, 28, lambda: (reader.read_blocks(uid, 0, 28), 28)[1])
        print(f"1. read 28 blocks: driver {driver:,.0f} APDU/s, bare SCardTransmit {floor:,.0f} APDU/s, "
              f"ratio {driver / floor:.2f}")

        def in_dialect(dialect: str, transport) -> int:
            sim.dialect, reader.transport = dialect, transport
            reader.write_afi(uid, 0xC2)
            return 1

        transparent, direct = paired(
            args.seconds,
            lambda: in_dialect("transparent", TransparentExchange()),
            lambda: in_dialect("acs-direct", AcsDirectTransmit()),
        )
        print(f"2. write AFI: transparent exchange {transparent:,.0f}/s, ACS direct transmit {direct:,.0f}/s, "
              f"ratio {transparent / direct:.2f}")

        reader.close()
        sim.remove()
        time.sleep(1.0)  # let pcscd see the card leave before it comes back with the other socket option
        sim = PcscTagSimulator(quickack=False)
        reader.transport = TransparentExchange()
        reader.open()
        place(sim, tag, reader)
        slow = rate(args.seconds, lambda: (reader.read_blocks(uid, 0, 4), 4)[1])
        print(f"3. simulator: with TCP_QUICKACK {driver:,.0f} APDU/s, without {slow:,.0f} APDU/s, "
              f"ratio {driver / slow:.0f}")
        reader.close()
    finally:
        sim.remove()
        if started is not None:
            started.terminate()
            started.wait(5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="measuring time per figure")
    args = parser.parse_args()
    main()
