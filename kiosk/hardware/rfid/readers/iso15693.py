"""Raw ISO 15693-3 request frames and their responses, sans-IO (bytes in, values out).

Every reader that lets us talk to the tag itself (PC/SC transparent exchange, an ACS direct
transmit, a FEIG or 3M pass-through) carries these same frames, so they are built and parsed here
once, free of any reader's envelope. Frames carry no SOF/EOF/CRC: readers add the air CRC.

UIDs in the API are canonical (``E0`` first, see ``base``); on the air they travel LSB first, which
is the one byte-order swap this module does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from kiosk.hardware.rfid.readers.base import SystemInfo, TagOperationFailed

# Request flags (ISO 15693-3 table 3/5, with the inventory flag clear).
FLAG_SUBCARRIER = 0x01
FLAG_HIGH_DATA_RATE = 0x02
FLAG_INVENTORY = 0x04
FLAG_PROTOCOL_EXTENSION = 0x08
FLAG_SELECT = 0x10
FLAG_ADDRESS = 0x20
FLAG_OPTION = 0x40

#: Response flag bit 0: the tag answered with an error code instead of data.
RESPONSE_ERROR = 0x01

#: NXP's IC manufacturer code, sent after the command byte of its custom commands.
NXP = 0x04

UID_LENGTH = 8
UID_MSB = 0xE0


class Command(IntEnum):
    READ_SINGLE_BLOCK = 0x20
    WRITE_SINGLE_BLOCK = 0x21
    READ_MULTIPLE_BLOCKS = 0x23
    WRITE_AFI = 0x27
    GET_SYSTEM_INFO = 0x2B
    NXP_SET_EAS = 0xA2
    NXP_RESET_EAS = 0xA3
    NXP_EAS_ALARM = 0xA5


#: Commands after which the tag programs EEPROM: readers must wait longer for the answer.
WRITE_ALIKE = frozenset(
    {Command.WRITE_SINGLE_BLOCK, Command.WRITE_AFI, Command.NXP_SET_EAS, Command.NXP_RESET_EAS}
)

#: ISO 15693-3 table 7 error codes, for messages staff can act on.
ERROR_CODES = {
    0x01: "command not supported",
    0x02: "command not recognised",
    0x03: "option not supported",
    0x0F: "unknown error",
    0x10: "block not available",
    0x11: "block already locked",
    0x12: "block is locked and cannot be changed",
    0x13: "block was not programmed",
    0x14: "block was not locked",
}


class FrameError(TagOperationFailed):
    """A frame that is not valid ISO 15693 (truncated, trailing bytes, wrong shape)."""


class TagErrorResponse(TagOperationFailed):
    """The tag answered with its error flag set; ``code`` is the ISO 15693 error code."""

    def __init__(self, code: int, *, device: str = "") -> None:
        meaning = ERROR_CODES.get(code, "custom or reserved error")
        super().__init__(f"tag error 0x{code:02X} ({meaning})", device=device, code=code)


def uid_to_air(uid: bytes) -> bytes:
    _check_uid(uid)
    return uid[::-1]


def uid_from_air(raw: bytes) -> bytes:
    if len(raw) != UID_LENGTH:
        raise FrameError(f"UID must be {UID_LENGTH} bytes, got {len(raw)}")
    return raw[::-1]


def _check_uid(uid: bytes) -> None:
    if len(uid) != UID_LENGTH:
        raise FrameError(f"UID must be {UID_LENGTH} bytes, got {len(uid)}")


def _check_byte(name: str, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise FrameError(f"{name} must fit in one byte, got {value}")


@dataclass(frozen=True, slots=True)
class Request:
    """One ISO 15693 request. ``uid`` set means addressed mode (only that tag may answer)."""

    command: int
    uid: bytes | None = None
    params: bytes = b""
    manufacturer: int | None = None  # present for custom commands (0xA0-0xDF)
    flags: int = FLAG_HIGH_DATA_RATE  # the address flag is added from ``uid``

    def encode(self) -> bytes:
        _check_byte("command", self.command)
        _check_byte("flags", self.flags)
        flags = self.flags & ~FLAG_ADDRESS
        if self.uid is not None:
            flags |= FLAG_ADDRESS
        out = bytearray((flags, self.command))
        if is_custom(self.command):
            if self.manufacturer is None:
                raise FrameError(f"custom command 0x{self.command:02X} needs a manufacturer code")
            _check_byte("manufacturer", self.manufacturer)
            out.append(self.manufacturer)
        elif self.manufacturer is not None:
            raise FrameError(f"command 0x{self.command:02X} takes no manufacturer code")
        if self.uid is not None:
            out += uid_to_air(self.uid)
        out += self.params
        return bytes(out)

    @property
    def write_alike(self) -> bool:
        return self.command in WRITE_ALIKE


def is_custom(command: int) -> bool:
    return 0xA0 <= command <= 0xDF


def decode_request(frame: bytes) -> Request:
    """The inverse of :meth:`Request.encode`; what a tag (or a simulated one) does first."""
    if len(frame) < 2:
        raise FrameError(f"request too short ({len(frame)} bytes)")
    flags, command = frame[0], frame[1]
    if flags & FLAG_INVENTORY:
        raise FrameError("inventory requests are not supported here")
    pos = 2
    manufacturer = None
    if is_custom(command):
        if len(frame) < 3:
            raise FrameError("custom command without manufacturer code")
        manufacturer = frame[2]
        pos = 3
    uid = None
    if flags & FLAG_ADDRESS:
        if len(frame) < pos + UID_LENGTH:
            raise FrameError("addressed request without a full UID")
        uid = uid_from_air(frame[pos : pos + UID_LENGTH])
        pos += UID_LENGTH
    return Request(command, uid, frame[pos:], manufacturer, flags & ~FLAG_ADDRESS)


# --- request builders -------------------------------------------------------------------------


def get_system_info(uid: bytes | None = None) -> Request:
    return Request(Command.GET_SYSTEM_INFO, uid)


def read_single_block(uid: bytes | None, block: int) -> Request:
    _check_byte("block", block)
    return Request(Command.READ_SINGLE_BLOCK, uid, bytes((block,)))


def read_multiple_blocks(uid: bytes | None, first: int, count: int) -> Request:
    _check_byte("first block", first)
    if not 1 <= count <= 256:
        raise FrameError(f"block count must be 1..256, got {count}")
    return Request(Command.READ_MULTIPLE_BLOCKS, uid, bytes((first, count - 1)))


def write_single_block(uid: bytes | None, block: int, data: bytes) -> Request:
    _check_byte("block", block)
    if not 1 <= len(data) <= 32:
        raise FrameError(f"block data must be 1..32 bytes, got {len(data)}")
    return Request(Command.WRITE_SINGLE_BLOCK, uid, bytes((block,)) + data)


def write_afi(uid: bytes | None, afi: int) -> Request:
    _check_byte("AFI", afi)
    return Request(Command.WRITE_AFI, uid, bytes((afi,)))


def nxp_set_eas(uid: bytes | None) -> Request:
    return Request(Command.NXP_SET_EAS, uid, manufacturer=NXP)


def nxp_reset_eas(uid: bytes | None) -> Request:
    return Request(Command.NXP_RESET_EAS, uid, manufacturer=NXP)


def nxp_eas_alarm(uid: bytes | None) -> Request:
    return Request(Command.NXP_EAS_ALARM, uid, manufacturer=NXP)


# --- responses --------------------------------------------------------------------------------


def parse_response(frame: bytes) -> bytes:
    """The payload after the response flags; the error flag becomes :class:`TagErrorResponse`."""
    if not frame:
        raise FrameError("empty response")
    if frame[0] & RESPONSE_ERROR:
        if len(frame) != 2:
            raise FrameError(f"error response must be 2 bytes, got {len(frame)}")
        raise TagErrorResponse(frame[1])
    return frame[1:]


def parse_write_response(frame: bytes) -> None:
    """Write-alike commands answer with the flags byte alone."""
    payload = parse_response(frame)
    if payload:
        raise FrameError(f"unexpected {len(payload)} bytes after a write response")


def parse_read_blocks(frame: bytes, block_size: int, count: int) -> bytes:
    """Block data of a read single/multiple blocks answer (option flag clear: no security bytes)."""
    payload = parse_response(frame)
    if len(payload) != block_size * count:
        raise FrameError(f"expected {count} blocks of {block_size} bytes, got {len(payload)} bytes")
    return payload


def parse_eas_alarm(frame: bytes) -> bytes:
    """The EAS sequence an NXP tag sends when its EAS bit is set (silence means unset)."""
    payload = parse_response(frame)
    if not payload:
        raise FrameError("EAS alarm response without its EAS sequence")
    return payload


# Get System Information info flags.
INFO_DSFID = 0x01
INFO_AFI = 0x02
INFO_MEMORY = 0x04
INFO_IC_REFERENCE = 0x08


def parse_system_info(frame: bytes) -> SystemInfo:
    payload = parse_response(frame)
    if len(payload) < 1 + UID_LENGTH:
        raise FrameError(f"system information too short ({len(payload)} bytes)")
    info_flags = payload[0]
    uid = uid_from_air(payload[1 : 1 + UID_LENGTH])
    rest = payload[1 + UID_LENGTH :]
    expected = (
        bool(info_flags & INFO_DSFID)
        + bool(info_flags & INFO_AFI)
        + 2 * bool(info_flags & INFO_MEMORY)
        + bool(info_flags & INFO_IC_REFERENCE)
    )
    if len(rest) != expected:
        raise FrameError(f"system information flags 0x{info_flags:02X} need {expected} bytes, got {len(rest)}")
    it = iter(rest)
    dsfid = next(it) if info_flags & INFO_DSFID else None
    afi = next(it) if info_flags & INFO_AFI else None
    block_count = block_size = None
    if info_flags & INFO_MEMORY:
        block_count = next(it) + 1
        block_size = (next(it) & 0x1F) + 1
    ic_reference = next(it) if info_flags & INFO_IC_REFERENCE else None
    return SystemInfo(uid, dsfid, afi, block_count, block_size, ic_reference)


def encode_system_info(info: SystemInfo) -> bytes:
    """A tag's answer to Get System Information; the inverse of :func:`parse_system_info`."""
    info_flags = 0
    tail = bytearray()
    if info.dsfid is not None:
        _check_byte("DSFID", info.dsfid)
        info_flags |= INFO_DSFID
        tail.append(info.dsfid)
    if info.afi is not None:
        _check_byte("AFI", info.afi)
        info_flags |= INFO_AFI
        tail.append(info.afi)
    if (info.block_count is None) != (info.block_size is None):
        raise FrameError("block count and block size go together")
    if info.block_count is not None and info.block_size is not None:
        if not 1 <= info.block_count <= 256 or not 1 <= info.block_size <= 32:
            raise FrameError("block count must be 1..256 and block size 1..32")
        info_flags |= INFO_MEMORY
        tail += bytes((info.block_count - 1, info.block_size - 1))
    if info.ic_reference is not None:
        _check_byte("IC reference", info.ic_reference)
        info_flags |= INFO_IC_REFERENCE
        tail.append(info.ic_reference)
    return bytes((0x00, info_flags)) + uid_to_air(info.uid) + bytes(tail)


def encode_error(code: int) -> bytes:
    _check_byte("error code", code)
    return bytes((RESPONSE_ERROR, code))
