"""The README's run command: a scripted patron session against the simulated ILS and RFID pad."""

from __future__ import annotations

import io

from hardware_mocks.ils import scenarios as S
from kiosk.cli import main
from kiosk.config import load_settings
from kiosk.demo import PadEntry, Screen, entries_on_pad, incomplete_set_message, play, simulated_kiosk
from kiosk.hardware.rfid.models import TagData, UsageType
from kiosk.hardware.rfid.security import SecurityState
from kiosk.hardware.rfid.watcher import SetStatus, Stack, StackItem, group_sets


def test_the_demo_plays_a_whole_patron_session(tmp_path, capsys) -> None:
    assert main(["demo", "--config-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Hello, {S.PATRON_VALID.name}" in out  # the patron card read from the pad found the patron
    assert "✓ The Hobbit" in out and "due" in out  # checked out, with a due date
    assert "✓ Planet Earth II (2 DVDs)" in out and "security off ✓ (2 parts, AFI 0xC2, EAS off)" in out
    assert "Item is on hold for another patron" in out  # refused, in the ILS's own words
    assert "Part 2 of 3 is missing: put all 3 parts on the pad." in out  # the incomplete set, by part
    assert out.count("security off ✓") == 2 and out.count("security stays on") == 2
    assert "renewed until" in out
    assert "returned, thank you" in out and "waiting for it here" in out  # the checkin's sort message
    assert "Receipt" in out
    # privacy: the card number is masked wherever it is shown
    assert S.PATRON_VALID.id not in out and "**********0018" in out


def test_checked_out_tags_end_with_security_off_and_the_rest_keep_it(tmp_path) -> None:
    settings = load_settings(tmp_path, None)
    out = io.StringIO()
    with simulated_kiosk(settings) as devices:
        assert play(settings, devices, Screen(0, out=out)) == 0
        tags = devices.pad.tags_on_pad()
        ledger = devices.ils.library
        checked_out = {item for item in (S.ITEM_AVAILABLE, S.ITEM_DVD_SET, S.ITEM_ON_HOLD_FOR_OTHER,
                                         S.ITEM_AUDIOBOOK_SET) if ledger.applied("11", item=item)}
    states = {(t.barcode, t.part_number): t.security for t in tags}
    assert states == {
        (S.ITEM_AVAILABLE, 1): SecurityState.ON_LOAN,
        (S.ITEM_DVD_SET, 1): SecurityState.ON_LOAN,
        (S.ITEM_DVD_SET, 2): SecurityState.ON_LOAN,
        (S.ITEM_ON_HOLD_FOR_OTHER, 1): SecurityState.IN_LIBRARY,  # refused by the ILS
        (S.ITEM_AUDIOBOOK_SET, 1): SecurityState.IN_LIBRARY,  # set incomplete: never sent to the ILS
        (S.ITEM_AUDIOBOOK_SET, 3): SecurityState.IN_LIBRARY,
    }
    assert all((t.afi, t.eas) == (0xC2, False) for t in tags if t.security is SecurityState.ON_LOAN)
    # the ILS confirmed exactly what the tags say: security went off only where the loan was applied
    assert checked_out == {S.ITEM_AVAILABLE, S.ITEM_DVD_SET}
    assert "The Count of Monte Cristo" in out.getvalue()  # the refused set is named, not just its barcode


def test_the_demo_refuses_a_broken_config_with_one_line_per_problem(tmp_path, capsys) -> None:
    (tmp_path / "kiosk.toml").write_text("[sip2]\nport = \"abc\"\n", encoding="utf-8")
    assert main(["demo", "--config-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "sip2.port" in err and "kiosk.toml" in err


# -- the placeholder decisions, without devices --------------------------------------------------------


def item(uid: int, barcode: str, parts: int = 1, part: int = 1) -> StackItem:
    tag = TagData("iso28560-3", barcode, parts, part, "DK-718500", UsageType.CIRCULATING_ITEM, b"")
    return StackItem(bytes([0xE0, 0x04, 0, 0, 0, 0, 0, uid]), tag)


def test_entries_group_the_stack_by_barcode_with_their_set_status() -> None:
    items = (item(1, "B"), item(2, "A", 3, 1), item(3, "A", 3, 3), StackItem(b"\xe0\x04" + bytes(6), None, "gone"))
    entries = entries_on_pad(Stack(items, (), group_sets(items)))
    assert [(e.item_id, len(e.tags)) for e in entries] == [("A", 2), ("B", 1)]  # unreadable tags are not items
    assert entries[0].set_status == SetStatus("A", "DK-718500", 3, (1, 3), (2,))
    assert entries[1].set_status is None


def test_incomplete_set_message_names_the_missing_parts() -> None:
    def entry(present: tuple[int, ...], missing: tuple[int, ...], duplicates: tuple[int, ...] = ()) -> PadEntry:
        return PadEntry("A", (), SetStatus("A", "DK-718500", 3, present, missing, duplicates))

    assert incomplete_set_message(PadEntry("A", ())) is None  # not a set
    assert incomplete_set_message(entry((1, 2, 3), ())) is None
    assert incomplete_set_message(entry((1, 3), (2,))) == "Part 2 of 3 is missing: put all 3 parts on the pad."
    assert incomplete_set_message(entry((2,), (1, 3))) == "Parts 1 and 3 of 3 are missing: put all 3 parts on the pad."
    assert "desk" in incomplete_set_message(entry((1, 2, 3), (), (2,)))
