"""A simulated library day: patrons at the self-check, the public at the returns bin, and the faults.

The driver acts only as the people and the world around the kiosks do:

* a patron puts a card on the pad (or scans it), types the PIN on the screen's keypad, puts books on
  the pad, reads the rows on the screen, takes the books, touches "Finish" and "Print a receipt", and
  takes the paper from the printer; a book the screen showed "done" goes home, any other goes to the
  desk (staff put it back once the journals are settled); now and then a patron also brings a
  reference copy, whose tag says "not for circulation" (the ILS refuses it online, the kiosk
  offline), and once per pass of the fault pattern one does so while the ILS is down;
* the public drops books that are on loan into the returns bin's chute, one at a time, and each falls
  on once its alarm is back on (or after a while, if it never is);
* the world: the ILS goes away and comes back, answers slowly for a while (2 s per message in a real
  library, compressed here to ``DayPlan.slow_seconds``), drops connections, loses answers after
  applying them; the pad's reader is unplugged mid-session; the printer runs out of paper; and the
  self-check kiosk, the returns bin and either ``kiosk sync`` are SIGKILLed at random moments and
  restarted.

What the day records (what each patron was shown and printed, each tag's security when it left the
pad or the chute) is judged afterwards by :mod:`soak_invariants` against the simulated ILS's ledger
and the two journals. The screen is also checked live: nothing on it may ever name a patron other
than the one at the kiosk, nor show a title from another session.
"""

from __future__ import annotations

import random
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soak_processes import KioskDied, Process, ScreenKiosk, headless_kiosk, sync, sync_once
from soak_world import MOCK_PINS, Patron, World, dump

from hardware_mocks.ils import When
from hardware_mocks.ils.library import ItemStatus
from hardware_mocks.pad import VirtualPad
from kiosk.circulation.rows import RowState
from kiosk.hardware.rfid.security import SecurityScheme, SecurityState

ON_LOAN_SECURITY = SecurityScheme().wanted(SecurityState.ON_LOAN)
#: Row states a patron waits out before lifting their books (the screen's own words for them).
UNSETTLED = {str(state) for state in (RowState.ASKING, RowState.SECURING, RowState.WAITING, RowState.PUT_BACK)}
NAME = re.compile(r"Reader\d{4} Day")
TITLE = re.compile(r"Day (?:Title \d{5}|Reference \d{3})")
BARCODE = re.compile(r"(?<!\d)[23]\d{13}(?!\d)")
POLL = 0.04
#: Upper bounds for the world to happen (nothing here measures time; the bench reads the clock).
SCREEN_WAIT = 30.0
SETTLE_WAIT = 30.0


@dataclass(frozen=True)
class DayPlan:
    """``sessions`` patron sessions and ``returns`` returns-bin drops. With ``faults`` the pattern of
    :meth:`Day.faults_for` repeats every ``block`` sessions (scaled down for a shorter day)."""

    sessions: int
    returns: int
    seed: int = 1
    faults: bool = True
    slow_seconds: float = 0.2  # "2 s per message", compressed 10x like the rest of the day
    block: int = 100
    patrons: int = 120
    #: Enough stock for a day: a session borrows about 1.6 books and the returns bin gives one back per
    #: session, so the shelf shrinks by about 0.6 book per session: 1,500 books last 2,000 sessions.
    books: int = 1500
    on_loan: int = 150
    #: Stop taking patrons after this many seconds (the returns bin then takes its share of the drops
    #: for the sessions that ran); None runs every session.
    deadline_seconds: float | None = None


@dataclass
class Attempt:
    """One book a patron tried to borrow in one session."""

    session: int
    patron: str
    item: str
    pick_seq: int  # the ILS ledger's last row for this item when the patron took it from the shelf
    reference: bool = False
    told: str = ""  # "online" / "offline": a screen showed the ILS confirmed (or the journal took) it
    shown: str = ""  # the row's last state on the screen
    message: str = ""  # what the row last said (its message id: the words in any language)
    on_receipt: bool = False
    security_on_at_lift: bool | None = None
    interrupted: str = ""


@dataclass
class Drop:
    """One book dropped into the returns bin."""

    index: int
    item: str
    pick_seq: int
    secured: bool | None = None  # the tag's security when the book left the chute
    seconds: float = 0.0


@dataclass
class SessionLog:
    index: int
    patron: Patron
    books: list[str]
    card: str  # "rfid" or "barcode"
    attempts: list[Attempt] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    end: str = ""  # "receipt", "no receipt", "interrupted: ...", "refused"
    printed_before: int = 0
    printed: bool = False
    seconds: float = 0.0


@dataclass
class DayResult:
    plan: DayPlan
    sessions: list[SessionLog]
    attempts: list[Attempt]
    drops: list[Drop]
    violations: list[str]
    findings: list[str]
    figures: dict[str, Any]
    ledger: list[Any] = field(default_factory=list)  # the ILS's, at the end of the day
    receipts: list[str] = field(default_factory=list)  # every sheet the printer cut, as it reads
    evidence: dict[str, Any] = field(default_factory=dict)  # the rest of what the judge was given


class Day:
    """One simulated day in ``workdir`` (see the module docstring). :meth:`run` returns the result."""

    def __init__(self, workdir: Path, plan: DayPlan, *, say: Callable[[str], None] = print) -> None:
        self.workdir = workdir
        self.plan = plan
        self.say = say
        self.rng = random.Random(plan.seed)
        self.world = World(workdir, patrons=plan.patrons, books=plan.books, on_loan=plan.on_loan, seed=plan.seed)
        self.lock = threading.RLock()
        self.location: dict[str, str] = {}
        self.secure: dict[str, bool] = {}
        self.attempts: list[Attempt] = []
        self.drops: list[Drop] = []
        self.sessions: list[SessionLog] = []
        self.violations: list[str] = []
        self.findings: list[str] = []
        self.fault_counts: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()  # what the ILS's fault rules did
        self.rss: dict[str, dict[int, list[int]]] = {}
        self.sessions_done = 0
        self.returns_target = plan.returns  # fewer if the deadline stops the sessions early
        self.sessions_running = True
        self.stop_returns = threading.Event()
        self.timers: list[threading.Timer] = []
        self.trace: list[str] = []
        self.kiosk: ScreenKiosk
        self.returns_kiosk: Process
        self.syncs: dict[str, Process] = {}
        self.config: dict[str, Path] = {}

    # -- the day --------------------------------------------------------------------------------------

    def run(self) -> DayResult:
        self.world.start()
        try:
            return self._run()
        finally:
            for timer in self.timers:
                timer.cancel()
            self.stop_returns.set()
            for process in self._processes():
                process.kill()
            self.world.stop()

    def _processes(self) -> list[Process]:
        found: list[Process] = []
        if hasattr(self, "kiosk"):
            found.append(self.kiosk)
        if hasattr(self, "returns_kiosk"):
            found.append(self.returns_kiosk)
        return [*found, *self.syncs.values()]

    def _run(self) -> DayResult:
        world = self.world
        for book in world.books:
            lent = any(loan["item"] == book.id for loan in world.data["loans"])
            self.location[book.id] = "home" if lent else "shelf"
            self.secure[book.id] = not lent
        rundir = self.workdir
        dump(world.data, rundir / "library.json")
        self.config = {"selfcheck": world.config_dir("self-check"), "returns": world.config_dir("returns-bin")}
        self.kiosk = ScreenKiosk(self.config["selfcheck"], rundir)
        self.returns_kiosk = headless_kiosk(self.config["returns"], rundir, env=MOCK_PINS)
        self.syncs = {name: sync(f"{name}-sync", self.config[name], rundir) for name in ("selfcheck", "returns")}
        for process in self._processes():
            process.start()
        self.kiosk.wait_up()
        returns = threading.Thread(target=self._returns_loop, name="day-returns", daemon=True)
        started = time.monotonic()
        returns.start()
        try:
            for k in range(self.plan.sessions):
                if self.plan.deadline_seconds is not None and time.monotonic() - started > self.plan.deadline_seconds:
                    self.findings.append(f"stopped after {k} sessions: the run's deadline "
                                         f"({self.plan.deadline_seconds:g} s) passed")
                    break
                self._session(k)
                self.sessions_done = k + 1
                self._sample_rss()
                if k % 10 == 9:
                    self._release_desk()
        finally:
            self.returns_target = round(self.plan.returns * self.sessions_done / self.plan.sessions)
            self.sessions_running = False
        sessions_seconds = time.monotonic() - started
        self._calm()
        returns.join(timeout=max(60.0, 2.0 * (self.returns_target - len(self.drops))))
        returns_seconds = time.monotonic() - started
        if returns.is_alive():
            self.violations.append(f"the returns bin took only {len(self.drops)} of {self.returns_target} drops")
            self.stop_returns.set()
            returns.join(timeout=30)
        self._settle()
        return self._judge(sessions_seconds, returns_seconds)

    # -- faults ---------------------------------------------------------------------------------------

    def faults_for(self, k: int) -> tuple[set[str], list[tuple[float, str]]]:
        """The windows session ``k`` runs in, and the one-off faults at a random moment in it."""
        if not self.plan.faults:
            return set(), []
        block = min(self.plan.block, self.plan.sessions)
        p = k % block

        def at(fraction: float) -> int:
            return int(fraction * block)

        windows = set()
        if at(0.15) <= p < at(0.30):
            windows.add("slow")
        if at(0.45) <= p < at(0.60):
            windows.add("ils down")
        if at(0.70) <= p < at(0.80):
            windows.add("paper out")
        planned: dict[int, list[str]] = {}
        for fraction, event in ((0.05, "lose a checkout answer"), (0.10, "unplug reader"), (0.20, "drop connections"),
                                (0.25, "kill kiosk"), (0.35, "unplug reader"), (0.40, "lose a checkin answer"),
                                (0.52, "kill returns kiosk"), (0.62, "kill selfcheck sync"),
                                (0.85, "kill kiosk while lending"),
                                (0.92, "kill returns sync")):
            planned.setdefault(at(fraction), []).append(event)
        events: list[tuple[float, str]] = []
        for event in planned.get(p, []):
            events.append((0.0 if event.startswith("lose") else self.rng.uniform(0.0, 1.5), event))
        # (a kill "while lending" is the session's own doing: see _serve)
        draw = self.rng.random()
        if draw < 0.08:
            events.append((self.rng.uniform(0.0, 1.5), "drop connections"))
        elif draw < 0.10:
            events.append((0.0, "lose a checkout answer"))
        elif draw < 0.12:
            events.append((0.0, "lose a checkin answer"))
        return windows, events

    def brings_reference(self, k: int) -> bool:
        """The patron of session ``k`` brings a reference copy for sure: one per pass of the fault
        pattern, in the middle of the ILS outage (see :meth:`faults_for`), so every day, short ones
        too, sees the kiosk refuse one offline on its tag's word."""
        if not self.plan.faults:
            return False
        block = min(self.plan.block, self.plan.sessions)
        return k % block == int(0.50 * block)

    def _set_windows(self, windows: set[str]) -> None:
        ils = self.world.ils
        assert ils is not None
        ils.faults.latency(self.plan.slow_seconds if "slow" in windows else 0.0)
        if "ils down" in windows and ils.running:
            self.world.ils_down()
        elif "ils down" not in windows and not ils.running:
            self.world.ils_up()
        self.world.paper("paper out" in windows)
        for window in windows:
            self.fault_counts[f"sessions {window}"] += 1

    def _fire(self, event: str) -> None:
        """One fault, from a timer thread at a random moment of a session."""
        try:
            self.fault_counts[event] += 1
            ils = self.world.ils
            assert ils is not None
            if event in ("kill kiosk", "kill kiosk while lending"):
                self.kiosk.kill()  # the session notices and restarts it, as systemd would
            elif event == "kill returns kiosk":
                self.returns_kiosk.kill()
                time.sleep(self.rng.uniform(0.2, 1.0))
                self.returns_kiosk.start()
            elif event.startswith("kill ") and event.endswith(" sync"):
                process = self.syncs[event.split()[1]]
                process.kill()
                time.sleep(self.rng.uniform(0.0, 0.5))
                process.start()
            elif event == "unplug reader":
                self.world.unplug_pad_reader()
                time.sleep(self.rng.uniform(0.3, 1.5))
                self.world.plug_pad_reader()
            elif event == "drop connections":
                ils.drop_connections()
            elif event == "lose a checkout answer":
                ils.faults.drop(code="11", when=When.AFTER_APPLY, times=1)
            elif event == "lose a checkin answer":
                ils.faults.drop(code="09", when=When.AFTER_APPLY, times=1)
        except Exception as exc:  # a fault that could not be staged is the day's own bug: say so
            self.findings.append(f"staging {event!r} failed: {exc!r}")

    def _calm(self) -> None:
        """The end of the day: every fault off, every process up."""
        for timer in self.timers:
            timer.join(timeout=10)
        ils = self.world.ils
        assert ils is not None
        self.fired.update(f"{f.action} {f.code} {f.when}" for f in ils.faults.fired)
        ils.faults.reset()
        if not ils.running:
            self.world.ils_up()
        self.world.paper(False)
        self.world.plug_pad_reader()
        for process in self._processes():
            if not process.alive:
                process.start()

    # -- one patron ---------------------------------------------------------------------------------

    def _pick_patron(self) -> Patron:
        last = self.sessions[-1].patron.id if self.sessions else ""
        while True:
            patron = self.rng.choice(self.world.patrons)
            if patron.id != last:
                return patron

    def _status(self, item: str) -> ItemStatus | None:
        ils = self.world.ils
        assert ils is not None
        found = ils.library.item(item)
        return found.status if found is not None else None

    def _last_seq(self, item: str) -> int:
        ils = self.world.ils
        assert ils is not None
        rows = ils.library.ledger(item=item)
        return rows[-1].seq if rows else 0

    def _pick_books(self, patron: Patron, k: int) -> list[Attempt]:
        wanted = self.rng.choice([1, 1, 1, 1, 2, 2, 3])
        with self.lock:
            shelf = [b for b in self.world.books if b.loanable and self.location[b.id] == "shelf"]
            self.rng.shuffle(shelf)
            chosen: list[str] = []
            for book in shelf:
                if len(chosen) == wanted:
                    break
                if self._status(book.id) is ItemStatus.AVAILABLE:
                    chosen.append(book.id)
            references = [b.id for b in self.world.books if not b.loanable and self.location[b.id] == "shelf"
                          and self._status(b.id) is ItemStatus.AVAILABLE]
            # A reference copy: refused by the ILS online, by the kiosk offline (its tag says so).
            if references and (self.rng.random() < 0.03 or self.brings_reference(k)):
                chosen.append(self.rng.choice(references))
            for item in chosen:
                self.location[item] = "session"
            attempts = [Attempt(k, patron.id, item, self._last_seq(item),
                                reference=item in {b.id for b in self.world.books if not b.loanable})
                        for item in chosen]
            self.attempts.extend(attempts)
        return attempts

    def _session(self, k: int) -> None:
        patron = self._pick_patron()
        attempts = self._pick_books(patron, k)
        log = SessionLog(k, patron, [a.item for a in attempts], self.rng.choice(["rfid", "barcode"]), attempts)
        self.sessions.append(log)
        windows, events = self.faults_for(k)
        log.faults = sorted(windows) + [e for _, e in events]
        started = time.monotonic()
        self._set_windows(windows)
        self._ready_for(log)
        for delay, event in events:
            if event == "kill kiosk while lending":
                continue  # the session does it at its moment
            timer = threading.Timer(delay, self._fire, args=(event,))
            timer.daemon = True
            self.timers.append(timer)
            timer.start()
        self.timers = [t for t in self.timers if t.is_alive()]
        try:
            self._serve(log, attempts)
        except KioskDied as died:
            log.end = f"interrupted: {died}"
            for attempt in attempts:
                attempt.interrupted = "kiosk killed"
            self._clear_pad(log, attempts)
            self._restart_kiosk()
        except (TimeoutError, AssertionError) as stuck:
            log.end = "stuck"
            self._violation(f"session {k}: {stuck}")
            for attempt in attempts:
                attempt.interrupted = "stuck"
            self._clear_pad(log, attempts)
            self._walk_away(log)
        log.seconds = time.monotonic() - started

    def _ready_for(self, log: SessionLog) -> None:
        """The idle screen before a patron steps up; a kiosk that never gets there is restarted, as
        staff would, after the violation is written down."""
        try:
            self._wait_screen(log, {"idle", "thank_you"}, between=True)
            self._nothing_left(log)
            return
        except KioskDied:
            pass
        except TimeoutError as exc:
            self._violation(f"session {log.index}: the kiosk is not ready for the next patron: {exc}")
        self._restart_kiosk()
        self._wait_screen(log, {"idle", "thank_you"}, between=True)

    def _nothing_left(self, log: SessionLog) -> None:
        """Between patrons the session's state holds nothing about the last one (its id, PIN, account,
        rows, renewals): asked of the station itself, beside what the screen shows."""
        answer = self.kiosk.ask({"op": "leftovers"})
        if answer.get("ok") and answer.get("phase") == "idle" and answer.get("held"):
            self._violation(f"session {log.index}: before it, the idle kiosk still holds the last patron's "
                            f"{answer['held']}")

    def _walk_away(self, log: SessionLog) -> None:
        """A patron whose session got stuck leaves: "Finish" and "No receipt" if the screen offers them."""
        try:
            for words in ("Finish", "No receipt"):
                answer = self.kiosk.ask({"op": "tap", "text": words})
                self._trace(f"walking away, tap {words!r}: {answer.get('ok')} {answer.get('screen')}")
                time.sleep(0.5)
        except (KioskDied, OSError, EOFError):
            pass

    def _restart_kiosk(self) -> None:
        """Start the kiosk again (systemd's ``Restart=``), until its screen is up."""
        for _ in range(3):
            self.kiosk.start()
            try:
                self.kiosk.wait_up()
                return
            except KioskDied as exc:  # killed again while starting: a timer of the day's
                self._trace(f"restart interrupted: {exc}")
        raise KioskDied("the kiosk did not come up after three starts")

    def _serve(self, log: SessionLog, attempts: list[Attempt]) -> None:
        world, patron = self.world, log.patron
        pad = world.pad
        assert pad is not None and world.scanner is not None and world.printer is not None
        log.printed_before = len(world.printer.sheets)
        if log.card == "rfid":
            pad.place_patron_card(patron.id)
        else:
            world.scanner.scan(patron.id)
        self._wait_screen(log, {"pin"})
        typed_in = False
        if self.rng.random() < 0.03:  # a slip of the finger first
            self._type_pin(log, "0" if patron.pin != "0000" else "1")
            seen = self._wait(log, lambda a: (a["screen"] in ("pin", "refused") and any(
                "Wrong PIN" in t for t in a["texts"])) or a["screen"] in ("home", "items"), "wrong PIN told")
            typed_in = seen["screen"] in ("home", "items")  # offline no PIN can be checked: served anyway
        if not typed_in:
            self._type_pin(log, patron.pin)
        seen = self._wait_screen(log, {"home", "items", "refused"})
        if seen["screen"] == "refused":
            log.end = "refused"
            self._tap(log, "OK")
            self._clear_pad(log, attempts)
            return
        if log.card == "rfid":
            pad.remove(patron.id)
        for attempt in attempts:
            self._place(pad, attempt.item)
        if "kill kiosk while lending" in log.faults:
            # The moment exactly-once is about: the books' checkouts and security writes in flight.
            time.sleep(self.rng.uniform(0.0, 0.25))
            self._fire("kill kiosk while lending")
        retried: Counter[str] = Counter()

        def settled(answer: dict[str, Any]) -> bool:
            rows = {r["item"]: r for r in answer.get("rows", [])}
            if answer["screen"] not in ("items",):
                return False
            for row in rows.values():
                if row["state"] == "unreachable" and retried[row["item"]] < 2:
                    retried[row["item"]] += 1
                    self._tap_in_row(log, "Try again")
                    return False
            return all(a.item in rows and rows[a.item]["state"] not in UNSETTLED for a in attempts)

        try:
            self._wait(log, settled, "every row settled", timeout=SETTLE_WAIT)
        except TimeoutError as exc:
            self.findings.append(f"session {log.index}: {exc}; the patron gives up")
        security = {tag.barcode: tag.security_on for tag in pad.tags_on_pad() if not tag.patron_card}
        for attempt in attempts:
            attempt.security_on_at_lift = security.get(attempt.item)
            self.secure[attempt.item] = security.get(attempt.item, self.secure[attempt.item])
            pad.remove(attempt.item)
        self._finish(log)
        self._end_session(log, attempts)

    def _finish(self, log: SessionLog) -> None:
        self._tap(log, "Finish")
        seen = self._wait_screen(log, {"receipt", "idle", "thank_you"})
        for _ in range(3):
            if seen["screen"] != "receipt":
                break
            if "Print a receipt" in seen["buttons"] and self.rng.random() < 0.9:
                self._tap(log, "Print a receipt")
                log.printed = True
                # printing, then idle; or the receipt question again without "print" (it failed)
                seen = self._wait(log, lambda a: a["screen"] in ("idle", "thank_you") or (
                    a["screen"] == "receipt" and "Print a receipt" not in a["buttons"]), "printed")
                if seen["screen"] == "receipt":
                    log.printed = False
            else:
                self._tap(log, "No receipt")
                seen = self._wait_screen(log, {"idle", "thank_you"})
        log.end = "receipt" if log.printed else "no receipt"
        printer = self.world.printer
        assert printer is not None
        if log.printed:
            deadline = time.monotonic() + 10
            while len(printer.sheets) <= log.printed_before and time.monotonic() < deadline:
                time.sleep(POLL)
            if len(printer.sheets) <= log.printed_before:
                self.violations.append(f"session {log.index}: the screen said printing, no paper came out")

    def _end_session(self, log: SessionLog, attempts: list[Attempt]) -> None:
        with self.lock:
            for attempt in attempts:
                self.location[attempt.item] = "home" if attempt.shown == "done" else "desk"

    def _clear_pad(self, log: SessionLog, attempts: list[Attempt]) -> None:
        """The patron takes the card and the books off the pad (the kiosk died or refused them)."""
        pad = self.world.pad
        assert pad is not None
        security = {tag.barcode: tag.security_on for tag in pad.tags_on_pad() if not tag.patron_card}
        for attempt in attempts:
            if attempt.item in security:
                attempt.security_on_at_lift = security[attempt.item]
                self.secure[attempt.item] = security[attempt.item]
        pad.clear()
        self._end_session(log, attempts)

    def _place(self, pad: VirtualPad, item: str) -> None:
        """A book on a pad with its tag as it is (the pad labels tags "in library"; a tag the kiosk left
        "on loan" stays so)."""
        tag = pad.place_item(item)
        if not self.secure.get(item, True):
            sim = pad.simulator.tag(tag.uid)
            if sim is not None:
                sim.afi, sim.eas = ON_LOAN_SECURITY.afi, bool(ON_LOAN_SECURITY.eas)

    def _type_pin(self, log: SessionLog, pin: str) -> None:
        for digit in pin:
            self._tap(log, digit)
        self._tap(log, "OK")

    # -- the screen -----------------------------------------------------------------------------------

    def _look(self, log: SessionLog | None, between: bool = False) -> dict[str, Any]:
        answer = self.kiosk.ask({"op": "look"})
        self._trace(f"look {answer.get('screen')} {answer.get('buttons')} "
                    f"{[(r['item'][-5:], r['state']) for r in answer.get('rows', [])]}")
        if not answer.get("ok"):
            raise AssertionError(f"looking at the screen failed: {answer}")
        if answer.get("up"):
            self._check_screen(answer, log, between)
        return answer

    def _check_screen(self, answer: dict[str, Any], log: SessionLog | None, between: bool) -> None:
        """Nothing on screen names another patron or shows another session's book; the rows drawn
        are this session's books; what a row says confirmed is what the patron was told."""
        mine = set() if log is None or between else {log.patron.name}
        books = set() if log is None or between else {self.world.titles[i] for i in log.books}
        where = f"session {log.index if log else '-'} ({'before it' if between else 'during it'}), " \
                f"screen {answer.get('screen')}"
        for text in answer.get("texts", []):
            for name in NAME.findall(text):
                if name not in mine:
                    self._violation(f"{where}: shows patron name {name!r} (at the kiosk: {sorted(mine)})")
            for title in TITLE.findall(text):
                if title not in books:
                    self._violation(f"{where}: shows title {title!r} that is not this session's")
            for number in BARCODE.findall(text):  # no screen shows a card number; books by it offline
                if number not in (set() if log is None or between else set(log.books)):
                    self._violation(f"{where}: shows {number} that is not one of this session's books")
        if log is None or between:
            return
        by_item = {a.item: a for a in log.attempts}
        for row in answer.get("rows", []):
            attempt = by_item.get(row["item"])
            if attempt is None:
                self._violation(f"{where}: a row for {row['item']} that this patron never put down")
                continue
            attempt.shown = row["state"]
            attempt.message = row["message"]
            if row["confirmed"] and not attempt.told:
                attempt.told = "offline" if row["offline"] else "online"

    def _diagnose(self) -> object:
        try:
            return self.kiosk.ask({"op": "diagnose"}).get("state")
        except (KioskDied, OSError, EOFError) as exc:
            return repr(exc)

    def _trace(self, line: str) -> None:
        """The driver's last steps, for the message of a step that did not happen."""
        if self.trace and self.trace[-1].endswith(line):
            return
        self.trace.append(f"{time.monotonic():.2f} {line}")
        del self.trace[:-30]

    def _violation(self, text: str) -> None:
        if text not in self.violations:
            self.violations.append(text)

    def _wait(self, log: SessionLog | None, predicate: Callable[[dict[str, Any]], bool], what: str, *,
              timeout: float = SCREEN_WAIT, between: bool = False) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        answer: dict[str, Any] = {}
        while time.monotonic() < deadline:
            answer = self._look(log, between)
            if answer.get("up") and predicate(answer):
                return answer
            time.sleep(POLL)
        raise TimeoutError(f"{what}: not seen within {timeout:g} s (screen {answer.get('screen')}, "
                           f"texts {answer.get('texts')}, rows {answer.get('rows')}); the station: "
                           f"{self._diagnose()}; last steps:\n" + "\n".join(self.trace))

    def _wait_screen(self, log: SessionLog | None, names: set[str], *, between: bool = False) -> dict[str, Any]:
        return self._wait(log, lambda a: a["screen"] in names, f"screen {sorted(names)}", between=between)

    def _tap(self, log: SessionLog, words: str) -> None:
        for _ in range(50):
            answer = self.kiosk.ask({"op": "tap", "text": words})
            self._trace(f"tap {words!r}: {answer.get('ok')} {answer.get('screen')}")
            if answer.get("ok"):
                return
            time.sleep(POLL)  # the screen with that button is still being drawn
        raise AssertionError(f"session {log.index}: could not touch {words!r}: {answer}; last steps:\n"
                             + "\n".join(self.trace))

    def _tap_in_row(self, log: SessionLog, words: str) -> None:
        """A button each row may have (several rows may): the patron touches the top-most one."""
        answer = self.kiosk.ask({"op": "tap", "text": words, "any": True})
        if not answer.get("ok"):
            self.findings.append(f"session {log.index}: could not touch {words!r}: {answer}")

    # -- the returns bin ----------------------------------------------------------------------------

    def _returns_loop(self) -> None:
        try:
            while len(self.drops) < self.returns_target and not self.stop_returns.is_set():
                if self.sessions_running:
                    due = self.plan.returns * min(1.0, (self.sessions_done + 1) / self.plan.sessions)
                    if len(self.drops) >= due:
                        time.sleep(0.05)
                        continue
                process = self.returns_kiosk
                if not process.alive or time.monotonic() - process.started_at < 2.0:
                    time.sleep(0.1)  # the slot is locked while the bin is down
                    continue
                item = self._pick_return()
                if item is None:
                    time.sleep(0.2)
                    continue
                self._drop(item)
        except Exception as exc:
            self.violations.append(f"the returns driver stopped: {exc!r}")

    def _pick_return(self) -> str | None:
        with self.lock:
            home = [i for i, where in self.location.items() if where == "home"]
            self.rng.shuffle(home)
            for item in home[:40]:
                if self._status(item) is ItemStatus.ON_LOAN:
                    self.location[item] = "chute"
                    return item
        return None

    def _drop(self, item: str) -> None:
        chute = self.world.chute
        assert chute is not None
        drop = Drop(len(self.drops), item, self._last_seq(item))
        self.drops.append(drop)
        started = time.monotonic()
        armed_before = self.secure.get(item, True)  # a book staff drop in from the desk may be armed
        self._place(chute, item)
        deadline = started + 20.0
        secured = False
        while time.monotonic() < deadline and not self.stop_returns.is_set():
            tags = [t for t in chute.tags_on_pad() if t.barcode == item]
            secured = bool(tags) and all(t.security_on for t in tags)
            # It falls once the bin has handled it: its alarm turned back on, or, for a book that was
            # armed already, the ILS heard of it. (Armed and the ILS away: it rests until the deadline.)
            if secured and (not armed_before or self._last_seq(item) > drop.pick_seq):
                break
            if not self.returns_kiosk.alive or time.monotonic() - self.returns_kiosk.started_at < 3.0:
                deadline = max(deadline, time.monotonic() + 10.0)  # it is restarting: it reads the chute again
            time.sleep(POLL)
        drop.secured = secured
        drop.seconds = time.monotonic() - started
        chute.remove(item)
        with self.lock:
            self.secure[item] = secured
            self.location[item] = "bin"

    # -- staff, between patrons -----------------------------------------------------------------------

    def _open_items(self, journal: Path) -> set[str]:
        """Items with a transaction not settled in ``journal`` (read-only, as `kiosk queue` reads it)."""
        if not journal.exists():
            return set()
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as conn:
            rows = conn.execute("select item_id from transactions where state in "
                                "('queued', 'sending', 'unknown', 'rejected')").fetchall()
        return {r[0] for r in rows}

    def _release_desk(self) -> None:
        """Staff put desk and bin books back on the shelf once the ILS and the journals agree where
        they are; a desk book still on loan goes through the returns bin like any other."""
        try:
            open_items = self._open_items(self.config["selfcheck"] / "journal.sqlite")
            open_items |= self._open_items(self.config["returns"] / "journal.sqlite")
        except sqlite3.Error as exc:
            self.findings.append(f"reading the journals for staff failed: {exc!r}")
            return
        with self.lock:
            for item, where in list(self.location.items()):
                if where not in ("desk", "bin") or item in open_items:
                    continue
                status = self._status(item)
                if status is ItemStatus.AVAILABLE:
                    if not self.secure.get(item, True):
                        self.findings.append(f"{item} goes back to the shelf from the {where} with its alarm off")
                        self.secure[item] = True  # staff re-arm it
                    self.location[item] = "shelf"
                elif status is ItemStatus.ON_LOAN and where == "desk":
                    self.location[item] = "home"

    # -- the end of the day ---------------------------------------------------------------------------

    def _settle(self) -> None:
        """Every queue drained (the syncs run until the journals hold nothing to send), then the
        processes stopped as systemd stops them, and one last ``kiosk sync --once`` each: it purges
        what retention allows, so the journal's size after retention is what the day leaves."""
        journals = [self.config[n] / "journal.sqlite" for n in ("selfcheck", "returns")]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pending = sum(self._count(j, ("queued", "sending")) for j in journals)
            if pending == 0:
                break
            time.sleep(0.5)
        else:
            self.violations.append("the queues did not drain within 120 s of the end of the day")
        self._sample_rss()
        for process in self._processes():
            self.rss.setdefault(process.name, {})
            code = process.stop()
            if code not in (0, None):
                self.findings.append(f"{process.name} stopped with exit code {code} on SIGTERM")
            self.findings.extend(f"unexpected: {e}" for e in process.unexpected_exits)
        for name in ("selfcheck", "returns"):
            done = sync_once(self.config[name], self.workdir)
            if done.returncode != 0:
                self.violations.append(f"the last `kiosk sync --once` for {name} failed: {done.stderr[-500:]}")

    @staticmethod
    def _count(journal: Path, states: Iterable[str]) -> int:
        if not journal.exists():
            return 0
        wanted = list(states)
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as conn:
            (n,), = conn.execute(f"select count(*) from transactions where state in "
                                 f"({', '.join('?' * len(wanted))})", wanted).fetchall()
        return int(n)

    def _sample_rss(self) -> None:
        for process in self._processes():
            value = process.rss_kb()
            if value is not None:
                self.rss.setdefault(process.name, {}).setdefault(process.incarnations, []).append(value)

    def _sorter_verdict(self, figures: dict[str, Any]) -> list[str]:
        """The returns bin's memory file (what staff see on its screen): the bins' counts and a sorter
        fault. A fault means the sorter stopped and the slot closed: the day's drops would have piled
        up at the diverter. Items in flight at a kill are not counted (a restart forgets them; their
        checkins are in the journal), so the counts may fall short of the drops, but not far."""
        from kiosk.shell.returns_memory import ReturnsMemory, memory_path

        memory = ReturnsMemory.open(memory_path(self.config["returns"] / "journal.sqlite"))
        try:
            remembered = memory.remembered
        finally:
            memory.close()
        routed = sum(n for _, n in remembered.counts)
        figures["returns_bins"] = dict(remembered.counts)
        found = []
        if remembered.fault:
            found.append(f"the returns bin's sorter ended the day faulted: {remembered.fault}")
        if routed < len(self.drops) - 2 * self.returns_kiosk.kills - 5:
            found.append(f"the returns bin routed {routed} of {len(self.drops)} drops into its bins")
        return found

    def _judge(self, sessions_seconds: float, returns_seconds: float) -> DayResult:
        from soak_invariants import judge

        ils = self.world.ils
        assert ils is not None
        ledger = ils.library.ledger()
        receipts = self.world.receipts()
        (self.workdir / "receipts.txt").write_text("\n=====\n".join(receipts))
        evidence = {
            "attempts": self.attempts, "drops": self.drops, "sessions": self.sessions, "titles": self.world.titles,
            "initially_on_loan": {loan["item"] for loan in self.world.data["loans"]},
            "selfcheck_journal": self.config["selfcheck"] / "journal.sqlite",
            "returns_journal": self.config["returns"] / "journal.sqlite",
        }
        violations, findings, figures = judge(ledger=ledger, receipts=receipts, **evidence)
        violations += self._sorter_verdict(figures)
        figures.update(
            sessions=len(self.sessions), returns=len(self.drops), sessions_seconds=round(sessions_seconds, 1),
            returns_seconds=round(returns_seconds, 1),
            sessions_per_hour=round(len(self.sessions) * 3600 / sessions_seconds) if sessions_seconds else 0,
            returns_per_hour=round(len(self.drops) * 3600 / returns_seconds) if returns_seconds else 0,
            faults=dict(self.fault_counts), fired_at_ils=dict(self.fired),
            kills={p.name: p.kills for p in self._processes()},
            incarnations={p.name: p.incarnations for p in self._processes()},
            rss_kb=self.rss,
        )
        return DayResult(self.plan, self.sessions, self.attempts, self.drops, self.violations + violations,
                         self.findings + findings, figures, ledger, receipts, evidence)
