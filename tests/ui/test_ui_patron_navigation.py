"""Which screen shows for a state, and the little the UI keeps itself: pure, no window, no clock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.circulation.model import PatronAccount
from kiosk.circulation.returns import ReturnsState
from kiosk.circulation.rows import Message, Row, RowKind, RowState
from kiosk.circulation.session import Mode, Phase, SessionState
from kiosk.circulation.staff import Screen as StaffScreen
from kiosk.circulation.staff import StaffState
from kiosk.circulation.station import KioskState, ReturnsStationState
from kiosk.ui import navigation as nav
from kiosk.ui.navigation import Presentation, View, screen_for

ACCOUNT = PatronAccount("p1", known=True, pin_ok=True, name="Ada")
ROW = Row("i1", RowKind.BORROW, RowState.ASKING, Message("item.asking"))
OOS = Message("oos.staff")


def kiosk(phase: Phase = Phase.IDLE, *, staff: StaffScreen = StaffScreen.CLOSED, out_of_service: Message | None = None,
          **session: object) -> KioskState:
    return KioskState(session=replace(SessionState(), phase=phase, **session), staff=StaffState(screen=staff),
                      out_of_service=out_of_service)


@pytest.mark.parametrize(("phase", "name"), [
    (Phase.IDLE, nav.IDLE), (Phase.PIN, nav.PIN), (Phase.LOOKING_UP, nav.LOOKING_UP), (Phase.REFUSED, nav.REFUSED),
    (Phase.ACTIVE, nav.ACTIVE), (Phase.FINISHING, nav.FINISHING), (Phase.RECEIPT, nav.RECEIPT),
    (Phase.SENDING_RECEIPT, nav.SENDING_RECEIPT),
])
def test_each_phase_has_its_screen(phase: Phase, name: str) -> None:
    assert screen_for(kiosk(phase)) == name


def test_staff_mode_comes_first_then_out_of_service_once_no_session_runs() -> None:
    for staff_screen in StaffScreen:
        if staff_screen is not StaffScreen.CLOSED:
            assert screen_for(kiosk(Phase.ACTIVE, staff=staff_screen, out_of_service=OOS)) == (
                f"staff_{staff_screen.name.lower()}")
    assert screen_for(kiosk(staff=StaffScreen.OFFLINE_QUEUE)) == "staff_offline_queue"
    assert screen_for(kiosk(Phase.IDLE, out_of_service=OOS)) == nav.OUT_OF_SERVICE
    assert screen_for(kiosk(Phase.ACTIVE, out_of_service=OOS)) == nav.ACTIVE  # the patron finishes first
    assert screen_for(kiosk(Phase.RECEIPT, out_of_service=OOS)) == nav.RECEIPT


def test_a_returns_bin_shows_its_screen_staff_or_out_of_service() -> None:
    bin_state = ReturnsStationState(returns=ReturnsState())
    assert screen_for(bin_state) == nav.RETURNS_BIN
    assert screen_for(replace(bin_state, out_of_service=OOS)) == nav.OUT_OF_SERVICE
    assert screen_for(replace(bin_state, staff=StaffState(screen=StaffScreen.MENU))) == "staff_menu"
    assert Presentation().follow(bin_state, 0, 4).screen(bin_state, 0) == nav.RETURNS_BIN


def walk(*states: KioskState, now: float = 0.0, start: Presentation | None = None) -> Presentation:
    p = start or Presentation()
    for state in states:
        p = p.follow(state, now, thank_you_seconds=4.0)
    return p


def test_thank_you_follows_a_finished_session_for_its_seconds_only() -> None:
    idle = kiosk()
    p = walk(kiosk(Phase.ACTIVE, account=ACCOUNT), kiosk(Phase.RECEIPT), idle, now=100.0)
    assert p.screen(idle, 100.0) == nav.THANK_YOU
    assert p.screen(idle, 103.9) == nav.THANK_YOU
    assert p.screen(idle, 104.0) == nav.IDLE
    # Another idle state (the pad changed) keeps the thank-you deadline.
    assert walk(idle, now=102.0, start=p).screen(idle, 103.0) == nav.THANK_YOU
    # A patron who touches it goes to idle at once.
    assert p.dismiss_thank_you().screen(idle, 100.5) == nav.IDLE
    # Out of service after the session: thank you first, then the sign.
    oos = kiosk(out_of_service=OOS)
    assert p.screen(oos, 101.0) == nav.THANK_YOU and p.screen(oos, 105.0) == nav.OUT_OF_SERVICE
    # A new card during thank you: its PIN screen at once.
    pin = kiosk(Phase.PIN)
    assert walk(pin, now=101.0, start=p).screen(pin, 101.0) == nav.PIN


def test_no_thank_you_without_a_session_or_when_staff_take_over() -> None:
    idle = kiosk()
    assert walk(kiosk(Phase.PIN), idle).screen(idle, 0.0) == nav.IDLE  # cancelled at the PIN
    assert walk(kiosk(Phase.REFUSED), idle).screen(idle, 0.0) == nav.IDLE
    staff = kiosk(staff=StaffScreen.PIN)
    p = walk(kiosk(Phase.ACTIVE, account=ACCOUNT), staff)
    assert p.thank_you_until is None and p.screen(staff, 0.0) == "staff_pin"


def test_an_open_session_starts_on_the_account_or_on_the_items_already_there() -> None:
    empty = kiosk(Phase.ACTIVE, account=ACCOUNT)
    assert walk(kiosk(Phase.LOOKING_UP), empty).screen(empty, 0) == nav.HOME
    stacked = kiosk(Phase.ACTIVE, account=ACCOUNT, rows=(ROW,))
    assert walk(kiosk(Phase.LOOKING_UP), stacked).screen(stacked, 0) == nav.ITEMS


def test_items_put_down_or_a_mode_switch_open_the_items_list_and_the_patrons_choice_stays_otherwise() -> None:
    home = walk(kiosk(Phase.LOOKING_UP), kiosk(Phase.ACTIVE, account=ACCOUNT))
    assert walk(kiosk(Phase.ACTIVE, account=ACCOUNT, rows=(ROW,)), start=home).view is View.ITEMS
    assert walk(kiosk(Phase.ACTIVE, account=ACCOUNT, mode=Mode.RETURN), start=home).view is View.ITEMS
    loans = home.show(View.LOANS)
    # On the loans list a new row does not pull the patron away; nor does any other change.
    assert walk(kiosk(Phase.ACTIVE, account=ACCOUNT, rows=(ROW,)), start=loans).view is View.LOANS
    assert walk(kiosk(Phase.ACTIVE, account=ACCOUNT, notice=Message("x")), start=loans).view is View.LOANS
    # The next session starts afresh.
    after = walk(kiosk(), kiosk(Phase.PIN), kiosk(Phase.LOOKING_UP), kiosk(Phase.ACTIVE, account=ACCOUNT),
                 start=loans)
    assert after.view is View.HOME


def test_the_more_time_countdown_runs_from_when_the_prompt_appeared() -> None:
    asking = kiosk(Phase.ACTIVE, account=ACCOUNT, more_time=True)
    p = walk(kiosk(Phase.ACTIVE, account=ACCOUNT), now=10.0)
    assert p.more_time_left(10.0, 20.0) == 0
    p = p.follow(asking, 50.0, 4.0)
    assert p.more_time_left(50.0, 20.0) == 20
    assert p.more_time_left(50.1, 20.0) == 20  # whole seconds, rounded up: never shows 0 too early
    p = p.follow(asking, 55.0, 4.0)  # still asking: the start stays
    assert p.more_time_left(59.5, 20.0) == 11
    assert p.more_time_left(99.0, 20.0) == 0
    p = p.follow(kiosk(Phase.ACTIVE, account=ACCOUNT), 60.0, 4.0)
    assert p.more_time_since is None
