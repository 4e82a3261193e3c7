"""PcscReader end to end: pyscard -> the real pcscd -> vpcd -> the simulated tag, in both dialects."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pcsc_harness import SLOT0, SLOT1, SLOT1_PORT, wait_for_card

from hardware_mocks.pcsc_tag import PcscTagSimulator, SimulatedTag
from kiosk.hardware.rfid.readers.base import ReaderCapability, ReaderError, TagNotInField, TagOperationFailed
from kiosk.hardware.rfid.readers.pcsc import AcsDirectTransmit, FrameTransport, PcscReader, TransparentExchange

# A hung pcscd blocks inside C, where pytest-timeout's signal method cannot interrupt: use a thread.
pytestmark = pytest.mark.timeout(60, method="thread")

ICODE_UID = bytes.fromhex("E004010012345678")
DIALECTS: dict[str, type[FrameTransport]] = {"transparent": TransparentExchange, "acs-direct": AcsDirectTransmit}


@dataclass
class Pad:
    sim: PcscTagSimulator
    tag: SimulatedTag
    reader: PcscReader


@pytest.fixture(scope="module", params=sorted(DIALECTS))
def icode_pad(request: pytest.FixtureRequest, pcscd) -> Iterator[Pad]:
    """One ICODE SLIX on slot 0 for the whole module (per dialect); each test re-initialises it."""
    tag = SimulatedTag.icode_slix(ICODE_UID)
    sim = PcscTagSimulator(dialect=request.param)
    sim.place(tag)
    wait_for_card(SLOT0, present=True, atr=tag.atr)
    reader = PcscReader("PCD 00 00", transport=DIALECTS[request.param]())
    reader.open()
    yield Pad(sim, tag, reader)
    reader.close()
    sim.remove()
    wait_for_card(SLOT0, present=False)


@pytest.fixture
def pad(icode_pad: Pad) -> Pad:
    """A freshly programmed tag: random memory, AFI 07, EAS set, nothing locked."""
    tag = icode_pad.tag
    tag.memory[:] = random.Random(7).randbytes(len(tag.memory))
    tag.afi, tag.eas, tag.dsfid = 0x07, True, 0x06
    tag.locked_blocks.clear()
    tag.afi_locked = tag.silent = False
    icode_pad.sim.log.clear()
    return icode_pad


def test_capabilities_say_one_card_at_a_time() -> None:
    caps = PcscReader("x").capabilities
    assert ReaderCapability.MULTI_TAG_INVENTORY not in caps
    assert ReaderCapability.AFI in caps and ReaderCapability.EAS in caps and ReaderCapability.PATRON_CARDS in caps


def test_inventory_gives_the_canonical_uid_in_either_reader_byte_order(pad: Pad) -> None:
    for lsb_first in (True, False):
        pad.sim.uid_lsb_first = lsb_first
        pad.reader.close()  # forget the connected card so FF CA is asked again
        pad.reader.open()
        (tag,) = pad.reader.inventory()
        assert tag.uid == ICODE_UID and tag.tag_type == "iso15693"
    pad.sim.uid_lsb_first = True


def test_system_info_reports_the_tags_geometry_and_registers(pad: Pad) -> None:
    info = pad.reader.system_info(ICODE_UID)
    assert (info.uid, info.dsfid, info.afi, info.block_count, info.block_size) == (ICODE_UID, 0x06, 0x07, 28, 4)


def test_read_memory_returns_every_block(pad: Pad) -> None:
    assert pad.reader.read_memory(ICODE_UID) == bytes(pad.tag.memory)
    reads = [c for c, _ in pad.sim.log if c[:2] == b"\xff\xb0"]
    assert len(reads) == 28 and all(c[-1] == 4 for c in reads)  # part 3 read binary, one block each


def test_written_blocks_read_back_and_reach_the_tag(pad: Pad) -> None:
    data = bytes(range(100, 112))
    pad.reader.write_blocks(ICODE_UID, 26 - 3, data)
    assert pad.reader.read_blocks(ICODE_UID, 23, 3) == data
    assert pad.tag.memory[92:104] == data


def test_write_to_a_locked_block_fails_typed_and_leaves_it_unchanged(pad: Pad) -> None:
    pad.tag.locked_blocks.add(5)
    before = pad.tag.block(5)
    with pytest.raises(TagOperationFailed) as err:
        pad.reader.write_blocks(ICODE_UID, 4, bytes(8))
    assert err.value.code == 0x6982 and pad.tag.block(5) == before and "PCD 00 00" in str(err.value)


def test_bad_block_arguments_are_refused_before_touching_the_tag(pad: Pad) -> None:
    with pytest.raises(TagOperationFailed):
        pad.reader.read_blocks(ICODE_UID, 27, 2)  # past the 28th block
    with pytest.raises(TagOperationFailed):
        pad.reader.write_blocks(ICODE_UID, 0, b"abc")  # not whole blocks
    assert not [c for c, _ in pad.sim.log if c[1] in (0xB0, 0xD6)]


def test_written_afi_reads_back(pad: Pad) -> None:
    for afi in (0xC2, 0x07):
        pad.reader.write_afi(ICODE_UID, afi)
        assert pad.reader.read_afi(ICODE_UID) == afi == pad.tag.afi


def test_locked_afi_gives_the_tags_error_code(pad: Pad) -> None:
    pad.tag.afi_locked = True
    with pytest.raises(TagOperationFailed) as err:
        pad.reader.write_afi(ICODE_UID, 0xC2)
    assert err.value.code == 0x12 and pad.tag.afi == 0x07


def test_eas_set_and_reset_read_back_through_eas_alarm(pad: Pad) -> None:
    assert pad.reader.eas_enabled(ICODE_UID)
    pad.reader.set_eas(ICODE_UID, False)
    assert not pad.tag.eas and not pad.reader.eas_enabled(ICODE_UID)
    pad.reader.set_eas(ICODE_UID, True)
    assert pad.tag.eas and pad.reader.eas_enabled(ICODE_UID)


def test_a_tag_that_stops_answering_is_never_reported_as_eas_off(pad: Pad) -> None:
    pad.reader.system_info(ICODE_UID)  # geometry known before the tag falls silent
    pad.tag.eas, pad.tag.silent = False, True
    with pytest.raises(TagOperationFailed) as err:
        pad.reader.read_blocks(ICODE_UID, 0, 1)
    assert err.value.code == 0x6300  # part 3 has no "no answer" status: the reader's failure SW
    with pytest.raises(TagNotInField):
        pad.reader.eas_enabled(ICODE_UID)  # silence to EAS ALARM alone would read as "EAS off"
    with pytest.raises(TagNotInField):
        pad.reader.write_afi(ICODE_UID, 0xC2)
    with pytest.raises(TagNotInField):
        pad.reader.set_eas(ICODE_UID, True)
    with pytest.raises(TagNotInField):
        pad.reader.read_blocks(ICODE_UID, 0, 1)  # after a failure the geometry is asked again
    pad.tag.silent = False
    assert not pad.reader.eas_enabled(ICODE_UID)


def test_frames_travel_in_the_configured_dialect(pad: Pad) -> None:
    pad.reader.write_afi(ICODE_UID, 0xC2)
    commands = [c for c, _ in pad.sim.log if c[:2] != b"\xff\xca"]  # a reconnect may ask the UID first
    if isinstance(pad.reader.transport, TransparentExchange):
        assert [c[:4].hex() for c in commands] == ["ffc20000", "ffc20002", "ffc20001", "ffc20000"]
        assert b"\x5f\x46\x04" in commands[2]  # write-alike: longer timer sent along
    else:
        assert commands == [bytes.fromhex("FF0000000B2227") + ICODE_UID[::-1] + b"\xc2"]


def test_an_other_uid_is_not_in_the_field(pad: Pad) -> None:
    other = bytes.fromhex("E004010099999999")
    with pytest.raises(TagNotInField):
        pad.reader.system_info(other)
    with pytest.raises(TagNotInField):
        pad.reader.write_afi(other, 0xC2)
    assert pad.tag.afi == 0x07


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(min_size=1, max_size=24), keep=st.integers(0, 6))
def test_garbled_reader_answers_give_typed_errors_then_recover(icode_pad: Pad, garbage: bytes, keep: int) -> None:
    reader, sim = icode_pad.reader, icode_pad.sim
    answered = 0

    def garble(command: bytes, response: bytes) -> bytes:
        nonlocal answered
        answered += 1
        return response if answered <= keep else garbage

    reader.close()
    reader.open()
    sim.garble = garble
    try:
        for operation in (
            reader.inventory,
            lambda: reader.system_info(ICODE_UID),
            lambda: reader.read_blocks(ICODE_UID, 0, 2),
            lambda: reader.write_afi(ICODE_UID, 0x07),
            lambda: reader.eas_enabled(ICODE_UID),
        ):
            with contextlib.suppress(ReaderError):
                operation()
    finally:
        sim.garble = None
    assert [t.uid for t in reader.inventory()] == [ICODE_UID]
    assert reader.read_blocks(ICODE_UID, 0, 2) == bytes(icode_pad.tag.memory[:8])


@pytest.fixture
def slot1(pcscd) -> Iterator[PcscTagSimulator]:
    sim = PcscTagSimulator(SLOT1_PORT)
    yield sim
    if sim.placed:
        sim.remove()
        wait_for_card(SLOT1, present=False)


def test_infineon_like_tag_with_8_byte_blocks(icode_pad: Pad, slot1: PcscTagSimulator) -> None:
    tag = SimulatedTag.infineon_like(memory=bytearray(random.Random(3).randbytes(256)))
    slot1.dialect = icode_pad.sim.dialect
    slot1.place(tag)
    wait_for_card(SLOT1, present=True, atr=tag.atr)
    with PcscReader("PCD 00 01", transport=type(icode_pad.reader.transport)()) as reader:
        info = reader.system_info(tag.uid)
        assert (info.block_size, info.block_count) == (8, 32)
        assert reader.read_memory(tag.uid) == bytes(tag.memory)
        reader.write_blocks(tag.uid, 1, b"8 bytes!" * 2)
        assert reader.read_blocks(tag.uid, 1, 2) == b"8 bytes!" * 2 == tag.memory[8:24]
        reads = [c for c, _ in slot1.log if c[:2] == b"\xff\xb0"]
        assert reads and all(c[-1] == 8 for c in reads)
        # Not an NXP chip: it ignores NXP custom commands, which must not look like "EAS off, done".
        with pytest.raises(TagOperationFailed, match="not an NXP"):
            reader.set_eas(tag.uid, True)
        assert reader.eas_enabled(tag.uid) is False


def test_reader_is_chosen_by_name_substring(icode_pad: Pad, slot1: PcscTagSimulator) -> None:
    tag = SimulatedTag.icode_slix(bytes.fromhex("E004015555555555"))
    slot1.place(tag)
    wait_for_card(SLOT1, present=True, atr=tag.atr)
    with PcscReader("pcd 00 01") as second, PcscReader("Virtual PCD 00 00") as first:
        assert second.reader_name == SLOT1 and first.reader_name == SLOT0
        assert [t.uid for t in second.inventory()] == [tag.uid]
        assert [t.uid for t in first.inventory()] == [ICODE_UID]


def test_uid_with_e0_at_both_ends_is_resolved_by_asking_the_tag(icode_pad: Pad, slot1: PcscTagSimulator) -> None:
    tag = SimulatedTag.icode_slix(bytes.fromhex("E0040100123456E0"))
    slot1.dialect = icode_pad.sim.dialect
    slot1.place(tag)
    wait_for_card(SLOT1, present=True, atr=tag.atr)
    for lsb_first in (True, False):
        slot1.uid_lsb_first = lsb_first
        with PcscReader("PCD 00 01", transport=type(icode_pad.reader.transport)()) as reader:
            assert [t.uid for t in reader.inventory()] == [tag.uid]
