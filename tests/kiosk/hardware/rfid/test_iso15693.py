"""ISO 15693 request frames and responses: published vectors, round trips, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.hardware.rfid.readers import iso15693 as iso
from kiosk.hardware.rfid.readers.base import SystemInfo, TagOperationFailed

UID = bytes.fromhex("E004010012345678")
UID_ON_AIR = bytes.fromhex("78563412000104E0")

# An ICODE SLI answering Get System Information through an ACS ACR1552U (TLV 97 of a transparent
# exchange, quoted in an NXP community thread; see shared/reference/rfid.md section 5 for the format).
ACR1552_SYSTEM_INFO = bytes.fromhex("000F2E985C8A000104E000001B0301")


def test_published_system_info_answer_parses_to_icode_geometry() -> None:
    info = iso.parse_system_info(ACR1552_SYSTEM_INFO)
    assert info == SystemInfo(
        uid=bytes.fromhex("E00401008A5C982E"), dsfid=0, afi=0, block_count=28, block_size=4, ic_reference=1
    )


def test_requests_match_the_frames_in_the_reference() -> None:
    # rfid.md section 5: "95 02 02 2B" (system info) and "95 04 02 A3 04" (NXP reset EAS), unaddressed.
    assert iso.get_system_info().encode() == bytes.fromhex("022B")
    assert iso.nxp_reset_eas(None).encode() == bytes.fromhex("02A304")
    assert iso.write_afi(None, 0xC2).encode() == bytes.fromhex("0227C2")


def test_addressed_requests_carry_the_uid_lsb_first_after_the_manufacturer_code() -> None:
    assert iso.nxp_set_eas(UID).encode() == bytes.fromhex("22A204") + UID_ON_AIR
    assert iso.read_multiple_blocks(UID, 2, 8).encode() == bytes.fromhex("2223") + UID_ON_AIR + b"\x02\x07"
    assert iso.write_single_block(UID, 5, b"ABCD").encode() == b"\x22\x21" + UID_ON_AIR + b"\x05ABCD"
    assert iso.read_single_block(UID, 3).encode() == b"\x22\x20" + UID_ON_AIR + b"\x03"
    assert iso.nxp_eas_alarm(UID).encode() == b"\x22\xa5\x04" + UID_ON_AIR


def test_write_alike_commands_are_marked_for_the_longer_timeout() -> None:
    assert iso.write_afi(UID, 7).write_alike and iso.nxp_set_eas(UID).write_alike
    assert not iso.read_single_block(UID, 0).write_alike and not iso.nxp_eas_alarm(UID).write_alike


def test_error_flag_becomes_a_typed_error_with_the_iso_code() -> None:
    with pytest.raises(iso.TagErrorResponse) as err:
        iso.parse_write_response(b"\x01\x12")
    assert err.value.code == 0x12
    assert "locked" in str(err.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda: iso.read_single_block(UID, 256),
        lambda: iso.read_multiple_blocks(UID, 0, 0),
        lambda: iso.write_single_block(UID, 0, b""),
        lambda: iso.write_afi(UID, -1),
        lambda: iso.get_system_info(b"\xe0\x04").encode(),
        lambda: iso.Request(0xA2, UID).encode(),  # custom command without manufacturer code
        lambda: iso.Request(0x20, UID, b"\x00", manufacturer=4).encode(),
    ],
)
def test_bad_arguments_give_a_frame_error(call) -> None:
    with pytest.raises(iso.FrameError):
        call()


uids = st.binary(min_size=7, max_size=7).map(lambda rest: b"\xe0" + rest)
plain_flags = st.integers(0, 255).map(lambda f: f & ~(iso.FLAG_ADDRESS | iso.FLAG_INVENTORY))


@st.composite
def requests(draw: st.DrawFn) -> iso.Request:
    command = draw(st.integers(0, 255))
    manufacturer = draw(st.integers(0, 255)) if iso.is_custom(command) else None
    return iso.Request(
        command,
        draw(st.none() | uids),
        draw(st.binary(max_size=40)),
        manufacturer,
        draw(plain_flags),
    )


@given(requests())
def test_decode_request_inverts_encode(request: iso.Request) -> None:
    assert iso.decode_request(request.encode()) == request


@st.composite
def system_infos(draw: st.DrawFn) -> SystemInfo:
    has_memory = draw(st.booleans())
    byte = st.none() | st.integers(0, 255)
    return SystemInfo(
        uid=draw(uids),
        dsfid=draw(byte),
        afi=draw(byte),
        block_count=draw(st.integers(1, 256)) if has_memory else None,
        block_size=draw(st.integers(1, 32)) if has_memory else None,
        ic_reference=draw(byte),
    )


@given(system_infos())
def test_parse_system_info_inverts_encode(info: SystemInfo) -> None:
    assert iso.parse_system_info(iso.encode_system_info(info)) == info


@given(st.integers(1, 32), st.integers(1, 8), st.data())
def test_read_blocks_returns_exactly_the_block_bytes(size: int, count: int, data: st.DataObject) -> None:
    blocks = data.draw(st.binary(min_size=size * count, max_size=size * count))
    assert iso.parse_read_blocks(b"\x00" + blocks, size, count) == blocks
    with pytest.raises(iso.FrameError):
        iso.parse_read_blocks(b"\x00" + blocks + b"\x00", size, count)


@given(st.integers(0, 255))
def test_any_error_code_round_trips(code: int) -> None:
    with pytest.raises(iso.TagErrorResponse) as err:
        iso.parse_response(iso.encode_error(code))
    assert err.value.code == code


@given(st.binary(max_size=64), st.integers(1, 32), st.integers(1, 8))
def test_fuzzed_responses_raise_only_typed_errors(frame: bytes, size: int, count: int) -> None:
    checks = [
        (iso.parse_system_info, lambda info: info.uid == frame[2:10][::-1]),
        (iso.parse_write_response, lambda result: result is None and len(frame) == 1 and not frame[0] & 1),
        (iso.parse_eas_alarm, lambda sequence: sequence == frame[1:]),
        (lambda f: iso.parse_read_blocks(f, size, count), lambda blocks: len(blocks) == size * count),
    ]
    for parse, holds in checks:
        try:
            result = parse(frame)
        except TagOperationFailed:
            continue
        assert holds(result)


@given(st.binary(max_size=64))
def test_fuzzed_requests_decode_to_the_same_bytes_or_a_frame_error(frame: bytes) -> None:
    try:
        request = iso.decode_request(frame)
    except iso.FrameError:
        return
    assert request.encode() == frame
