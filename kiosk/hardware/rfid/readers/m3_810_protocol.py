"""3M 810 / Model 210 reader host protocol, sans-IO: frames in and out as bytes, values out; no port here.

The driver (:mod:`.m3_810`) builds requests and decodes replies with this module, and the pty simulation
decodes requests and builds replies with it, so the two cannot drift apart on the wire format.

Frame (3M "RFID Reader Model 210 Protocol Specification" v1.0.0, 2009, §2 and §4; reference
``shared/reference/rfid.md`` §4.3)::

    D6  LEN(2, big-endian)  CMD  [ERROR, replies only]  [UID(8)]  [fields]  BCC(2, MSB first)

* LEN counts every byte after itself, BCC included (spec §2: "the total of all bytes that will be sent
  following the transmission of the length bytes themselves").
* BCC is CRC-16/GENIBUS (poly 0x1021, init 0xFFFF, not reflected, xorout 0xFFFF) over LEN and the body,
  i.e. everything but the start byte, sent MSB first: dpavlin/Biblio-RFID
  ``lib/Biblio/RFID/Reader/3M810.pm`` ``sub checksum`` (Digest::CRC ``width 16, init 0xffff,
  xorout 0xffff, poly 0x1021, refin 0, refout 0``, packed with ``pack('n', ...)``) and ``sub cmd``
  (``$len = pack('n', length($bytes) + 2)``; the checksum covers ``$len . $bytes``; ``"\\xD6"`` in front).
* The 810 also speaks frames starting with 0xD5, the same layout: Biblio-RFID's ``init`` probes with
  ``D5 00 05 04 00 11 8C 66`` and expects ``D5 00 09 04 00 11 0A 05 00 02 72 50`` (hardware version
  10.5.0.2). Both BCCs are golden tests. This module treats a D5 frame like a D6 one (first body byte =
  command, second = error byte in replies); what 0x04 means there is not published, so the driver sends
  that probe byte for byte and only checks the reply's shape.

Wire details taken from captures, not from the spec's field tables (Biblio-RFID ships the spec as
``docs/3M_RFID_Reader_Protocol_Specification.doc``, a binary Word file whose tables could not be read here):

* UIDs travel in canonical order, ``E0`` first (``E0 04 01 00 31 26 91 17`` in a real session:
  dpavlin/koha-rfid-3m810-js ``tests/fixtures/live-capture.txt``), so no byte swapping happens here.
* Inventory: request ``FE 00 05``; reply ``FE 00 00 05 <count> <UID>...`` (Biblio-RFID ``inventory``
  asserts the ``FE 00 00 05`` prefix; the two bytes after the error byte echo the request's ``00 05``).
* Read multiblock: ``02 <UID> <first> <count>``; reply ``02 00 <UID> <count>`` then per block a 16-bit
  little-endian block number and the block's bytes (Biblio-RFID ``read_blocks`` unpacks ``'v'`` and 4
  data bytes; the live capture reads blocks 0-7 of 4 bytes). The per-block size here is derived from the
  reply length, not assumed to be 4, so tags with 8-byte blocks decode too.
* Write multiblock: ``04 <UID> <first> <count> 00 <data>``; reply ``04 00 <UID> <count>`` (Biblio-RFID
  ``write_blocks`` sends ``"04 $tag 00 $blocks 00 $hex_data"``; a captured write of 7 blocks is
  ``D6 00 2A 04 E00401003123AA26 00 07 00 ...`` with BCC 8843, acknowledged ``04 00 <UID> 07``). Every
  published capture writes from block 0, so which byte carries the first block is inferred, not seen:
  the byte before the count, in the order read multiblock uses ([U]). The byte after the count is 0
  (reserved, or the count's high byte if it is 16-bit little-endian like the block numbers).
* Get AFI ``0A <UID>`` -> ``0A 00 <UID> <AFI>``; write AFI ``09 <UID> <AFI>`` -> ``09 00 <UID>``
  (Biblio-RFID ``read_afi`` / ``write_afi``; live capture: AFI 0xDA).
* Error replies keep the command and the UID: ``09 06 <UID>``, ``0A 06 <UID>``, and ``02 06`` / ``04 06``
  with one more byte (frame lengths 0x0C / 0x0D in the dispatch table of ``3m-810.pl``, Dobrica
  Pavlinusic's Portmon-era script that preceded Biblio-RFID; the indexed copy names no repository).

Commands whose field layout no public capture shows (marked [U]; one builder and one parser each, so a
correction stays local): version 0x11 in a D6 frame, write block 0x05, check EAS 0x03, EAS control 0x0C,
tag info 0x0D. They follow the layout every captured command shares: ``CMD <UID> <args>`` in,
``CMD ERROR <UID> <values>`` out. Tag info carries the ISO 15693 Get System Information fields after the
UID (info flags, then DSFID, AFI, blocks - 1, block size - 1, IC reference as the flags announce).
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from kiosk.hardware.rfid.readers.base import SystemInfo
from kiosk.hardware.rfid.readers.stream_decoder import FrameKind, StreamDecoder

START = 0xD6
START_SETUP = 0xD5  # the 810's probe/version frames (Biblio-RFID ``init``)
_STARTS = (START, START_SETUP)
UID_LENGTH = 8

# --------------------------------------------------------------------------------------------------
# BCC: CRC-16/GENIBUS


def bcc(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/GENIBUS of ``data``: ``binascii.crc_hqx`` (poly 0x1021, unreflected, in C) from 0xFFFF,
    inverted. In C because the stream decoder checks one at every position garbage could start a frame."""
    return binascii.crc_hqx(data, 0xFFFF) ^ 0xFFFF


# --------------------------------------------------------------------------------------------------
# Errors


class M3ProtocolError(Exception):
    """Base of every error this module raises; anything else escaping a parser is a bug."""


class M3FrameError(M3ProtocolError):
    """Bytes that are not a well-formed frame or payload (bad BCC, bad length, truncated, wrong tag).

    ``raw`` keeps the offending bytes so a log line shows exactly what came off the wire.
    """

    def __init__(self, message: str, raw: bytes | bytearray = b"") -> None:
        raw = bytes(raw)
        super().__init__(f"{message}: {raw[:64].hex(' ').upper()}{' ...' if len(raw) > 64 else ''}")
        self.raw = raw


class ErrorCode(IntEnum):
    """The reply's error byte (spec Appendix A, as listed in ``rfid.md`` §4.3)."""

    OK = 0x00
    NOT_IMPLEMENTED = 0x02
    NO_TRANSPONDER = 0x06
    MEMORY_NOT_AVAILABLE = 0x11
    LOCKED = 0x12
    MEMORY_NOT_PUT = 0x16  # "mem not put (not enough power?)": a tag at the field edge
    NOT_SUPPORTED = 0x30


def error_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"UNKNOWN_0x{code:02X}"


class M3ReaderError(M3ProtocolError):
    """A well-formed reply whose error byte is not 0x00; the driver maps it to a reader error."""

    def __init__(self, error: int, *, command: int, data: bytes = b"") -> None:
        super().__init__(f"command 0x{command:02X}: error 0x{error:02X} {error_name(error)}")
        self.error = error
        self.command = command
        self.data = bytes(data)


# --------------------------------------------------------------------------------------------------
# Commands


class Command(IntEnum):
    """The CMD byte (spec §7, as listed in ``rfid.md`` §4.3)."""

    QUIET = 0x01
    READ_MULTIBLOCK = 0x02
    CHECK_EAS = 0x03
    WRITE_MULTIBLOCK = 0x04
    WRITE_BLOCK = 0x05
    LOCK_AFI = 0x06
    WRITE_AND_LOCK_BLOCK = 0x07
    LOCK_BLOCK = 0x08
    WRITE_AFI = 0x09
    GET_AFI = 0x0A
    WRITE_DSFID = 0x0B
    EAS_CONTROL = 0x0C
    TAG_INFO = 0x0D
    LOCK_DSFID = 0x0E
    GET_DSFID = 0x0F
    READER_VERSION = 0x11
    ISO_PASS_THRU = 0x14
    INVENTORY = 0xFE  # "Read Block UID"


#: The D5 probe's first body byte; the D5 reply repeats it (Biblio-RFID ``init``).
SETUP_PROBE_COMMAND = 0x04
#: The two argument bytes of every inventory the 3M software and Biblio-RFID send (``FE 00 05``).
INVENTORY_ARGS = b"\x00\x05"


class EasAction(IntEnum):
    """EAS control's argument [U]: the NXP SET EAS / RESET EAS the reader sends to the tag."""

    RESET = 0x00
    SET = 0x01


#: Commands after which the tag programs EEPROM: a reply may be late, and a failure may be transient.
WRITE_ALIKE = frozenset(
    {
        Command.WRITE_MULTIBLOCK,
        Command.WRITE_BLOCK,
        Command.WRITE_AFI,
        Command.EAS_CONTROL,
        Command.WRITE_AND_LOCK_BLOCK,
        Command.WRITE_DSFID,
    }
)

# --------------------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True, slots=True)
class Request:
    """Host -> reader. ``start`` is 0xD6, or 0xD5 for the 810's probe frame."""

    command: int
    data: bytes = b""
    start: int = START


@dataclass(frozen=True, slots=True)
class Reply:
    """Reader -> host: like a request plus the error byte after CMD."""

    command: int
    error: int = ErrorCode.OK
    data: bytes = b""
    start: int = START

    @property
    def error_name(self) -> str:
        return error_name(self.error)


#: Shortest LEN: CMD + BCC for a request, CMD + ERROR + BCC for a reply.
_MIN_LENGTH = {"request": 3, "reply": 4}
#: Longest LEN any command can produce: a read of 255 blocks of 32 bytes
#: (CMD, ERROR, UID, count, 255 x (number(2) + 32), BCC). A header announcing more is garbage.
MAX_LENGTH = 2 + UID_LENGTH + 1 + 255 * (2 + 32) + 2


def _frame(start: int, body: bytes) -> bytes:
    if start not in _STARTS:
        raise ValueError(f"start byte must be 0xD6 or 0xD5, got 0x{start:02X}")
    length = len(body) + 2
    if length > MAX_LENGTH:
        raise ValueError(f"frame too long: LEN {length} > {MAX_LENGTH}")
    head = length.to_bytes(2, "big") + body
    return bytes((start,)) + head + bcc(head).to_bytes(2, "big")


def _byte(name: str, value: int) -> int:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{name} {value} is not a byte")
    return value


def build_request(request: Request) -> bytes:
    return _frame(request.start, bytes((_byte("command", request.command),)) + request.data)


def build_reply(reply: Reply) -> bytes:
    body = bytes((_byte("command", reply.command), _byte("error", reply.error))) + reply.data
    return _frame(reply.start, body)


def _frame_size(buf: bytes | bytearray, start: int, kind: FrameKind) -> int | None:
    """Total size of the frame whose header is at ``start``; 0 if no frame can start there; None if the
    header is not complete yet."""
    if buf[start] not in _STARTS:
        return 0
    if len(buf) - start < 3:
        return None
    length = (buf[start + 1] << 8) | buf[start + 2]
    if not _MIN_LENGTH[kind] <= length <= MAX_LENGTH:
        return 0
    return length + 3


def _bcc_ok(buf: bytes | bytearray, start: int, size: int) -> bool:
    end = start + size
    return bcc(memoryview(buf)[start + 1 : end - 2]) == int.from_bytes(buf[end - 2 : end], "big")


def _decode(frame: bytes, kind: FrameKind) -> Request | Reply:
    """One complete frame whose length and BCC were checked."""
    if kind == "request":
        return Request(command=frame[3], data=frame[4:-2], start=frame[0])
    return Reply(command=frame[3], error=frame[4], data=frame[5:-2], start=frame[0])


def _parse_whole(frame: bytes | bytearray, kind: FrameKind) -> Request | Reply:
    frame = bytes(frame)
    if not frame:
        raise M3FrameError("empty frame", frame)
    size = _frame_size(frame, 0, kind)
    if not size:
        raise M3FrameError(f"not a {kind} frame header", frame)
    if size != len(frame):
        raise M3FrameError(f"LEN says {size} bytes in all, got {len(frame)}", frame)
    if not _bcc_ok(frame, 0, size):
        raise M3FrameError("BCC mismatch", frame)
    return _decode(frame, kind)


def parse_request(frame: bytes | bytearray) -> Request:
    """One complete request frame -> :class:`Request`; anything else -> :class:`M3FrameError`."""
    result = _parse_whole(frame, "request")
    assert isinstance(result, Request)
    return result


def parse_reply(frame: bytes | bytearray) -> Reply:
    """One complete reply frame -> :class:`Reply`; anything else -> :class:`M3FrameError`."""
    result = _parse_whole(frame, "reply")
    assert isinstance(result, Reply)
    return result


class FrameDecoder(StreamDecoder[Request | Reply]):
    """Model 210 frames in a byte stream; the resync rules are :class:`~.stream_decoder.StreamDecoder`'s.

    The 810 sometimes sends a reply nobody asked for (``3m-810.pl`` met an inventory reply
    ``FE 00 00 05 01 <UID>`` while waiting for a read), and a stray 0xD6 can announce thousands of bytes
    that will never come.
    """

    error_type = M3FrameError
    check_name = "BCC"

    def _frame_size(self, buf: bytearray, offset: int) -> int | None:
        return _frame_size(buf, offset, self.kind)

    def _check_ok(self, buf: bytearray, offset: int, size: int) -> bool:
        return _bcc_ok(buf, offset, size)

    def _command_position(self, buf: bytearray, offset: int) -> int:
        return offset + 3

    def _decode(self, frame: bytes) -> Request | Reply:
        return _decode(frame, self.kind)


# --------------------------------------------------------------------------------------------------
# Commands: request builders and reply parsers (and, for the simulation, the reverse)


def _uid(uid: bytes) -> bytes:
    if len(uid) != UID_LENGTH:
        raise ValueError(f"an ISO 15693 UID has 8 bytes, got {len(uid)}")
    return bytes(uid)


def require_ok(reply: Reply) -> bytes:
    """The reply's data, or :class:`M3ReaderError` naming its error byte."""
    if reply.error != ErrorCode.OK:
        raise M3ReaderError(reply.error, command=reply.command, data=reply.data)
    return reply.data


def _addressed_data(reply: Reply, uid: bytes, extra: int | None) -> bytes:
    """Check the UID echo and the length; return the bytes after the UID."""
    data = require_ok(reply)
    if len(data) < UID_LENGTH:
        raise M3FrameError(f"reply to 0x{reply.command:02X} shorter than a UID", data)
    if data[:UID_LENGTH] != _uid(uid):
        raise M3FrameError(f"reply to 0x{reply.command:02X} is about another tag", data)
    rest = data[UID_LENGTH:]
    if extra is not None and len(rest) != extra:
        raise M3FrameError(
            f"reply to 0x{reply.command:02X}: {len(rest)} bytes after the UID, not {extra}", data
        )
    return rest


@dataclass(frozen=True, slots=True)
class AddressedRequest:
    """A request as the simulation sees it: command, the UID it addresses, the bytes after the UID."""

    command: int
    uid: bytes
    args: bytes


def parse_addressed_request(request: Request) -> AddressedRequest:
    if len(request.data) < UID_LENGTH:
        raise M3FrameError(f"request 0x{request.command:02X} without a full UID", request.data)
    return AddressedRequest(request.command, request.data[:UID_LENGTH], request.data[UID_LENGTH:])


def addressed_reply(command: int, uid: bytes, values: bytes = b"", error: int = ErrorCode.OK) -> Reply:
    """``CMD ERROR <UID> <values>``: the shape of every addressed reply (for the simulation)."""
    return Reply(command, error, _uid(uid) + values)


# -- version ---------------------------------------------------------------------------------------


def version_probe() -> Request:
    """Biblio-RFID's probe, byte for byte: ``D5 00 05 04 00 11 8C 66``."""
    return Request(SETUP_PROBE_COMMAND, b"\x00\x11", START_SETUP)


def version_request() -> Request:
    """Reader Version (0x11) in a D6 frame [U: layout not captured]."""
    return Request(Command.READER_VERSION)


def parse_version(reply: Reply) -> tuple[int, ...]:
    """Firmware version bytes from the D5 probe reply (``04 00 11 v v v v``) or a D6 0x11 reply."""
    data = require_ok(reply)
    if reply.start == START_SETUP and reply.command == SETUP_PROBE_COMMAND:
        if len(data) < 2 or data[0] != Command.READER_VERSION:
            raise M3FrameError("probe reply does not carry the version", data)
        data = data[1:]
    elif reply.command != Command.READER_VERSION:
        raise M3FrameError(f"reply 0x{reply.command:02X} is no version reply", data)
    if not data:
        raise M3FrameError("version reply without version bytes", data)
    return tuple(data)


def build_version_reply(request: Request, version: tuple[int, ...]) -> Reply:
    """The answer to either version request (for the simulation)."""
    if request.start == START_SETUP:
        data = bytes((Command.READER_VERSION, *version))
        return Reply(SETUP_PROBE_COMMAND, ErrorCode.OK, data, START_SETUP)
    return Reply(Command.READER_VERSION, ErrorCode.OK, bytes(version))


# -- inventory (Read Block UID) --------------------------------------------------------------------


def inventory_request() -> Request:
    return Request(Command.INVENTORY, INVENTORY_ARGS)


def parse_inventory(reply: Reply) -> tuple[bytes, ...]:
    """UIDs of every tag in the field, canonical order. ``FE 00 00 05 <count> <UID>...``."""
    data = require_ok(reply)
    if len(data) < 3:
        raise M3FrameError("inventory reply shorter than its header", data)
    count = data[2]
    if len(data) != 3 + UID_LENGTH * count:
        # Biblio-RFID meant to check this too; its `$tl =! $nr * 8` assigns instead of comparing.
        raise M3FrameError(f"inventory reply announces {count} tags in {len(data) - 3} bytes", data)
    return tuple(bytes(data[i : i + UID_LENGTH]) for i in range(3, len(data), UID_LENGTH))


def build_inventory_data(uids: Iterable[bytes]) -> bytes:
    uids = [_uid(uid) for uid in uids]
    if len(uids) > 255:
        raise ValueError("an inventory reply holds at most 255 UIDs")
    return INVENTORY_ARGS + bytes((len(uids),)) + b"".join(uids)


# -- read multiblock -------------------------------------------------------------------------------


def read_blocks_request(uid: bytes, first: int, count: int) -> Request:
    if not (0 <= first <= 255 and 1 <= count <= 255):
        raise ValueError(f"block range {first}+{count} outside 0..255")
    return Request(Command.READ_MULTIBLOCK, _uid(uid) + bytes((first, count)))


@dataclass(frozen=True, slots=True)
class BlockData:
    """Blocks read from a tag, in memory order; the block size is what the reply carried."""

    first: int
    block_size: int
    data: bytes

    @property
    def count(self) -> int:
        return len(self.data) // self.block_size


def parse_read_blocks(reply: Reply, uid: bytes, first: int | None = None) -> BlockData:
    """``02 00 <UID> <count> (<block number, 16-bit LE> <block>)...``; block numbers must run on from
    ``first`` (when given), which catches a reply to a different read."""
    rest = _addressed_data(reply, uid, None)
    if not rest:
        raise M3FrameError("read reply without a block count", reply.data)
    count, entries = rest[0], rest[1:]
    if count == 0 or len(entries) % count:
        raise M3FrameError(f"read reply: {len(entries)} bytes do not split into {count} blocks", reply.data)
    entry = len(entries) // count
    size = entry - 2
    if not 1 <= size <= 32:
        raise M3FrameError(f"read reply: blocks of {size} bytes", reply.data)
    numbers = [int.from_bytes(entries[i : i + 2], "little") for i in range(0, len(entries), entry)]
    start = numbers[0] if first is None else first
    if numbers != list(range(start, start + count)):
        raise M3FrameError(f"read reply: block numbers {numbers} do not run on from {start}", reply.data)
    data = b"".join(entries[i + 2 : i + entry] for i in range(0, len(entries), entry))
    return BlockData(start, size, data)


def build_read_blocks_data(uid: bytes, first: int, block_size: int, blocks: bytes) -> bytes:
    """Reply data for a read of ``blocks`` (memory order) starting at ``first`` (for the simulation)."""
    if block_size < 1 or not blocks or len(blocks) % block_size:
        raise ValueError(f"{len(blocks)} bytes are not whole blocks of {block_size}")
    count = len(blocks) // block_size
    if count > 255 or first + count > 0x10000:
        raise ValueError(f"{count} blocks from {first} do not fit a read reply")
    out = bytearray(_uid(uid))
    out.append(count)
    for n in range(count):
        out += (first + n).to_bytes(2, "little") + blocks[n * block_size : (n + 1) * block_size]
    return bytes(out)


# -- write multiblock / write block ----------------------------------------------------------------


def write_blocks_request(uid: bytes, first: int, block_size: int, data: bytes) -> Request:
    if block_size < 1 or not data or len(data) % block_size:
        raise ValueError(f"{len(data)} bytes are not whole blocks of {block_size}")
    count = len(data) // block_size
    if not (0 <= first <= 255 and count <= 255):
        raise ValueError(f"block range {first}+{count} outside 0..255")
    return Request(Command.WRITE_MULTIBLOCK, _uid(uid) + bytes((first, count, 0x00)) + bytes(data))


@dataclass(frozen=True, slots=True)
class WriteBlocks:
    """A decoded write-multiblock request (the simulation's view)."""

    uid: bytes
    first: int
    count: int
    data: bytes

    @property
    def block_size(self) -> int:
        return len(self.data) // self.count


def parse_write_blocks_request(request: Request) -> WriteBlocks:
    req = parse_addressed_request(request)
    if len(req.args) < 3:
        raise M3FrameError("write multiblock without first block, count and reserved byte", request.data)
    first, count, reserved = req.args[0], req.args[1], req.args[2]
    payload = req.args[3:]
    if reserved != 0 or count == 0 or not payload or len(payload) % count:
        raise M3FrameError(f"write of {count} blocks carries {len(payload)} bytes", request.data)
    return WriteBlocks(req.uid, first, count, payload)


def parse_write_blocks(reply: Reply, uid: bytes) -> int:
    """``04 00 <UID> <count>``: how many blocks the reader says it wrote."""
    return _addressed_data(reply, uid, 1)[0]


def write_block_request(uid: bytes, block: int, data: bytes) -> Request:
    """Write Block 0x05 [U]: ``05 <UID> <block> <data>``."""
    if not 1 <= len(data) <= 32:
        raise ValueError(f"a block holds 1..32 bytes, got {len(data)}")
    return Request(Command.WRITE_BLOCK, _uid(uid) + bytes((_byte("block", block),)) + bytes(data))


def parse_write_block(reply: Reply, uid: bytes) -> int:
    """``05 00 <UID> <block>`` [U]: the block written."""
    return _addressed_data(reply, uid, 1)[0]


# -- AFI ---------------------------------------------------------------------------------------------


def get_afi_request(uid: bytes) -> Request:
    return Request(Command.GET_AFI, _uid(uid))


def parse_afi(reply: Reply, uid: bytes) -> int:
    """``0A 00 <UID> <AFI>``."""
    return _addressed_data(reply, uid, 1)[0]


def write_afi_request(uid: bytes, afi: int) -> Request:
    return Request(Command.WRITE_AFI, _uid(uid) + bytes((_byte("AFI", afi),)))


def parse_write_afi(reply: Reply, uid: bytes) -> None:
    """``09 00 <UID>``; Biblio-RFID dies when the echoed UID is another tag's, and so do we."""
    _addressed_data(reply, uid, 0)


# -- EAS [U] -------------------------------------------------------------------------------------------


def check_eas_request(uid: bytes) -> Request:
    return Request(Command.CHECK_EAS, _uid(uid))


def parse_check_eas(reply: Reply, uid: bytes) -> bool:
    """``03 00 <UID> <state>``, state 1 = EAS set (alarm at the gate) [U].

    A reader that passes the NXP EAS ALARM's silence on as error 0x06 raises :class:`M3ReaderError`
    here; the driver then asks whether the tag is still there before reading it as "EAS off".
    """
    state = _addressed_data(reply, uid, 1)[0]
    if state not in (0, 1):
        raise M3FrameError(f"EAS state 0x{state:02X}", reply.data)
    return bool(state)


def eas_control_request(uid: bytes, action: EasAction | int) -> Request:
    return Request(Command.EAS_CONTROL, _uid(uid) + bytes((EasAction(action),)))


def parse_eas_control(reply: Reply, uid: bytes) -> None:
    """``0C 00 <UID>`` [U]."""
    _addressed_data(reply, uid, 0)


# -- tag info [U] --------------------------------------------------------------------------------------

INFO_DSFID = 0x01
INFO_AFI = 0x02
INFO_MEMORY = 0x04
INFO_IC_REFERENCE = 0x08


def tag_info_request(uid: bytes) -> Request:
    return Request(Command.TAG_INFO, _uid(uid))


def parse_tag_info(reply: Reply, uid: bytes) -> SystemInfo:
    """``0D 00 <UID> <info flags> [DSFID] [AFI] [blocks-1 size-1] [IC ref]`` -> :class:`SystemInfo`."""
    rest = _addressed_data(reply, uid, None)
    if not rest:
        raise M3FrameError("tag info without info flags", reply.data)
    flags, fields = rest[0], rest[1:]
    expected = (
        bool(flags & INFO_DSFID)
        + bool(flags & INFO_AFI)
        + 2 * bool(flags & INFO_MEMORY)
        + bool(flags & INFO_IC_REFERENCE)
    )
    if flags & 0xF0 or len(fields) != expected:
        raise M3FrameError(f"tag info flags 0x{flags:02X} with {len(fields)} field bytes", reply.data)
    it = iter(fields)
    dsfid = next(it) if flags & INFO_DSFID else None
    afi = next(it) if flags & INFO_AFI else None
    block_count = block_size = None
    if flags & INFO_MEMORY:
        block_count = next(it) + 1
        block_size = (next(it) & 0x1F) + 1
    ic_reference = next(it) if flags & INFO_IC_REFERENCE else None
    return SystemInfo(bytes(uid), dsfid, afi, block_count, block_size, ic_reference)


def build_tag_info_data(info: SystemInfo) -> bytes:
    """Reply data for tag info; the inverse of :func:`parse_tag_info` (for the simulation)."""
    flags = 0
    fields = bytearray()
    if info.dsfid is not None:
        flags |= INFO_DSFID
        fields.append(_byte("DSFID", info.dsfid))
    if info.afi is not None:
        flags |= INFO_AFI
        fields.append(_byte("AFI", info.afi))
    if (info.block_count is None) != (info.block_size is None):
        raise ValueError("block count and block size go together")
    if info.block_count is not None and info.block_size is not None:
        if not (1 <= info.block_count <= 256 and 1 <= info.block_size <= 32):
            raise ValueError("block count must be 1..256 and block size 1..32")
        flags |= INFO_MEMORY
        fields += bytes((info.block_count - 1, info.block_size - 1))
    if info.ic_reference is not None:
        flags |= INFO_IC_REFERENCE
        fields.append(_byte("IC reference", info.ic_reference))
    return _uid(info.uid) + bytes((flags,)) + bytes(fields)
