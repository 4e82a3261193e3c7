"""FeigReader over pyserial against the simulated FEIG reader on a real pty."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serial_reader_checks import check_replug_on_a_new_path, unplug_and_replug_under

from hardware_mocks.feig_pty import FeigPtySimulator, SimTag, make_uid
from kiosk.hardware.rfid.readers import feig_protocol as fp
from kiosk.hardware.rfid.readers.base import (
    ReaderCapability,
    ReaderUnavailable,
    TagInfo,
    TagNotInField,
    TagOperationFailed,
)
from kiosk.hardware.rfid.readers.feig import FeigReader


@pytest.fixture
def sim(tmp_path) -> Iterator[FeigPtySimulator]:
    with FeigPtySimulator(link_path=str(tmp_path / "feig")) as simulator:
        yield simulator


@pytest.fixture
def reader(sim) -> Iterator[FeigReader]:
    feig = FeigReader(sim.path, reply_timeout=0.3, retries=2)
    feig.open()
    yield feig
    feig.close()


def tag(n: int, data: bytes = b"", **kwargs) -> SimTag:
    return SimTag.create(make_uid(n), data, **kwargs)


def test_capabilities_include_stack_reading():
    assert ReaderCapability.MULTI_TAG_INVENTORY in FeigReader.capabilities
    assert ReaderCapability.EAS in FeigReader.capabilities


def test_open_probes_with_8e1_at_38400(sim, reader):
    assert reader.is_open
    assert reader._serial.baudrate == 38400
    assert (reader._serial.parity, reader._serial.bytesize, reader._serial.stopbits) == ("E", 8, 1)
    assert sim.requests[0].command == fp.Command.BAUD_RATE_DETECTION


def test_inventory_empty_single_and_a_stack_larger_than_one_reply(sim, reader):
    assert reader.inventory() == []
    sim.place(tag(1, dsfid=0x3E))
    assert reader.inventory() == [TagInfo(make_uid(1), dsfid=0x3E)]
    sim.place(*(tag(n) for n in range(2, 11)))
    sim.requests.clear()
    found = reader.inventory()
    assert sorted(t.uid for t in found) == sorted(make_uid(n) for n in range(1, 11))
    modes = [r.data[1] for r in sim.requests]
    assert modes == [0x00, fp.INVENTORY_MORE]  # page size 6: the reader answered 0x94 once


def test_read_memory_of_4_and_8_byte_block_tags(sim, reader):
    slix = tag(1, bytes(range(112)))
    infineon = tag(2, bytes(i % 251 for i in range(256)), block_size=8, block_count=32)
    sim.place(slix, infineon)
    assert reader.read_memory(slix.uid) == bytes(range(112))
    assert reader.read_memory(infineon.uid) == bytes(infineon.memory)
    info = reader.system_info(infineon.uid)
    assert (info.block_size, info.block_count) == (8, 32)


def test_read_without_known_block_size_falls_back_to_shorter_requests(sim, reader):
    big_blocks = tag(3, bytes(range(200)), block_size=8, block_count=32)
    sim.place(big_blocks)
    # no system info first: the driver assumes 4-byte blocks, asks for 32, gets a range error, halves
    assert reader.read_blocks(big_blocks.uid, 0, 32) == bytes(big_blocks.memory)


def test_write_blocks_and_locked_block(sim, reader):
    t = tag(1, block_count=28, locked_blocks={5})
    sim.place(t)
    reader.write_blocks(t.uid, 1, b"ABCDEFGH")
    assert bytes(t.memory[4:12]) == b"ABCDEFGH"
    with pytest.raises(TagOperationFailed) as caught:
        reader.write_blocks(t.uid, 4, b"12345678")
    assert caught.value.code == 0x12
    with pytest.raises(ValueError):
        reader.write_blocks(t.uid, 0, b"odd")


def test_afi_and_eas_round_trip(sim, reader):
    t = tag(1, afi=0x07, eas=True)
    sim.place(t)
    reader.write_afi(t.uid, 0xC2)
    assert reader.read_afi(t.uid) == 0xC2 == t.afi
    reader.set_eas(t.uid, False)
    assert t.eas is False
    assert reader.eas_enabled(t.uid) is False
    reader.set_eas(t.uid, True)
    assert reader.eas_enabled(t.uid) is True


def test_eas_silence_from_a_tag_that_left_is_not_read_as_eas_off(sim, reader):
    t = tag(1, eas=False)
    sim.place(t)
    sim.leave_after(t.uid, 1)  # answers the EAS ALARM (silently), gone for the presence check
    with pytest.raises(TagNotInField):
        reader.eas_enabled(t.uid)


def test_eas_on_a_non_nxp_tag_is_an_operation_failure(sim, reader):
    ti = SimTag.create(make_uid(9, manufacturer=0x07))
    sim.place(ti)
    with pytest.raises(TagOperationFailed) as caught:
        reader.set_eas(ti.uid, False)
    assert caught.value.code == fp.Status.WRONG_TRANSPONDER_TYPE


def test_absent_tag_is_retried_then_reported_not_in_field(sim, reader):
    sim.requests.clear()
    with pytest.raises(TagNotInField, match="E004010000000007"):
        reader.write_afi(make_uid(7), 0xC2)
    assert len(sim.requests) == reader.retries + 1


def test_a_corrupted_reply_is_retried(sim, reader):
    sim.place(tag(1))
    sim.corrupt_next_replies(1)
    assert len(reader.inventory()) == 1
    assert reader.frame_errors == 1


def test_persistently_corrupted_replies_are_an_operation_failure(sim, reader):
    sim.corrupt_next_replies(10)
    with pytest.raises(TagOperationFailed, match="garbled"):
        reader.inventory()


def test_line_noise_before_a_reply_is_skipped(sim, reader):
    sim.place(tag(1))
    sim.noise_before_next_reply(b"\x00\x01\x00\x03")
    assert [t.uid for t in reader.inventory()] == [make_uid(1)]
    assert reader.frame_errors == 0


def test_advanced_protocol_frames(sim):
    sim.place(tag(1))
    feig = FeigReader(sim.path, reply_timeout=0.3, advanced_protocol=True)
    with feig:
        assert [t.uid for t in feig.inventory()] == [make_uid(1)]
    assert all(r.advanced for r in sim.requests)


def test_mute_reader_is_unavailable_after_the_timeout(sim, reader):
    sim.muted = True
    with pytest.raises(ReaderUnavailable, match="no reply"):
        reader.inventory()


def test_unplug_then_replug_on_the_same_link(sim, reader):
    sim.place(tag(1))
    unplug_and_replug_under(sim, reader)
    assert [t.uid for t in reader.inventory()] == [make_uid(1)]


def test_replug_on_a_new_path():
    check_replug_on_a_new_path(FeigPtySimulator(), lambda path: FeigReader(path, reply_timeout=0.3), tag(1))


def test_open_of_a_missing_port_names_it(tmp_path):
    missing = str(tmp_path / "ttyUSB9")
    with pytest.raises(ReaderUnavailable, match="ttyUSB9"):
        FeigReader(missing).open()


def test_close_is_idempotent_and_operations_after_close_are_unavailable(reader):
    reader.close()
    reader.close()
    with pytest.raises(ReaderUnavailable, match="not open"):
        reader.inventory()


def test_the_simulator_console_drives_the_pad(sim, reader):
    import io

    from hardware_mocks.feig_pty import run_console

    out = io.StringIO()
    uid = make_uid(42).hex().upper()
    run_console(sim, [f"place {uid} 41424344", "list", f"afi {uid} 0xC2", "eas nope 1", "bogus", "quit", "list"], out)
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["ok", f"ok {uid}", "ok"]
    assert lines[3].startswith("error ") and "hexadecimal" in lines[3]
    assert lines[4:] == ["error unknown command 'bogus' (try help)"]  # nothing after quit
    assert reader.read_blocks(make_uid(42), 0, 1) == b"ABCD"
    assert reader.read_afi(make_uid(42)) == 0xC2


def test_the_simulated_reader_resyncs_after_noise_from_the_host(sim):
    import serial

    sim.place(tag(1))
    with serial.Serial(sim.path, 38400, parity="E", timeout=1) as port:
        port.write(b"\xff" + fp.build_request(fp.inventory_request()))  # 0xFF: "a 255-byte frame"
        decoder = fp.FrameDecoder("reply")
        decoder.feed(port.read(17))  # LEN ADR CMD STATUS, 1 + 10 data bytes, CRC
        reply = decoder.next_frame()
    assert fp.parse_inventory(reply).entries[0].uid == make_uid(1)
    assert sim.frames_rejected == 0  # the noise was skipped, not reported as a bad frame
