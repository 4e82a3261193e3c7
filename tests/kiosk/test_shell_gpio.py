"""GPIO wired to the kiosk: what the lights show for each condition, how pins become core events, and
whole runs where a pin driven on gpiozero's MockFactory changes a machine's state through the runner,
and a machine's commands move the pins."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest

from hardware_mocks.gpio import DEMO_SETTINGS, MockPins, wired_factory
from kiosk.circulation.commands import Command, OpenGate, RouteToBin, SetOutOfService
from kiosk.circulation.events import (
    BinFull,
    DeviceStatus,
    Event,
    GateOpened,
    IlsHealth,
    ItemDropped,
    PinEntered,
    Pressed,
    Routed,
    TimerFired,
)
from kiosk.circulation.events import GateAlarm as CoreGateAlarm
from kiosk.circulation.returns import ReturnsBinMachine, ReturnsState
from kiosk.circulation.rows import Message, Row, RowKind, RowState
from kiosk.circulation.session import NOTICE, PatronSessionMachine, Phase, SessionState
from kiosk.circulation.staff import StaffMachine, StaffState
from kiosk.config import CirculationSettings, ReturnsSettings
from kiosk.hardware.gpio import BinSensor, GateAlarm, GpioUnavailable, Indication
from kiosk.hardware.gpio_settings import GpioSettings
from kiosk.hardware.health import DeviceHealth, HealthRegistry
from kiosk.hardware.rfid.models import TagData, UsageType
from kiosk.hardware.rfid.watcher import Stack, StackItem, StackStable
from kiosk.runner import Runner
from kiosk.shell.gate_alarm import GateAlarmLog, SessionContext, SessionMemory, context_of, remember
from kiosk.shell.gpio_inputs import BinSensors, DropBeam, bin_event
from kiosk.shell.gpio_wiring import GpioShell, device_status
from kiosk.shell.indication import KioskCondition, indicate, observe
from kiosk.shell.inputs import ChuteFeed
from kiosk.shell.outputs import HELD, Outputs
from kiosk.shell.timers import TimerService

WAIT = 10.0  # upper bound for a runner to reach a state; nothing here measures time


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- what the lights show ----------------------------------------------------------------------------


def test_the_light_rules_for_every_condition() -> None:
    for values in itertools.product((False, True), repeat=5):
        c = KioskCondition(*values)
        shown = indicate(c)
        closed = c.out_of_service or c.returns_closed
        assert shown.red == closed, c
        if closed:  # red alone: one unmistakable signal, and no items in
            assert not shown.green and not shown.amber and not shown.slot_open, c
        else:
            assert shown.green == (not c.busy), c
            assert shown.amber == (c.busy or not c.online), c
            assert shown.slot_open, c
        assert shown.in_service == (not c.out_of_service), c  # a full bin does not release a held gate


def test_the_condition_follows_the_steps_of_every_machine() -> None:
    c = KioskCondition()
    c = observe(c, IlsHealth(connected=False), SessionState(phase=Phase.ACTIVE), ())
    assert (c.online, c.serving) == (False, True)
    c = observe(c, Pressed("x"), SessionState(), ())
    assert not c.serving
    returns = ReturnsState(in_flight=(), full_bins=("holds",))
    c = observe(c, BinFull("holds", True), returns, ())
    assert c.returns_closed and not c.sorting
    c = observe(c, Pressed("out_of_service"), StaffState(out_of_service=True), (SetOutOfService(True),))
    assert c.out_of_service
    c = observe(c, Pressed("x"), object(), (SetOutOfService(False),))
    assert not c.out_of_service
    same = observe(c, Pressed("x"), object(), ())
    assert same is c


# --- bin sensors -------------------------------------------------------------------------------------


def test_a_bin_is_unavailable_while_full_or_its_door_is_open_and_only_changes_are_reported() -> None:
    s = BinSensors()
    reported = []
    for sensor in (
        BinSensor("holds", "full", False),  # the state at start: nothing new
        BinSensor("holds", "full", True),
        BinSensor("holds", "door", True),  # still unavailable: no news
        BinSensor("holds", "door", False),  # still full
        BinSensor("holds", "full", False),
        BinSensor("transit", "door", True),
        BinSensor("transit", "door", False),
    ):
        s, event = bin_event(s, sensor)
        reported.append(event)
    assert reported == [
        None,
        BinFull("holds", True),
        None,
        None,
        BinFull("holds", False),
        BinFull("transit", True),
        BinFull("transit", False),
    ]


# --- the drop beam -----------------------------------------------------------------------------------


@dataclass
class Beam:
    beam: DropBeam
    clock: Clock
    timers: TimerService
    submitted: list[Event] = field(default_factory=list)

    def after(self, seconds: float) -> None:
        self.clock.now += seconds
        self.timers.tick()


@pytest.fixture
def beam() -> Iterator[Beam]:
    clock = Clock()
    timers = TimerService(clock=clock, threaded=False)
    submitted: list[Event] = []
    b = Beam(DropBeam(submitted.append, 2.0, timers=timers, clock=clock), clock, timers, submitted)
    yield b
    b.beam.close()
    timers.close()


def drop(n: int, item_id: str = "3123") -> ItemDropped:
    return ItemDropped(f"drop-{n}", item_id, (bytes([n]),))


def test_a_beam_break_with_no_tag_read_is_an_untagged_item_after_the_read_time(beam: Beam) -> None:
    beam.beam.beam()
    beam.after(1.9)
    assert beam.submitted == []
    beam.after(0.2)
    assert beam.submitted == [ItemDropped("beam-1", "", ())]


def test_a_tag_read_after_the_beam_is_the_item_and_no_untagged_one_follows(beam: Beam) -> None:
    beam.beam.beam()
    beam.after(0.5)
    beam.beam.tag_drop(drop(1))
    beam.after(5.0)
    assert beam.submitted == [drop(1)]


def test_two_items_one_tagged_one_not(beam: Beam) -> None:
    beam.beam.beam()
    beam.after(0.3)
    beam.beam.beam()
    beam.beam.tag_drop(drop(1))  # the first beam's item
    beam.after(2.0)
    assert beam.submitted == [drop(1), ItemDropped("beam-2", "", ())]


def test_a_tag_read_before_its_beam_is_matched_but_only_within_the_read_time(beam: Beam) -> None:
    beam.beam.tag_drop(drop(1))  # the antenna reaches into the slot
    beam.after(0.5)
    beam.beam.beam()
    beam.after(3.0)
    assert beam.submitted == [drop(1)]
    beam.beam.tag_drop(drop(2))  # a tag with no beam (a missed break) ...
    beam.after(3.0)
    beam.beam.beam()  # ... does not swallow a later untagged item
    beam.after(2.5)
    assert beam.submitted == [drop(1), drop(2), ItemDropped("beam-1", "", ())]


def test_tag_drops_with_no_beam_are_not_kept_past_the_read_time(beam: Beam) -> None:
    # A bin whose beam is not wired (or no longer breaks): every tagged item is a tag drop with no
    # beam. Each is kept only while a beam could still match it, however many items go through.
    for n in range(1, 1001):
        beam.beam.tag_drop(drop(n % 256))
        assert beam.beam.early_tags <= 2  # 2.0 s read time, an item every 1.5 s: at most 2 in reach
        beam.after(1.5)
    assert len(beam.submitted) == 1000
    beam.beam.beam()  # a late beam: the last tag drop (1.5 s ago) is still its item, no untagged one
    beam.after(2.5)
    assert len(beam.submitted) == 1000


# --- the gate alarm's context ------------------------------------------------------------------------


def row(item_id: str, state: RowState, confirmed: bool, kind: RowKind = RowKind.BORROW) -> Row:
    return Row(item_id, kind, state, Message("row"), confirmed=confirmed)


SESSION = SessionState(
    phase=Phase.ACTIVE,
    patron_id="21234000000026",
    pin="9999",
    rows=(
        row("A1", RowState.DONE, True),
        row("A2", RowState.UNTAGGED, True),
        row("A3", RowState.REFUSED, False),
        row("A4", RowState.OFFERED, False),  # already on loan to this patron
        row("R1", RowState.DONE, True, RowKind.RETURN),
        row("A5", RowState.NEEDS_STAFF, True),  # lent, but the tag would not take it
    ),
)


def test_the_context_names_items_and_what_became_of_them_but_never_the_patron() -> None:
    c = context_of(SESSION)
    assert c == SessionContext(lent=("A1",), unverified=("A2", "A5"), not_lent=(("A3", "refused"),))
    assert "2123" not in repr(c) and "9999" not in repr(c)


def test_the_memory_keeps_the_last_session_after_it_ended_and_when_it_ended() -> None:
    m = remember(SessionMemory(), SessionState(), 5.0)
    assert m == SessionMemory()
    m = remember(m, SESSION, 10.0)
    assert m.ended_at is None and m.context is not None and m.context.lent == ("A1",)
    m = remember(m, SessionState(left_behind=("A3",)), 20.0)
    assert m.ended_at == 20.0 and m.context.left_behind == ("A3",) and m.context.lent == ("A1",)
    assert remember(m, SessionState(), 30.0) == m  # idle stays idle: the end is not moved


def test_the_alarm_report_says_what_staff_need() -> None:
    clock = Clock()
    reports = []
    alarms = GateAlarmLog(clock=clock, on_report=reports.append, keep=2)
    at = datetime(2026, 3, 2, 10, 15, 0, tzinfo=UTC)
    first = alarms.alarm(GateAlarm(at))
    assert first.context is None and first.text().endswith("no patron session since the kiosk started")
    alarms.observe(Pressed("x"), SESSION)
    clock.now += 30
    alarms.observe(Pressed("finish"), SessionState(left_behind=("A3",)))
    clock.now += 12
    second = alarms.alarm(GateAlarm(at))
    assert not second.in_progress and second.seconds_since_session == 12
    text = second.text()
    assert "an item was not checked out" in text and "ended 12 s before" in text
    assert "1 lent" in text and "security not verified: A2, A5" in text
    assert "not lent: A3 (refused)" in text and "left on the pad: A3" in text
    assert "21234000000026" not in text and "0026" not in text
    alarms.alarm(GateAlarm(at))
    assert reports[1] == second and len(alarms.recent()) == 2  # only the last `keep` are kept


# --- whole runs on the mock factory ------------------------------------------------------------------


@dataclass
class Kiosk:
    shell: GpioShell
    pins: MockPins
    runner: Runner
    clock: Clock
    beam_timers: TimerService
    positions: list[str | None]

    def after(self, seconds: float) -> None:
        self.clock.now += seconds
        self.beam_timers.tick()

    def wait_for(self, predicate: Callable) -> object:
        return self.runner.wait_for(predicate, WAIT)


@pytest.fixture
def build() -> Iterator[Callable[..., Kiosk]]:
    made: list[Kiosk] = []

    def make(
        machine,
        settings: GpioSettings = DEMO_SETTINGS,
        *,
        available: Callable[[], bool] = lambda: True,
        health: HealthRegistry | None = None,
    ) -> Kiosk:
        factory = wired_factory()
        pins = MockPins(factory, settings)
        pins.rest()
        clock = Clock()
        beam_timers = TimerService(clock=clock, threaded=False)
        positions: list[str | None] = []

        def maybe():
            if not available():
                raise GpioUnavailable("no GPIO pin factory (not a Raspberry Pi)")
            return factory

        shell = GpioShell(
            settings,
            factory=maybe,
            timers=beam_timers,
            clock=clock,
            health=health,
            sleep=lambda seconds: positions.append(pins.diverter_bin()),
        )
        runner = Runner(machine, outputs=Outputs(diverter=shell.diverter, gate=shell.gate), on_step=shell.on_step)
        runner.start()
        shell.start(runner.submit)
        kiosk = Kiosk(shell, pins, runner, clock, beam_timers, positions)
        made.append(kiosk)
        return kiosk

    yield make
    for kiosk in made:
        kiosk.runner.close()
        kiosk.shell.close()
        kiosk.beam_timers.close()


def returns_bin() -> ReturnsBinMachine:
    return ReturnsBinMachine(ReturnsSettings())


def test_an_untagged_item_through_the_beam_is_sorted_to_the_exceptions_bin(build) -> None:
    k = build(returns_bin())
    k.pins.break_beam()
    k.after(DEMO_SETTINGS.drop_beam_read_seconds)
    state: ReturnsState = k.wait_for(lambda s: s.routed_total == 1 and not s.in_flight)
    assert state.count("exceptions") == 1
    assert [e.reason for e in state.exceptions] == ["returns.unreadable"]
    assert k.positions == ["exceptions"]  # the diverter held the exceptions position while it fell
    assert k.pins.diverter_pins() == set()
    assert k.pins.lights() == {"green": True, "amber": False, "red": False}


def item_tag(n: int, item_id: str) -> StackItem:
    return StackItem(
        bytes((0xE0, 4, 0, 0, 0, 0, 0, n)),
        TagData("iso28560-3", item_id, 1, 1, "DK-718500", UsageType.CIRCULATING_ITEM, b""),
    )


def test_a_tagged_item_read_by_the_chute_reader_is_one_drop_not_two(build) -> None:
    k = build(returns_bin())
    chute = ChuteFeed(k.shell.chute_submit)
    k.pins.break_beam()
    k.after(DEMO_SETTINGS.drop_beam_read_seconds / 2)
    chute(StackStable(Stack(items=(item_tag(1, "31234000000016"),)), 0.0))
    state: ReturnsState = k.wait_for(lambda s: s.routed_total == 1 and not s.in_flight)
    k.after(10.0)  # long past the read time: the beam was matched, nothing more comes
    assert k.runner.wait_idle(WAIT)
    state = k.runner.snapshot()
    assert state.next_seq == 2 and state.routed_total == 1
    # no ILS here: the item goes to staff, named (not "unreadable"); no tag writer either, so arming it
    # on the way (as every known item is) fails too, and staff are told that as well
    assert [(e.item_id, e.reason) for e in state.exceptions] == [
        ("31234000000016", "returns.ils_failed"), ("31234000000016", "returns.security_failed")]


def test_a_full_bin_sensor_closes_the_returns_bin_and_shows_red(build) -> None:
    k = build(returns_bin())
    k.pins.fill_bin("holds")
    state: ReturnsState = k.wait_for(lambda s: not s.accepting)
    assert state.full_bins == ("holds",)
    assert k.pins.lights() == {"green": False, "amber": False, "red": True} and not k.pins.slot_open()
    k.pins.fill_bin("holds", False)
    k.wait_for(lambda s: s.accepting)
    assert k.runner.wait_idle(WAIT)
    assert k.pins.lights()["green"] and k.pins.slot_open()


def test_an_open_door_takes_each_bin_behind_it_out_until_it_shuts(build) -> None:
    k = build(returns_bin())
    k.pins.fill_bin("transit")
    k.pins.open_door("holds")  # one door for holds and transit
    k.wait_for(lambda s: set(s.full_bins) == {"holds", "transit"})
    k.pins.open_door("holds", False)
    state = k.wait_for(lambda s: s.full_bins == ("transit",))  # transit is still full
    assert not state.accepting


def test_a_bin_that_filled_while_gpio_was_missing_is_known_when_gpio_comes(build) -> None:
    present = {"gpio": False}
    k = build(returns_bin(), available=lambda: present["gpio"])
    k.pins.fill_bin("reshelve")
    assert k.runner.wait_idle(WAIT) and k.runner.snapshot().accepting
    present["gpio"] = True
    k.shell.probe()
    assert k.wait_for(lambda s: s.full_bins == ("reshelve",))


@dataclass
class Router:
    """A machine that asks for each bin in turn and keeps the answers (the RouteToBin path alone)."""

    bins: tuple[str, ...]

    def start(self) -> tuple[tuple[Routed, ...], list[Command]]:
        return (), []

    def step(self, state: tuple[Routed, ...], event: Event) -> tuple[tuple[Routed, ...], list[Command]]:
        if event == Pressed("route"):
            return state, [RouteToBin(f"r{i}", b) for i, b in enumerate(self.bins)]
        if isinstance(event, Routed):
            return (*state, event), []
        return state, []


def test_route_to_bin_commands_move_the_diverter_to_each_bins_position(build) -> None:
    k = build(Router(("holds", "transit", "reshelve", "exceptions", "media")))
    k.runner.submit(Pressed("route"))
    answers = k.wait_for(lambda s: len(s) == 5)
    assert [a.ok for a in answers] == [True, True, True, True, False]
    assert answers[4].detail == "the diverter has no position for bin 'media'"
    assert k.positions == ["holds", "transit", "reshelve", "exceptions"]


def test_without_gpio_routing_fails_with_the_reason_and_works_once_gpio_is_back(build) -> None:
    present = {"gpio": False}
    k = build(Router(("transit",)), available=lambda: present["gpio"])
    k.runner.submit(Pressed("route"))
    answers = k.wait_for(lambda s: len(s) == 1)
    assert not answers[0].ok and "GPIO unavailable: no GPIO pin factory" in answers[0].detail
    present["gpio"] = True
    k.shell.probe()
    k.runner.submit(Pressed("route"))
    answers = k.wait_for(lambda s: len(s) == 2)
    assert answers[1].ok and k.positions == ["transit"]


class Opener:
    """A machine that asks for one gate opening per Pressed("open") and keeps the answers."""

    def start(self) -> tuple[tuple[GateOpened, ...], list[Command]]:
        return (), []

    def step(self, state: tuple[GateOpened, ...], event: Event) -> tuple[tuple[GateOpened, ...], list[Command]]:
        if event == Pressed("open"):
            return state, [OpenGate(f"g{len(state)}")]
        if isinstance(event, GateOpened):
            return (*state, event), []
        return state, []


def wait_until(predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_staff_open_the_gate_and_the_relay_pulses_once_for_the_configured_time(build) -> None:
    """The whole path: staff's menu → OpenGate → the runner's gate lane → the relay on the mock pin."""
    settings = replace(DEMO_SETTINGS, gate_pulse_seconds=0.05)  # active-low relay on GPIO 17
    k = build(StaffMachine(lambda pin: pin == "4321", gate=True), settings)
    for event in (Pressed("staff"), PinEntered("4321")):
        k.runner.submit(event)
    assert k.runner.wait_idle(WAIT)
    relay = k.pins.pin(17)
    relay.clear_states()
    k.runner.submit(Pressed("open_gate"))
    state: StaffState = k.wait_for(lambda s: s.notice == ("staff.gate_opened", {}))
    assert state.gate_ref == ""
    assert wait_until(lambda: len(relay.states) >= 3 and not k.pins.gate())  # the pulse ends by itself
    assert [s.state for s in relay.states] == [True, False, True]  # idle high, energized (low) once, released
    # the time spent energized, from the mock pin's history: a lower bound only, which load can only lengthen
    assert relay.states[2].timestamp >= settings.gate_pulse_seconds - 1e-3


def test_a_gate_in_hold_mode_is_left_held_and_the_answer_says_why(build) -> None:
    k = build(Opener(), replace(DEMO_SETTINGS, gate_mode="hold"))
    assert k.runner.wait_idle(WAIT) and wait_until(k.pins.gate)  # held: the kiosk is in service
    relay = k.pins.pin(17)
    relay.clear_states()
    k.runner.submit(Pressed("open"))
    (answer,) = k.wait_for(lambda s: len(s) == 1)
    assert answer == GateOpened("g0", False, HELD)
    assert k.pins.gate() and [s.state for s in relay.states] == [False]  # still held, never released


def test_without_gpio_an_opening_fails_with_the_reason(build) -> None:
    k = build(Opener(), available=lambda: False)
    k.runner.submit(Pressed("open"))
    (answer,) = k.wait_for(lambda s: len(s) == 1)
    assert not answer.ok and "GPIO unavailable: no GPIO pin factory" in answer.detail


def test_staff_switching_the_kiosk_out_of_service_turns_the_light_red(build) -> None:
    k = build(StaffMachine(lambda pin: pin == "4321"))
    for event in (Pressed("staff"), PinEntered("4321"), Pressed("out_of_service")):
        k.runner.submit(event)
    k.wait_for(lambda s: s.out_of_service)
    assert k.runner.wait_idle(WAIT)
    assert k.pins.lights() == {"green": False, "amber": False, "red": True} and not k.pins.slot_open()
    k.runner.submit(Pressed("out_of_service"))
    k.wait_for(lambda s: not s.out_of_service)
    assert k.runner.wait_idle(WAIT)
    assert k.pins.lights() == {"green": True, "amber": False, "red": False}


def test_gpio_health_reaches_staff_mode_and_a_returning_gpio_is_shown_ok(build) -> None:
    present = {"gpio": False}
    registry = HealthRegistry()
    k = build(StaffMachine(lambda pin: False), available=lambda: present["gpio"], health=registry)
    registry.subscribe(lambda h: k.runner.submit(device_status(h)))
    state: StaffState = k.wait_for(lambda s: s.devices)
    assert [(d.component, d.state) for d in state.devices] == [("gpio", "failed")]
    assert "not a Raspberry Pi" in state.devices[0].reason
    present["gpio"] = True
    k.shell.probe()
    state = k.wait_for(lambda s: s.devices[0].state == "ok")
    assert k.pins.lights()["green"]  # shown as soon as the lights exist


def test_the_ils_going_offline_adds_amber(build) -> None:
    k = build(returns_bin())
    k.runner.submit(IlsHealth(connected=False, last_error="connection refused"))
    assert k.runner.wait_idle(WAIT)
    assert k.pins.lights() == {"green": True, "amber": True, "red": False}


@dataclass
class Sessions:
    """Plays patron session states, one per Pressed("next"), as the session machine would reach them."""

    states: list[SessionState]

    def start(self) -> tuple[SessionState, list[Command]]:
        return SessionState(), []

    def step(self, state: SessionState, event: Event) -> tuple[SessionState, list[Command]]:
        return (self.states.pop(0), []) if event == Pressed("next") and self.states else (state, [])


def test_a_gate_alarm_is_logged_with_the_session_before_it(build, caplog: pytest.LogCaptureFixture) -> None:
    k = build(Sessions([SESSION, SessionState(left_behind=())]))
    k.runner.submit(Pressed("next"))
    k.wait_for(lambda s: s.phase is Phase.ACTIVE)
    assert k.pins.lights() == {"green": False, "amber": True, "red": False}  # serving a patron
    k.pins.press_gate_alarm()
    during = k.shell.alarms.recent()[-1]
    assert during.in_progress and during.context.unverified == ("A2", "A5")
    k.runner.submit(Pressed("next"))
    k.wait_for(lambda s: s.phase is Phase.IDLE)
    assert k.runner.wait_idle(WAIT)
    k.clock.now += 8
    with caplog.at_level("WARNING", logger="kiosk.shell.gate_alarm"):
        k.pins.press_gate_alarm()
    after = k.shell.alarms.recent()[-1]
    assert not after.in_progress and after.seconds_since_session == 8
    assert caplog.messages[-1] == after.text() and "the last session ended 8 s before" in caplog.messages[-1]


def test_device_status_speaks_staff_modes_words() -> None:
    assert [
        device_status(h)
        for h in (
            DeviceHealth.up("gpio"),
            DeviceHealth.degraded("gpio", "light.red"),
            DeviceHealth.down("gpio", "none"),
        )
    ] == [
        DeviceStatus("gpio", "ok", ""),
        DeviceStatus("gpio", "warning", "light.red"),
        DeviceStatus("gpio", "failed", "none"),
    ]


def test_the_shell_shows_the_condition_before_the_first_step(build) -> None:
    k = build(returns_bin())
    assert k.shell.board.indication == Indication(green=True, slot_open=True, in_service=True)
    assert k.pins.lights()["green"] and k.pins.slot_open()


def test_a_gate_alarm_reaches_the_patron_session_as_a_notice_and_a_staff_count(build) -> None:
    k = build(PatronSessionMachine(CirculationSettings(pin_required=False)))
    k.pins.press_gate_alarm()
    state: SessionState = k.wait_for(lambda s: s.tally.gate_alarms == 1)
    assert state.notice == Message("gate.alarm") and state.phase is Phase.IDLE
    assert len(k.shell.alarms.recent()) == 1  # logged as well
    k.runner.submit(TimerFired(NOTICE))
    assert k.wait_for(lambda s: s.notice is None).tally.gate_alarms == 1


def test_gate_alarms_go_to_alarms_to_when_the_inputs_go_to_a_returns_bin() -> None:
    factory = wired_factory()
    pins = MockPins(factory, DEMO_SETTINGS)
    pins.rest()
    bin_events: list[Event] = []
    session_events: list[Event] = []
    with GpioShell(DEMO_SETTINGS, factory=lambda: factory, sleep=lambda s: None) as shell:
        shell.start(bin_events.append, alarms_to=session_events.append)
        pins.press_gate_alarm()
    alarms = [e for e in session_events if isinstance(e, CoreGateAlarm)]
    assert len(alarms) == 1 and not any(isinstance(e, CoreGateAlarm) for e in bin_events)
    assert abs(alarms[0].at - shell.alarms.recent()[-1].at.timestamp()) < 1e-6
