"""Whole-kiosk runs: the circulation core and the runner with the real SIP2 client against the
simulated ILS, and the real FEIG driver and tag watcher against the simulated reader on a pty.

The tests act only as the patron does (cards, PINs, items put on and lifted off the pad, buttons)
and judge by what the world shows afterwards: the ILS's ledger, the security bits on the simulated
tags, the printer's paper, and the state the screen would render.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from hardware_mocks.feig_pty import SimTag, make_uid
from hardware_mocks.ils import IlsSimulator, When
from hardware_mocks.ils import scenarios as S
from hardware_mocks.pad import VirtualPad
from kiosk.circulation.events import Event, PadChanged, PinEntered, Pressed
from kiosk.circulation.returns import ReturnsBinMachine, ReturnsState
from kiosk.circulation.rows import RowKind, RowState
from kiosk.circulation.session import PatronSessionMachine, Phase, SessionState
from kiosk.circulation.session_text import masked
from kiosk.config import CirculationSettings, ReturnsSettings
from kiosk.hardware.barcode.events import Scan
from kiosk.hardware.rfid.readers.feig import FeigReader
from kiosk.hardware.rfid.readers.shared import SharedReader
from kiosk.hardware.rfid.security import SecurityScheme, SecurityState
from kiosk.hardware.rfid.watcher import TagWatcher, WatcherSettings
from kiosk.ils.gateway import SipGateway
from kiosk.runner import Runner
from kiosk.shell.inputs import ChuteFeed, event_for_scan, watcher_feed
from kiosk.shell.outputs import MemoryDiverter, MemoryPrinter, Outputs
from kiosk.shell.tag_security import TagSecurity
from sip2.client import ClientConfig, SIP2Client, SIP2Pool

WAIT = 10.0  # upper bounds for things to happen; nothing here measures time
SCHEME = SecurityScheme()
ON_LOAN = SCHEME.wanted(SecurityState.ON_LOAN)


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    """Every thread a test starts is gone after it (the ILS's per-connection threads end once they
    see the kiosk hang up, so they get a moment)."""
    before = threading.active_count()
    yield
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() == before, [t.name for t in threading.enumerate()]


def client_config(sim: IlsSimulator) -> ClientConfig:
    host, port = sim.address
    return ClientConfig(host=host, port=port, username=S.LOGIN_USER, password=S.LOGIN_PASSWORD,
                        institution_id=S.INSTITUTION, timeout=3.0, heartbeat_interval=3600)


@dataclass
class Kiosk:
    """One kiosk's parts, wired as production wires them; the simulators are the world around it."""

    runner: Runner
    pad: VirtualPad
    printer: MemoryPrinter
    diverter: MemoryDiverter
    closers: list[Callable[[], None]] = field(default_factory=list)

    def submit(self, event: Event | None) -> None:
        assert event is not None
        assert self.runner.submit(event)

    def wait_for(self, predicate: Callable, timeout: float = WAIT):
        return self.runner.wait_for(predicate, timeout)


@pytest.fixture
def build(sim: IlsSimulator) -> Iterator[Callable[..., Kiosk]]:
    kiosks: list[Kiosk] = []

    def make(machine, *, sessions: int = 4, on_event: Callable[[Runner], Callable] = lambda r: watcher_feed(r.submit),
             watcher_settings: WatcherSettings | None = None) -> Kiosk:
        pad = VirtualPad(scheme=SCHEME).start()
        reader = SharedReader(FeigReader(pad.path))
        gateway = SipGateway(SIP2Pool(client_config(sim), size=sessions))
        printer, diverter = MemoryPrinter(), MemoryDiverter()
        runner = Runner(machine, gateway=gateway, tags=TagSecurity(reader, SCHEME),
                        outputs=Outputs(printer=printer, diverter=diverter))
        runner.start()
        watcher = TagWatcher(reader, settings=watcher_settings, on_event=on_event(runner)).start()
        kiosk = Kiosk(runner, pad, printer, diverter)
        kiosk.closers = [watcher.stop, runner.close, gateway.close, pad.stop]  # in this order
        kiosks.append(kiosk)
        return kiosk

    yield make
    for kiosk in kiosks:
        for close in kiosk.closers:
            close()


def scan(text: str) -> Event | None:
    return event_for_scan(Scan(text=text, source="test scanner", symbology=None, at=datetime.now(UTC)))


def rows_of(state: SessionState) -> dict[str, RowState]:
    return {row.item_id: row.state for row in state.rows}


def settled(item_ids: list[str]) -> Callable[[SessionState], bool]:
    """Every listed item has a row that nothing more will happen to without the patron."""
    waiting = {RowState.ASKING, RowState.SECURING, RowState.WAITING}
    return lambda s: all(i in rows_of(s) and rows_of(s)[i] not in waiting for i in item_ids)


def security_of(pad: VirtualPad) -> dict[tuple[str, int], SecurityState | None]:
    return {(tag.barcode, tag.part_number): tag.security for tag in pad.tags_on_pad() if not tag.patron_card}


# -- patron sessions ---------------------------------------------------------------------------------


def test_card_pin_stack_refusal_and_receipt(sim: IlsSimulator, build) -> None:
    patron = S.PATRON_VALID
    books = list(S.AVAILABLE_BOOKS[:3])
    kiosk = build(PatronSessionMachine(CirculationSettings(pin_required=True, receipt="ask")))

    kiosk.submit(scan(patron.id))
    kiosk.wait_for(lambda s: s.phase is Phase.PIN)
    kiosk.submit(PinEntered(patron.pin))
    active = kiosk.wait_for(lambda s: s.phase is Phase.ACTIVE)
    assert active.account.name == patron.name and active.account.loans_count == 5

    for item in [*books, S.ITEM_ON_HOLD_FOR_OTHER]:
        kiosk.pad.place_item(item)
    state = kiosk.wait_for(settled([*books, S.ITEM_ON_HOLD_FOR_OTHER]))

    assert {i: rows_of(state)[i] for i in books} == dict.fromkeys(books, RowState.DONE)
    refused = state.row(RowKind.BORROW, S.ITEM_ON_HOLD_FOR_OTHER)
    assert refused.state is RowState.REFUSED and refused.message.args["ils"] == ("Item is on hold for another patron",)
    # the world agrees: the ILS lent exactly the three, and only their alarms are off
    assert [sim.library.applied("11", item=i) for i in books] == [1, 1, 1]
    assert sim.library.count(message="11", item=S.ITEM_ON_HOLD_FOR_OTHER, applied=True) == 0
    assert security_of(kiosk.pad) == {
        **{(i, 1): SecurityState.ON_LOAN for i in books},
        (S.ITEM_ON_HOLD_FOR_OTHER, 1): SecurityState.IN_LIBRARY,
    }

    kiosk.submit(Pressed("finish"))
    kiosk.wait_for(lambda s: s.phase is Phase.RECEIPT)
    kiosk.submit(Pressed("receipt_print"))
    after = kiosk.wait_for(lambda s: s.phase is Phase.IDLE)

    (kind, lines), = kiosk.printer.printed
    text = [line.text for line in lines]
    assert kind == "receipt" and f"Card: {masked(patron.id)}" in text
    titles = {row.title for row in state.rows if row.item_id in books}
    assert titles <= set(text) and "The Remains of the Day" not in text  # only what was lent
    assert not any(patron.pin in t or patron.id in t for t in text)
    # nothing about the patron survives the session
    assert after.patron_id == "" and after.pin is None and after.account is None and after.rows == ()


def test_rfid_card_and_a_set_held_until_its_last_part_is_on_the_pad(sim: IlsSimulator, build) -> None:
    patron = S.PATRON_CLEAN
    kiosk = build(PatronSessionMachine(CirculationSettings(pin_required=False, incomplete_sets="require_all")))

    kiosk.pad.place_patron_card(patron.id)
    kiosk.wait_for(lambda s: s.phase is Phase.ACTIVE and s.account.name == patron.name)
    kiosk.pad.place_set(S.ITEM_AUDIOBOOK_SET, present=(1, 2))
    waiting = kiosk.wait_for(lambda s: rows_of(s).get(S.ITEM_AUDIOBOOK_SET) is RowState.WAITING)
    assert waiting.rows[0].message.args["missing"] == (3,)
    assert sim.library.count(message="11", item=S.ITEM_AUDIOBOOK_SET) == 0  # not even asked

    kiosk.pad.place_item(S.ITEM_AUDIOBOOK_SET, part=3)
    kiosk.wait_for(lambda s: rows_of(s).get(S.ITEM_AUDIOBOOK_SET) is RowState.DONE)
    assert sim.library.applied("11", item=S.ITEM_AUDIOBOOK_SET) == 1
    assert security_of(kiosk.pad) == {(S.ITEM_AUDIOBOOK_SET, n): SecurityState.ON_LOAN for n in (1, 2, 3)}


def test_a_book_lifted_during_the_security_write_is_never_done_until_put_back(sim: IlsSimulator, build) -> None:
    patron = S.PATRON_CLEAN
    book = S.AVAILABLE_BOOKS[5]
    kiosk = build(PatronSessionMachine(CirculationSettings(pin_required=False)))
    kiosk.pad.place_patron_card(patron.id)
    kiosk.wait_for(lambda s: s.phase is Phase.ACTIVE)

    sim.faults.latency(0.3, code="11")  # time to take hold of the book while the ILS thinks
    tag = kiosk.pad.place_item(book)
    kiosk.wait_for(lambda s: rows_of(s).get(book) is RowState.ASKING)
    kiosk.pad.simulator.leave_after(tag.uid, 1)  # the tag hears one more command, then it is gone
    lifted = kiosk.wait_for(lambda s: rows_of(s).get(book) is RowState.PUT_BACK)
    assert lifted.rows[0].confirmed  # the ILS lent it; the alarm is what is not settled
    kiosk.wait_for(lambda s: book not in s.pad.item_ids())  # the pad saw it go

    kiosk.pad.place_item(book)  # the patron puts it back: the same tag, alarm still armed
    kiosk.wait_for(lambda s: rows_of(s).get(book) is RowState.DONE)
    assert security_of(kiosk.pad) == {(book, 1): SecurityState.ON_LOAN}
    assert sim.library.applied("11", item=book) == 1


def test_a_book_put_back_before_the_pad_saw_it_go_is_secured_by_the_retry(sim: IlsSimulator, build) -> None:
    """The patron lifts the book during the security write and puts it straight back. The watcher
    here takes a minute to believe a departure, so the kiosk never sees the book leave and no new pad
    comes: only the session's own retry timer can finish the job."""
    patron = S.PATRON_CLEAN
    book = S.AVAILABLE_BOOKS[4]
    pads: list[PadChanged] = []

    def recording_feed(runner: Runner) -> Callable:
        return watcher_feed(lambda event: (pads.append(event), runner.submit(event)))

    machine = PatronSessionMachine(CirculationSettings(pin_required=False), security_retry_seconds=0.3)
    kiosk = build(machine, on_event=recording_feed, watcher_settings=WatcherSettings(depart_after=60.0))
    kiosk.pad.place_patron_card(patron.id)
    kiosk.wait_for(lambda s: s.phase is Phase.ACTIVE)

    sim.faults.latency(0.3, code="11")
    tag = kiosk.pad.place_item(book)
    kiosk.wait_for(lambda s: rows_of(s).get(book) is RowState.ASKING)
    same_tag = kiosk.pad.simulator.tag(tag.uid)
    kiosk.pad.simulator.leave_after(tag.uid, 1)  # lifted mid-write...
    lifted = kiosk.wait_for(lambda s: rows_of(s).get(book) is RowState.PUT_BACK)
    kiosk.pad.simulator.place(same_tag)  # ...and put straight back, alarm still (half) armed
    assert book in lifted.pad.item_ids()  # as far as the kiosk knows, it never left

    kiosk.wait_for(lambda s: rows_of(s).get(book) is RowState.DONE)
    assert security_of(kiosk.pad) == {(book, 1): SecurityState.ON_LOAN}
    assert sim.library.applied("11", item=book) == 1
    seen_with_book = [book in e.pad.item_ids() for e in pads]
    assert True in seen_with_book and all(seen_with_book[seen_with_book.index(True):])  # never seen gone


def test_a_checkout_whose_answer_was_lost_is_settled_not_repeated(sim: IlsSimulator, build) -> None:
    patron = S.PATRON_CLEAN
    books = list(S.AVAILABLE_BOOKS[6:10])
    kiosk = build(PatronSessionMachine(CirculationSettings(pin_required=False)))
    kiosk.pad.place_patron_card(patron.id)
    kiosk.wait_for(lambda s: s.phase is Phase.ACTIVE)

    sim.faults.drop(code="11", when=When.AFTER_APPLY)  # the first checkout is applied, its answer lost
    for book in books:
        kiosk.pad.place_item(book)
    kiosk.wait_for(settled(books))
    state = kiosk.runner.snapshot()
    assert {i: rows_of(state)[i] for i in books} == dict.fromkeys(books, RowState.DONE)
    assert [sim.library.count(message="11", item=b) for b in books] == [1, 1, 1, 1]  # no resend, no renewal
    assert [f.action for f in sim.faults.fired] == ["drop"]


# -- the returns bin ---------------------------------------------------------------------------------

BLANKS = [make_uid(0xB1A00 + n) for n in range(5)]
#: Checked out before the run (as patrons did), so their returns are real checkins.
LENT = [*S.AVAILABLE_BOOKS, S.ITEM_DVD_SET]


def drop_plan() -> tuple[list[str], dict[str, int]]:
    """100 drops and the bins the sample library's documented rules send them to.

    Books 1-28 come three times: lent (checked in), then twice more while not on loan (accepted and
    reshelved: accept_not_on_loan). Holds and transits are the README's: The Road has a hold here,
    Wolf Hall a hold for EAST, Crime and Punishment and The Little Prince belong to EAST. DVDs sort
    by the ILS's sort bin "4", which this site maps to its "media" bin. An unknown barcode and five
    blank tags go to staff.
    """
    books = list(S.AVAILABLE_BOOKS)
    others = {
        S.ITEM_HOLD_HERE: "holds",
        S.ITEM_HOLD_OTHER_BRANCH: "transit",
        S.ITEM_TRANSIT: "transit",
        S.ITEM_AVAILABLE_EAST: "transit",
        S.ITEM_DVD: "media",
        S.ITEM_DVD_SET: "media",
        S.ITEM_OVERDUE_DVD: "media",
        S.ITEM_MAGAZINE: "reshelve",
        S.ITEM_OVERDUE: "reshelve",
        S.ITEM_RENEWABLE: "reshelve",
        S.UNKNOWN_ITEM: "exceptions",
        **{f"blank:{n}": "exceptions" for n in range(len(BLANKS))},
    }
    plan = [*books, *others, *books, *books]
    expected: dict[str, int] = {}
    for drop in plan:
        bin_name = others.get(drop, "reshelve")
        expected[bin_name] = expected.get(bin_name, 0) + 1
    assert len(plan) == 100
    return plan, expected


def test_a_returns_bin_run_of_100_items(sim: IlsSimulator, build) -> None:
    with SIP2Client(client_config(sim)) as client:
        for item in LENT:
            assert client.checkout(S.PATRON_CLEAN.id, item, no_block=True).ok
    settings = ReturnsSettings(sort_bins={"4": "media"})
    chute: list[ChuteFeed] = []

    def chute_feed(runner: Runner) -> ChuteFeed:
        chute.append(ChuteFeed(runner.submit))
        return chute[0]

    kiosk = build(ReturnsBinMachine(settings), on_event=chute_feed)
    plan, expected = drop_plan()

    routed = 0
    for start in range(0, len(plan), 10):
        batch = plan[start:start + 10]
        placed = []
        for drop in batch:
            if drop.startswith("blank:"):
                tag = SimTag.create(BLANKS[int(drop[6:])], b"")
                kiosk.pad.simulator.place(tag)
                placed.append(tag.uid)
                continue
            tags = kiosk.pad.place_set(drop) if drop == S.ITEM_DVD_SET else [kiosk.pad.place_item(drop)]
            for tag in tags:  # it left the library with its alarm released
                sim_tag = kiosk.pad.simulator.tag(tag.uid)
                sim_tag.afi, sim_tag.eas = ON_LOAN.afi, ON_LOAN.eas
                placed.append(tag.uid)
        routed += len(batch)
        state: ReturnsState = kiosk.wait_for(lambda s, n=routed: s.routed_total == n and not s.in_flight)
        # every item sorted to a shelf or a hold got its alarm back on; staff's items were not touched
        to_staff = {e.item_id for e in state.exceptions}
        on_pad = [t for t in kiosk.pad.tags_on_pad() if t.barcode not in to_staff]
        assert all(t.security_on for t in on_pad), [str(t) for t in on_pad if not t.security_on]
        kiosk.pad.simulator.remove(*placed)  # the diverter let them fall
        for drop in batch:
            if not drop.startswith("blank:"):
                kiosk.pad.remove(drop)
        assert chute[0].wait_until(lambda present: not present, WAIT)

    final = kiosk.runner.snapshot()
    assert dict(c for c in final.counts if c[1]) == expected
    assert kiosk.diverter.counts() == expected
    assert final.accepting
    reasons = sorted(e.reason for e in final.exceptions)
    assert reasons == ["returns.unknown_item"] + ["returns.unreadable"] * len(BLANKS)
    slips = sorted(kind for kind, _ in kiosk.printer.printed)
    assert slips == ["hold", "hold", "transit", "transit"]
    # the ILS saw each lent item come back once and every later drop as "not on loan"
    assert all(sim.library.count(message="09", item=i, outcome="checked_in") == 1 for i in LENT)
    assert all(sim.library.count(message="09", item=b, outcome="not_on_loan") == 2 for b in S.AVAILABLE_BOOKS)
