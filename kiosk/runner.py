"""The imperative shell: runs a state machine's commands and feeds what happened back to it.

One thread owns the machine. Everything that happens (a patron's touch, the pad's new stack, an
ILS answer, a timer) goes into one inbox and is stepped through the machine in arrival order, so
the machine needs no locks and a run can be replayed from its event log. The commands the machine
returns go to worker lanes:

* ``ils``: as many threads as the gateway has SIP2 sessions, so a stack of N items is N checkouts
  in flight at once and each row updates when its own answer arrives;
* ``rfid``: one thread, because a reader serves one frame at a time (the watcher shares it):
  security writes, staff's tag programming and the reader test;
* ``printer``, ``mail``, ``diverter``, ``gate``: one thread each, so a slow SMTP server never holds
  up the returns bin's diverter, nor a receipt the exit barrier.

Staff mode's out-of-service switch and "leave the kiosk" are the screen's business: the runner
keeps the flag (:attr:`Runner.out_of_service`) and tells the :class:`~kiosk.shell.kiosk_mode.KioskMode`
on its own thread, as it does with sound and light cues.

Every command that expects an answer gets one, even when its executor raises (a bug, a device
failing in a way nobody foresaw): the answer is then a failure, and the runner keeps running.
The UI reads immutable state snapshots (:meth:`Runner.snapshot`, or ``on_change``).

The runner closes what it starts (its threads, the timers); the gateway, reader and devices belong
to whoever built them and outlive a runner (a kiosk restarts its runner on a config change without
dropping its SIP2 sessions).
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kiosk.circulation import Machine
from kiosk.circulation.commands import (
    CancelTimer,
    Command,
    EmailReceipt,
    EndPatronSession,
    LeaveKiosk,
    LookUpPatron,
    OpenGate,
    PrintReceipt,
    PrintSlip,
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
    Event,
    IlsFailed,
    SecuritySet,
    SessionEnded,
    TagWritten,
    TimerFired,
)
from kiosk.circulation.model import Failure, FailureKind
from kiosk.ils.gateway import ILS_COMMANDS, IlsAnswer, IlsCommand, IlsGateway, answer
from kiosk.shell.device_tests import LANES as TEST_LANES
from kiosk.shell.device_tests import DeviceTests
from kiosk.shell.kiosk_mode import KioskMode
from kiosk.shell.outputs import OutputCommand, Outputs, failure
from kiosk.shell.tag_programming import TagProgrammer
from kiosk.shell.tag_security import TagSecurity
from kiosk.shell.timers import TimerService

log = logging.getLogger("kiosk.runner")

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class _TimerDue:
    name: str
    generation: int


@dataclass(frozen=True, slots=True)
class _Dispatch:
    """The machine's start commands, dispatched from the runner thread like every other."""

    commands: tuple[Command, ...]


class _Lane:
    """Worker threads taking jobs from one queue. Jobs never raise (the runner wraps them)."""

    def __init__(self, name: str, workers: int) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()

    def close(self, deadline: float) -> list[threading.Thread]:
        """Stop after the running jobs; returns threads still busy at ``deadline`` (left to finish)."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t for t in self._threads if t.is_alive()]


class Runner(Generic[S]):
    """Drives ``machine`` with events and performs its commands.

    ``gateway`` answers ILS commands, ``tags`` performs SetSecurity, ``outputs`` prints, mails,
    routes and opens the gate, ``programmer`` writes tags for staff, ``devices`` runs staff's device
    tests (by default on ``tags``' reader and ``outputs``' printer); a missing one answers its
    commands with a failure that says so. ``kiosk_mode`` is told about out-of-service and leaving.
    ``ils_workers`` defaults to the gateway's session count. ``on_change(state)`` and
    ``on_step(event, state, commands)`` are called on the runner thread (a Kivy UI hands the state
    to its own thread with ``Clock``); ``on_signal(kind)`` receives sound/light cues.
    """

    def __init__(
        self,
        machine: Machine[S],
        *,
        gateway: IlsGateway | None = None,
        tags: TagSecurity | None = None,
        outputs: Outputs | None = None,
        programmer: TagProgrammer | None = None,
        devices: DeviceTests | None = None,
        kiosk_mode: KioskMode | None = None,
        timers: TimerService | None = None,
        ils_workers: int | None = None,
        open_gateway: bool = True,
        on_change: Callable[[S], None] | None = None,
        on_step: Callable[[Event, S, tuple[Command, ...]], None] | None = None,
        on_signal: Callable[[str], None] | None = None,
        name: str = "kiosk",
    ) -> None:
        self._machine = machine
        self._gateway = gateway
        self._tags = tags
        self._outputs = outputs or Outputs()
        self._programmer = programmer
        self._devices = devices or DeviceTests(tags.reader if tags is not None else None, self._outputs.printer)
        self._kiosk_mode = kiosk_mode
        self._out_of_service = False
        self._timers = timers or TimerService()
        self._ils_workers = ils_workers or (gateway.sessions if gateway is not None else 1)
        self._open_gateway = open_gateway
        self._on_change = on_change
        self._on_step = on_step
        self._on_signal = on_signal
        self.name = name

        self._cond = threading.Condition()
        self._inbox: collections.deque[Any] = collections.deque()
        self._busy = 0  # queued events + running jobs + the step in progress
        self._closed = False
        self._started = False
        self._state: S | None = None
        self._lanes: dict[str, _Lane] = {}
        self._thread: threading.Thread | None = None
        self._health_key: tuple[bool, str] | None = None
        #: machine steps that raised (the event was dropped, the state kept): for staff and tests
        self.machine_errors = 0
        #: executors that raised and were answered with a failure
        self.executor_errors = 0

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> Runner[S]:
        with self._cond:
            if self._started:
                raise RuntimeError("runner already started")
            self._started = True
        state, commands = self._machine.start()
        with self._cond:
            self._state = state
        self._timers.attach(self._timer_due)
        self._thread = threading.Thread(target=self._loop, name=f"{self.name}-runner", daemon=True)
        self._thread.start()
        if self._gateway is not None and self._open_gateway:
            self._job("ils", self._open_ils)
        self._enqueue(_Dispatch(tuple(commands)))
        return self

    def close(self, timeout: float = 1.0) -> None:
        """Stop taking events, drop queued ones and jobs not yet started, and join every thread the
        runner started, within ``timeout`` seconds overall. A job blocked in device I/O past that is
        abandoned (its thread is a daemon; its answer is dropped) and logged."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._inbox.clear()
            self._cond.notify_all()
        self._timers.close(max(0.0, deadline - time.monotonic()))
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        for lane in list(self._lanes.values()):
            for straggler in lane.close(deadline):
                log.warning("%s: %s still busy at close; abandoned", self.name, straggler.name)

    def __enter__(self) -> Runner[S]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the outside world's side -------------------------------------------------------------------

    def submit(self, event: Event) -> bool:
        """Queue an event from any thread; False once the runner is closed."""
        return self._enqueue(event)

    def snapshot(self) -> S:
        """The machine's current state: an immutable value, safe to keep and render on any thread."""
        with self._cond:
            if self._state is None:
                raise RuntimeError("runner not started")
            return self._state

    @property
    def alive(self) -> bool:
        """The runner thread is taking events (started, not closed, not dead): the watchdog's check."""
        with self._cond:
            thread, closed = self._thread, self._closed
        return thread is not None and thread.is_alive() and not closed

    @property
    def out_of_service(self) -> bool:
        """Staff switched the kiosk out of service (the last SetOutOfService the machine issued)."""
        with self._cond:
            return self._out_of_service

    def wait_for(self, predicate: Callable[[S], bool], timeout: float) -> S:
        """Block until the state satisfies ``predicate``; raises TimeoutError with the last state."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._state is None or not predicate(self._state):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise TimeoutError(f"state not reached within {timeout} s; last state: {self._state!r}")
                self._cond.wait(remaining)
            return self._state

    def wait_idle(self, timeout: float) -> bool:
        """Block until no event is queued and no command is running (timers aside)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return False
                self._cond.wait(remaining)
            return True

    # -- the runner thread --------------------------------------------------------------------------

    def _enqueue(self, item: object) -> bool:
        with self._cond:
            if self._closed:
                return False
            self._inbox.append(item)
            self._busy += 1
            self._cond.notify_all()
            return True

    def _timer_due(self, name: str, generation: int) -> None:
        self._enqueue(_TimerDue(name, generation))

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._inbox and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                item = self._inbox.popleft()
            try:
                self._handle(item)
            except Exception:  # the loop must outlive anything a callback does
                log.exception("%s: handling %s failed", self.name, type(item).__name__)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _handle(self, item: object) -> None:
        if isinstance(item, _Dispatch):
            self._dispatch_all(item.commands)
            return
        if isinstance(item, _TimerDue):
            if not self._timers.claim(item.name, item.generation):
                return  # restarted or cancelled after it fired: stale
            event: Event = TimerFired(item.name)
        else:
            event = item  # type: ignore[assignment]
        with self._cond:
            state = self._state
        try:
            new_state, commands = self._machine.step(state, event)
        except Exception:
            # Only the event's type is logged: events carry PINs and patron ids.
            log.exception(
                "%s: the state machine raised on %s; event dropped", self.name, type(event).__name__
            )
            self.machine_errors += 1
            return
        with self._cond:
            self._state = new_state
            self._cond.notify_all()
        commands = tuple(commands)
        if self._on_step is not None:
            self._call_quietly(self._on_step, event, new_state, commands)
        if self._on_change is not None and new_state is not state:
            self._call_quietly(self._on_change, new_state)
        self._dispatch_all(commands)

    def _call_quietly(self, callback: Callable[..., object], *args: object) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("%s: callback %r failed", self.name, callback)

    # -- commands -----------------------------------------------------------------------------------

    def _dispatch_all(self, commands: Iterable[Command]) -> None:
        for command in commands:
            try:
                self._dispatch(command)
            except Exception:
                log.exception("%s: dispatching %s failed", self.name, type(command).__name__)

    def _dispatch(self, command: Command) -> None:
        if isinstance(command, ILS_COMMANDS):
            ils_command: IlsCommand = command  # type: ignore[assignment]
            self._job("ils", lambda: self._ils(ils_command), lambda exc: self._ils_failure(ils_command, exc))
        elif isinstance(command, SetSecurity):
            self._job(
                "rfid", lambda: self._security(command), lambda exc: self._security_failure(command, exc)
            )
        elif isinstance(command, PrintReceipt | PrintSlip | EmailReceipt | RouteToBin | OpenGate):
            output: OutputCommand = command
            lane = {EmailReceipt: "mail", RouteToBin: "diverter", OpenGate: "gate"}.get(type(command), "printer")
            self._job(
                lane, lambda: self._outputs.perform(output), lambda exc: failure(output, f"error: {exc}")
            )
        elif isinstance(command, StartTimer):
            self._timers.start(command.name, command.seconds)
        elif isinstance(command, CancelTimer):
            self._timers.cancel(command.name)
        elif isinstance(command, Signal):
            if self._on_signal is not None:
                self._call_quietly(self._on_signal, command.kind)
        elif isinstance(command, WriteTag):
            self._job("rfid", lambda: self._write_tag(command),
                      lambda exc: TagWritten(command.ref, False, f"error: {exc!r}"))
        elif isinstance(command, TestDevice):
            self._job(TEST_LANES.get(command.component, "printer"), lambda: self._devices.perform(command),
                      lambda exc: DeviceTested(command.ref, False, f"error: {exc!r}"))
        elif isinstance(command, SetOutOfService):
            self._set_out_of_service(command.on)
        elif isinstance(command, LeaveKiosk):
            if self._kiosk_mode is None:
                log.warning("%s: staff asked to leave the kiosk, but no kiosk mode is wired to do it", self.name)
            else:
                self._call_quietly(self._kiosk_mode.leave)
        else:
            log.error("%s: no executor for %s", self.name, type(command).__name__)

    def _lane(self, name: str) -> _Lane:
        lane = self._lanes.get(name)
        if lane is None:
            workers = self._ils_workers if name == "ils" else 1
            lane = self._lanes[name] = _Lane(f"{self.name}-{name}", workers)
        return lane

    def _job(
        self,
        lane: str,
        work: Callable[[], Event | None],
        on_error: Callable[[Exception], Event | None] | None = None,
    ) -> None:
        """Run ``work`` on ``lane`` and submit its answer; an exception becomes ``on_error``'s answer."""
        with self._cond:
            if self._closed:
                return
            self._busy += 1
            target = self._lane(lane)

        def job() -> None:
            try:
                if self._closed:
                    return
                try:
                    event = work()
                except Exception as exc:
                    log.exception("%s: executor on lane %s raised", self.name, lane)
                    with self._cond:
                        self.executor_errors += 1
                    event = on_error(exc) if on_error is not None else None
                if event is not None:
                    self._enqueue(event)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

        target.submit(job)

    # -- executors ----------------------------------------------------------------------------------

    def _open_ils(self) -> None:
        assert self._gateway is not None
        self._gateway.open()
        self._report_health()

    def _ils(self, command: IlsCommand) -> IlsAnswer:
        if self._gateway is None:
            if isinstance(command, EndPatronSession):
                return SessionEnded(command.ref)
            return IlsFailed(command.ref, Failure(FailureKind.UNREACHABLE, "no ILS gateway configured"))
        try:
            return answer(self._gateway, command)
        finally:
            self._report_health()

    @staticmethod
    def _ils_failure(command: IlsCommand, exc: Exception) -> IlsAnswer:
        """What an ILS command that crashed means: a lookup was harmless to repeat; a transaction may
        have gone out before the crash, so it is "outcome unknown", never "not done"."""
        if isinstance(command, EndPatronSession):
            return SessionEnded(command.ref)
        kind = FailureKind.UNREACHABLE if isinstance(command, LookUpPatron) else FailureKind.OUTCOME_UNKNOWN
        return IlsFailed(command.ref, Failure(kind, f"internal error: {exc!r}"))

    def _report_health(self) -> None:
        """An IlsHealth event when connected/last error changed (latency alone is not news)."""
        if self._gateway is None:
            return
        health = self._gateway.health()
        key = (health.connected, health.last_error)
        with self._cond:
            if key == self._health_key:
                return
            self._health_key = key
        self._enqueue(health)

    def _security(self, command: SetSecurity) -> SecuritySet:
        if self._tags is None:
            return SecuritySet(
                command.ref, ok=False, failed_uids=command.uids, detail="no RFID reader configured"
            )
        return self._tags.perform(command)

    @staticmethod
    def _security_failure(command: SetSecurity, exc: Exception) -> SecuritySet:
        return SecuritySet(command.ref, ok=False, failed_uids=command.uids, detail=f"error: {exc!r}")

    def _write_tag(self, command: WriteTag) -> TagWritten:
        if self._programmer is None:
            return TagWritten(command.ref, False, "no tag programming configured")
        return self._programmer.perform(command)

    def _set_out_of_service(self, on: bool) -> None:
        with self._cond:
            self._out_of_service = on
        if self._kiosk_mode is not None:
            self._call_quietly(self._kiosk_mode.set_out_of_service, on)
