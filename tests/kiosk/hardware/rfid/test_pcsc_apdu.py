"""PC/SC part 3 APDU codecs: ATR classification, UID order, TLV envelopes, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.hardware.rfid.readers import pcsc_apdu as apdu
from kiosk.hardware.rfid.readers.base import TagOperationFailed
from kiosk.hardware.rfid.readers.pcsc_apdu import CardKind

ICODE_ATR = bytes.fromhex("3B8F8001804F0CA0000003060B00140000000077")  # rfid.md 4.1, pcsc-tools list
MIFARE_1K_ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
DESFIRE_ATR = bytes.fromhex("3B8180018080")

# From an ACS ACR1552U trace with an ICODE SLI (NXP community thread quoted in the task notes).
ACR1552_SYSTEM_INFO_RAPDU = bytes.fromhex("C00300900092010096020000970F000F2E985C8A000104E000001B03019000")
ACR1552_TIMEOUT_RAPDU = bytes.fromhex("C0030164019000")


def test_atr_tells_an_iso15693_label_from_patron_cards() -> None:
    assert apdu.classify_atr(ICODE_ATR) is CardKind.ISO15693
    assert apdu.storage_card_name(ICODE_ATR) == 0x0014
    assert apdu.classify_atr(MIFARE_1K_ATR) is CardKind.ISO14443A
    assert apdu.classify_atr(DESFIRE_ATR) is CardKind.ISO14443_4
    assert apdu.classify_atr(bytes.fromhex("3B6800000073C84000009000")) is CardKind.OTHER


def test_uid_is_normalised_whichever_end_the_reader_put_e0() -> None:
    canonical = bytes.fromhex("E004010012345678")
    assert apdu.normalise_uid(canonical) == canonical
    assert apdu.normalise_uid(canonical[::-1]) == canonical
    assert apdu.normalise_uid(bytes.fromhex("E0040100123456E0")) is None  # ambiguous: ask the tag
    with pytest.raises(apdu.MalformedResponse):
        apdu.normalise_uid(bytes.fromhex("0401001234567800"))
    with pytest.raises(apdu.MalformedResponse):
        apdu.normalise_uid(bytes.fromhex("04A1B2C3"))


def test_storage_card_apdus() -> None:
    assert apdu.get_uid_apdu() == bytes.fromhex("FFCA000000")
    assert apdu.read_binary_apdu(5, 4) == bytes.fromhex("FFB0000504")
    assert apdu.read_binary_apdu(0x123, 8) == bytes.fromhex("FFB0012308")
    assert apdu.update_binary_apdu(2, b"\x01\x02\x03\x04") == bytes.fromhex("FFD600020401020304")


def test_transparent_exchange_envelopes_match_the_published_trace() -> None:
    assert apdu.start_session_apdu() == bytes.fromhex("FFC2000002810000")
    assert apdu.end_session_apdu() == bytes.fromhex("FFC2000002820000")
    assert apdu.switch_to_iso15693_apdu() == bytes.fromhex("FFC20002048F020203") + b"\x00"
    assert apdu.transparent_exchange_apdu(bytes.fromhex("022B")) == bytes.fromhex("FFC20001049502022B00")
    # The trace's working write: timer object 5F46 with 1 000 000 us, little-endian.
    with_timer = apdu.transparent_exchange_apdu(bytes.fromhex("02210000010203"), timeout_us=1_000_000)
    assert with_timer == bytes.fromhex("FFC20001105F460440420F0095070221000001020300")


def test_transparent_answer_yields_the_tag_frame_or_none_for_silence() -> None:
    assert apdu.parse_transparent_response(ACR1552_SYSTEM_INFO_RAPDU) == bytes.fromhex(
        "000F2E985C8A000104E000001B0301"
    )
    assert apdu.parse_transparent_response(ACR1552_TIMEOUT_RAPDU) is None
    with pytest.raises(apdu.StatusWordError) as err:
        apdu.parse_transparent_response(bytes.fromhex("C0030169859000"))
    assert err.value.code == 0x6985
    with pytest.raises(apdu.StatusWordError) as err:
        apdu.parse_transparent_response(bytes.fromhex("6A81"))
    assert err.value.code == 0x6A81


def test_direct_transmit_wraps_the_frame_and_reads_63_00_as_silence() -> None:
    assert apdu.direct_transmit_apdu(bytes.fromhex("022B")) == bytes.fromhex("FF00000002022B")
    assert apdu.parse_direct_transmit(bytes.fromhex("00AB9000")) == bytes.fromhex("00AB")
    assert apdu.parse_direct_transmit(bytes.fromhex("6300")) is None
    with pytest.raises(apdu.StatusWordError):
        apdu.parse_direct_transmit(bytes.fromhex("6A81"))


tlv_tags = st.sampled_from([0x81, 0x82, 0x8F, 0x92, 0x95, 0x96, 0x97, 0xC0, 0x5F46])


@given(st.lists(st.tuples(tlv_tags, st.binary(max_size=300)), max_size=5))
def test_parse_tlvs_inverts_encode_tlv(objects: list[tuple[int, bytes]]) -> None:
    encoded = b"".join(apdu.encode_tlv(tag, value) for tag, value in objects)
    assert apdu.parse_tlvs(encoded) == objects


@given(st.binary(max_size=80))
def test_fuzzed_reader_answers_raise_only_typed_errors(rapdu: bytes) -> None:
    for parse, holds in (
        (apdu.parse_transparent_response, lambda r: r is None or isinstance(r, bytes)),
        (apdu.parse_direct_transmit, lambda r: r is None or (r and rapdu.endswith(b"\x90\x00"))),
        (apdu.parse_tlvs, lambda r: sum(len(v) for _, v in r) <= len(rapdu)),
        (apdu.split_sw, lambda r: r[0] + r[1].to_bytes(2, "big") == rapdu),
    ):
        try:
            result = parse(rapdu)
        except TagOperationFailed:
            continue
        assert holds(result)
