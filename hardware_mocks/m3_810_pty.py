"""A simulated 3M 810 RFID pad on a pseudo-terminal, holding a programmable stack of ISO 15693 tags.

The production driver opens the pty's slave path with pyserial exactly as it opens the pad's USB-serial
port; this side reads Model 210 frames from the master end and answers them with the codec the driver
uses (``m3_810_protocol``), so tests exercise real bytes on a real tty. Tags have real memory, block
size, AFI, EAS and block locks (``SimTag``, shared with the FEIG simulation: a tag is the same tag
whichever reader sees it); :func:`rfid501_tag` programs one in the 3M legacy layout.

Faults a test (or the demo) can stage: a tag that leaves the field after N more commands addressed to
it, a tag at the field edge that misses N commands (error 0x06), writes failing for lack of power
(error 0x16), replies with a broken BCC, line noise, a mute reader, firmware without Tag Info, and
unplug / re-plug (with ``link_path``, a stable symlink follows the new pty like a udev by-id link).

Run standalone: ``python -m hardware_mocks.m3_810_pty [--link PATH] [--demo-tags]`` prints the path,
then takes the FEIG simulation's console commands on stdin (``help`` lists them).
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
from collections.abc import Callable
from typing import ClassVar

from hardware_mocks.feig_pty import SimTag, make_uid, run_console
from kiosk.hardware.rfid.models import rfid501
from kiosk.hardware.rfid.readers import m3_810_protocol as mp
from kiosk.hardware.rfid.readers.base import SystemInfo

__all__ = ["M3PtySimulator", "SimTag", "make_uid", "rfid501_tag"]

#: What the pads Biblio-RFID and koha-rfid-3m810-js met answer to the probe (10.5.0.2).
PUBLISHED_VERSION = (0x0A, 0x05, 0x00, 0x02)
MFR_NXP = 0x04
#: Error replies to read/write multiblock carry one byte after the UID (frame length 0x0D in
#: Dobrica Pavlinusic's 3m-810.pl for ``02 06`` / ``04 06``); the others end with the UID (0x0C).
_ERROR_TAIL = {mp.Command.READ_MULTIBLOCK: b"\x00", mp.Command.WRITE_MULTIBLOCK: b"\x00"}


def rfid501_tag(uid: bytes, barcode: str, *, afi: int = 0xD7, eas: bool = True, **fields: int) -> SimTag:
    """A 3M sticker (8 blocks of 4 bytes) programmed in the RFID501 layout, secured (AFI 0xD7)."""
    memory = rfid501.encode(rfid501.Rfid501Tag(barcode, **fields))
    return SimTag.create(uid, memory, block_size=4, block_count=8, afi=afi, eas=eas)


class M3PtySimulator:
    """The simulated pad. Thread-safe: tests change tags while the reader thread answers."""

    def __init__(
        self,
        *,
        link_path: str | None = None,
        version: tuple[int, ...] = PUBLISHED_VERSION,
        reply_delay: float = 0.0,
    ) -> None:
        self.link_path = link_path
        self.version = version
        #: Seconds to wait before each reply (RF time); 0 answers as fast as the host can read.
        self.reply_delay = reply_delay
        self.muted = False
        #: Older firmware without Tag Info (0x0D) answers "not supported"; the driver must cope.
        self.supports_tag_info = True
        #: Check EAS reports an unarmed tag as error 0x06 (the NXP EAS ALARM's silence) instead of 0.
        self.eas_silence_as_no_transponder = False
        self._lock = threading.RLock()
        self._tags: dict[bytes, SimTag] = {}
        self._leave_countdown: dict[bytes, int] = {}
        self._misses: dict[bytes, int] = {}
        self._power_failures = 0
        self._corrupt_replies = 0
        self._noise = b""
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_path: str | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._thread: threading.Thread | None = None
        #: Every request decoded, in order: tests assert on what the driver actually sent.
        self.requests: deque[mp.Request] = deque(maxlen=10_000)
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
    def plugged_in(self) -> bool:
        return self._thread is not None

    def start(self) -> M3PtySimulator:
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
        self._thread = threading.Thread(target=self._serve, name="m3-810-pty-sim", daemon=True)
        self._thread.start()
        return self

    def unplug(self) -> None:
        """Pull the USB plug: the reader thread stops and the pty closes (driver reads get EIO)."""
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

    def replug(self) -> str:
        """Plug back in (a new pty; the link, if any, follows it). Tags on the pad stay where they were."""
        self.unplug()
        self.start()
        return self.path

    stop = unplug

    def __enter__(self) -> M3PtySimulator:
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
        """A tag at the field edge: the next ``commands`` addressed to it get error 0x06, then it answers."""
        with self._lock:
            self._misses[bytes(uid)] = commands

    def power_fail_next_writes(self, count: int) -> None:
        """The next ``count`` writes fail with 0x16 "mem not put" and change nothing."""
        with self._lock:
            self._power_failures += count

    def corrupt_next_replies(self, count: int = 1) -> None:
        """The next ``count`` replies go out with a broken BCC (a noisy cable)."""
        with self._lock:
            self._corrupt_replies += count

    def noise_before_next_reply(self, noise: bytes) -> None:
        """Bytes the host reads just before the next reply (after it sent its request)."""
        with self._lock:
            self._noise += noise

    # -- serving ------------------------------------------------------------------------------------

    def _serve(self) -> None:
        master, wake = self._master, self._wake_r
        assert master is not None and wake is not None
        decoder = mp.FrameDecoder("request")
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
                except mp.M3FrameError:
                    self.frames_rejected += 1  # a real reader ignores a garbled request
                    continue
                if request is None:
                    if line_idle and decoder.buffered:
                        decoder.clear()  # a frame that stalled will not complete: drop it
                        self.frames_rejected += 1
                    break
                assert isinstance(request, mp.Request)
                out = self._answer(request)
                if out is None:
                    continue
                if self.reply_delay:
                    time.sleep(self.reply_delay)
                try:
                    os.write(master, out)
                except OSError:
                    return

    def _answer(self, request: mp.Request) -> bytes | None:
        with self._lock:
            self.requests.append(request)
            if self.muted:
                return None
            frame = mp.build_reply(self.handle(request))
            if self._corrupt_replies:
                self._corrupt_replies -= 1
                frame = frame[:-1] + bytes((frame[-1] ^ 0x5A,))
            frame, self._noise = self._noise + frame, b""
            return frame

    def handle(self, request: mp.Request) -> mp.Reply:
        """The reply to one request. Public so a test can drive the pad without a pty."""
        with self._lock:
            if request.start == mp.START_SETUP:
                if request == mp.version_probe():
                    return mp.build_version_reply(request, self.version)
                return mp.Reply(request.command, mp.ErrorCode.NOT_SUPPORTED, b"", mp.START_SETUP)
            if request.command == mp.Command.READER_VERSION:
                return mp.build_version_reply(request, self.version)
            if request.command == mp.Command.INVENTORY:
                return mp.Reply(request.command, mp.ErrorCode.OK, mp.build_inventory_data(self._tags))
            try:
                return self._addressed_command(request)
            except mp.M3FrameError:
                return mp.Reply(request.command, mp.ErrorCode.NOT_SUPPORTED)

    def _addressed_command(self, request: mp.Request) -> mp.Reply:
        req = mp.parse_addressed_request(request)
        command = req.command
        handler = self._HANDLERS.get(command)
        if handler is None:
            return mp.addressed_reply(command, req.uid, error=mp.ErrorCode.NOT_IMPLEMENTED)
        tag = self._addressed(req.uid)
        if tag is None:
            return self._error(command, req.uid, mp.ErrorCode.NO_TRANSPONDER)
        if command in mp.WRITE_ALIKE and self._power_failures:
            self._power_failures -= 1
            return self._error(command, req.uid, mp.ErrorCode.MEMORY_NOT_PUT)
        return handler(self, tag, request)

    @staticmethod
    def _error(command: int, uid: bytes, error: int) -> mp.Reply:
        return mp.addressed_reply(command, uid, _ERROR_TAIL.get(command, b""), error)

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

    # -- one handler per command: (tag, request) -> reply ----------------------------------------------

    def _read_multiblock(self, tag: SimTag, request: mp.Request) -> mp.Reply:
        args = mp.parse_addressed_request(request).args
        if len(args) != 2 or args[1] == 0:
            return self._error(request.command, tag.uid, mp.ErrorCode.NOT_SUPPORTED)
        first, count = args
        if first + count > tag.block_count:
            return self._error(request.command, tag.uid, mp.ErrorCode.MEMORY_NOT_AVAILABLE)
        size = tag.block_size
        blocks = bytes(tag.memory[first * size : (first + count) * size])
        return mp.Reply(
            request.command, mp.ErrorCode.OK, mp.build_read_blocks_data(tag.uid, first, size, blocks)
        )

    def _write_multiblock(self, tag: SimTag, request: mp.Request) -> mp.Reply:
        write = mp.parse_write_blocks_request(request)
        if write.block_size != tag.block_size or write.first + write.count > tag.block_count:
            return self._error(request.command, tag.uid, mp.ErrorCode.MEMORY_NOT_AVAILABLE)
        size = tag.block_size
        for n in range(write.count):  # block by block, as the reader writes a SLIX: a lock stops it midway
            block = write.first + n
            if block in tag.locked_blocks:
                return self._error(request.command, tag.uid, mp.ErrorCode.LOCKED)
            tag.memory[block * size : (block + 1) * size] = write.data[n * size : (n + 1) * size]
        return mp.addressed_reply(request.command, tag.uid, bytes((write.count,)))

    def _write_block(self, tag: SimTag, request: mp.Request) -> mp.Reply:
        args = mp.parse_addressed_request(request).args
        if len(args) != 1 + tag.block_size or args[0] >= tag.block_count:
            return self._error(request.command, tag.uid, mp.ErrorCode.MEMORY_NOT_AVAILABLE)
        block = args[0]
        if block in tag.locked_blocks:
            return self._error(request.command, tag.uid, mp.ErrorCode.LOCKED)
        tag.memory[block * tag.block_size : (block + 1) * tag.block_size] = args[1:]
        return mp.addressed_reply(request.command, tag.uid, bytes((block,)))

    def _get_afi(self, tag: SimTag, request: mp.Request) -> mp.Reply:
        return mp.addressed_reply(request.command, tag.uid, bytes((tag.afi,)))

    def _write_afi(self, tag: SimTag, request: mp.Request) -> mp.Reply:
        args = mp.parse_addressed_request(request).args
        if len(args) != 1:
            return self._error(request.command, tag.uid, mp.ErrorCode.NOT_SUPPORTED)
        if tag.afi_locked:
            return self._error(request.command, tag.uid, mp.ErrorCode.LOCKED)
        tag.afi = args[0]
        return mp.addressed_reply(request.command, tag.uid)

    def _check_eas(self, tag: SimTag, request: mp.Request) -> mp.Reply:
        if tag.uid[1] != MFR_NXP:
            return self._error(request.command, tag.uid, mp.ErrorCode.NOT_SUPPORTED)
        if not tag.eas and self.eas_silence_as_no_transponder:
            return self._error(request.command, tag.uid, mp.ErrorCode.NO_TRANSPONDER)
        return mp.addressed_reply(request.command, tag.uid, bytes((int(tag.eas),)))

    def _eas_control(self, tag: SimTag, request: mp.Request) -> mp.Reply:
        args = mp.parse_addressed_request(request).args
        if tag.uid[1] != MFR_NXP or len(args) != 1 or args[0] not in tuple(mp.EasAction):
            return self._error(request.command, tag.uid, mp.ErrorCode.NOT_SUPPORTED)
        if tag.eas_locked:
            return self._error(request.command, tag.uid, mp.ErrorCode.LOCKED)
        tag.eas = args[0] == mp.EasAction.SET
        return mp.addressed_reply(request.command, tag.uid)

    def _tag_info(self, tag: SimTag, request: mp.Request) -> mp.Reply:
        if not self.supports_tag_info:
            return self._error(request.command, tag.uid, mp.ErrorCode.NOT_SUPPORTED)
        info = SystemInfo(tag.uid, tag.dsfid, tag.afi, tag.block_count, tag.block_size, tag.ic_reference)
        return mp.Reply(request.command, mp.ErrorCode.OK, mp.build_tag_info_data(info))

    _HANDLERS: ClassVar[dict[int, Callable[[M3PtySimulator, SimTag, mp.Request], mp.Reply]]] = {
        mp.Command.READ_MULTIBLOCK: _read_multiblock,
        mp.Command.WRITE_MULTIBLOCK: _write_multiblock,
        mp.Command.WRITE_BLOCK: _write_block,
        mp.Command.GET_AFI: _get_afi,
        mp.Command.WRITE_AFI: _write_afi,
        mp.Command.CHECK_EAS: _check_eas,
        mp.Command.EAS_CONTROL: _eas_control,
        mp.Command.TAG_INFO: _tag_info,
    }


# --------------------------------------------------------------------------------------------------
# Standalone use (the demo, or poking at it by hand)

#: The two tags of a real 3M 810 session (dpavlin/koha-rfid-3m810-js tests/fixtures/live-capture.txt).
DEMO_TAGS = (
    (bytes.fromhex("E004010031269117"), "1302099999", 1),  # a book
    (bytes.fromhex("E00401001F77FB98"), "200000000042", 0),  # a patron card ("other")
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hardware_mocks.m3_810_pty", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--link", help="stable symlink to the pty (survives replug)")
    parser.add_argument("--demo-tags", action="store_true", help="place the two tags of a published session")
    parser.add_argument("--reply-delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--no-console", action="store_true", help="ignore stdin; serve until interrupted")
    args = parser.parse_args(argv)
    sim = M3PtySimulator(link_path=args.link, reply_delay=args.reply_delay)
    with sim:
        if args.demo_tags:
            sim.place(*(rfid501_tag(uid, code, afi=0xDA, item_type=kind) for uid, code, kind in DEMO_TAGS))
        print(sim.path, flush=True)
        try:
            if args.no_console:
                threading.Event().wait()
            else:
                run_console(sim, sys.stdin)  # type: ignore[arg-type]  # same pad methods as the FEIG sim
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
