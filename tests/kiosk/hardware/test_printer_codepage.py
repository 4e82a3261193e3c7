"""Text to printer bytes: the right ESC t page for accented text, or a visible stand-in."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.hardware.printer.codepage import (
    CODECS,
    CodePage,
    Transcoder,
    clean,
    encode_lines,
    printer_pages,
    stand_in,
)
from kiosk.hardware.printer.profiles import profile

EPSON_OLD = printer_pages(profile("TM-T88IV").code_pages)  # CP437/850/858/852/1252/... no Baltic pages
FULL = printer_pages(profile("default").code_pages)
ONLY_437 = printer_pages(profile("simple").code_pages)


def test_profile_pages_in_preference_order_lowest_slot_wins() -> None:
    assert [(p.name, p.slot) for p in EPSON_OLD] == [
        ("CP858", 19),
        ("CP850", 2),
        ("CP1252", 16),
        ("CP852", 18),
        ("CP865", 5),
        ("CP860", 3),
        ("CP863", 4),
        ("CP437", 0),
        ("CP866", 17),
    ]
    pos5890 = printer_pages(profile("POS-5890").code_pages)
    assert next(p for p in pos5890 if p.name == "CP858").slot == 19  # also listed at 53
    assert printer_pages({"0": "CP437"}, ["CP858"]) == ()


def test_german_text_is_one_page_cp858() -> None:
    encoded = encode_lines(["Müller: Straße", "Öffnungszeiten €5"], EPSON_OLD)
    assert encoded.lines == (b"\x1bt\x13M\x81ller: Stra\xe1e", b"\x99ffnungszeiten \xd55")
    assert encoded.pages_used == ("CP858",) and encoded.substitutions == ()


def test_mixed_scandinavian_and_polish_switch_once() -> None:
    # No page of this printer has both "Æø" and "Łź": CP858 as far as it goes, then CP852.
    encoded = encode_lines(["Müller, Ærø, Łódź"], EPSON_OLD)
    assert encoded.lines == (b"\x1bt\x13M\x81ller, \x92r\x9b, \x1bt\x12\x9d\xa2d\xab",)
    assert encoded.pages_used == ("CP858", "CP852")
    assert encoded.substitutions == ()


def test_one_page_for_everything_when_the_printer_has_one() -> None:
    # CP1257 (Baltic) has ü, Æ, ø, Ł, ó and ź: no switch needed on a printer that has it.
    encoded = encode_lines(["Müller, Ærø, Łódź"], FULL)
    assert encoded.pages_used == ("CP1257",)
    assert encoded.lines[0].count(b"\x1bt") == 1
    assert codecs.decode(encoded.lines[0][3:], "cp1257") == "Müller, Ærø, Łódź"


def test_characters_no_page_has_get_visible_stand_ins() -> None:
    encoded = encode_lines(["Müller, Ærø, Łódź", "Checking out…", "Ǆ ☃"], ONLY_437)
    assert encoded.lines == (b"\x1bt\x00M\x81ller, \x92ro, L\xa2dz", b"Checking out...", b"DZ ?")
    assert dict(encoded.substitutions) == {"ø": "o", "Ł": "L", "ź": "z", "…": "...", "Ǆ": "DZ", "☃": "?"}


def test_control_characters_from_the_ils_print_as_spaces_not_commands() -> None:
    encoded = encode_lines(["Evil\x1b@\x1dV\x00title\x10\x04\x01", "zero\u200bwidth"], FULL)
    assert encoded.lines[0] == b"\x1bt\x13Evil @ V title   "
    assert encoded.lines[1] == b"zerowidth"
    assert all(b >= 0x20 for b in encoded.lines[0][3:])


def test_decomposed_input_is_composed_first() -> None:
    assert clean("Mu\u0308ller") == "Müller"
    assert encode_lines(["Mu\u0308ller"], EPSON_OLD).lines == (b"\x1bt\x13M\x81ller",)


def test_slot_ten_is_not_mistaken_for_a_line_feed() -> None:
    pages = (CodePage("CP858", 10, "cp858"), CodePage("CP852", 11, "cp852"))
    encoded = encode_lines(["Ł", "Æ", "ź"], pages)
    assert encoded.lines == (b"\x1bt\x0b\x9d", b"\x1bt\x0a\x92", b"\x1bt\x0b\xab")


def test_no_pages_is_an_error() -> None:
    with pytest.raises(ValueError, match="no code page"):
        encode_lines(["x"], ())


def test_stand_ins_are_printable_ascii() -> None:
    for char in "ŁøÆœßĐÞı€…“”–":
        replacement = stand_in(char)
        assert replacement and all(" " <= c <= "~" for c in replacement), char


def decode_printed(
    line: bytes, pages: tuple[CodePage, ...], start: CodePage | None
) -> tuple[str, CodePage | None]:
    """What a printer prints for ``line``: ESC t n switches pages, every other byte is a glyph."""
    by_slot = {p.slot: p for p in pages}
    out, current, index = [], start, 0
    while index < len(line):
        if line[index : index + 2] == b"\x1bt":
            current = by_slot[line[index + 2]]
            index += 3
            continue
        assert current is not None, "text before any ESC t"
        out.append(bytes((line[index],)).decode(current.codec))
        index += 1
    return "".join(out), current


@given(
    st.lists(st.text(max_size=40), max_size=5), st.sampled_from(["default", "TM-T88IV", "simple", "ZJ-5870"])
)
def test_what_prints_is_the_printable_text(lines: list[str], profile_name: str) -> None:
    pages = printer_pages(profile(profile_name).code_pages)
    transcoder = Transcoder(pages)
    encoded = transcoder.encode(lines)
    assert len(encoded.lines) == len(lines)
    current = None
    for text, line in zip(lines, encoded.lines, strict=True):
        assert b"\n" not in line.replace(b"\x1bt\n", b"")
        printed, current = decode_printed(line, pages, current)
        assert printed == transcoder.printable(text)
        assert all(c >= " " for c in printed)
    assert set(encoded.pages_used) <= {p.name for p in pages}


def test_codecs_table_matches_python() -> None:
    for name, codec in CODECS.items():
        assert len(bytes(range(0x20, 0x7F)).decode(codec)) == 0x5F, name  # ASCII-compatible
