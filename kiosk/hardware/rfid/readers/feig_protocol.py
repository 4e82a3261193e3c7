"""FEIG OBID ISC host protocol, sans-IO: frames in and out as bytes, values out; no serial port here.

The same code serves the driver (builds requests, decodes replies) and the pty simulation (decodes
requests, builds replies), so the simulation cannot drift from the wire format the driver speaks.

Sources (see also ``shared/reference/rfid.md`` §4.2):

* Frames, CRC, status codes and the [0xB0] ISO host sub-commands: FEIG system manuals
  ID ISC.MR/PR/PRH101 (H60301-3e-ID-B) §6.1, ID ISC.MR200 (H40801-5e) §6.1, ID ISC.LR200 (H90692-16e)
  §7.1, Annex "Index of Status Bytes"; dpavlin/Biblio-RFID ``lib/RFID/Biblio/Reader/CPRM02.pm``
  (inventory, read/write multiple blocks, write AFI, get system information on a real CPR-M02).
* CRC check values: CRC-16/MCRF4XX of ``b"123456789"`` is 0x6F91, and a FEIG Get Software Version
  reply ``0D 00 65 00 03 03 00 44 53 0D 30`` carries CRC 0x0933 (MIT-licensed
  Amarok79/InlayTester.Drivers.FeigReader ``Test_FeigChecksum.cs``); both are golden tests.

Wire-order decisions that no public capture settles (marked [U] in the reference):

* UIDs travel most significant byte first (``E0`` first), i.e. already in the canonical order of
  :mod:`~kiosk.hardware.rfid.readers.base`; Biblio-RFID's CPR-M02 code uses them unchanged.
* Data blocks travel byte-reversed within each block: Biblio-RFID reverses every block on read and on
  write (``reverse split(//, $db)``). Both conversions live in :func:`_block_wire_order` only.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from enum import IntEnum

from kiosk.hardware.rfid.readers.base import SystemInfo
from kiosk.hardware.rfid.readers.stream_decoder import FrameKind, StreamDecoder

# --------------------------------------------------------------------------------------------------
# CRC-16 (FEIG: poly 0x8408 reflected, preset 0xFFFF, no final xor, appended LSB first)


#: Each byte value with its bits in reverse order.
_REVERSED_BITS = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def _reversed16(value: int) -> int:
    return (_REVERSED_BITS[value & 0xFF] << 8) | _REVERSED_BITS[value >> 8]


def crc16(data: bytes | bytearray | memoryview, crc: int = 0xFFFF) -> int:
    """CRC-16/MCRF4XX as every FEIG frame carries it.

    Computed by ``binascii.crc_hqx`` (the same polynomial, 0x1021, unreflected, in C) on the bytes with
    their bits reversed, reversing the result back: the stream decoder checks a CRC at every position
    where garbage could start a frame (up to 255 bytes each), and a Python loop made that the slowest
    thing the fuzzer found (about 30x slower for a 255-byte frame).
    """
    reflected = binascii.crc_hqx(bytes(data).translate(_REVERSED_BITS), _reversed16(crc))
    return _reversed16(reflected)


# --------------------------------------------------------------------------------------------------
# Errors


class FeigProtocolError(Exception):
    """Base of every error this module raises; anything else escaping a parser is a bug."""


class FeigFrameError(FeigProtocolError):
    """Bytes that are not a well-formed frame or payload (bad CRC, bad length, truncated data).

    ``raw`` keeps the offending bytes so a log line can show exactly what came off the wire.
    """

    def __init__(self, message: str, raw: bytes) -> None:
        super().__init__(f"{message}: {raw[:64].hex(' ').upper()}{' ...' if len(raw) > 64 else ''}")
        self.raw = bytes(raw)


class FeigStatusError(FeigProtocolError):
    """A well-formed reply whose STATUS says the command failed; the driver maps it to a reader error."""

    def __init__(self, status: int, *, command: int, iso_error: int | None = None) -> None:
        detail = f" (ISO error 0x{iso_error:02X} {iso_error_name(iso_error)})" if iso_error is not None else ""
        super().__init__(f"command 0x{command:02X}: status 0x{status:02X} {status_name(status)}{detail}")
        self.status = status
        self.command = command
        self.iso_error = iso_error


# --------------------------------------------------------------------------------------------------
# Codes


class Status(IntEnum):
    """Reader STATUS byte (FEIG manuals, Annex "Index of Status Bytes")."""

    OK = 0x00
    NO_TRANSPONDER = 0x01
    DATA_FALSE = 0x02
    WRITE_ERROR = 0x03
    ADDRESS_ERROR = 0x04
    WRONG_TRANSPONDER_TYPE = 0x05
    AUTHENTICATION_ERROR = 0x08
    GENERAL_ERROR = 0x0E
    EEPROM_FAILURE = 0x10
    PARAMETER_RANGE_ERROR = 0x11
    LOGIN_REQUEST = 0x13
    LOGIN_ERROR = 0x14
    READ_PROTECT = 0x15
    WRITE_PROTECT = 0x16
    FIRMWARE_ACTIVATION_REQUIRED = 0x17
    UNKNOWN_COMMAND = 0x80
    LENGTH_ERROR = 0x81
    COMMAND_NOT_AVAILABLE = 0x82
    RF_COMMUNICATION_ERROR = 0x83
    RF_WARNING = 0x84
    DATA_BUFFER_OVERFLOW = 0x93
    MORE_DATA = 0x94
    ISO15693_ERROR = 0x95
    HARDWARE_WARNING = 0xF1


#: Statuses after which the reply still carries RESPONSE-DATA (manual ID ISC.LR200 §7.1 notes).
STATUSES_WITH_DATA = frozenset({0x00, 0x83, 0x84, 0x93, 0x94, 0x95})

_ISO_ERRORS = {
    0x01: "command not supported",
    0x02: "command not recognised",
    0x03: "option not supported",
    0x0F: "unknown error",
    0x10: "block not available",
    0x11: "block already locked",
    0x12: "block locked, cannot be changed",
    0x13: "block not programmed",
    0x14: "block not locked",
}


def status_name(status: int) -> str:
    try:
        return Status(status).name
    except ValueError:
        return f"UNKNOWN_0x{status:02X}"


def iso_error_name(code: int) -> str:
    return _ISO_ERRORS.get(code, "manufacturer specific" if code >= 0xA0 else "unknown")


class Command(IntEnum):
    """Reader commands (the CMD byte)."""

    BAUD_RATE_DETECTION = 0x52
    GET_SOFTWARE_VERSION = 0x65
    GET_READER_INFO = 0x66
    RF_RESET = 0x69
    ISO_HOST = 0xB0  # ISO 15693 mandatory and optional commands
    ISO_CUSTOM = 0xB1  # ISO 15693 custom and proprietary commands (MFR byte first)


class IsoCommand(IntEnum):
    """Sub-commands of [0xB0]: the ISO 15693 command code."""

    INVENTORY = 0x01
    READ_MULTIPLE_BLOCKS = 0x23
    WRITE_MULTIPLE_BLOCKS = 0x24
    WRITE_AFI = 0x27
    LOCK_AFI = 0x28
    GET_SYSTEM_INFORMATION = 0x2B


class NxpCommand(IntEnum):
    """NXP ICODE SLI/SLIX custom commands, sent through [0xB1] with MFR 0x04."""

    SET_EAS = 0xA2
    RESET_EAS = 0xA3
    LOCK_EAS = 0xA4
    EAS_ALARM = 0xA5


MFR_NXP = 0x04
MODE_ADDRESSED = 0x01
INVENTORY_MORE = 0x80  # MODE bit 7: fetch the data sets a STATUS 0x94 reply left behind
TR_TYPE_ISO15693 = 0x03
COM_ADR_ANY = 0xFF
#: Largest DB-N x DB-SIZE one read or write may carry (manual ID ISC.LR200 §7.1.4: "128 bytes").
MAX_BLOCK_BYTES_PER_REQUEST = 128

STX = 0x02
_STANDARD_MAX = 255
_ADVANCED_MAX = 0xFFFF

# --------------------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True, slots=True)
class Request:
    """Host -> reader. ``advanced`` selects the STX/ALENGTH frame (needed above 255 bytes)."""

    command: int
    data: bytes = b""
    com_adr: int = COM_ADR_ANY
    advanced: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """Reader -> host: like a request plus the STATUS byte after CMD."""

    command: int
    status: int
    data: bytes = b""
    com_adr: int = 0x00
    advanced: bool = False

    @property
    def status_name(self) -> str:
        return status_name(self.status)


_MIN_LENGTH = {
    # (kind, advanced) -> shortest legal frame: header + CRC (+ STATUS for replies)
    ("request", False): 5,
    ("reply", False): 6,
    ("request", True): 7,
    ("reply", True): 8,
}


def _frame(body: bytes, advanced: bool) -> bytes:
    if advanced:
        length = len(body) + 5
        if length > _ADVANCED_MAX:
            raise ValueError(f"advanced frame too long: {length} bytes")
        head = bytes((STX, length >> 8, length & 0xFF)) + body
    else:
        length = len(body) + 3
        if length > _STANDARD_MAX:
            raise ValueError(f"standard frame too long ({length} bytes): use the advanced protocol")
        head = bytes((length,)) + body
    return head + crc16(head).to_bytes(2, "little")


def build_request(request: Request) -> bytes:
    return _frame(bytes((request.com_adr, request.command)) + request.data, request.advanced)


def build_reply(reply: Reply) -> bytes:
    return _frame(bytes((reply.com_adr, reply.command, reply.status)) + reply.data, reply.advanced)


def _declared_length(buf: bytes | bytearray, start: int, kind: FrameKind) -> int | None:
    """Length the header at ``start`` announces; 0 if it cannot start a frame; None if too few bytes."""
    first = buf[start]
    if first == STX:
        if len(buf) - start < 3:
            return None
        length = (buf[start + 1] << 8) | buf[start + 2]
        return length if length >= _MIN_LENGTH[(kind, True)] else 0
    return first if first >= _MIN_LENGTH[(kind, False)] else 0


def _crc_ok(buf: bytes | bytearray, start: int, size: int) -> bool:
    end = start + size
    return crc16(buf[start : end - 2]) == int.from_bytes(buf[end - 2 : end], "little")


def _decode(frame: bytes, kind: FrameKind) -> Request | Reply:
    """Decode exactly one complete frame whose length field matched and whose CRC is right."""
    advanced = frame[0] == STX
    body = frame[3:-2] if advanced else frame[1:-2]
    if kind == "request":
        return Request(command=body[1], data=bytes(body[2:]), com_adr=body[0], advanced=advanced)
    return Reply(command=body[1], status=body[2], data=bytes(body[3:]), com_adr=body[0], advanced=advanced)


def _check_whole(frame: bytes, kind: FrameKind) -> None:
    if not frame:
        raise FeigFrameError("empty frame", frame)
    length = _declared_length(frame, 0, kind)
    if length is None or length == 0:
        raise FeigFrameError(f"not a {kind} frame header", frame)
    if length != len(frame):
        raise FeigFrameError(f"length field says {length} bytes, got {len(frame)}", frame)
    if not _crc_ok(frame, 0, len(frame)):
        raise FeigFrameError("CRC mismatch", frame)


def parse_request(frame: bytes) -> Request:
    """One complete request frame -> :class:`Request`; anything else -> :class:`FeigFrameError`."""
    frame = bytes(frame)
    _check_whole(frame, "request")
    result = _decode(frame, "request")
    assert isinstance(result, Request)
    return result


def parse_reply(frame: bytes) -> Reply:
    """One complete reply frame -> :class:`Reply`; anything else -> :class:`FeigFrameError`."""
    frame = bytes(frame)
    _check_whole(frame, "reply")
    result = _decode(frame, "reply")
    assert isinstance(result, Reply)
    return result


class FrameDecoder(StreamDecoder[Request | Reply]):
    """FEIG frames in a byte stream; the resync rules are :class:`~.stream_decoder.StreamDecoder`'s.

    Here a garbage byte can announce up to 255 bytes that will never come, and searching a frame that
    is still arriving would find a false frame in its payload about once per 65536 positions.
    """

    error_type = FeigFrameError
    check_name = "CRC"

    def _frame_size(self, buf: bytearray, offset: int) -> int | None:
        return _declared_length(buf, offset, self.kind)

    def _check_ok(self, buf: bytearray, offset: int, size: int) -> bool:
        return _crc_ok(buf, offset, size)

    def _command_position(self, buf: bytearray, offset: int) -> int:
        return offset + (4 if buf[offset] == STX else 2)

    def _decode(self, frame: bytes) -> Request | Reply:
        return _decode(frame, self.kind)


# --------------------------------------------------------------------------------------------------
# [0xB0] ISO host commands: request builders and reply parsers


def _uid(uid: bytes) -> bytes:
    if len(uid) != 8:
        raise ValueError(f"an ISO 15693 UID has 8 bytes, got {len(uid)}")
    return bytes(uid)


def _block_wire_order(block: bytes) -> bytes:
    """Memory order <-> FEIG wire order of one data block (reversed; see the module docstring)."""
    return bytes(reversed(block))


def _require(reply: Reply, *ok: int) -> None:
    if reply.status in ok:
        return
    iso_error = reply.data[0] if reply.status == Status.ISO15693_ERROR and reply.data else None
    raise FeigStatusError(reply.status, command=reply.command, iso_error=iso_error)


def iso_request(data: bytes, *, com_adr: int = COM_ADR_ANY, advanced: bool = False) -> Request:
    return Request(Command.ISO_HOST, data, com_adr, advanced)


def inventory_request(*, more: bool = False, com_adr: int = COM_ADR_ANY) -> Request:
    return iso_request(bytes((IsoCommand.INVENTORY, INVENTORY_MORE if more else 0x00)), com_adr=com_adr)


@dataclass(frozen=True, slots=True)
class InventoryEntry:
    tr_type: int
    dsfid: int
    uid: bytes


@dataclass(frozen=True, slots=True)
class InventoryPage:
    """One inventory reply. ``more``: the reader holds further data sets; ask again with MORE set."""

    entries: tuple[InventoryEntry, ...]
    more: bool


def parse_inventory(reply: Reply) -> InventoryPage:
    if reply.status == Status.NO_TRANSPONDER:
        return InventoryPage((), False)
    _require(
        reply,
        Status.OK,
        Status.MORE_DATA,
        Status.RF_COMMUNICATION_ERROR,
        Status.RF_WARNING,
        Status.DATA_BUFFER_OVERFLOW,
    )
    data = reply.data
    if not data:
        # 0x83/0x84 may come without data sets: nothing usable was read this round.
        if reply.status in (Status.OK, Status.MORE_DATA):
            raise FeigFrameError("inventory reply without DATA-SETS", data)
        return InventoryPage((), False)
    count = data[0]
    if len(data) != 1 + 10 * count:
        raise FeigFrameError(f"inventory reply announces {count} data sets in {len(data)} bytes", data)
    entries = tuple(
        InventoryEntry(tr_type=data[i], dsfid=data[i + 1], uid=bytes(data[i + 2 : i + 10]))
        for i in range(1, len(data), 10)
    )
    return InventoryPage(entries, reply.status == Status.MORE_DATA)


def build_inventory_data(entries: list[InventoryEntry] | tuple[InventoryEntry, ...]) -> bytes:
    """RESPONSE-DATA of an inventory reply (for the simulation)."""
    out = bytearray((len(entries),))
    for entry in entries:
        out += bytes((entry.tr_type, entry.dsfid)) + _uid(entry.uid)
    return bytes(out)


def read_blocks_request(uid: bytes, first: int, count: int, *, com_adr: int = COM_ADR_ANY) -> Request:
    if not (0 <= first <= 255 and 1 <= count <= 255):
        raise ValueError(f"block range {first}+{count} outside 0..255")
    data = bytes((IsoCommand.READ_MULTIPLE_BLOCKS, MODE_ADDRESSED)) + _uid(uid) + bytes((first, count))
    return iso_request(data, com_adr=com_adr)


@dataclass(frozen=True, slots=True)
class BlockData:
    """Blocks read from a tag, in memory order; ``security`` is each block's SEC-STATUS byte."""

    block_size: int
    data: bytes
    security: tuple[int, ...]


def parse_read_blocks(reply: Reply) -> BlockData:
    _require(reply, Status.OK)
    data = reply.data
    if len(data) < 2:
        raise FeigFrameError("read-blocks reply shorter than DB-N, DB-SIZE", data)
    count, size = data[0], data[1]
    if count == 0 or size == 0 or len(data) != 2 + count * (size + 1):
        raise FeigFrameError(f"read-blocks reply: {count} blocks of {size} bytes do not fill {len(data)}", data)
    memory = bytearray()
    security = []
    for i in range(2, len(data), size + 1):
        security.append(data[i])
        memory += _block_wire_order(data[i + 1 : i + 1 + size])
    return BlockData(size, bytes(memory), tuple(security))


def build_read_blocks_data(block_size: int, blocks: bytes, security: tuple[int, ...] | None = None) -> bytes:
    """RESPONSE-DATA of a read-blocks reply from memory-order ``blocks`` (for the simulation)."""
    count = len(blocks) // block_size
    security = security or (0,) * count
    out = bytearray((count, block_size))
    for n in range(count):
        out.append(security[n])
        out += _block_wire_order(blocks[n * block_size : (n + 1) * block_size])
    return bytes(out)


def write_blocks_request(
    uid: bytes, first: int, block_size: int, data: bytes, *, com_adr: int = COM_ADR_ANY
) -> Request:
    if block_size < 1 or len(data) % block_size or not data:
        raise ValueError(f"{len(data)} bytes are not whole blocks of {block_size}")
    count = len(data) // block_size
    if not (0 <= first <= 255 and count <= 255):
        raise ValueError(f"block range {first}+{count} outside 0..255")
    wire = b"".join(_block_wire_order(data[i : i + block_size]) for i in range(0, len(data), block_size))
    head = bytes((IsoCommand.WRITE_MULTIPLE_BLOCKS, MODE_ADDRESSED)) + _uid(uid)
    return iso_request(head + bytes((first, count, block_size)) + wire, com_adr=com_adr)


@dataclass(frozen=True, slots=True)
class WriteBlocks:
    """A decoded write-multiple-blocks request (the simulation's view)."""

    uid: bytes
    first: int
    block_size: int
    data: bytes  # memory order


def parse_write_blocks_request(data: bytes) -> WriteBlocks:
    """REQUEST-DATA of [0xB0][0x24] -> :class:`WriteBlocks`."""
    if len(data) < 13 or data[0] != IsoCommand.WRITE_MULTIPLE_BLOCKS or data[1] != MODE_ADDRESSED:
        raise FeigFrameError("not an addressed write-multiple-blocks request", data)
    first, count, size = data[10], data[11], data[12]
    payload = data[13:]
    if size == 0 or count == 0 or len(payload) != count * size:
        raise FeigFrameError(f"write of {count} blocks of {size} bytes carries {len(payload)} bytes", data)
    memory = b"".join(_block_wire_order(payload[i : i + size]) for i in range(0, len(payload), size))
    return WriteBlocks(bytes(data[2:10]), first, size, memory)


def write_afi_request(uid: bytes, afi: int, *, com_adr: int = COM_ADR_ANY) -> Request:
    if not 0 <= afi <= 255:
        raise ValueError(f"AFI {afi} is not a byte")
    data = bytes((IsoCommand.WRITE_AFI, MODE_ADDRESSED)) + _uid(uid) + bytes((afi,))
    return iso_request(data, com_adr=com_adr)


def system_info_request(uid: bytes, *, com_adr: int = COM_ADR_ANY) -> Request:
    return iso_request(bytes((IsoCommand.GET_SYSTEM_INFORMATION, MODE_ADDRESSED)) + _uid(uid), com_adr=com_adr)


def parse_system_info(reply: Reply, uid: bytes) -> SystemInfo:
    """RESPONSE-DATA: DSFID, UID(8), AFI, MEM-SIZE(2), IC-REF.

    MEM-SIZE is FEIG's most-significant-first rendering of the ISO field: block size - 1 (low 5 bits),
    then number of blocks - 1 (Biblio-RFID reads byte 2 as the block count). The UID is taken from the
    request because some FEIG models fill only its low 32 bits here (ID ISC.MR101 manual §6.1.12).
    """
    _require(reply, Status.OK)
    data = reply.data
    if len(data) != 13:
        raise FeigFrameError(f"system-info reply has {len(data)} bytes, expected 13", data)
    return SystemInfo(
        uid=_uid(uid),
        dsfid=data[0],
        afi=data[9],
        block_size=(data[10] & 0x1F) + 1,
        block_count=data[11] + 1,
        ic_reference=data[12],
    )


def build_system_info_data(info: SystemInfo) -> bytes:
    """RESPONSE-DATA of a get-system-information reply (for the simulation)."""
    block_size = info.block_size or 1
    block_count = info.block_count or 1
    return (
        bytes((info.dsfid or 0,))
        + _uid(info.uid)
        + bytes((info.afi or 0, (block_size - 1) & 0x1F, block_count - 1, info.ic_reference or 0))
    )


def parse_write_status(reply: Reply) -> None:
    """Write blocks / write AFI / set-reset EAS answer with STATUS only; 0x95 adds the ISO error."""
    _require(reply, Status.OK)


@dataclass(frozen=True, slots=True)
class AddressedIsoRequest:
    """An addressed [0xB0] request as the simulation sees it: sub-command, UID and the bytes after."""

    command: int
    uid: bytes
    args: bytes


def parse_addressed_request(data: bytes) -> AddressedIsoRequest:
    """REQUEST-DATA of an addressed [0xB0] command (read blocks, write AFI, system info, ...)."""
    if len(data) < 10 or data[1] != MODE_ADDRESSED:
        raise FeigFrameError("not an addressed ISO host request", data)
    return AddressedIsoRequest(data[0], bytes(data[2:10]), bytes(data[10:]))


# --------------------------------------------------------------------------------------------------
# [0xB1] custom commands: NXP EAS


def nxp_custom_request(command: NxpCommand | int, uid: bytes, *, com_adr: int = COM_ADR_ANY) -> Request:
    """The one place that knows the [0xB1] layout: ``MFR, NXP-CMD, MODE, UID``.

    Confirmed in FEIG's system manuals: ID ISC.MR/PR/PRH101 (H60301-3e-ID-B) §8 "[0xB1] Host commands
    for ISO15693 Custom and Proprietary Commands" (host -> reader: LEN, COM-ADR, 0xB1, MFR,
    REQUEST-DATA, CRC16; MFR 0x04 = Philips/NXP) and §8.3.1-8.3.4 (I-Code SLI custom commands 0xA2 Set
    EAS, 0xA3 Reset EAS, 0xA4 Lock EAS, 0xA5 EAS Alarm: REQUEST-DATA = command, MODE, UID in addressed
    mode; RESPONSE-DATA = ISO-ERROR only when STATUS is 0x95); the same tables appear in ID ISC.LR200
    (H90692-16e-ID-B) §7.2.4. No captured frame was found, so the bytes themselves are unverified.
    """
    return Request(Command.ISO_CUSTOM, bytes((MFR_NXP, command, MODE_ADDRESSED)) + _uid(uid), com_adr)


@dataclass(frozen=True, slots=True)
class CustomRequest:
    """A decoded [0xB1] request as the simulation sees it."""

    manufacturer: int
    command: int
    uid: bytes


def parse_custom_request(data: bytes) -> CustomRequest:
    if len(data) != 11 or data[2] != MODE_ADDRESSED:
        raise FeigFrameError("not an addressed [0xB1] custom request", data)
    return CustomRequest(data[0], data[1], bytes(data[3:11]))


def parse_eas_alarm(reply: Reply) -> bool:
    """EAS ALARM: STATUS 0x00 when the tag sent its EAS sequence, 0x01 when it stayed silent.

    Silence also means "no tag": the caller must confirm presence before reading 0x01 as "EAS off"
    (FEIG manual H60301-3e §8.3.4 note).
    """
    if reply.status == Status.NO_TRANSPONDER:
        return False
    _require(reply, Status.OK)
    return True
