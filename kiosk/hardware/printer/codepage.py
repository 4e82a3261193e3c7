"""Receipt text to printer bytes under the ESC t code pages the printer has, sans-IO.

A thermal printer prints single bytes through the code page last selected with ``ESC t n``, and which
pages it has (and under which ``n``) depends on the model: that is the printer profile's code page
table. The kiosk prints names and titles from any European library, so:

1. one code page for the whole printout when one covers every character (the first in preference
   order: CP858 is CP850 with the euro sign, the page most printers have for Western Europe);
2. otherwise the fewest switches: at a character the current page lacks, the page that covers the
   longest stretch from there ("Müller, Ærø" in CP858, then "Łódź" in CP852);
3. a character no page of this printer has is replaced by a readable stand-in ("Ł" -> "L",
   "…" -> "...", else "?") and reported, so the substitution is visible in the staff log, never a
   silent wrong glyph.

Why not python-escpos's ``MagicEncode``: it picks the lowest-numbered page per character run (CP437
first, which lacks most accented capitals), replaces what it cannot encode with "?" without telling,
and sends any text containing a CJK character as GB18030 bytes whatever the printer. Control
characters are also taken out here: a title from the ILS holding ESC or GS bytes must print as text,
not run printer commands (cut, open the cash drawer).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ESC_T = b"\x1bt"

#: Python codecs for the ESC/POS code page names python-escpos's capability profiles use. Our own
#: table, not the profile's ``python_encode``: only pages whose Python codec matches the printer's
#: glyphs byte for byte belong here.
CODECS: dict[str, str] = {
    "CP437": "cp437",
    "CP737": "cp737",
    "CP775": "cp775",
    "CP850": "cp850",
    "CP852": "cp852",
    "CP855": "cp855",
    "CP857": "cp857",
    "CP858": "cp858",
    "CP860": "cp860",
    "CP861": "cp861",
    "CP863": "cp863",
    "CP865": "cp865",
    "CP866": "cp866",
    "CP869": "cp869",
    "CP1250": "cp1250",
    "CP1251": "cp1251",
    "CP1252": "cp1252",
    "CP1253": "cp1253",
    "CP1254": "cp1254",
    "CP1257": "cp1257",
    "ISO_8859-2": "iso8859_2",
    "ISO_8859-7": "iso8859_7",
    "ISO_8859-15": "iso8859_15",
}

#: Default preference: Western European first (with the euro sign), then Central European, Baltic,
#: Turkish, Nordic and Portuguese variants, Cyrillic and Greek. CP437 late: it lacks most capitals.
DEFAULT_PREFERENCE: tuple[str, ...] = (
    "CP858",
    "CP850",
    "CP1252",
    "ISO_8859-15",
    "CP852",
    "CP1250",
    "ISO_8859-2",
    "CP1257",
    "CP775",
    "CP857",
    "CP1254",
    "CP865",
    "CP861",
    "CP860",
    "CP863",
    "CP437",
    "CP866",
    "CP1251",
    "CP855",
    "CP737",
    "CP869",
    "CP1253",
    "ISO_8859-7",
)

# Stand-ins for characters no page of the printer has: letters without a decomposition, and
# typography. Everything else falls back to its NFKD base letters ("ź" -> "z"), then "?".
_STAND_INS: dict[str, str] = {
    "Ł": "L",
    "ł": "l",
    "Ø": "O",
    "ø": "o",
    "Æ": "AE",
    "æ": "ae",
    "Œ": "OE",
    "œ": "oe",
    "ß": "ss",
    "Đ": "D",
    "đ": "d",
    "Ð": "D",
    "ð": "d",
    "Þ": "Th",
    "þ": "th",
    "ı": "i",
    "Ħ": "H",
    "ħ": "h",
    "Ŋ": "N",
    "ŋ": "n",
    "ĸ": "k",
    "ſ": "s",
    "‘": "'",
    "’": "'",
    "‚": ",",
    "‛": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "«": '"',
    "»": '"',
    "‹": "'",
    "›": "'",
    "–": "-",
    "—": "-",
    "‐": "-",
    "‑": "-",
    "−": "-",
    "…": "...",
    "•": "*",
    "·": ".",
    "€": "EUR",
    "£": "GBP",
    "×": "x",
    "\u00a0": " ",
    "\u202f": " ",
}


@dataclass(frozen=True, slots=True)
class CodePage:
    """One page the printer has: its name, the ``n`` of ``ESC t n`` on this printer, a Python codec."""

    name: str
    slot: int
    codec: str


@dataclass(frozen=True, slots=True)
class Encoded:
    """Each line's bytes (code page switches included, no line feed), and what was substituted."""

    lines: tuple[bytes, ...]
    substitutions: tuple[tuple[str, str], ...] = ()  # (character, printed instead) in this printout
    pages_used: tuple[str, ...] = ()


def printer_pages(
    profile_pages: Mapping[str, str], preference: Sequence[str] = DEFAULT_PREFERENCE
) -> tuple[CodePage, ...]:
    """The pages of a profile's ``codePages`` table (slot -> name) we can encode, in preference order.

    A profile may list a page under two slots (POS-5890: CP858 at 19 and at 53): the lowest is used,
    it is the one every firmware of the family has.
    """
    slots: dict[str, int] = {}
    for slot, name in profile_pages.items():
        number = int(slot)
        if name in CODECS and 0 <= number <= 255 and (name not in slots or number < slots[name]):
            slots[name] = number
    return tuple(CodePage(name, slots[name], CODECS[name]) for name in preference if name in slots)


def clean(text: str) -> str:
    """NFC (a decomposed "ü" becomes one character), control characters to spaces, format
    characters (zero-width, bidi marks) dropped."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if category == "Cc":
            out.append(" ")
        elif category not in ("Cf", "Cs", "Co", "Cn"):
            out.append(char)
    return "".join(out)


def stand_in(char: str) -> str:
    """What to print for a character no page has: printable ASCII, never empty."""
    if char in _STAND_INS:
        return _STAND_INS[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and all(" " <= c <= "~" for c in base):
        return base
    return "?"


class _Coverage:
    """Which characters each page encodes, computed once per character."""

    def __init__(self, pages: Sequence[CodePage]) -> None:
        self.pages = tuple(pages)
        self._bytes: dict[tuple[str, str], int | None] = {}

    def byte(self, page: CodePage, char: str) -> int | None:
        if char < "\x80":
            return ord(char)
        key = (page.codec, char)
        if key not in self._bytes:
            try:
                encoded = char.encode(page.codec)
            except UnicodeEncodeError:
                encoded = b""
            self._bytes[key] = encoded[0] if len(encoded) == 1 else None
        return self._bytes[key]

    def covers(self, page: CodePage, char: str) -> bool:
        return self.byte(page, char) is not None

    def run(self, page: CodePage, text: str, start: int) -> int:
        end = start
        while end < len(text) and self.covers(page, text[end]):
            end += 1
        return end - start


class Transcoder:
    """Text to bytes for one printer's pages; one per printout, so :attr:`substitutions` lists what
    that printout had to substitute (for the staff log)."""

    def __init__(self, pages: Sequence[CodePage]) -> None:
        if not pages:
            raise ValueError("no code page to print with")
        self._coverage = _Coverage(pages)
        self.substitutions: dict[str, str] = {}

    def printable(self, text: str) -> str:
        """``text`` as it will print: cleaned, and characters no page has replaced by stand-ins.

        The templates wrap this, not the raw text, so a stand-in longer than its character
        ("…" -> "...") cannot push a line past the paper's width.
        """
        out = []
        for char in clean(text):
            if char >= "\x80" and not any(self._coverage.covers(p, char) for p in self._coverage.pages):
                replacement = stand_in(char)
                self.substitutions.setdefault(char, replacement)
                out.append(replacement)
            else:
                out.append(char)
        return "".join(out)

    def encode(self, lines: Sequence[str]) -> Encoded:
        """The bytes of a printout's text lines, starting with an ESC t (the printer's page after
        ESC @ is its own default, which need not be any page we chose)."""
        coverage = self._coverage
        text = "\n".join(self.printable(line) for line in lines)
        needed = {char for char in text if char >= "\x80"}
        whole = next((p for p in coverage.pages if all(coverage.covers(p, c) for c in needed)), None)
        out = bytearray()
        current: CodePage | None = None
        used: list[str] = []
        for index, char in enumerate(text):
            if current is None or not coverage.covers(current, char):
                # max() keeps the first of equals: ties go to the preferred page.
                chosen = whole or max(coverage.pages, key=lambda p: coverage.run(p, text, index))
                if chosen is not current:
                    current = chosen
                    out += ESC_T + bytes((chosen.slot,))
                    if chosen.name not in used:
                        used.append(chosen.name)
            byte = coverage.byte(current, char)
            assert byte is not None
            out.append(byte)
        lines_out = tuple(bytes(line) for line in _split_lines(out, len(lines)))
        return Encoded(lines_out, tuple(self.substitutions.items()), tuple(used))


def encode_lines(lines: Sequence[str], pages: Sequence[CodePage]) -> Encoded:
    """One printout's lines as bytes (see :class:`Transcoder`)."""
    return Transcoder(pages).encode(lines)


def _split_lines(data: bytearray, count: int) -> list[bytearray]:
    """Split at the line feeds joined in: every page maps 0x0A to itself, and ESC t's argument is a
    slot number that could be 10, so split only where a 0x0A is not an ESC t argument."""
    lines: list[bytearray] = [bytearray()]
    index = 0
    while index < len(data):
        if data[index : index + 2] == ESC_T and index + 2 < len(data):
            lines[-1] += data[index : index + 3]
            index += 3
            continue
        if data[index] == 0x0A:
            lines.append(bytearray())
        else:
            lines[-1].append(data[index])
        index += 1
    if count == 0:
        return []
    assert len(lines) == count
    return lines
