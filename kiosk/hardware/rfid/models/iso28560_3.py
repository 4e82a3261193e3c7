"""ISO 28560-3 fixed-length encoding ("Danish data model", DS/INF 163), with the Bibliotheca DM11 variant.

Layout of the basic block (34 bytes; 32 on tags too small for more, the "truncated" block):

    0      version (high nibble, 1) | type of usage (low nibble); DM11 swaps the nibbles
    1      parts in item            2      ordinal part number
    3-18   primary item identifier, NUL-padded; byte 3 = 0x01 means "longer than 16, see the
           library extension block (ID 1)"
    19-20  CRC-16/CCITT-FALSE over bytes 0-18 and 21-33 (missing bytes count as 0x00), LSB first
    21-22  country of the owner library (ISIL prefix)   23-33  owner library, NUL-padded

Optional extension blocks follow from byte 34: length (0 = end, 1 = filler), block ID (16-bit LSB
first, or 0xFF in the high byte to escape to 24 bits), XOR checksum (all frame bytes XOR to 0), data.

The CRC is binascii.crc_hqx (CRC-CCITT in C) seeded with 0xFFFF: no per-byte Python work. Some
reader APIs hand over every 4-byte block byte-reversed; when the CRC fails as read, it is retried on
the reversed blocks (as libdanrfid does) and the result says so, because a later write must match.
"""

from __future__ import annotations

from array import array
from binascii import crc_hqx
from dataclasses import dataclass, field
from functools import reduce
from operator import xor

from .tagdata import TagData, TagEncodeError, TagFormatError, usage_type_from_code

__all__ = [
    "BASIC_BLOCK_SIZE",
    "MODEL",
    "MODEL_DM11",
    "TRUNCATED_BLOCK_SIZE",
    "ExtensionBlock",
    "Iso28560_3Tag",
    "basic_block_crc",
    "crc16",
    "decode",
    "decode_oriented",
    "encode",
    "encode_extension_block",
    "library_extension_block",
    "orientation",
    "owner_fields",
    "parse",
    "reverse_blocks",
]

MODEL = "iso28560-3"
MODEL_DM11 = "iso28560-3-dm11"

BASIC_BLOCK_SIZE = 34
TRUNCATED_BLOCK_SIZE = 32
_PII_LENGTH = 16
_LONG_PII_ESCAPE = 0x01
_LIBRARY_EXTENSION_ID = 1
_END_BLOCK = 0
_FILLER_BLOCK = 1
_TWO_ZERO_BYTES = b"\x00\x00"

# Field names of the structured extension blocks, in frame order (ISO 28560-3 via the
# BibliothekTHWildau/ISO28560 implementation). ID 1 starts with a one-byte media format.
_EXTENSION_FIELDS: dict[int, tuple[str, ...]] = {
    1: ("item_identifier", "owner_institution"),
    2: (
        "supplier_identifier",
        "product_identifier_local",
        "order_number",
        "supplier_invoice_number",
        "gs1_product_identifier",
        "supply_chain_stage",
    ),
    3: ("shelf_location", "marc_media_format", "onix_media_format", "subsidiary_of_an_owner_institution"),
    4: ("title",),
    5: ("ill_borrowing_institution", "ill_borrowing_transaction_number", "alternative_ill_borrowing_institution"),
}

# array typecode with 4-byte items: byteswap() reverses every block in C.
_WORD = next(code for code in "IL" if array(code).itemsize == 4)


@dataclass(frozen=True, slots=True)
class ExtensionBlock:
    """One optional data block after the basic block; ``payload`` is the data after the frame header."""

    block_id: int
    payload: bytes

    def fields(self) -> tuple[str, ...]:
        """The NUL-separated text fields (after the media-format byte for ID 1), Latin-1 decoded."""
        data = self.payload[1:] if self.block_id == _LIBRARY_EXTENSION_ID else self.payload
        return tuple(part.decode("latin-1") for part in data.split(b"\x00"))

    @property
    def media_format(self) -> int | None:
        if self.block_id != _LIBRARY_EXTENSION_ID or not self.payload:
            return None
        return self.payload[0]


@dataclass(frozen=True, slots=True)
class Iso28560_3Tag:
    """Everything an ISO 28560-3 tag holds, for decode and for staff tag programming.

    ``item_id`` is the logical primary item identifier: for one longer than 16 characters the basic
    block holds the escape and ``extension_blocks`` must hold a library extension block carrying it
    (build one with :func:`library_extension_block`). ``extension_error`` reports an unreadable tail
    (a bad frame stops the scan; the basic block stays valid): information, not part of equality.
    """

    item_id: str
    usage_type: int = 1
    parts_in_set: int = 1
    part_number: int = 1
    country: str = ""
    library: str = ""
    extension_blocks: tuple[ExtensionBlock, ...] = ()
    dm11: bool = False
    truncated: bool = False
    block_reversed: bool = False
    extension_error: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # 0x11 reads the same with either nibble order: it is the standard layout.
        if self.dm11 and self.usage_type == 1:
            object.__setattr__(self, "dm11", False)

    @property
    def owner_library(self) -> str | None:
        if self.country and self.library:
            return f"{self.country}-{self.library}"
        return self.country or self.library or None

    def to_tagdata(self, raw: bytes) -> TagData:
        return _tagdata(
            raw, self.item_id, self.usage_type, self.parts_in_set, self.part_number, self.country,
            self.library, self.extension_blocks, self.dm11, self.block_reversed,
        )


def _tagdata(
    raw: bytes,
    item_id: str,
    usage: int,
    parts: int,
    part: int,
    country: str,
    library: str,
    blocks: tuple[ExtensionBlock, ...],
    dm11: bool,
    reversed_blocks: bool,
) -> TagData:
    """The kiosk's summary; built straight from field values so decode() skips the rich model."""
    if country and library:
        owner: str | None = f"{country}-{library}"
    else:
        owner = country or library or None
    extras: list[tuple[str, str]] = []
    for block in blocks:
        names = _EXTENSION_FIELDS.get(block.block_id)
        if names is None:
            extras.append((f"extension_block_{block.block_id}", block.payload.hex()))
            continue
        if block.media_format:
            extras.append(("media_format", str(block.media_format)))
        for name, value in zip(names, block.fields(), strict=False):
            if value:
                extras.append((name, value))
                if name == "owner_institution" and owner is None:
                    owner = value
    return TagData(
        MODEL_DM11 if dm11 else MODEL,
        item_id,
        parts,
        part,
        owner,
        usage_type_from_code(usage),
        raw,
        tuple(extras),
        reversed_blocks,
    )


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, MSB first, no final XOR): the tag CRC's algorithm."""
    return crc_hqx(data, 0xFFFF)


def basic_block_crc(memory: bytes, truncated: bool = False) -> int:
    """CRC of a basic block: bytes 0-18 and 21-33, counting bytes a truncated block lacks as 0x00."""
    crc = crc_hqx(memory[:19], 0xFFFF)
    if truncated:
        return crc_hqx(_TWO_ZERO_BYTES, crc_hqx(memory[21:32], crc))
    return crc_hqx(memory[21:34], crc)


def reverse_blocks(memory: bytes) -> bytes:
    """Reverse the byte order inside every whole 4-byte block (an involution)."""
    whole = len(memory) & ~3
    words = array(_WORD, memory[:whole])
    words.byteswap()
    return words.tobytes() + memory[whole:]


def _text(field_bytes: bytes) -> str:
    return field_bytes.split(b"\x00", 1)[0].decode("latin-1")


Oriented = tuple[bytes, bool, bool]
"""(memory as written, truncated basic block?, was the read block-reversed?)"""


def _crc_fits(data: bytes, length: int) -> bool | None:
    """False: a valid 34-byte block; True: a valid truncated one; None: the CRC fits neither.

    The CRC over bytes 0-18 and 21-31 is shared; the two readings differ only in the last two bytes."""
    partial = crc_hqx(data[21:32], crc_hqx(data[:19], 0xFFFF))
    stored = data[19] | (data[20] << 8)
    if length >= BASIC_BLOCK_SIZE and crc_hqx(data[32:34], partial) == stored:
        return False
    if crc_hqx(_TWO_ZERO_BYTES, partial) == stored:
        return True
    return None


def orientation(memory: bytes) -> Oriented | None:
    """How the memory holds a CRC-valid basic block, or None: the cheap test detect.py sniffs with."""
    length = len(memory)
    if length < TRUNCATED_BLOCK_SIZE:
        return None
    truncated = _crc_fits(memory, length)
    if truncated is not None:
        return memory, truncated, False
    truncated = _crc_fits(reverse_blocks(memory[:36]), length)  # blocks 0-8 hold the basic block
    if truncated is not None:
        return reverse_blocks(memory), truncated, True
    return None


def _reversed_orientation(memory: bytes) -> Oriented | None:
    """The block-reversed reading, when its CRC fits too."""
    truncated = _crc_fits(reverse_blocks(memory[:36]), len(memory))
    return None if truncated is None else (reverse_blocks(memory), truncated, True)


def _read_either(memory: bytes, oriented: Oriented) -> tuple:
    """``_read`` with ``oriented``; if that makes no tag and the block-reversed reading's CRC fits
    as well (rare: both readings CRC-valid), the reversed reading decides."""
    try:
        return _read(memory, oriented)
    except TagFormatError:
        other = None if oriented[2] else _reversed_orientation(memory)
        if other is None:
            raise
        return _read(memory, other)


def _checked_orientation(memory: bytes) -> Oriented:
    oriented = orientation(memory)
    if oriented is None:
        if len(memory) < TRUNCATED_BLOCK_SIZE:
            raise TagFormatError(f"{len(memory)} bytes: an ISO 28560-3 basic block needs at least 32", memory)
        raise TagFormatError("ISO 28560-3 basic block CRC does not match (as read or block-reversed)", memory)
    return oriented


def _parse_extension_blocks(data: bytes) -> tuple[tuple[ExtensionBlock, ...], str | None]:
    blocks: list[ExtensionBlock] = []
    position = BASIC_BLOCK_SIZE
    end = len(data)
    while position < end:
        length = data[position]
        if length == _END_BLOCK:
            break
        if length == _FILLER_BLOCK:
            position += 1
            continue
        if length < 4 or position + length > end:
            return tuple(blocks), f"extension block at byte {position}: length {length} does not fit"
        frame = data[position : position + length]
        if frame[2] == 0xFF:
            if length < 6:
                return tuple(blocks), f"extension block at byte {position}: 24-bit ID frame too short"
            block_id = frame[1] | (frame[3] << 8) | (frame[4] << 16)
            payload = frame[6:]
        else:
            block_id = frame[1] | (frame[2] << 8)
            payload = frame[4:]
        if reduce(xor, frame):
            return tuple(blocks), f"extension block at byte {position}: XOR checksum does not match"
        blocks.append(ExtensionBlock(block_id, payload))
        position += length
    return tuple(blocks), None


def _read(memory: bytes, oriented: Oriented) -> tuple:
    """Field values in Iso28560_3Tag order, from CRC-checked memory; TagFormatError if they make no tag."""
    data, truncated, reversed_blocks = oriented
    first = data[0]
    if first >> 4 == 1:
        dm11, usage = False, first & 0x0F
    elif first & 0x0F == 1:
        dm11, usage = True, first >> 4
    else:
        raise TagFormatError(f"byte 0 = 0x{first:02X}: neither version 1 nor the DM11 nibble order", memory)
    blocks: tuple[ExtensionBlock, ...] = ()
    error = None
    if truncated:
        library = _text(data[23:32])
    else:
        library = _text(data[23:34])
        if len(data) > BASIC_BLOCK_SIZE and data[BASIC_BLOCK_SIZE] != _END_BLOCK:
            blocks, error = _parse_extension_blocks(data)
    if data[3] == _LONG_PII_ESCAPE:
        item_id = _long_item_id(blocks)
        if not item_id:
            raise TagFormatError("long primary item identifier escape without a library extension block", memory)
    else:
        item_id = _text(data[3:19])
        if not item_id:
            raise TagFormatError("empty primary item identifier", memory)
    return (item_id, usage, data[1], data[2], _text(data[21:23]), library, blocks, dm11, truncated,
            reversed_blocks, error)


def parse(memory: bytes) -> Iso28560_3Tag:
    """Decode user memory (from block 0) into the full 28560-3 model; TagFormatError if it is not one."""
    memory = bytes(memory)
    return Iso28560_3Tag(*_read_either(memory, _checked_orientation(memory)))


def _long_item_id(blocks: tuple[ExtensionBlock, ...]) -> str:
    for block in blocks:
        if block.block_id == _LIBRARY_EXTENSION_ID:
            return block.fields()[0]
    return ""


def decode(memory: bytes) -> TagData:
    """Decode user memory into the kiosk's TagData; TagFormatError if it is not a 28560-3 tag."""
    memory = bytes(memory)
    return decode_oriented(memory, _checked_orientation(memory))


def decode_oriented(memory: bytes, oriented: Oriented) -> TagData:
    """decode() for memory whose orientation() the caller already has (detect.py sniffs with it)."""
    fields = _read_either(memory, oriented)
    item_id, usage, parts, part, country, library, blocks, dm11, _, reversed_blocks, _ = fields
    return _tagdata(memory, item_id, usage, parts, part, country, library, blocks, dm11, reversed_blocks)


def owner_fields(isil: str) -> tuple[str, str]:
    """Split an owner ISIL ("DK-718500") into the basic block's country and library fields."""
    country, hyphen, library = isil.partition("-")
    if not hyphen or not country or not library or len(country) > 2:
        raise TagEncodeError(f"ISIL {isil!r} is not <country of 1-2 characters>-<library>")
    return country, library


def library_extension_block(
    item_id: str = "", media_format: int = 0, owner_institution: str = ""
) -> ExtensionBlock:
    """Build the library extension block (ID 1): media format, long PII, extended owner institution."""
    if not 0 <= media_format <= 255:
        raise TagEncodeError(f"media format {media_format} is not a byte")
    payload = bytes([media_format]) + _latin1(item_id, "item identifier")
    if owner_institution:
        payload += b"\x00" + _latin1(owner_institution, "owner institution")
    return ExtensionBlock(_LIBRARY_EXTENSION_ID, payload)


def _latin1(text: str, what: str) -> bytes:
    try:
        encoded = text.encode("latin-1")
    except UnicodeEncodeError as error:
        raise TagEncodeError(f"{what} {text!r} has characters outside ISO 8859-1") from error
    if b"\x00" in encoded:
        raise TagEncodeError(f"{what} {text!r} contains NUL")
    return encoded


def encode_extension_block(block: ExtensionBlock) -> bytes:
    """One frame: length, block ID (24-bit escape from 0xFF00 on), XOR checksum, payload."""
    block_id = block.block_id
    if not 0 <= block_id <= 0xFFFFFF:
        raise TagEncodeError(f"extension block ID {block_id} does not fit 24 bits")
    if block_id < 0xFF00:
        header = bytes([0, block_id & 0xFF, block_id >> 8, 0])
    else:
        header = bytes([0, block_id & 0xFF, 0xFF, (block_id >> 8) & 0xFF, block_id >> 16, 0])
    frame = bytearray(header + block.payload)
    if len(frame) > 255:
        raise TagEncodeError(f"extension block {block_id} is {len(frame)} bytes; at most 255 fit")
    frame[0] = len(frame)
    frame[len(header) - 1] = reduce(xor, frame)
    return bytes(frame)


def encode(tag: Iso28560_3Tag) -> bytes:
    """Bytes to write from block 0: the basic block (CRC filled in), extension blocks, an end block,
    zero-padded to whole 4-byte blocks, block-reversed if the tag says so."""
    if not 0 <= tag.usage_type <= 15:
        raise TagEncodeError(f"type of usage {tag.usage_type} does not fit a nibble")
    for name, value in (("parts in set", tag.parts_in_set), ("part number", tag.part_number)):
        if not 0 <= value <= 255:
            raise TagEncodeError(f"{name} {value} does not fit a byte")
    item = _latin1(tag.item_id, "primary item identifier")
    if not item or min(item) < 0x20:
        raise TagEncodeError(f"primary item identifier {tag.item_id!r} is empty or has control characters")
    if len(item) > _PII_LENGTH:
        if tag.truncated:
            raise TagEncodeError("a truncated basic block cannot carry a primary item identifier over 16 bytes")
        if _long_item_id(tag.extension_blocks) != tag.item_id:
            raise TagEncodeError(
                "a primary item identifier over 16 bytes needs a library extension block carrying it"
            )
        pii_field = bytes([_LONG_PII_ESCAPE]) + bytes(_PII_LENGTH - 1)
    else:
        pii_field = item.ljust(_PII_LENGTH, b"\x00")
    country = _latin1(tag.country, "country")
    library = _latin1(tag.library, "owner library")
    library_room = 9 if tag.truncated else 11
    if len(country) > 2 or len(library) > library_room:
        raise TagEncodeError(
            f"owner {tag.country!r}/{tag.library!r} does not fit 2 + {library_room} bytes"
        )
    if tag.truncated and tag.extension_blocks:
        raise TagEncodeError("a truncated basic block has no room for extension blocks")
    first = (tag.usage_type << 4) | 0x01 if tag.dm11 else 0x10 | tag.usage_type
    block = bytearray(TRUNCATED_BLOCK_SIZE if tag.truncated else BASIC_BLOCK_SIZE)
    block[0] = first
    block[1] = tag.parts_in_set
    block[2] = tag.part_number
    block[3:19] = pii_field
    block[21 : 21 + len(country)] = country
    block[23 : 23 + len(library)] = library
    crc = basic_block_crc(bytes(block), truncated=tag.truncated)
    block[19] = crc & 0xFF
    block[20] = crc >> 8
    if not tag.truncated:
        for extension in tag.extension_blocks:
            block += encode_extension_block(extension)
        block.append(_END_BLOCK)
        block += bytes(-len(block) % 4)
    memory = bytes(block)
    return reverse_blocks(memory) if tag.block_reversed else memory
