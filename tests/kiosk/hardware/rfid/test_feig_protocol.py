"""FEIG host protocol codec: golden bytes from the manuals and public code, round trips, and fuzzing."""

from __future__ import annotations

import pytest
from decoder_checks import (
    check_decoder_terminates_raising_only_frame_errors,
    check_garbage_is_skipped,
    check_one_shot_parsers,
    frames_fed_in_pieces,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kiosk.hardware.rfid.readers import feig_protocol as fp
from kiosk.hardware.rfid.readers.base import SystemInfo

UID = bytes.fromhex("E004010012345678")


def crc_le(data: bytes) -> bytes:
    return fp.crc16(data).to_bytes(2, "little")


# -- CRC and golden frames ----------------------------------------------------------------------------


def test_crc_matches_the_mcrf4xx_check_value():
    assert fp.crc16(b"123456789") == 0x6F91


def bitwise_mcrf4xx(data: bytes, crc: int = 0xFFFF) -> int:
    """The loop in Biblio-RFID's cpr_m02_checksum, bit by bit."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def test_crc_is_the_bitwise_algorithm_of_biblio_rfid_cprm02():
    for sample in (b"", b"\x00", b"\xff\xb0\x01\x00", bytes(range(256))):
        assert fp.crc16(sample) == bitwise_mcrf4xx(sample)


@given(st.binary(max_size=300), st.integers(0, 0xFFFF))
def test_crc_in_c_is_the_bitwise_crc_of_any_bytes_from_any_start(data, start):
    assert fp.crc16(data, start) == bitwise_mcrf4xx(data, start)
    assert fp.crc16(bytearray(data)) == fp.crc16(memoryview(data)) == bitwise_mcrf4xx(data)


# A Get Software Version reply published with its CRC (Amarok79/InlayTester.Drivers.FeigReader tests).
SOFTWARE_VERSION_REPLY = bytes.fromhex("0D 00 65 00 03 03 00 44 53 0D 30 33 09")


def test_published_software_version_reply_parses():
    reply = fp.parse_reply(SOFTWARE_VERSION_REPLY)
    assert reply == fp.Reply(command=0x65, status=0x00, data=bytes.fromhex("03 03 00 44 53 0D 30"), com_adr=0)
    assert fp.build_reply(reply) == SOFTWARE_VERSION_REPLY


@pytest.mark.parametrize(
    ("request_", "body"),
    [
        # The request bodies Biblio-RFID's CPRM02.pm sends (it prefixes LEN and appends the CRC).
        (fp.inventory_request(), "FF B0 01 00"),
        (fp.inventory_request(more=True), "FF B0 01 80"),
        (fp.system_info_request(UID), "FF B0 2B 01 E004010012345678"),
        (fp.read_blocks_request(UID, 4, 4), "FF B0 23 01 E004010012345678 04 04"),
        (fp.write_afi_request(UID, 0xC2), "FF B0 27 01 E004010012345678 C2"),
        # write: DB-ADR, DB-N, DB-SIZE, then each block byte-reversed
        (fp.write_blocks_request(UID, 0, 4, b"ABCDEFGH"), "FF B0 24 01 E004010012345678 00 02 04 44434241 48474645"),
        # [0xB1]: MFR 0x04, NXP command, MODE addressed, UID (FEIG manual H60301-3e §8.3)
        (fp.nxp_custom_request(fp.NxpCommand.SET_EAS, UID), "FF B1 04 A2 01 E004010012345678"),
        (fp.nxp_custom_request(fp.NxpCommand.RESET_EAS, UID), "FF B1 04 A3 01 E004010012345678"),
        (fp.nxp_custom_request(fp.NxpCommand.EAS_ALARM, UID), "FF B1 04 A5 01 E004010012345678"),
    ],
)
def test_request_bytes(request_, body):
    body_bytes = bytes.fromhex(body)
    head = bytes((len(body_bytes) + 3,)) + body_bytes
    assert fp.build_request(request_) == head + crc_le(head)


def test_advanced_frame_layout():
    frame = fp.build_reply(fp.Reply(0xB0, 0x00, b"\x01\x02", com_adr=0, advanced=True))
    assert frame[:6] == bytes((0x02, 0x00, 10, 0x00, 0xB0, 0x00))
    assert frame[-2:] == crc_le(frame[:-2])
    assert fp.parse_reply(frame).advanced


def test_standard_frame_too_long_is_refused_when_building():
    with pytest.raises(ValueError, match="advanced"):
        fp.build_request(fp.Request(0xB0, bytes(253)))
    assert len(fp.build_request(fp.Request(0xB0, bytes(253), advanced=True))) == 260


# -- round trips ----------------------------------------------------------------------------------------

byte = st.integers(0, 255)


@st.composite
def requests(draw):
    advanced = draw(st.booleans())
    data = draw(st.binary(max_size=600 if advanced else 250))
    return fp.Request(draw(byte), data, draw(byte), advanced)


@st.composite
def replies(draw):
    advanced = draw(st.booleans())
    data = draw(st.binary(max_size=600 if advanced else 249))
    return fp.Reply(draw(byte), draw(byte), data, draw(byte), advanced)


@given(requests())
def test_request_round_trip(request_):
    assert fp.parse_request(fp.build_request(request_)) == request_


@given(replies())
def test_reply_round_trip(reply):
    assert fp.parse_reply(fp.build_reply(reply)) == reply


@given(replies(), st.data())
def test_decoder_reassembles_a_frame_split_anywhere(reply, data):
    frame = fp.build_reply(reply)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(frame)), max_size=6)))
    got = frames_fed_in_pieces(fp.FrameDecoder("reply"), frame, cuts)
    assert got == [reply]


def hides_a_frame(buf: bytes, within: int) -> bool:
    """Does a well-formed frame (by chance: 1 in 65536 per header) start in the first ``within`` bytes?"""
    for i in range(within):
        length = int.from_bytes(buf[i + 1 : i + 3], "big") if buf[i] == fp.STX else buf[i]
        try:
            fp.parse_reply(buf[i : i + length])
        except fp.FeigFrameError:
            continue
        return True
    return False


@given(st.binary(max_size=40), replies())
def test_decoder_skips_garbage_before_a_frame(garbage, reply):
    stream = garbage + fp.build_reply(reply)
    assume(not hides_a_frame(stream, len(garbage)))  # such garbage is a frame, not garbage
    check_garbage_is_skipped(fp.FrameDecoder("reply"), stream, garbage, reply)


def test_a_garbage_length_byte_waits_for_the_line_to_go_quiet():
    reply = fp.Reply(0xB0, 0x00, b"\x00")
    decoder = fp.FrameDecoder("reply")
    decoder.feed(b"\xff" + fp.build_reply(reply))  # 0xFF reads as "255-byte frame follows"
    assert decoder.next_frame() is None
    assert decoder.next_frame(line_idle=True) == reply


def test_knowing_the_expected_command_skips_garbage_at_once_even_byte_by_byte():
    reply = fp.Reply(0xB0, 0x00, fp.build_inventory_data([fp.InventoryEntry(3, 0, UID)]))
    decoder = fp.FrameDecoder("reply", expect_command=0xB0)
    got = []
    for b in b"\xff\x20\x30" + fp.build_reply(reply):
        decoder.feed(bytes((b,)))
        if (frame := decoder.next_frame()) is not None:
            got.append(frame)
    assert got == [reply]
    assert decoder.skipped == 3


def test_noise_then_a_reply_arriving_byte_by_byte():
    reply = fp.Reply(0xB0, 0x00, fp.build_inventory_data([fp.InventoryEntry(3, 0, UID)]))
    decoder = fp.FrameDecoder("reply")
    got = []
    for b in b"\x00\x00\x01\x04\x03" + fp.build_reply(reply):
        decoder.feed(bytes((b,)))
        if (frame := decoder.next_frame()) is not None:
            got.append(frame)
    assert got == [reply]
    assert decoder.skipped == 5


def test_bad_crc_is_reported_with_raw_bytes_and_the_decoder_recovers():
    good = fp.build_reply(fp.Reply(0xB0, 0x01))
    bad = good[:-1] + bytes((good[-1] ^ 0xFF,))
    decoder = fp.FrameDecoder("reply")
    decoder.feed(bad)
    with pytest.raises(fp.FeigFrameError) as caught:
        decoder.next_frame()
    assert caught.value.raw == bad
    decoder.feed(good)
    assert decoder.next_frame() == fp.Reply(0xB0, 0x01)
    assert decoder.next_frame() is None


def test_partial_frame_waits_for_more():
    frame = fp.build_request(fp.inventory_request())
    decoder = fp.FrameDecoder("request")
    decoder.feed(frame[:-1])
    assert decoder.next_frame() is None
    decoder.feed(frame[-1:])
    assert decoder.next_frame() == fp.inventory_request()


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x05", b"\x04\xff\xb0\x00", SOFTWARE_VERSION_REPLY[:-1], SOFTWARE_VERSION_REPLY + b"\x00"],
)
def test_parse_reply_rejects_non_frames(raw):
    with pytest.raises(fp.FeigFrameError):
        fp.parse_reply(raw)


# -- fuzzing: only the typed error, never a hang ----------------------------------------------------------


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=80), max_size=8), st.sampled_from(["request", "reply"]))
def test_decoder_on_arbitrary_bytes_only_raises_frame_errors_and_terminates(chunks, kind):
    check_decoder_terminates_raising_only_frame_errors(fp.FrameDecoder(kind), chunks, fp.FeigFrameError)


@given(st.binary(max_size=300))
def test_one_shot_parsers_on_arbitrary_bytes(raw):
    codecs = ((fp.parse_reply, fp.build_reply), (fp.parse_request, fp.build_request))
    check_one_shot_parsers(raw, codecs, fp.FeigFrameError)


def test_one_shot_parser_accepts_a_frame_hidden_in_random_looking_bytes():
    raw = fp.build_reply(fp.Reply(0x66, 0x00, b"\x9a\x01"))
    assert fp.parse_reply(raw).data == b"\x9a\x01"


@given(byte, st.binary(max_size=80))
def test_payload_parsers_on_arbitrary_replies_raise_only_protocol_errors(status, data):
    reply = fp.Reply(0xB0, status, data)
    for parse in (
        fp.parse_inventory,
        fp.parse_read_blocks,
        lambda r: fp.parse_system_info(r, UID),
        fp.parse_write_status,
        fp.parse_eas_alarm,
    ):
        try:
            parse(reply)
        except fp.FeigStatusError as exc:
            assert exc.status == status
        except fp.FeigFrameError as exc:
            assert exc.raw == data


@given(st.binary(max_size=80))
def test_request_payload_parsers_on_arbitrary_bytes(data):
    for parse in (fp.parse_write_blocks_request, fp.parse_addressed_request, fp.parse_custom_request):
        try:
            decoded = parse(data)
        except fp.FeigFrameError as exc:
            assert exc.raw == data
        else:
            assert decoded.uid == data[2:10] or decoded.uid == data[3:11]


# -- ISO host payloads --------------------------------------------------------------------------------------


def test_inventory_pages_and_statuses():
    entries = [fp.InventoryEntry(3, 0x06, UID), fp.InventoryEntry(3, 0x00, bytes.fromhex("E007000011223344"))]
    page = fp.parse_inventory(fp.Reply(0xB0, fp.Status.MORE_DATA, fp.build_inventory_data(entries)))
    assert page == fp.InventoryPage(tuple(entries), more=True)
    assert fp.parse_inventory(fp.Reply(0xB0, fp.Status.OK, fp.build_inventory_data(entries))).more is False
    assert fp.parse_inventory(fp.Reply(0xB0, fp.Status.NO_TRANSPONDER)) == fp.InventoryPage((), False)
    with pytest.raises(fp.FeigFrameError):
        fp.parse_inventory(fp.Reply(0xB0, 0x00, b"\x02" + bytes(10)))  # announces 2, carries 1
    with pytest.raises(fp.FeigStatusError) as caught:
        fp.parse_inventory(fp.Reply(0xB0, fp.Status.UNKNOWN_COMMAND))
    assert caught.value.status == 0x80
    assert "UNKNOWN_COMMAND" in str(caught.value)


def test_read_blocks_reply_is_returned_in_memory_order():
    # DB-N 2, DB-SIZE 4, then SEC-STATUS + block bytes as FEIG sends them (reversed in each block)
    reply = fp.Reply(0xB0, 0x00, bytes.fromhex("02 04 00 44434241 01 48474645"))
    assert fp.parse_read_blocks(reply) == fp.BlockData(4, b"ABCDEFGH", (0, 1))


@given(st.sampled_from([1, 4, 8]), st.integers(1, 16), st.data())
def test_read_blocks_round_trip(size, count, data):
    memory = data.draw(st.binary(min_size=size * count, max_size=size * count))
    reply = fp.Reply(0xB0, 0x00, fp.build_read_blocks_data(size, memory))
    assert fp.parse_read_blocks(reply).data == memory


@given(st.sampled_from([4, 8]), st.integers(1, 16), byte, st.data())
def test_write_blocks_round_trip(size, count, first, data):
    memory = data.draw(st.binary(min_size=size * count, max_size=size * count))
    request = fp.write_blocks_request(UID, first, size, memory)
    assert fp.parse_write_blocks_request(request.data) == fp.WriteBlocks(UID, first, size, memory)


@given(byte, byte, st.integers(1, 32), st.integers(1, 256), byte)
def test_system_info_round_trip(dsfid, afi, block_size, block_count, ic_ref):
    info = SystemInfo(UID, dsfid, afi, block_count, block_size, ic_ref)
    reply = fp.Reply(0xB0, 0x00, fp.build_system_info_data(info))
    assert fp.parse_system_info(reply, UID) == info


def test_system_info_layout():
    # DSFID, UID, AFI, MEM-SIZE (block size - 1, blocks - 1), IC-REF
    data = bytes.fromhex("3E E004010012345678 07 03 1B 01")
    info = fp.parse_system_info(fp.Reply(0xB0, 0x00, data), UID)
    assert info == SystemInfo(UID, dsfid=0x3E, afi=0x07, block_count=28, block_size=4, ic_reference=1)


def test_iso_error_is_carried_in_the_status_error():
    with pytest.raises(fp.FeigStatusError) as caught:
        fp.parse_write_status(fp.Reply(0xB0, fp.Status.ISO15693_ERROR, b"\x12"))
    assert (caught.value.status, caught.value.iso_error) == (0x95, 0x12)
    assert "locked" in str(caught.value)


def test_eas_alarm_statuses():
    assert fp.parse_eas_alarm(fp.Reply(0xB1, 0x00)) is True
    assert fp.parse_eas_alarm(fp.Reply(0xB1, 0x01)) is False
    with pytest.raises(fp.FeigStatusError):
        fp.parse_eas_alarm(fp.Reply(0xB1, fp.Status.WRONG_TRANSPONDER_TYPE))


def test_custom_request_round_trip():
    request = fp.nxp_custom_request(fp.NxpCommand.RESET_EAS, UID)
    assert fp.parse_custom_request(request.data) == fp.CustomRequest(0x04, 0xA3, UID)


def test_status_names_cover_unknown_codes():
    assert fp.status_name(0x94) == "MORE_DATA"
    assert fp.status_name(0x42) == "UNKNOWN_0x42"


def test_builders_refuse_bad_arguments():
    with pytest.raises(ValueError):
        fp.read_blocks_request(UID[:7], 0, 1)
    with pytest.raises(ValueError):
        fp.write_blocks_request(UID, 0, 4, b"abc")
    with pytest.raises(ValueError):
        fp.write_afi_request(UID, 256)
