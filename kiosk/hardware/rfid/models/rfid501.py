"""3M "RFID501" / 3M alphanumeric legacy layout (proprietary; reverse-engineered by dpavlin/Biblio-RFID).

    block 0   04 is 00 tt   i = number of this item in the set (high nibble), s = set size (low
                            nibble), tt = item type (1 book, 6 CD, ...)
    1-4       barcode, ASCII, NUL-terminated (16 bytes)
    5         bb bl ll ll   12-bit branch, 20-bit library, big-endian
    6         custom signed 32-bit, big-endian
    7         zero

Nothing checks the data (no CRC), so the decoder is strict about what it can check: the 0x04 and
0x00 marker bytes and a printable barcode.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tagdata import TagData, TagEncodeError, TagFormatError

__all__ = ["ITEM_TYPES", "MODEL", "Rfid501Tag", "decode", "encode", "looks_like", "parse"]

MODEL = "rfid501"
_MARKER = 0x04
_MIN_LENGTH = 24  # blocks 0-5, as Biblio-RFID requires

ITEM_TYPES = {
    0: "other",
    1: "book",
    2: "magazine",
    3: "bound journal",
    4: "audio tape",
    5: "video",
    6: "CD/CD-ROM",
    7: "diskette",
    8: "book with diskette",
    9: "book with CD/CD-ROM",
    13: "book with audio tape",
}


@dataclass(frozen=True, slots=True)
class Rfid501Tag:
    barcode: str
    item_number: int = 1
    set_size: int = 1
    item_type: int = 1
    branch: int = 0
    library: int = 0
    custom: int = 0

    def to_tagdata(self, raw: bytes) -> TagData:
        return _tagdata(raw, self.barcode, self.item_number, self.set_size, self.item_type, self.branch,
                        self.library, self.custom)


def _tagdata(
    raw: bytes, barcode: str, item_number: int, set_size: int, item_type: int, branch: int, library: int, custom: int
) -> TagData:
    extras = (
        ("item_type", ITEM_TYPES.get(item_type) or str(item_type)),
        ("branch", str(branch)),
        ("library", str(library)),
        ("custom", str(custom)),
    )
    return TagData(MODEL, barcode, set_size, item_number, None, None, raw, extras)


def looks_like(memory: bytes) -> bool:
    """The cheap marker test detect.py sniffs with before decoding."""
    return len(memory) >= _MIN_LENGTH and memory[0] == _MARKER and memory[2] == 0


def _read(memory: bytes) -> tuple[str, int, int, int, int, int, int]:
    """Field values in Rfid501Tag order; TagFormatError if the memory is not the 3M layout."""
    if len(memory) < _MIN_LENGTH:
        raise TagFormatError(f"{len(memory)} bytes: RFID501 needs at least {_MIN_LENGTH}", memory)
    if memory[0] != _MARKER or memory[2] != 0:
        raise TagFormatError("not RFID501: block 0 does not read 04 xx 00 xx", memory)
    barcode = memory[4:20].split(b"\x00", 1)[0]
    if not barcode or min(barcode) < 0x20 or max(barcode) > 0x7E:
        raise TagFormatError("not RFID501: barcode empty or not printable ASCII", memory)
    branch_library = int.from_bytes(memory[20:24], "big")
    custom = int.from_bytes(memory[24:28], "big", signed=True) if len(memory) >= 28 else 0
    set_item = memory[1]
    return (barcode.decode("ascii"), set_item >> 4, set_item & 0x0F, memory[3], branch_library >> 20,
            branch_library & 0xFFFFF, custom)


def parse(memory: bytes) -> Rfid501Tag:
    """Decode user memory (from block 0); TagFormatError if it is not the 3M layout."""
    memory = bytes(memory)
    return Rfid501Tag(*_read(memory))


def decode(memory: bytes) -> TagData:
    memory = bytes(memory)
    return _tagdata(memory, *_read(memory))


def encode(tag: Rfid501Tag) -> bytes:
    """The 32 bytes (8 blocks) Biblio-RFID's ``from_hash`` writes for the same values."""
    checks = (
        ("item number", tag.item_number, 15),
        ("set size", tag.set_size, 15),
        ("item type", tag.item_type, 255),
        ("branch", tag.branch, 0xFFF),
        ("library", tag.library, 0xFFFFF),
    )
    for name, value, top in checks:
        if not 0 <= value <= top:
            raise TagEncodeError(f"{name} {value} outside 0..{top}")
    if not -(2**31) <= tag.custom < 2**31:
        raise TagEncodeError(f"custom value {tag.custom} is not a signed 32-bit number")
    if not (1 <= len(tag.barcode) <= 16 and tag.barcode.isascii() and tag.barcode.isprintable()):
        raise TagEncodeError(f"barcode {tag.barcode!r} must be 1-16 printable ASCII characters")
    barcode = tag.barcode.encode("ascii")
    return (
        bytes([_MARKER, (tag.item_number << 4) | tag.set_size, 0, tag.item_type])
        + barcode.ljust(16, b"\x00")
        + ((tag.branch << 20) | tag.library).to_bytes(4, "big")
        + tag.custom.to_bytes(4, "big", signed=True)
        + bytes(4)
    )
