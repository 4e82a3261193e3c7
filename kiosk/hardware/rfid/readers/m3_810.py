"""3M 810 / Model 210 RFID pad over its USB-serial port: a multi-tag reader found at many 3M-era libraries.

The wire format lives in :mod:`.m3_810_protocol`; this module moves its frames over pyserial (19200 8N1,
spec §2 and Biblio-RFID ``serial_settings``) and turns the reader's error bytes into the kiosk's typed
reader errors. Which security values a site's gates expect (3M's AFI 0xD7 / 0xDA, EAS or not) is a
:class:`~kiosk.hardware.rfid.security.SecurityScheme` setting; this driver writes whatever it is told.

Frames travel over a :class:`~.serial_link.SerialLink`, which also turns an unplugged pad into
:class:`~.base.ReaderUnavailable` naming the port; a later :meth:`M3810Reader.open` (after re-plug,
typically via a ``/dev/serial/by-id`` link) starts afresh.

Retries. Writes at the field edge fail often: Biblio-RFID's ``write_afi`` repeats an AFI write up to
``$afi_retry = 100`` times on error 0x06, and dpavlin/koha-rfid-go kept that bound. At 19200 baud an
AFI write exchange (15 + 14 bytes) costs 15 ms of serial time plus the tag's EEPROM write (~20 ms),
so 100 attempts can hold a patron for 3 s and more, on a worker thread the kiosk needs for the next
item, to "succeed" with a book that is leaving the pad anyway. Here an exchange that fails with a
transient error (0x06 no transponder, 0x16 memory not put) is repeated ``retries`` times (default 3:
four attempts, about 0.15 s); the caller sees :class:`~.base.TagNotInField` after that, and
:func:`~kiosk.hardware.rfid.security.set_security` repeats its whole write-and-verify (three attempts by
default) and then asks the patron to put the item back, which fixes a field-edge tag where 96 more
blind repeats would not. (dpavlin/koha-rfid-3m810-js, the same author's newest driver, also settled on a
small bound: 10 write-and-read-back attempts.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import serial

from kiosk.hardware.rfid.readers import m3_810_protocol as mp
from kiosk.hardware.rfid.readers.base import (
    ReaderCapability,
    ReaderError,
    ReaderUnavailable,
    SystemInfo,
    TagInfo,
    TagNotInField,
    TagOperationFailed,
)
from kiosk.hardware.rfid.readers.block_sizes import BlockSizes
from kiosk.hardware.rfid.readers.serial_reader import SerialLinkReader

#: Errors worth repeating the same command for: the tag sits at the field edge or collided with a
#: neighbour in the stack (Biblio-RFID retries 0x06 on AFI writes; 0x16 is "not enough power?").
_TRANSIENT = frozenset({mp.ErrorCode.NO_TRANSPONDER, mp.ErrorCode.MEMORY_NOT_PUT})
#: Firmware without a command answers one of these; the driver then falls back to commands it has.
_UNSUPPORTED = frozenset({mp.ErrorCode.NOT_SUPPORTED, mp.ErrorCode.NOT_IMPLEMENTED})


def _answers(request: mp.Request, reply: mp.Reply) -> bool:
    """The decoder already waits for the command byte sent; a frame of the other kind (D5/D6) with the
    same command byte is not the reply."""
    return reply.start == request.start


class M3810Reader(SerialLinkReader):
    """A 3M 810 (Model 210 protocol) reader on ``port`` (``/dev/ttyUSB0``, a by-id link, ...).

    ``reply_timeout`` bounds one exchange (the spec: the reader ignores a command sent while it is
    busy, so the host must wait for each reply); ``retries`` bounds repeats after a garbled frame or a
    transient tag error (see the module docstring). ``blocks_per_request`` caps one read or write:
    8 is what the 3M software and Biblio-RFID use (``$blocks = 8``), known to work on real pads.
    """

    capabilities = (
        ReaderCapability.MULTI_TAG_INVENTORY
        | ReaderCapability.READ_BLOCKS
        | ReaderCapability.WRITE_BLOCKS
        | ReaderCapability.AFI
        | ReaderCapability.EAS
        | ReaderCapability.SYSTEM_INFO
    )

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 19200,
        reply_timeout: float = 1.0,
        retries: int = 3,
        blocks_per_request: int = 8,
        probe_on_open: bool = True,
        serial_factory: Callable[..., Any] = serial.Serial,
    ) -> None:
        if not 1 <= blocks_per_request <= 255:
            raise ValueError(f"blocks_per_request must be 1..255, got {blocks_per_request}")
        super().__init__(
            port,
            name=f"3M 810 reader on {port}",
            baudrate=baudrate,
            reply_timeout=reply_timeout,
            retries=retries,
            probe_on_open=probe_on_open,
            build=mp.build_request,
            decoder=mp.FrameDecoder("reply"),
            answers=_answers,
            serial_factory=serial_factory,
        )
        self.blocks_per_request = blocks_per_request
        self._block_sizes = BlockSizes()  # bounded: a chute meets every book of the library
        #: Firmware version bytes from the probe (10.5.0.2 on the pads Biblio-RFID met); None before open.
        self.hardware_version: tuple[int, ...] | None = None
        #: Repeats after transient tag errors; a pad that needs many has a badly placed antenna.
        self.transient_retries = 0

    # -- connection --------------------------------------------------------------------------------

    def _line_settings(self) -> dict[str, Any]:
        return {"bytesize": serial.EIGHTBITS, "parity": serial.PARITY_NONE, "stopbits": serial.STOPBITS_ONE}

    def _probe(self) -> None:
        # Whatever goes wrong here means "this is not (yet) a working 3M pad": one error kind.
        try:
            self.hardware_version = mp.parse_version(self._exchange(mp.version_probe()))
        except ReaderUnavailable:
            raise
        except (ReaderError, mp.M3ProtocolError) as exc:
            raise ReaderUnavailable(f"probe failed: {exc}", device=self.name) from exc

    # -- one request/reply exchange -------------------------------------------------------------------

    def _command(self, request: mp.Request) -> mp.Reply:
        """Exchange, repeating transient tag errors; returns the last reply for the caller to judge."""
        reply = self._exchange(request)
        for _ in range(self.retries):
            if reply.error not in _TRANSIENT:
                break
            self.transient_retries += 1
            reply = self._exchange(request)
        return reply

    def _fail(self, error: mp.M3ReaderError, uid: bytes) -> ReaderError:
        what = f"tag {uid.hex().upper()}"
        if error.error == mp.ErrorCode.NO_TRANSPONDER:
            return TagNotInField(f"{what} did not answer", device=self.name)
        return TagOperationFailed(f"{what}: {error}", device=self.name, code=error.error)

    def _checked(self, request: mp.Request, uid: bytes, parse: Callable[[mp.Reply], Any]) -> Any:
        reply = self._command(request)
        try:
            return parse(reply)
        except mp.M3ReaderError as exc:
            raise self._fail(exc, uid) from exc
        except mp.M3FrameError as exc:
            self._link.frame_errors += 1
            raise TagOperationFailed(f"malformed reply: {exc}", device=self.name) from exc

    # -- TagReader ----------------------------------------------------------------------------------

    def inventory(self) -> list[TagInfo]:
        reply = self._exchange(mp.inventory_request())
        try:
            uids = mp.parse_inventory(reply)
        except mp.M3ReaderError as exc:
            if exc.error == mp.ErrorCode.NO_TRANSPONDER:
                return []
            raise TagOperationFailed(f"inventory: {exc}", device=self.name, code=exc.error) from exc
        except mp.M3FrameError as exc:
            self._link.frame_errors += 1
            raise TagOperationFailed(f"malformed inventory reply: {exc}", device=self.name) from exc
        return [TagInfo(uid=uid) for uid in dict.fromkeys(uids)]

    def system_info(self, uid: bytes) -> SystemInfo:
        """Tag Info (0x0D). Firmware without it: AFI via Get AFI and the block size from a one-block read
        (the read reply carries it), block count unknown."""
        reply = self._command(mp.tag_info_request(uid))
        try:
            info = mp.parse_tag_info(reply, uid)
        except mp.M3ReaderError as exc:
            if exc.error not in _UNSUPPORTED:
                raise self._fail(exc, uid) from exc
            info = SystemInfo(uid, None, self.read_afi(uid), None, self._read(uid, 0, 1).block_size)
        except mp.M3FrameError as exc:
            self._link.frame_errors += 1
            raise TagOperationFailed(f"malformed tag info: {exc}", device=self.name) from exc
        if info.block_size:
            self._block_sizes[uid] = info.block_size
        return info

    def _read(self, uid: bytes, first: int, count: int) -> mp.BlockData:
        blocks: mp.BlockData = self._checked(
            mp.read_blocks_request(uid, first, count), uid, lambda r: mp.parse_read_blocks(r, uid, first)
        )
        if blocks.count != count:
            raise TagOperationFailed(f"asked for {count} blocks, got {blocks.count}", device=self.name)
        known = self._block_sizes.setdefault(uid, blocks.block_size)
        if known != blocks.block_size:
            raise TagOperationFailed(
                f"tag {uid.hex().upper()}: {blocks.block_size}-byte blocks, tag info said {known}",
                device=self.name,
            )
        return blocks

    def read_blocks(self, uid: bytes, first: int, count: int) -> bytes:
        out = bytearray()
        for block in range(first, first + count, self.blocks_per_request):
            out += self._read(uid, block, min(self.blocks_per_request, first + count - block)).data
        return bytes(out)

    def _block_size(self, uid: bytes) -> int:
        size = self._block_sizes.get(uid)
        if size is None:
            size = self.system_info(uid).block_size
        if not size:
            raise TagOperationFailed(f"tag {uid.hex().upper()}: block size unknown", device=self.name)
        return size

    def write_blocks(self, uid: bytes, first: int, data: bytes) -> None:
        size = self._block_size(uid)
        if not data or len(data) % size:
            raise ValueError(f"{len(data)} bytes are not whole blocks of {size} bytes")
        step = self.blocks_per_request * size
        for offset in range(0, len(data), step):
            chunk = data[offset : offset + step]
            block = first + offset // size
            written = self._checked(
                mp.write_blocks_request(uid, block, size, chunk), uid, lambda r: mp.parse_write_blocks(r, uid)
            )
            if written != len(chunk) // size:
                raise TagOperationFailed(
                    f"tag {uid.hex().upper()}: wrote {written} of {len(chunk) // size} blocks from {block}",
                    device=self.name,
                )

    def read_afi(self, uid: bytes) -> int | None:
        """Get AFI (0x0A): the command Biblio-RFID and the 3M software use, cheaper than tag info."""
        afi: int = self._checked(mp.get_afi_request(uid), uid, lambda r: mp.parse_afi(r, uid))
        return afi

    def write_afi(self, uid: bytes, afi: int) -> None:
        self._checked(mp.write_afi_request(uid, afi), uid, lambda r: mp.parse_write_afi(r, uid))

    def set_eas(self, uid: bytes, enabled: bool) -> None:
        action = mp.EasAction.SET if enabled else mp.EasAction.RESET
        self._checked(mp.eas_control_request(uid, action), uid, lambda r: mp.parse_eas_control(r, uid))

    def eas_enabled(self, uid: bytes) -> bool:
        """Check EAS (0x03). Not repeated on 0x06: a reader that reports the EAS ALARM's silence that
        way would be asked four times for nothing; instead Get AFI tells "EAS off" from "tag gone"
        (and raises :class:`~.base.TagNotInField` in the second case)."""
        reply = self._exchange(mp.check_eas_request(uid))
        try:
            return mp.parse_check_eas(reply, uid)
        except mp.M3ReaderError as exc:
            if exc.error != mp.ErrorCode.NO_TRANSPONDER:
                raise self._fail(exc, uid) from exc
        except mp.M3FrameError as exc:
            self._link.frame_errors += 1
            raise TagOperationFailed(f"malformed EAS reply: {exc}", device=self.name) from exc
        self.read_afi(uid)
        return False
