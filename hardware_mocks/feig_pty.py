"""A simulated FEIG OBID ISC reader on a pseudo-terminal, holding a programmable stack of ISO 15693 tags.

The production driver opens the pty's slave path with pyserial exactly as it opens a USB-serial reader;
this side reads FEIG frames from the master end and answers them with the codec the driver uses
(``feig_protocol``), so tests exercise the real bytes on a real tty. The pty plumbing and line faults
are :class:`~hardware_mocks.pty_device.PtyDevice`'s, the tags and field faults
:class:`~hardware_mocks.sim_reader.SimulatedReader`'s; this module speaks FEIG.

Faults a test (or the demo) can stage: a tag that leaves the field after N more commands addressed to
it (a patron pulling a book away half-way through the security writes), replies with a broken CRC, a
reader that goes mute, and unplug / re-plug. Re-plug makes a new pty; give ``link_path`` to get a stable
symlink that follows it, like a udev ``/dev/serial/by-id`` link.

Run standalone: ``python -m hardware_mocks.feig_pty [--link PATH] [--tags N]`` prints the path, then
takes commands on stdin (``help`` lists them).
"""

from __future__ import annotations

import argparse

from hardware_mocks.sim_reader import SimTag, SimulatedReader, make_uid, run_console, serve_standalone
from kiosk.hardware.rfid.readers import feig_protocol as fp
from kiosk.hardware.rfid.readers.base import SystemInfo
from kiosk.hardware.rfid.readers.stream_decoder import StreamDecoder

__all__ = ["FeigPtySimulator", "SimTag", "make_uid", "run_console"]

ISO_BLOCK_NOT_AVAILABLE = 0x10
ISO_BLOCK_LOCKED = 0x12
ISO_NOT_SUPPORTED = 0x01


class FeigPtySimulator(SimulatedReader[fp.Request]):
    """The simulated reader. Thread-safe: tests change tags while the reader thread answers."""

    thread_name = "feig-pty-sim"

    def __init__(
        self,
        *,
        com_adr: int = 0x00,
        link_path: str | None = None,
        inventory_page_size: int = 6,
        reply_delay: float = 0.0,
    ) -> None:
        super().__init__(link_path=link_path, reply_delay=reply_delay)
        self.com_adr = com_adr
        #: Data sets per inventory reply; more tags than this exercise the STATUS 0x94 "more data" path.
        self.inventory_page_size = inventory_page_size
        self._pending_inventory: list[fp.InventoryEntry] = []

    def _unplugged(self) -> None:
        self._pending_inventory = []

    # -- serving ------------------------------------------------------------------------------------

    def _new_decoder(self) -> StreamDecoder[fp.Request | fp.Reply]:
        return fp.FrameDecoder("request")

    def _reply_frame(self, request: fp.Request) -> bytes | None:
        if request.com_adr not in (fp.COM_ADR_ANY, self.com_adr):
            return None
        status, data = self.handle(request)
        return fp.build_reply(fp.Reply(request.command, status, data, self.com_adr, request.advanced))

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

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hardware_mocks.feig_pty", description=__doc__.split("\n")[0])
    parser.add_argument("--link", help="stable symlink to the pty (survives replug)")
    parser.add_argument("--tags", type=int, default=0, help="place N blank NXP tags at start")
    parser.add_argument("--page-size", type=int, default=6, help="data sets per inventory reply")
    parser.add_argument("--reply-delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--no-console", action="store_true", help="ignore stdin; serve until interrupted")
    args = parser.parse_args(argv)
    sim = FeigPtySimulator(link_path=args.link, inventory_page_size=args.page_size, reply_delay=args.reply_delay)
    tags = [SimTag.create(make_uid(n + 1)) for n in range(args.tags)]
    return serve_standalone(sim, tags, console=not args.no_console)


if __name__ == "__main__":
    raise SystemExit(main())
