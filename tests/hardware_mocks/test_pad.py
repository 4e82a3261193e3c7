"""The virtual pad: real tag memory for the sample library's items and cards on the simulated FEIG reader."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import pytest

from hardware_mocks.feig_pty import FeigPtySimulator
from hardware_mocks.ils import scenarios as S
from hardware_mocks.pad import DEMO_OWNER, VirtualPad, sample_parts, sample_usage
from kiosk.hardware.rfid.models import TagData, UsageType, decode_tag
from kiosk.hardware.rfid.readers.feig import FeigReader
from kiosk.hardware.rfid.security import SecurityScheme, SecurityState, set_security
from kiosk.hardware.rfid.watcher import StackStable, TagWatcher, WatcherSettings


@pytest.fixture
def pad() -> Iterator[VirtualPad]:
    with VirtualPad() as virtual_pad:
        yield virtual_pad


def decoded(pad: VirtualPad, uid: bytes) -> TagData:
    """What any reader would decode from the tag's memory as the simulator holds it."""
    tag = pad.simulator.tag(uid)
    assert tag is not None, "tag not on the pad"
    data = decode_tag(bytes(tag.memory), tag.dsfid)
    assert isinstance(data, TagData), data
    return data


def test_sample_parts_come_from_the_simulated_ils_data() -> None:
    parts = sample_parts()
    assert parts[S.ITEM_AUDIOBOOK_SET] == 3 and parts[S.ITEM_DVD_SET] == 2 and parts[S.ITEM_AVAILABLE] == 1


def test_an_item_decodes_to_its_barcode_with_security_on(pad) -> None:
    placed = pad.place_item(S.ITEM_AVAILABLE)
    data = decoded(pad, placed.uid)
    assert (data.model, data.item_id, data.parts_in_set, data.part_number) == ("iso28560-3", S.ITEM_AVAILABLE, 1, 1)
    assert data.owner_library == DEMO_OWNER and data.usage_type is UsageType.CIRCULATING_ITEM
    tag = pad.simulator.tag(placed.uid)
    assert (tag.afi, tag.eas, tag.dsfid) == (0x07, True, 0x3E)
    assert tag.is_nxp  # EAS commands need an NXP chip
    assert placed.security is SecurityState.IN_LIBRARY and placed.security_on


@pytest.mark.parametrize("model", ["iso28560-3", "iso28560-2"])
def test_a_reference_copy_is_labelled_not_for_circulation_as_a_library_labels_it(pad, model) -> None:
    assert sample_usage() == {S.ITEM_NOT_FOR_LOAN: UsageType.NOT_FOR_CIRCULATION,
                              S.ITEM_NOT_FOR_LOAN_2: UsageType.NOT_FOR_CIRCULATION}
    reference = decoded(pad, pad.place_item(S.ITEM_NOT_FOR_LOAN, model=model).uid)
    assert reference.item_id == S.ITEM_NOT_FOR_LOAN and reference.usage_type is UsageType.NOT_FOR_CIRCULATION
    assert decoded(pad, pad.place_item(S.ITEM_AVAILABLE, model=model).uid).usage_type is UsageType.CIRCULATING_ITEM
    with VirtualPad(pad.simulator, parts={}, usage={"31234000099991": UsageType.DISCARDED}) as own:
        weeded = own.place_item("31234000099991", model=model)
        assert decoded(pad, weeded.uid).usage_type is UsageType.DISCARDED
        # a library's own list replaces the sample data's
        assert decoded(pad, own.place_item(S.ITEM_NOT_FOR_LOAN, model=model).uid).usage_type is (
            UsageType.CIRCULATING_ITEM)


def test_a_set_from_the_sample_data_gives_one_tag_per_part(pad) -> None:
    tags = pad.place_set(S.ITEM_AUDIOBOOK_SET)
    assert len({t.uid for t in tags}) == 3
    parts = sorted((decoded(pad, t.uid).item_id, decoded(pad, t.uid).parts_in_set, decoded(pad, t.uid).part_number)
                   for t in tags)
    assert parts == [(S.ITEM_AUDIOBOOK_SET, 3, 1), (S.ITEM_AUDIOBOOK_SET, 3, 2), (S.ITEM_AUDIOBOOK_SET, 3, 3)]


def test_a_set_with_a_part_left_at_home(pad) -> None:
    tags = pad.place_set(S.ITEM_AUDIOBOOK_SET, present=(1, 3))
    assert [decoded(pad, t.uid).part_number for t in tags] == [1, 3]
    assert [(t.part_number, t.parts_in_set) for t in pad.tags_on_pad()] == [(1, 3), (3, 3)]


def test_iso28560_2_tags_carry_set_information_and_owner(pad) -> None:
    tags = pad.place_set(S.ITEM_DVD_SET, model="iso28560-2")
    for n, placed in enumerate(tags, start=1):
        data = decoded(pad, placed.uid)
        assert (data.model, data.item_id, data.parts_in_set, data.part_number) == ("iso28560-2", S.ITEM_DVD_SET, 2, n)
        assert data.owner_library == DEMO_OWNER and data.usage_type is UsageType.CIRCULATING_ITEM
        assert pad.simulator.tag(placed.uid).dsfid == 0x06


@pytest.mark.parametrize("model", ["iso28560-3", "iso28560-2"])
def test_a_patron_card_decodes_as_a_patron_card_without_security(pad, model) -> None:
    card = pad.place_patron_card(S.PATRON_VALID.id, model=model)
    data = decoded(pad, card.uid)
    assert data.is_patron_card and data.item_id == S.PATRON_VALID.id
    assert (card.patron_card, card.afi, card.eas, card.security) == (True, 0x00, False, None)


def test_the_same_item_is_the_same_tag_every_time_and_cards_differ_from_items(pad) -> None:
    first = pad.place_item(S.ITEM_AVAILABLE)
    again = pad.place_item(S.ITEM_AVAILABLE)
    assert first.uid == again.uid and len(pad.simulator.uids) == 1
    other = pad.place_item(S.ITEM_DVD)
    assert other.uid != first.uid


def test_remove_lifts_every_part_or_one_part_and_clear_empties_the_pad(pad) -> None:
    pad.place_item(S.ITEM_AVAILABLE)
    pad.place_set(S.ITEM_AUDIOBOOK_SET)
    card = pad.place_patron_card(S.PATRON_CLEAN.id)
    assert len(pad.tags_on_pad()) == 5

    assert pad.remove(S.ITEM_AUDIOBOOK_SET, part=2) == 1
    assert [t.part_number for t in pad.tags_on_pad() if t.barcode == S.ITEM_AUDIOBOOK_SET] == [1, 3]
    assert pad.remove(S.ITEM_AUDIOBOOK_SET) == 2
    assert pad.remove(S.PATRON_CLEAN.id) == 1 and pad.simulator.tag(card.uid) is None
    assert pad.remove(S.UNKNOWN_ITEM) == 0
    assert [t.barcode for t in pad.tags_on_pad()] == [S.ITEM_AVAILABLE]
    assert len(pad.simulator.uids) == 1

    pad.clear()
    assert pad.tags_on_pad() == [] and pad.simulator.uids == []


def test_the_sites_security_scheme_decides_the_values_placed() -> None:
    with VirtualPad(scheme=SecurityScheme.three_m(use_eas=True)) as pad:
        placed = pad.place_item(S.ITEM_AVAILABLE)
        assert (placed.afi, placed.eas, placed.security) == (0xD7, True, SecurityState.IN_LIBRARY)


def test_bad_arguments_are_refused_with_a_value_error(pad) -> None:
    with pytest.raises(ValueError, match="part 4 of an item with 3 parts"):
        pad.place_item(S.ITEM_AUDIOBOOK_SET, part=4)
    with pytest.raises(ValueError, match="tag model"):
        pad.place_item(S.ITEM_AVAILABLE, model="rfid501")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tag model"):
        VirtualPad(model="dutch")  # type: ignore[arg-type]
    assert pad.simulator.uids == []


def test_tags_on_pad_shows_what_the_real_driver_did_to_the_tags(pad) -> None:
    book = pad.place_item(S.ITEM_AVAILABLE)
    other = pad.place_item(S.ITEM_DVD)
    reader = FeigReader(pad.path, reply_timeout=0.3)
    with reader:
        set_security(reader, book.uid, SecurityState.ON_LOAN, pad.scheme)
    states = {t.barcode: (t.afi, t.eas, t.security) for t in pad.tags_on_pad()}
    assert states == {
        S.ITEM_AVAILABLE: (0xC2, False, SecurityState.ON_LOAN),
        S.ITEM_DVD: (0x07, True, SecurityState.IN_LIBRARY),
    }
    assert other.uid in pad.simulator.uids
    assert "AFI 0xC2, EAS off (on loan)" in str(pad.tags_on_pad()[0])


def test_the_tag_watcher_sees_the_card_as_a_card_and_the_set_as_incomplete(pad) -> None:
    card = pad.place_patron_card(S.PATRON_VALID.id)
    pad.place_set(S.ITEM_AUDIOBOOK_SET, present=(1, 3))
    fast = WatcherSettings(poll_interval=0.02, settle_time=0.05)
    with TagWatcher(FeigReader(pad.path, reply_timeout=0.3), settings=fast) as watcher:
        deadline = time.monotonic() + 5
        stack = None
        while stack is None and time.monotonic() < deadline:
            try:
                event = watcher.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if isinstance(event, StackStable) and len(event.stack.uids) == 3:
                stack = event.stack
    assert stack is not None, "no stable stack of 3 tags"
    assert [c.uid for c in stack.patron_cards] == [card.uid]
    assert stack.patron_cards[0].tag.item_id == S.PATRON_VALID.id
    (status,) = stack.incomplete_sets
    assert (status.item_id, status.present, status.missing) == (S.ITEM_AUDIOBOOK_SET, (1, 3), (2,))


def test_a_pad_on_a_simulator_it_was_given_leaves_that_simulator_running() -> None:
    with FeigPtySimulator() as sim:
        with VirtualPad(sim) as pad:
            pad.place_item(S.ITEM_AVAILABLE)
        assert sim.plugged_in and len(sim.uids) == 1
