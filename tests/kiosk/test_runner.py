"""The runner with a scripted machine and fake executors: ordering, parallel ILS work, snapshots,
timers on a hand-driven clock, failures that become answers, and a clean shutdown every time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import pytest

from hardware_mocks.feig_pty import FeigPtySimulator, SimTag, make_uid
from kiosk.circulation.commands import (
    CancelTimer,
    CheckIn,
    CheckOut,
    Command,
    EmailReceipt,
    EndPatronSession,
    LeaveKiosk,
    LookUpPatron,
    OpenGate,
    PrintReceipt,
    ReceiptLine,
    Renew,
    RenewAll,
    RouteToBin,
    SetOutOfService,
    SetSecurity,
    Signal,
    StartTimer,
    TestDevice,
    WriteTag,
)
from kiosk.circulation.events import (
    DeviceTested,
    Emailed,
    Event,
    GateOpened,
    IlsFailed,
    IlsHealth,
    LoanAnswered,
    PadChanged,
    PatronLookedUp,
    Pressed,
    Printed,
    RenewAllAnswered,
    ReturnAnswered,
    Routed,
    SecuritySet,
    SessionEnded,
    TagWritten,
    TimerFired,
)
from kiosk.circulation.model import FailureKind, LoanAnswer, PatronAccount, RenewAllAnswer, ReturnAnswer
from kiosk.hardware.rfid.models import TagData, decode_tag
from kiosk.hardware.rfid.readers.base import ReaderUnavailable, SystemInfo, TagInfo, TagNotInField, TagReader
from kiosk.hardware.rfid.readers.feig import FeigReader
from kiosk.hardware.rfid.readers.shared import SharedReader
from kiosk.hardware.rfid.security import SecurityReading, SecurityScheme, SecurityState
from kiosk.hardware.rfid.watcher import TagWatcher, WatcherSettings
from kiosk.runner import Runner
from kiosk.shell.device_tests import TEST_PAGE, DeviceTests
from kiosk.shell.inputs import watcher_feed
from kiosk.shell.kiosk_mode import MemoryKioskMode
from kiosk.shell.outputs import HELD, MemoryDiverter, MemoryGate, MemoryMailer, MemoryPrinter, Outputs
from kiosk.shell.tag_programming import TagProgrammer
from kiosk.shell.tag_security import TagSecurity
from kiosk.shell.timers import TimerService

WAIT = 5.0  # generous bounds for waits; nothing here measures time


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = threading.active_count()
    yield
    assert threading.active_count() == before, [t.name for t in threading.enumerate()]


# -- a scripted machine ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Log:
    """The scripted machine's state: every event it stepped, in order."""

    events: tuple[Event, ...] = ()

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


@dataclass
class Scripted:
    """Answers ``Pressed(action)`` with the commands ``script[action]`` returns; records everything.

    ``block`` names an action whose step waits for ``release`` (to hold the runner thread still);
    ``explode`` an action whose step raises.
    """

    script: dict[str, Callable[[str], list[Command]]] = field(default_factory=dict)
    on_answer: Callable[[Event], list[Command]] = lambda event: []
    start_commands: list[Command] = field(default_factory=list)
    block: str | None = None
    release: threading.Event = field(default_factory=threading.Event)
    explode: str | None = None

    def start(self) -> tuple[Log, list[Command]]:
        return Log(), list(self.start_commands)

    def step(self, state: Log, event: Event) -> tuple[Log, list[Command]]:
        if isinstance(event, Pressed):
            if event.action == self.explode:
                raise RuntimeError("a bug in the core")
            if event.action == self.block:
                assert self.release.wait(WAIT)
            commands = self.script.get(event.action, lambda arg: [])(event.arg)
            return replace(state, events=(*state.events, event)), commands
        return replace(state, events=(*state.events, event)), self.on_answer(event)


# -- a fake gateway --------------------------------------------------------------------------------


class FakeGateway:
    """Answers every ILS command; ``gate(command)`` may block or raise; concurrency is recorded."""

    def __init__(self, sessions: int = 4, gate: Callable[[object], None] | None = None) -> None:
        self._sessions = sessions
        self.gate = gate or (lambda command: None)
        self._lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.calls: list[object] = []
        self.opened = 0
        self._health = IlsHealth(connected=True, latency_ms=1.0)

    @property
    def sessions(self) -> int:
        return self._sessions

    def open(self) -> None:
        self.opened += 1

    def close(self) -> None:
        pass

    def health(self) -> IlsHealth:
        with self._lock:
            return self._health

    def set_health(self, health: IlsHealth) -> None:
        with self._lock:
            self._health = health

    def _through(self, command: object) -> None:
        with self._lock:
            self.calls.append(command)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self.gate(command)
        finally:
            with self._lock:
                self.active -= 1

    def look_up_patron(self, command: LookUpPatron) -> PatronLookedUp:
        self._through(command)
        return PatronLookedUp(command.ref, PatronAccount(command.patron_id, known=True, pin_ok=True))

    def check_out(self, command: CheckOut) -> LoanAnswered:
        self._through(command)
        return LoanAnswered(command.ref, LoanAnswer(command.item_id, ok=True, due="tomorrow"))

    def renew(self, command: Renew) -> LoanAnswered:
        self._through(command)
        return LoanAnswered(command.ref, LoanAnswer(command.item_id, ok=True, renewed=True))

    def renew_all(self, command: RenewAll) -> RenewAllAnswered:
        self._through(command)
        return RenewAllAnswered(command.ref, RenewAllAnswer(ok=True))

    def check_in(self, command: CheckIn) -> ReturnAnswered:
        self._through(command)
        return ReturnAnswered(command.ref, ReturnAnswer(command.item_id, ok=True))

    def end_patron_session(self, command: EndPatronSession) -> SessionEnded:
        self._through(command)
        return SessionEnded(command.ref)


def checkouts(arg: str) -> list[Command]:
    return [CheckOut(f"co-{item}", "p1", item, None) for item in arg.split(",")]


def runner_for(machine: Scripted, **kwargs) -> Runner[Log]:
    kwargs.setdefault("timers", TimerService(threaded=False))
    return Runner(machine, **kwargs).start()


# -- ordering and snapshots ------------------------------------------------------------------------


def test_events_are_stepped_in_the_order_they_were_submitted_and_every_change_is_published() -> None:
    published: list[Log] = []
    runner = runner_for(Scripted(), on_change=published.append)
    try:
        for n in range(200):
            assert runner.submit(Pressed("tap", str(n)))
        assert runner.wait_idle(WAIT)
        final = runner.snapshot()
    finally:
        runner.close()
    assert [e.arg for e in final.of(Pressed)] == [str(n) for n in range(200)]
    assert len(published) == 200 and published[-1] == final
    # each published snapshot is a value that later steps did not change
    assert [len(s.events) for s in published] == list(range(1, 201))


def test_events_from_many_threads_are_each_stepped_exactly_once() -> None:
    runner = runner_for(Scripted())
    try:
        def feed(thread: int) -> None:
            for n in range(50):
                runner.submit(Pressed("tap", f"{thread}:{n}"))

        threads = [threading.Thread(target=feed, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert runner.wait_idle(WAIT)
        args = [e.arg for e in runner.snapshot().of(Pressed)]
    finally:
        runner.close()
    assert sorted(args) == sorted(f"{t}:{n}" for t in range(4) for n in range(50))
    for t in range(4):  # per producer, order is kept
        mine = [a for a in args if a.startswith(f"{t}:")]
        assert mine == [f"{t}:{n}" for n in range(50)]


def test_snapshot_before_start_is_refused_and_start_commands_run() -> None:
    machine = Scripted(start_commands=[LookUpPatron("lu-0", "p0", None)])
    runner = Runner(machine, gateway=FakeGateway(), timers=TimerService(threaded=False))
    with pytest.raises(RuntimeError):
        runner.snapshot()
    runner.start()
    try:
        state = runner.wait_for(lambda s: bool(s.of(PatronLookedUp)), WAIT)
    finally:
        runner.close()
    assert state.of(PatronLookedUp)[0].ref == "lu-0"


# -- the ILS lane ----------------------------------------------------------------------------------


def test_a_stack_is_checked_out_over_all_sessions_at_once() -> None:
    arrived = threading.Barrier(4, timeout=WAIT)  # breaks (and the test fails) unless 4 run together
    gateway = FakeGateway(sessions=4, gate=lambda c: arrived.wait() if isinstance(c, CheckOut) else None)
    runner = runner_for(Scripted(script={"stack": checkouts}), gateway=gateway)
    try:
        runner.submit(Pressed("stack", "a,b,c,d,e,f,g,h"))
        state = runner.wait_for(lambda s: len(s.of(LoanAnswered)) == 8, WAIT)
    finally:
        runner.close()
    assert gateway.max_active == 4
    assert sorted(e.ref for e in state.of(LoanAnswered)) == sorted(f"co-{i}" for i in "abcdefgh")


def test_one_session_means_one_request_at_a_time() -> None:
    gateway = FakeGateway(sessions=1, gate=lambda c: threading.Event().wait(0.005))
    runner = runner_for(Scripted(script={"stack": checkouts}), gateway=gateway)
    try:
        runner.submit(Pressed("stack", "a,b,c,d,e"))
        state = runner.wait_for(lambda s: len(s.of(LoanAnswered)) == 5, WAIT)
    finally:
        runner.close()
    assert gateway.max_active == 1
    assert [e.ref for e in state.of(LoanAnswered)] == [f"co-{i}" for i in "abcde"]  # FIFO on one session


def test_rows_update_in_the_order_answers_arrive_not_the_order_asked() -> None:
    second_done = threading.Event()

    def gate(command: object) -> None:
        if isinstance(command, CheckOut) and command.item_id == "slow":
            assert second_done.wait(WAIT)

    def on_answer(event: Event) -> list[Command]:
        if isinstance(event, LoanAnswered) and event.ref == "co-fast":
            second_done.set()
        return []

    runner = runner_for(Scripted(script={"stack": checkouts}, on_answer=on_answer), gateway=FakeGateway(2, gate))
    try:
        runner.submit(Pressed("stack", "slow,fast"))
        state = runner.wait_for(lambda s: len(s.of(LoanAnswered)) == 2, WAIT)
    finally:
        runner.close()
    assert [e.ref for e in state.of(LoanAnswered)] == ["co-fast", "co-slow"]


def test_the_gateway_is_opened_once_at_start_and_health_changes_become_events() -> None:
    gateway = FakeGateway()
    runner = runner_for(Scripted(script={"look": lambda a: [LookUpPatron("lu-1", a, None)]}), gateway=gateway)
    try:
        first = runner.wait_for(lambda s: bool(s.of(IlsHealth)), WAIT)
        assert first.of(IlsHealth) == [IlsHealth(connected=True, latency_ms=1.0)]
        runner.submit(Pressed("look", "p1"))  # same health: no new event
        runner.wait_for(lambda s: bool(s.of(PatronLookedUp)), WAIT)
        gateway.set_health(IlsHealth(connected=False, latency_ms=1.0, last_error="connection refused"))
        runner.submit(Pressed("look", "p2"))
        state = runner.wait_for(lambda s: len(s.of(IlsHealth)) == 2, WAIT)
        assert runner.wait_idle(WAIT)
        state = runner.snapshot()
    finally:
        runner.close()
    assert gateway.opened == 1
    assert state.of(IlsHealth)[-1].last_error == "connection refused"
    assert len(state.of(IlsHealth)) == 2


def test_without_a_gateway_every_ils_command_is_answered_with_a_failure() -> None:
    script = {"all": lambda a: [LookUpPatron("lu", "p", None), CheckOut("co", "p", "i", None),
                                EndPatronSession("end", "p", None)]}
    runner = runner_for(Scripted(script=script))
    try:
        runner.submit(Pressed("all"))
        state = runner.wait_for(lambda s: len(s.of(IlsFailed)) == 2 and s.of(SessionEnded), WAIT)
    finally:
        runner.close()
    assert {f.failure.kind for f in state.of(IlsFailed)} == {FailureKind.UNREACHABLE}


# -- failures become answers; the runner survives ----------------------------------------------------


def test_an_executor_that_raises_is_answered_with_a_failure_and_the_runner_goes_on() -> None:
    def gate(command: object) -> None:
        if getattr(command, "item_id", "") == "boom" or isinstance(command, LookUpPatron):
            raise RuntimeError("bug in the gateway")

    script = {
        "go": lambda a: [CheckOut("co-boom", "p", "boom", None), LookUpPatron("lu", "p", None),
                         EndPatronSession("end", "p", None), CheckOut("co-ok", "p", "fine", None)],
    }
    runner = runner_for(Scripted(script=script), gateway=FakeGateway(gate=gate))
    try:
        runner.submit(Pressed("go"))
        state = runner.wait_for(lambda s: len(s.of(IlsFailed)) == 2 and s.of(LoanAnswered), WAIT)
        assert runner.wait_idle(WAIT)
        state = runner.snapshot()
    finally:
        runner.close()
    failures = {f.ref: f.failure.kind for f in state.of(IlsFailed)}
    # a transaction that crashed may have gone out: unknown, never "not done"; a lookup is harmless
    assert failures == {"co-boom": FailureKind.OUTCOME_UNKNOWN, "lu": FailureKind.UNREACHABLE}
    assert [e.ref for e in state.of(LoanAnswered)] == ["co-ok"]
    assert state.of(SessionEnded) == [SessionEnded("end")]  # best effort: the patron has left anyway
    assert runner.executor_errors == 2


def test_a_machine_that_raises_keeps_its_state_and_the_next_event_is_stepped() -> None:
    runner = runner_for(Scripted(explode="bad"))
    try:
        runner.submit(Pressed("tap", "1"))
        runner.submit(Pressed("bad"))
        runner.submit(Pressed("tap", "2"))
        assert runner.wait_idle(WAIT)
        state = runner.snapshot()
    finally:
        runner.close()
    assert [e.arg for e in state.of(Pressed)] == ["1", "2"]
    assert runner.machine_errors == 1


def test_a_failing_callback_does_not_stop_the_runner() -> None:
    def broken(*args: object) -> None:
        raise ValueError("UI bug")

    runner = runner_for(Scripted(script={"beep": lambda a: [Signal("success")]}), on_change=broken, on_signal=broken)
    try:
        runner.submit(Pressed("beep"))
        runner.submit(Pressed("tap"))
        assert runner.wait_idle(WAIT)
        assert len(runner.snapshot().of(Pressed)) == 2
    finally:
        runner.close()


# -- devices ---------------------------------------------------------------------------------------


class FlakyReader(TagReader):
    """Security on a tag in memory; ``gone`` tags do not answer, ``broken`` makes the reader vanish."""

    name = "flaky reader"

    def __init__(self) -> None:
        self.afi: dict[bytes, int] = {}
        self.eas: dict[bytes, bool] = {}
        self.gone: set[bytes] = set()
        self.broken = False
        self.crash: set[bytes] = set()

    def _check(self, uid: bytes) -> None:
        if uid in self.crash:
            raise ZeroDivisionError("driver bug")
        if self.broken:
            raise ReaderUnavailable("unplugged", device=self.name)
        if uid in self.gone:
            raise TagNotInField("no answer", device=self.name)

    def open(self) -> None: ...

    def close(self) -> None: ...

    def inventory(self) -> list[TagInfo]:
        return []

    def system_info(self, uid: bytes) -> SystemInfo:
        self._check(uid)
        return SystemInfo(uid, None, self.afi.get(uid, 0x07), 8, 4)

    def read_blocks(self, uid: bytes, first: int, count: int) -> bytes:
        return b""

    def write_blocks(self, uid: bytes, first: int, data: bytes) -> None: ...

    def write_afi(self, uid: bytes, afi: int) -> None:
        self._check(uid)
        self.afi[uid] = afi

    def set_eas(self, uid: bytes, enabled: bool) -> None:
        self._check(uid)
        self.eas[uid] = enabled

    def eas_enabled(self, uid: bytes) -> bool:
        self._check(uid)
        return self.eas.get(uid, True)


def test_security_writes_answer_with_the_tags_that_did_not_take() -> None:
    reader = FlakyReader()
    reader.gone.add(b"B" * 8)
    reader.crash.add(b"X" * 8)
    script = {
        "secure": lambda a: [
            SetSecurity("s-1", (b"A" * 8, b"B" * 8), on_loan=True),
            SetSecurity("s-2", (b"C" * 8,), on_loan=True),
            SetSecurity("s-3", (b"X" * 8,), on_loan=False),
        ]
    }
    tags = TagSecurity(reader, SecurityScheme())
    runner = runner_for(Scripted(script=script), tags=tags)
    try:
        runner.submit(Pressed("secure"))
        state = runner.wait_for(lambda s: len(s.of(SecuritySet)) == 3, WAIT)
    finally:
        runner.close()
    answers = {e.ref: e for e in state.of(SecuritySet)}
    assert not answers["s-1"].ok and answers["s-1"].failed_uids == (b"B" * 8,)
    assert answers["s-2"].ok and reader.afi[b"C" * 8] == 0xC2 and reader.eas[b"C" * 8] is False
    assert not answers["s-3"].ok and answers["s-3"].failed_uids == (b"X" * 8,)  # a crash is a failure


def test_a_lost_reader_fails_every_tag_of_the_command() -> None:
    reader = FlakyReader()
    reader.broken = True
    uids = (b"A" * 8, b"B" * 8)
    machine = Scripted(script={"s": lambda a: [SetSecurity("s", uids, on_loan=True)]})
    runner = runner_for(machine, tags=TagSecurity(reader, SecurityScheme()))
    try:
        runner.submit(Pressed("s"))
        state = runner.wait_for(lambda s: bool(s.of(SecuritySet)), WAIT)
    finally:
        runner.close()
    assert state.of(SecuritySet)[0].failed_uids == uids and "unplugged" in state.of(SecuritySet)[0].detail


def test_outputs_answer_and_unconfigured_ones_say_so() -> None:
    lines = (ReceiptLine("The Hobbit  due 2026-12-01"),)
    script = {
        "out": lambda a: [PrintReceipt("pr", lines), EmailReceipt("em", "a@b.c", lines), RouteToBin("rt", "holds")]
    }
    printer, mailer, diverter = MemoryPrinter(), MemoryMailer(), MemoryDiverter()
    runner = runner_for(Scripted(script=script), outputs=Outputs(printer, mailer, diverter))
    bare = runner_for(Scripted(script=script))  # production default: nothing configured
    try:
        for r in (runner, bare):
            r.submit(Pressed("out"))
        done = runner.wait_for(lambda s: len(s.events) == 4, WAIT)
        unconfigured = bare.wait_for(lambda s: len(s.events) == 4, WAIT)
    finally:
        runner.close()
        bare.close()
    assert done.of(Printed) == [Printed("pr", True)] and done.of(Emailed) == [Emailed("em", True)]
    assert done.of(Routed) == [Routed("rt", True)]
    assert printer.printed == [("receipt", lines)] and mailer.sent == [("a@b.c", lines)]
    assert diverter.counts() == {"holds": 1}
    assert unconfigured.of(Printed) == [Printed("pr", False, "no printer configured")]
    assert not unconfigured.of(Emailed)[0].ok and not unconfigured.of(Routed)[0].ok


class BrokenGate:
    def open(self) -> bool:
        raise RuntimeError("relay driver bug")


def test_open_gate_is_answered_for_a_gate_a_held_gate_no_gate_and_a_gate_that_crashes() -> None:
    script = {"open": lambda a: [OpenGate(a)]}
    gate, held = MemoryGate(), MemoryGate(held=True)
    runners = {
        "pulse": runner_for(Scripted(script=script), outputs=Outputs(gate=gate)),
        "hold": runner_for(Scripted(script=script), outputs=Outputs(gate=held)),
        "none": runner_for(Scripted(script=script)),  # production default: no gate configured
        "broken": runner_for(Scripted(script=script), outputs=Outputs(gate=BrokenGate())),
    }
    try:
        for name, runner in runners.items():
            runner.submit(Pressed("open", name))
        answers = {name: r.wait_for(lambda s: s.of(GateOpened), WAIT).of(GateOpened)[0] for name, r in runners.items()}
        runners["broken"].submit(Pressed("open", "again"))  # the runner goes on after the crash
        again = runners["broken"].wait_for(lambda s: len(s.of(GateOpened)) == 2, WAIT).of(GateOpened)[1]
    finally:
        for runner in runners.values():
            runner.close()
    assert answers["pulse"] == GateOpened("pulse", True) and gate.openings == 1
    assert answers["hold"] == GateOpened("hold", False, HELD) and held.openings == 0
    assert answers["none"] == GateOpened("none", False, "no gate configured")
    assert not answers["broken"].ok and "relay driver bug" in answers["broken"].detail
    assert again.ref == "again" and not again.ok and runners["broken"].executor_errors == 2


def test_signals_reach_the_signal_callback() -> None:
    kinds: list[str] = []
    runner = runner_for(Scripted(script={"s": lambda a: [Signal("success"), Signal("error")]}), on_signal=kinds.append)
    try:
        runner.submit(Pressed("s"))
        assert runner.wait_idle(WAIT)
    finally:
        runner.close()
    assert kinds == ["success", "error"]


# -- staff mode: tag programming, device tests, kiosk mode -------------------------------------------

OWNER = "DK-718500"
SCHEME = SecurityScheme()
IN_LIBRARY = SCHEME.wanted(SecurityState.IN_LIBRARY)
FAST_WATCH = WatcherSettings(poll_interval=0.02, depart_polls=3, depart_after=0.06, settle_time=0.05)


@pytest.fixture
def feig() -> Iterator[tuple[FeigPtySimulator, SharedReader]]:
    """The simulated FEIG reader on a pty and the production driver on it, shared as the kiosk shares it.
    Opened here, unless a test's tag watcher is to open it (a pty slave cannot be opened a second time
    with pyserial's line settings: tcsetattr says EINVAL)."""
    with FeigPtySimulator() as sim:
        reader = SharedReader(FeigReader(sim.path, reply_timeout=0.3, retries=1))
        yield sim, reader
        reader.close()


@pytest.fixture
def opened(feig: tuple[FeigPtySimulator, SharedReader]) -> tuple[FeigPtySimulator, SharedReader]:
    feig[1].open()
    return feig


def write(uid: bytes, item_id: str, parts: int = 1, part: int = 1, ref: str = "w") -> list[Command]:
    return [WriteTag(ref, uid, item_id, parts, part)]


def blank(n: int, **kwargs: object) -> SimTag:
    """A factory-fresh tag: empty memory, alarm off (as tags come from the supplier)."""
    return SimTag.create(make_uid(n), b"", afi=0x00, eas=False, **kwargs)


def test_write_tag_encodes_the_site_model_reads_it_back_sets_security_and_the_pad_sees_the_new_item(feig) -> None:
    sim, reader = feig
    tag = blank(1)
    sim.place(tag)
    programmer = TagProgrammer(reader, SCHEME, owner_library=OWNER)
    runner = runner_for(Scripted(script={"w": lambda a: write(tag.uid, "31234567", 3, 2)}),
                        tags=TagSecurity(reader, SCHEME), programmer=programmer)
    watcher = TagWatcher(reader, settings=FAST_WATCH, on_event=watcher_feed(runner.submit))
    programmer.forget = watcher.forget
    watcher.start()  # it opens the reader it polls, as in the kiosk
    try:
        runner.wait_for(lambda s: any(e.pad.unreadable == (tag.uid,) for e in s.of(PadChanged)), WAIT)
        runner.submit(Pressed("w"))
        state = runner.wait_for(lambda s: bool(s.of(TagWritten)), WAIT)
        (written,) = state.of(TagWritten)
        # the watcher was told: the pad now shows the item, not the blank it cached
        after = runner.wait_for(lambda s: s.of(PadChanged)[-1].pad.item_ids() == ("31234567",), WAIT)
    finally:
        watcher.stop()
        runner.close()
    assert written.ok and written.ref == "w", written.detail
    decoded = decode_tag(bytes(tag.memory), tag.dsfid)
    assert isinstance(decoded, TagData)
    assert (decoded.model, decoded.item_id, decoded.parts_in_set, decoded.part_number, decoded.owner_library) == (
        "iso28560-3", "31234567", 3, 2, OWNER)
    assert SecurityReading(tag.afi, tag.eas) == IN_LIBRARY
    (item,) = after.of(PadChanged)[-1].pad.items
    assert (item.uid, item.parts_in_set, item.part_number) == (tag.uid, 3, 2)


@pytest.mark.parametrize(
    ("model", "block_size", "block_count"),
    [("iso28560-3", 8, 14), ("iso28560-2", 4, 28), ("iso28560-3", 4, 8)],  # 8-byte blocks; -2; a 32-byte tag
)
def test_write_tag_takes_block_size_and_count_from_the_tag(
    opened, model: str, block_size: int, block_count: int
) -> None:
    sim, reader = opened
    tag = blank(2, block_size=block_size, block_count=block_count)
    tag.memory[:] = b"\xAA" * len(tag.memory)  # an earlier owner's data: nothing of it may survive
    sim.place(tag)
    runner = runner_for(Scripted(script={"w": lambda a: write(tag.uid, "B-0042")}),
                        programmer=TagProgrammer(reader, SCHEME, owner_library=OWNER, model=model))
    try:
        runner.submit(Pressed("w"))
        (written,) = runner.wait_for(lambda s: bool(s.of(TagWritten)), WAIT).of(TagWritten)
    finally:
        runner.close()
    assert written.ok, written.detail
    decoded = decode_tag(bytes(tag.memory))
    assert isinstance(decoded, TagData) and (decoded.model, decoded.item_id) == (model, "B-0042")
    assert (decoded.parts_in_set or 1, decoded.part_number or 1) == (1, 1)
    assert b"\xAA" not in bytes(tag.memory)
    assert SecurityReading(tag.afi, tag.eas) == IN_LIBRARY


@pytest.mark.parametrize("answers", [1, 2, 3])  # gone before the write, before the read-back, before security
def test_a_tag_that_leaves_the_field_mid_write_is_a_failed_write_and_the_watcher_is_told(opened, answers: int) -> None:
    sim, reader = opened
    tag = blank(3)
    sim.place(tag)
    forgotten: list[bytes] = []
    programmer = TagProgrammer(reader, SCHEME, owner_library=OWNER, forget=forgotten.append)
    runner = runner_for(Scripted(script={"w": lambda a: write(tag.uid, "31234567")}), programmer=programmer)
    sim.leave_after(tag.uid, answers)
    try:
        runner.submit(Pressed("w"))
        (written,) = runner.wait_for(lambda s: bool(s.of(TagWritten)), WAIT).of(TagWritten)
    finally:
        runner.close()
    assert not written.ok and written.detail == "the tag left the field"
    assert sim.tag(tag.uid) is None  # it really is gone
    assert forgotten == [tag.uid]  # told whenever a write was tried: the memory may have changed


def test_write_tag_refuses_what_the_model_cannot_hold_without_touching_the_tag(opened) -> None:
    sim, reader = opened
    tag = blank(4)
    sim.place(tag)
    script = {"w": lambda a: [*write(tag.uid, "Ωmega", ref="greek"), *write(tag.uid, "A1", 2, 3, ref="part")]}
    runner = runner_for(Scripted(script=script), programmer=TagProgrammer(reader, SCHEME, owner_library=OWNER))
    try:
        runner.submit(Pressed("w"))
        state = runner.wait_for(lambda s: len(s.of(TagWritten)) == 2, WAIT)
    finally:
        runner.close()
    answers = {e.ref: e for e in state.of(TagWritten)}
    assert not answers["greek"].ok and "ISO 8859-1" in answers["greek"].detail
    assert not answers["part"].ok and "part 3 of 2" in answers["part"].detail
    assert bytes(tag.memory) == bytes(112) and (tag.afi, tag.eas) == (0x00, False)


def test_write_tag_without_a_programmer_or_with_a_crashing_one_answers_a_failure() -> None:
    class Crashing(TagProgrammer):
        def perform(self, command: WriteTag) -> TagWritten:
            raise ZeroDivisionError("bug")

    machine = Scripted(script={"w": lambda a: write(b"1" * 8, "A1")})
    bare = runner_for(machine)
    crashing = runner_for(Scripted(script=machine.script),
                          programmer=Crashing(FlakyReader(), SCHEME, owner_library=OWNER))
    try:
        for r in (bare, crashing):
            r.submit(Pressed("w"))
        (none,) = bare.wait_for(lambda s: bool(s.of(TagWritten)), WAIT).of(TagWritten)
        (crash,) = crashing.wait_for(lambda s: bool(s.of(TagWritten)), WAIT).of(TagWritten)
    finally:
        bare.close()
        crashing.close()
    assert none == TagWritten("w", False, "no tag programming configured")
    assert not crash.ok and "ZeroDivisionError" in crash.detail and crashing.executor_errors == 1


def test_device_tests_inventory_the_reader_and_print_a_test_page(opened) -> None:
    sim, reader = opened
    sim.place(blank(5), blank(6))
    printer = MemoryPrinter()
    script = {"t": lambda a: [TestDevice("r", "reader"), TestDevice("p", "printer"), TestDevice("x", "coffee")]}
    runner = runner_for(Scripted(script=script), tags=TagSecurity(reader, SCHEME), outputs=Outputs(printer=printer))
    bare = runner_for(Scripted(script=script))  # production default: nothing configured
    try:
        for r in (runner, bare):
            r.submit(Pressed("t"))
        done = {e.ref: e for e in runner.wait_for(lambda s: len(s.of(DeviceTested)) == 3, WAIT).of(DeviceTested)}
        sim.unplug()
        runner.submit(Pressed("t"))
        lost = runner.wait_for(lambda s: len(s.of(DeviceTested)) == 6, WAIT).of(DeviceTested)[3:]
        unconfigured = {e.ref: e for e in bare.wait_for(lambda s: len(s.of(DeviceTested)) == 3, WAIT).of(DeviceTested)}
    finally:
        runner.close()
        bare.close()
    assert done["r"].ok and "2 tags in the field" in done["r"].detail
    assert done["p"] == DeviceTested("p", True, "test page printed") and printer.printed[0] == ("receipt", TEST_PAGE)
    assert done["x"] == DeviceTested("x", False, "no test for 'coffee'")
    assert not next(e for e in lost if e.ref == "r").ok  # an unplugged reader fails its test
    assert unconfigured["r"] == DeviceTested("r", False, "no RFID reader configured")
    assert unconfigured["p"] == DeviceTested("p", False, "no printer configured")


@dataclass
class PrinterWithItsOwnTestPage(MemoryPrinter):
    """A printer driver with a test page of its own that reports the status it printed with (as the
    ESC/POS driver does)."""

    @dataclass(frozen=True)
    class Status:
        state: str
        detail: str = ""

    def print_test_page(self) -> Status:
        self.print_lines((ReceiptLine("its own page"),), kind="receipt")
        return self.Status("paper low", "roll nearly empty")


def test_device_tests_can_be_given_explicitly_and_use_the_printers_own_test_page() -> None:
    printer = PrinterWithItsOwnTestPage()
    tests = DeviceTests(FlakyReader(), printer)
    script = {"t": lambda a: [TestDevice("r", "reader"), TestDevice("p", "printer")]}
    runner = runner_for(Scripted(script=script), devices=tests)
    try:
        runner.submit(Pressed("t"))
        tested = {e.ref: e for e in runner.wait_for(lambda s: len(s.of(DeviceTested)) == 2, WAIT).of(DeviceTested)}
    finally:
        runner.close()
    assert tested["r"] == DeviceTested("r", True, "flaky reader answers; 0 tags in the field")
    assert tested["p"] == DeviceTested("p", True, "test page printed; printer paper low: roll nearly empty")
    assert printer.printed == [("receipt", (ReceiptLine("its own page"),))]


def test_out_of_service_and_leaving_reach_the_kiosk_mode_and_the_flag_is_kept() -> None:
    mode = MemoryKioskMode()
    script = {"oos": lambda a: [SetOutOfService(a == "on")], "leave": lambda a: [LeaveKiosk()]}
    runner = runner_for(Scripted(script=script), kiosk_mode=mode)
    bare = runner_for(Scripted(script=script))
    try:
        assert not runner.out_of_service
        runner.submit(Pressed("oos", "on"))
        assert runner.wait_idle(WAIT) and runner.out_of_service and mode.out_of_service
        runner.submit(Pressed("oos", "off"))
        runner.submit(Pressed("leave"))
        assert runner.wait_idle(WAIT)
        bare.submit(Pressed("oos", "on"))
        bare.submit(Pressed("leave"))  # nothing to leave with: logged, and the runner goes on
        bare.submit(Pressed("tap"))
        assert bare.wait_idle(WAIT)
    finally:
        runner.close()
        bare.close()
    assert not runner.out_of_service and mode.switches == [True, False] and mode.left == 1
    assert bare.out_of_service and len(bare.snapshot().of(Pressed)) == 3


# -- timers ----------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def timer_runner(machine: Scripted) -> tuple[Runner[Log], TimerService, FakeClock]:
    clock = FakeClock()
    timers = TimerService(clock=clock, threaded=False)
    return Runner(machine, timers=timers).start(), timers, clock


def test_a_timer_fires_when_its_time_has_come_and_not_before() -> None:
    runner, timers, clock = timer_runner(Scripted(script={"idle": lambda a: [StartTimer("idle", 60)]}))
    try:
        runner.submit(Pressed("idle"))
        assert runner.wait_idle(WAIT)
        clock.now += 59.9
        assert timers.tick() == []
        clock.now += 0.1
        assert timers.tick() == ["idle"]
        state = runner.wait_for(lambda s: bool(s.of(TimerFired)), WAIT)
        clock.now += 100
        assert timers.tick() == []  # one shot
    finally:
        runner.close()
    assert state.of(TimerFired) == [TimerFired("idle")]


def test_a_cancelled_timer_never_fires() -> None:
    script = {"idle": lambda a: [StartTimer("idle", 60)], "touch": lambda a: [CancelTimer("idle")]}
    runner, timers, clock = timer_runner(Scripted(script=script))
    try:
        runner.submit(Pressed("idle"))
        runner.submit(Pressed("touch"))
        assert runner.wait_idle(WAIT)
        clock.now += 120
        assert timers.tick() == []
        assert runner.wait_idle(WAIT)
        assert runner.snapshot().of(TimerFired) == []
    finally:
        runner.close()


def test_a_fire_already_queued_when_the_machine_restarts_the_timer_is_dropped() -> None:
    machine = Scripted(script={"idle": lambda a: [StartTimer("idle", 10)], "touch": lambda a: [StartTimer("idle", 10)]},
                       block="touch")
    runner, timers, clock = timer_runner(machine)
    try:
        runner.submit(Pressed("idle"))
        assert runner.wait_idle(WAIT)
        runner.submit(Pressed("touch"))  # the runner thread now waits inside this step
        clock.now += 10
        assert timers.tick() == ["idle"]  # queued behind the touch that restarts it
        machine.release.set()
        assert runner.wait_idle(WAIT)
        assert runner.snapshot().of(TimerFired) == []  # stale: the patron touched the screen first
        clock.now += 10
        assert timers.tick() == ["idle"]
        state = runner.wait_for(lambda s: bool(s.of(TimerFired)), WAIT)
    finally:
        runner.close()
    assert state.of(TimerFired) == [TimerFired("idle")]


def test_real_timers_fire_on_their_own_thread() -> None:
    runner = Runner(Scripted(script={"t": lambda a: [StartTimer("short", 0.01)]})).start()
    try:
        runner.submit(Pressed("t"))
        state = runner.wait_for(lambda s: bool(s.of(TimerFired)), WAIT)
    finally:
        runner.close()
    assert state.of(TimerFired) == [TimerFired("short")]


# -- shutdown --------------------------------------------------------------------------------------


def test_close_stops_every_thread_and_later_events_are_refused() -> None:
    gateway = FakeGateway(sessions=4)
    runner = runner_for(Scripted(script={"stack": checkouts, "s": lambda a: [SetSecurity("s", (b"1" * 8,), True)]}),
                        gateway=gateway, tags=TagSecurity(FlakyReader(), SecurityScheme()))
    runner.submit(Pressed("stack", "a,b,c"))
    runner.submit(Pressed("s"))
    assert runner.wait_idle(WAIT)
    runner.close()
    assert not runner.submit(Pressed("late"))
    runner.close()  # twice is harmless
    # the autouse fixture checks that the runner, lane and timer threads are gone


def test_close_returns_while_a_command_is_stuck_in_io_and_its_answer_is_dropped() -> None:
    stuck, entered = threading.Event(), threading.Event()

    def gate(command: object) -> None:
        entered.set()
        stuck.wait(WAIT)

    runner = Runner(Scripted(script={"stack": checkouts}), gateway=FakeGateway(1, gate)).start()
    runner.submit(Pressed("stack", "a,b"))
    assert entered.wait(WAIT)
    runner.close(timeout=0.2)  # does not wait for the stuck exchange
    stuck.set()  # the exchange ends (as a SIP2 timeout would); its thread exits, its answer is dropped
    for thread in threading.enumerate():
        if thread.name.startswith("kiosk-ils"):
            thread.join(WAIT)
    assert runner.snapshot().of(LoanAnswered) == []
