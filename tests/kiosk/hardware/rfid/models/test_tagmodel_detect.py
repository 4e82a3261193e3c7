"""decode_tag: which model a tag holds, from content with the DSFID only as a hint."""

import pytest

from kiosk.hardware.rfid.models import (
    BLANK_TAG,
    TagData,
    UnreadableTag,
    UsageType,
    decode_tag,
    detect,
    iso28560_2,
    iso28560_3,
    rfid501,
)
from kiosk.hardware.rfid.models.tagdata import USAGE_NAMES, usage_name, usage_type_from_code

# GallusMax/libdanrfid src/test/java/org/rfid/libdanrfid/DDMDataTest.java
LIBDANRFID_TAG = bytes.fromhex("11010131313232333334340000000000000000513e4445373035000000000000")
# ISO 28560-2 Annex D, via DigitalPlatform/dp2 UnitTestRFID/TestChip.cs (Test_chip_example_from)
ANNEX_D = bytes.fromhex(
    "9100051cbe991a140201d0140204b34607441cb6e2e335d6830207acc09ebaa06f6b0000"
)
# dpavlin/Biblio-RFID t/05-RFID501.t, second tag
BIBLIO_RFID_TAG = b"\x04\x11\x00\x01" + b"1302" + b"0037" + b"67\x00\x00" + b"\x00" * 16
# GallusMax/libdanrfid src/test/java/org/rfid/libdanrfid/DM11DataTest.java: Bibliotheca tags in a
# bit-packed layout whose CRC libdanrfid itself marks "TODO - CRC method unknown". Not decoded here;
# they must come back unreadable, never misread as another model.
LIBDANRFID_DM11_PACKED = [
    bytes.fromhex("0B41244D54655D18000000000000BB4CA484FF4F42504401500400000000F555"),
    bytes.fromhex("0B410441100441100000000000000ACDA484FF4F42504401500400000000F555"),
    bytes.fromhex("0B41244D54655D10000000000000E148A484FF4F42504401500400000000F555"),
]


@pytest.mark.parametrize("dsfid", [None, 0x00, 0x3E, 0x06, 0xFF])
def test_danish_tag_is_found_whatever_the_dsfid(dsfid):
    result = decode_tag(LIBDANRFID_TAG + bytes(80), dsfid)
    assert isinstance(result, TagData)
    assert (result.model, result.item_id, result.owner_library) == ("iso28560-3", "11223344", "DE-705")


@pytest.mark.parametrize("dsfid", [None, 0x00, 0x06, 0x3E])
def test_annex_d_is_found_whatever_the_dsfid(dsfid):
    result = decode_tag(ANNEX_D + bytes(76), dsfid)
    assert isinstance(result, TagData)
    assert (result.model, result.item_id, result.owner_library) == ("iso28560-2", "123456789012", "US-InU-Mu")


def test_rfid501_is_found():
    result = decode_tag(BIBLIO_RFID_TAG)
    assert isinstance(result, TagData)
    assert (result.model, result.item_id) == ("rfid501", "1302003767")


def test_block_reversed_danish_tag_is_found_and_flagged():
    result = decode_tag(iso28560_3.reverse_blocks(LIBDANRFID_TAG), 0x00)
    assert isinstance(result, TagData)
    assert result.block_reversed and result.item_id == "11223344"


def test_dm11_tag_is_found():
    memory = iso28560_3.encode(iso28560_3.Iso28560_3Tag("1234", usage_type=8, dm11=True))
    result = decode_tag(memory)
    assert isinstance(result, TagData)
    assert result.model == "iso28560-3-dm11" and result.is_patron_card


def test_patron_card_in_28560_2():
    memory = iso28560_2.encode(iso28560_2.build("21234000999999", type_of_usage=0x80, owner_library="US-CoU"))
    result = decode_tag(memory, 0x06)
    assert isinstance(result, TagData)
    assert result.usage_type is UsageType.PATRON_CARD and result.is_patron_card


@pytest.mark.parametrize(
    "memory",
    [bytes(112), bytes(4), b"\x55" * 24 + bytes(4), b"\x55" * 28 + bytes(84)],
    ids=["zeros", "one-zero-block", "3m-factory-blank", "3m-factory-blank-slix"],
)
def test_blank_tags(memory):
    result = decode_tag(memory)
    assert isinstance(result, UnreadableTag)
    assert result.is_blank and result.reason == BLANK_TAG
    assert result.raw == memory


def test_no_memory_read():
    result = decode_tag(b"")
    assert isinstance(result, UnreadableTag) and not result.is_blank


@pytest.mark.parametrize("memory", LIBDANRFID_DM11_PACKED)
def test_unsupported_bibliotheca_packed_format_is_unreadable_not_misread(memory):
    result = decode_tag(memory, 0x00)
    assert isinstance(result, UnreadableTag)
    assert not result.is_blank
    assert result.raw == memory
    for model in ("iso28560-3", "rfid501", "iso28560-2"):
        assert model in result.reason


def test_unreadable_reason_mentions_the_dsfid():
    result = decode_tag(b"\xde\xad\xbe\xef" * 8, 0x3E)
    assert isinstance(result, UnreadableTag)
    assert result.reason.startswith("DSFID 0x3E")
    assert "CRC" in result.reason


def test_28560_2_not_starting_with_pii_needs_the_dsfid():
    # Set information first, then PII: legal grammar, against the standard's order.
    memory = bytes.fromhex("14 02 04 b3 11 01 07 00")
    assert isinstance(decode_tag(memory), UnreadableTag)
    result = decode_tag(memory, 0x06)
    assert isinstance(result, TagData) and result.item_id == "7"


def test_rfid501_wins_over_a_28560_2_reading_without_dsfid():
    memory = rfid501.encode(rfid501.Rfid501Tag("31234"))
    result = decode_tag(memory)
    assert isinstance(result, TagData) and result.model == "rfid501"


def test_accepts_bytearray_and_memoryview():
    assert decode_tag(bytearray(LIBDANRFID_TAG)).item_id == "11223344"
    assert decode_tag(memoryview(ANNEX_D)).item_id == "123456789012"


def test_repeated_memory_is_answered_from_the_memo_with_the_same_value():
    memory = iso28560_3.encode(iso28560_3.Iso28560_3Tag("memo-1", country="DK", library="718500"))
    first = decode_tag(bytearray(memory), 0x3E)
    hits = detect._decode.cache_info().hits
    again = decode_tag(memory, 0x3E)
    assert again is first
    assert detect._decode.cache_info().hits == hits + 1
    assert again == iso28560_3.decode(memory)
    assert detect._decode.cache_info().maxsize == detect.CACHE_SIZE


def test_usage_codes_without_a_name_stay_ints():
    assert usage_type_from_code(8) is UsageType.PATRON_CARD
    assert usage_type_from_code(5) == 5 and not isinstance(usage_type_from_code(5), UsageType)
    assert [member.name for member in UsageType][:3] == ["ACQUISITION", "CIRCULATING_ITEM", "NOT_FOR_CIRCULATION"]


def test_usage_names_are_the_words_settings_and_the_core_share():
    assert USAGE_NAMES == ("acquisition", "circulating_item", "not_for_circulation", "local_use_a", "local_use_b",
                           "no_information", "discarded", "patron_card", "library_equipment")
    assert usage_name(UsageType.NOT_FOR_CIRCULATION) == "not_for_circulation" == usage_name(2)
    assert usage_name(None) == ""  # the tag does not say
    assert usage_name(5) == "usage_5" and usage_name(15) == "usage_15"  # kept, never mistaken for a named one
    assert all(usage_name(code) not in USAGE_NAMES for code in (5, 10, 11, 12, 13, 14, 15))


def test_tagdata_is_frozen_and_hashable():
    result = decode_tag(LIBDANRFID_TAG)
    assert isinstance(result, TagData)
    with pytest.raises(AttributeError):
        result.item_id = "other"  # type: ignore[misc]
    assert hash(result) == hash(decode_tag(bytes(LIBDANRFID_TAG)))
    assert result.extra("no such element") is None
