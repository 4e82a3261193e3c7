"""A simulated card on a PC/SC pad, behind the real pcscd through vsmartcard's vpcd driver.

pcscd loads ``libifdvpcd`` (Debian ``vsmartcard-vpcd``), which listens on 35963 (slot "Virtual PCD
00 00") and 35964 ("... 00 01"). A virtual card connects there; every message both ways is a 2-byte
big-endian length and a payload. A 1-byte payload from pcscd is a control code (0 power off, 1 power
on, 2 reset, 4 "send your ATR"); anything longer is a command APDU, answered by a response APDU.
pcscd polls presence by asking for the ATR about every 0.4 s: a closed connection is a removed card.

This module plays the part of the *reader firmware plus the card*: it answers PC/SC part 3
storage-card APDUs and one of two escape dialects for raw ISO 15693 frames (the standard transparent
exchange or ACS direct transmit) from a tag's real memory. Its ISO 15693 handling is written here on
purpose rather than shared with ``kiosk.hardware.rfid.readers.iso15693``, so a bug in the driver's
codec cannot hide behind the same bug in the simulation.

Run alone for the demo: ``python -m hardware_mocks.pcsc_tag --uid E004010012345678``.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963  # slot 0; slot 1 is 35964

CTRL_POWER_OFF = 0
CTRL_POWER_ON = 1
CTRL_RESET = 2
CTRL_ATR = 4

Dialect = Literal["transparent", "acs-direct"]

#: What an NXP tag sends to EAS ALARM when its EAS bit is set. The real 256-bit sequence is in NXP's
#: datasheet; this stand-in has the right length, which is all a reader can check.
EAS_SEQUENCE = bytes(range(0x40, 0x60))

SW_OK = b"\x90\x00"


def part3_atr(standard: int, card_name: int) -> bytes:
    """PC/SC part 3 storage-card ATR: ``3B 8F 80 01 80 4F 0C <RID> SS NN NN 00 00 00 00 TCK``."""
    body = bytes.fromhex("8F8001804F0CA000000306") + bytes((standard,)) + card_name.to_bytes(2, "big") + bytes(4)
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes((tck,))


@dataclass
class SimulatedTag:
    """An ISO 15693 label: programmable UID, DSFID, AFI, EAS bit, geometry, memory and locks."""

    uid: bytes = bytes.fromhex("E004010012345678")  # canonical order, E0 first
    block_size: int = 4
    block_count: int = 28
    dsfid: int = 0x00
    afi: int = 0x07
    eas: bool = False
    memory: bytearray = field(default_factory=bytearray)
    locked_blocks: set[int] = field(default_factory=set)
    afi_locked: bool = False
    ic_reference: int = 0x01
    card_name: int = 0x0014  # PC/SC part 3 name: ICODE
    #: Fault injection: the tag sits at the edge of the field. The reader still lists it (pcscd
    #: sees a card), but the tag answers no command; part 3 reads and writes fail with SW 63 00.
    silent: bool = False

    def __post_init__(self) -> None:
        if len(self.uid) != 8 or self.uid[0] != 0xE0:
            raise ValueError("an ISO 15693 UID is 8 bytes starting with E0")
        size = self.block_size * self.block_count
        self.memory = bytearray(self.memory[:size].ljust(size, b"\x00"))

    @classmethod
    def icode_slix(cls, uid: bytes = bytes.fromhex("E004010012345678"), **kw: object) -> SimulatedTag:
        """NXP ICODE SLIX: 28 blocks of 4 bytes, NXP custom EAS commands."""
        return cls(uid=uid, block_size=4, block_count=28, card_name=0x0014, **kw)  # type: ignore[arg-type]

    @classmethod
    def infineon_like(cls, uid: bytes = bytes.fromhex("E005000087654321"), **kw: object) -> SimulatedTag:
        """Infineon my-d-like: 8-byte blocks, and no NXP EAS (it ignores NXP custom commands)."""
        kw.setdefault("block_count", 32)
        return cls(uid=uid, block_size=8, card_name=0x000E, ic_reference=0x00, **kw)  # type: ignore[arg-type]

    @property
    def atr(self) -> bytes:
        return part3_atr(0x0B, self.card_name)  # SS 0B: ISO 15693 part 3

    def block(self, n: int) -> bytes:
        return bytes(self.memory[n * self.block_size : (n + 1) * self.block_size])

    # The tag's side of ISO 15693-3: None means the tag stays silent.
    def answer(self, frame: bytes) -> bytes | None:
        if self.silent or len(frame) < 2:
            return None
        flags, command = frame[0], frame[1]
        if flags & 0x04:  # inventory: not simulated
            return None
        pos = 2
        if 0xA0 <= command <= 0xDF:  # custom command: IC manufacturer code follows
            if len(frame) < 3 or frame[2] != self.uid[1]:
                return None
            pos = 3
        if flags & 0x20:  # addressed: only the tag with this UID answers
            if frame[pos : pos + 8] != self.uid[::-1]:
                return None
            pos += 8
        params = frame[pos:]
        with_security = bool(flags & 0x40)
        if command == 0x2B:
            return (
                b"\x00\x0f"
                + self.uid[::-1]
                + bytes((self.dsfid, self.afi, self.block_count - 1, self.block_size - 1, self.ic_reference))
            )
        if command in (0x20, 0x23):
            if len(params) != (1 if command == 0x20 else 2):
                return b"\x01\x0f"
            first = params[0]
            count = 1 if command == 0x20 else params[1] + 1
            if first + count > self.block_count:
                return b"\x01\x10"
            out = bytearray(b"\x00")
            for n in range(first, first + count):
                if with_security:
                    out.append(1 if n in self.locked_blocks else 0)
                out += self.block(n)
            return bytes(out)
        if command == 0x21:
            if not params or len(params) != 1 + self.block_size:
                return b"\x01\x0f"
            n = params[0]
            if n >= self.block_count:
                return b"\x01\x10"
            if n in self.locked_blocks:
                return b"\x01\x12"
            self.memory[n * self.block_size : (n + 1) * self.block_size] = params[1:]
            return b"\x00"
        if command == 0x27:
            if len(params) != 1:
                return b"\x01\x0f"
            if self.afi_locked:
                return b"\x01\x12"
            self.afi = params[0]
            return b"\x00"
        if command in (0xA2, 0xA3):  # NXP SET / RESET EAS (manufacturer code already matched)
            self.eas = command == 0xA2
            return b"\x00"
        if command == 0xA5:  # NXP EAS ALARM: answers only while EAS is set
            return b"\x00" + EAS_SEQUENCE if self.eas else None
        return b"\x01\x01"


#: The ATR a PC/SC reader builds for a DESFire (EV1, EV2) card: ISO 14443-4, one historical byte
#: 80 (pcsc-tools' smartcard_list.txt: "RFID - ISO 14443 Type A - NXP DESFire or DESFire EV1 or EV2").
DESFIRE_ATR = bytes.fromhex("3B8180018080")


@dataclass
class SimulatedPatronCard:
    """An ISO 14443 patron card: only its UID is of interest, answered to GET DATA (FF CA) as given.

    ``atr`` is the one a real PC/SC reader builds for the card (as pcsc-tools lists them): a part 3
    storage-card ATR for MIFARE Classic and Ultralight (SS 03 = ISO 14443 A part 3, NN = card
    name), historical bytes for an ISO 14443-4 card (DESFire). The default is a MIFARE Classic 1K.
    """

    uid: bytes = bytes.fromhex("04A1B2C3")
    atr: bytes = field(default_factory=lambda: part3_atr(0x03, 0x0001))

    @classmethod
    def mifare_classic_1k(cls, uid: bytes = bytes.fromhex("04A1B2C3")) -> SimulatedPatronCard:
        return cls(uid, part3_atr(0x03, 0x0001))

    @classmethod
    def mifare_classic_4k(cls, uid: bytes = bytes.fromhex("04A1B2C3")) -> SimulatedPatronCard:
        return cls(uid, part3_atr(0x03, 0x0002))

    @classmethod
    def mifare_ultralight(cls, uid: bytes = bytes.fromhex("04A1B2C3D4E5F6")) -> SimulatedPatronCard:
        return cls(uid, part3_atr(0x03, 0x0003))

    @classmethod
    def desfire(cls, uid: bytes = bytes.fromhex("04A1B2C3D4E5F6")) -> SimulatedPatronCard:
        return cls(uid, DESFIRE_ATR)


#: ``--patron-kind`` choices of the command line.
PATRON_CARD_KINDS: dict[str, Callable[[bytes], SimulatedPatronCard]] = {
    "mifare-1k": SimulatedPatronCard.mifare_classic_1k,
    "mifare-4k": SimulatedPatronCard.mifare_classic_4k,
    "ultralight": SimulatedPatronCard.mifare_ultralight,
    "desfire": SimulatedPatronCard.desfire,
}


Card = SimulatedTag | SimulatedPatronCard


def _split_apdu(capdu: bytes) -> tuple[bytes, int | None] | None:
    """(data, Le) of a short APDU, or None when Lc does not match the length."""
    body = capdu[4:]
    if not body:
        return b"", None
    if len(body) == 1:
        return b"", body[0]
    lc = body[0]
    if len(body) == 1 + lc:
        return body[1:], None
    if len(body) == 2 + lc:
        return body[1 : 1 + lc], body[-1]
    return None


def _tlvs(data: bytes) -> list[tuple[int, bytes]] | None:
    out = []
    pos = 0
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag & 0x1F == 0x1F and pos < len(data):
            tag = tag << 8 | data[pos]
            pos += 1
        if pos >= len(data):
            return None
        length = data[pos]
        pos += 1
        if length == 0x81 and pos < len(data):
            length = data[pos]
            pos += 1
        if pos + length > len(data):
            return None
        out.append((tag, data[pos : pos + length]))
        pos += length
    return out


class PcscTagSimulator:
    """One vpcd slot with a card that can be placed, removed, swapped, or made to vanish mid-command."""

    def __init__(
        self,
        port: int = VPCD_PORT,
        host: str = VPCD_HOST,
        *,
        dialect: Dialect = "transparent",
        uid_lsb_first: bool = True,
        quickack: bool = True,
    ) -> None:
        self.port = port
        self.host = host
        self.dialect: Dialect = dialect
        #: How this "reader" reports an ISO 15693 UID to FF CA (readers differ: LSB first is common).
        self.uid_lsb_first = uid_lsb_first
        #: Acknowledge each read at once (see ``_recv_exactly``); off only to measure what it saves.
        self.quickack = quickack
        #: Fault injection: rewrite every response APDU, ``garble(command, response) -> response``.
        self.garble: Callable[[bytes, bytes], bytes] | None = None
        self.card: Card | None = None
        self.log: list[tuple[bytes, bytes]] = []  # (command APDU, response APDU)
        self.controls: list[int] = []
        self.powered = False
        self._lock = threading.Lock()
        self._vanish_countdown: int | None = None
        self._session_open = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._connected = threading.Event()

    # --- placing and removing ----------------------------------------------------------------

    def place(self, card: Card, timeout: float = 5.0) -> None:
        """Put ``card`` on the pad: connect to vpcd (retrying while pcscd starts)."""
        self.remove()
        self.card = card
        self._vanish_countdown = None
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pcsc-sim-{self.port}", daemon=True)
        self._thread.start()
        if not self._connected.wait(timeout):
            self.remove()
            raise TimeoutError(f"vpcd on {self.host}:{self.port} did not accept the simulated card")

    def remove(self) -> None:
        """Take the card off the pad (vpcd sees the connection close)."""
        self._stop.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def vanish_after(self, apdus: int) -> None:
        """Fault injection: answer ``apdus`` more command APDUs, then leave the field before answering."""
        with self._lock:
            self._vanish_countdown = apdus

    @property
    def placed(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    close = remove

    # --- the vpcd connection -----------------------------------------------------------------

    def _run(self) -> None:
        stop = self._stop
        while not stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError:
                stop.wait(0.05)  # pcscd not (yet) listening
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            self._connected.set()
            try:
                if self._serve(sock, stop) == "vanished":
                    return
            except OSError:
                pass
            finally:
                self._sock = None
                sock.close()
            stop.wait(0.05)  # pcscd went away (restart): come back when it listens again

    def _recv_exactly(self, sock: socket.socket, n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            # vpcd writes length and payload separately; acknowledging at once avoids Nagle's
            # algorithm meeting delayed ACKs (about 40 ms per APDU otherwise).
            if self.quickack:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def _serve(self, sock: socket.socket, stop: threading.Event) -> str:
        while not stop.is_set():
            header = self._recv_exactly(sock, 2)
            if header is None:
                return "closed"
            payload = self._recv_exactly(sock, struct.unpack(">H", header)[0])
            if payload is None:
                return "closed"
            if len(payload) == 1:
                reply = self._control(payload[0])
            else:
                with self._lock:
                    if self._vanish_countdown is not None:
                        if self._vanish_countdown == 0:
                            self._vanish_countdown = None
                            self._stop.set()
                            return "vanished"
                        self._vanish_countdown -= 1
                    reply = self.respond(payload)
                    if self.garble is not None:
                        reply = self.garble(payload, reply)
                    self.log.append((payload, reply))
                    if not reply:
                        # vpcd would wait for ever on an empty message; a card that has nothing to
                        # say has left the field.
                        self._stop.set()
                        return "vanished"
            if reply is not None:
                sock.sendall(struct.pack(">H", len(reply)) + reply)
        return "stopped"

    def _control(self, code: int) -> bytes | None:
        self.controls.append(code)
        if code == CTRL_ATR:
            return self.card.atr if self.card else b""
        if code in (CTRL_POWER_ON, CTRL_RESET):
            self.powered = True
            self._session_open = False
        elif code == CTRL_POWER_OFF:
            self.powered = False
        return None

    # --- reader firmware: APDUs ------------------------------------------------------------

    def respond(self, capdu: bytes) -> bytes:
        card = self.card
        if len(capdu) < 4:
            return b"\x67\x00"
        cla, ins, p1, p2 = capdu[:4]
        split = _split_apdu(capdu)
        if split is None:
            return b"\x67\x00"
        data, le = split
        if cla != 0xFF:
            return b"\x6e\x00"
        if ins == 0xCA and p1 == 0x00:
            if isinstance(card, SimulatedTag) and self.uid_lsb_first:
                return card.uid[::-1] + SW_OK
            assert card is not None
            return card.uid + SW_OK
        if not isinstance(card, SimulatedTag):
            return b"\x6a\x81"
        if ins == 0xB0:
            return self._read_binary(card, p1 << 8 | p2, le)
        if ins == 0xD6:
            return self._update_binary(card, p1 << 8 | p2, data)
        if ins == 0xC2 and p1 == 0x00 and self.dialect == "transparent":
            return self._transparent(card, p2, data)
        if ins == 0x00 and p1 == 0x00 and p2 == 0x00 and self.dialect == "acs-direct":
            answer = card.answer(data)
            return b"\x63\x00" if answer is None else answer + SW_OK
        return b"\x6a\x81"  # function not supported (in this dialect)

    def _read_binary(self, tag: SimulatedTag, block: int, le: int | None) -> bytes:
        if tag.silent:
            return b"\x63\x00"
        length = le or tag.block_size
        if length % tag.block_size:
            return b"\x67\x00"
        count = length // tag.block_size
        if block + count > tag.block_count:
            return b"\x6b\x00"
        return b"".join(tag.block(n) for n in range(block, block + count)) + SW_OK

    def _update_binary(self, tag: SimulatedTag, block: int, data: bytes) -> bytes:
        if tag.silent:
            return b"\x63\x00"
        if not data or len(data) % tag.block_size:
            return b"\x67\x00"
        count = len(data) // tag.block_size
        if block + count > tag.block_count:
            return b"\x6b\x00"
        if any(n in tag.locked_blocks for n in range(block, block + count)):
            return b"\x69\x82"
        tag.memory[block * tag.block_size : (block + count) * tag.block_size] = data
        return SW_OK

    def _transparent(self, tag: SimulatedTag, function: int, data: bytes) -> bytes:
        ok = b"\xc0\x03\x00\x90\x00"
        objects = _tlvs(data)
        if objects is None:
            return b"\xc0\x03\x01\x67\x00" + SW_OK
        if function == 0x00:  # manage session
            for tag_id, _ in objects:
                if tag_id == 0x81:
                    self._session_open = True
                elif tag_id == 0x82:
                    self._session_open = False
            return ok + SW_OK
        if not self._session_open:
            return b"\xc0\x03\x01\x69\x85" + SW_OK  # conditions of use not satisfied: no session
        if function == 0x02:  # switch protocol
            if (0x8F, b"\x02\x03") in objects:
                return ok + b"\x8f\x01\x00" + SW_OK
            return b"\xc0\x03\x01\x6a\x81" + SW_OK
        if function == 0x01:
            frames = [value for tag_id, value in objects if tag_id == 0x95]
            if len(frames) != 1:
                return b"\xc0\x03\x01\x6a\x80" + SW_OK
            answer = tag.answer(frames[0])
            if answer is None:
                return b"\xc0\x03\x01\x64\x01" + SW_OK
            return ok + b"\x92\x01\x00\x96\x02\x00\x00\x97" + bytes((len(answer),)) + answer + SW_OK
        return b"\x6a\x81"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Put a simulated ISO 15693 tag on vpcd's virtual reader.")
    parser.add_argument("--port", type=int, default=VPCD_PORT)
    parser.add_argument("--uid", default="E004010012345678", help="canonical UID, E0 first")
    parser.add_argument("--block-size", type=int, default=4)
    parser.add_argument("--block-count", type=int, default=28)
    parser.add_argument("--dialect", choices=["transparent", "acs-direct"], default="transparent")
    parser.add_argument("--patron", metavar="UID",
                        help="present an ISO 14443 patron card instead, UID as GET DATA (FF CA) gives it")
    parser.add_argument("--patron-kind", choices=sorted(PATRON_CARD_KINDS), default="mifare-1k",
                        help="which card --patron is: its ATR")
    args = parser.parse_args(argv)
    card: Card
    if args.patron:
        card = PATRON_CARD_KINDS[args.patron_kind](bytes.fromhex(args.patron))
    else:
        card = SimulatedTag(bytes.fromhex(args.uid), args.block_size, args.block_count)
    sim = PcscTagSimulator(args.port, dialect=args.dialect)
    sim.place(card, timeout=30)
    print(f"card on vpcd port {args.port}; Ctrl-C removes it", flush=True)
    try:
        while sim.placed:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sim.remove()


if __name__ == "__main__":
    main()
