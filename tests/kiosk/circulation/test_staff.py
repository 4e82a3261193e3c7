"""Staff mode: PIN and lockout, device screens, out-of-service, leaving, and tag programming."""

from __future__ import annotations

import dataclasses

from circulation_drive import STAFF_PIN, all_of, feed, logged_in
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.circulation.commands import (
    CancelTimer,
    LeaveKiosk,
    SetOutOfService,
    Signal,
    StartTimer,
    TestDevice,
    WriteTag,
)
from kiosk.circulation.events import (
    CardPresented,
    DeviceStatus,
    DeviceTested,
    Event,
    IlsHealth,
    ItemScanned,
    OfflineQueueChanged,
    PadChanged,
    PinEntered,
    Pressed,
    TagWritten,
    TimerFired,
)
from kiosk.circulation.model import Pad, PadItem
from kiosk.circulation.staff import (
    IDLE_TIMER,
    LOCKOUT_TIMER,
    MESSAGES,
    DeviceRow,
    OfflineQueue,
    Screen,
    StaffMachine,
    StaffState,
    Step,
    TagJob,
)

U1, U2, U3 = b"\xe0\x01", b"\xe0\x02", b"\xe0\x03"


class Verifier:
    """A stand-in for the hash check that also counts how often it was asked."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, pin: str) -> bool:
        self.calls += 1
        return pin == STAFF_PIN


def machine(**kwargs: object) -> tuple[StaffMachine, Verifier]:
    verify = Verifier()
    return StaffMachine(verify, **kwargs), verify


def blank(*uids: bytes) -> PadChanged:
    return PadChanged(Pad(unreadable=uids))


def programming(m: StaffMachine, *, parts: int = 1, item_id: str = "it-1") -> StaffState:
    state, _ = feed(m, logged_in(m), Pressed("open", "program"))
    if parts != 1:
        state, _ = feed(m, state, Pressed("parts", str(parts)))
    state, _ = feed(m, state, ItemScanned(item_id))
    assert state.job.step is Step.PLACE
    return state


# --- login, lockout, idle -----------------------------------------------------------------------


def test_staff_log_in_with_the_pin_which_is_never_kept():
    m, verify = machine()
    state, cmds = feed(m, m.start()[0], Pressed("staff"))
    assert state.screen is Screen.PIN
    assert cmds == [StartTimer(IDLE_TIMER, 120.0)]
    state, cmds = feed(m, state, PinEntered(STAFF_PIN))
    assert state.screen is Screen.MENU and state.logged_in
    assert verify.calls == 1
    assert STAFF_PIN not in repr(state)
    assert cmds == [StartTimer(IDLE_TIMER, 120.0)]


def test_a_wrong_pin_says_how_many_tries_are_left():
    m, _ = machine()
    state, cmds = feed(m, m.start()[0], Pressed("staff"), PinEntered("0000"))
    assert state.screen is Screen.PIN and state.failures == 1
    assert state.notice == ("staff.pin_wrong", {"left": "2"})
    assert MESSAGES[state.notice[0]].format(**state.notice[1]) == "Wrong PIN (2 tries left)"
    assert Signal("error") in cmds
    assert "0000" not in repr(state)


def test_repeated_wrong_pins_lock_staff_login_until_the_lockout_timer_fires():
    m, verify = machine(max_attempts=3, lockout_seconds=60.0)
    state, _ = feed(m, m.start()[0], Pressed("staff"), PinEntered("1"), PinEntered("2"))
    state, cmds = feed(m, state, PinEntered("3"))
    assert state.locked_out and state.screen is Screen.CLOSED
    assert StartTimer(LOCKOUT_TIMER, 60.0) in cmds and CancelTimer(IDLE_TIMER) in cmds
    assert verify.calls == 3

    # Locked: the PIN screen does not open, and no PIN is even checked.
    state, cmds = feed(m, state, Pressed("staff"), PinEntered(STAFF_PIN))
    assert state.screen is Screen.CLOSED and state.notice == ("staff.locked_out", {})
    assert verify.calls == 3 and cmds == []

    state, _ = feed(m, state, TimerFired(LOCKOUT_TIMER))
    assert not state.locked_out and state.failures == 0
    state, _ = feed(m, state, Pressed("staff"), PinEntered(STAFF_PIN))
    assert state.screen is Screen.MENU


def test_cancelling_the_pin_screen_does_not_forget_the_failures():
    m, _ = machine(max_attempts=3)
    state, _ = feed(m, m.start()[0], Pressed("staff"), PinEntered("1"), PinEntered("2"), Pressed("cancel"))
    assert state.screen is Screen.CLOSED and state.failures == 2
    state, _ = feed(m, state, Pressed("staff"), PinEntered("3"))
    assert state.locked_out


def test_a_good_pin_clears_the_failures():
    m, _ = machine()
    state, _ = feed(m, m.start()[0], Pressed("staff"), PinEntered("1"), PinEntered(STAFF_PIN))
    assert state.failures == 0 and state.notice is None


def test_pins_and_timers_out_of_place_are_ignored():
    m, verify = machine()
    state, _ = m.start()
    for event in (
        PinEntered(STAFF_PIN),
        TimerFired(LOCKOUT_TIMER),
        TimerFired(IDLE_TIMER),
        Pressed("logout"),
        ItemScanned("it-1"),
        TagWritten("staff-1", ok=True),
        CardPresented("P1"),
        Pressed("open", "program"),
    ):
        assert m.step(state, event) == (state, []), event
    assert verify.calls == 0


def test_idle_staff_mode_closes_itself_and_staff_actions_restart_the_timer():
    m, _ = machine(idle_seconds=30.0)
    state = logged_in(m)
    state, cmds = feed(m, state, Pressed("open", "devices"))
    assert cmds == [StartTimer(IDLE_TIMER, 30.0)]
    state, cmds = feed(m, state, TimerFired(IDLE_TIMER))
    assert state.screen is Screen.CLOSED and cmds == []


def test_logout_keeps_device_reports_and_the_out_of_service_switch_but_nothing_else():
    m, _ = machine()
    state = logged_in(m)
    state, _ = feed(
        m,
        state,
        DeviceStatus("printer", "failed", "paper out"),
        Pressed("out_of_service"),
        Pressed("open", "program"),
        ItemScanned("it-1"),
        blank(U1),
    )
    state, _ = feed(m, state, TagWritten(state.job.ref, ok=True))
    assert state.programmed == ("it-1",)
    state, cmds = feed(m, state, Pressed("logout"))
    assert cmds == [CancelTimer(IDLE_TIMER)]
    assert state.screen is Screen.CLOSED
    assert state.out_of_service and state.devices == (DeviceRow("printer", "failed", "paper out"),)
    assert state.programmed == () and state.done_uids == frozenset() and state.pad == Pad()
    assert state.job == TagJob() and state.test is None


# --- what the runner reports ----------------------------------------------------------------------


def test_device_reports_are_kept_one_row_per_component_even_while_closed():
    m, _ = machine()
    state, _ = m.start()
    state, cmds = feed(
        m,
        state,
        DeviceStatus("reader", "ok"),
        DeviceStatus("printer", "warning", "paper low"),
        DeviceStatus("reader", "failed", "no answer"),
    )
    assert cmds == []
    assert state.devices == (
        DeviceRow("printer", "warning", "paper low"),
        DeviceRow("reader", "failed", "no answer"),
    )


def test_ils_health_becomes_a_device_row():
    m, _ = machine()
    state, _ = feed(m, m.start()[0], IlsHealth(True, 41.6))
    assert state.devices == (DeviceRow("ils", "ok", "42 ms"),)
    state, _ = feed(m, state, IlsHealth(True, 40.0, "resend asked"))
    assert state.devices == (DeviceRow("ils", "warning", "40 ms; resend asked"),)
    state, _ = feed(m, state, IlsHealth(False, None, "connection refused"))
    assert state.devices == (DeviceRow("ils", "failed", "connection refused"),)


def test_the_offline_queue_is_shown_as_reported():
    m, _ = machine()
    state, _ = feed(
        m, logged_in(m), OfflineQueueChanged(4, 1, "2024-05-01 10:00"), Pressed("open", "offline_queue")
    )
    assert state.screen is Screen.OFFLINE_QUEUE
    assert state.offline_queue == OfflineQueue(4, 1, "2024-05-01 10:00")
    state, _ = feed(m, state, Pressed("back"))
    assert state.screen is Screen.MENU


def test_the_patrons_pad_is_none_of_staff_modes_business():
    m, _ = machine()
    state, _ = m.start()
    patron_pad = PadChanged(Pad(items=(PadItem(U1, "it-9"),), patron_cards=("P12345",)))
    assert m.step(state, patron_pad) == (state, [])


# --- tests, out of service, leaving -------------------------------------------------------------


def test_the_reader_test_runs_on_opening_and_on_retest():
    m, _ = machine()
    state, cmds = feed(m, logged_in(m), Pressed("open", "reader_test"))
    (test,) = all_of(TestDevice, cmds)
    assert test.component == "reader" and state.test.ok is None
    state, _ = feed(m, state, DeviceTested("stale", ok=False))
    assert state.test.ok is None
    state, _ = feed(m, state, DeviceTested(test.ref, ok=True, detail="FW 3.1"))
    assert (state.test.ok, state.test.detail) == (True, "FW 3.1")
    state, cmds = feed(m, state, Pressed("retest"))
    (again,) = all_of(TestDevice, cmds)
    assert again.ref != test.ref and state.test.ok is None
    # The reader test screen shows what is on the pad now.
    state, _ = feed(m, state, blank(U1))
    assert state.pad == Pad(unreadable=(U1,))


def test_the_printer_test_and_a_late_answer_after_leaving_the_screen():
    m, _ = machine()
    state, cmds = feed(m, logged_in(m), Pressed("open", "printer_test"))
    (test,) = all_of(TestDevice, cmds)
    assert test.component == "printer"
    state, _ = feed(m, state, Pressed("back"))
    assert state.test is None
    assert m.step(state, DeviceTested(test.ref, ok=False)) == (state, [])


def test_the_out_of_service_switch_toggles_and_tells_the_runner():
    m, _ = machine()
    state, cmds = feed(m, logged_in(m), Pressed("out_of_service"))
    assert state.out_of_service and SetOutOfService(True) in cmds
    state, cmds = feed(m, state, Pressed("out_of_service"))
    assert not state.out_of_service and SetOutOfService(False) in cmds


def test_the_out_of_service_switch_needs_a_logged_in_staff_member():
    m, _ = machine()
    state, _ = m.start()
    assert m.step(state, Pressed("out_of_service")) == (state, [])
    state, _ = feed(m, state, Pressed("staff"))
    assert m.step(state, Pressed("out_of_service")) == (state, [])


def test_leaving_the_kiosk_asks_first():
    m, _ = machine()
    state, cmds = feed(m, logged_in(m), Pressed("open", "leave"))
    assert state.screen is Screen.CONFIRM_LEAVE and not all_of(LeaveKiosk, cmds)
    back, cmds = feed(m, state, Pressed("back"))
    assert back.screen is Screen.MENU and not all_of(LeaveKiosk, cmds)
    state, cmds = feed(m, state, Pressed("confirm"))
    assert all_of(LeaveKiosk, cmds) == [LeaveKiosk()]
    assert state.screen is Screen.CLOSED


def test_unknown_menu_entries_are_ignored():
    m, _ = machine()
    state = logged_in(m)
    assert m.step(state, Pressed("open", "nowhere")) == (state, [])
    assert m.step(state, Pressed("confirm")) == (state, [])


# --- tag programming ------------------------------------------------------------------------------


def test_programming_one_blank_tag():
    m, _ = machine()
    state, _ = feed(m, logged_in(m), Pressed("open", "program"))
    assert state.job == TagJob() and state.job.step is Step.SCAN
    state, cmds = feed(m, state, ItemScanned("it-1"))
    assert state.job.step is Step.PLACE and not all_of(WriteTag, cmds)
    state, cmds = feed(m, state, blank(U1))
    (write,) = all_of(WriteTag, cmds)
    assert (write.uid, write.item_id, write.parts_in_set, write.part_number) == (U1, "it-1", 1, 1)
    assert state.job.step is Step.WRITING
    state, cmds = feed(m, state, TagWritten(write.ref, ok=True))
    assert Signal("success") in cmds
    assert state.notice == ("staff.program.done", {"item_id": "it-1", "tags": "1"})
    assert state.programmed == ("it-1",) and state.job == TagJob()


def test_a_tag_already_on_the_pad_is_written_as_soon_as_the_barcode_is_scanned():
    m, _ = machine()
    state, _ = feed(m, logged_in(m), Pressed("open", "program"), blank(U1))
    state, cmds = feed(m, state, ItemScanned("it-1"))
    assert [w.uid for w in all_of(WriteTag, cmds)] == [U1]


def test_programming_a_three_part_set_one_tag_after_another():
    m, _ = machine()
    state = programming(m, parts=3)
    pad: tuple[bytes, ...] = ()
    for part, uid in enumerate((U1, U2, U3), start=1):
        assert state.job.step is Step.PLACE and state.job.part == part
        assert (
            MESSAGES["staff.program.place"].format(part=part, parts=3) == f"Place the tag (part {part} of 3)"
        )
        pad = (*pad, uid)  # earlier parts stay on the pad
        state, cmds = feed(m, state, blank(*pad))
        (write,) = all_of(WriteTag, cmds)
        assert (write.uid, write.parts_in_set, write.part_number) == (uid, 3, part)
        state, cmds = feed(m, state, TagWritten(write.ref, ok=True))
    assert state.notice == ("staff.program.done", {"item_id": "it-1", "tags": "3"})
    assert state.done_uids == {U1, U2, U3}
    assert state.job.parts_in_set == 1, "the parts count goes back to 1 for the next item"


def test_the_parts_count_is_checked_and_fixed_once_a_part_is_written():
    m, _ = machine()
    state, _ = feed(m, logged_in(m), Pressed("open", "program"))
    for bad in ("0", "abc", "256", "", "-2"):
        assert m.step(state, Pressed("parts", bad))[0] == state, bad
    state, _ = feed(m, state, Pressed("parts", "2"), ItemScanned("it-1"), blank(U1))
    state, _ = feed(m, state, TagWritten(state.job.ref, ok=True))
    assert state.job.part == 2
    assert m.step(state, Pressed("parts", "5"))[0] == state


def test_a_tag_holding_another_item_is_only_overwritten_after_confirmation():
    m, _ = machine()
    state = programming(m)
    state, cmds = feed(m, state, PadChanged(Pad(items=(PadItem(U1, "old-7"),))))
    assert not all_of(WriteTag, cmds)
    assert state.job.step is Step.CONFIRM_OVERWRITE and state.job.other_item == "old-7"
    assert Signal("attention") in cmds

    declined, cmds = feed(m, state, Pressed("cancel"))
    assert declined.job.step is Step.PLACE and not all_of(WriteTag, cmds)
    removed, _ = feed(m, state, PadChanged(Pad()))
    assert removed.job.step is Step.PLACE

    state, cmds = feed(m, state, Pressed("confirm_overwrite"))
    (write,) = all_of(WriteTag, cmds)
    assert write.uid == U1 and write.item_id == "it-1"


def test_a_tag_already_holding_this_item_is_rewritten_without_asking():
    m, _ = machine()
    state = programming(m)
    _, cmds = feed(m, state, PadChanged(Pad(items=(PadItem(U1, "it-1", 1, 1),))))
    assert [w.uid for w in all_of(WriteTag, cmds)] == [U1]


def test_several_new_tags_are_refused_until_one_is_left():
    m, _ = machine()
    state = programming(m)
    state, cmds = feed(m, state, blank(U1, U2))
    assert not all_of(WriteTag, cmds)
    assert state.notice == ("staff.program.one_tag", {"count": "2"})
    state, cmds = feed(m, state, blank(U2))
    assert [w.uid for w in all_of(WriteTag, cmds)] == [U2]


def test_the_tags_of_an_item_just_programmed_are_left_alone():
    m, _ = machine()
    state = programming(m)
    state, _ = feed(m, state, blank(U1))
    state, _ = feed(m, state, TagWritten(state.job.ref, ok=True))
    # The watcher now reads U1 as it-1; staff leave the book on the pad and scan the next one.
    state, cmds = feed(m, state, PadChanged(Pad(items=(PadItem(U1, "it-1"),))), ItemScanned("it-2"))
    assert state.job.step is Step.PLACE and not all_of(WriteTag, cmds)
    state, cmds = feed(m, state, PadChanged(Pad(items=(PadItem(U1, "it-1"),), unreadable=(U2,))))
    assert [(w.uid, w.item_id) for w in all_of(WriteTag, cmds)] == [(U2, "it-2")]


def test_a_failed_write_is_retried_on_request_or_with_another_tag_never_in_a_loop():
    m, _ = machine()
    state = programming(m)
    state, cmds = feed(m, state, blank(U1))
    first = all_of(WriteTag, cmds)[0]
    state, cmds = feed(m, state, TagWritten(first.ref, ok=False, detail="read back differs"))
    assert state.job.step is Step.FAILED and state.job.detail == "read back differs"
    assert Signal("error") in cmds
    # The pad reports the same failed tag again: no automatic rewrite.
    same, cmds = feed(m, state, blank(U1))
    assert same.job.step is Step.FAILED and not all_of(WriteTag, cmds)

    retried, cmds = feed(m, state, Pressed("retry"))
    (retry,) = all_of(WriteTag, cmds)
    assert retry.uid == U1 and retry.ref != first.ref and retried.job.step is Step.WRITING
    # A stale answer to the first write changes nothing.
    assert m.step(retried, TagWritten(first.ref, ok=True))[0] == retried

    other, cmds = feed(m, state, blank(U1, U2))
    assert [w.uid for w in all_of(WriteTag, cmds)] == [U2] and other.job.uid == U2

    gone, cmds = feed(m, state, blank())
    assert gone.job.step is Step.PLACE and not all_of(WriteTag, cmds)
    assert m.step(gone, Pressed("retry")) == (gone, [])


def test_nothing_interrupts_a_write_in_flight():
    m, _ = machine()
    state = programming(m)
    state, _ = feed(m, state, blank(U1))
    for event in (
        Pressed("back"),
        ItemScanned("it-2"),
        Pressed("cancel_item"),
        Pressed("parts", "2"),
        blank(U1, U2),
        Pressed("confirm_overwrite"),
        Pressed("retry"),
    ):
        after, cmds = m.step(state, event)
        assert not all_of(WriteTag, cmds) and after.job == state.job, event


def test_a_new_scan_mid_set_asks_to_finish_or_cancel_the_set():
    m, _ = machine()
    state = programming(m, parts=2)
    state, _ = feed(m, state, blank(U1))
    state, _ = feed(m, state, TagWritten(state.job.ref, ok=True))
    after, cmds = feed(m, state, ItemScanned("it-2"))
    assert after.job == state.job and Signal("attention") in cmds
    assert after.notice == ("staff.program.finish_set", {"part": "2", "parts": "2"})
    state, _ = feed(m, state, Pressed("cancel_item"))
    assert state.job == TagJob()


def test_a_new_scan_before_any_write_replaces_the_item():
    m, _ = machine()
    state = programming(m)
    state, _ = feed(m, state, ItemScanned("it-2"))
    assert state.job.item_id == "it-2" and state.job.step is Step.PLACE


def test_scans_outside_programming_and_back_to_the_menu():
    m, _ = machine()
    state = logged_in(m)
    assert m.step(state, ItemScanned("it-1")) == (state, [])
    state = programming(m)
    state, _ = feed(m, state, Pressed("back"))
    assert state.screen is Screen.MENU and state.job == TagJob()


def test_patron_cards_on_the_pad_are_never_written():
    m, _ = machine()
    state = programming(m)
    state, cmds = feed(m, state, PadChanged(Pad(patron_cards=("P777",))))
    assert not all_of(WriteTag, cmds) and state.job.step is Step.PLACE


# --- random sequences -----------------------------------------------------------------------------

UIDS = st.sampled_from([U1, U2, U3, b"\xe0\x04", b"\xe0\x05"])
ITEMS = st.builds(PadItem, UIDS, st.sampled_from(["it-1", "it-2", "old"]))
pads = st.one_of(
    st.builds(lambda uid: Pad(unreadable=(uid,)), UIDS),  # one tag: the usual case, and the one that writes
    st.builds(lambda item: Pad(items=(item,)), ITEMS),
    st.builds(
        Pad,
        items=st.lists(ITEMS, max_size=2).map(tuple),
        unreadable=st.lists(UIDS, max_size=2).map(tuple),
        patron_cards=st.lists(st.just("P9"), max_size=1).map(tuple),
    ),
)
staff_events = st.one_of(
    st.builds(
        Pressed,
        st.sampled_from(
            [
                "staff",
                "cancel",
                "logout",
                "back",
                "confirm",
                "retest",
                "out_of_service",
                "confirm_overwrite",
                "retry",
                "cancel_item",
            ]
        ),
    ),
    st.builds(
        Pressed,
        st.just("open"),
        st.sampled_from(
            ["devices", "offline_queue", "reader_test", "printer_test", "program", "program", "leave"]
        ),
    ),
    st.builds(Pressed, st.just("parts"), st.sampled_from(["1", "2", "3", "x"])),
    st.builds(PinEntered, st.sampled_from([STAFF_PIN, "0000"])),
    st.builds(TimerFired, st.sampled_from([IDLE_TIMER, LOCKOUT_TIMER])),
    st.builds(ItemScanned, st.sampled_from(["it-1", "it-2", ""])),
    st.builds(PadChanged, pads),
    st.builds(PadChanged, pads),
    # Answers: to whatever is in flight (resolved in the test loop), or to a stale ref.
    st.sampled_from(["write ok", "write ok", "write failed", "test answered"]),
    st.builds(TagWritten, st.just("staff-1"), st.booleans()),
    st.builds(DeviceStatus, st.sampled_from(["reader", "printer"]), st.sampled_from(["ok", "failed"])),
)
# Mostly the programming loop's own events, so long runs of parts, overwrites and failures happen.
_answers = st.sampled_from(["write ok", "write ok", "write failed"])
_program_presses = st.sampled_from(
    [
        Pressed("confirm_overwrite"),
        Pressed("retry"),
        Pressed("cancel"),
        Pressed("parts", "3"),
        Pressed("parts", "2"),
        ItemScanned("it-1"),
        ItemScanned("it-2"),
        Pressed("cancel_item"),
    ]
)
program_events = st.sampled_from(
    [pads.map(PadChanged)] * 4 + [_answers] * 3 + [_program_presses] * 3 + [staff_events]
).flatmap(lambda strategy: strategy)
_pins = st.sampled_from([PinEntered("0000"), PinEntered("0000"), PinEntered(STAFF_PIN), Pressed("staff")])
STARTS = {
    "closed": [],
    "pin": [Pressed("staff")],
    "menu": [Pressed("staff"), PinEntered(STAFF_PIN)],
    "program": [Pressed("staff"), PinEntered(STAFF_PIN), Pressed("open", "program"), ItemScanned("it-1")],
}


def resolve(event: Event | str, state: StaffState) -> Event:
    if event == "test answered":
        return DeviceTested(state.test.ref if state.test else "none", ok=True)
    if isinstance(event, str):
        return TagWritten(state.job.ref or "none", ok=event == "write ok")
    return event


@settings(max_examples=500)
@given(data=st.data(), start=st.sampled_from(sorted(STARTS)))
def test_random_event_sequences_keep_the_invariants(data, start):
    if start == "program":
        events = data.draw(st.lists(program_events, min_size=20, max_size=80))
    elif start == "pin":
        events = data.draw(st.lists(st.one_of(_pins, staff_events.map(lambda e: e)), min_size=5, max_size=60))
    else:
        events = data.draw(st.lists(staff_events, min_size=5, max_size=60))
    m, _ = machine(max_attempts=3)
    state, _ = m.start()
    out_of_service = False
    for event in [*STARTS[start], *events]:
        event = resolve(event, state)
        before = state
        state, cmds = m.step(state, event)
        assert STAFF_PIN not in repr(state) and "0000" not in repr(state)
        if state.notice is not None:
            MESSAGES[state.notice[0]].format(**state.notice[1])  # every notice has words, with its parameters
        if state.locked_out:
            assert state.screen is Screen.CLOSED
        else:
            assert state.failures < 3
        if state.screen is Screen.CLOSED:
            assert (
                state.job == TagJob() and state.programmed == () and state.pad == Pad() and state.test is None
            )
        assert (state.job.step is Step.WRITING) == bool(state.job.ref)
        if state.job.step is not Step.SCAN:
            assert len(state.job.written) == state.job.part - 1 and state.job.part <= state.job.parts_in_set
        assert set(state.job.written).isdisjoint(state.done_uids)
        for cmd in cmds:
            if isinstance(cmd, WriteTag):
                assert before.screen is Screen.PROGRAM and before.logged_in
                assert cmd.uid not in before.done_uids and cmd.uid not in before.job.written
                holds = {i.uid: i.item_id for i in state.pad.items}.get(cmd.uid)
                if holds not in (None, cmd.item_id):
                    assert event == Pressed("confirm_overwrite"), "overwrote another item without asking"
            elif isinstance(cmd, LeaveKiosk):
                assert before.screen is Screen.CONFIRM_LEAVE and event == Pressed("confirm")
            elif isinstance(cmd, SetOutOfService):
                assert before.screen is Screen.MENU
                out_of_service = cmd.on
        assert state.out_of_service == out_of_service


def test_an_entry_the_station_withholds_does_not_open_and_stays_withheld_after_logout():
    m, _ = machine()
    start, _ = m.start()
    state, _ = feed(m, dataclasses.replace(start, withheld=frozenset({"printer_test"})),
                    Pressed("staff"), PinEntered(STAFF_PIN))
    assert not state.offers("printer_test") and state.offers("reader_test")
    assert feed(m, state, Pressed("open", "printer_test")) == (state, [])
    state, _ = feed(m, state, Pressed("logout"), Pressed("staff"), PinEntered(STAFF_PIN))
    assert state.screen is Screen.MENU and state.withheld == frozenset({"printer_test"})
    assert feed(m, state, Pressed("open", "printer_test")) == (state, [])
    opened, commands = feed(m, state, Pressed("open", "reader_test"))
    assert opened.screen is Screen.READER_TEST and all_of(TestDevice, commands)
