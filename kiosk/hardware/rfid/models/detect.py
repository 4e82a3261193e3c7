"""Which data model a tag holds, judged from its content; the DSFID is only a hint.

DSFIDs are often unprogrammed (0x00 on many Danish-model tags) or wrong, so every model is checked
on the bytes themselves: ISO 28560-3 by its CRC (strong), RFID501 by its marker bytes and printable
barcode, ISO 28560-2 by a data set that parses to the end and starts with the PII. 28560-3 is tried
first whatever the DSFID says, because a CRC match is far stronger evidence than a plausible
precursor chain; a 28560-2 DSFID (0x06) puts 28560-2 before RFID501 and lets a data set that does
not start with the PII count.

The pad is polled continuously, so the same memory comes back poll after poll: results are memoised
(bytes in, immutable value out, so a cache changes nothing but the time). A miss avoids exceptions on
the common path: each model is first tested with its cheap sniff, and the per-model reasons for an
UnreadableTag are only gathered when nothing fits.
"""

from __future__ import annotations

from functools import lru_cache

from . import iso28560_2, iso28560_3, rfid501
from .tagdata import BLANK_TAG, TagData, TagFormatError, UnreadableTag

__all__ = ["CACHE_SIZE", "DSFID_ISO28560_2", "DSFID_ISO28560_3", "decode_tag"]

DSFID_ISO28560_2 = 0x06  # ISO/IEC 15962 access method 0, data format 6 (libraries)
DSFID_ISO28560_3 = 0x3E  # ISO 28560-3 clause 5.1

_MANUFACTURER_BLANK_3M = b"\x55" * 24  # 3M factory content of blocks 0-5
CACHE_SIZE = 1024  # distinct tag memories remembered: many stacks' worth
_PII = iso28560_2.Oid.PRIMARY_ITEM_IDENTIFIER


def decode_tag(memory: bytes, dsfid: int | None = None) -> TagData | UnreadableTag:
    """Decode tag user memory (from block 0) with whichever supported model explains it.

    Never raises for any content: memory no model explains comes back as UnreadableTag with the
    reasons each model gave, blank memory as UnreadableTag(BLANK_TAG).
    """
    return _decode(bytes(memory), dsfid)


@lru_cache(maxsize=CACHE_SIZE)
def _decode(memory: bytes, dsfid: int | None) -> TagData | UnreadableTag:
    if not memory:
        return UnreadableTag("no user memory was read", memory)
    if not memory.strip(b"\x00") or memory.startswith(_MANUFACTURER_BLANK_3M):
        return UnreadableTag(BLANK_TAG, memory)
    oriented = iso28560_3.orientation(memory)
    if oriented is not None:
        try:
            return iso28560_3.decode_oriented(memory, oriented)
        except TagFormatError:
            pass  # a CRC-valid block that makes no tag: let the other models try
    dsfid_says_28560_2 = dsfid == DSFID_ISO28560_2
    if dsfid_says_28560_2:
        try:
            return iso28560_2.decode(memory)
        except TagFormatError:
            pass
    if rfid501.looks_like(memory):
        try:
            return rfid501.decode(memory)
        except TagFormatError:
            pass
    if not dsfid_says_28560_2 and memory[0] & 0x0F == _PII:
        try:
            return iso28560_2.decode(memory)
        except TagFormatError:
            pass
    return UnreadableTag(_reasons(memory, dsfid), memory)


def _reasons(memory: bytes, dsfid: int | None) -> str:
    """Why each model refused, for staff and logs (the slow path: only for unreadable tags)."""
    reasons = []
    for model, decoder in (
        (iso28560_3.MODEL, iso28560_3.decode),
        (rfid501.MODEL, rfid501.decode),
        (iso28560_2.MODEL, iso28560_2.decode),
    ):
        try:
            decoder(memory)
        except TagFormatError as error:
            reasons.append(f"{model}: {error}")
        else:  # decodes, but the sniff turned it down: only a 28560-2 data set not led by the PII
            reasons.append(f"{model}: data set does not start with the primary item identifier")
    hint = "" if dsfid is None else f"DSFID 0x{dsfid:02X}; "
    return hint + "; ".join(reasons)
