"""Device reports turned into core events: the tag watcher's stable stacks and the barcode scanner.

The watcher and the scanner each call back on their own thread; these functions are pure
conversions, and the ``*_feed`` helpers bind them to a runner's thread-safe ``submit``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kiosk.circulation.events import CardPresented, Event, ItemDropped, ItemScanned, PadChanged, WrongBarcode
from kiosk.circulation.model import IncompleteSet, Pad, PadItem
from kiosk.hardware.barcode.classify import (
    CHECK_FAILED,
    DEFAULT_RULES,
    NOT_LIBRARY_BARCODE,
    BarcodeKind,
    ClassificationRules,
    classify,
)
from kiosk.hardware.barcode.events import Scan, ScannerEvent, UnreadableScan
from kiosk.hardware.rfid.models import usage_name
from kiosk.hardware.rfid.watcher import ReaderLost, Stack, StackStable, WatcherEvent

log = logging.getLogger(__name__)

Submit = Callable[[Event], object]


def pad_from_stack(stack: Stack) -> Pad:
    """The watcher's stack as the core's :class:`Pad`.

    A tag counts as an item only when decoded with an item id; blank, foreign or failed tags are
    ``unreadable`` (the patron is asked to use the scanner). Set information is kept only for real
    sets (more than one part), as the watcher groups them. A patron card's id is its ISO 28560
    item id (type of usage 8), or for an ISO 14443 card the ``patron_id`` its UID was written as.
    An item's type of usage goes along by name (``PadItem.usage``): the offline policy refuses what
    a tag says is not for loan, and the core must not need the tag models to read it.
    """
    items: list[PadItem] = []
    unreadable: list[bytes] = []
    for entry in stack.items:
        tag = entry.tag
        item_id = getattr(tag, "item_id", None) if entry.readable else None
        if not item_id:
            unreadable.append(entry.uid)
            continue
        parts = getattr(tag, "parts_in_set", None)
        is_set = parts is not None and parts > 1
        items.append(
            PadItem(
                uid=entry.uid,
                item_id=item_id,
                parts_in_set=parts if is_set else None,
                part_number=getattr(tag, "part_number", None) if is_set else None,
                usage=usage_name(getattr(tag, "usage_type", None)),
            )
        )
    cards = tuple(card_id for card in stack.patron_cards if (card_id := _patron_id(card.tag)))
    incomplete = tuple(IncompleteSet(s.item_id, s.parts_in_set, s.missing) for s in stack.incomplete_sets)
    return Pad(
        items=tuple(items), patron_cards=cards, unreadable=tuple(unreadable), incomplete_sets=incomplete
    )


def _patron_id(tag: object) -> str | None:
    return getattr(tag, "patron_id", None) or getattr(tag, "item_id", None)


def event_for_watcher(event: WatcherEvent) -> Event | None:
    """A stable stack is the pad the core acts on; a lost reader is an empty pad (nothing on it
    can be trusted until the reader is back and reports a stable stack again)."""
    if isinstance(event, StackStable):
        return PadChanged(pad_from_stack(event.stack))
    if isinstance(event, ReaderLost):
        log.warning("RFID reader lost: %s", event.reason)
        return PadChanged(Pad())
    return None


def event_for_scan(event: ScannerEvent, rules: ClassificationRules = DEFAULT_RULES) -> Event | None:
    """Patron card → CardPresented, library item → ItemScanned, anything else → WrongBarcode with
    the classifier's hint; a scan the scanner could not deliver asks for another try."""
    if isinstance(event, Scan):
        result = classify(event.text, rules, event.symbology)
        if result.kind is BarcodeKind.PATRON and result.identifier:
            return CardPresented(result.identifier, source="barcode")
        if result.kind is BarcodeKind.ITEM and result.identifier:
            return ItemScanned(result.identifier)
        return WrongBarcode((result.message or NOT_LIBRARY_BARCODE).id)
    if isinstance(event, UnreadableScan):
        return WrongBarcode(CHECK_FAILED.id)
    log.warning("barcode scanner: %s", event)  # ScannerUnavailable: staff's problem, not the patron's
    return None


def watcher_feed(submit: Submit) -> Callable[[WatcherEvent], None]:
    """An ``on_event`` for :class:`~kiosk.hardware.rfid.watcher.TagWatcher` that feeds ``submit``."""

    def feed(event: WatcherEvent) -> None:
        converted = event_for_watcher(event)
        if converted is not None:
            submit(converted)

    return feed


def scanner_feed(
    submit: Submit, rules: ClassificationRules = DEFAULT_RULES
) -> Callable[[ScannerEvent], None]:
    """An ``on_event`` for a :class:`~kiosk.hardware.barcode.Scanner` that feeds ``submit``."""

    def feed(event: ScannerEvent) -> None:
        converted = event_for_scan(event, rules)
        if converted is not None:
            submit(converted)

    return feed


class ChuteFeed:
    """The returns bin's reader: every item whose tag enters the chute's field is one drop.

    An ``on_event`` for the chute reader's :class:`~kiosk.hardware.rfid.watcher.TagWatcher`. Each
    stable stack is compared with the one before; the tags that are new make one
    :class:`ItemDropped` per item (the parts of a set that fell together are one drop), and every
    new tag that is not a readable item is a drop of its own with no item id (the exceptions bin).
    Drops are numbered ``drop-1``, ``drop-2``... in the order the watcher reported them.

    A drop-slot light barrier (issue 6) will say *when* an item passed; until it exists the
    reader's field is the only sensor, which is enough for a chute where items rest on the
    antenna until the diverter lets them through.
    """

    def __init__(self, submit: Submit) -> None:
        self._submit = submit
        self._cond = threading.Condition()
        self._present: frozenset[bytes] = frozenset()
        self._drops = 0

    @property
    def present(self) -> frozenset[bytes]:
        """The tags in the chute at the last stable stack."""
        with self._cond:
            return self._present

    def wait_until(self, predicate: Callable[[frozenset[bytes]], bool], timeout: float) -> bool:
        """Block until the tags in the chute satisfy ``predicate`` (for staff tools and tests)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self._present):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def __call__(self, event: WatcherEvent) -> None:
        if isinstance(event, ReaderLost):
            log.warning("returns chute reader lost: %s", event.reason)
            return  # what is in the chute is unknown until it is back; nothing new was seen
        if not isinstance(event, StackStable):
            return
        stack = event.stack
        with self._cond:
            new = stack.uids - self._present
            self._present = stack.uids
            drops: list[ItemDropped] = []
            grouped: dict[str, list[bytes]] = {}
            for entry in (*stack.items, *stack.patron_cards):
                if entry.uid not in new:
                    continue
                item_id = getattr(entry.tag, "item_id", None) if entry.readable else None
                if item_id and entry in stack.items:
                    grouped.setdefault(item_id, []).append(entry.uid)
                else:
                    self._drops += 1
                    drops.append(ItemDropped(f"drop-{self._drops}", "", (entry.uid,)))
            for item_id, uids in grouped.items():
                self._drops += 1
                drops.append(ItemDropped(f"drop-{self._drops}", item_id, tuple(uids)))
            self._cond.notify_all()
        for drop in drops:
            self._submit(drop)
