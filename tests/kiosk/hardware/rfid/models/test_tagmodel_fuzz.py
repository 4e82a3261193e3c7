"""Arbitrary and damaged memory into every decoder: a value or the typed error, nothing else.

A hang would trip pytest-timeout (pyproject: 120 s); every decoder loop advances through finite memory.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.hardware.rfid.models import (
    TagData,
    TagFormatError,
    UnreadableTag,
    decode_tag,
    iso28560_2,
    iso28560_3,
    rfid501,
)

DECODERS = {
    "iso28560_3.parse": iso28560_3.parse,
    "iso28560_3.decode": iso28560_3.decode,
    "iso28560_2.parse": iso28560_2.parse,
    "iso28560_2.decode": iso28560_2.decode,
    "rfid501.parse": rfid501.parse,
    "rfid501.decode": rfid501.decode,
}

SEEDS = [
    iso28560_3.encode(iso28560_3.Iso28560_3Tag(
        "1234567890", country="DK", library="718500",
        extension_blocks=(iso28560_3.ExtensionBlock(4, b"Title"), iso28560_3.ExtensionBlock(3, b"A1\x00B\x00C")),
    )),
    iso28560_2.encode(iso28560_2.build(
        "123456789012", owner_library="US-InU-Mu", parts_in_set=12, part_number=3, type_of_usage=0x10,
        others=[(6, "QA268.L55"), (17, "Title"), (9, "supplier")],
    ), lock_oids={1, 3}),
    rfid501.encode(rfid501.Rfid501Tag("200901010123", branch=3, library=77)),
]


def check(decoder, memory: bytes) -> None:
    try:
        result = decoder(memory)
    except TagFormatError as error:
        assert error.raw == memory
        return
    assert result is not None


@pytest.mark.parametrize("name", list(DECODERS))
@given(memory=st.binary(max_size=140))
@settings(max_examples=400, deadline=None)
def test_arbitrary_bytes(name, memory):
    check(DECODERS[name], memory)


@st.composite
def damaged(draw):
    memory = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(memory) - 1))
        memory[position] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(memory)))
    return bytes(memory[: max(cut, len(memory) // 2)])


@pytest.mark.parametrize("name", list(DECODERS))
@given(memory=damaged())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_damaged_valid_tags(name, memory):
    check(DECODERS[name], memory)


@given(memory=st.one_of(st.binary(max_size=140), damaged()), dsfid=st.none() | st.integers(0, 255))
@settings(max_examples=600, deadline=None)
def test_decode_tag_never_raises(memory, dsfid):
    result = decode_tag(memory, dsfid)
    assert isinstance(result, TagData | UnreadableTag)
    assert result.raw == memory


@given(tail=st.binary(min_size=1, max_size=80))
@settings(max_examples=300, deadline=None)
def test_any_tail_after_a_valid_basic_block_keeps_the_item(tail):
    # Bytes after the basic block are not CRC-protected: whatever they hold, the item id survives.
    basic = iso28560_3.encode(iso28560_3.Iso28560_3Tag("5012345678", country="DK", library="718500"))[:34]
    assert iso28560_3.decode(basic + tail).item_id == "5012345678"
