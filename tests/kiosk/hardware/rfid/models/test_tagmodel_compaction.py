"""ISO/IEC 15962 compaction schemes and the ISO 28560-2 ISIL code.

Published vectors: DigitalPlatform/dp2 ``UnitTestRFID/TestRfid2.cs`` (each cited at its table). They
pin byte-exact output, padding included; properties cover every scheme beyond them.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hardware.rfid.models.compaction import (
    ISIL_CHARACTERS,
    Compaction,
    best_text_compaction,
    compact_text,
    decode_isil,
    encode_isil,
    expand_text,
)

# DigitalPlatform/dp2 UnitTestRFID/TestRfid2.cs, TestInteger(...) cases Test_integer_5..9
INTEGER_VECTORS = [
    ("256", "0100"),
    ("65536", "010000"),
    ("4294967296", "0100000000"),
    ("9223372036854775807", "7fffffffffffffff"),
    ("9999999999999999999", "8ac7230489e7ffff"),
]
# DigitalPlatform/dp2 UnitTestRFID/TestRfid2.cs, TestNumeric(...) cases Test_numeric_4..12
NUMERIC_VECTORS = [
    ("99", "99"),
    ("091", "091f"),
    ("256", "256f"),
    ("1203", "1203"),
    ("65536", "65536f"),
    ("1234567", "1234567f"),
    ("10000000000000000000", "10000000000000000000"),
    ("100000000000000000001", "100000000000000000001f"),
    ("8999999999999999999999", "8999999999999999999999"),
]
# DigitalPlatform/dp2 UnitTestRFID/TestRfid2.cs, TestBit5(...) cases Test_bit5_3..11
FIVE_BIT_VECTORS = [
    ("AHQZ", "0a23a0"),
    ("ZYXWV", "d6717b00"),
    ("UTSRQPO", "ad2728c1e0"),
    ("ABCDEFGHIGKLMNOPQRSTUVWXYZ", "08864298e849d6c6b9f08ca74adaf8ce80"),
    ("[\\]^_", "df3bef80"),
    ("ABCDEFGHIGKLMNOPQRSTUVWXYZ[\\]^_", "08864298e849d6c6b9f08ca74adaf8ceb7cefbe0"),
    ("C_D", "1fc8"),
    ("E_F^", "2fcde0"),
    ("_G]H^", "f9fa8f00"),
]
# DigitalPlatform/dp2 UnitTestRFID/TestRfid2.cs, TestBit6(...) cases Test_bit6_4..12
SIX_BIT_VECTORS = [
    ("ABC12345", "0420f1cb3d35"),
    ("K825.6=76/Z780", "2f8cb5bb6f77daf6b7e308"),
    ("TP393/H637", "510cf9cef236cf78"),
    ("I563.85/H022", "275db3bb8d6f230cb2"),
    ("I17(198.4)/Y498", "271de8c79e2ed29bd9d39e20"),
    ("I712.88/B303", "277c72bb8e2f0b3c33"),
    ("J205.1/F933", "2b2c35bb1bc6e73ce0"),
    ("I222.742/Z134", "272cb2bb7d32bdac73d2"),
    ("B822.9-49/K170", "0b8cb2bb9b74e6f2f1df08"),
]
# DigitalPlatform/dp2 UnitTestRFID/TestRfid2.cs, TestBit7(...) cases Test_bit7_3..5
SEVEN_BIT_VECTORS = [
    ("abcdefgh", "c38b1e4cb9b3e8"),
    ("abcdefgh123", "c38b1e4cb9b3e862c99f"),
    ("hijk9876{/?}~", "d1a756b72e1bb6f6bdffdfdf"),
]
ISIL_VECTORS = [
    # DigitalPlatform/dp2 UnitTestRFID/TestRfid2.cs, Test_isil_3 and Test_isil_4
    ("CN-110108-1-NLC", "1b81e110108a1ac7307f"),
    ("CN-120104-C-YBL", "1b81e120104ad1d6644c"),
    # Owner ISIL of the ISO 28560-2 Annex D example, DigitalPlatform/dp2 UnitTestRFID/TestChip.cs
    ("US-InU-Mu", "acc09ebaa06f6b"),
]

VECTORS = (
    [(Compaction.INTEGER, *vector) for vector in INTEGER_VECTORS]
    + [(Compaction.NUMERIC, *vector) for vector in NUMERIC_VECTORS]
    + [(Compaction.FIVE_BIT, *vector) for vector in FIVE_BIT_VECTORS]
    + [(Compaction.SIX_BIT, *vector) for vector in SIX_BIT_VECTORS]
    + [(Compaction.SEVEN_BIT, *vector) for vector in SEVEN_BIT_VECTORS]
    + [(Compaction.APPLICATION_DEFINED, *vector) for vector in ISIL_VECTORS]
)


@pytest.mark.parametrize(("scheme", "text", "hex_bytes"), VECTORS)
def test_published_vector_compacts_byte_exactly(scheme, text, hex_bytes):
    assert compact_text(text, scheme).hex() == hex_bytes


@pytest.mark.parametrize(("scheme", "text", "hex_bytes"), VECTORS)
def test_published_vector_expands_back(scheme, text, hex_bytes):
    assert expand_text(bytes.fromhex(hex_bytes), scheme) == text


@pytest.mark.parametrize(
    ("scheme", "text"),
    [
        (Compaction.INTEGER, "01"),  # a leading zero would be lost
        (Compaction.INTEGER, "12a"),
        (Compaction.INTEGER, "١٢"),  # Arabic-Indic digits are str.isdigit() but not ASCII
        (Compaction.NUMERIC, "1-2"),
        (Compaction.FIVE_BIT, "abc"),
        (Compaction.FIVE_BIT, "@AB"),
        (Compaction.SIX_BIT, "AB "),  # a trailing space would read back as padding
        (Compaction.SIX_BIT, "ab"),
        (Compaction.SEVEN_BIT, "a\x7fb"),
        (Compaction.OCTET, "ž"),
        (Compaction.APPLICATION_DEFINED, "DK 123"),
        (Compaction.UTF8, ""),
    ],
)
def test_text_a_scheme_cannot_hold_is_refused(scheme, text):
    with pytest.raises(ValueError):
        compact_text(text, scheme)


@pytest.mark.parametrize(
    ("scheme", "hex_bytes"),
    [
        (Compaction.NUMERIC, "1a"),  # nibble A is no digit
        (Compaction.NUMERIC, "f1"),  # the pad nibble only closes the data
        (Compaction.FIVE_BIT, "0421"),  # code 0 inside the data
        (Compaction.UTF8, "c3"),
        (Compaction.APPLICATION_DEFINED, "f8"),  # 11111 = shift to digits, then only padding
        (Compaction.INTEGER, ""),
    ],
)
def test_bytes_a_scheme_cannot_produce_are_refused(scheme, hex_bytes):
    with pytest.raises(ValueError):
        expand_text(bytes.fromhex(hex_bytes), scheme)


def test_isil_shift_and_latch_choice_matches_dp2_trace():
    # dp2 Test_isil_process_7: "-C-" after digits is a shift (1101), "YBL" a latch (1100).
    bits = "".join(f"{byte:08b}" for byte in encode_isil("CN-120104-C-YBL"))
    # C N - (3 x 5 bits), latch digits (5), 120104 (6 x 4), - (4): the shift starts at bit 48.
    assert bits[48:57] == "110100011"  # shift upper, C
    assert bits[61:70] == "110011001"  # after "-": latch upper, Y


SCHEME_ALPHABETS = {
    Compaction.INTEGER: st.integers(min_value=0, max_value=10**40).map(str),
    Compaction.NUMERIC: st.text("0123456789", min_size=1, max_size=40),
    Compaction.FIVE_BIT: st.text(st.characters(min_codepoint=0x41, max_codepoint=0x5F), min_size=1, max_size=40),
    Compaction.SIX_BIT: st.text(st.characters(min_codepoint=0x20, max_codepoint=0x5F), min_size=1, max_size=40)
    .filter(lambda text: not text.endswith(" ")),
    Compaction.SEVEN_BIT: st.text(st.characters(min_codepoint=0, max_codepoint=0x7E), min_size=1, max_size=40),
    Compaction.OCTET: st.text(st.characters(min_codepoint=0, max_codepoint=0xFF), min_size=1, max_size=40),
    Compaction.UTF8: st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
    Compaction.APPLICATION_DEFINED: st.text(sorted(ISIL_CHARACTERS), min_size=1, max_size=20),
}


@pytest.mark.parametrize("scheme", list(Compaction))
@given(data=st.data())
@settings(max_examples=150, deadline=None)
def test_every_scheme_round_trips_its_whole_alphabet(scheme, data):
    text = data.draw(SCHEME_ALPHABETS[scheme])
    assert expand_text(compact_text(text, scheme), scheme) == text


@given(text=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
@settings(max_examples=300, deadline=None)
def test_best_compaction_is_never_larger_than_any_scheme_that_fits(text):
    best = best_text_compaction(text)
    size = len(compact_text(text, best))
    for scheme in Compaction:
        if scheme is Compaction.APPLICATION_DEFINED:
            continue
        try:
            other = compact_text(text, scheme)
        except ValueError:
            continue
        assert size <= len(other), (scheme, best)
    assert expand_text(compact_text(text, best), best) == text


def test_best_compaction_prefers_integer_for_annex_d_numbers():
    # Annex D writes PII 123456789012 and set information 1203 in integer compaction.
    assert best_text_compaction("123456789012") is Compaction.INTEGER
    assert best_text_compaction("1203") is Compaction.INTEGER
    assert best_text_compaction("0102") is Compaction.NUMERIC
    assert best_text_compaction("QA268.L55") is Compaction.SIX_BIT
    assert best_text_compaction("Ærø") is Compaction.OCTET
    assert best_text_compaction("Kraków ☃") is Compaction.UTF8


@pytest.mark.parametrize("scheme", list(Compaction))
@given(data=st.binary(max_size=40))
@settings(max_examples=200, deadline=None)
def test_arbitrary_bytes_expand_or_raise_value_error(scheme, data):
    try:
        text = expand_text(data, scheme)
    except ValueError:
        return
    assert isinstance(text, str)


@given(data=st.binary(min_size=1, max_size=30))
@settings(max_examples=300, deadline=None)
def test_isil_decoder_output_re_encodes_to_the_same_text(data):
    try:
        text = decode_isil(data)
    except ValueError:
        return
    assert decode_isil(encode_isil(text)) == text
