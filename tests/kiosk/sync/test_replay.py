"""The replay against the simulated ILS: FIFO, no block, the offline dates, answers recorded,
rejections for staff, lost answers settled by asking, an unreachable ILS, the ``kiosk sync`` loop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hardware_mocks.ils import IlsSimulator, When
from hardware_mocks.ils import scenarios as S
from kiosk.sync.journal import Journal, Kind, State
from kiosk.sync.replay import LoopTiming, Replayer, ReplayOptions, run
from kiosk.sync.report import report_csv, report_sections, report_text
from sip2.client import ClientConfig, SIP2Client
from sip2.dialects import get_dialect
from sip2.errors import OutcomeUnknown, SIP2ConnectionError
from sip2.fields import decode_date

NOW = datetime.now().replace(microsecond=0)
WHEN = NOW - timedelta(days=2)  # the ILS was down two days ago
DUE = (WHEN + timedelta(days=14)).replace(hour=23, minute=59, second=59)
BOOKS = S.AVAILABLE_BOOKS


@pytest.fixture(scope="module")
def sim() -> Iterator[IlsSimulator]:
    with IlsSimulator() as server:
        yield server


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.sqlite") as j:
        yield j


@pytest.fixture
def make(sim: IlsSimulator, journal: Journal) -> Iterator[Callable[..., Replayer]]:
    """A replayer on a fresh library; ``dialect`` switches the simulated ILS and the profile."""
    clients: list[SIP2Client] = []

    def build(dialect: str = "generic", *, timeout: float = 2.0, **options: object) -> Replayer:
        sim.reset(dialect=dialect)
        host, port = sim.address
        profile = get_dialect(dialect)
        client = SIP2Client(ClientConfig(host=host, port=port, username="demo", timeout=timeout,
                                         encoding=profile.encoding, error_detection=profile.error_detection))
        clients.append(client)
        opts = {"lost_answer_wait": 0.0, **options}
        journal.own("sync")
        return Replayer(journal, client, profile, ReplayOptions(**opts))  # type: ignore[arg-type]

    yield build
    for client in clients:
        client.close()


def checkout(journal: Journal, item: str, patron: str = S.PATRON_CLEAN.id, when: datetime = WHEN) -> int:
    return journal.queue_offline(Kind.CHECKOUT, patron_id=patron, item_id=item, transaction_date=when,
                                 nb_due_date=DUE).id


def checkin(journal: Journal, item: str, when: datetime = WHEN) -> int:
    return journal.queue_offline(Kind.CHECKIN, patron_id=None, item_id=item, transaction_date=when).id


def renew(journal: Journal, item: str, patron: str = S.PATRON_VALID.id) -> int:
    return journal.queue_offline(Kind.RENEW, patron_id=patron, item_id=item, transaction_date=WHEN,
                                 nb_due_date=DUE).id


# --- the happy path -----------------------------------------------------------------------------------


def test_the_ils_sees_the_queue_in_order_with_no_block_and_each_answer_is_recorded(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    replayer = make(batch=3)
    ids = [checkout(journal, BOOKS[0]), checkout(journal, BOOKS[1]), checkin(journal, BOOKS[0]),
           renew(journal, S.ITEM_RENEWABLE), checkout(journal, BOOKS[0], patron=S.PATRON_OVERDUE.id),
           checkin(journal, S.ITEM_TRANSIT)]
    stats = replayer.drain()
    assert (stats.replayed, stats.rejected, stats.settled) == (6, 0, 0)
    ledger = sim.library.ledger()
    assert [(e.message, e.item, e.outcome, e.no_block) for e in ledger] == [
        ("11", BOOKS[0], "checked_out", True),
        ("11", BOOKS[1], "checked_out", True),
        ("09", BOOKS[0], "checked_in", True),
        ("29", S.ITEM_RENEWABLE, "renewed", True),
        ("11", BOOKS[0], "checked_out", True),
        ("09", S.ITEM_TRANSIT, "checked_in", True),
    ]
    assert ledger[4].patron == S.PATRON_OVERDUE.id
    rows = [journal.get(i) for i in ids]
    assert all(r.state is State.REPLAYED and r.ils_ok and r.attempts == 1 for r in rows)
    assert rows[0].title == "The Hobbit"
    assert rows[0].ils_due_date and decode_date(rows[0].ils_due_date)
    assert rows[3].due_before  # the renewal's pre-image was journaled with its claim
    assert journal.backlog() == 0


def test_a_dialect_that_honours_the_nb_due_date_keeps_the_patrons_date(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    replayer = make("alma")
    tx = checkout(journal, BOOKS[0])
    replayer.drain()
    row = journal.get(tx)
    assert decode_date(row.ils_due_date) == DUE
    assert row.note is None
    assert "nb due date honoured" in sim.library.ledger()[0].detail


def test_a_dialect_that_ignores_the_nb_due_date_gets_the_ils_own_date_recorded_for_staff(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    replayer = make("generic")
    tx = checkout(journal, BOOKS[0])
    replayer.drain()
    row = journal.get(tx)
    ils_due = decode_date(row.ils_due_date)
    assert ils_due is not None and ils_due.date() != DUE.date()
    assert row.note == f"the ILS set its own due date {ils_due.date()}; the patron was told {DUE.date()}"
    assert "own due date" in sim.library.ledger()[0].detail
    assert [r.id for r in report_sections(journal)["for information"]] == [tx]


def test_the_return_date_spares_the_fine_where_honoured_and_is_flagged_where_not(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    overdue_since = sim.library.loan(S.ITEM_OVERDUE)
    assert overdue_since is not None
    back_in_time = overdue_since.due - timedelta(days=1)  # returned before it was due
    replayer = make("koha")
    honoured = checkin(journal, S.ITEM_OVERDUE, when=back_in_time)
    replayer.drain()
    entry = sim.library.ledger(item=S.ITEM_OVERDUE)[0]
    assert "return date honoured" in entry.detail and "fine" not in entry.detail
    assert journal.get(honoured).note is None

    replayer = make("generic")
    ignored = checkin(journal, S.ITEM_OVERDUE, when=back_in_time)
    replayer.drain()
    entry = sim.library.ledger(item=S.ITEM_OVERDUE)[0]
    assert "own return date" in entry.detail and "fine" in entry.detail
    assert journal.get(ignored).note == (
        f"returned {back_in_time.date()}; this ILS may count today instead (check overdue fines)")


def test_a_checkin_of_an_item_not_on_loan_is_taken_not_rejected(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    replayer = make()
    tx = checkin(journal, BOOKS[0])
    replayer.drain()
    row = journal.get(tx)
    assert row.state is State.REPLAYED
    assert row.note is not None and row.note.startswith("the ILS says the item was not on loan (Item not checked out)")
    assert sim.library.ledger(item=BOOKS[0])[0].outcome == "not_on_loan"


# --- rejections ---------------------------------------------------------------------------------------


def test_rejected_replays_go_to_the_exceptions_report_and_the_queue_goes_on(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    replayer = make()
    unknown_patron = checkout(journal, BOOKS[0], patron=S.UNKNOWN_PATRON)
    unknown_item = checkin(journal, S.UNKNOWN_ITEM)
    not_on_loan = renew(journal, BOOKS[1])
    fine = checkout(journal, BOOKS[2])
    stats = replayer.drain()
    assert (stats.replayed, stats.rejected) == (1, 3)
    assert journal.get(fine).state is State.REPLAYED
    assert [(r.id, r.reason) for r in journal.needs_staff()] == [
        (unknown_patron, "Patron not found"),
        (unknown_item, "Item not found"),
        (not_on_loan, "Item not checked out"),
    ]
    text = report_text(report_sections(journal))
    assert text.startswith("Transactions that need staff: 3\n")
    assert f"#{unknown_patron} rejected offline checkout" in text
    assert f"kiosk queue retry {unknown_patron}" in text
    lines = report_csv(report_sections(journal)).splitlines()
    assert lines[0].startswith("section,id,state,kind,mode,transaction_date,patron_id,item_id")
    assert lines[1].startswith(f"needs staff,{unknown_patron},rejected,checkout,offline,{WHEN.isoformat()},"
                               f"{S.UNKNOWN_PATRON},{BOOKS[0]}")


def test_a_barcode_the_ils_character_set_cannot_carry_is_rejected_without_holding_up_the_queue(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    replayer = make("generic")  # cp850: no euro sign
    odd_checkout = checkout(journal, "31234€")
    odd_renewal = renew(journal, "31234€")
    fine = checkout(journal, BOOKS[0])
    stats = replayer.drain()
    assert (stats.replayed, stats.rejected) == (1, 2)
    for tx in (odd_checkout, odd_renewal):
        row = journal.get(tx)
        assert row.state is State.REJECTED
        assert row.reason is not None and row.reason.startswith("cannot be sent to the ILS: ")
    assert journal.get(fine).state is State.REPLAYED
    assert [e.item for e in sim.library.ledger()] == [BOOKS[0]]


def test_a_retried_rejection_is_replayed_again_at_the_end(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    replayer = make()
    blocked = renew(journal, BOOKS[1])
    replayer.drain()
    assert journal.get(blocked).state is State.REJECTED
    # Staff fix the cause: the item is lent to the patron at the desk. Then retry.
    sim.library.checkout(S.PATRON_VALID.id, BOOKS[1])
    queued_meanwhile = checkout(journal, BOOKS[2])
    journal.retry(blocked)
    replayer.drain()
    row = journal.get(blocked)
    assert (row.state, row.attempts) == (State.REPLAYED, 2)
    assert [e.item for e in sim.library.ledger(applied=True)][-2:] == [BOOKS[2], BOOKS[1]]
    assert journal.get(queued_meanwhile).state is State.REPLAYED


# --- lost answers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "applied"),
    [("drop_before", False), ("drop_after", True), ("garbage", True), ("stall_before", False),
     ("stall_after", True)],
)
def test_a_lost_answer_is_settled_by_asking_and_never_resent_blind(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer], fault: str, applied: bool
) -> None:
    replayer = make(batch=4, timeout=0.3, lost_answer_wait=0.2)  # covers a merely slow answer
    ids = [checkout(journal, BOOKS[n]) for n in range(4)]
    {
        "drop_before": lambda: sim.faults.drop(code="11", after=1, when=When.BEFORE_APPLY),
        "drop_after": lambda: sim.faults.drop(code="11", after=1, when=When.AFTER_APPLY),
        "garbage": lambda: sim.faults.garbage(code="11", after=1),
        "stall_before": lambda: sim.faults.stall(code="11", after=1, when=When.BEFORE_APPLY),
        "stall_after": lambda: sim.faults.stall(code="11", after=1, when=When.AFTER_APPLY),
    }[fault]()
    stats = replayer.drain()
    assert [f.code for f in sim.faults.fired] == ["11"]
    assert (stats.settled, stats.requeued, stats.replayed) == (1, 0 if applied else 1, 4)
    assert [sim.library.applied("11", item=BOOKS[n]) for n in range(4)] == [1, 1, 1, 1]
    assert all(journal.get(i).state is State.REPLAYED for i in ids)
    second = journal.get(ids[1])
    assert second.resolved_by == ("17: on loan; 63: among the patron's 2 charged items" if applied
                                  else "17: the item is not on loan (status 03)")
    assert second.attempts == (1 if applied else 2)


def test_a_request_the_ils_applies_after_the_timeout_is_not_sent_twice(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    # The ILS takes 0.6 s, the client gives up after 0.2 s: only waiting before asking keeps the
    # second request from racing the first (lost_answer_wait).
    replayer = make(timeout=0.2, lost_answer_wait=1.0)
    tx = checkout(journal, BOOKS[0])
    sim.faults.latency(0.6, code="11", when=When.BEFORE_APPLY)
    threading.Timer(0.1, sim.faults.latency, args=(0,), kwargs={"code": "11"}).start()
    replayer.drain()
    threading.Event().wait(0.6)  # long enough for the slow request to land, whenever drain ended
    assert sim.library.applied("11", item=BOOKS[0]) == 1
    assert journal.get(tx).state is State.REPLAYED
    assert journal.get(tx).resolved_by is not None


def test_an_unreachable_ils_leaves_the_batch_queued_untouched(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    replayer = make(batch=5)
    ids = [checkout(journal, BOOKS[n]) for n in range(3)]
    sim.stop()
    try:
        with pytest.raises(SIP2ConnectionError):
            replayer.drain()
        assert [journal.get(i).state for i in ids] == [State.QUEUED] * 3
        assert journal.in_flight() == []
    finally:
        sim.start()
    replayer.drain()
    assert [journal.get(i).state for i in ids] == [State.REPLAYED] * 3


def test_a_lost_answer_the_ils_cannot_be_asked_about_stays_in_flight_until_it_can(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    replayer = make(batch=3)
    ids = [checkout(journal, BOOKS[n]) for n in range(3)]
    sim.faults.drop(code="11", after=1, when=When.AFTER_APPLY)
    sim.faults.drop(code="17", times=None)  # and the questions get no answer either
    with pytest.raises(SIP2ConnectionError):
        replayer.drain()
    assert [journal.get(i).state for i in ids] == [State.REPLAYED, State.SENDING, State.QUEUED]
    sim.faults.reset()
    # A restart: a new replayer on the same journal.
    restarted = Replayer(journal, replayer.client, replayer.dialect, replayer.options)
    restarted.drain()
    assert restarted.stats.settled == 1
    assert [journal.get(i).state for i in ids] == [State.REPLAYED] * 3
    assert [sim.library.applied("11", item=BOOKS[n]) for n in range(3)] == [1, 1, 1]


# --- other owners' work -------------------------------------------------------------------------------


def test_orphans_of_a_dead_kiosk_are_settled_and_a_live_kiosks_are_left_alone(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    replayer = make()
    host, port = sim.address
    kiosk = Journal.open(journal.path)  # the kiosk UI process's own handle
    assert kiosk.own("kiosk")
    with SIP2Client(ClientConfig(host=host, port=port, username="demo")) as kiosk_client:
        tx = kiosk.begin_online(Kind.CHECKOUT, patron_id=S.PATRON_CLEAN.id, item_id=BOOKS[0],
                                transaction_date=NOW, owner="kiosk")
        sim.faults.drop(code="11", when=When.AFTER_APPLY)
        with pytest.raises(OutcomeUnknown):
            kiosk_client.checkout(S.PATRON_CLEAN.id, BOOKS[0])
    assert replayer.settle_orphans() == 0  # the kiosk is alive: its request may still be on the wire
    assert journal.get(tx.id).state is State.SENDING
    kiosk.close()  # the kiosk dies (the kernel drops its lock the same way on SIGKILL)
    assert replayer.settle_orphans() == 1
    row = journal.get(tx.id)
    assert (row.state, row.resolved_by) == (State.CONFIRMED, "17: on loan; 63: among the patron's 1 charged items")
    assert sim.library.applied("11", item=BOOKS[0]) == 1


# --- the kiosk sync loop ------------------------------------------------------------------------------


def test_run_once_drains_and_reports_an_unreachable_ils_with_exit_1(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    replayer = make()
    checkout(journal, BOOKS[0])
    assert run(replayer, once=True, stop=threading.Event(), retention_days=30) == 0
    assert journal.backlog() == 0
    checkout(journal, BOOKS[1])
    replayer.client.close()
    sim.stop()
    try:
        assert run(replayer, once=True, stop=threading.Event(), retention_days=30) == 1
        assert journal.backlog() == 1
    finally:
        sim.start()


def test_the_loop_backs_off_while_the_ils_is_down_and_replays_when_it_returns(
    sim: IlsSimulator, journal: Journal, make: Callable[..., Replayer]
) -> None:
    replayer = make()
    tx = checkout(journal, BOOKS[0])
    sim.stop()
    stop = threading.Event()
    timing = LoopTiming(retry_min=0.05, retry_max=0.2, poll=0.05)
    worker = threading.Thread(target=run, kwargs={"replayer": replayer, "once": False, "stop": stop,
                                                  "retention_days": 30, "timing": timing})
    worker.start()
    try:
        threading.Event().wait(0.3)  # several failed attempts
        assert journal.get(tx).state is State.QUEUED
        sim.start()
        for _ in range(200):
            if journal.get(tx).state is State.REPLAYED:
                break
            threading.Event().wait(0.05)
        queued_later = checkout(journal, BOOKS[1])  # new work is picked up by the poll
        for _ in range(200):
            if journal.get(queued_later).state is State.REPLAYED:
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        worker.join(timeout=10)
        if not sim.running:
            sim.start()
    assert not worker.is_alive()
    assert journal.get(tx).state is State.REPLAYED
    assert journal.get(queued_later).state is State.REPLAYED
