"""M3810Reader over pyserial against the simulated 3M 810 pad on a real pty, and security writes."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import serial
from serial_reader_checks import check_replug_on_a_new_path, unplug_and_replug_under

from hardware_mocks.m3_810_pty import DEMO_TAGS, M3PtySimulator, SimTag, make_uid, rfid501_tag
from hardware_mocks.sim_reader import run_console
from kiosk.hardware.rfid.models import detect, rfid501
from kiosk.hardware.rfid.readers import m3_810_protocol as mp
from kiosk.hardware.rfid.readers.base import (
    ReaderCapability,
    ReaderUnavailable,
    TagInfo,
    TagNotInField,
    TagOperationFailed,
)
from kiosk.hardware.rfid.readers.m3_810 import M3810Reader
from kiosk.hardware.rfid.security import (
    SecurityReading,
    SecurityScheme,
    SecurityState,
    SecurityWriteIncomplete,
    read_security,
    set_security,
)

BOOK_UID, BOOK_BARCODE, _ = DEMO_TAGS[0]


@pytest.fixture
def sim(tmp_path) -> Iterator[M3PtySimulator]:
    with M3PtySimulator(link_path=str(tmp_path / "m3-810")) as simulator:
        yield simulator


@pytest.fixture
def reader(sim) -> Iterator[M3810Reader]:
    m3 = M3810Reader(sim.path, reply_timeout=0.3, retries=2)
    m3.open()
    yield m3
    m3.close()


@pytest.fixture
def book(sim) -> SimTag:
    """The book of the published live capture: RFID501, barcode 1302099999, 8 blocks of 4 bytes."""
    tag = rfid501_tag(BOOK_UID, BOOK_BARCODE, afi=0xD7)
    sim.place(tag)
    return tag


def tag(n: int, data: bytes = b"", **kwargs) -> SimTag:
    return SimTag.create(make_uid(n), data, **kwargs)


def commands(sim: M3PtySimulator) -> list[int]:
    """D6 command bytes the pad received (the D5 probe's first byte would read as 0x04, a write)."""
    return [r.command for r in sim.requests if r.start == mp.START]


# -- opening -------------------------------------------------------------------------------------------


def test_capabilities_include_stack_reading_and_security():
    for capability in (ReaderCapability.MULTI_TAG_INVENTORY, ReaderCapability.AFI, ReaderCapability.EAS):
        assert capability in M3810Reader.capabilities


def test_open_uses_19200_8n1_and_the_published_probe(sim, reader):
    assert reader.is_open
    port = reader._serial
    assert (port.baudrate, port.bytesize, port.parity, port.stopbits) == (19200, 8, "N", 1)
    assert mp.build_request(sim.requests[0]) == bytes.fromhex("D5 0005 04 00 11 8C66")
    assert reader.hardware_version == (10, 5, 0, 2)


def test_the_simulated_pad_answers_the_live_capture_read_byte_for_byte(sim, book):
    # dpavlin/koha-rfid-3m810-js tests/fixtures/live-capture.txt, reply to "02 <UID> 00 08" (BCC stripped)
    captured = bytes.fromhex(
        "0200e004010031269117080000041100010100313330320200303939390300393900000400000000000500000000"
        "00060000000000070000000000"
    )
    reply = sim.handle(mp.read_blocks_request(BOOK_UID, 0, 8))
    assert mp.build_reply(reply)[3:-2] == captured


# -- inventory and reading -----------------------------------------------------------------------------


def test_inventory_empty_single_and_a_stack(sim, reader):
    assert reader.inventory() == []
    sim.place(tag(1))
    assert reader.inventory() == [TagInfo(make_uid(1))]
    sim.place(*(tag(n) for n in range(2, 13)))
    assert sorted(t.uid for t in reader.inventory()) == [make_uid(n) for n in range(1, 13)]


def test_rfid501_book_reads_and_decodes(reader, book):
    info = reader.system_info(book.uid)
    assert (info.block_count, info.block_size, info.afi) == (8, 4, 0xD7)
    memory = reader.read_memory(book.uid)
    assert memory == bytes(book.memory)
    assert rfid501.parse(memory).barcode == BOOK_BARCODE
    assert detect.decode_tag(memory).item_id == BOOK_BARCODE


def test_tag_with_8_byte_blocks_is_read_with_its_own_block_size(sim, reader):
    big = tag(2, bytes(i % 251 for i in range(256)), block_size=8, block_count=32)
    sim.place(big)
    info = reader.system_info(big.uid)
    assert (info.block_size, info.block_count) == (8, 32)
    sim.requests.clear()
    assert reader.read_memory(big.uid) == bytes(big.memory)
    reads = [r for r in sim.requests if r.command == mp.Command.READ_MULTIBLOCK]
    assert [r.data[8:] for r in reads] == [bytes((first, 8)) for first in (0, 8, 16, 24)]


def test_block_size_comes_from_the_reply_even_without_tag_info(sim, reader):
    sim.supports_tag_info = False
    big = tag(3, bytes(range(64)), block_size=8, block_count=8, afi=0xDA)
    sim.place(big)
    info = reader.system_info(big.uid)
    assert (info.block_size, info.block_count, info.afi) == (8, None, 0xDA)
    assert reader.read_blocks(big.uid, 1, 2) == bytes(range(8, 24))
    with pytest.raises(TagOperationFailed, match="memory size"):
        reader.read_memory(big.uid)  # without the block count the whole memory is unknown


def test_reading_past_the_end_names_the_error(reader, book):
    with pytest.raises(TagOperationFailed) as caught:
        reader.read_blocks(book.uid, 6, 4)
    assert caught.value.code == mp.ErrorCode.MEMORY_NOT_AVAILABLE
    assert "MEMORY_NOT_AVAILABLE" in str(caught.value)


# -- writing -------------------------------------------------------------------------------------------------


def test_write_blocks_from_an_offset_and_across_requests(sim, reader):
    t = tag(1, block_count=28)
    sim.place(t)
    data = bytes(range(40))  # 10 blocks: 8 in the first request, 2 in the second
    reader.write_blocks(t.uid, 3, data)
    assert bytes(t.memory[12:52]) == data
    assert bytes(t.memory[:12]) == bytes(12)
    writes = [
        mp.parse_write_blocks_request(r)
        for r in sim.requests
        if r.start == mp.START and r.command == mp.Command.WRITE_MULTIBLOCK
    ]
    assert [(w.first, w.count) for w in writes] == [(3, 8), (11, 2)]


def test_rewriting_an_rfid501_book(reader, book):
    memory = rfid501.encode(rfid501.Rfid501Tag("1302000042", item_type=1, branch=3, library=7))
    reader.write_blocks(book.uid, 0, memory)
    assert rfid501.parse(reader.read_memory(book.uid)).barcode == "1302000042"


def test_locked_block_stops_the_write_with_its_code(sim, reader):
    t = tag(1, block_count=8, locked_blocks={5})
    sim.place(t)
    with pytest.raises(TagOperationFailed) as caught:
        reader.write_blocks(t.uid, 4, b"ABCDEFGH")
    assert caught.value.code == mp.ErrorCode.LOCKED
    assert bytes(t.memory[16:24]) == b"ABCD" + bytes(4)  # block by block, stopped at the lock
    with pytest.raises(ValueError):
        reader.write_blocks(t.uid, 0, b"odd")


def test_afi_and_eas_round_trip(reader, book):
    reader.write_afi(book.uid, 0xDA)
    assert reader.read_afi(book.uid) == 0xDA == book.afi
    reader.set_eas(book.uid, False)
    assert book.eas is False
    assert reader.eas_enabled(book.uid) is False
    reader.set_eas(book.uid, True)
    assert reader.eas_enabled(book.uid) is True


def test_eas_reported_as_silence_is_told_apart_from_a_tag_that_left(sim, reader, book):
    sim.eas_silence_as_no_transponder = True
    reader.set_eas(book.uid, False)
    assert reader.eas_enabled(book.uid) is False
    sim.leave_after(book.uid, 1)  # answers the EAS check (silently), gone for the presence check
    with pytest.raises(TagNotInField):
        reader.eas_enabled(book.uid)


def test_eas_on_a_non_nxp_tag_is_an_operation_failure(sim, reader):
    ti = SimTag.create(make_uid(9, manufacturer=0x07))
    sim.place(ti)
    with pytest.raises(TagOperationFailed) as caught:
        reader.set_eas(ti.uid, False)
    assert caught.value.code == mp.ErrorCode.NOT_SUPPORTED


# -- field edge, retries, faults --------------------------------------------------------------------------


def test_writes_without_enough_power_are_retried_a_bounded_number_of_times(sim, reader, book):
    sim.power_fail_next_writes(2)
    reader.write_afi(book.uid, 0xDA)
    assert book.afi == 0xDA
    assert reader.transient_retries == 2
    sim.power_fail_next_writes(10)
    sim.requests.clear()
    with pytest.raises(TagOperationFailed) as caught:
        reader.write_afi(book.uid, 0xD7)
    assert caught.value.code == mp.ErrorCode.MEMORY_NOT_PUT
    assert commands(sim) == [mp.Command.WRITE_AFI] * (reader.retries + 1)
    assert book.afi == 0xDA


def test_a_tag_at_the_field_edge_that_misses_a_command_is_read_anyway(sim, reader, book):
    sim.miss_next(book.uid, 2)
    assert reader.read_blocks(book.uid, 0, 1) == bytes(book.memory[:4])


def test_absent_tag_is_retried_then_reported_not_in_field(sim, reader):
    sim.requests.clear()
    with pytest.raises(TagNotInField, match="E004010000000007"):
        reader.write_afi(make_uid(7), 0xDA)
    assert len(sim.requests) == reader.retries + 1


def test_tag_pulled_away_mid_write(sim, reader):
    t = tag(1, block_count=28)
    sim.place(t)
    reader.system_info(t.uid)
    sim.leave_after(t.uid, 1)
    data = bytes(range(1, 65))
    with pytest.raises(TagNotInField):
        reader.write_blocks(t.uid, 0, data)  # the second request of 8 blocks finds the tag gone
    assert bytes(t.memory[:64]) == data[:32] + bytes(32)


def test_a_corrupted_reply_is_retried(sim, reader, book):
    sim.corrupt_next_replies(1)
    assert reader.inventory() == [TagInfo(book.uid)]
    assert reader.frame_errors == 1


def test_persistently_corrupted_replies_are_an_operation_failure(sim, reader):
    sim.corrupt_next_replies(10)
    with pytest.raises(TagOperationFailed, match="garbled"):
        reader.inventory()


def test_line_noise_and_an_unsolicited_reply_before_the_answer_are_skipped(sim, reader, book):
    stray = mp.build_reply(mp.Reply(0xFE, 0, mp.build_inventory_data([book.uid])))
    sim.noise_before_next_reply(b"\x00\xd6\x00" + stray)
    assert reader.read_blocks(book.uid, 0, 2) == bytes(book.memory[:8])
    assert reader.frame_errors == 0


def test_mute_reader_is_unavailable_after_the_timeout(sim, reader):
    sim.muted = True
    with pytest.raises(ReaderUnavailable, match="no reply"):
        reader.inventory()


def test_unplug_names_the_port_and_replug_on_the_same_link_works(sim, reader, book):
    unplug_and_replug_under(sim, reader)
    assert reader.inventory() == [TagInfo(book.uid)]


def test_replug_on_a_new_path():
    check_replug_on_a_new_path(M3PtySimulator(), lambda path: M3810Reader(path, reply_timeout=0.3), tag(1))


def test_open_of_a_missing_port_names_it(tmp_path):
    with pytest.raises(ReaderUnavailable, match="ttyUSB9"):
        M3810Reader(str(tmp_path / "ttyUSB9")).open()


def test_a_device_that_does_not_answer_the_probe_is_unavailable(sim):
    sim.muted = True
    m3 = M3810Reader(sim.path, reply_timeout=0.2)
    with pytest.raises(ReaderUnavailable, match="no reply"):
        m3.open()
    assert not m3.is_open


def test_a_device_answering_garbage_to_the_probe_is_unavailable(sim):
    sim.corrupt_next_replies(10)
    m3 = M3810Reader(sim.path, reply_timeout=0.2, retries=1)
    with pytest.raises(ReaderUnavailable, match="probe failed"):
        m3.open()
    assert not m3.is_open


def test_close_is_idempotent_and_operations_after_close_are_unavailable(reader):
    reader.close()
    reader.close()
    with pytest.raises(ReaderUnavailable, match="not open"):
        reader.inventory()


def test_the_simulated_pad_resyncs_after_noise_from_the_host(sim, book):
    with serial.Serial(sim.path, 19200, timeout=1) as port:
        port.write(b"\xd6\x01" + mp.build_request(mp.get_afi_request(book.uid)))
        decoder = mp.FrameDecoder("reply")
        decoder.feed(port.read(3 + 2 + 8 + 1 + 2))
        reply = decoder.next_frame()
    assert mp.parse_afi(reply, book.uid) == 0xD7
    assert sim.frames_rejected == 0


def test_the_feig_console_drives_this_pad_too(sim, reader):
    out = io.StringIO()
    uid = make_uid(42).hex().upper()
    run_console(sim, [f"place {uid} 41424344", "list", f"afi {uid} 0xDA", "quit"], out)
    assert out.getvalue().splitlines() == ["ok", f"ok {uid}", "ok"]
    assert reader.read_blocks(make_uid(42), 0, 1) == b"ABCD"
    assert reader.read_afi(make_uid(42)) == 0xDA


# -- security.py set-and-verify with a 3M scheme -------------------------------------------------------

THREE_M = SecurityScheme.three_m()


def test_3m_checkout_and_return_with_afi_only(sim, reader, book):
    assert set_security(reader, book.uid, SecurityState.ON_LOAN, THREE_M) == SecurityReading(0xDA, None)
    assert (book.afi, book.eas) == (0xDA, True)  # EAS untouched: this scheme's gates read AFI only
    assert set_security(reader, book.uid, SecurityState.IN_LIBRARY, THREE_M) == SecurityReading(0xD7, None)
    assert book.afi == 0xD7
    assert THREE_M.state_of(read_security(reader, book.uid, THREE_M)) is SecurityState.IN_LIBRARY
    assert mp.Command.EAS_CONTROL not in commands(sim)


def test_3m_scheme_with_eas(reader, book):
    scheme = SecurityScheme.three_m(use_eas=True)
    assert set_security(reader, book.uid, SecurityState.ON_LOAN, scheme) == SecurityReading(0xDA, False)
    assert (book.afi, book.eas) == (0xDA, False)


def test_field_edge_power_failures_are_absorbed_by_the_driver(sim, reader, book):
    sim.power_fail_next_writes(2)
    assert set_security(reader, book.uid, SecurityState.ON_LOAN, THREE_M).afi == 0xDA


def test_book_pulled_away_during_checkout_asks_to_put_it_back(sim, reader, book):
    sim.leave_after(book.uid, 1)  # the AFI write lands, the read-back finds no tag
    with pytest.raises(SecurityWriteIncomplete) as caught:
        set_security(reader, book.uid, SecurityState.ON_LOAN, THREE_M)
    assert caught.value.left_field
    assert caught.value.observed.afi == 0xDA
    assert reader.name in str(caught.value)


def test_locked_afi_is_the_readers_error_not_a_put_it_back(sim, reader, book):
    book.afi_locked = True
    with pytest.raises(TagOperationFailed) as caught:
        set_security(reader, book.uid, SecurityState.ON_LOAN, THREE_M)
    assert caught.value.code == mp.ErrorCode.LOCKED
    assert book.afi == 0xD7
