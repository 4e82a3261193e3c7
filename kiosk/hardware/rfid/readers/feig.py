"""FEIG OBID ISC reader (CPR/MR/LR families) over a serial port: a multi-tag pad for stack checkout.

The wire format lives in :mod:`.feig_protocol`; its frames travel over a :class:`~.serial_link.SerialLink`
(which also turns an unplugged reader into :class:`~.base.ReaderUnavailable` naming the port); this
module holds the FEIG settings and turns FEIG statuses into the kiosk's typed reader errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import serial

from kiosk.hardware.rfid.readers import feig_protocol as fp
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

#: Statuses worth repeating the same command for: the tag sits at the field edge, collided with a
#: neighbour in the stack, or the RF exchange was disturbed (Biblio-RFID retries AFI writes for the
#: same reason). A bounded number of attempts, then the typed error.
_TRANSIENT = frozenset(
    {
        fp.Status.NO_TRANSPONDER,
        fp.Status.DATA_FALSE,
        fp.Status.WRITE_ERROR,
        fp.Status.RF_COMMUNICATION_ERROR,
        fp.Status.RF_WARNING,
    }
)
_TOO_LONG = frozenset({fp.Status.LENGTH_ERROR, fp.Status.PARAMETER_RANGE_ERROR})
_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


def _answers(request: fp.Request, reply: fp.Reply) -> bool:
    """A reply to this command from the addressed reader; a stale reply to an earlier command is not."""
    return reply.command == request.command and (
        request.com_adr == fp.COM_ADR_ANY or reply.com_adr == request.com_adr
    )


class FeigReader(SerialLinkReader):
    """A FEIG reader on ``port`` (``/dev/ttyUSB0``, a ``/dev/serial/by-id/...`` link, ...).

    Defaults follow Biblio-RFID's CPR-M02 settings (38400 baud, 8E1) and broadcast COM-ADR 0xFF.
    ``reply_timeout`` bounds one exchange; ``retries`` bounds repeats after a garbled frame or a
    transient tag status (no transponder, collision, RF error). ``advanced_protocol`` sends STX frames,
    which newer readers (LRU, MRU) expect when configured for them.
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
        baudrate: int = 38400,
        bytesize: int = 8,
        parity: str = "E",
        stopbits: int = 1,
        com_adr: int = fp.COM_ADR_ANY,
        reply_timeout: float = 0.5,
        retries: int = 3,
        advanced_protocol: bool = False,
        probe_on_open: bool = True,
        serial_factory: Callable[..., Any] = serial.Serial,
    ) -> None:
        if parity not in _PARITY:
            raise ValueError(f"parity must be one of {sorted(_PARITY)}, got {parity!r}")
        super().__init__(
            port,
            name=f"FEIG reader on {port}",
            baudrate=baudrate,
            reply_timeout=reply_timeout,
            retries=retries,
            probe_on_open=probe_on_open,
            build=fp.build_request,
            decoder=fp.FrameDecoder("reply"),
            answers=_answers,
            serial_factory=serial_factory,
        )
        self.bytesize = bytesize
        self.parity = parity
        self.stopbits = stopbits
        self.com_adr = com_adr
        self.advanced_protocol = advanced_protocol
        self._block_sizes = BlockSizes()  # bounded: a chute meets every book of the library

    # -- connection --------------------------------------------------------------------------------

    def _line_settings(self) -> dict[str, Any]:
        return {"bytesize": self.bytesize, "parity": _PARITY[self.parity], "stopbits": self.stopbits}

    def _probe(self) -> None:
        reply = self._exchange(fp.Request(fp.Command.BAUD_RATE_DETECTION, b"\x00", self.com_adr))
        if reply.status != fp.Status.OK:
            raise ReaderUnavailable(f"probe answered {reply.status_name}", device=self.name)

    # -- one request/reply exchange -------------------------------------------------------------------

    def _exchange(self, request: fp.Request) -> fp.Reply:
        """Send ``request``; return its reply. Retries garbled replies; a silent reader is unavailable."""
        if self.advanced_protocol and not request.advanced:
            request = dataclasses.replace(request, advanced=True)
        return super()._exchange(request)

    def _command(self, request: fp.Request) -> fp.Reply:
        """Exchange, repeating transient tag statuses; returns the last reply for the caller to judge."""
        reply = self._exchange(request)
        for _ in range(self.retries):
            if reply.status not in _TRANSIENT:
                break
            reply = self._exchange(request)
        return reply

    def _fail(self, error: fp.FeigStatusError, uid: bytes | None) -> ReaderError:
        what = f"tag {uid.hex().upper()}" if uid else "reader"
        if error.status == fp.Status.NO_TRANSPONDER:
            return TagNotInField(f"{what} did not answer", device=self.name)
        return TagOperationFailed(f"{what}: {error}", device=self.name, code=error.iso_error or error.status)

    def _checked(self, request: fp.Request, uid: bytes, parse: Callable[[fp.Reply], Any]) -> Any:
        reply = self._command(request)
        try:
            return parse(reply)
        except fp.FeigStatusError as exc:
            raise self._fail(exc, uid) from exc
        except fp.FeigFrameError as exc:
            raise TagOperationFailed(f"malformed reply: {exc}", device=self.name) from exc

    # -- TagReader ----------------------------------------------------------------------------------

    def inventory(self) -> list[TagInfo]:
        tags: dict[bytes, TagInfo] = {}
        more = False
        for _page in range(256):  # a reader cannot hold more pages than tags fit in its buffer
            reply = self._exchange(fp.inventory_request(more=more, com_adr=self.com_adr))
            try:
                page = fp.parse_inventory(reply)
            except fp.FeigStatusError as exc:
                raise self._fail(exc, None) from exc
            except fp.FeigFrameError as exc:
                raise TagOperationFailed(f"malformed inventory reply: {exc}", device=self.name) from exc
            for entry in page.entries:
                if entry.tr_type == fp.TR_TYPE_ISO15693:
                    tags[entry.uid] = TagInfo(uid=entry.uid, dsfid=entry.dsfid)
            if not page.more:
                break
            more = True
        return list(tags.values())

    def system_info(self, uid: bytes) -> SystemInfo:
        info: SystemInfo = self._checked(
            fp.system_info_request(uid, com_adr=self.com_adr), uid, lambda r: fp.parse_system_info(r, uid)
        )
        if info.block_size:
            self._block_sizes[uid] = info.block_size
        return info

    def _block_size(self, uid: bytes) -> int:
        size = self._block_sizes.get(uid)
        if size is None:
            size = self.system_info(uid).block_size or 4
        return size

    def read_blocks(self, uid: bytes, first: int, count: int) -> bytes:
        per_request = max(1, fp.MAX_BLOCK_BYTES_PER_REQUEST // (self._block_sizes.get(uid) or 4))
        out = bytearray()
        block = first
        end = first + count
        while block < end:
            n = min(per_request, end - block)
            request = fp.read_blocks_request(uid, block, n, com_adr=self.com_adr)
            reply = self._command(request)
            if reply.status in _TOO_LONG and n > 1:
                per_request = max(1, n // 2)  # larger blocks than assumed: ask for fewer at a time
                continue
            try:
                blocks = fp.parse_read_blocks(reply)
            except fp.FeigStatusError as exc:
                raise self._fail(exc, uid) from exc
            except fp.FeigFrameError as exc:
                raise TagOperationFailed(f"malformed read reply: {exc}", device=self.name) from exc
            self._block_sizes[uid] = blocks.block_size
            out += blocks.data
            block += n
            per_request = max(1, fp.MAX_BLOCK_BYTES_PER_REQUEST // blocks.block_size)
        return bytes(out)

    def write_blocks(self, uid: bytes, first: int, data: bytes) -> None:
        size = self._block_size(uid)
        if len(data) % size:
            raise ValueError(f"{len(data)} bytes are not whole blocks of {size} bytes")
        per_request = max(1, fp.MAX_BLOCK_BYTES_PER_REQUEST // size) * size
        for offset in range(0, len(data), per_request):
            chunk = data[offset : offset + per_request]
            request = fp.write_blocks_request(uid, first + offset // size, size, chunk, com_adr=self.com_adr)
            self._checked(request, uid, fp.parse_write_status)

    def write_afi(self, uid: bytes, afi: int) -> None:
        self._checked(fp.write_afi_request(uid, afi, com_adr=self.com_adr), uid, fp.parse_write_status)

    def set_eas(self, uid: bytes, enabled: bool) -> None:
        command = fp.NxpCommand.SET_EAS if enabled else fp.NxpCommand.RESET_EAS
        self._checked(fp.nxp_custom_request(command, uid, com_adr=self.com_adr), uid, fp.parse_write_status)

    def eas_enabled(self, uid: bytes) -> bool:
        request = fp.nxp_custom_request(fp.NxpCommand.EAS_ALARM, uid, com_adr=self.com_adr)
        reply = self._exchange(request)
        try:
            if fp.parse_eas_alarm(reply):
                return True
        except fp.FeigStatusError as exc:
            raise self._fail(exc, uid) from exc
        # Silence means "EAS off" or "tag gone": an addressed system-info tells them apart
        # (and raises TagNotInField in the second case).
        self.system_info(uid)
        return False
