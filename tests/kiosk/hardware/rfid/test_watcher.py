"""Tag watcher: the pure tracker with a fake clock, then the thread end to end over the FEIG pty sim."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from hardware_mocks.feig_pty import FeigPtySimulator, SimTag, make_uid
from kiosk.hardware.rfid.readers.base import TagInfo
from kiosk.hardware.rfid.readers.feig import FeigReader
from kiosk.hardware.rfid.watcher import (
    ReaderLost,
    ReaderRestored,
    SetStatus,
    StackChanged,
    StackItem,
    StackStable,
    StackTracker,
    TagArrived,
    TagDeparted,
    TagRead,
    TagReadFailed,
    TagWatcher,
    WatcherSettings,
    group_sets,
)

# -- a tiny stand-in for the tag models: 16 bytes item id, parts, part number, card flag ------------------


@dataclass(frozen=True)
class FakeTag:
    item_id: str
    parts_in_set: int | None = None
    part_number: int | None = None
    owner_library: str | None = "DK-718500"
    usage_type: int | None = 1
    model: str = "fake"
    raw: bytes = b""
    is_patron_card: bool = False


@dataclass(frozen=True)
class FakeUnreadable:
    reason: str
    raw: bytes = b""


def fake_memory(item_id: str, parts: int = 1, part: int = 1, card: bool = False) -> bytes:
    return item_id.encode().ljust(16, b"\0") + bytes((parts, part, int(card)))


def fake_decode(memory: bytes, dsfid: int | None = None):
    item_id = memory[:16].rstrip(b"\0").decode(errors="replace")
    if not item_id:
        return FakeUnreadable("blank", memory)
    return FakeTag(item_id, memory[16], memory[17], is_patron_card=bool(memory[18]), raw=memory)


def info(n: int) -> TagInfo:
    return TagInfo(make_uid(n), dsfid=0)


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


SETTINGS = WatcherSettings(poll_interval=0.05, depart_polls=3, depart_after=0.15, settle_time=0.1, read_attempts=2)


# -- the pure tracker -----------------------------------------------------------------------------------


def test_arrival_is_immediate_and_asks_for_a_read():
    tracker = StackTracker(SETTINGS)
    events = tracker.poll(0.0, [info(1)])
    assert of(events, TagArrived) == [TagArrived(make_uid(1), 0, 0.0)]
    assert tracker.pending_reads() == [(make_uid(1), 0)]
    assert of(events, StackChanged)[0].stack.items == (StackItem(make_uid(1)),)


def test_departure_needs_both_missed_polls_and_time():
    tracker = StackTracker(SETTINGS)
    tracker.poll(0.0, [info(1)])
    # three misses in quick succession: enough polls, not enough time
    for t in (0.01, 0.02, 0.03):
        assert of(tracker.poll(t, []), TagDeparted) == []
    # time passes but one poll sees it again: the count restarts
    tracker.poll(0.10, [info(1)])
    for t in (0.15, 0.20):
        assert of(tracker.poll(t, []), TagDeparted) == []
    assert of(tracker.poll(0.25, []), TagDeparted) == [TagDeparted(make_uid(1), 0.25)]
    assert tracker.stack().items == ()


def test_a_flickering_tag_never_departs():
    tracker = StackTracker(SETTINGS)
    events = []
    for step in range(40):
        seen = [info(1)] if step % 3 else []  # drops out of every third round, as stacked tags do
        events += tracker.poll(step * 0.05, seen)
    assert of(events, TagDeparted) == []
    assert len(of(events, TagArrived)) == 1


def test_stable_only_after_settle_time_and_reads_and_only_once():
    tracker = StackTracker(SETTINGS)
    tracker.poll(0.0, [info(1), info(2)])
    assert of(tracker.poll(0.2, [info(1), info(2)]), StackStable) == []  # reads still pending
    tracker.read_succeeded(0.21, make_uid(1), fake_decode(fake_memory("B1")))
    stable = of(tracker.read_succeeded(0.22, make_uid(2), fake_decode(fake_memory("B2"))), StackStable)
    assert len(stable) == 1
    assert [i.tag.item_id for i in stable[0].stack.items] == ["B1", "B2"]
    assert of(tracker.poll(0.3, [info(1), info(2)]), StackStable) == []  # not repeated


def test_settle_time_restarts_on_every_change():
    tracker = StackTracker(SETTINGS)
    tracker.poll(0.0, [info(1)])
    tracker.read_succeeded(0.01, make_uid(1), fake_decode(fake_memory("B1")))
    tracker.poll(0.05, [info(1), info(2)])
    tracker.read_succeeded(0.06, make_uid(2), fake_decode(fake_memory("B2")))
    assert of(tracker.poll(0.12, [info(1), info(2)]), StackStable) == []  # 0.07 s since the change
    assert len(of(tracker.poll(0.16, [info(1), info(2)]), StackStable)) == 1


def test_empty_pad_becomes_stable_at_start_and_after_the_last_tag_leaves():
    tracker = StackTracker(SETTINGS)
    assert of(tracker.poll(0.0, []), StackChanged)
    assert of(tracker.poll(0.1, []), StackStable)[0].stack.items == ()
    tracker.poll(0.2, [info(1)])
    tracker.read_succeeded(0.2, make_uid(1), fake_decode(fake_memory("B1")))
    assert of(tracker.poll(0.35, [info(1)]), StackStable)
    events = []
    for t in (0.40, 0.45, 0.50, 0.55, 0.70):
        events += tracker.poll(t, [])
    assert of(events, TagDeparted)
    assert of(events, StackStable)[-1].stack.items == ()


def test_each_tag_is_read_once_even_when_it_leaves_and_returns():
    tracker = StackTracker(SETTINGS)
    tracker.poll(0.0, [info(1)])
    tracker.read_succeeded(0.0, make_uid(1), fake_decode(fake_memory("B1")))
    for t in (0.1, 0.2, 0.3, 0.4):
        tracker.poll(t, [])
    assert tracker.stack().items == ()
    events = tracker.poll(0.5, [info(1)])
    assert of(events, TagArrived)
    assert tracker.pending_reads() == []
    assert tracker.stack().items[0].tag.item_id == "B1"
    tracker.forget(make_uid(1))
    assert tracker.pending_reads() == [(make_uid(1), 0)]



def test_a_forgotten_tag_that_now_holds_something_else_makes_the_stack_stable_anew():
    tracker = StackTracker(SETTINGS)
    tracker.poll(0.0, [info(1)])
    tracker.read_succeeded(0.01, make_uid(1), fake_decode(b""))  # blank
    assert of(tracker.poll(0.2, [info(1)]), StackStable)
    tracker.forget(make_uid(1))  # staff programmed it
    assert tracker.pending_reads() == [(make_uid(1), 0)]
    assert of(tracker.poll(0.5, [info(1)]), StackStable) == []  # not while the read is out
    events = tracker.read_succeeded(0.51, make_uid(1), fake_decode(fake_memory("NEW1")))
    assert [e.stack.items[0].tag.item_id for e in of(events, StackChanged)] == ["NEW1"]
    assert of(tracker.poll(0.55, [info(1)]), StackStable) == []  # settle time counts from the re-read
    stable = of(tracker.poll(0.62, [info(1)]), StackStable)
    assert [i.tag.item_id for i in stable[0].stack.items] == ["NEW1"]


def test_a_forgotten_tag_read_back_unchanged_or_already_gone_changes_nothing():
    tracker = StackTracker(SETTINGS)
    tracker.poll(0.0, [info(1), info(2)])
    tracker.read_succeeded(0.01, make_uid(1), fake_decode(fake_memory("B1")))
    tracker.read_succeeded(0.01, make_uid(2), fake_decode(fake_memory("B2")))
    assert of(tracker.poll(0.2, [info(1), info(2)]), StackStable)
    tracker.forget(make_uid(1))
    events = tracker.read_succeeded(0.3, make_uid(1), fake_decode(fake_memory("B1")))
    assert of(events, StackChanged) == [] and of(tracker.poll(0.5, [info(1), info(2)]), StackStable) == []
    for t in (0.6, 0.7, 0.8, 0.9):
        tracker.poll(t, [info(1)])  # B2 leaves
    tracker.forget(make_uid(2))  # not on the pad: only its cached decode goes
    assert tracker.pending_reads() == []
    tracker.poll(1.0, [info(1), info(2)])  # and comes back: read afresh
    assert tracker.pending_reads() == [(make_uid(2), 0)]

def test_read_failures_are_retried_then_the_item_is_unreadable():
    tracker = StackTracker(SETTINGS)
    tracker.poll(0.0, [info(1)])
    first = tracker.read_failed(0.01, make_uid(1), "tag did not answer")
    assert first == [TagReadFailed(make_uid(1), "tag did not answer", False, 0.01)]
    assert tracker.pending_reads() == [(make_uid(1), 0)]
    last = tracker.read_failed(0.02, make_uid(1), "tag did not answer")
    assert of(last, TagReadFailed)[0].final
    assert tracker.pending_reads() == []
    stable = of(tracker.poll(0.2, [info(1)]), StackStable)[0].stack
    assert stable.unreadable == (StackItem(make_uid(1), None, "tag did not answer"),)


def test_an_undecodable_tag_is_in_the_stack_as_unreadable():
    tracker = StackTracker(SETTINGS)
    tracker.poll(0.0, [info(1)])
    events = tracker.read_succeeded(0.0, make_uid(1), fake_decode(bytes(28)))
    assert isinstance(of(events, TagRead)[0].tag, FakeUnreadable)
    assert [i.uid for i in tracker.stack().unreadable] == [make_uid(1)]


def test_patron_cards_are_kept_apart_from_items():
    tracker = StackTracker(SETTINGS)
    tracker.poll(0.0, [info(1), info(2)])
    tracker.read_succeeded(0.0, make_uid(1), fake_decode(fake_memory("B1")))
    tracker.read_succeeded(0.0, make_uid(2), fake_decode(fake_memory("P9", card=True)))
    stack = tracker.stack()
    assert [i.tag.item_id for i in stack.items] == ["B1"]
    assert [i.tag.item_id for i in stack.patron_cards] == ["P9"]
    assert stack.uids == {make_uid(1), make_uid(2)}


def test_multi_part_sets_report_present_missing_and_duplicate_parts():
    items = [
        StackItem(make_uid(1), FakeTag("CD1", 3, 1)),
        StackItem(make_uid(2), FakeTag("CD1", 3, 3)),
        StackItem(make_uid(3), FakeTag("BOX", 2, 1)),
        StackItem(make_uid(4), FakeTag("BOX", 2, 2)),
        StackItem(make_uid(5), FakeTag("BOX", 2, 2)),
        StackItem(make_uid(6), FakeTag("SINGLE", 1, 1)),
        StackItem(make_uid(7), None),
    ]
    sets = group_sets(items)
    assert sets == (
        SetStatus("BOX", "DK-718500", 2, (1, 2), (), (2,)),
        SetStatus("CD1", "DK-718500", 3, (1, 3), (2,)),
    )
    assert [s.complete for s in sets] == [True, False]


def test_reader_lost_and_restored_hold_back_stability():
    tracker = StackTracker(SETTINGS)
    tracker.poll(0.0, [info(1)])
    tracker.read_succeeded(0.0, make_uid(1), fake_decode(fake_memory("B1")))
    assert tracker.reader_lost(0.05, "unplugged") == [ReaderLost("unplugged", 0.05)]
    assert tracker.reader_lost(0.06, "still unplugged") == []
    assert tracker.tick(1.0) == []  # no stable stack while blind
    assert tracker.reader_restored(2.0) == [ReaderRestored(2.0)]
    assert of(tracker.poll(2.05, [info(1)]), StackStable) == []
    assert of(tracker.poll(2.10, [info(1)]), StackStable)[0].stack.items[0].tag.item_id == "B1"


# -- the thread over the simulated FEIG reader ----------------------------------------------------------------

FAST = WatcherSettings(
    poll_interval=0.02, depart_polls=3, depart_after=0.06, settle_time=0.05, read_attempts=3, reopen_interval=0.05
)


@pytest.fixture
def sim(tmp_path) -> Iterator[FeigPtySimulator]:
    with FeigPtySimulator(link_path=str(tmp_path / "feig")) as simulator:
        yield simulator


def next_event(watcher: TagWatcher, kind, timeout: float = 3.0, where=lambda e: True):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            event = watcher.events.get(timeout=deadline - time.monotonic())
        except queue.Empty:
            break
        seen.append(event)
        if isinstance(event, kind) and where(event):
            return event
    raise AssertionError(f"no {kind.__name__} within {timeout} s; saw {[type(e).__name__ for e in seen]}")


def drain(watcher: TagWatcher) -> list:
    events = []
    while True:
        try:
            events.append(watcher.events.get_nowait())
        except queue.Empty:
            return events


def test_watcher_end_to_end_over_the_feig_pty(sim):
    books = [SimTag.create(make_uid(n), fake_memory(f"BOOK{n}", 2, n)) for n in (1, 2)]
    sim.place(*books)
    reader = FeigReader(sim.path, reply_timeout=0.2, retries=1)
    with TagWatcher(reader, settings=FAST, decode=fake_decode) as watcher:
        stable = next_event(watcher, StackStable, where=lambda e: len(e.stack.items) == 2)
        assert sorted(i.tag.item_id for i in stable.stack.items) == ["BOOK1", "BOOK2"]

        sim.remove(books[0].uid)
        assert next_event(watcher, TagDeparted).uid == books[0].uid
        stable = next_event(watcher, StackStable)
        assert [i.uid for i in stable.stack.items] == [books[1].uid]

        sim.unplug()
        assert "feig" in next_event(watcher, ReaderLost).reason
        sim.place(books[0])
        sim.replug()
        next_event(watcher, ReaderRestored)
        stable = next_event(watcher, StackStable, where=lambda e: len(e.stack.items) == 2)
        assert {i.uid for i in stable.stack.items} == {b.uid for b in books}
    reads = [r for r in sim.requests if r.data[:1] == b"\x23"]
    assert {r.data[2:10] for r in reads} <= {b.uid for b in books}


def test_watcher_reports_a_reader_absent_at_start_and_picks_it_up_later(tmp_path):
    link = str(tmp_path / "feig")
    reader = FeigReader(link, reply_timeout=0.2)
    with TagWatcher(reader, settings=FAST, decode=fake_decode) as watcher:
        assert "cannot open" in next_event(watcher, ReaderLost).reason
        with FeigPtySimulator(link_path=link) as sim:
            sim.place(SimTag.create(make_uid(5), fake_memory("LATE")))
            next_event(watcher, ReaderRestored)
            stable = next_event(watcher, StackStable, where=lambda e: bool(e.stack.items))
            assert stable.stack.items[0].tag.item_id == "LATE"
            watcher.stop()


def test_a_tag_pulled_away_before_its_read_is_retried_and_a_decoder_crash_is_contained(sim):
    def crashing_decode(memory, dsfid):
        if memory.startswith(b"CRASH"):
            raise RuntimeError("decoder bug")
        return fake_decode(memory, dsfid)

    shy = SimTag.create(make_uid(1), fake_memory("SHY"))
    crash = SimTag.create(make_uid(2), fake_memory("CRASH"))
    sim.place(shy, crash)
    sim.leave_after(shy.uid, 1)  # answers system info, gone before the block read
    reader = FeigReader(sim.path, reply_timeout=0.2, retries=0)
    with TagWatcher(reader, settings=FAST, decode=crashing_decode) as watcher:
        failed = next_event(watcher, TagReadFailed, where=lambda e: e.uid == shy.uid)
        assert not failed.final
        sim.place(shy)  # put back on the pad
        read = next_event(watcher, TagRead, where=lambda e: e.uid == shy.uid)
        assert read.tag.item_id == "SHY"
        stable = next_event(watcher, StackStable, where=lambda e: len(e.stack.items) == 2)
        assert "decoder error" in stable.stack.unreadable[0].error


def test_watcher_with_the_real_tag_models_reports_a_missing_part(sim):
    from kiosk.hardware.rfid.models import TagData, iso28560_3  # the default decoder's own package

    def encoded(part: int) -> bytes:
        tag = iso28560_3.Iso28560_3Tag("31234567", parts_in_set=3, part_number=part, country="DK", library="718500")
        return iso28560_3.encode(tag)

    sim.place(*(SimTag.create(make_uid(n), encoded(n), dsfid=0x3E) for n in (1, 3)))
    reader = FeigReader(sim.path, reply_timeout=0.2)
    with TagWatcher(reader, settings=FAST) as watcher:  # no decode=: kiosk.hardware.rfid.models.decode_tag
        stable = next_event(watcher, StackStable, where=lambda e: len(e.stack.items) == 2)
    assert all(isinstance(i.tag, TagData) and i.tag.item_id == "31234567" for i in stable.stack.items)
    assert stable.stack.sets == (SetStatus("31234567", "DK-718500", 3, (1, 3), (2,)),)
    assert stable.stack.incomplete_sets == stable.stack.sets


def test_watcher_forget_from_another_thread_reports_the_rewritten_tag(sim):
    tag = SimTag.create(make_uid(7), b"")
    sim.place(tag)
    reader = FeigReader(sim.path, reply_timeout=0.2)
    with TagWatcher(reader, settings=FAST, decode=fake_decode) as watcher:
        blank = next_event(watcher, StackStable, where=lambda e: len(e.stack.items) == 1)
        assert blank.stack.items[0].tag == FakeUnreadable("blank", bytes(112))
        tag.memory[:19] = fake_memory("PROGRAMMED")  # as a tag programmer's write would
        time.sleep(0.15)  # several polls: the watcher trusts its cache and does not read the tag again
        assert not [e for e in drain(watcher) if isinstance(e, TagRead)]
        watcher.forget(tag.uid)
        stable = next_event(watcher, StackStable)
    assert stable.stack.items[0].tag.item_id == "PROGRAMMED"
