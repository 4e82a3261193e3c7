"""``kiosk demo``: a scripted patron session against the simulated ILS, shown as the patron sees it.

A stand-in until the touch-screen UI exists (the README's run command). It is demo wiring, the
one place ``kiosk/`` may import ``hardware_mocks/``: it starts the simulated ILS on loopback,
then drives the real SIP2 client with the kiosk's own embedded settings. The wording here is
placeholder text; the circulation core will own what patrons are told.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from kiosk.config import ConfigError, Settings, load_settings
from kiosk.ils.connection import client_config
from sip2.client import SIP2Client
from sip2.errors import SIP2Error
from sip2.fields import AlertType, Summary, decode_date

WIDTH = 64


def _due(text: str) -> str:
    """A due date as a patron reads it; servers send SIP2 dates or free text."""
    try:
        when = decode_date(text)
    except ValueError:
        return text
    return when.strftime("%a %d %b %Y") if when else "-"


def _mask(patron_id: str) -> str:
    return "*" * max(0, len(patron_id) - 4) + patron_id[-4:]


class Screen:
    """Prints boxed "screens" so the terminal shows what the kiosk's display would."""

    def __init__(self, pace: float, out=sys.stdout) -> None:
        self.pace = pace
        self.out = out

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

    def note(self, text: str) -> None:
        self.out.write(f"  ({text})\n")


SORT_WORDS = {
    AlertType.HOLD_HERE.value: "someone is waiting for it here: it goes to the hold shelf",
    AlertType.HOLD_OTHER_BRANCH.value: "a reader at another branch is waiting for it",
    AlertType.TRANSIT.value: "it travels back to its home branch",
}


@contextmanager
def _simulated_ils(settings: Settings) -> Iterator[tuple[str, int]]:
    from hardware_mocks.ils import IlsSimulator  # demo wiring only

    accounts = {settings.sip2.username: settings.sip2.password} if settings.sip2.username else None
    sim = IlsSimulator(host="127.0.0.1", port=0, encoding=settings.sip2.encoding, accounts=accounts)
    sim.start()
    try:
        yield sim.address
    finally:
        sim.stop()


def play(settings: Settings, address: tuple[str, int], screen: Screen) -> int:
    from hardware_mocks.ils import scenarios as S  # demo wiring only: the sample library's ids

    here = dataclasses.replace(settings.sip2, host=address[0], port=address[1])
    config = client_config(dataclasses.replace(settings, sip2=here))
    patron, pin = S.PATRON_VALID.id, S.PATRON_VALID.pin
    with SIP2Client(config) as client:
        screen.note(f"connected to the simulated ILS at {address[0]}:{address[1]}, SIP2 login accepted")
        name = settings.site.name
        screen.show(name, "Welcome! Scan your library card to begin.", "", "[English]  [Deutsch]  [Español]")
        screen.note(f"card {_mask(patron)} scanned, PIN entered: {'•' * len(pin)}")
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
            "[Check out]  [Return]  [Renew]  [My loans]  [Finish]",
        )

        rows: list[str] = []
        receipt: list[str] = []
        for item in (S.ITEM_AVAILABLE, S.ITEM_DVD, S.ITEM_ON_HOLD_FOR_OTHER):
            screen.note(f"item {item} placed on the pad")
            out = client.checkout(patron, item, pin=pin)
            if out.ok:
                rows.append(f"✓ {out.title[:30]:<30} due {_due(out.due_date)}")
                receipt.append(f"{out.title} - due {_due(out.due_date)}")
            else:
                reason = "; ".join(out.screen_messages) or "please ask at the desk"
                rows.append(f"✗ {(out.title or item)[:30]:<30} not checked out")
                rows.append(f"    {reason}")
        screen.show("Check out", *rows)

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
        screen.show(name, "Welcome! Scan your library card to begin.")
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
        with _simulated_ils(settings) as address:
            return play(settings, address, screen)
    except SIP2Error as exc:
        print(f"kiosk demo: {exc}", file=sys.stderr)
        return 3
