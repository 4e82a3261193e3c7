"""Watches a reader's field and tells the kiosk what is on the pad, as events.

Two layers, so the decisions are testable with a fake clock and no threads:

* :class:`StackTracker` is pure: fed poll results, read outcomes and a time, it returns events. It
  debounces departures (stacked tags drop out of single inventory rounds all the time: detuning,
  collisions), remembers each tag's decoded data by UID so a tag is read once, groups multi-part sets,
  and declares the stack *stable* only after it stopped changing for the settle time and every tag on
  it was read — the moment the kiosk may act on it. An ISO 14443 card (a PC/SC pad reports its kind)
  holds no library data and is never read: its UID names a patron card, as the site's settings
  say (:mod:`.patron_card_uid`), or it is unreadable at once.
* :class:`TagWatcher` is the imperative shell: a thread that polls a :class:`TagReader`, reads new tags,
  feeds the tracker, delivers its events, and reopens a lost reader without a restart.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiosk.hardware.rfid.patron_card_uid import ISO14443_TAG_TYPES, CardUidError, PatronCardIds
from kiosk.hardware.rfid.readers.base import ReaderError, ReaderUnavailable, TagInfo, TagReader

if TYPE_CHECKING:
    from kiosk.hardware.rfid.models import TagData, UnreadableTag
    from kiosk.hardware.rfid.patron_card_uid import UidPatronCard

    Decoded = TagData | UnreadableTag | UidPatronCard
else:
    Decoded = Any

Decoder = Callable[[bytes, "int | None"], Any]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WatcherSettings:
    """Timing of the watcher, and what an ISO 14443 card on the pad is (``patron_cards``).
    A departure needs *both* enough missed polls and enough time."""

    poll_interval: float = 0.05
    depart_polls: int = 3
    depart_after: float = 0.15
    settle_time: float = 0.1
    read_attempts: int = 3
    reopen_interval: float = 1.0
    cache_size: int = 4096
    patron_cards: PatronCardIds = field(default_factory=PatronCardIds)


# -- what is on the pad -----------------------------------------------------------------------------


def _is_item(tag: object) -> bool:
    """TagData carries an item id; UnreadableTag (or nothing read yet) does not."""
    return getattr(tag, "item_id", None) is not None


@dataclass(frozen=True, slots=True)
class StackItem:
    """One tag on the pad: its decoded data once read, else ``None`` (still reading, or ``error``)."""

    uid: bytes
    tag: Decoded | None = None
    error: str | None = None

    @property
    def uid_hex(self) -> str:
        return self.uid.hex().upper()

    @property
    def readable(self) -> bool:
        return _is_item(self.tag)


@dataclass(frozen=True, slots=True)
class SetStatus:
    """Which parts of one multi-part item are on the pad (a set must usually leave complete)."""

    item_id: str
    owner_library: object
    parts_in_set: int
    present: tuple[int, ...]
    missing: tuple[int, ...]
    duplicates: tuple[int, ...] = ()  # part numbers seen on more than one tag: a labelling error

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True, slots=True)
class Stack:
    """The pad's contents, items sorted by UID so equal stacks compare equal."""

    items: tuple[StackItem, ...] = ()
    patron_cards: tuple[StackItem, ...] = ()
    sets: tuple[SetStatus, ...] = ()

    @property
    def uids(self) -> frozenset[bytes]:
        return frozenset(i.uid for i in self.items + self.patron_cards)

    @property
    def unreadable(self) -> tuple[StackItem, ...]:
        return tuple(i for i in self.items if not i.readable)

    @property
    def incomplete_sets(self) -> tuple[SetStatus, ...]:
        return tuple(s for s in self.sets if not s.complete)


def group_sets(items: Iterable[StackItem]) -> tuple[SetStatus, ...]:
    """Multi-part items (parts_in_set > 1) grouped by owner library and item id."""
    parts: dict[tuple[object, str], tuple[int, list[int | None]]] = {}
    for item in items:
        tag = item.tag
        if not _is_item(tag):
            continue
        total = getattr(tag, "parts_in_set", None)
        if not total or total <= 1:
            continue
        key = (getattr(tag, "owner_library", None), tag.item_id)
        known_total, numbers = parts.setdefault(key, (total, []))
        parts[key] = (max(known_total, total), numbers)
        numbers.append(getattr(tag, "part_number", None))
    result = []
    for (owner, item_id), (total, numbers) in sorted(parts.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        seen = [n for n in numbers if n is not None]
        present = tuple(sorted(set(seen)))
        duplicates = tuple(sorted({n for n in seen if seen.count(n) > 1}))
        missing = tuple(n for n in range(1, total + 1) if n not in present)
        result.append(SetStatus(item_id, owner, total, present, missing, duplicates))
    return tuple(result)


# -- events -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagArrived:
    uid: bytes
    dsfid: int | None
    at: float


@dataclass(frozen=True, slots=True)
class TagDeparted:
    uid: bytes
    at: float


@dataclass(frozen=True, slots=True)
class TagRead:
    uid: bytes
    tag: Decoded
    at: float


@dataclass(frozen=True, slots=True)
class TagReadFailed:
    """Reading a new tag failed; ``final`` once the attempts are used up (the item shows as unreadable)."""

    uid: bytes
    error: str
    final: bool
    at: float


@dataclass(frozen=True, slots=True)
class StackChanged:
    """The set of tags changed (sent at once, e.g. to show "reading..."); do not act on it yet."""

    stack: Stack
    at: float


@dataclass(frozen=True, slots=True)
class StackStable:
    """Unchanged for the settle time and fully read: the stack to act on. Sent once per change."""

    stack: Stack
    at: float


@dataclass(frozen=True, slots=True)
class ReaderLost:
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class ReaderRestored:
    at: float


WatcherEvent = (
    TagArrived | TagDeparted | TagRead | TagReadFailed | StackChanged | StackStable | ReaderLost | ReaderRestored
)


# -- the pure decision logic ------------------------------------------------------------------------


@dataclass(slots=True)
class _Presence:
    dsfid: int | None
    last_seen: float
    misses: int = 0
    tag_type: str = "iso15693"

    @property
    def iso14443(self) -> bool:
        return self.tag_type in ISO14443_TAG_TYPES


@dataclass(slots=True)
class _Failure:
    attempts: int = 0
    error: str = ""


@dataclass
class StackTracker:
    """Given inventories, read outcomes and times, decides which events happened. No I/O, no clock."""

    settings: WatcherSettings = field(default_factory=WatcherSettings)

    def __post_init__(self) -> None:
        self._present: dict[bytes, _Presence] = {}
        self._cache: OrderedDict[bytes, Decoded] = OrderedDict()
        self._failures: dict[bytes, _Failure] = {}
        self._rereading: dict[bytes, Decoded | None] = {}  # forgotten tags on the pad: uid -> what they held
        self._last_change: float | None = None
        self._stable_sent = False
        self.reader_ok = True

    # inputs

    def poll(self, now: float, tags: Iterable[TagInfo]) -> list[WatcherEvent]:
        """One inventory result."""
        seen = {t.uid: t for t in tags}
        events: list[WatcherEvent] = []
        changed = self._last_change is None  # the first poll establishes the pad's initial state
        for uid, info in seen.items():
            presence = self._present.get(uid)
            if presence is None:
                self._present[uid] = _Presence(info.dsfid, now, tag_type=info.tag_type)
                events.append(TagArrived(uid, info.dsfid, now))
                changed = True
            else:
                presence.last_seen = now
                presence.misses = 0
        s = self.settings
        for uid in [u for u in self._present if u not in seen]:
            presence = self._present[uid]
            presence.misses += 1
            if presence.misses >= s.depart_polls and now - presence.last_seen >= s.depart_after:
                del self._present[uid]
                self._failures.pop(uid, None)  # a returning tag gets fresh read attempts
                self._rereading.pop(uid, None)
                events.append(TagDeparted(uid, now))
                changed = True
        events += self._identify_cards(now)
        if changed:
            self._last_change = now
            self._stable_sent = False
            events.append(StackChanged(self.stack(), now))
        events += self.tick(now)
        return events

    def read_succeeded(self, now: float, uid: bytes, tag: Decoded) -> list[WatcherEvent]:
        return [*self._record(now, uid, tag), *self.tick(now)]

    def _record(self, now: float, uid: bytes, tag: Decoded) -> list[WatcherEvent]:
        self._cache[uid] = tag
        self._cache.move_to_end(uid)
        while len(self._cache) > self.settings.cache_size:
            self._cache.popitem(last=False)
        self._failures.pop(uid, None)
        return [TagRead(uid, tag, now), *self._reread(now, uid, tag)]

    def _identify_cards(self, now: float) -> list[WatcherEvent]:
        """ISO 14443 cards on the pad not yet named: named from their UID, or unreadable at once.

        Nothing is read from such a card (it holds no library data), so this happens in the poll
        that saw it: the stack reported changed already lists it as a patron card. The error text
        never holds the UID, which may be a patron's card number.
        """
        events: list[WatcherEvent] = []
        for uid, presence in self._present.items():
            if not presence.iso14443 or uid in self._cache or uid in self._failures:
                continue
            try:
                card = self.settings.patron_cards.card(uid, presence.tag_type)
            except CardUidError as exc:
                error = f"{presence.tag_type} card, not a library tag: {exc}"
                self._failures[uid] = _Failure(self.settings.read_attempts, error)
                events += [TagReadFailed(uid, error, True, now), *self._reread(now, uid, None)]
                continue
            events += self._record(now, uid, card)
        return events

    def read_failed(self, now: float, uid: bytes, error: str) -> list[WatcherEvent]:
        failure = self._failures.setdefault(uid, _Failure())
        failure.attempts += 1
        failure.error = error
        final = failure.attempts >= self.settings.read_attempts
        changed = self._reread(now, uid, None) if final else []
        return [TagReadFailed(uid, error, final, now), *changed, *self.tick(now)]

    def _reread(self, now: float, uid: bytes, tag: Decoded | None) -> list[WatcherEvent]:
        """A forgotten tag read again: if it holds something else now, the stack changed (and
        becomes stable anew after the settle time), though no tag came or went."""
        if uid not in self._rereading:
            return []
        if self._rereading.pop(uid) == tag:
            return []
        self._last_change = now
        self._stable_sent = False
        return [StackChanged(self.stack(), now)]

    def reader_lost(self, now: float, reason: str) -> list[WatcherEvent]:
        if not self.reader_ok:
            return []
        self.reader_ok = False
        return [ReaderLost(reason, now)]

    def reader_restored(self, now: float) -> list[WatcherEvent]:
        if self.reader_ok:
            return []
        self.reader_ok = True
        # What is on the pad now is unknown until polls confirm it: no stable stack before that.
        self._last_change = now
        self._stable_sent = False
        return [ReaderRestored(now)]

    def forget(self, uid: bytes) -> None:
        """Drop a cached decode (after the kiosk rewrote the tag's data). A tag still on the pad is
        read again with fresh attempts, and if it now holds something else the stack is reported
        changed and, after the settle time, stable again: the pad shows what the tag holds now.
        An ISO 14443 card on the pad is kept: it is named by its UID, which no write changes."""
        presence = self._present.get(uid)
        if presence is not None and presence.iso14443:
            return
        old = self._cache.pop(uid, None)
        self._failures.pop(uid, None)
        if uid in self._present:
            self._rereading[uid] = old

    def tick(self, now: float) -> list[WatcherEvent]:
        """Time passing alone can make a stack stable."""
        deadline = self.stable_deadline()
        if deadline is not None and now >= deadline:
            self._stable_sent = True
            return [StackStable(self.stack(), now)]
        return []

    def stable_deadline(self) -> float | None:
        """When the stack becomes stable if nothing changes; ``None`` if waiting on reads or done.

        Lets the poll thread wake exactly at the end of the settle time instead of at the next poll,
        which would add up to a poll interval to every checkout.
        """
        if self.reader_ok and not self._stable_sent and self._last_change is not None and not self.pending_reads():
            return self._last_change + self.settings.settle_time
        return None

    # outputs

    def pending_reads(self) -> list[tuple[bytes, int | None]]:
        """Tags on the pad still to be read: (uid, dsfid) in arrival order."""
        limit = self.settings.read_attempts
        return [
            (uid, p.dsfid)
            for uid, p in self._present.items()
            if not p.iso14443
            and uid not in self._cache
            and (uid not in self._failures or self._failures[uid].attempts < limit)
        ]

    def stack(self) -> Stack:
        items, cards = [], []
        for uid in sorted(self._present):
            tag = self._cache.get(uid)
            failure = self._failures.get(uid)
            item = StackItem(uid, tag, failure.error if failure and tag is None else None)
            (cards if getattr(tag, "is_patron_card", False) else items).append(item)
        return Stack(tuple(items), tuple(cards), group_sets(items))


# -- the thread -------------------------------------------------------------------------------------


def _default_decoder() -> Decoder:
    # Imported late: the models package is optional for readers and may not be importable in a bare test.
    from kiosk.hardware.rfid.models import decode_tag

    return decode_tag


class TagWatcher:
    """Polls ``reader`` on a thread and delivers :class:`StackTracker` events.

    Events go to ``on_event`` (called on the watcher thread) or, without one, to :attr:`events`, a
    queue the kiosk's runner drains. The watcher opens the reader itself and, when it is lost,
    closes it and retries :meth:`TagReader.open` every ``reopen_interval``.
    """

    def __init__(
        self,
        reader: TagReader,
        *,
        settings: WatcherSettings | None = None,
        decode: Decoder | None = None,
        on_event: Callable[[WatcherEvent], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self.settings = settings or WatcherSettings()
        self.tracker = StackTracker(self.settings)
        self._decode = decode
        self.events: queue.Queue[WatcherEvent] = queue.Queue()
        self._on_event = on_event or self.events.put
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_reopen = 0.0
        self._opened = False
        self._forgotten: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def start(self) -> TagWatcher:
        if self._thread is not None:
            raise RuntimeError("watcher already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"tag-watcher[{self.reader.name}]", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.reader.close()
        self._opened = False

    def __enter__(self) -> TagWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _emit(self, events: Iterable[WatcherEvent]) -> None:
        for event in events:
            try:
                self._on_event(event)
            except Exception:
                # The type only: a stack holds patron cards, whose ids stay out of the log.
                log.exception("event handler failed on %s", type(event).__name__)

    def _run(self) -> None:
        interval = self.settings.poll_interval
        while not self._stop.is_set():
            next_poll = self._clock() + interval
            self.run_once()
            deadline = self.tracker.stable_deadline()
            if deadline is not None and deadline < next_poll:
                # the 1 ms margin absorbs float rounding in Event.wait so tick() sees the deadline passed
                if self._stop.wait(max(0.0, deadline - self._clock() + 0.001)):
                    break
                self._emit(self.tracker.tick(self._clock()))
            self._stop.wait(max(0.0, next_poll - self._clock()))

    def forget(self, uid: bytes) -> None:
        """Read ``uid`` afresh: the kiosk just rewrote its memory (staff tag programming), so the
        decode cached for it is stale. Safe from any thread. It takes effect on the watcher thread at
        the start of the next cycle, so a read of the old content that was still in progress cannot
        put the stale decode back afterwards."""
        self._forgotten.put(bytes(uid))

    def run_once(self) -> None:
        """One cycle: (re)open if needed, poll, read new tags. Public for step-by-step tests."""
        while True:
            try:
                self.tracker.forget(self._forgotten.get_nowait())
            except queue.Empty:
                break
        now = self._clock()
        if not self._opened:
            if now < self._next_reopen:
                return
            try:
                self.reader.open()
            except ReaderError as exc:
                self._next_reopen = now + self.settings.reopen_interval
                self._emit(self.tracker.reader_lost(now, str(exc)))
                return
            self._opened = True
            self._emit(self.tracker.reader_restored(self._clock()))
        try:
            tags = self.reader.inventory()
        except ReaderUnavailable as exc:
            self._lose(exc)
            return
        except ReaderError as exc:
            log.warning("inventory failed, skipping this poll: %s", exc)
            return
        self._emit(self.tracker.poll(self._clock(), tags))
        for uid, dsfid in self.tracker.pending_reads():
            if self._stop.is_set():
                return
            try:
                memory = self.reader.read_memory(uid)
            except ReaderUnavailable as exc:
                self._lose(exc)
                return
            except ReaderError as exc:
                self._emit(self.tracker.read_failed(self._clock(), uid, str(exc)))
                continue
            try:
                decoded = self._decoder()(memory, dsfid)
            except Exception as exc:  # a decoder bug must not stop the pad; the item shows as unreadable
                log.exception("decoding tag %s failed", uid.hex())
                self._emit(self.tracker.read_failed(self._clock(), uid, f"decoder error: {exc}"))
                continue
            self._emit(self.tracker.read_succeeded(self._clock(), uid, decoded))

    def _decoder(self) -> Decoder:
        if self._decode is None:
            self._decode = _default_decoder()
        return self._decode

    def _lose(self, exc: ReaderError) -> None:
        self.reader.close()
        self._opened = False
        now = self._clock()
        self._next_reopen = now + self.settings.reopen_interval
        self._emit(self.tracker.reader_lost(now, str(exc)))
