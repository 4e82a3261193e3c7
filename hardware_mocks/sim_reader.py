"""Simulated ISO 15693 tags and the field of a simulated RFID reader on a pty, whatever its protocol.

A tag is the same tag whichever reader sees it: :class:`SimTag` holds memory, block size, AFI, EAS and
locks as a real SLIX would, and :class:`SimulatedReader` holds the tags in its field with the field
faults a test (or the demo) can stage: a tag that leaves after N more commands addressed to it (a
patron pulling a book away half-way through the security writes), and a tag at the field edge that
misses N commands. The FEIG and 3M 810 simulations subclass it with their wire protocols;
:func:`run_console` drives either from stdin.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from hardware_mocks.pty_device import PtyDevice

#: ISO 15693 IC manufacturer code of NXP, whose ICODE SLI/SLIX tags have the EAS commands.
MFR_NXP = 0x04

RequestT = TypeVar("RequestT")


def make_uid(serial_number: int, manufacturer: int = MFR_NXP) -> bytes:
    """A canonical-order UID (``E0``, manufacturer, ...) for test tags; 0x04 = NXP (has EAS)."""
    return bytes((0xE0, manufacturer, 0x01, 0x00)) + serial_number.to_bytes(4, "big")


@dataclass
class SimTag:
    """One tag: memory in block order, security state, and locks, as a real SLIX would hold them."""

    uid: bytes
    memory: bytearray
    block_size: int = 4
    afi: int = 0x07
    eas: bool = True
    dsfid: int = 0x00
    locked_blocks: set[int] = field(default_factory=set)
    afi_locked: bool = False
    eas_locked: bool = False
    ic_reference: int = 0x01

    @classmethod
    def create(
        cls,
        uid: bytes,
        data: bytes = b"",
        *,
        block_size: int = 4,
        block_count: int = 28,
        **state: object,
    ) -> SimTag:
        """A tag of ``block_count`` x ``block_size`` bytes (default: ICODE SLIX) starting with ``data``."""
        size = block_size * block_count
        if len(data) > size:
            raise ValueError(f"{len(data)} bytes do not fit {block_count} blocks of {block_size}")
        memory = bytearray(data) + bytearray(size - len(data))
        return cls(uid=bytes(uid), memory=memory, block_size=block_size, **state)  # type: ignore[arg-type]

    @property
    def block_count(self) -> int:
        return len(self.memory) // self.block_size

    @property
    def is_nxp(self) -> bool:
        return self.uid[1] == MFR_NXP


class SimulatedReader(PtyDevice[RequestT]):
    """A simulated reader with tags in its field. Thread-safe: tests move tags while the reader answers."""

    def __init__(self, *, link_path: str | None = None, reply_delay: float = 0.0) -> None:
        super().__init__(link_path=link_path, reply_delay=reply_delay)
        self._tags: dict[bytes, SimTag] = {}
        self._leave_countdown: dict[bytes, int] = {}
        self._misses: dict[bytes, int] = {}

    def place(self, *tags: SimTag) -> None:
        with self._lock:
            for tag in tags:
                self._tags[tag.uid] = tag
                self._leave_countdown.pop(tag.uid, None)
                self._misses.pop(tag.uid, None)

    def remove(self, *uids: bytes) -> None:
        with self._lock:
            for uid in map(bytes, uids):
                self._tags.pop(uid, None)
                self._leave_countdown.pop(uid, None)
                self._misses.pop(uid, None)

    def clear(self) -> None:
        with self._lock:
            self._tags.clear()
            self._leave_countdown.clear()
            self._misses.clear()

    def tag(self, uid: bytes) -> SimTag | None:
        with self._lock:
            return self._tags.get(bytes(uid))

    @property
    def uids(self) -> list[bytes]:
        with self._lock:
            return list(self._tags)

    def leave_after(self, uid: bytes, commands: int) -> None:
        """The tag answers ``commands`` more commands addressed to it, then is gone from the field."""
        with self._lock:
            if commands <= 0:
                self._tags.pop(bytes(uid), None)
            else:
                self._leave_countdown[bytes(uid)] = commands

    def miss_next(self, uid: bytes, commands: int) -> None:
        """A tag at the field edge: the next ``commands`` addressed to it find no tag, then it answers."""
        with self._lock:
            self._misses[bytes(uid)] = commands

    def _addressed(self, uid: bytes) -> SimTag | None:
        """The tag a command is addressed to, counting down its stay in the field and its misses."""
        tag = self._tags.get(uid)
        if tag is None:
            return None
        left = self._leave_countdown.get(uid)
        if left is not None:
            if left <= 1:  # this command is the last one it hears; it is gone afterwards
                del self._leave_countdown[uid]
                del self._tags[uid]
            else:
                self._leave_countdown[uid] = left - 1
        misses = self._misses.get(uid, 0)
        if misses:
            self._misses[uid] = misses - 1
            return None
        return tag


# --------------------------------------------------------------------------------------------------
# Standalone use: a line-based console on stdin, for the demo and for poking at a simulation by hand

_HELP = """commands (UIDs in hex, canonical order E0...):
  place UID [MEMORY-HEX [BLOCK-SIZE [BLOCK-COUNT]]]   put a tag on the pad
  remove UID | clear | list
  leave UID N         tag leaves the field after N more commands addressed to it
  afi UID VALUE | eas UID 0|1
  badcrc [N]          next N replies carry a broken CRC
  mute | unmute       stop / resume answering
  unplug | replug     close the pty master / come back (same link path if --link)
  quit"""


def _console_command(sim: SimulatedReader, words: list[str]) -> str:
    op, args = words[0].lower(), words[1:]
    if op == "place":
        memory = bytes.fromhex(args[1]) if len(args) > 1 else b""
        block_size = int(args[2]) if len(args) > 2 else 4
        block_count = int(args[3]) if len(args) > 3 else 28
        sim.place(SimTag.create(bytes.fromhex(args[0]), memory, block_size=block_size, block_count=block_count))
    elif op == "remove":
        sim.remove(bytes.fromhex(args[0]))
    elif op == "clear":
        sim.clear()
    elif op == "list":
        return "ok " + " ".join(uid.hex().upper() for uid in sim.uids)
    elif op == "leave":
        sim.leave_after(bytes.fromhex(args[0]), int(args[1]))
    elif op in ("afi", "eas"):
        tag = sim.tag(bytes.fromhex(args[0]))
        if tag is None:
            return "error no such tag"
        if op == "afi":
            tag.afi = int(args[1], 0)
        else:
            tag.eas = args[1] not in ("0", "off", "false")
    elif op == "badcrc":
        sim.corrupt_next_replies(int(args[0]) if args else 1)
    elif op in ("mute", "unmute"):
        sim.muted = op == "mute"
    elif op == "unplug":
        sim.unplug()
    elif op == "replug":
        return "ok " + sim.replug()
    elif op == "help":
        return _HELP
    else:
        return f"error unknown command {op!r} (try help)"
    return "ok"


def run_console(sim: SimulatedReader, lines: Iterable[str], out=sys.stdout) -> None:
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[0].lower() == "quit":
            break
        try:
            reply = _console_command(sim, words)
        except (ValueError, IndexError) as exc:
            reply = f"error {exc}"
        print(reply, file=out, flush=True)


def serve_standalone(sim: SimulatedReader, tags: Iterable[SimTag] = (), *, console: bool = True) -> int:
    """``python -m`` use: start ``sim``, put ``tags`` in its field, print the path to open (the demo
    reads that line), then obey console commands on stdin, or just serve, until interrupted."""
    with sim:
        sim.place(*tags)
        print(sim.path, flush=True)
        try:
            if console:
                run_console(sim, sys.stdin)
            else:
                threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0
