"""PC/SC part 3 pseudo-APDUs for contactless storage cards, sans-IO.

Builds the class-FF APDUs a PC/SC contactless reader understands and parses what comes back:
get UID, read/update binary, the "transparent exchange" envelope (TLV 95 out, TLV 97 back) that
carries raw ISO 15693 frames, ACS's "direct transmit" escape, and the part-3 ATR that says which
kind of card lies on the pad. No pyscard here, so the codecs can be fuzzed without a reader.
"""

from __future__ import annotations

from enum import Enum

from kiosk.hardware.rfid.readers.base import TagOperationFailed

SW_OK = 0x9000
#: ACS "operation failed": the tag did not answer a direct-transmit frame.
SW_ACS_FAILED = 0x6300
#: Transparent-exchange status "no response from the card within the time-out" (PC/SC 2.02 part 3).
SW_NO_CARD_RESPONSE = 0x6401

#: The registered application provider id of PC/SC part 3 storage-card ATRs.
PCSC_RID = bytes.fromhex("A000000306")


class MalformedResponse(TagOperationFailed):
    """The reader's answer does not have the shape its APDU promises."""


class StatusWordError(TagOperationFailed):
    """The reader answered with a status word other than 90 00; ``code`` is the SW as an int."""

    def __init__(self, what: str, sw: int, *, device: str = "") -> None:
        super().__init__(f"{what} failed with SW {sw:04X}", device=device, code=sw)


class CardKind(Enum):
    ISO15693 = "iso15693"
    ISO14443A = "iso14443a"
    ISO14443B = "iso14443b"
    ISO14443_4 = "iso14443-4"  # a processor card (DESFire, bank card): ATR carries its historical bytes
    OTHER = "other"


# PC/SC part 3 "SS" byte: the standard the storage card speaks.
_STANDARD_KIND = {
    **dict.fromkeys((0x01, 0x02, 0x03), CardKind.ISO14443A),
    **dict.fromkeys((0x05, 0x06, 0x07), CardKind.ISO14443B),
    **dict.fromkeys((0x09, 0x0A, 0x0B, 0x0C), CardKind.ISO15693),
}


def classify_atr(atr: bytes) -> CardKind:
    """Tell an ISO 15693 label from a patron card by the ATR the reader builds for it.

    Storage cards get ``3B 8F 80 01 80 4F 0C <RID A000000306> SS NN NN 00 00 00 00 TCK``;
    ISO 14443-4 cards get ``3B 8n 80 01 <historical bytes> TCK`` without the RID.
    """
    if len(atr) < 4 or atr[0] != 0x3B:
        return CardKind.OTHER
    at = atr.find(b"\x4f\x0c" + PCSC_RID)
    if at >= 0 and len(atr) > at + 7:
        return _STANDARD_KIND.get(atr[at + 7], CardKind.OTHER)
    if atr[1] & 0xF0 == 0x80 and atr[2:4] == b"\x80\x01":
        return CardKind.ISO14443_4
    return CardKind.OTHER


def storage_card_name(atr: bytes) -> int | None:
    """The part-3 card name NN NN (0x0014 ICODE, 0x0012 Tag-it, 0x000E Infineon...), if present."""
    at = atr.find(b"\x4f\x0c" + PCSC_RID)
    if at < 0 or len(atr) < at + 10:
        return None
    return int.from_bytes(atr[at + 8 : at + 10], "big")


def split_sw(rapdu: bytes) -> tuple[bytes, int]:
    if len(rapdu) < 2:
        raise MalformedResponse(f"response APDU of {len(rapdu)} bytes has no status word")
    return rapdu[:-2], int.from_bytes(rapdu[-2:], "big")


# --- storage-card APDUs -----------------------------------------------------------------------


def get_uid_apdu() -> bytes:
    return bytes.fromhex("FFCA000000")


def _block_p1p2(block: int) -> bytes:
    if not 0 <= block <= 0xFFFF:
        raise MalformedResponse(f"block number {block} out of range")
    return block.to_bytes(2, "big")


def read_binary_apdu(block: int, length: int) -> bytes:
    if not 1 <= length <= 0xFF:
        raise MalformedResponse(f"read length {length} out of range")
    return b"\xff\xb0" + _block_p1p2(block) + bytes((length,))


def update_binary_apdu(block: int, data: bytes) -> bytes:
    if not 1 <= len(data) <= 0xFF:
        raise MalformedResponse(f"write length {len(data)} out of range")
    return b"\xff\xd6" + _block_p1p2(block) + bytes((len(data),)) + data


def normalise_uid(raw: bytes) -> bytes | None:
    """An ISO 15693 UID in canonical order (E0 first), whichever order the reader used.

    ``None`` when both ends are E0 and the order cannot be told from the bytes alone.
    """
    if len(raw) != 8:
        raise MalformedResponse(f"ISO 15693 UID must be 8 bytes, reader gave {len(raw)}")
    first, last = raw[0] == 0xE0, raw[-1] == 0xE0
    if first and last:
        return None
    if first:
        return bytes(raw)
    if last:
        return bytes(raw[::-1])
    raise MalformedResponse(f"UID {raw.hex().upper()} has no E0 at either end: not an ISO 15693 UID")


# --- BER-TLV, as used by the transparent-exchange envelope -----------------------------------


def encode_tlv(tag: int, value: bytes) -> bytes:
    tag_bytes = tag.to_bytes(2, "big") if tag > 0xFF else bytes((tag,))
    n = len(value)
    if n < 0x80:
        length = bytes((n,))
    elif n <= 0xFF:
        length = bytes((0x81, n))
    elif n <= 0xFFFF:
        length = b"\x82" + n.to_bytes(2, "big")
    else:
        raise MalformedResponse(f"TLV value of {n} bytes is too long")
    return tag_bytes + length + value


def parse_tlvs(data: bytes) -> list[tuple[int, bytes]]:
    """Flat BER-TLV list; tags of two bytes when the low five bits of the first are all set."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag & 0x1F == 0x1F:
            if pos >= len(data):
                raise MalformedResponse("TLV tag cut short")
            tag = (tag << 8) | data[pos]
            pos += 1
        if pos >= len(data):
            raise MalformedResponse(f"TLV {tag:02X} without a length")
        length = data[pos]
        pos += 1
        if length & 0x80:
            width = length & 0x7F
            if width not in (1, 2) or pos + width > len(data):
                raise MalformedResponse(f"TLV {tag:02X} has a bad long-form length")
            length = int.from_bytes(data[pos : pos + width], "big")
            pos += width
        if pos + length > len(data):
            raise MalformedResponse(f"TLV {tag:02X} claims {length} bytes, {len(data) - pos} left")
        out.append((tag, data[pos : pos + length]))
        pos += length
    return out


# --- PC/SC part 3 transparent session ---------------------------------------------------------

TAG_GENERIC_ERROR = 0xC0
TAG_START_SESSION = 0x81
TAG_END_SESSION = 0x82
TAG_SWITCH_PROTOCOL = 0x8F
TAG_TIMER = 0x5F46
TAG_TRANSCEIVE = 0x95
TAG_CARD_RESPONSE = 0x97

FUNCTION_MANAGE_SESSION = 0x00
FUNCTION_EXCHANGE = 0x01
FUNCTION_SWITCH_PROTOCOL = 0x02


def _envelope(function: int, data: bytes) -> bytes:
    if len(data) > 0xFF:
        raise MalformedResponse(f"transparent-exchange data of {len(data)} bytes does not fit short APDU")
    return bytes((0xFF, 0xC2, 0x00, function, len(data))) + data + b"\x00"


def start_session_apdu() -> bytes:
    return _envelope(FUNCTION_MANAGE_SESSION, encode_tlv(TAG_START_SESSION, b""))


def end_session_apdu() -> bytes:
    return _envelope(FUNCTION_MANAGE_SESSION, encode_tlv(TAG_END_SESSION, b""))


def switch_to_iso15693_apdu() -> bytes:
    """Switch protocol: ISO 15693 (02), layer 3 (03)."""
    return _envelope(FUNCTION_SWITCH_PROTOCOL, encode_tlv(TAG_SWITCH_PROTOCOL, b"\x02\x03"))


def transparent_exchange_apdu(frame: bytes, timeout_us: int | None = None) -> bytes:
    """Carry one raw ISO 15693 frame; ``timeout_us`` (timer object 5F46) for write-alike commands."""
    data = b""
    if timeout_us is not None:
        data += encode_tlv(TAG_TIMER, timeout_us.to_bytes(4, "little"))
    return _envelope(FUNCTION_EXCHANGE, data + encode_tlv(TAG_TRANSCEIVE, frame))


def parse_session_response(rapdu: bytes, what: str) -> None:
    """Manage-session and switch-protocol answers: only the generic status matters."""
    _envelope_status(rapdu, what)


def parse_transparent_response(rapdu: bytes) -> bytes | None:
    """The tag's raw answer from TLV 97, or ``None`` when the tag stayed silent (C0 status 64 01)."""
    objects = _envelope_status(rapdu, "transparent exchange")
    if objects is None:
        return None
    for tag, value in objects:
        if tag == TAG_CARD_RESPONSE:
            return value
    raise MalformedResponse("transparent exchange answer carries no card response (TLV 97)")


def _envelope_status(rapdu: bytes, what: str) -> list[tuple[int, bytes]] | None:
    data, sw = split_sw(rapdu)
    if sw != SW_OK:
        raise StatusWordError(what, sw)
    objects = parse_tlvs(data)
    status = [value for tag, value in objects if tag == TAG_GENERIC_ERROR]
    if not status:
        raise MalformedResponse(f"{what} answer has no generic status object (C0)")
    if len(status[0]) != 3:
        raise MalformedResponse(f"{what} status object has {len(status[0])} bytes, expected 3")
    inner = int.from_bytes(status[0][1:], "big")
    if inner == SW_NO_CARD_RESPONSE:
        return None
    if status[0][0] != 0x00 or inner != SW_OK:
        raise StatusWordError(f"{what} (error status {status[0][0]:02X})", inner)
    return objects


# --- ACS direct transmit ---------------------------------------------------------------------


def direct_transmit_apdu(frame: bytes) -> bytes:
    if not 1 <= len(frame) <= 0xFF:
        raise MalformedResponse(f"direct-transmit frame of {len(frame)} bytes does not fit")
    return bytes((0xFF, 0x00, 0x00, 0x00, len(frame))) + frame


def parse_direct_transmit(rapdu: bytes) -> bytes | None:
    """The tag's raw answer, or ``None`` when it stayed silent (ACS SW 63 00)."""
    data, sw = split_sw(rapdu)
    if sw == SW_ACS_FAILED:
        return None
    if sw != SW_OK:
        raise StatusWordError("direct transmit", sw)
    if not data:
        raise MalformedResponse("direct transmit answered 90 00 without the tag's response")
    return data
