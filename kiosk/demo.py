"""``kiosk demo``: a scripted patron session against the simulated ILS and a simulated RFID pad.

A stand-in until the touch-screen UI exists (the README's run command). It is demo wiring, the one
place ``kiosk/`` may import ``hardware_mocks/``: it starts the simulated ILS on loopback and a
simulated FEIG stack reader on a pty with a :class:`~hardware_mocks.pad.VirtualPad` on it, then runs
the production parts on them: the SIP2 client with the kiosk's own embedded settings, the FEIG
driver, the tag watcher and the security writes. The script only puts tags on the pad; what the
kiosk acts on is what the watcher reports. The decisions and wording here (refuse an incomplete
set, what the patron is told) are placeholder demo logic in the small functions below, until the
circulation core owns them.
"""

from __future__ import annotations

import argparse
import dataclasses
import queue
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from kiosk.config import ConfigError, Settings, load_settings
from kiosk.hardware.rfid.readers.base import ReaderError, TagReader
from kiosk.hardware.rfid.readers.feig import FeigReader
from kiosk.hardware.rfid.readers.shared import SharedReader
from kiosk.hardware.rfid.security import SecurityReading, SecurityScheme, SecurityState, set_security
from kiosk.hardware.rfid.watcher import SetStatus, Stack, StackItem, StackStable, TagWatcher
from kiosk.ils.connection import client_config
from sip2.client import SIP2Client
from sip2.errors import SIP2Error
from sip2.fields import AlertType, Summary, decode_date

if TYPE_CHECKING:
    from hardware_mocks.ils import IlsSimulator
    from hardware_mocks.pad import VirtualPad

WIDTH = 64
#: How long the demo waits for the watcher to report what the script put on the pad.
PAD_TIMEOUT = 5.0


def _due(text: str) -> str:
    """A due date as a patron reads it; servers send SIP2 dates or free text."""
    try:
        when = decode_date(text)
    except ValueError:
        return text
    return when.strftime("%a %d %b %Y") if when else "-"


def _mask(patron_id: str) -> str:
    return "*" * max(0, len(patron_id) - 4) + patron_id[-4:]


def _short(title: str, width: int = 30) -> str:
    """A title cut to one column of a result row, visibly cut."""
    return f"{title[: width - 1]}…" if len(title) > width else f"{title:<{width}}"


class Screen:
    """Prints boxed "screens" so the terminal shows what the kiosk's display would."""

    def __init__(self, pace: float, out=None) -> None:
        self.pace = pace
        self.out = out or sys.stdout  # looked up now, not at import: a redirected stdout counts

    def show(self, title: str, *lines: str) -> None:
        bar = "─" * (WIDTH - 2)
        self.out.write(f"┌{bar}┐\n│ {title:<{WIDTH - 4}} │\n├{bar}┤\n")
        for line in lines or ("",):
            for part in textwrap.wrap(line, WIDTH - 4, subsequent_indent="    ") or [""]:
                self.out.write(f"│ {part:<{WIDTH - 4}} │\n")
        self.out.write(f"└{bar}┘\n")
        self.out.flush()
        if self.pace:
            time.sleep(self.pace)

    def note(self, text: str, *more: str) -> None:
        """What happens off screen (the patron's hands, the simulator's view), in parentheses."""
        self.out.write(f"  ({text}" + "".join(f"\n   {line}" for line in more) + ")\n")


SORT_WORDS = {
    AlertType.HOLD_HERE.value: "someone is waiting for it here: it goes to the hold shelf",
    AlertType.HOLD_OTHER_BRANCH.value: "a reader at another branch is waiting for it",
    AlertType.TRANSIT.value: "it travels back to its home branch",
}


# -- placeholder circulation decisions (the circulation core will own these) ---------------------------------


@dataclass(frozen=True, slots=True)
class PadEntry:
    """One barcode on the pad: its tags (one per part) and, for a multi-part item, which parts are there."""

    item_id: str
    tags: tuple[StackItem, ...]
    set_status: SetStatus | None = None


def entries_on_pad(stack: Stack) -> list[PadEntry]:
    """The stack's readable items grouped by barcode, in barcode order (a stable order for the screen)."""
    grouped: dict[str, list[StackItem]] = {}
    for item in stack.items:
        if item.readable:
            grouped.setdefault(item.tag.item_id, []).append(item)
    sets = {s.item_id: s for s in stack.sets}
    return [PadEntry(item_id, tuple(tags), sets.get(item_id)) for item_id, tags in sorted(grouped.items())]


def incomplete_set_message(entry: PadEntry) -> str | None:
    """Why a multi-part item may not go out as placed, or None: every part must be on the pad."""
    status = entry.set_status
    if status is None or (status.complete and not status.duplicates):
        return None
    if status.duplicates:
        return "Two tags claim the same part: please take this item to the desk."
    missing = " and ".join(str(n) for n in status.missing)
    part = "Part" if len(status.missing) == 1 else "Parts"
    verb = "is" if len(status.missing) == 1 else "are"
    return f"{part} {missing} of {status.parts_in_set} {verb} missing: put all {status.parts_in_set} parts on the pad."


UNREADABLE_MESSAGE = "A tag on the pad could not be read: please take that item to the desk."


# -- the devices ---------------------------------------------------------------------------------------------


class PadTimeout(Exception):
    """The watcher did not report the pad's contents in time (reader lost, or a tag unreadable)."""


@contextmanager
def _simulated_ils(settings: Settings) -> Iterator[IlsSimulator]:
    from hardware_mocks.ils import IlsSimulator  # demo wiring only

    accounts = {settings.sip2.username: settings.sip2.password} if settings.sip2.username else None
    sim = IlsSimulator(host="127.0.0.1", port=0, encoding=settings.sip2.encoding, accounts=accounts)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@dataclass
class DemoDevices:
    """Everything the demo runs against: the simulated ILS and pad, and the kiosk's own parts on them."""

    ils: IlsSimulator
    pad: VirtualPad
    reader: TagReader
    watcher: TagWatcher
    scheme: SecurityScheme


@contextmanager
def simulated_kiosk(settings: Settings, scheme: SecurityScheme | None = None) -> Iterator[DemoDevices]:
    """The simulated ILS and FEIG pad, with the production FEIG driver and tag watcher on the pad's pty."""
    from hardware_mocks.pad import VirtualPad  # demo wiring only

    scheme = scheme or SecurityScheme()
    with _simulated_ils(settings) as ils, VirtualPad(scheme=scheme) as pad:
        reader = SharedReader(FeigReader(pad.path))
        with TagWatcher(reader) as watcher:
            yield DemoDevices(ils, pad, reader, watcher, scheme)


def wait_for_stack(watcher: TagWatcher, wanted: Callable[[Stack], bool], timeout: float = PAD_TIMEOUT) -> Stack:
    """The first stable stack the watcher reports that ``wanted`` accepts (earlier ones are passed by)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = watcher.events.get(timeout=left)
        except queue.Empty:
            break
        if isinstance(event, StackStable) and wanted(event.stack):
            return event.stack
    raise PadTimeout(f"the pad did not settle within {timeout:.1f} s")


def _turn_security_off(devices: DemoDevices, entry: PadEntry) -> tuple[bool, str]:
    """After an ILS-confirmed checkout: every part's tag to "on loan", each verified by read-back."""
    readings: list[SecurityReading] = []
    for item in entry.tags:
        try:
            readings.append(set_security(devices.reader, item.uid, SecurityState.ON_LOAN, devices.scheme))
        except ReaderError:
            return False, "security is still on: put it back on the pad, or ask at the desk"
    parts = f"{len(readings)} parts, " if len(readings) > 1 else ""
    return True, f"security off ✓ ({parts}{readings[0]})"


# -- the script ----------------------------------------------------------------------------------------------


def play(settings: Settings, devices: DemoDevices, screen: Screen) -> int:
    from hardware_mocks.ils import scenarios as S  # demo wiring only: the sample library's ids

    address, pad, watcher = devices.ils.address, devices.pad, devices.watcher
    here = dataclasses.replace(settings.sip2, host=address[0], port=address[1])
    config = client_config(dataclasses.replace(settings, sip2=here))
    with SIP2Client(config) as client:
        screen.note(
            f"connected to the simulated ILS at {address[0]}:{address[1]}, SIP2 login accepted;",
            f"simulated FEIG reader on {pad.path}, tag watcher running",
        )
        name = settings.site.name
        screen.show(name, "Welcome! Place your library card on the pad to begin.", "",
                    "[English]  [Deutsch]  [Español]")

        pad.place_patron_card(S.PATRON_VALID.id)
        card = wait_for_stack(watcher, lambda s: bool(s.patron_cards)).patron_cards[0]
        patron, pin = card.tag.item_id, S.PATRON_VALID.pin
        screen.note(f"card {_mask(patron)} read from the pad, PIN entered: {'•' * len(pin)}")
        info = client.patron_information(patron, pin=pin, summary=Summary.CHARGED_ITEMS)
        if not info.valid_patron or info.valid_patron_password is False:
            screen.show(name, "Sorry, we could not check your card or PIN.", *info.screen_messages)
            return 1
        screen.show(
            f"Hello, {info.personal_name}",
            f"Items on loan: {info.charged_items_count}",
            f"Holds ready for pickup: {info.hold_items_count}",
            f"Fines: {info.fee_amount or '0.00'} {info.currency_type or ''}".rstrip(),
            "",
            "Place the items you want to borrow on the pad.",
            "[Check out]  [Return]  [Renew]  [My loans]  [Finish]",
        )

        pad.remove(patron)
        pad.place_item(S.ITEM_AVAILABLE)
        pad.place_set(S.ITEM_DVD_SET)
        pad.place_item(S.ITEM_ON_HOLD_FOR_OTHER)
        pad.place_set(S.ITEM_AUDIOBOOK_SET, present=(1, 3))  # disc 2 left at home
        on_pad = {t.uid for t in pad.tags_on_pad()}
        stack = wait_for_stack(watcher, lambda s: s.uids == on_pad)
        entries = entries_on_pad(stack)
        screen.note(f"card taken back; {len(stack.items)} tags placed on the pad, "
                    f"the watcher reports {len(entries)} items")

        rows: list[str] = []
        receipt: list[str] = []
        if stack.unreadable:
            rows += [f"✗ {UNREADABLE_MESSAGE}", ""]
        for entry in entries:
            refusal = incomplete_set_message(entry)
            if refusal is not None:
                title = client.item_information(entry.item_id).title or entry.item_id
                rows += [f"✗ {_short(title)} not checked out", f"    {refusal}", "    security stays on", ""]
                continue
            out = client.checkout(patron, entry.item_id, pin=pin)
            if not out.ok:
                reason = "; ".join(out.screen_messages) or "please ask at the desk"
                rows += [f"✗ {_short(out.title or entry.item_id)} not checked out", f"    {reason}",
                         "    security stays on", ""]
                continue
            secured, security = _turn_security_off(devices, entry)
            mark = "✓" if secured else "!"  # on loan in the ILS either way; "!" = the gate would still alarm
            rows += [f"{mark} {_short(out.title)} due {_due(out.due_date)}", f"    {security}", ""]
            receipt.append(f"{out.title} - due {_due(out.due_date)}")
        screen.show("Check out", *rows[:-1])
        screen.note("the simulated tags now:", *(str(tag) for tag in pad.tags_on_pad()))

        renewal = client.renew(patron, S.ITEM_RENEWABLE, pin=pin)
        if renewal.ok:
            screen.show("Renew", f"✓ {renewal.title[:40]}", f"  renewed until {_due(renewal.due_date)}")
            receipt.append(f"{renewal.title} - renewed until {_due(renewal.due_date)}")
        else:
            screen.show("Renew", f"✗ {renewal.title or S.ITEM_RENEWABLE}", *renewal.screen_messages)

        screen.note(f"item {S.ITEM_HOLD_HERE} dropped in the return slot")
        back = client.checkin(S.ITEM_HOLD_HERE)
        if back.ok:
            sort = SORT_WORDS.get(back.alert_type or "", "it goes back on the shelf")
            screen.show("Return", f"✓ {back.title or S.ITEM_HOLD_HERE} returned, thank you.",
                        f"  ({sort}; sort bin {back.sort_bin or '-'})")
            receipt.append(f"{back.title} - returned")
        else:
            screen.show("Return", "This item could not be returned here.", *back.screen_messages)

        client.end_patron_session(patron, pin=pin)
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
        screen.show(
            "Receipt (printed)",
            name,
            stamp,
            f"Card {_mask(patron)}",
            *receipt,
            "",
            "Thank you - see you soon!",
        )
        screen.show(name, "Welcome! Place your library card on the pad to begin.")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config_dir, args.secrets)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 2
    screen = Screen(args.pace)
    try:
        with simulated_kiosk(settings) as devices:
            return play(settings, devices, screen)
    except SIP2Error as exc:
        print(f"kiosk demo: {exc}", file=sys.stderr)
        return 3
    except (PadTimeout, ReaderError) as exc:
        print(f"kiosk demo: RFID pad: {exc}", file=sys.stderr)
        return 4
