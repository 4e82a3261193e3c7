"""PcscReader on a changing pad: events, patron cards, tags leaving mid-command, pcscd going away."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import pytest
from pcsc_harness import SLOT0, wait_for_card

from hardware_mocks.pcsc_tag import PcscTagSimulator, SimulatedPatronCard, SimulatedTag
from kiosk.hardware.rfid.readers.base import ReaderError, ReaderUnavailable, TagInfo, TagNotInField
from kiosk.hardware.rfid.readers.pcsc import PcscReader
from kiosk.hardware.rfid.readers.pcsc_apdu import CardKind

# A hung pcscd blocks inside C, where pytest-timeout's signal method cannot interrupt: use a thread.
pytestmark = pytest.mark.timeout(60, method="thread")

UID = bytes.fromhex("E004010012345678")


@pytest.fixture
def sim(pcscd) -> Iterator[PcscTagSimulator]:
    sim = PcscTagSimulator()
    yield sim
    if sim.placed:
        sim.remove()
    wait_for_card(SLOT0, present=False)


@pytest.fixture
def reader(pcscd) -> Iterator[PcscReader]:
    reader = PcscReader("PCD 00 00")
    reader.open()
    yield reader
    reader.close()


def place(sim: PcscTagSimulator, card: SimulatedTag | SimulatedPatronCard) -> None:
    sim.place(card)
    wait_for_card(SLOT0, present=True, atr=card.atr)


def test_insert_and_remove_events_tell_labels_from_patron_cards(sim: PcscTagSimulator, reader: PcscReader) -> None:
    events: queue.Queue[object] = queue.Queue()
    stop = threading.Event()

    def watch() -> None:
        try:
            for event in reader.card_events(stop, poll_ms=50):
                events.put(event)
        except ReaderError as exc:
            events.put(exc)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    tag, patron = SimulatedTag.icode_slix(UID), SimulatedPatronCard()
    seen = []
    for card in (tag, patron):
        sim.place(card)
        seen.append(events.get(timeout=5))
        sim.remove()
        seen.append(events.get(timeout=5))
    stop.set()
    watcher.join(2)
    assert [(e.kind, e.card_kind, e.atr) for e in seen] == [  # type: ignore[attr-defined]
        ("inserted", CardKind.ISO15693, tag.atr),
        ("removed", None, b""),
        ("inserted", CardKind.ISO14443A, patron.atr),
        ("removed", None, b""),
    ]
    assert not watcher.is_alive()


def test_events_start_with_the_card_already_on_the_pad(sim: PcscTagSimulator, reader: PcscReader) -> None:
    tag = SimulatedTag.icode_slix(UID)
    place(sim, tag)
    first = next(reader.card_events(poll_ms=50))
    assert (first.kind, first.card_kind) == ("inserted", CardKind.ISO15693)


def test_patron_card_uid_through_the_same_reader(sim: PcscTagSimulator, reader: PcscReader) -> None:
    card = SimulatedPatronCard(bytes.fromhex("04A1B2C3D4E5F6"))
    place(sim, card)
    assert reader.inventory() == [TagInfo(card.uid, None, "iso14443a")]
    assert reader.transmit_apdu(bytes.fromhex("FFCA000000")) == (card.uid, 0x9000)
    with pytest.raises(TagNotInField, match="iso14443a"):
        reader.system_info(UID)


def test_empty_pad_gives_empty_inventory_and_tag_not_in_field(sim: PcscTagSimulator, reader: PcscReader) -> None:
    assert reader.inventory() == []
    with pytest.raises(TagNotInField):
        reader.read_blocks(UID, 0, 1)


def test_tag_leaving_mid_write_is_tag_not_in_field_and_the_retry_works(
    sim: PcscTagSimulator, reader: PcscReader
) -> None:
    tag = SimulatedTag.icode_slix(UID, memory=bytearray(b"\xee" * 112))
    place(sim, tag)
    reader.system_info(UID)  # geometry known: the next APDUs are the four block writes
    sim.vanish_after(2)
    with pytest.raises(TagNotInField):
        reader.write_blocks(UID, 0, bytes(range(16)))
    assert tag.memory[:16] == bytes(range(8)) + b"\xee" * 8  # half-written, as on a real pad
    wait_for_card(SLOT0, present=False)
    assert reader.inventory() == []
    place(sim, tag)  # patron puts the item back
    reader.write_blocks(UID, 0, bytes(range(16)))
    assert reader.read_blocks(UID, 0, 4) == bytes(range(16))


def test_tag_leaving_inside_a_transparent_session_is_tag_not_in_field(
    sim: PcscTagSimulator, reader: PcscReader
) -> None:
    tag = SimulatedTag.icode_slix(UID, eas=True)
    place(sim, tag)
    assert reader.eas_enabled(UID)
    for answered in (1, 2):  # after "start session"; after "switch protocol"
        sim.vanish_after(answered)
        with pytest.raises(TagNotInField):
            reader.set_eas(UID, False)
        # the simulated tag has left: its thread ends just after it closed the link (a moment later on
        # a loaded machine), so wait for that rather than race it
        deadline = time.monotonic() + 5.0
        while sim.placed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not sim.placed
        wait_for_card(SLOT0, present=False)  # else pcscd may still show the old placement
        place(sim, tag)
    assert tag.eas


def test_unknown_reader_substring_is_reader_unavailable_naming_it(pcscd) -> None:
    with pytest.raises(ReaderUnavailable, match="OMNIKEY 5022") as err:
        PcscReader("OMNIKEY 5022").open()
    assert "Virtual PCD 00 00" in str(err.value)  # the readers that do exist, for IT
    with pytest.raises(ReaderUnavailable, match="not open"):
        PcscReader("OMNIKEY 5022").inventory()


def test_pcscd_stopped_is_reader_unavailable_and_reopen_after_restart_works(
    pcscd, sim: PcscTagSimulator, reader: PcscReader
) -> None:
    tag = SimulatedTag.icode_slix(UID)
    place(sim, tag)
    assert [t.uid for t in reader.inventory()] == [UID]
    pcscd.stop()
    try:
        with pytest.raises(ReaderUnavailable, match="PCD 00 00"):
            reader.inventory()
        with pytest.raises(ReaderUnavailable, match="pcscd"):
            reader.open()
    finally:
        pcscd.start()
    wait_for_card(SLOT0, present=True, atr=tag.atr)  # the simulated card reconnects by itself
    assert [t.uid for t in reader.inventory()] == [UID]  # the reader reopens on its own
    assert reader.read_memory(UID) == bytes(tag.memory)
    # Restarted while the reader sat idle: its stale context must not cost the patron an error.
    pcscd.stop()
    pcscd.start()
    wait_for_card(SLOT0, present=True, atr=tag.atr)
    assert [t.uid for t in reader.inventory()] == [UID]
