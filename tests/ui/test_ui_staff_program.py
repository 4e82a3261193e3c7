"""Tag programming, step by step, with the real StaffMachine: parts, scan, place, overwrite,
write, failure and retry, done. Taps are real touches; the tags and the scanner are events."""

from __future__ import annotations

from staff_ui_support import StaffDesk, button_for, screen_text

from kiosk.circulation.commands import WriteTag
from kiosk.circulation.events import ItemScanned, PadChanged, PinEntered, Pressed, TagWritten
from kiosk.circulation.model import Pad, PadItem
from kiosk.circulation.staff import Screen, Step

BLANK_1 = bytes.fromhex("E004010000000001")
BLANK_2 = bytes.fromhex("E004010000000002")
OLD_TAG = bytes.fromhex("E004010000000003")


def programming(stage) -> StaffDesk:
    desk = StaffDesk(stage)
    desk.feed(Pressed("staff"), PinEntered("2468"))
    desk.tap(Pressed("open", "program"))
    assert desk.staff.screen is Screen.PROGRAM
    return desk


def last_write(desk: StaffDesk) -> WriteTag:
    writes = [c for c in desk.commands if isinstance(c, WriteTag)]
    assert writes
    return writes[-1]


def test_two_part_item_from_scan_to_done(stage):
    desk = programming(stage)
    screen = desk.screen
    assert "Scan the item's barcode (1 parts)" in screen_text(screen)
    assert button_for(screen, Pressed("parts", "0")).disabled  # one part is the least
    stage.screenshot("staff_program_scan")

    assert desk.tap(Pressed("parts", "2")) == [Pressed("parts", "2")]
    assert "Scan the item's barcode (2 parts)" in screen_text(desk.screen)

    desk.feed(ItemScanned("31234000111"))
    words = screen_text(desk.screen)
    assert "Place the tag (part 1 of 2)" in words and "Item 31234000111" in words
    stage.screenshot("staff_program_place")

    desk.feed(PadChanged(Pad(unreadable=(BLANK_1,))))
    assert desk.staff.job.step is Step.WRITING
    assert "Writing part 1 of 2…" in screen_text(desk.screen)
    # While a tag is written, Back would abandon it half-way: the button is off (logout stays).
    back = button_for(desk.screen, Pressed("back"))
    assert back.disabled
    stage.tap(back)
    assert desk.sent.events == []
    assert not button_for(desk.screen, Pressed("logout")).disabled
    stage.screenshot("staff_program_writing")

    desk.feed(TagWritten(last_write(desk).ref, True))
    words = screen_text(desk.screen)
    assert "Place the tag (part 2 of 2)" in words and "Tags written: 1 of 2" in words
    # The parts count cannot change once a tag of the set is written.
    assert button_for(desk.screen, Pressed("parts", "3")).disabled

    desk.feed(PadChanged(Pad(unreadable=(BLANK_1, BLANK_2))))
    write = last_write(desk)
    assert (write.uid, write.part_number) == (BLANK_2, 2)
    desk.feed(TagWritten(write.ref, True))
    words = screen_text(desk.screen)
    assert "31234000111 programmed (2 tags)" in words
    assert "Programmed since login: 1" in words
    assert "31234000111" in words.split("\n")  # the done list
    assert "Scan the item's barcode (1 parts)" in words  # the next item starts at one part
    stage.screenshot("staff_program_done")


def test_overwrite_asks_naming_the_other_item(stage):
    desk = programming(stage)
    desk.feed(ItemScanned("31234000222"))
    desk.feed(PadChanged(Pad(items=(PadItem(OLD_TAG, "39999000999"),))))
    words = screen_text(desk.screen)
    assert "This tag holds item 39999000999. Overwrite it with 31234000222?" in words
    stage.screenshot("staff_program_overwrite")

    assert desk.tap(Pressed("cancel")) == [Pressed("cancel")]  # "Keep it"
    assert desk.staff.job.step is Step.PLACE
    assert not any(isinstance(c, WriteTag) for c in desk.commands)

    desk.feed(PadChanged(Pad()), PadChanged(Pad(items=(PadItem(OLD_TAG, "39999000999"),))))
    assert desk.tap(Pressed("confirm_overwrite")) == [Pressed("confirm_overwrite")]
    write = last_write(desk)
    assert (write.uid, write.item_id) == (OLD_TAG, "31234000222")


def test_failed_write_retry_and_cancel_item(stage):
    desk = programming(stage)
    desk.feed(ItemScanned("31234000333"), PadChanged(Pad(unreadable=(BLANK_1,))))
    desk.feed(TagWritten(last_write(desk).ref, False, "no answer from the tag"))
    assert "Writing failed (no answer from the tag): retry, or place another tag" in screen_text(desk.screen)
    stage.screenshot("staff_program_failed")

    assert desk.tap(Pressed("retry")) == [Pressed("retry")]
    assert desk.staff.job.step is Step.WRITING and last_write(desk).uid == BLANK_1
    desk.feed(TagWritten(last_write(desk).ref, False, "no answer from the tag"))

    assert desk.tap(Pressed("cancel_item")) == [Pressed("cancel_item")]
    assert desk.staff.job.step is Step.SCAN
    assert "Programmed since login: 0" in screen_text(desk.screen)


def test_one_tag_at_a_time_notice(stage):
    desk = programming(stage)
    desk.feed(ItemScanned("31234000444"), PadChanged(Pad(unreadable=(BLANK_1, BLANK_2))))
    words = screen_text(desk.screen)
    assert "2 new tags on the pad: leave only the one to program" in words
    assert "Tags on the pad: 2" in words
