"""ISO/IEC 15962 compaction schemes as ISO 28560-2 uses them, plus the 28560-2 Annex C ISIL code.

Pure functions from text to bytes and back. Decoders raise ValueError on input the scheme cannot
produce; iso28560_2 turns that into TagFormatError with the tag's raw bytes.

Bit packing goes through one Python int, base64 (6-bit) or a pair table (5-bit) rather than per-bit loops.

Padding rules (matching DigitalPlatform/dp2 ``Compact.cs`` and its published vectors):
  5-bit pads with 0-bits; 6-bit with the leading bits of 100000 (so text may not end in a space);
  7-bit with 1-bits (so text may not contain DEL); ISIL with 1-bits; numeric odd length with nibble F.
"""

from __future__ import annotations

from binascii import b2a_base64
from collections.abc import Callable
from enum import IntEnum
from functools import lru_cache

__all__ = [
    "EXPANDERS",
    "ISIL_CHARACTERS",
    "Compaction",
    "best_text_compaction",
    "compact_text",
    "decode_isil",
    "encode_isil",
    "expand_text",
    "is_isil",
]


class Compaction(IntEnum):
    """Compaction code, bits 6-4 of the precursor."""

    APPLICATION_DEFINED = 0
    INTEGER = 1
    NUMERIC = 2
    FIVE_BIT = 3
    SIX_BIT = 4
    SEVEN_BIT = 5
    OCTET = 6
    UTF8 = 7


# ---------------------------------------------------------------- bit packing


def _pair_table(width: int, to_ascii: bytes) -> tuple[bytes, ...]:
    """Every 2*width-bit value -> its two characters: one lookup per pair of codes."""
    mask = (1 << width) - 1
    return tuple(bytes((to_ascii[value >> width], to_ascii[value & mask])) for value in range(1 << (2 * width)))


def _unpack_text(data: bytes, width: int, pairs: tuple[bytes, ...]) -> bytes:
    """Characters of all whole ``width``-bit groups, most significant first (pair-table lookups)."""
    bits = len(data) * 8
    chunk = 2 * width
    extra = -bits % chunk
    number = int.from_bytes(data, "big") << extra
    mask = (1 << chunk) - 1
    text = b"".join([pairs[(number >> shift) & mask] for shift in range(bits + extra - chunk, -1, -chunk)])
    return text[: bits // width]


def _unpack(data: bytes, width: int) -> list[int]:
    """All whole ``width``-bit groups as ints, most significant first."""
    total = len(data) * 8
    number = int.from_bytes(data, "big")
    mask = (1 << width) - 1
    return [(number >> shift) & mask for shift in range(total - width, -1, -width)]


def _pack(codes: bytes, width: int, pad_pattern: int) -> bytes:
    """Pack codes (each < 2**width) and fill the last byte with the top bits of ``pad_pattern`` (8 bits)."""
    number = 0
    for code in codes:
        number = (number << width) | code
    bits = width * len(codes)
    pad = -bits % 8
    number = (number << pad) | (pad_pattern >> (8 - pad))
    return number.to_bytes((bits + pad) // 8, "big")


# 6-bit code c stands for ASCII c | 0x40 when c < 0x20, else c itself; 5-bit code c for 0x40 | c.
_SIX_BIT_TO_ASCII = bytes((code | 0x40) if code < 0x20 else code for code in range(64))
_FIVE_BIT_TO_ASCII = bytes(0x40 | code for code in range(32))
_ASCII_TO_SIX_BIT = bytes(code & 0x3F for code in range(256))
_ASCII_TO_FIVE_BIT = bytes(code & 0x1F for code in range(256))
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BASE64_TO_SIX_BIT = bytes.maketrans(_BASE64_ALPHABET, _SIX_BIT_TO_ASCII)
_FIVE_BIT_PAIRS = _pair_table(5, _FIVE_BIT_TO_ASCII)


# ---------------------------------------------------------------- per scheme


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _integer_ok(text: str) -> bool:
    return _is_digits(text) and (text[0] != "0" or text == "0")


def _compact_integer(text: str) -> bytes:
    number = int(text)
    return number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")


def _expand_integer(data: bytes) -> str:
    return str(int.from_bytes(data, "big"))


def _compact_numeric(text: str) -> bytes:
    return bytes.fromhex(text + "f" if len(text) % 2 else text)


def _expand_numeric(data: bytes) -> str:
    digits = data.hex()
    if digits.endswith("f"):
        digits = digits[:-1]
    if not digits.isdigit():
        raise ValueError(f"numeric compaction with a non-decimal nibble: {data.hex()}")
    return digits


def _five_bit_ok(text: str) -> bool:
    return min(text) >= "A" and max(text) <= "_"


def _expand_five_bit(data: bytes) -> str:
    text = _unpack_text(data, 5, _FIVE_BIT_PAIRS)
    # A zero group ("@") lying wholly in the last byte's padding is pad, not a character.
    if text.endswith(b"@") and 5 * (len(text) - 1) >= len(data) * 8 - 7:
        text = text[:-1]
    if b"@" in text:
        raise ValueError("5-bit compaction with code 0 inside the data")
    return text.decode("ascii")


def _six_bit_ok(text: str) -> bool:
    return min(text) >= " " and max(text) <= "_" and text[-1] != " "


def _expand_six_bit(data: bytes) -> str:
    # Base64 is exactly the bit stream cut into 6-bit groups, so binascii does the unpacking in C;
    # one translate maps the base64 alphabet to the 6-bit code's characters.
    groups = len(data) * 8 // 6
    text = b2a_base64(data, newline=False)[:groups].translate(_BASE64_TO_SIX_BIT)
    # Six pad bits form a whole "space" code: it is padding (text may not end in a space).
    if text.endswith(b" ") and 6 * groups == 8 * len(data):
        text = text[:-1]
    return text.decode("ascii")


def _seven_bit_ok(text: str) -> bool:
    return max(text) <= "\x7e"


def _expand_seven_bit(data: bytes) -> str:
    codes = _unpack(data, 7)
    if codes and codes[-1] == 0x7F and 7 * len(codes) == 8 * len(data):
        codes.pop()
    return bytes(codes).decode("ascii")


def _octet_ok(text: str) -> bool:
    return max(text) <= "\xff"


# ---------------------------------------------------------------- ISIL (28560-2 Annex C)

ISIL_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-:/")

_UPPER, _LOWER, _DIGIT = "u", "l", "d"
_CHARSETS = {"-": "uld", ":": "ud", "/": "l"}
_SET_WIDTH = {_UPPER: 5, _LOWER: 5, _DIGIT: 4}
# (from set, to set) -> code; latch changes the current set, shift applies to one character.
_LATCH = {(_UPPER, _LOWER): 28, (_UPPER, _DIGIT): 30, (_LOWER, _UPPER): 28, (_LOWER, _DIGIT): 30,
          (_DIGIT, _UPPER): 12, (_DIGIT, _LOWER): 14}
_SHIFT = {(_UPPER, _LOWER): 29, (_UPPER, _DIGIT): 31, (_LOWER, _UPPER): 29, (_LOWER, _DIGIT): 31,
          (_DIGIT, _UPPER): 13, (_DIGIT, _LOWER): 15}
# Decoding: code -> character, or (is_shift, target set) for control codes.
_ISIL_DECODE: dict[str, dict[int, str | tuple[bool, str]]] = {
    _UPPER: {0: "-", 27: ":", 28: (False, _LOWER), 29: (True, _LOWER), 30: (False, _DIGIT), 31: (True, _DIGIT),
             **{code: chr(0x40 + code) for code in range(1, 27)}},
    _LOWER: {0: "-", 27: "/", 28: (False, _UPPER), 29: (True, _UPPER), 30: (False, _DIGIT), 31: (True, _DIGIT),
             **{code: chr(0x60 + code) for code in range(1, 27)}},
    _DIGIT: {10: "-", 11: ":", 12: (False, _UPPER), 13: (True, _UPPER), 14: (False, _LOWER), 15: (True, _LOWER),
             **{code: chr(0x30 + code) for code in range(10)}},
}


def _charsets(char: str) -> str:
    special = _CHARSETS.get(char)
    if special is not None:
        return special
    if "A" <= char <= "Z":
        return _UPPER
    if "a" <= char <= "z":
        return _LOWER
    return _DIGIT


def _isil_code(char: str, charset: str) -> int:
    if char == "-":
        return 10 if charset == _DIGIT else 0
    if char in ":/":
        return 11 if charset == _DIGIT else 27
    if charset == _DIGIT:
        return ord(char) - 0x30
    return ord(char) & 0x1F


def is_isil(text: str) -> bool:
    return bool(text) and ISIL_CHARACTERS.issuperset(text)


def encode_isil(text: str) -> bytes:
    """Annex C code: shift for a lone character from another set, latch when the next one follows it
    (the choice dp2 makes, which its published vectors pin down)."""
    if not is_isil(text):
        raise ValueError(f"{text!r} is not an ISIL (A-Z a-z 0-9 - : /)")
    number = 0
    bits = 0
    current = _UPPER

    def emit(code: int, width: int) -> None:
        nonlocal number, bits
        number = (number << width) | code
        bits += width

    for index, char in enumerate(text):
        sets = _charsets(char)
        if current in sets:
            emit(_isil_code(char, current), _SET_WIDTH[current])
            continue
        target = sets[0]
        following = text[index + 1] if index + 1 < len(text) else None
        if following is None or current in _charsets(following):
            emit(_SHIFT[current, target], _SET_WIDTH[current])
        else:
            emit(_LATCH[current, target], _SET_WIDTH[current])
            current = target
        emit(_isil_code(char, target), _SET_WIDTH[target])
    pad = -bits % 8
    number = (number << pad) | ((1 << pad) - 1)
    return number.to_bytes((bits + pad) // 8, "big")


def decode_isil(data: bytes) -> str:
    """Annex C decoder; ValueError on codes the Annex C sets do not define."""
    return _decode_isil(bytes(data))


@lru_cache(maxsize=1024)
def _decode_isil(data: bytes) -> str:
    """Cached: a collection carries a handful of ISILs (mostly its own owner ISIL), and this
    code-by-code state machine is the slowest step of a 28560-2 decode."""
    number = int.from_bytes(data, "big")
    remaining = len(data) * 8
    current = _UPPER
    shifted: str | None = None
    out: list[str] = []
    while True:
        charset = shifted or current
        width = _SET_WIDTH[charset]
        if remaining < width:
            break
        remaining -= width
        meaning = _ISIL_DECODE[charset].get((number >> remaining) & ((1 << width) - 1))
        if meaning is None:
            raise ValueError("ISIL compaction with an undefined code")
        if isinstance(meaning, str):
            out.append(meaning)
            shifted = None
        elif shifted is not None:
            raise ValueError("ISIL compaction with a control code right after a shift")
        elif meaning[0]:
            shifted = meaning[1]
        else:
            current = meaning[1]
    # Trailing control codes are the 1-bit padding; an ISIL of nothing is not data.
    if not out:
        raise ValueError("ISIL compaction without characters")
    return "".join(out)


# ---------------------------------------------------------------- dispatch

_MAX_INTEGER_DIGITS = 614
_TEXT_SCHEMES = (
    Compaction.INTEGER,
    Compaction.NUMERIC,
    Compaction.FIVE_BIT,
    Compaction.SIX_BIT,
    Compaction.SEVEN_BIT,
    Compaction.OCTET,
    Compaction.UTF8,
)


def _size_if_possible(scheme: Compaction, text: str) -> int | None:
    length = len(text)
    if scheme is Compaction.INTEGER:
        # 255 bytes hold at most 614 digits; longer digit strings are not worth int()'s digit limit.
        if length > _MAX_INTEGER_DIGITS or not _integer_ok(text):
            return None
        return max(1, (int(text).bit_length() + 7) // 8)
    if scheme is Compaction.NUMERIC:
        return (length + 1) // 2 if _is_digits(text) else None
    if scheme is Compaction.FIVE_BIT:
        return (5 * length + 7) // 8 if _five_bit_ok(text) else None
    if scheme is Compaction.SIX_BIT:
        return (6 * length + 7) // 8 if _six_bit_ok(text) else None
    if scheme is Compaction.SEVEN_BIT:
        return (7 * length + 7) // 8 if _seven_bit_ok(text) else None
    if scheme is Compaction.OCTET:
        return length if _octet_ok(text) else None
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates
        return None


def best_text_compaction(text: str, allowed: tuple[Compaction, ...] = _TEXT_SCHEMES) -> Compaction:
    """The scheme giving the fewest bytes; on a tie the lower code (the denser family) wins."""
    if not text:
        raise ValueError("empty text has no compaction")
    best: Compaction | None = None
    best_size = 0
    for scheme in allowed:
        size = _size_if_possible(scheme, text)
        if size is not None and (best is None or size < best_size):
            best, best_size = scheme, size
    if best is None:
        raise ValueError(f"{text!r} fits none of {[scheme.name for scheme in allowed]}")
    return best


def compact_text(text: str, scheme: Compaction) -> bytes:
    """Text in one of the text schemes (APPLICATION_DEFINED means the ISIL code); ValueError if it
    cannot be expressed there."""
    if not text:
        raise ValueError("empty text has no compaction")
    if scheme is Compaction.APPLICATION_DEFINED:
        return encode_isil(text)
    if _size_if_possible(scheme, text) is None:
        raise ValueError(f"{text!r} cannot be written with {scheme.name} compaction")
    if scheme is Compaction.INTEGER:
        return _compact_integer(text)
    if scheme is Compaction.NUMERIC:
        return _compact_numeric(text)
    if scheme is Compaction.FIVE_BIT:
        return _pack(text.encode("ascii").translate(_ASCII_TO_FIVE_BIT), 5, 0x00)
    if scheme is Compaction.SIX_BIT:
        return _pack(text.encode("ascii").translate(_ASCII_TO_SIX_BIT), 6, 0x80)
    if scheme is Compaction.SEVEN_BIT:
        return _pack(text.encode("ascii"), 7, 0xFF)
    if scheme is Compaction.OCTET:
        return text.encode("latin-1")
    return text.encode("utf-8")


def _expand_octet(data: bytes) -> str:
    return data.decode("latin-1")


def _expand_utf8(data: bytes) -> str:
    return data.decode("utf-8")


# Indexed by compaction code (APPLICATION_DEFINED: the ISIL code); each takes non-empty data.
EXPANDERS: tuple[Callable[[bytes], str], ...] = (
    decode_isil,
    _expand_integer,
    _expand_numeric,
    _expand_five_bit,
    _expand_six_bit,
    _expand_seven_bit,
    _expand_octet,
    _expand_utf8,
)


def expand_text(data: bytes, scheme: Compaction) -> str:
    """Inverse of compact_text; ValueError on bytes the scheme cannot have produced."""
    if not data:
        raise ValueError("empty compacted data")
    return EXPANDERS[scheme](data)
