"""A simulated 3M 810 RFID pad on a pseudo-terminal, holding a programmable stack of ISO 15693 tags.

The production driver opens the pty's slave path with pyserial exactly as it opens the pad's USB-serial
port; this side reads Model 210 frames from the master end and answers them with the codec the driver
uses (``m3_810_protocol``), so tests exercise real bytes on a real tty. The pty plumbing and line faults
are :class:`~hardware_mocks.pty_device.PtyDevice`'s; tags have real memory, block size, AFI, EAS and
block locks (``SimTag`` in :class:`~hardware_mocks.sim_reader.SimulatedReader`'s field, shared with the
FEIG simulation: a tag is the same tag whichever reader sees it); :func:`rfid501_tag` programs one in
the 3M legacy layout.

Faults a test (or the demo) can stage: a tag that leaves the field after N more commands addressed to
it, a tag at the field edge that misses N commands (error 0x06), writes failing for lack of power
(error 0x16), replies with a broken BCC, line noise, a mute reader, firmware without Tag Info, and
unplug / re-plug (with ``link_path``, a stable symlink follows the new pty like a udev by-id link).

Run standalone: ``python -m hardware_mocks.m3_810_pty [--link PATH] [--demo-tags]`` prints the path,
then takes the shared simulation console's commands on stdin (``help`` lists them).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import ClassVar

from hardware_mocks.sim_reader import MFR_NXP, SimTag, SimulatedReader, make_uid, serve_standalone
from kiosk.hardware.rfid.models import rfid501
from kiosk.hardware.rfid.readers import m3_810_protocol as mp
from kiosk.hardware.rfid.readers.base import SystemInfo
from kiosk.hardware.rfid.readers.stream_decoder import StreamDecoder

__all__ = ["M3PtySimulator", "SimTag", "make_uid", "rfid501_tag"]

#: What the pads Biblio-RFID and koha-rfid-3m810-js met answer to the probe (10.5.0.2).
PUBLISHED_VERSION = (0x0A, 0x05, 0x00, 0x02)
#: Error replies to read/write multiblock carry one byte after the UID (frame length 0x0D in
#: Dobrica Pavlinusic's 3m-810.pl for ``02 06`` / ``04 06``); the others end with the UID (0x0C).
_ERROR_TAIL = {mp.Command.READ_MULTIBLOCK: b"\x00", mp.Command.WRITE_MULTIBLOCK: b"\x00"}


def rfid501_tag(uid: bytes, barcode: str, *, afi: int = 0xD7, eas: bool = True, **fields: int) -> SimTag:
    """A 3M sticker (8 blocks of 4 bytes) programmed in the RFID501 layout, secured (AFI 0xD7)."""
    memory = rfid501.encode(rfid501.Rfid501Tag(barcode, **fields))
    return SimTag.create(uid, memory, block_size=4, block_count=8, afi=afi, eas=eas)


class M3PtySimulator(SimulatedReader[mp.Request]):
    """The simulated pad. Thread-safe: tests change tags while the reader thread answers."""

    thread_name = "m3-810-pty-sim"

    def __init__(
        self,
        *,
        link_path: str | None = None,
        version: tuple[int, ...] = PUBLISHED_VERSION,
        reply_delay: float = 0.0,
    ) -> None:
        super().__init__(link_path=link_path, reply_delay=reply_delay)
        self.version = version
        #: Older firmware without Tag Info (0x0D) answers "not supported"; the driver must cope.
        self.supports_tag_info = True
        #: Check EAS reports an unarmed tag as error 0x06 (the NXP EAS ALARM's silence) instead of 0.
        self.eas_silence_as_no_transponder = False
        self._power_failures = 0

    def power_fail_next_writes(self, count: int) -> None:
        """The next ``count`` writes fail with 0x16 "mem not put" and change nothing."""
        with self._lock:
            self._power_failures += count

    # -- serving ------------------------------------------------------------------------------------

    def _new_decoder(self) -> StreamDecoder[mp.Request | mp.Reply]:
        return mp.FrameDecoder("request")

    def _reply_frame(self, request: mp.Request) -> bytes | None:
        return mp.build_reply(self.handle(request))

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
    demo = [rfid501_tag(uid, code, afi=0xDA, item_type=kind) for uid, code, kind in DEMO_TAGS]
    return serve_standalone(sim, demo if args.demo_tags else [], console=not args.no_console)


if __name__ == "__main__":
    raise SystemExit(main())
