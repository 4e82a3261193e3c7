"""The lights and the gate-alarm log follow a station machine's states as they follow the machines
inside it: they look through ``KioskState`` / ``ReturnsStationState`` at the session, the returns
bin and staff mode, and the station's own out-of-service judgement wins."""

from __future__ import annotations

from datetime import UTC, datetime

from kiosk.circulation.commands import SetOutOfService
from kiosk.circulation.events import IlsHealth, Pressed
from kiosk.circulation.returns import ReturnsState
from kiosk.circulation.rows import Message, Request, Row, RowKind, RowState
from kiosk.circulation.session import Phase, SessionState
from kiosk.circulation.staff import StaffState
from kiosk.circulation.station import KioskState, ReturnsStationState
from kiosk.hardware.gpio import GateAlarm
from kiosk.shell.gate_alarm import GateAlarmLog
from kiosk.shell.indication import KioskCondition, indicate, observe

TICK = Pressed("ok")


def test_a_patron_session_inside_the_station_makes_the_kiosk_busy() -> None:
    active = KioskState(session=SessionState(phase=Phase.ACTIVE))
    condition = observe(KioskCondition(), TICK, active, ())
    assert condition == KioskCondition(serving=True)
    assert indicate(condition).amber and not indicate(condition).green
    assert observe(condition, TICK, KioskState(), ()) == KioskCondition()


def test_the_stations_out_of_service_wins_over_staffs_switch_and_its_commands() -> None:
    # out of service because the ILS is gone (offline mode "none"), though staff switched nothing
    down = KioskState(online=False, out_of_service=Message("oos.ils"))
    condition = observe(KioskCondition(), IlsHealth(False), down, (SetOutOfService(False),))
    assert condition == KioskCondition(out_of_service=True, online=False)
    assert indicate(condition).red and not indicate(condition).in_service
    back = KioskState(staff=StaffState(out_of_service=False))
    assert observe(condition, IlsHealth(True), back, ()) == KioskCondition()


def test_a_returns_station_closes_its_slot_when_the_bin_is_full_or_it_is_out_of_service() -> None:
    full = ReturnsStationState(returns=ReturnsState(full_bins=("holds",)))
    condition = observe(KioskCondition(), TICK, full, ())
    assert condition.returns_closed and not indicate(condition).slot_open
    staff_off = ReturnsStationState(staff=StaffState(out_of_service=True), out_of_service=Message("oos.staff"))
    condition = observe(KioskCondition(), TICK, staff_off, ())
    assert condition == KioskCondition(out_of_service=True)
    assert not indicate(condition).slot_open


def lent_row(item_id: str) -> Row:
    return Row(item_id, RowKind.BORROW, RowState.DONE, Message("row.done"), Request.CHECKOUT, confirmed=True)


def test_the_gate_alarm_log_remembers_the_session_inside_a_station() -> None:
    now = [100.0]
    alarms = GateAlarmLog(clock=lambda: now[0])
    session = SessionState(phase=Phase.ACTIVE, rows=(lent_row("31234000000016"),))
    alarms.observe(TICK, KioskState(session=session), ())
    alarms.observe(TICK, KioskState(), ())  # the session ended
    alarms.observe(TICK, StaffState(), ())  # staff mode's own states say nothing about patrons
    now[0] = 130.0
    report = alarms.alarm(GateAlarm(datetime(2025, 1, 1, tzinfo=UTC)))
    assert report.context is not None and report.context.lent == ("31234000000016",)
    assert not report.in_progress and report.seconds_since_session == 30.0
