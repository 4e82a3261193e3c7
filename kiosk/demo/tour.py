"""The headless demo: a scripted visit to every screen of the real kiosk, photographed.

On a machine without a display ``kiosk demo`` runs this instead of a window: the simulated world,
the real station on it and the real Kivy app, rendered offscreen (``SDL_VIDEODRIVER=offscreen``),
with the hardware panel beside the screen as on a desktop. The script plays a patron and a member
of staff with touches on the real buttons (:mod:`kiosk.demo.fingers`); what only hands can do — a
card or books put on the pad or lifted off, the library system switched off — goes through the
simulated devices (:class:`~kiosk.demo.hardware.DemoHardware`), whose wire protocols the kiosk's own
drivers read. Nothing is submitted to the station behind the screen's back.

Each step waits for the screen a patron would expect and photographs the window; a step that does
not get there stops the tour with its name, what the window shows instead, and a photograph of it.
The printed receipt is saved as the paper reads, and checked: titles on it, the card masked, no PIN.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardware_mocks.ils import scenarios as S
from kiosk.circulation.events import Pressed
from kiosk.circulation.rows import SETTLED, RowKind, RowState
from kiosk.circulation.session import Mode, RenewalState
from kiosk.circulation.session_text import masked
from kiosk.config import Layer
from kiosk.demo.fingers import Fingers, StepFailed, button_posting, key
from kiosk.demo.hardware import DEMO_STAFF_PIN, DemoHardware
from kiosk.demo.wiring import DemoKiosk, demo_settings

#: The patron of the tour: five loans, so there is something to renew and something to return.
PATRON = S.PATRON_VALID
WRONG_PIN = "1111"
#: Borrowed: one lent, one on hold for someone else (refused), one already on loan to her (renew?).
BORROW = (S.ITEM_AVAILABLE, S.ITEM_ON_HOLD_FOR_OTHER, S.ITEM_RENEWABLE)
RENEW_FROM_LOANS = S.ITEM_TRANSIT
#: Returned at the kiosk: one with a hold here, one travelling to another branch.
RETURN = (S.ITEM_HOLD_HERE, S.ITEM_HOLD_OTHER_BRANCH)
#: While the library system is away: a patron with nothing on loan returns someone's book.
OFFLINE_PATRON = S.PATRON_CLEAN
OFFLINE_RETURN = S.ITEM_RENEWAL_LIMIT
#: A well-formed card the library system does not know: refused after the PIN.
UNKNOWN_CARD = S.UNKNOWN_PATRON
#: Dropped into the returns bin's chute: someone's hold, so it goes to the holds bin with a slip.
BIN_DROP = S.ITEM_HOLD_HERE
#: How long the library system takes to answer while the tour photographs "one moment, please".
SLOW_ILS_SECONDS = 1.5
#: Bounds for each step (nothing is timed: a loaded machine just takes longer); the first waits for
#: every device to report.
STEP_SECONDS = 15.0
READY_SECONDS = 45.0


@dataclass(frozen=True, slots=True)
class Photo:
    file: str
    caption: str


def device(state: Any, component: str) -> str | None:
    return next((row.state for row in state.staff.devices if row.component == component), None)


def rows(state: Any, kind: RowKind = RowKind.BORROW) -> dict[str, RowState]:
    return {row.item_id: row.state for row in state.session.rows if row.kind is kind}


class Tour:
    """One run of the tour writing into ``out``; ``say`` prints its progress."""

    def __init__(self, out: Path, *, base: Sequence[Layer] | None = None, say: Callable[[str], None] = print,
                 step_seconds: float = STEP_SECONDS) -> None:
        self.out = out
        self.step_seconds = step_seconds
        self.base = base
        self.say = say
        self.photos: list[Photo] = []
        self.receipt = ""
        self.kiosk: DemoKiosk | None = None
        self.fingers: Fingers | None = None

    # -- the tour -----------------------------------------------------------------------------------

    def run(self) -> None:
        """Every step; :class:`StepFailed` for the first that did not happen (photographed)."""
        self.out.mkdir(parents=True, exist_ok=True)
        with self._running(DemoHardware()) as world:
            self._ready()
            self._idle_choices(world)
            self._sign_in(world)
            self._borrow(world)
            self._loans()
            self._returns(world)
            self._finish(world)
            self._offline(world)
            self._refused(world)
            self._staff()
        with self._running(DemoHardware(returns_bin=True)) as world:
            self._returns_bin(world)
        self._write_index()

    def _ready(self) -> None:
        self.on("idle", "the kiosk ready (in service, reader and printer OK)",
                lambda s: s.out_of_service is None and s.online and device(s, "reader") == "ok"
                and device(s, "printer") == "ok", timeout=READY_SECONDS)
        self.photo("idle", "The idle screen: scan your card, pick a language, large text, high contrast")

    def _idle_choices(self, world: DemoHardware) -> None:
        idle = self.screen("idle")
        english = idle.prompt.text
        self.tap(idle.language_buttons["de"])
        self.on("idle", "German chosen", lambda s: s.session.language == "de" and idle.prompt.text != english)
        self.photo("idle-german", "The idle screen in German, picked by the patron")
        self.tap(idle.language_buttons["en"])
        self.on("idle", "English again", lambda s: s.session.language == "en" and idle.prompt.text == english)

        self.tap(idle.large_text)
        self.tap(idle.high_contrast)
        self.on("idle", "large text and high contrast on", lambda s: s.session.large_text and s.session.high_contrast)
        self.photo("idle-large-text-high-contrast", "Large text and high contrast, chosen on the idle screen")
        world.place(PATRON.id)
        self.on("pin", "the PIN asked, still in large text and high contrast",
                lambda s: s.session.large_text and s.session.high_contrast)
        self.photo("pin-large-text-high-contrast", "The PIN keypad in large text and high contrast")
        world.lift(PATRON.id)
        self.on("pin", "the card lifted", lambda s: not s.card_on_pad)
        self.tap(self.screen("pin").cancel)
        self.on("idle", "cancelled: back to the idle screen, the choices reset",
                lambda s: not s.session.large_text and not s.session.high_contrast)

    def _sign_in(self, world: DemoHardware) -> None:
        world.place(PATRON.id)
        self.on("pin", "the card read from the pad, the PIN asked")
        self.photo("pin", f"The card of {PATRON.name} on the pad: the PIN keypad")
        pin = self.screen("pin")
        self.type_pin(WRONG_PIN)
        self.on("pin", "a wrong PIN refused", lambda s: s.session.notice is not None)
        self.photo("pin-wrong", "A wrong PIN: how many tries are left")
        world.ils.faults.latency(SLOW_ILS_SECONDS)  # slow enough to see "one moment"
        try:
            for digit in PATRON.pin:
                self.tap(pin.keys[digit])
            self.photo("pin-typed", "The PIN typed: shown as dots only")
            self.tap(pin.keys["ok"])
            self.on("looking_up", "the library system asked")
            self.photo("looking-up", "One moment: the library system checks the card and PIN")
        finally:
            world.ils.faults.reset()
        self.on("home", "the patron's account", lambda s: s.session.account is not None)
        self.photo("account", "The patron's account: loans, holds, fines, and what to do")

    def _borrow(self, world: DemoHardware) -> None:
        world.lift(PATRON.id)
        self.tap(self.screen("home").borrow)
        self.on("items", "the items list for borrowing", lambda s: s.session.mode is Mode.BORROW)
        for book in BORROW:
            world.place(book)
        self.on("items", "three books on the pad answered",
                lambda s: rows(s) == {S.ITEM_AVAILABLE: RowState.DONE, S.ITEM_ON_HOLD_FOR_OTHER: RowState.REFUSED,
                                      S.ITEM_RENEWABLE: RowState.OFFERED})
        self.photo("checkout", "Borrowing: one lent, one refused (on hold for someone else), one already on loan")
        items = self.screen("items")
        offer = next(w for w in items.row_widgets if w.row.item_id == S.ITEM_RENEWABLE)
        self.tap(offer.buttons["renew_offered"])
        self.on("items", "the book already on loan renewed",
                lambda s: rows(s).get(S.ITEM_RENEWABLE) is RowState.DONE)
        self.photo("checkout-renewed", "The book already on loan: renewed instead of lent again")
        for book in BORROW:
            world.lift(book)
        self.on("items", "the books taken off the pad", lambda s: not s.pad.items)

    def _loans(self) -> None:
        self.tap(self.screen("items").account)
        self.on("home", "back to the account")
        self.tap(self.screen("home").my_loans)
        self.on("loans", "the loans list")
        self.photo("loans", "My loans, with their due dates")
        loans = self.screen("loans")
        row = next(w for w in loans.row_widgets if w.loan.item_id == RENEW_FROM_LOANS)
        self.tap(row.renew, "Renew")

        def renewed(state: Any) -> bool:
            latest = {r.item_id: r.state for r in state.session.renewals}
            return latest.get(RENEW_FROM_LOANS) is RenewalState.RENEWED

        self.on("loans", "a loan renewed from the list", renewed)
        self.photo("loans-renewed", "A loan renewed from the list: its new due date")

    def _returns(self, world: DemoHardware) -> None:
        self.tap(self.screen("loans").account)
        self.on("home", "back to the account")
        self.tap(self.screen("home").give_back)
        self.on("items", "the items list for returning", lambda s: s.session.mode is Mode.RETURN)
        for book in RETURN:
            world.place(book)
        self.on("items", "two books returned",
                lambda s: rows(s, RowKind.RETURN) == dict.fromkeys(RETURN, RowState.DONE))
        self.photo("returns", "Returning at the kiosk: where each book goes next")
        for book in RETURN:
            world.lift(book)
        self.on("items", "the returned books taken off the pad", lambda s: not s.pad.items)

    def _finish(self, world: DemoHardware) -> None:
        self.tap(self.screen("items").finish)
        self.on("receipt", "the receipt offered", lambda s: "print" in s.session.receipt_choices)
        self.photo("receipt-choice", "Finishing: print the receipt, or none")
        printed = len(world.receipts())
        self.tap(self.screen("receipt").buttons["print"])
        self.on("thank_you", "thank you")
        self.fingers_().until("the receipt printed", lambda: len(world.receipts()) > printed)
        self.receipt = world.receipts()[-1]
        (self.out / "receipt.txt").write_text(self.receipt, encoding="utf-8")
        self.photo("thank-you", "Thank you: the receipt came out of the printer (shown on the panel)")
        self.check_receipt(self.receipt)
        self.tap(self.screen("thank_you"), "the thank-you screen")
        self.on("idle", "back to the idle screen", lambda s: s.session.account is None)

    def _offline(self, world: DemoHardware) -> None:
        """The library system goes away; between patrons the kiosk cannot tell (nothing asks it), so
        the next patron meets it: identified under the offline policy, with the banner saying what
        that means, and a return recorded to be sent later."""
        panel = self.kiosk_().panel
        self.tap(panel.ils_switch, "the panel's ILS switch")
        self.fingers_().until("the library system stopped", lambda: not world.ils_online())
        world.place(OFFLINE_PATRON.id)
        self.on("pin", "the PIN asked while the library system is away")
        self.type_pin(OFFLINE_PATRON.pin)
        self.on("home", "the account, offline", lambda s: not s.online and self.kiosk_().app.banner.parent is not None)
        self.photo("offline", "The library system is offline: the banner says what that means")
        world.lift(OFFLINE_PATRON.id)
        self.tap(self.screen("home").give_back)
        self.on("items", "the items list for returning", lambda s: s.session.mode is Mode.RETURN)
        world.place(OFFLINE_RETURN)
        self.on("items", "a return recorded offline",
                lambda s: rows(s, RowKind.RETURN).get(OFFLINE_RETURN) in SETTLED)
        self.photo("offline-return", "A return while offline: recorded, sent when the library system is back")
        world.lift(OFFLINE_RETURN)
        self.on("items", "the book taken off the pad", lambda s: not s.pad.items)
        self.tap(self.screen("items").finish)
        self.on("receipt", "the receipt offered", lambda s: "none" in s.session.receipt_choices)
        self.tap(self.screen("receipt").buttons["none"])
        self.on("thank_you", "thank you")
        self.tap(self.screen("thank_you"), "the thank-you screen")
        self.on("idle", "back to the idle screen", lambda s: s.session.account is None)
        self.tap(panel.ils_switch, "the panel's ILS switch")
        self.on("idle", "the library system back", lambda s: s.online, timeout=30)

    def _refused(self, world: DemoHardware) -> None:
        world.scan(UNKNOWN_CARD)  # a card from another library system, at the barcode scanner
        self.on("pin", "the PIN of a card the library does not know asked")
        self.type_pin("0000")
        self.on("refused", "the unknown card refused")
        self.photo("refused", "A card the library system does not know: refused, in plain words")
        self.tap(self.screen("refused").ok)
        self.on("idle", "back to the idle screen")

    def _staff(self) -> None:
        self.tap(self.screen("idle").staff)
        self.on("staff_pin", "the staff PIN asked")
        self.log_in(photo=True)
        self.photo("staff-menu", "Staff mode: devices, offline queue, tests, tag programming, out of service")
        self.tap(button_posting(self.current(), Pressed("open", "devices")))
        self.on("staff_devices", "the devices list")
        self.photo("staff-devices", "Staff mode: every device's health")
        self.tap(button_posting(self.current(), Pressed("back")))
        self.on("staff_menu", "back to the staff menu")
        self.tap(button_posting(self.current(), Pressed("open", "offline_queue")))
        self.on("staff_offline_queue", "the offline queue", lambda s: s.staff.offline_queue.waiting >= 1)
        self.photo("staff-offline-queue", "Staff mode: the offline return waiting to be sent (by `kiosk sync`)")
        self.tap(button_posting(self.current(), Pressed("back")))
        self.on("staff_menu", "back to the staff menu")
        self.tap(button_posting(self.current(), Pressed("out_of_service")))
        self.on("staff_menu", "switched out of service", lambda s: s.staff.out_of_service)
        self.tap(button_posting(self.current(), Pressed("logout")))
        self.on("out_of_service", "the out-of-service sign", lambda s: s.out_of_service is not None)
        self.photo("out-of-service", "Out of service: why, and where to go instead")
        self.tap(button_posting(self.current(), Pressed("staff")))
        self.on("staff_pin", "the staff PIN asked again")
        self.log_in()
        self.tap(button_posting(self.current(), Pressed("out_of_service")))
        self.on("staff_menu", "back in service", lambda s: not s.staff.out_of_service)
        self.tap(button_posting(self.current(), Pressed("logout")))
        self.on("idle", "the idle screen, in service", lambda s: s.out_of_service is None)

    def _returns_bin(self, world: DemoHardware) -> None:
        self.on("returns_bin", "the returns bin open", lambda s: s.accepting and device(s, "reader") == "ok",
                timeout=READY_SECONDS)
        printed = len(world.receipts())
        world.place(BIN_DROP)  # dropped into the chute, onto its reader
        self.on("returns_bin", "the dropped book checked in and sorted",
                lambda s: s.returns.count("holds") == 1 and not s.returns.in_flight)
        self.fingers_().until("the hold slip printed", lambda: len(world.receipts()) > printed)
        (self.out / "returns-slip.txt").write_text(world.receipts()[-1], encoding="utf-8")
        self.photo("returns-bin", "A returns bin: a dropped book checked in and sorted into the holds bin")

    # -- the patron's and staff's hands -------------------------------------------------------------

    def type_pin(self, pin: str) -> None:
        keys = self.screen("pin").keys
        for digit in pin:
            self.tap(keys[digit])
        self.tap(keys["ok"])

    def log_in(self, *, photo: bool = False) -> None:
        screen = self.current()
        for digit in DEMO_STAFF_PIN:
            self.tap(key(screen, f"digit:{digit}"))
        if photo:
            self.photo("staff-pin", "Staff mode behind a PIN (demo PIN 2468), typed as dots")
        self.tap(key(screen, "ok"))
        self.on("staff_menu", "staff logged in")

    def check_receipt(self, receipt: str) -> None:
        """What a patron takes home: every title that happened, the card masked, no PIN."""
        titles = ["The Hobbit", "The Great Gatsby", "Crime and Punishment", "The Road", "Wolf Hall"]
        missing = [t for t in titles if t not in receipt]
        if missing:
            raise StepFailed(f"the receipt does not name {missing}:\n{receipt}")
        if PATRON.id in receipt or masked(PATRON.id) not in receipt:
            raise StepFailed(f"the receipt does not mask the card number:\n{receipt}")
        if re.search(rf"(?<!\d){PATRON.pin}(?!\d)", receipt):
            raise StepFailed(f"the receipt shows the PIN:\n{receipt}")

    # -- machinery ----------------------------------------------------------------------------------

    @contextmanager
    def _running(self, world: DemoHardware) -> Iterator[DemoHardware]:
        """``world`` started, the demo kiosk on it with its app on the window; all closed after. A step
        that fails is photographed before anything closes."""
        with world:
            kiosk = DemoKiosk(world, demo_settings(world, base=self.base, desktop=False))
            self.kiosk = kiosk
            prepared = False
            try:
                kiosk.start()
                # What App.run does before its loop; the tour's frames are the loop.
                kiosk.app._run_prepare()
                prepared = True
                self.fingers = Fingers(self.describe, timeout=self.step_seconds)
                yield world
            except BaseException:
                if self.fingers is not None and prepared:
                    self.photo("FAILED", "where the tour stopped")
                raise
            finally:
                if prepared:
                    kiosk.app.stop()
                    self.fingers_().frames(1)
                kiosk.close()
                self.kiosk = None

    def kiosk_(self) -> DemoKiosk:
        assert self.kiosk is not None, "no kiosk running"
        return self.kiosk

    def fingers_(self) -> Fingers:
        assert self.fingers is not None, "no window yet"
        return self.fingers

    def describe(self) -> str:
        kiosk = self.kiosk
        if kiosk is None:
            return "nothing"
        app = kiosk.app
        state = kiosk.station.snapshot()
        reason = state.out_of_service.id if state.out_of_service is not None else "no"
        facts = [f"online: {state.online}", f"out of service: {reason}"]
        session = getattr(state, "session", None)
        if session is not None:
            facts += [f"phase: {session.phase.value}", f"card on the pad: {state.card_on_pad}",
                      f"items on the pad: {list(state.pad.item_ids())}",
                      f"rows: {[(r.item_id, r.state.value) for r in session.rows]}"]
            if session.notice is not None:
                facts.append(f"notice: {session.notice.id}")
        facts.append(f"the simulated pad holds {sorted(kiosk.world.on_pad())}")
        return f"the {app.screen_name or 'no'} screen; the station says {', '.join(facts)}"

    def screen(self, name: str) -> Any:
        return self.kiosk_().app.manager.get_screen(name)

    def current(self) -> Any:
        return self.kiosk_().app.manager.current_screen

    def on(self, screen: str, what: str, also: Callable[[Any], bool] | None = None,
           timeout: float | None = None) -> None:
        """Wait until the app shows ``screen`` for a state that satisfies ``also``."""
        app = self.kiosk_().app

        def there() -> bool:
            return app.screen_name == screen and app.state is not None and (also is None or bool(also(app.state)))

        self.fingers_().until(what, there, timeout)

    def tap(self, widget: Any, what: str = "") -> None:
        self.fingers_().tap(widget, what)

    def photo(self, name: str, caption: str) -> None:
        """Photograph the window, the panel's shelf scrolled to what lies on the pad."""
        kiosk = self.kiosk_()
        on_pad = kiosk.world.on_pad()
        lying = [tile for tag, tile in kiosk.panel.tiles.items() if tag in on_pad]
        if lying:
            self.fingers_().scroll_into_view(lying[0])
        file = f"{len(self.photos) + 1:02d}-{name}.png"
        self.fingers_().screenshot(str(self.out / file))
        self.photos.append(Photo(file, caption))
        self.say(f"  {file:<42} {caption}")

    def _write_index(self) -> None:
        lines = [f"{p.file}  {p.caption}" for p in self.photos]
        lines += ["receipt.txt  The patron's receipt, as the printer's paper reads",
                  "returns-slip.txt  The returns bin's hold slip"]
        (self.out / "index.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_tour(out: Path, *, base: Sequence[Layer] | None = None, say: Callable[[str], None] = print,
             step_seconds: float = STEP_SECONDS) -> int:
    """0 when every step happened; 1 with the failed step named (and photographed)."""
    say(f"kiosk demo: no display here, so a scripted session runs offscreen and is photographed into {out}/")
    started = time.monotonic()
    tour = Tour(out, base=base, say=say, step_seconds=step_seconds)
    try:
        tour.run()
    except StepFailed as failed:
        say(f"kiosk demo: FAILED: {failed}")
        say(f"kiosk demo: screenshots so far in {out.resolve()}/")
        return 1
    say(f"kiosk demo: {len(tour.photos)} screens and the receipt in {out.resolve()}/ "
        f"({time.monotonic() - started:.0f} s)")
    return 0
