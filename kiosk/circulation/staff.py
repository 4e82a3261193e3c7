"""Staff mode: PIN with lockout, device status, offline queue, device tests, out-of-service, leave
the kiosk, open the gate (someone stuck at the exit barrier), and tag programming (converting a
collection to RFID).

The PIN check is injected (``verify_pin``: the config holds a hash, checked by a later issue) and
the PIN itself is never kept in the state. Tag programming is a small loop the state shows step by
step: set the number of parts if it is not 1, scan the item's barcode, place a tag for each part,
write it (the runner encodes the site's data model, writes, turns security on and reads it back),
next part, done. The parts count goes back to 1 after each item: a wrong count on a single book
would make every later checkout wait for parts that do not exist. A tag that already
holds another item is only overwritten after staff confirm: the pad may still carry a finished
book, and silently rewriting it would swap two items in the catalogue's eyes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from kiosk.circulation.commands import (
    CancelTimer,
    Command,
    LeaveKiosk,
    OpenGate,
    SetOutOfService,
    Signal,
    StartTimer,
    TestDevice,
    WriteTag,
)
from kiosk.circulation.events import (
    DeviceStatus,
    DeviceTested,
    Event,
    GateOpened,
    IlsHealth,
    ItemScanned,
    OfflineQueueChanged,
    PadChanged,
    PinEntered,
    Pressed,
    TagWritten,
    TimerFired,
)
from kiosk.circulation.model import Pad

MESSAGES: dict[str, str] = {
    "staff.pin": "Staff PIN",
    "staff.pin_wrong": "Wrong PIN ({left} tries left)",
    "staff.locked_out": "Staff login locked: too many wrong PINs. Try again later.",
    "staff.test_running": "Testing the {component}…",
    "staff.test_ok": "{component}: OK ({detail})",
    "staff.test_failed": "{component}: FAILED ({detail})",
    "staff.program.scan": "Scan the item's barcode ({parts} parts)",
    "staff.program.place": "Place the tag (part {part} of {parts})",
    "staff.program.one_tag": "{count} new tags on the pad: leave only the one to program",
    "staff.program.holds_other": "This tag holds item {other}. Overwrite it with {item_id}?",
    "staff.program.writing": "Writing part {part} of {parts}…",
    "staff.program.write_failed": "Writing failed ({detail}): retry, or place another tag",
    "staff.program.done": "{item_id} programmed ({tags} tags)",
    "staff.program.finish_set": "Finish this set (part {part} of {parts}) or cancel it first",
    "staff.gate_opening": "Opening the gate…",
    "staff.gate_opened": "The gate was opened",
    "staff.gate_failed": "The gate did not open ({detail})",
}

LOCKOUT_TIMER = "staff.lockout"
IDLE_TIMER = "staff.idle"
MAX_PARTS = 255  # the most any library tag data model can hold in its parts-in-set element
OPEN_GATE = "open_gate"
"""The menu's ``Pressed`` action that opens the exit barrier once; offered only where a gate is wired."""


class Screen(StrEnum):
    CLOSED = "closed"  # staff mode not active: the patron screens show
    PIN = "pin"
    MENU = "menu"
    DEVICES = "devices"
    OFFLINE_QUEUE = "offline queue"
    READER_TEST = "reader test"
    PRINTER_TEST = "printer test"
    CONFIRM_LEAVE = "confirm leave"
    PROGRAM = "program"


# Screens the menu opens with Pressed("open", <name>).
_MENU_ENTRIES = {
    "devices": Screen.DEVICES,
    "offline_queue": Screen.OFFLINE_QUEUE,
    "reader_test": Screen.READER_TEST,
    "printer_test": Screen.PRINTER_TEST,
    "program": Screen.PROGRAM,
    "leave": Screen.CONFIRM_LEAVE,
}
_TESTS = {Screen.READER_TEST: "reader", Screen.PRINTER_TEST: "printer"}


class Step(StrEnum):
    SCAN = "scan"  # waiting for the item's barcode
    PLACE = "place"  # waiting for a tag for ``part``
    CONFIRM_OVERWRITE = "confirm overwrite"  # the one new tag holds another item
    WRITING = "writing"  # WriteTag sent
    FAILED = "failed"  # the last write failed: retry or place another tag


@dataclass(frozen=True, slots=True)
class TagJob:
    """Programming one item's tags. ``written`` are the verified tags, part 1 first."""

    step: Step = Step.SCAN
    item_id: str = ""
    parts_in_set: int = 1
    part: int = 1  # the part being programmed now
    written: tuple[bytes, ...] = ()
    uid: bytes | None = None  # the tag being written, offered for overwrite, or that failed
    other_item: str = ""  # CONFIRM_OVERWRITE: what the tag holds now
    ref: str = ""  # the WriteTag in flight
    detail: str = ""  # the runner's words on a failed write


@dataclass(frozen=True, slots=True)
class DeviceRow:
    component: str
    state: str  # "ok", "warning", "failed"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OfflineQueue:
    waiting: int = 0
    needs_staff: int = 0
    oldest: str = ""


@dataclass(frozen=True, slots=True)
class DeviceTest:
    component: str
    ref: str
    ok: bool | None = None  # None: running
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StaffState:
    """What staff mode shows. Device rows, the queue and the pad are kept while staff mode is
    closed (they arrive whenever they change); the rest lives only while staff are logged in."""

    screen: Screen = Screen.CLOSED
    failures: int = 0  # wrong PINs since the last good one or the end of a lockout
    locked_out: bool = False
    out_of_service: bool = False
    devices: tuple[DeviceRow, ...] = ()
    offline_queue: OfflineQueue = OfflineQueue()
    pad: Pad = field(default_factory=Pad)
    test: DeviceTest | None = None
    job: TagJob = TagJob()
    programmed: tuple[str, ...] = ()  # items programmed since login, newest last
    done_uids: frozenset[bytes] = frozenset()  # their tags: never taken for a new item
    notice: tuple[str, dict[str, str]] | None = None  # message id + parameters
    next_ref: int = 1
    # Menu entries (``Pressed("open", name)`` names, and OPEN_GATE) this station does not offer: the
    # station machine decides, staff mode refuses them and the menu screen leaves them out. The gate
    # is withheld unless the machine was told one is wired (StaffMachine's ``gate``).
    withheld: frozenset[str] = frozenset({OPEN_GATE})
    gate_ref: str = ""  # the OpenGate staff asked for, until its answer

    @property
    def logged_in(self) -> bool:
        return self.screen not in (Screen.CLOSED, Screen.PIN)

    def offers(self, entry: str) -> bool:
        """Whether the menu offers ``entry`` here (the menu screen shows only what this says)."""
        return entry not in self.withheld


class StaffMachine:
    """Staff mode's decisions. ``verify_pin`` must be a pure function of the PIN (a hash check).

    ``max_attempts`` wrong PINs in a row lock staff login for ``lockout_seconds`` (the
    TimerFired ends it); ``idle_seconds`` without a staff action log staff out, so a kiosk left in
    staff mode does not stay open to the next passer-by. ``gate``: an exit barrier staff may open
    is wired (a gate relay in "pulse" mode); without one the menu withholds :data:`OPEN_GATE`.
    """

    def __init__(
        self,
        verify_pin: Callable[[str], bool],
        *,
        max_attempts: int = 3,
        lockout_seconds: float = 300.0,
        idle_seconds: float = 120.0,
        gate: bool = False,
    ) -> None:
        self.verify_pin = verify_pin
        self.max_attempts = max_attempts
        self.lockout_seconds = lockout_seconds
        self.idle_seconds = idle_seconds
        self.gate = gate

    def start(self) -> tuple[StaffState, list[Command]]:
        state = StaffState()
        return (replace(state, withheld=state.withheld - {OPEN_GATE}) if self.gate else state), []

    def step(self, state: StaffState, event: Event) -> tuple[StaffState, list[Command]]:
        # What devices report is kept whatever the screen.
        match event:
            case DeviceStatus():
                return _with_device(state, DeviceRow(event.component, event.state, event.reason)), []
            case IlsHealth():
                row = _ils_row(event)
                return _with_device(state, row), []
            case OfflineQueueChanged():
                return replace(
                    state, offline_queue=OfflineQueue(event.waiting, event.needs_staff, event.oldest)
                ), []
            case TimerFired(name=name) if name == LOCKOUT_TIMER and state.locked_out:
                return replace(state, locked_out=False, failures=0, notice=None), []
            case TimerFired(name=name) if name == IDLE_TIMER and state.screen is not Screen.CLOSED:
                return self._close(state), []
            case GateOpened(ref=ref) if state.gate_ref and ref == state.gate_ref:
                return self._gate_answered(state, event), []
            case PadChanged() if state.screen is Screen.CLOSED:
                return state, []  # the patron's pad (cards, loans) is none of staff mode's business
            case PadChanged() if not (state.screen is Screen.PROGRAM and state.job.step is not Step.WRITING):
                return replace(state, pad=event.pad), []
        if state.screen is Screen.CLOSED:
            return self._closed(state, event)
        if state.screen is Screen.PIN:
            return self._pin(state, event)
        return self._logged_in(state, event)

    # --- login ----------------------------------------------------------------------------------

    def _closed(self, state: StaffState, event: Event) -> tuple[StaffState, list[Command]]:
        if event != Pressed("staff"):
            return state, []
        if state.locked_out:
            return replace(state, notice=("staff.locked_out", {})), []
        return replace(state, screen=Screen.PIN, notice=None), [self._idle_timer()]

    def _pin(self, state: StaffState, event: Event) -> tuple[StaffState, list[Command]]:
        match event:
            case PinEntered(pin=pin):
                if self.verify_pin(pin):
                    return replace(state, screen=Screen.MENU, failures=0, notice=None), [self._idle_timer()]
                failures = state.failures + 1
                if failures >= self.max_attempts:
                    locked = replace(
                        self._close(state),
                        failures=failures,
                        locked_out=True,
                        notice=("staff.locked_out", {}),
                    )
                    return locked, [
                        CancelTimer(IDLE_TIMER),
                        StartTimer(LOCKOUT_TIMER, self.lockout_seconds),
                        Signal("error"),
                    ]
                left = str(self.max_attempts - failures)
                notice = ("staff.pin_wrong", {"left": left})
                return replace(state, failures=failures, notice=notice), [self._idle_timer(), Signal("error")]
            case Pressed(action="cancel"):
                return self._close(state), [CancelTimer(IDLE_TIMER)]
        return state, []

    def _close(self, state: StaffState) -> StaffState:
        """Back to the patron screens. Failures, lockout, out-of-service and device reports stay;
        the pad, tests and programming do not."""
        return StaffState(
            failures=state.failures,
            locked_out=state.locked_out,
            out_of_service=state.out_of_service,
            devices=state.devices,
            offline_queue=state.offline_queue,
            next_ref=state.next_ref,
            withheld=state.withheld,
        )

    def _idle_timer(self) -> StartTimer:
        return StartTimer(IDLE_TIMER, self.idle_seconds)

    # --- logged in ------------------------------------------------------------------------------

    def _logged_in(self, state: StaffState, event: Event) -> tuple[StaffState, list[Command]]:
        if event == Pressed("logout"):
            return self._close(state), [CancelTimer(IDLE_TIMER)]
        if state.screen is Screen.PROGRAM:
            new, commands = self._program(state, event)
        elif state.screen is Screen.MENU:
            new, commands = self._menu(state, event)
        else:
            new, commands = self._sub_screen(state, event)
        if new is state and not commands:
            return state, []
        if new.screen is not Screen.CLOSED and _is_staff_action(event):
            commands = [self._idle_timer(), *commands]
        return new, commands

    def _menu(self, state: StaffState, event: Event) -> tuple[StaffState, list[Command]]:
        match event:
            case Pressed(action="open", arg=name) if name in _MENU_ENTRIES and state.offers(name):
                screen = _MENU_ENTRIES[name]
                state = replace(state, screen=screen, notice=None, test=None)
                if screen in _TESTS:
                    return self._run_test(state, _TESTS[screen])
                if screen is Screen.PROGRAM:
                    return replace(state, job=TagJob()), []
                return state, []
            case Pressed(action="out_of_service"):
                on = not state.out_of_service
                return replace(state, out_of_service=on), [SetOutOfService(on)]
            case Pressed(action="open_gate") if state.offers(OPEN_GATE):
                ref, state = _new_ref(state)
                return replace(state, gate_ref=ref, notice=("staff.gate_opening", {})), [OpenGate(ref)]
        return state, []

    @staticmethod
    def _gate_answered(state: StaffState, event: GateOpened) -> StaffState:
        """Say on the menu whether the gate opened: staff sent there for someone stuck at the barrier
        must know whether to go and help. Answered after staff left the menu, it only closes the request."""
        if state.screen is not Screen.MENU:
            return replace(state, gate_ref="")
        notice = ("staff.gate_opened", {}) if event.ok else ("staff.gate_failed", {"detail": event.detail})
        return replace(state, gate_ref="", notice=notice)

    def _sub_screen(self, state: StaffState, event: Event) -> tuple[StaffState, list[Command]]:
        match event:
            case Pressed(action="back"):
                return replace(state, screen=Screen.MENU, notice=None, test=None), []
            case Pressed(action="confirm") if state.screen is Screen.CONFIRM_LEAVE:
                return self._close(state), [CancelTimer(IDLE_TIMER), LeaveKiosk()]
            case Pressed(action="retest") if state.screen in _TESTS:
                return self._run_test(state, _TESTS[state.screen])
            case DeviceTested(ref=ref) if state.test is not None and ref == state.test.ref:
                return replace(state, test=replace(state.test, ok=event.ok, detail=event.detail)), []
        return state, []

    def _run_test(self, state: StaffState, component: str) -> tuple[StaffState, list[Command]]:
        ref, state = _new_ref(state)
        return replace(state, test=DeviceTest(component, ref)), [TestDevice(ref, component)]

    # --- tag programming ------------------------------------------------------------------------

    def _program(self, state: StaffState, event: Event) -> tuple[StaffState, list[Command]]:
        job = state.job
        match event:
            case Pressed(action="back") if job.step is not Step.WRITING:
                return replace(state, screen=Screen.MENU, job=TagJob(), notice=None), []
            case ItemScanned(item_id=item_id) if item_id and job.step is not Step.WRITING:
                if job.written:
                    notice = (
                        "staff.program.finish_set",
                        {"part": str(job.part), "parts": str(job.parts_in_set)},
                    )
                    return replace(state, notice=notice), [Signal("attention")]
                state = replace(state, job=TagJob(Step.PLACE, item_id, job.parts_in_set), notice=None)
                return self._look_at_pad(state)
            case Pressed(action="parts", arg=arg) if job.step is not Step.WRITING and not job.written:
                parts = _parts(arg)
                if parts is None or parts == job.parts_in_set:
                    return state, []
                return replace(state, job=replace(job, parts_in_set=parts)), []
            case Pressed(action="cancel_item") if job.step is not Step.WRITING and job.step is not Step.SCAN:
                return replace(state, job=TagJob(), notice=None), []
            case PadChanged(pad=pad):
                state = replace(state, pad=pad)
                if job.step in (Step.PLACE, Step.CONFIRM_OVERWRITE, Step.FAILED):
                    return self._look_at_pad(state)
                return state, []
            case Pressed(action="confirm_overwrite") if job.step is Step.CONFIRM_OVERWRITE and job.uid:
                return self._write(state, job.uid)
            case Pressed(action="cancel") if job.step is Step.CONFIRM_OVERWRITE:
                return replace(state, job=replace(job, step=Step.PLACE, uid=None, other_item="")), []
            case Pressed(action="retry") if job.step is Step.FAILED and job.uid in _uids_on(state.pad):
                # The failed tag may read differently now (a half-written tag, or another item's tag
                # with the same UID put back): the overwrite rule applies to a retry as well.
                other = next((i.item_id for i in state.pad.items if i.uid == job.uid), None)
                if other is not None and other != job.item_id:
                    offer = replace(job, step=Step.CONFIRM_OVERWRITE, other_item=other, detail="")
                    return replace(state, job=offer, notice=None), [Signal("attention")]
                return self._write(state, job.uid)
            case TagWritten(ref=ref) if job.step is Step.WRITING and ref == job.ref:
                return self._written(state, event)
        return state, []

    def _look_at_pad(self, state: StaffState) -> tuple[StaffState, list[Command]]:
        """Decide from the pad: no new tag → wait; several → ask for one; one blank or of this item →
        write it; one holding another item → ask before overwriting."""
        job = state.job
        held = {item.uid: item.item_id for item in state.pad.items}
        skip = set(job.written) | state.done_uids
        if job.step is Step.FAILED and job.uid is not None:
            skip.add(job.uid)  # a failed tag is only written again on "retry", never in a loop
        candidates = [uid for uid in _uids_on(state.pad) if uid not in skip]
        if job.step is Step.FAILED and not candidates and job.uid in _uids_on(state.pad):
            return state, []  # the failed tag is still there: staff retry or place another
        waiting = replace(job, step=Step.PLACE, uid=None, other_item="", detail="")
        if not candidates:
            return replace(state, job=waiting, notice=None), []
        if len(candidates) > 1:
            notice = ("staff.program.one_tag", {"count": str(len(candidates))})
            return replace(state, job=waiting, notice=notice), [Signal("attention")]
        (uid,) = candidates
        other = held.get(uid)
        if other is not None and other != job.item_id:
            offer = replace(job, step=Step.CONFIRM_OVERWRITE, uid=uid, other_item=other, detail="")
            return replace(state, job=offer, notice=None), [Signal("attention")]
        return self._write(replace(state, job=waiting), uid)

    def _write(self, state: StaffState, uid: bytes) -> tuple[StaffState, list[Command]]:
        ref, state = _new_ref(state)
        job = replace(state.job, step=Step.WRITING, uid=uid, other_item="", ref=ref, detail="")
        command = WriteTag(ref, uid, job.item_id, job.parts_in_set, job.part)
        return replace(state, job=job, notice=None), [command]

    def _written(self, state: StaffState, event: TagWritten) -> tuple[StaffState, list[Command]]:
        job = state.job
        if not event.ok:
            failed = replace(job, step=Step.FAILED, ref="", detail=event.detail)
            return replace(state, job=failed), [Signal("error")]
        assert job.uid is not None  # WRITING always names its tag
        written = (*job.written, job.uid)
        if job.part < job.parts_in_set:
            state = replace(
                state, job=replace(job, step=Step.PLACE, part=job.part + 1, written=written, uid=None, ref="")
            )
            return self._look_at_pad(state)
        notice = ("staff.program.done", {"item_id": job.item_id, "tags": str(len(written))})
        state = replace(
            state,
            job=TagJob(),
            programmed=(*state.programmed, job.item_id),
            done_uids=state.done_uids | set(written),
            notice=notice,
        )
        return state, [Signal("success")]


def _is_staff_action(event: Event) -> bool:
    return isinstance(event, Pressed | PinEntered | ItemScanned | PadChanged)


def _with_device(state: StaffState, row: DeviceRow) -> StaffState:
    rows = tuple(r for r in state.devices if r.component != row.component)
    return replace(state, devices=(*rows, row))


def _ils_row(event: IlsHealth) -> DeviceRow:
    if not event.connected:
        return DeviceRow("ils", "failed", event.last_error)
    latency = f"{event.latency_ms:.0f} ms" if event.latency_ms is not None else ""
    reason = "; ".join(part for part in (latency, event.last_error) if part)
    return DeviceRow("ils", "warning" if event.last_error else "ok", reason)


def _uids_on(pad: Pad) -> tuple[bytes, ...]:
    """Every tag on the pad that could take data: item tags and unreadable (blank or foreign) ones."""
    return tuple(dict.fromkeys([*(item.uid for item in pad.items), *pad.unreadable]))


def _parts(arg: str) -> int | None:
    return int(arg) if arg.isdecimal() and 1 <= int(arg) <= MAX_PARTS else None


def _new_ref(state: StaffState) -> tuple[str, StaffState]:
    return f"staff-{state.next_ref}", replace(state, next_ref=state.next_ref + 1)
