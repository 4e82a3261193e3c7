"""The stations: the patron session (or the returns bin) and staff mode as one machine, and when a
kiosk is out of service. ``Station`` (from ``circulation_drive``) plays the runner, as ``Desk`` does in
the session's tests."""

from __future__ import annotations

import dataclasses

import pytest
from circulation_drive import NO_PIN, PATRON, PIN, STAFF_PIN, Station, on_pad, staff_machine, tag
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

from kiosk.circulation.commands import (
    CheckIn,
    CheckOut,
    Command,
    EmailReceipt,
    EndPatronSession,
    LookUpPatron,
    PrintReceipt,
    Renew,
    RenewAll,
    RouteToBin,
    SetOutOfService,
    SetSecurity,
    StartTimer,
    TestDevice,
    WriteTag,
)
from kiosk.circulation.events import (
    CardPresented,
    DeviceStatus,
    DeviceTested,
    Emailed,
    Event,
    GateAlarm,
    IlsFailed,
    IlsHealth,
    ItemDropped,
    ItemScanned,
    LoanAnswered,
    OfflineQueueChanged,
    PadChanged,
    PatronLookedUp,
    PinEntered,
    Pressed,
    Printed,
    RenewAllAnswered,
    ReturnAnswered,
    SecuritySet,
    SessionEnded,
    TagWritten,
    TimerFired,
    WrongBarcode,
)
from kiosk.circulation.model import (
    Failure,
    FailureKind,
    LoanAnswer,
    Pad,
    PatronAccount,
    RenewAllAnswer,
    ReturnAnswer,
)
from kiosk.circulation.returns import ReturnsBinMachine
from kiosk.circulation.rows import Message
from kiosk.circulation.session import PatronSessionMachine, Phase
from kiosk.circulation.staff import IDLE_TIMER, DeviceRow, OfflineQueue, Screen, StaffMachine
from kiosk.circulation.station import (
    MESSAGES,
    KioskState,
    KioskStationMachine,
    ReturnsStationMachine,
    ReturnsStationState,
)
from kiosk.config import CirculationSettings, ReturnsSettings

LANGUAGES = ("de", "en")
STAFF_IDLE = StartTimer(IDLE_TIMER, 120.0)


def kiosk(offline_mode: str = "checkin", circulation: CirculationSettings = NO_PIN) -> KioskStationMachine:
    session = PatronSessionMachine(circulation, languages=LANGUAGES)
    return KioskStationMachine(session, staff_machine(), offline_mode=offline_mode, languages=LANGUAGES)


def returns_station(offline_mode: str = "checkin") -> ReturnsStationMachine:
    return ReturnsStationMachine(ReturnsBinMachine(ReturnsSettings()), staff_machine(), offline_mode=offline_mode,
                                 languages=LANGUAGES)


def items(*item_ids: str, cards: tuple[str, ...] = ()) -> PadChanged:
    """A pad with these items, one tag each, and these cards."""
    return on_pad(*(tag(i, n) for n, i in enumerate(item_ids)), cards=cards)


# --- routing -------------------------------------------------------------------------------------------


def test_it_starts_in_service_online_with_both_machines_at_rest():
    s = Station(kiosk())
    assert s.state == KioskState(languages=LANGUAGES) and s.last == []


def test_device_reports_reach_both_machines():
    s = Station(kiosk())
    s.feed(DeviceStatus("printer", "failed", "paper out"))
    assert not s.state.session.printer_ok
    assert s.state.staff.devices == (DeviceRow("printer", "failed", "paper out"),)


def test_ils_health_is_the_stations_online_and_staffs_ils_row():
    s = Station(kiosk())
    s.feed(IlsHealth(False, last_error="refused"))
    assert not s.state.online and s.state.staff.devices == (DeviceRow("ils", "failed", "refused"),)
    s.feed(IlsHealth(True, latency_ms=12.0))
    assert s.state.online and s.state.staff.devices == (DeviceRow("ils", "ok", "12 ms"),)


def test_the_offline_queue_reaches_staff_mode():
    s = Station(kiosk())
    s.feed(OfflineQueueChanged(3, 1, "2026-01-02 10:00"))
    assert s.state.staff.offline_queue == OfflineQueue(3, 1, "2026-01-02 10:00")


def test_a_gate_alarm_is_the_sessions():
    s = Station(kiosk())
    staff_before = s.state.staff
    commands = s.feed(GateAlarm(1_790_000_000.0))
    assert s.state.session.notice == Message("gate.alarm") and StartTimer("notice", 10.0) in commands
    assert s.state.staff is staff_before


def test_device_test_answers_reach_staff_mode_and_not_the_session():
    s = Station(kiosk())
    s.log_in()
    test = s.only(TestDevice, s.feed(Pressed("open", "reader_test")))
    session_before = s.state.session
    s.feed(DeviceTested(test.ref, ok=True, detail="firmware 1.2"))
    assert s.state.staff.test is not None and s.state.staff.test.ok is True
    assert s.state.session is session_before


def test_tag_programming_takes_the_scanner_and_the_pad_and_its_answers():
    s = Station(kiosk())
    s.log_in()
    s.feed(Pressed("open", "program"))
    session_before = s.state.session
    s.feed(ItemScanned("31234000000011"))
    write = s.only(WriteTag, s.feed(PadChanged(Pad(unreadable=(b"\xe0\x99",)))))
    assert write.item_id == "31234000000011"
    s.feed(TagWritten(write.ref, ok=True))
    assert s.state.staff.programmed == ("31234000000011",)
    assert s.state.session is session_before


def test_timers_go_by_name():
    s = Station(kiosk(circulation=CirculationSettings(pin_required=True)))
    s.feed(CardPresented(PATRON))
    s.feed(TimerFired("inactivity"))
    assert s.state.session.phase is Phase.IDLE  # the session's timer
    s.feed(Pressed("staff"))
    s.feed(TimerFired("inactivity"))
    assert s.state.staff.screen is Screen.PIN  # not staff mode's
    s.feed(TimerFired(IDLE_TIMER))
    assert s.state.staff.screen is Screen.CLOSED


def test_the_staff_button_opens_staff_mode_between_patrons_and_the_session_never_sees_it():
    s = Station(kiosk())
    session_before = s.state.session
    assert s.feed(Pressed("staff")) == [STAFF_IDLE]
    assert s.state.staff.screen is Screen.PIN and s.state.session is session_before


def test_the_staff_button_is_ignored_in_the_middle_of_a_session():
    s = Station(kiosk())
    s.identify()
    before = s.state
    assert s.feed(Pressed("staff")) == [] and s.state is before


def test_the_staff_button_opens_staff_mode_on_a_refusal_notice():
    s = Station(kiosk())
    lookup = s.only(LookUpPatron, s.feed(CardPresented(PATRON)))
    s.feed(IlsFailed(lookup.ref, Failure(FailureKind.UNREACHABLE, "down")))
    assert s.state.session.phase is Phase.REFUSED
    s.feed(Pressed("staff"))
    assert s.state.staff.screen is Screen.PIN


def test_a_locked_out_staff_login_stays_closed_and_says_so():
    s = Station(kiosk())
    s.feed(Pressed("staff"), PinEntered("0"), PinEntered("0"), PinEntered("0"))
    assert s.state.staff.locked_out and s.state.staff.screen is Screen.CLOSED
    s.feed(Pressed("staff"))
    assert s.state.staff.screen is Screen.CLOSED and s.state.staff.notice == ("staff.locked_out", {})


@pytest.mark.parametrize("event", [
    CardPresented(PATRON), PinEntered(PIN), ItemScanned("A"), WrongBarcode("barcode.isbn"), Pressed("finish"),
    Pressed("language", "de"), items("A", cards=(PATRON,)),
], ids=repr)
def test_while_staff_mode_is_open_the_session_sees_no_touch_or_input(event: Event):
    s = Station(kiosk())
    s.feed(Pressed("staff"))
    session_before = s.state.session
    s.feed(event)
    assert s.state.session is session_before
    s.feed(PinEntered(STAFF_PIN))
    s.feed(event)
    assert s.state.session is session_before


def test_staff_mode_sees_the_pad_as_it_is_when_it_opens():
    s = Station(kiosk())
    s.feed(items("A"))
    s.feed(Pressed("staff"))
    assert s.state.staff.pad == items("A").pad


def test_items_staff_leave_on_the_pad_are_known_to_the_session_and_not_the_next_patrons():
    s = Station(kiosk())
    s.feed(items("A"))  # a patron laid out a book, then staff came
    s.log_in()
    s.feed(items("A", "B"))  # staff put a freshly programmed book down
    assert s.state.session.pad == items("A").pad  # not seen while staff mode is open
    s.feed(Pressed("logout"))
    assert s.state.staff.screen is Screen.CLOSED
    assert s.state.session.pad == items("A", "B").pad and s.state.session.left_behind == ("B",)
    commands = s.identify()
    assert [c.item_id for c in commands if isinstance(c, CheckOut)] == ["A"]


def test_the_pad_is_handed_back_when_staff_mode_times_out_too():
    s = Station(kiosk())
    s.log_in()
    s.feed(items("B"), TimerFired(IDLE_TIMER))
    assert s.state.staff.screen is Screen.CLOSED and s.state.session.left_behind == ("B",)


def test_a_card_left_on_the_pad_during_staff_mode_starts_nothing_until_put_down_again():
    s = Station(kiosk())
    s.log_in()
    s.feed(items(cards=(PATRON,)))
    commands = s.feed(Pressed("logout"))
    assert not [c for c in commands if isinstance(c, LookUpPatron)] and s.state.session.phase is Phase.IDLE
    assert PATRON not in repr(s.state)
    s.feed(items())
    assert s.only(LookUpPatron, s.feed(items(cards=(PATRON,)))).patron_id == PATRON


def test_staff_switching_out_of_service_comes_through_as_a_command_and_a_state():
    s = Station(kiosk())
    s.log_in()
    commands = s.feed(Pressed("out_of_service"))
    assert commands == [STAFF_IDLE, SetOutOfService(True)]
    assert s.state.out_of_service == Message("oos.staff")
    s.feed(Pressed("logout"))
    assert s.state.out_of_service == Message("oos.staff")
    s.log_in()  # staff can always come back to switch it on again
    s.feed(Pressed("out_of_service"))
    assert s.state.out_of_service is None


# --- out of service --------------------------------------------------------------------------------------


def _failed(*components: str) -> list[Event]:
    return [DeviceStatus(c, "failed", "gone") for c in components]


@pytest.mark.parametrize(("mode", "staff", "ils_down", "devices", "expected"), [
    ("none", True, True, ("reader",), "oos.staff"),
    ("none", False, True, ("reader",), "oos.ils"),
    ("none", False, False, ("reader",), "oos.devices"),
    ("checkin", False, True, ("reader",), "oos.devices"),
    ("checkin_and_checkout", False, True, (), None),
    ("checkin", False, True, (), None),
    ("none", False, True, (), "oos.ils"),
    ("none", False, False, ("reader", "scanner"), "oos.devices"),
    ("none", False, False, ("printer",), None),
])
def test_out_of_service_says_the_most_telling_reason(mode, staff, ils_down, devices, expected):
    s = Station(kiosk(mode))
    if staff:
        s.log_in()
        s.feed(Pressed("out_of_service"), Pressed("logout"))
    if ils_down:
        s.feed(IlsHealth(False))
    s.feed(*_failed(*devices))
    assert s.state.out_of_service == (Message(expected) if expected else None)
    assert s.state.online is not ils_down


def test_a_kiosk_is_out_of_service_for_devices_only_when_every_item_input_that_reported_failed():
    s = Station(kiosk())
    s.feed(DeviceStatus("scanner", "ok"), DeviceStatus("reader", "failed"))
    assert s.state.out_of_service is None  # it can still take scanned items
    s.feed(DeviceStatus("scanner", "warning"))
    assert s.state.out_of_service is None
    s.feed(DeviceStatus("scanner", "failed"))
    assert s.state.out_of_service == Message("oos.devices")
    s.feed(DeviceStatus("reader", "ok"))
    assert s.state.out_of_service is None


def test_every_out_of_service_reason_and_offline_banner_has_english_words():
    banners = {f"offline.banner.{mode}" for mode in ("none", "checkin", "checkin_and_checkout", "returns")}
    assert set(MESSAGES) == {"oos.staff", "oos.ils", "oos.devices", *banners} and all(MESSAGES.values())


def test_an_idle_kiosk_out_of_service_starts_no_session_from_a_card_or_the_pad():
    s = Station(kiosk("none"))
    s.feed(IlsHealth(False))
    assert s.state.out_of_service == Message("oos.ils")
    assert s.feed(CardPresented(PATRON)) == [] and s.state.session.phase is Phase.IDLE
    assert s.feed(items("A", cards=(PATRON,))) == [] and s.state.session.phase is Phase.IDLE
    assert s.state.session.pad == items("A").pad  # the pad is still watched
    assert s.feed(Pressed("finish")) == [] and s.feed(Pressed("more_time")) == []
    s.feed(Pressed("language", "de"), Pressed("large_text"))  # the patron's choices are still taken
    assert (s.state.session.language, s.state.session.large_text) == ("de", True)
    s.feed(IlsHealth(True))
    assert s.state.out_of_service is None
    assert s.feed(items("A", cards=(PATRON,))) == []  # the card lying there must be put down again
    s.feed(items("A"))
    assert s.only(LookUpPatron, s.feed(items("A", cards=(PATRON,)))).patron_id == PATRON


def test_a_session_under_way_finishes_when_the_kiosk_goes_out_of_service():
    s = Station(kiosk("none"))
    s.identify()
    s.feed(IlsHealth(False))
    assert s.state.out_of_service == Message("oos.ils") and s.state.session.phase is Phase.ACTIVE
    assert s.only(CheckOut, s.feed(items("A"))).item_id == "A"
    s.feed(items())
    commands = s.feed(Pressed("finish"))
    assert s.state.session.phase is Phase.FINISHING and not [c for c in commands if isinstance(c, EndPatronSession)]


def test_a_refusal_can_be_dismissed_out_of_service_but_a_new_card_is_not_taken():
    s = Station(kiosk("none"))
    lookup = s.only(LookUpPatron, s.feed(CardPresented(PATRON)))
    s.feed(IlsFailed(lookup.ref, Failure(FailureKind.UNREACHABLE, "down")), IlsHealth(False))
    assert s.state.session.phase is Phase.REFUSED and s.state.out_of_service == Message("oos.ils")
    assert s.feed(CardPresented(PATRON)) == [] and s.state.session.phase is Phase.REFUSED
    s.feed(Pressed("ok"))
    assert s.state.session.phase is Phase.IDLE


def test_the_patrons_choices_through_the_station():
    s = Station(kiosk())
    s.feed(Pressed("language", "en"), Pressed("high_contrast"))
    s.identify()
    assert (s.state.session.language, s.state.session.high_contrast) == ("en", True)
    s.feed(Pressed("finish"))
    assert s.state.session.phase is Phase.IDLE and s.state.session.language == ""
    s.feed(Pressed("language", "de"), TimerFired("inactivity"))
    assert s.state.session.language == ""


def test_the_station_and_the_session_must_offer_the_same_languages():
    session = PatronSessionMachine(NO_PIN, languages=("en",))
    with pytest.raises(ValueError, match="languages"):
        KioskStationMachine(session, staff_machine(), offline_mode="none", languages=("de", "en"))
    with pytest.raises(ValueError, match="offline_mode"):
        KioskStationMachine(session, staff_machine(), offline_mode="sometimes", languages=("en",))
    with pytest.raises(ValueError, match="offline_mode"):
        ReturnsStationMachine(ReturnsBinMachine(ReturnsSettings()), staff_machine(), offline_mode="",
                              languages=("en",))
    with pytest.raises(ValueError, match="languages"):
        ReturnsStationMachine(ReturnsBinMachine(ReturnsSettings()), staff_machine(), offline_mode="none",
                              languages=())


# --- the returns bin --------------------------------------------------------------------------------------


def test_the_returns_station_starts_open():
    s = Station(returns_station())
    assert isinstance(s.state, ReturnsStationState) and s.state.accepting and s.state.out_of_service is None
    assert s.state.returns.count("reshelve") == 0


def test_drops_and_their_answers_reach_the_bin():
    s = Station(returns_station())
    checkin = s.only(CheckIn, s.feed(ItemDropped("d1", "A", (b"\x01",))))
    security = s.only(SetSecurity, s.feed(ReturnAnswered(checkin.ref, ReturnAnswer("A", ok=True, title="T"))))
    route = s.only(RouteToBin, s.feed(SecuritySet(security.ref, ok=True)))
    assert route.bin == "reshelve" and s.state.staff.screen is Screen.CLOSED


def test_the_returns_station_is_out_of_service_on_staffs_switch_or_with_no_ils_and_no_offline_returns():
    s = Station(returns_station("none"))
    s.feed(*_failed("reader", "scanner"))
    assert s.state.out_of_service is None  # a bin's reader is not a patron's item input
    s.feed(IlsHealth(False))
    assert s.state.out_of_service == Message("oos.ils") and not s.state.accepting and not s.state.online
    s.log_in()
    s.feed(Pressed("out_of_service"))
    assert s.state.out_of_service == Message("oos.staff")
    s = Station(returns_station("checkin"))
    s.feed(IlsHealth(False))
    assert s.state.out_of_service is None and s.state.accepting


def test_an_item_dropped_while_out_of_service_is_still_processed():
    s = Station(returns_station("none"))
    s.feed(IlsHealth(False))
    assert s.only(CheckIn, s.feed(ItemDropped("d1", "A"))).item_id == "A"


def test_bin_actions_are_staffs_only():
    s = Station(returns_station())
    s.feed(ItemDropped("d1", ""))  # unreadable: an exception for staff
    assert s.state.returns.exceptions
    assert s.feed(Pressed("exceptions_cleared")) == [] and s.state.returns.exceptions
    s.feed(Pressed("staff"))
    assert s.feed(Pressed("exceptions_cleared")) == [] and s.state.returns.exceptions  # PIN not yet given
    s.feed(PinEntered(STAFF_PIN))
    assert s.feed(Pressed("exceptions_cleared")) == [STAFF_IDLE] and not s.state.returns.exceptions


def test_a_returns_station_offers_no_tag_programming_and_a_kiosk_still_does():
    """A bin's reader sits in the chute and reports only drops: programming would wait forever."""
    s = Station(returns_station())
    s.log_in()
    assert not s.state.staff.offers("program")
    before = s.state
    assert s.feed(Pressed("open", "program")) == [] and s.state == before
    assert s.only(TestDevice, s.feed(Pressed("open", "reader_test"))).component == "reader"  # the rest still opens
    s.feed(TimerFired(IDLE_TIMER))  # staff mode closes (idle), and opens again: still not offered
    s.log_in()
    assert s.feed(Pressed("open", "program")) == [] and s.state.staff.screen is Screen.MENU

    k = Station(kiosk())
    k.log_in()
    assert k.state.staff.offers("program")
    k.feed(Pressed("open", "program"))
    assert k.state.staff.screen is Screen.PROGRAM


def test_the_returns_station_routes_staff_timers_and_ignores_the_rest():
    s = Station(returns_station())
    s.log_in()
    before = s.state
    assert s.feed(TimerFired("inactivity"), CardPresented(PATRON), GateAlarm(0.0)) == [] and s.state == before
    s.feed(TimerFired(IDLE_TIMER))
    assert s.state.staff.screen is Screen.CLOSED
    assert s.feed(Pressed("finish"), ItemScanned("A")) == [] and s.state.staff.screen is Screen.CLOSED


# --- random sequences -------------------------------------------------------------------------------------

ACTIONS = ("staff", "staff", "logout", "out_of_service", "out_of_service", "cancel", "ok", "finish", "finish",
           "return", "borrow", "retry", "more_time", "receipt_print", "receipt_email", "receipt_none", "renew_all",
           "back", "open",
           "language", "language", "large_text", "high_contrast")
TIMERS = ("inactivity", "inactivity", "more_time", "notice", IDLE_TIMER, "staff.lockout")


def pick(data: st.DataObject, choices: tuple | list):
    return choices[data.draw(st.integers(0, len(choices) - 1))]


def an_answer(data: st.DataObject, command: Command) -> Event | None:
    ref = getattr(command, "ref", "")
    fail = pick(data, (False, False, False, True))
    match command:
        case LookUpPatron():
            if fail:
                return IlsFailed(ref, Failure(FailureKind.UNREACHABLE, "down"))
            return PatronLookedUp(ref, PatronAccount(command.patron_id, known=pick(data, (True, True, False)),
                                                     pin_ok=pick(data, (True, None, False)), email="p@example.org"))
        case CheckOut() | Renew():
            if fail:
                return IlsFailed(ref, Failure(pick(data, tuple(FailureKind)), "x"))
            return LoanAnswered(ref, LoanAnswer(command.item_id, ok=pick(data, (True, False)), due="20261201"))
        case CheckIn():
            return ReturnAnswered(ref, ReturnAnswer(command.item_id, ok=pick(data, (True, False)), title="T"))
        case RenewAll():
            return RenewAllAnswered(ref, RenewAllAnswer(True, ("A",)))
        case SetSecurity():
            return SecuritySet(ref, ok=pick(data, (True, True, False)))
        case PrintReceipt():
            return Printed(ref, ok=pick(data, (True, False)))
        case EmailReceipt():
            return Emailed(ref, ok=pick(data, (True, False)))
        case EndPatronSession():
            return SessionEnded(ref)
        case TestDevice():
            return DeviceTested(ref, ok=pick(data, (True, False)))
        case WriteTag():
            return TagWritten(ref, ok=pick(data, (True, False)))
    return None


def an_event(data: st.DataObject) -> Event:
    match pick(data, ("card", "pin", "pad", "pad", "scan", "press", "press", "press", "timer", "ils", "device",
                      "gate", "queue")):
        case "card":
            return CardPresented(PATRON)
        case "pin":
            return PinEntered(pick(data, (PIN, STAFF_PIN, STAFF_PIN, "0")))
        case "pad":
            on = tuple(i for i in ("A", "B") if pick(data, (False, True)))
            return items(*on, cards=pick(data, ((), (), (PATRON,))))
        case "scan":
            return ItemScanned(pick(data, ("A", "C")))
        case "press":
            action = pick(data, ACTIONS)
            arg = {"language": pick(data, ("de", "en", "xx")), "open": pick(data, ("program", "reader_test"))}
            return Pressed(action, arg.get(action, ""))
        case "timer":
            return TimerFired(pick(data, TIMERS))
        case "ils":
            return IlsHealth(pick(data, (True, False)))
        case "device":
            return DeviceStatus(pick(data, ("reader", "scanner", "printer")), pick(data, ("ok", "failed")))
        case "gate":
            return GateAlarm(0.0)
    return OfflineQueueChanged(pick(data, (0, 2)))


INPUTS = (Pressed, PinEntered, ItemScanned, WrongBarcode, CardPresented, PadChanged)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), mode=st.sampled_from(("none", "checkin", "checkin_and_checkout")),
       pin_required=st.booleans())
def test_random_sequences_never_raise_and_keep_the_stations_promises(data, mode, pin_required):
    machine = kiosk(mode, dataclasses.replace(NO_PIN, pin_required=pin_required))
    state, _ = machine.start()
    out: dict[str, Command] = {}
    # Kept independently of the machine, from the events and commands alone.
    online, switched, inputs = True, False, {}
    sessions_ended = 0
    for _ in range(data.draw(st.integers(1, 60), label="steps")):
        answerable = sorted(out)
        if answerable and pick(data, (False, True)):
            command = out.pop(pick(data, answerable))
            event = an_answer(data, command) or an_event(data)
        else:
            event = an_event(data)
        before = state
        state, commands = machine.step(state, event)
        for command in commands:
            if getattr(command, "ref", None) is not None:
                out[command.ref] = command
            if isinstance(command, SetOutOfService):
                switched = command.on
            if isinstance(command, EndPatronSession):
                sessions_ended += 1
        if isinstance(event, IlsHealth):
            online = event.connected
        if isinstance(event, DeviceStatus) and event.component in ("reader", "scanner"):
            inputs[event.component] = event.state

        note_event(f"phase {state.session.phase}")
        note_event(f"staff {state.staff.screen}")
        note_event(f"out of service {state.out_of_service and state.out_of_service.id}")
        if before.session.phase is not Phase.IDLE and state.session.phase is Phase.IDLE:
            note_event("back to idle")
            if before.session.language or before.session.large_text or before.session.high_contrast:
                note_event("back to idle with choices to reset")
            s = state.session
            assert (s.language, s.large_text, s.high_contrast) == ("", False, False), "choices outlived the session"
        expected = ("oos.staff" if switched else "oos.ils" if not online and mode == "none"
                    else "oos.devices" if inputs and all(v == "failed" for v in inputs.values()) else None)
        assert state.out_of_service == (Message(expected) if expected else None)
        assert state.online is online
        staff_was_open = before.staff.screen is not Screen.CLOSED
        if staff_was_open and state.staff.screen is not Screen.CLOSED and isinstance(event, INPUTS):
            assert state.session == before.session, "a touch reached the session behind staff mode"
        if not staff_was_open and state.staff.screen is not Screen.CLOSED:
            assert before.session.phase in (Phase.IDLE, Phase.REFUSED), "staff mode opened mid-session"
        if isinstance(event, Pressed) and event.action == "staff":
            assert state.session == before.session
        if before.out_of_service is not None and not staff_was_open and before.session.phase is Phase.IDLE:
            assert state.session.phase is Phase.IDLE, "an out-of-service kiosk started a session"
            assert not any(isinstance(c, LookUpPatron) for c in commands)
        assert PATRON not in repr(dataclasses.replace(state, session=dataclasses.replace(
            state.session, patron_id="", account=None, rows=())))  # a card's id lives only in the session
    assert state.session.tally.sessions == sessions_ended


@pytest.mark.parametrize("mode", ["checkin", "checkin_and_checkout"])
def test_the_offline_banner_says_what_the_sites_offline_policy_allows(mode: str) -> None:
    machine = KioskStationMachine(PatronSessionMachine(CirculationSettings(), languages=("en",)),
                                  StaffMachine(lambda pin: False), offline_mode=mode, languages=("en",))
    state, _ = machine.start()
    assert state.offline_notice is None
    state, _ = machine.step(state, IlsHealth(connected=False, last_error="refused"))
    assert state.offline_notice == Message(f"offline.banner.{mode}") and state.out_of_service is None
    state, _ = machine.step(state, IlsHealth(connected=True, latency_ms=3.0))
    assert state.offline_notice is None
