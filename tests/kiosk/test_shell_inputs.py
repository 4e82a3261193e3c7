"""Device reports become core events: the pad's stable stack, the chute's drops, and scans."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from kiosk.circulation.events import CardPresented, ItemDropped, ItemScanned, PadChanged, WrongBarcode
from kiosk.circulation.model import IncompleteSet, Pad, PadItem
from kiosk.hardware.barcode.classify import CHECK_FAILED, NOT_LIBRARY_BARCODE, PUBLISHER_BARCODE
from kiosk.hardware.barcode.events import Scan, ScannerUnavailable, UnreadableScan
from kiosk.hardware.rfid.models import (
    BLANK_TAG,
    TagData,
    UnreadableTag,
    UsageType,
    decode_tag,
    iso28560_2,
    iso28560_3,
    rfid501,
)
from kiosk.hardware.rfid.readers.base import TagInfo
from kiosk.hardware.rfid.watcher import (
    ReaderLost,
    ReaderRestored,
    Stack,
    StackChanged,
    StackItem,
    StackStable,
    StackTracker,
    TagArrived,
    group_sets,
)
from kiosk.shell.inputs import ChuteFeed, event_for_scan, event_for_watcher, pad_from_stack, scanner_feed, watcher_feed

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def uid(n: int) -> bytes:
    return bytes((0xE0, 0x04, 0, 0, 0, 0, 0, n))


def item(n: int, item_id: str, parts: int | None = None, part: int | None = None,
         usage: UsageType | int | None = UsageType.CIRCULATING_ITEM) -> StackItem:
    tag = TagData("iso28560-3", item_id, parts, part, "DK-718500", usage, b"")
    return StackItem(uid(n), tag)


def card(n: int, patron_id: str) -> StackItem:
    return StackItem(uid(n), TagData("iso28560-3", patron_id, 1, 1, "DK-718500", UsageType.PATRON_CARD, b""))


def stack(*entries: StackItem) -> Stack:
    items = tuple(e for e in entries if not getattr(e.tag, "is_patron_card", False))
    cards = tuple(e for e in entries if getattr(e.tag, "is_patron_card", False))
    return Stack(items, cards, group_sets(items))


def test_a_stack_becomes_the_pad_the_core_sees() -> None:
    s = stack(
        item(1, "31234000000016"),
        item(2, "31234000000628", 3, 1),
        item(3, "31234000000628", 3, 2),
        StackItem(uid(4), UnreadableTag(BLANK_TAG, b"")),
        StackItem(uid(5), None, error="no answer"),
        card(6, "21234000000026"),
        item(7, "31234000000099", 1, 1),
    )
    pad = pad_from_stack(s)
    assert pad.items == (
        PadItem(uid(1), "31234000000016", usage="circulating_item"),
        PadItem(uid(2), "31234000000628", 3, 1, usage="circulating_item"),
        PadItem(uid(3), "31234000000628", 3, 2, usage="circulating_item"),
        PadItem(uid(7), "31234000000099", usage="circulating_item"),  # "part 1 of 1" is no set
    )
    assert pad.patron_cards == ("21234000000026",)
    assert pad.unreadable == (uid(4), uid(5))
    assert pad.incomplete_sets == (IncompleteSet("31234000000628", 3, (3,)),)
    assert pad.item_ids() == ("31234000000016", "31234000000628", "31234000000099")


def test_the_type_of_usage_a_tag_states_reaches_the_core_by_name() -> None:
    s = stack(
        item(1, "31234000000552", usage=UsageType.NOT_FOR_CIRCULATION),
        item(2, "31234000000016", usage=None),  # the tag does not say
        item(3, "31234000000024", usage=5),  # a code without a defined meaning keeps its number
        item(4, "31234000000628", 2, 1, usage=UsageType.DISCARDED),
        item(5, "31234000000628", 2, 2, usage=UsageType.CIRCULATING_ITEM),
    )
    pad = pad_from_stack(s)
    assert [(i.item_id, i.usage) for i in pad.items] == [
        ("31234000000552", "not_for_circulation"), ("31234000000016", ""), ("31234000000024", "usage_5"),
        ("31234000000628", "discarded"), ("31234000000628", "circulating_item"),
    ]
    assert pad.usages_of("31234000000552") == ("not_for_circulation",)
    assert pad.usages_of("31234000000016") == ()
    assert pad.usages_of("31234000000628") == ("discarded", "circulating_item")  # every part's word counts


def test_a_reference_tags_bytes_in_every_model_reach_the_pad_as_not_for_circulation() -> None:
    """From tag memory, through the decoder the reader uses, to the core: the word is not lost."""
    n28560_3 = iso28560_3.encode(iso28560_3.Iso28560_3Tag(
        "31234000000552", usage_type=UsageType.NOT_FOR_CIRCULATION, country="DK", library="718500"))
    n28560_2 = iso28560_2.encode(iso28560_2.build(
        "31234000000560", owner_library="DK-718500", type_of_usage=int(UsageType.NOT_FOR_CIRCULATION) << 4))
    said_nothing = rfid501.encode(rfid501.Rfid501Tag("31234000000016"))
    entries = [StackItem(uid(n), decode_tag(memory, None))
               for n, memory in enumerate((n28560_3, n28560_2, said_nothing), start=1)]
    assert [(i.item_id, i.usage) for i in pad_from_stack(stack(*entries)).items] == [
        ("31234000000552", "not_for_circulation"), ("31234000000560", "not_for_circulation"),
        ("31234000000016", ""),  # RFID501 has no type of usage: the item goes by its barcode alone
    ]


def test_only_stable_stacks_and_a_lost_reader_reach_the_core() -> None:
    s = stack(item(1, "31234000000016"))
    assert event_for_watcher(StackStable(s, 1.0)) == PadChanged(pad_from_stack(s))
    assert event_for_watcher(ReaderLost("unplugged", 2.0)) == PadChanged(Pad())
    for event in (StackChanged(s, 1.0), TagArrived(uid(1), None, 1.0), ReaderRestored(3.0)):
        assert event_for_watcher(event) is None
    got: list = []
    feed = watcher_feed(got.append)
    feed(StackChanged(s, 1.0))
    feed(StackStable(s, 1.1))
    assert got == [PadChanged(pad_from_stack(s))]


def test_scans_are_classified_into_cards_items_and_hints() -> None:
    def scanned(text: str, symbology: str | None = None):
        return event_for_scan(Scan(text, "scanner", symbology, NOW))

    assert scanned("21234000000018") == CardPresented("21234000000018", source="barcode")
    assert scanned("31234000000016") == ItemScanned("31234000000016")
    assert scanned("9780261103344") == WrongBarcode(PUBLISHER_BARCODE.id)  # an ISBN
    assert scanned("31234000000017") == WrongBarcode(CHECK_FAILED.id)  # a misread check digit
    assert scanned("hello") == WrongBarcode(NOT_LIBRARY_BARCODE.id)
    assert event_for_scan(UnreadableScan("scanner", b"\xff", "garbled", NOW)) == WrongBarcode(CHECK_FAILED.id)
    assert event_for_scan(ScannerUnavailable("/dev/ttyACM0", "unplugged")) is None
    got: list = []
    scanner_feed(got.append)(Scan("31234000000016", "scanner", None, NOW))
    assert got == [ItemScanned("31234000000016")]


@given(st.text(max_size=80), st.sampled_from([None, "]F0", "]E0", "]C0"]))
def test_any_scan_becomes_one_event_and_never_raises(text: str, symbology: str | None) -> None:
    event = event_for_scan(Scan(text, "scanner", symbology, NOW))
    assert isinstance(event, CardPresented | ItemScanned | WrongBarcode)


def test_the_chute_turns_each_new_item_into_one_drop() -> None:
    drops: list[ItemDropped] = []
    chute = ChuteFeed(drops.append)
    dvd = [item(2, "31234000000636", 2, 1), item(3, "31234000000636", 2, 2)]
    chute(StackStable(stack(item(1, "31234000000016"), *dvd), 1.0))
    assert drops == [
        ItemDropped("drop-1", "31234000000016", (uid(1),)),
        ItemDropped("drop-2", "31234000000636", (uid(2), uid(3))),  # a set that fell together: one drop
    ]
    # the book is still there, a blank tag and a patron card arrive: each is a drop of its own, unread
    chute(StackStable(stack(item(1, "31234000000016"), StackItem(uid(4), UnreadableTag(BLANK_TAG, b"")),
                            card(5, "21234000000026")), 2.0))
    assert drops[2:] == [ItemDropped("drop-3", "", (uid(4),)), ItemDropped("drop-4", "", (uid(5),))]
    chute(ReaderLost("unplugged", 3.0))  # nothing new was seen
    chute(StackStable(stack(), 4.0))
    assert chute.present == frozenset() and chute.wait_until(lambda present: not present, 0.0)
    chute(StackStable(stack(item(1, "31234000000016")), 5.0))  # the same book dropped again
    assert drops[-1] == ItemDropped("drop-5", "31234000000016", (uid(1),))
    assert not chute.wait_until(lambda present: not present, 0.01)


def test_the_chute_with_a_real_tracker_sees_a_drop_once_however_often_it_is_polled() -> None:
    drops: list[ItemDropped] = []
    chute = ChuteFeed(drops.append)
    tracker = StackTracker()
    tag = TagData("iso28560-3", "31234000000016", None, None, None, UsageType.CIRCULATING_ITEM, b"")
    events = tracker.poll(0.0, [TagInfo(uid(1))])
    events += tracker.read_succeeded(0.01, uid(1), tag)
    for t in range(1, 20):
        events += tracker.poll(t * 0.05, [TagInfo(uid(1))])
    for event in events:
        chute(event)
    assert [d.item_id for d in drops] == ["31234000000016"]
