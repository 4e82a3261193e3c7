"""A simulated FEIG OBID ISC reader on a pseudo-terminal, holding a programmable stack of ISO 15693 tags.

The production driver opens the pty's slave path with pyserial exactly as it opens a USB-serial reader;
this side reads FEIG frames from the master end and answers them with the codec the driver uses
(``feig_protocol``), so tests exercise the real bytes on a real tty.

Faults a test (or the demo) can stage: a tag that leaves the field after N more commands addressed to
it (a patron pulling a book away half-way through the security writes), replies with a broken CRC, a
reader that goes mute, and unplug / re-plug. Re-plug makes a new pty; give ``link_path`` to get a stable
symlink that follows it, like a udev ``/dev/serial/by-id`` link.

Run standalone: ``python -m hardware_mocks.feig_pty [--link PATH] [--tags N]`` prints the path, then
takes commands on stdin (``help`` lists them).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import sys
import threading
import time
import tty
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from kiosk.hardware.rfid.readers import feig_protocol as fp
from kiosk.hardware.rfid.readers.base import SystemInfo

ISO_BLOCK_NOT_AVAILABLE = 0x10
ISO_BLOCK_LOCKED = 0x12
ISO_NOT_SUPPORTED = 0x01


def make_uid(serial_number: int, manufacturer: int = 0x04) -> bytes:
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
        return self.uid[1] == fp.MFR_NXP


class FeigPtySimulator:
    """The simulated reader. Thread-safe: tests change tags while the reader thread answers."""

    def __init__(
        self,
        *,
        com_adr: int = 0x00,
        link_path: str | None = None,
        inventory_page_size: int = 6,
        reply_delay: float = 0.0,
    ) -> None:
        self.com_adr = com_adr
        self.link_path = link_path
        #: Data sets per inventory reply; more tags than this exercise the STATUS 0x94 "more data" path.
        self.inventory_page_size = inventory_page_size
        #: Seconds to wait before each reply (RF time); 0 answers as fast as the host can read.
        self.reply_delay = reply_delay
        self.muted = False
        self._lock = threading.RLock()
        self._tags: dict[bytes, SimTag] = {}
        self._leave_countdown: dict[bytes, int] = {}
        self._pending_inventory: list[fp.InventoryEntry] = []
        self._corrupt_replies = 0
        self._noise = b""
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_path: str | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._thread: threading.Thread | None = None
        #: Every request decoded, in order: tests assert on what the driver actually sent.
        self.requests: deque[fp.Request] = deque(maxlen=10_000)
        self.frames_rejected = 0

    # -- lifecycle ----------------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """What the driver should open: the stable link if any, else the current pty slave."""
        if self.link_path:
            return self.link_path
        if self._slave_path is None:
            raise RuntimeError("simulator not started")
        return self._slave_path

    @property
    def slave_path(self) -> str | None:
        return self._slave_path

    @property
    def plugged_in(self) -> bool:
        return self._thread is not None

    def start(self) -> FeigPtySimulator:
        if self._thread is not None:
            raise RuntimeError("already running")
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo or line editing before the driver configures the port
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._slave_path = os.ttyname(slave)
        if self.link_path:
            tmp = f"{self.link_path}.new"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self._slave_path, tmp)
            os.replace(tmp, self.link_path)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, name="feig-pty-sim", daemon=True)
        self._thread.start()
        return self

    def unplug(self) -> None:
        """Pull the USB plug: the reader thread stops and the pty master closes (driver reads get EIO)."""
        thread = self._thread
        if thread is None:
            return
        assert self._wake_w is not None
        os.write(self._wake_w, b"x")
        thread.join(timeout=5)
        self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = self._wake_r = self._wake_w = None
        with self._lock:
            self._pending_inventory = []

    def replug(self) -> str:
        """Plug back in (a new pty; the link, if any, follows it). Tags on the pad stay where they were."""
        self.unplug()
        self.start()
        return self.path

    stop = unplug

    def __enter__(self) -> FeigPtySimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.unplug()
        if self.link_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link_path)

    # -- the pad ------------------------------------------------------------------------------------

    def place(self, *tags: SimTag) -> None:
        with self._lock:
            for tag in tags:
                self._tags[tag.uid] = tag
                self._leave_countdown.pop(tag.uid, None)

    def remove(self, *uids: bytes) -> None:
        with self._lock:
            for uid in uids:
                self._tags.pop(bytes(uid), None)
                self._leave_countdown.pop(bytes(uid), None)

    def clear(self) -> None:
        with self._lock:
            self._tags.clear()
            self._leave_countdown.clear()

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

    def corrupt_next_replies(self, count: int = 1) -> None:
        """The next ``count`` replies go out with a broken CRC (a noisy cable)."""
        with self._lock:
            self._corrupt_replies += count

    def noise_before_next_reply(self, noise: bytes) -> None:
        """Line noise the host reads just before the next reply (after it sent its request)."""
        with self._lock:
            self._noise += noise

    # -- serving ------------------------------------------------------------------------------------

    def _serve(self) -> None:
        master, wake = self._master, self._wake_r
        assert master is not None and wake is not None
        decoder = fp.FrameDecoder("request")
        while True:
            # With a partial frame buffered, a quiet line means it will not complete: resync then.
            ready, _, _ = select.select([master, wake], [], [], 0.05 if decoder.buffered else None)
            if wake in ready:
                return
            line_idle = not ready
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except BlockingIOError:
                    continue
                except OSError:
                    return  # pty gone
                if not chunk:
                    return
                decoder.feed(chunk)
            while True:
                try:
                    request = decoder.next_frame(line_idle=line_idle)
                except fp.FeigFrameError:
                    self.frames_rejected += 1  # a real reader ignores a garbled request
                    continue
                if request is None:
                    if line_idle and decoder.buffered:
                        decoder.clear()  # inter-byte timeout: a real reader drops a frame that stalled
                        self.frames_rejected += 1
                    break
                assert isinstance(request, fp.Request)
                out = self._answer(request)
                if out is None:
                    continue
                if self.reply_delay:
                    time.sleep(self.reply_delay)
                try:
                    os.write(master, out)
                except OSError:
                    return

    def _answer(self, request: fp.Request) -> bytes | None:
        with self._lock:
            self.requests.append(request)
            if self.muted or request.com_adr not in (fp.COM_ADR_ANY, self.com_adr):
                return None
            status, data = self.handle(request)
            frame = fp.build_reply(fp.Reply(request.command, status, data, self.com_adr, request.advanced))
            if self._corrupt_replies:
                self._corrupt_replies -= 1
                frame = frame[:-1] + bytes((frame[-1] ^ 0x5A,))
            frame, self._noise = self._noise + frame, b""
            return frame

    def handle(self, request: fp.Request) -> tuple[int, bytes]:
        """(STATUS, RESPONSE-DATA) for one request. Public so a test can drive it without a pty."""
        with self._lock:
            try:
                if request.command in (fp.Command.BAUD_RATE_DETECTION, fp.Command.RF_RESET):
                    return fp.Status.OK, b""
                if request.command == fp.Command.GET_SOFTWARE_VERSION:
                    return fp.Status.OK, bytes((0x03, 0x03, 0x00, 0x44, 0x53, 0x0D, 0x30))
                if request.command == fp.Command.ISO_HOST:
                    return self._iso_host(request.data)
                if request.command == fp.Command.ISO_CUSTOM:
                    return self._iso_custom(request.data)
                return fp.Status.UNKNOWN_COMMAND, b""
            except fp.FeigFrameError:
                return fp.Status.LENGTH_ERROR, b""

    def _iso_host(self, data: bytes) -> tuple[int, bytes]:
        if not data:
            return fp.Status.LENGTH_ERROR, b""
        if data[0] == fp.IsoCommand.INVENTORY:
            if len(data) != 2:
                return fp.Status.LENGTH_ERROR, b""
            return self._inventory(more=bool(data[1] & fp.INVENTORY_MORE))
        if data[0] == fp.IsoCommand.WRITE_MULTIPLE_BLOCKS:
            write = fp.parse_write_blocks_request(data)
            tag = self._addressed(write.uid)
            if tag is None:
                return fp.Status.NO_TRANSPONDER, b""
            return self._write_blocks(tag, write)
        req = fp.parse_addressed_request(data)
        tag = self._addressed(req.uid)
        if tag is None:
            return fp.Status.NO_TRANSPONDER, b""
        if req.command == fp.IsoCommand.READ_MULTIPLE_BLOCKS and len(req.args) == 2:
            first, count = req.args
            if count == 0 or count * tag.block_size > fp.MAX_BLOCK_BYTES_PER_REQUEST:
                return fp.Status.PARAMETER_RANGE_ERROR, b""
            if first + count > tag.block_count:
                return fp.Status.ISO15693_ERROR, bytes((ISO_BLOCK_NOT_AVAILABLE,))
            size = tag.block_size
            blocks = bytes(tag.memory[first * size : (first + count) * size])
            security = tuple(int(n in tag.locked_blocks) for n in range(first, first + count))
            return fp.Status.OK, fp.build_read_blocks_data(size, blocks, security)
        if req.command == fp.IsoCommand.WRITE_AFI and len(req.args) == 1:
            if tag.afi_locked:
                return fp.Status.ISO15693_ERROR, bytes((ISO_BLOCK_LOCKED,))
            tag.afi = req.args[0]
            return fp.Status.OK, b""
        if req.command == fp.IsoCommand.LOCK_AFI and not req.args:
            tag.afi_locked = True
            return fp.Status.OK, b""
        if req.command == fp.IsoCommand.GET_SYSTEM_INFORMATION and not req.args:
            info = SystemInfo(tag.uid, tag.dsfid, tag.afi, tag.block_count, tag.block_size, tag.ic_reference)
            return fp.Status.OK, fp.build_system_info_data(info)
        return fp.Status.ISO15693_ERROR, bytes((ISO_NOT_SUPPORTED,))

    def _inventory(self, *, more: bool) -> tuple[int, bytes]:
        if not more:
            self._pending_inventory = [
                fp.InventoryEntry(fp.TR_TYPE_ISO15693, tag.dsfid, tag.uid) for tag in self._tags.values()
            ]
        entries = self._pending_inventory
        if not entries:
            return fp.Status.NO_TRANSPONDER, b""
        page, self._pending_inventory = (
            entries[: self.inventory_page_size],
            entries[self.inventory_page_size :],
        )
        status = fp.Status.MORE_DATA if self._pending_inventory else fp.Status.OK
        return status, fp.build_inventory_data(page)

    def _addressed(self, uid: bytes) -> SimTag | None:
        """The tag a command is addressed to, counting down its stay in the field."""
        tag = self._tags.get(uid)
        if tag is None:
            return None
        left = self._leave_countdown.get(uid)
        if left is not None:
            if left <= 1:
                # this command is the last one it hears; it is gone afterwards
                del self._leave_countdown[uid]
                del self._tags[uid]
            else:
                self._leave_countdown[uid] = left - 1
        return tag

    @staticmethod
    def _write_blocks(tag: SimTag, write: fp.WriteBlocks) -> tuple[int, bytes]:
        if write.block_size != tag.block_size:
            return fp.Status.PARAMETER_RANGE_ERROR, b""
        count = len(write.data) // write.block_size
        if write.first + count > tag.block_count:
            return fp.Status.ISO15693_ERROR, bytes((ISO_BLOCK_NOT_AVAILABLE,))
        size = tag.block_size
        for n in range(count):  # block by block, like the reader does on a SLIX: a lock stops it midway
            block = write.first + n
            if block in tag.locked_blocks:
                return fp.Status.ISO15693_ERROR, bytes((ISO_BLOCK_LOCKED,))
            tag.memory[block * size : (block + 1) * size] = write.data[n * size : (n + 1) * size]
        return fp.Status.OK, b""

    def _iso_custom(self, data: bytes) -> tuple[int, bytes]:
        req = fp.parse_custom_request(data)
        tag = self._addressed(req.uid)
        if tag is None:
            return fp.Status.NO_TRANSPONDER, b""
        if req.manufacturer != fp.MFR_NXP or not tag.is_nxp:
            return fp.Status.WRONG_TRANSPONDER_TYPE, b""
        if req.command == fp.NxpCommand.EAS_ALARM:
            return (fp.Status.OK if tag.eas else fp.Status.NO_TRANSPONDER), b""
        if req.command in (fp.NxpCommand.SET_EAS, fp.NxpCommand.RESET_EAS, fp.NxpCommand.LOCK_EAS):
            if tag.eas_locked:
                return fp.Status.ISO15693_ERROR, bytes((ISO_BLOCK_LOCKED,))
            if req.command == fp.NxpCommand.LOCK_EAS:
                tag.eas_locked = True
            else:
                tag.eas = req.command == fp.NxpCommand.SET_EAS
            return fp.Status.OK, b""
        return fp.Status.ISO15693_ERROR, bytes((ISO_NOT_SUPPORTED,))


# --------------------------------------------------------------------------------------------------
# Standalone use: a line-based console on stdin, for the demo and for poking at it by hand

_HELP = """commands (UIDs in hex, canonical order E0...):
  place UID [MEMORY-HEX [BLOCK-SIZE [BLOCK-COUNT]]]   put a tag on the pad
  remove UID | clear | list
  leave UID N         tag leaves the field after N more commands addressed to it
  afi UID VALUE | eas UID 0|1
  badcrc [N]          next N replies carry a broken CRC
  mute | unmute       stop / resume answering
  unplug | replug     close the pty master / come back (same link path if --link)
  quit"""


def _console_command(sim: FeigPtySimulator, words: list[str]) -> str:
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


def run_console(sim: FeigPtySimulator, lines: Iterable[str], out=sys.stdout) -> None:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hardware_mocks.feig_pty", description=__doc__.split("\n")[0])
    parser.add_argument("--link", help="stable symlink to the pty (survives replug)")
    parser.add_argument("--tags", type=int, default=0, help="place N blank NXP tags at start")
    parser.add_argument("--page-size", type=int, default=6, help="data sets per inventory reply")
    parser.add_argument("--reply-delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--no-console", action="store_true", help="ignore stdin; serve until interrupted")
    args = parser.parse_args(argv)
    sim = FeigPtySimulator(link_path=args.link, inventory_page_size=args.page_size, reply_delay=args.reply_delay)
    with sim:
        sim.place(*(SimTag.create(make_uid(n + 1)) for n in range(args.tags)))
        print(sim.path, flush=True)
        try:
            if args.no_console:
                threading.Event().wait()
            else:
                run_console(sim, sys.stdin)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
