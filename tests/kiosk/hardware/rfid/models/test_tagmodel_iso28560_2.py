"""ISO 28560-2 data elements (US/NISO RP-6, China, Finland): structure, layout and round trips."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hardware.rfid.models import TagEncodeError, TagFormatError, UsageType
from kiosk.hardware.rfid.models import iso28560_2 as model
from kiosk.hardware.rfid.models.compaction import ISIL_CHARACTERS, Compaction
from kiosk.hardware.rfid.models.iso28560_2 import DataElement, Iso28560_2Tag, Oid

# ISO 28560-2 Annex D complete example, 9 blocks, PII and owner ISIL locked ("ll....lll"), as given in
# DigitalPlatform/dp2 UnitTestRFID/TestChip.cs, Test_chip_example_from / Test_chip_layout_2.
ANNEX_D = bytes.fromhex(
    "91 00 05 1c be 99 1a 14 02 01 d0 14 02 04 b3 46 07 44 1c b6"
    " e2 e3 35 d6 83 02 07 ac c0 9e ba a0 6f 6b 00 00"
)
# DigitalPlatform/dp2 UnitTestRFID/TestChip.cs, Test_chip_layout_3: dp2's own encoder output for the
# Annex D elements plus Title "test" (UTF-8), PII, owner and title locked ("ww.....wwww"). Not from
# the standard; it pins the OID-extension byte and the lock-run layout.
DP2_LAYOUT_3 = bytes.fromhex(
    "91 00 05 1c be 99 1a 14 02 02 d0 02 14 02 04 b3 c6 02 07 44 1c b6 e2 e3"
    " 35 d6 00 00 03 07 ac c0 9e ba a0 6f 6b 7f 02 04 74 65 73 74"
)
# DigitalPlatform/dp2 UnitTestRFID/TestChip.cs, Test_chip_complex_layout_2: a 5-byte content parameter.
DP2_COMPLEX_LAYOUT_2 = bytes.fromhex(
    "91 00 05 1c be 99 1a 14 02 05 d0 00 00 00 00 14 02 04 b3 46 07 44 1c b6"
    " e2 e3 35 d6 83 02 07 ac c0 9e ba a0 6f 6b 00 00"
)

ANNEX_D_ELEMENTS = (
    DataElement(Oid.PRIMARY_ITEM_IDENTIFIER, "123456789012"),
    DataElement(Oid.CONTENT_PARAMETER, b"\xd0"),
    DataElement(Oid.SET_INFORMATION, "1203"),
    DataElement(Oid.SHELF_LOCATION, "QA268.L55"),
    DataElement(Oid.OWNER_INSTITUTION, "US-InU-Mu"),
)


def test_annex_d_decodes_to_the_published_values():
    tag = model.parse(ANNEX_D)
    assert tag.elements == ANNEX_D_ELEMENTS
    assert [element.compaction for element in tag.elements] == [
        Compaction.INTEGER,
        Compaction.APPLICATION_DEFINED,
        Compaction.INTEGER,
        Compaction.SIX_BIT,
        Compaction.APPLICATION_DEFINED,
    ]
    summary = model.decode(ANNEX_D)
    assert summary.model == "iso28560-2"
    assert summary.item_id == "123456789012"
    assert summary.owner_library == "US-InU-Mu"
    assert (summary.parts_in_set, summary.part_number) == (12, 3)
    assert summary.extra("shelf_location") == "QA268.L55"
    assert summary.usage_type is None


def test_annex_d_re_encodes_byte_exactly_with_pii_and_owner_locked():
    memory = model.encode(Iso28560_2Tag(ANNEX_D_ELEMENTS), lock_oids={Oid.PRIMARY_ITEM_IDENTIFIER,
                                                                      Oid.OWNER_INSTITUTION})
    assert memory == ANNEX_D + b"\x00" * 4  # end-of-data mark, then zeros to the block boundary


def test_annex_d_fits_its_nine_blocks_exactly_when_memory_size_is_given():
    tag = Iso28560_2Tag(ANNEX_D_ELEMENTS)
    assert model.encode(tag, lock_oids={1, 3}, memory_size=36) == ANNEX_D
    with pytest.raises(TagEncodeError):
        model.encode(tag, lock_oids={1, 3}, memory_size=32)


def test_content_parameter_bitmaps():
    assert model.content_parameter_oids(b"\xd0") == (3, 4, 6)
    assert model.content_parameter([3, 4, 6]) == b"\xd0"
    assert model.content_parameter([3, 4, 6, 17]) == b"\xd0\x02"
    assert model.content_parameter_oids(b"\xd0\x02") == (3, 4, 6, 17)


def test_dp2_layout_3_reproduced_with_title_forced_to_utf8():
    elements = (
        DataElement(1, "123456789012"),
        DataElement(2, model.content_parameter([3, 4, 6, 17])),
        DataElement(4, "1203"),
        DataElement(6, "QA268.L55"),
        DataElement(3, "US-InU-Mu"),
        DataElement(Oid.TITLE, "test", Compaction.UTF8),
    )
    memory = model.encode(Iso28560_2Tag(elements), lock_oids={1, 3, Oid.TITLE})
    assert memory == DP2_LAYOUT_3 + b"\x00" * 4
    decoded = model.parse(DP2_LAYOUT_3)
    assert decoded.elements == elements
    assert decoded.elements[-1].compaction is Compaction.UTF8
    assert model.decode(DP2_LAYOUT_3).extra("title") == "test"


def test_dp2_complex_layout_2_decodes():
    tag = model.parse(DP2_COMPLEX_LAYOUT_2)
    assert tag.value(Oid.CONTENT_PARAMETER) == b"\xd0\x00\x00\x00\x00"
    assert model.decode(DP2_COMPLEX_LAYOUT_2).owner_library == "US-InU-Mu"


def test_octet_string_pii_as_real_tags_write_it():
    # dp2 #309: tags in the field carry the PII in octet-string compaction (code 6).
    memory = bytes([0x61, 6]) + b"B00042" + b"\x00"
    assert model.decode(memory).item_id == "B00042"


def test_any_compaction_for_any_element_decodes():
    # Owner ISIL as 7-bit text, set information as numeric, type of usage as octets.
    tag = Iso28560_2Tag((
        DataElement(1, "X1", Compaction.SEVEN_BIT),
        DataElement(3, "FI-He", Compaction.SEVEN_BIT),
        DataElement(4, "0102", Compaction.NUMERIC),
        DataElement(5, b"\x20", Compaction.OCTET),
    ))
    summary = model.decode(model.encode(tag))
    assert summary.owner_library == "FI-He"
    assert (summary.parts_in_set, summary.part_number) == (1, 2)
    assert summary.usage_type is UsageType.NOT_FOR_CIRCULATION


@pytest.mark.parametrize(
    ("value", "scheme", "usage"),
    [
        (b"\x80", None, UsageType.PATRON_CARD),
        (b"\x10", None, UsageType.CIRCULATING_ITEM),
        ("80", Compaction.INTEGER, UsageType.PATRON_CARD),  # dp2 writes the hex text "80" as an integer
        ("10", Compaction.INTEGER, UsageType.CIRCULATING_ITEM),
        (b"\xb0", None, 11),
    ],
)
def test_type_of_usage_main_category(value, scheme, usage):
    tag = Iso28560_2Tag((DataElement(1, "P1"), DataElement(Oid.TYPE_OF_USAGE, value, scheme)))
    summary = model.decode(model.encode(tag))
    assert summary.usage_type == usage
    assert summary.is_patron_card == (usage == UsageType.PATRON_CARD)


def test_extended_oid_byte_for_title():
    tag = Iso28560_2Tag((DataElement(1, "1"), DataElement(Oid.TITLE, "Moby-Dick")))
    memory = model.encode(tag)
    title_start = 3  # PII "1": precursor, length, one integer byte
    assert memory[title_start] & 0x0F == 0x0F and memory[title_start + 1] == Oid.TITLE - 15
    assert model.parse(memory) == tag


def test_build_assembles_pii_content_parameter_and_owner_last():
    tag = model.build("31234000123456", owner_library="US-CoU", parts_in_set=2, part_number=1,
                      type_of_usage=0x10, others=[(Oid.SHELF_LOCATION, "PS3545.I345")])
    assert [element.oid for element in tag.elements] == [1, 2, 5, 4, 6, 3]
    assert tag.value(Oid.CONTENT_PARAMETER) == model.content_parameter([3, 4, 5, 6])
    assert tag.value(Oid.SET_INFORMATION) == "0201"
    summary = model.decode(model.encode(tag, lock_oids={1, 3}))
    assert (summary.item_id, summary.owner_library) == ("31234000123456", "US-CoU")
    assert (summary.parts_in_set, summary.part_number) == (2, 1)


@pytest.mark.parametrize(
    ("memory", "message"),
    [
        (bytes.fromhex("11 05 01"), "does not fit"),  # length runs past the memory
        (bytes.fromhex("91"), "cut off"),
        (bytes.fromhex("11 01 07 11 01 08"), "repeated"),
        (bytes.fromhex("10 01 07"), "OID 0"),
        (bytes.fromhex("1f 71 01 07"), "over 127"),
        (bytes.fromhex("21 01 1a"), "non-decimal"),
        (bytes.fromhex("11 00"), "does not fit"),
        (bytes.fromhex("00 11 01 07"), "no ISO 28560-2"),
        (bytes.fromhex("14 02 04 b3 00"), "primary item identifier"),
        (bytes.fromhex("61 02 31 07 00"), "printable primary item identifier"),
        (bytes.fromhex("11 01 07 44 01 04"), "set information"),
    ],
)
def test_malformed_data_is_a_typed_error(memory, message):
    with pytest.raises(TagFormatError, match=message) as caught:
        model.decode(memory)
    assert caught.value.raw == memory


@pytest.mark.parametrize(
    "elements",
    [
        (),
        (DataElement(4, "0101"), DataElement(1, "1")),
        (DataElement(1, "1"), DataElement(1, "2")),
        (DataElement(1, "1"), DataElement(4, "01"), DataElement(2, b"\x40")),
        (DataElement(1, "1"), DataElement(128, "x")),
        (DataElement(1, ""),),
        (DataElement(1, "01", Compaction.INTEGER),),
        (DataElement(1, "x", Compaction.APPLICATION_DEFINED),),
        (DataElement(1, b"\x01", Compaction.OCTET),),
        (DataElement(1, "1"), DataElement(3, b"\x01")),
        (DataElement(1, "1"), DataElement(5, "10", Compaction.OCTET)),
        (DataElement(1, "x" * 300),),  # 263 bytes even in 7-bit compaction
        (DataElement(1, "12\x07"),),  # control characters are no barcode
    ],
)
def test_encoder_refuses_what_cannot_round_trip(elements):
    with pytest.raises(TagEncodeError):
        model.encode(Iso28560_2Tag(elements))


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
PRINTABLE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp", "Co", "Cn")), min_size=1,
                    max_size=30).filter(str.isprintable)
ISIL = st.text(sorted(ISIL_CHARACTERS), min_size=1, max_size=16)


def element_for(oid: int) -> st.SearchStrategy[DataElement]:
    if oid in model.ISIL_OIDS:
        values = st.one_of(ISIL, TEXT)
    elif oid in model.BINARY_OIDS:
        values = st.one_of(st.binary(min_size=1, max_size=20), TEXT)
    else:
        values = st.one_of(TEXT, st.binary(min_size=1, max_size=20))
    return values.map(lambda value: DataElement(oid, value))


@st.composite
def tags(draw):
    oids = draw(st.lists(st.integers(3, 127), unique=True, max_size=6))
    elements = [draw(PRINTABLE.map(lambda value: DataElement(1, value)))]
    if draw(st.booleans()):
        elements.append(DataElement(2, model.content_parameter(oids)))
    elements += [draw(element_for(oid)) for oid in oids]
    return Iso28560_2Tag(tuple(elements))


@given(tag=tags(), data=st.data())
@settings(max_examples=300, deadline=None)
def test_decode_of_encode_is_identity(tag, data):
    oids = [element.oid for element in tag.elements]
    lock = data.draw(st.sets(st.sampled_from(oids)))
    block_size = data.draw(st.sampled_from([1, 2, 4, 8]))
    memory = model.encode(tag, lock_oids=lock, block_size=block_size)
    assert len(memory) % block_size == 0
    assert model.parse(memory) == tag
    try:
        summary = model.decode(memory)
    except TagFormatError:  # random set information / type of usage need not make sense
        summary = None
    if summary is not None:
        assert summary == model.parse(memory).to_tagdata(memory)  # the fast path agrees with the full model


SCHEME_TEXT = {
    Compaction.INTEGER: st.integers(min_value=0, max_value=10**30).map(str),
    Compaction.NUMERIC: st.text("0123456789", min_size=1, max_size=30),
    Compaction.FIVE_BIT: st.text(st.characters(min_codepoint=0x41, max_codepoint=0x5F), min_size=1, max_size=30),
    Compaction.SIX_BIT: st.text(st.characters(min_codepoint=0x20, max_codepoint=0x5F), min_size=1, max_size=30)
    .filter(lambda text: not text.endswith(" ")),
    Compaction.SEVEN_BIT: st.text(st.characters(max_codepoint=0x7E), min_size=1, max_size=30),
    Compaction.OCTET: st.text(st.characters(max_codepoint=0xFF), min_size=1, max_size=30),
    Compaction.UTF8: TEXT,
}


@pytest.mark.parametrize("scheme", list(SCHEME_TEXT))
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_forced_compaction_is_written_and_read_back(scheme, data):
    pii = DataElement(1, "1234", Compaction.NUMERIC)
    shelf = DataElement(Oid.SHELF_LOCATION, data.draw(SCHEME_TEXT[scheme]), scheme)
    owner = DataElement(3, data.draw(ISIL), Compaction.APPLICATION_DEFINED)
    decoded = model.parse(model.encode(Iso28560_2Tag((pii, shelf, owner))))
    assert decoded.elements == (pii, shelf, owner)
    assert [element.compaction for element in decoded.elements] == [
        Compaction.NUMERIC, scheme, Compaction.APPLICATION_DEFINED]


def locked_runs_are_block_aligned(memory: bytes, lock: set[int], block_size: int) -> bool:
    """Walk the encoded elements and check every locked run starts and ends on a boundary."""
    position, previous_locked = 0, False
    while position < len(memory) and memory[position]:
        precursor = memory[position]
        start = position
        oid = precursor & 0x0F
        position += 1
        if oid == 0x0F:
            oid += memory[position]
            position += 1
        pad = 0
        if precursor & 0x80:
            pad = memory[position]
            position += 1
        position += 1 + memory[position] + pad
        locked = oid in lock
        if locked and not previous_locked and start % block_size:
            return False
        following_locked = position < len(memory) and memory[position] and _oid_at(memory, position) in lock
        if locked and not following_locked and position % block_size:
            return False
        previous_locked = locked
    return True


def _oid_at(memory: bytes, position: int) -> int:
    oid = memory[position] & 0x0F
    return oid + memory[position + 1] if oid == 0x0F else oid


@given(tag=tags(), data=st.data())
@settings(max_examples=200, deadline=None)
def test_locked_elements_sit_on_whole_blocks(tag, data):
    oids = [element.oid for element in tag.elements]
    lock = data.draw(st.sets(st.sampled_from(oids)))
    block_size = data.draw(st.sampled_from([2, 4, 8]))
    memory = model.encode(tag, lock_oids=lock, block_size=block_size)
    assert locked_runs_are_block_aligned(memory, lock, block_size)


def test_annex_d_layout_is_block_aligned_for_its_locks():
    assert locked_runs_are_block_aligned(ANNEX_D, {1, 3}, 4)
    assert not locked_runs_are_block_aligned(ANNEX_D, {6}, 4)
