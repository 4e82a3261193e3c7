"""3M RFID501 legacy layout."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hardware.rfid.models import TagEncodeError, TagFormatError
from kiosk.hardware.rfid.models import rfid501 as model
from kiosk.hardware.rfid.models.rfid501 import Rfid501Tag

# dpavlin/Biblio-RFID t/05-RFID501.t: the two test tags, given there as eight 4-byte blocks
# (Perl "\4\21\0\0" is octal: 04 11 00 00). The test asserts from_hash(to_hash(tag)) eq tag.
BIBLIO_RFID_TAG_1 = (
    b"\x04\x11\x00\x00" + b"2009" + b"0101" + b"0123" + b"\x00" * 4 + b"\xff" * 4 + b"\x7f\xff\xff\xff" + b"\x00" * 4
)
BIBLIO_RFID_TAG_2 = b"\x04\x11\x00\x01" + b"1302" + b"0037" + b"67\x00\x00" + b"\x00" * 16


def test_biblio_rfid_tag_1():
    tag = model.parse(BIBLIO_RFID_TAG_1)
    assert tag == Rfid501Tag("200901010123", item_number=1, set_size=1, item_type=0, branch=0xFFF,
                             library=0xFFFFF, custom=2**31 - 1)
    summary = model.decode(BIBLIO_RFID_TAG_1)
    assert summary.model == "rfid501"
    assert summary.item_id == "200901010123"
    assert (summary.parts_in_set, summary.part_number) == (1, 1)
    assert summary.extra("item_type") == "other"
    assert summary.usage_type is None and summary.owner_library is None


def test_biblio_rfid_tag_2():
    tag = model.parse(BIBLIO_RFID_TAG_2)
    assert (tag.barcode, tag.item_type, tag.branch, tag.library, tag.custom) == ("1302003767", 1, 0, 0, 0)
    assert model.decode(BIBLIO_RFID_TAG_2).extra("item_type") == "book"


@pytest.mark.parametrize("memory", [BIBLIO_RFID_TAG_1, BIBLIO_RFID_TAG_2])
def test_biblio_rfid_tags_round_trip_byte_exactly(memory):
    assert model.encode(model.parse(memory)) == memory


def test_set_nibbles():
    memory = model.encode(Rfid501Tag("123", item_number=2, set_size=3))
    assert memory[1] == 0x23
    summary = model.decode(memory)
    assert (summary.parts_in_set, summary.part_number) == (3, 2)


def test_negative_custom_value():
    memory = model.encode(Rfid501Tag("9", custom=-2))
    assert memory[24:28] == b"\xff\xff\xff\xfe"
    assert model.parse(memory).custom == -2


@pytest.mark.parametrize(
    ("memory", "message"),
    [
        (BIBLIO_RFID_TAG_1[:23], "at least 24"),
        (b"\x55" * 24 + b"\x00" * 4, "04 xx 00 xx"),  # 3M manufacturing blank
        (b"\x04\x11\x01\x00" + BIBLIO_RFID_TAG_1[4:], "04 xx 00 xx"),
        (b"\x04\x11\x00\x00" + b"\x00" * 28, "barcode"),
        (b"\x04\x11\x00\x00" + b"12\x0734" + b"\x00" * 24, "barcode"),
    ],
)
def test_not_rfid501(memory, message):
    with pytest.raises(TagFormatError, match=message) as caught:
        model.decode(memory)
    assert caught.value.raw == memory


@pytest.mark.parametrize(
    "tag",
    [
        Rfid501Tag(""),
        Rfid501Tag("x" * 17),
        Rfid501Tag("é"),
        Rfid501Tag("a\nb"),
        Rfid501Tag("1", item_number=16),
        Rfid501Tag("1", branch=4096),
        Rfid501Tag("1", library=2**20),
        Rfid501Tag("1", custom=2**31),
    ],
)
def test_encoder_refuses_what_the_layout_cannot_hold(tag):
    with pytest.raises(TagEncodeError):
        model.encode(tag)


@given(
    tag=st.builds(
        Rfid501Tag,
        barcode=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=16),
        item_number=st.integers(0, 15),
        set_size=st.integers(0, 15),
        item_type=st.integers(0, 255),
        branch=st.integers(0, 0xFFF),
        library=st.integers(0, 0xFFFFF),
        custom=st.integers(-(2**31), 2**31 - 1),
    )
)
@settings(max_examples=300, deadline=None)
def test_decode_of_encode_is_identity(tag):
    memory = model.encode(tag)
    assert model.parse(memory) == tag
    assert model.decode(memory) == tag.to_tagdata(memory)
