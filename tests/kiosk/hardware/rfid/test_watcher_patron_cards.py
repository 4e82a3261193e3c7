"""ISO 14443 cards on the pad: the tracker names them from their UID (or calls them unreadable at
once), the watcher never reads them, and the shell puts their number into ``Pad.patron_cards``."""

from __future__ import annotations

import logging

import pytest

from kiosk.circulation.events import PadChanged
from kiosk.circulation.model import Pad
from kiosk.hardware.rfid.patron_card_uid import PatronCardIds, UidFormat, UidPatronCard, uid_text
from kiosk.hardware.rfid.readers.base import SystemInfo, TagInfo, TagNotInField, TagReader
from kiosk.hardware.rfid.watcher import (
    StackChanged,
    StackStable,
    StackTracker,
    TagRead,
    TagReadFailed,
    TagWatcher,
    WatcherSettings,
)
from kiosk.shell.inputs import event_for_watcher, pad_from_stack

CARD_UID = bytes.fromhex("04A1B2C3D4E5F6")
LABEL_UID = bytes.fromhex("E004010012345678")
TIMING = dict(poll_interval=0.05, depart_polls=3, depart_after=0.15, settle_time=0.1, read_attempts=2)


def settings(fmt: UidFormat = UidFormat.HEX, prefix: str = "") -> WatcherSettings:
    return WatcherSettings(**TIMING, patron_cards=PatronCardIds(fmt, prefix))  # type: ignore[arg-type]


def card(kind: str = "iso14443a", uid: bytes = CARD_UID) -> TagInfo:
    return TagInfo(uid, None, kind)


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def every_spelling(uid: bytes) -> list[str]:
    return [uid_text(uid, f) for f in UidFormat if f is not UidFormat.NONE] + [uid.hex(), repr(uid)]


# -- the pure tracker ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["iso14443a", "iso14443b", "iso14443-4"])
def test_an_iso_14443_card_is_a_patron_card_in_the_poll_that_sees_it(kind: str) -> None:
    tracker = StackTracker(settings(UidFormat.HEX_REVERSED, "P"))
    events = tracker.poll(0.0, [card(kind)])
    (read,) = of(events, TagRead)
    assert read.tag == UidPatronCard("PF6E5D4C3B2A104", kind)
    (changed,) = of(events, StackChanged)
    assert [i.uid for i in changed.stack.patron_cards] == [CARD_UID] and changed.stack.items == ()
    assert tracker.pending_reads() == []  # nothing to read from it
    (stable,) = of(tracker.poll(0.1, [card(kind)]), StackStable)
    assert pad_from_stack(stable.stack) == Pad(patron_cards=("PF6E5D4C3B2A104",))


def test_with_none_an_iso_14443_card_is_unreadable_at_once_and_its_uid_is_in_no_error() -> None:
    tracker = StackTracker(settings(UidFormat.NONE))
    events = tracker.poll(0.0, [card()])
    (failed,) = of(events, TagReadFailed)
    assert failed.final and "iso14443a" in failed.error and "none" in failed.error
    assert not any(spelling.casefold() in failed.error.casefold() for spelling in every_spelling(CARD_UID))
    assert tracker.pending_reads() == []
    (stable,) = of(tracker.poll(0.1, [card()]), StackStable)  # no read attempts to wait for
    assert pad_from_stack(stable.stack) == Pad(unreadable=(CARD_UID,))


def test_a_uid_no_format_can_write_is_unreadable_not_a_crash() -> None:
    tracker = StackTracker(settings(UidFormat.DECIMAL))
    events = tracker.poll(0.0, [card(uid=b""), card(uid=bytes(11))])
    assert [f.final for f in of(events, TagReadFailed)] == [True, True]
    (stable,) = of(tracker.poll(0.1, [card(uid=b""), card(uid=bytes(11))]), StackStable)
    assert pad_from_stack(stable.stack) == Pad(unreadable=(b"", bytes(11)))


@pytest.mark.parametrize("kind", ["iso15693", "other"])
def test_labels_and_unknown_cards_are_read_as_before_and_unreadable_when_that_fails(kind: str) -> None:
    tracker = StackTracker(settings(UidFormat.HEX))
    events = tracker.poll(0.0, [card(kind, LABEL_UID)])
    assert of(events, TagRead) == [] and tracker.pending_reads() == [(LABEL_UID, None)]
    tracker.read_failed(0.01, LABEL_UID, "no model explains it")
    tracker.read_failed(0.02, LABEL_UID, "no model explains it")
    (stable,) = of(tracker.poll(0.2, [card(kind, LABEL_UID)]), StackStable)
    assert pad_from_stack(stable.stack) == Pad(unreadable=(LABEL_UID,))


def test_card_taken_away_and_the_next_card_replacing_it() -> None:
    tracker = StackTracker(settings(UidFormat.HEX))
    tracker.poll(0.0, [card()])
    other = bytes.fromhex("08112233")
    events = []
    for t in (0.05, 0.1, 0.15, 0.2, 0.25):
        events += tracker.poll(t, [card(uid=other)])
    # the one stable stack comes once the first card has left for good: only the new one is there
    (stable,) = of(events, StackStable)
    assert pad_from_stack(stable.stack).patron_cards == ("08112233",)


def test_forgetting_a_card_keeps_its_number() -> None:
    tracker = StackTracker(settings(UidFormat.HEX))
    tracker.poll(0.0, [card()])
    tracker.forget(CARD_UID)
    assert tracker.pending_reads() == []
    assert pad_from_stack(tracker.stack()).patron_cards == ("04A1B2C3D4E5F6",)


def test_a_card_and_a_label_on_one_pad() -> None:
    """A stack reader that also sees ISO 14443 cards: the label is read, the card is named."""
    tracker = StackTracker(settings(UidFormat.DECIMAL, "C"))
    tracker.poll(0.0, [card(), card("iso15693", LABEL_UID)])
    assert tracker.pending_reads() == [(LABEL_UID, None)]
    assert of(tracker.poll(0.2, [card(), card("iso15693", LABEL_UID)]), StackStable) == []  # the label is pending
    events = tracker.read_succeeded(0.21, LABEL_UID, _Item("31234000000016"))
    (stable,) = of(events, StackStable)
    pad = pad_from_stack(stable.stack)
    assert pad.patron_cards == ("C" + uid_text(CARD_UID, UidFormat.DECIMAL),) and pad.item_ids() == ("31234000000016",)


class _Item:
    def __init__(self, item_id: str) -> None:
        self.item_id = item_id
        self.is_patron_card = False


def test_the_shell_turns_the_stable_stack_into_a_pad_with_the_card() -> None:
    tracker = StackTracker(settings(UidFormat.HEX, "P"))
    tracker.poll(0.0, [card()])
    (stable,) = of(tracker.poll(0.1, [card()]), StackStable)
    assert event_for_watcher(stable) == PadChanged(Pad(patron_cards=("P04A1B2C3D4E5F6",)))


# -- the watcher: cards are never read, nothing of them reaches a log ------------------------------


class PadReader(TagReader):
    """What a PC/SC pad reports, and a record of what the watcher asked of it."""

    name = "test pad"

    def __init__(self, tags: list[TagInfo]) -> None:
        self.tags = tags
        self.asked: list[bytes] = []

    def open(self) -> None: ...

    def close(self) -> None: ...

    def inventory(self) -> list[TagInfo]:
        return list(self.tags)

    def system_info(self, uid: bytes) -> SystemInfo:
        self.asked.append(uid)
        raise TagNotInField(f"the card on the pad is not an ISO 15693 tag ({uid.hex()})", device=self.name)

    def read_blocks(self, uid: bytes, first: int, count: int) -> bytes:
        raise AssertionError("not reached: system_info fails first")

    def write_blocks(self, uid: bytes, first: int, data: bytes) -> None: ...

    def write_afi(self, uid: bytes, afi: int) -> None: ...

    def set_eas(self, uid: bytes, enabled: bool) -> None: ...

    def eas_enabled(self, uid: bytes) -> bool:
        return False


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("fmt", [UidFormat.HEX, UidFormat.NONE])
def test_the_watcher_never_reads_a_card_and_logs_nothing_of_it(
    fmt: UidFormat, caplog: pytest.LogCaptureFixture
) -> None:
    reader = PadReader([card()])
    events: list[object] = []

    def on_event(event: object) -> None:
        events.append(event)
        raise RuntimeError("a handler that fails: the watcher logs it")

    clock = Clock()
    watcher = TagWatcher(reader, settings=settings(fmt), on_event=on_event, clock=clock)  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG):
        for step in range(4):
            clock.now = step * 0.05
            watcher.run_once()
    assert reader.asked == []
    (stable,) = of(events, StackStable)
    expected = Pad(patron_cards=("04A1B2C3D4E5F6",)) if fmt is UidFormat.HEX else Pad(unreadable=(CARD_UID,))
    assert pad_from_stack(stable.stack) == expected
    assert caplog.records  # the failing handler was logged...
    logged = caplog.text.casefold()
    assert not any(spelling.casefold() in logged for spelling in every_spelling(CARD_UID))  # ...without the card
