"""The journal: durable settings, schema migrations, the state machine, privacy, two processes."""

from __future__ import annotations

import inspect
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from hardware_mocks.ils import IlsSimulator, When, load_sample_data
from hardware_mocks.ils import scenarios as S
from kiosk.sync import journal as journal_module
from kiosk.sync.journal import (
    SCHEMA_VERSION,
    Answer,
    Journal,
    JournalBusy,
    JournalError,
    JournalStateError,
    Kind,
    Mode,
    ReplayOutcome,
    State,
    mask_patron_id,
    migrate,
    schema_version,
)
from kiosk.sync.resolve import settle
from sip2.client import ClientConfig, SIP2Client
from sip2.errors import OutcomeUnknown

WHEN = datetime(2026, 3, 2, 10, 15, 0)
DUE = datetime(2026, 3, 23, 23, 59, 59)
PATRON = S.PATRON_CLEAN.id
BOOKS = S.AVAILABLE_BOOKS


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.sqlite"


@pytest.fixture
def journal(path: Path) -> Journal:
    with Journal.open(path) as j:
        assert j.own("kiosk")  # the role online intents are written under
        yield j


def queue_checkout(journal: Journal, item: str, patron: str = PATRON) -> int:
    return journal.queue_offline(Kind.CHECKOUT, patron_id=patron, item_id=item, transaction_date=WHEN,
                                 nb_due_date=DUE).id


# --- storage settings and schema ----------------------------------------------------------------------


def test_a_new_journal_is_wal_with_full_fsync_at_the_latest_schema_and_not_world_readable(path: Path) -> None:
    with Journal.open(path) as journal:
        assert journal.db.execute("pragma journal_mode").fetchone()[0] == "wal"
        assert journal.db.execute("pragma synchronous").fetchone()[0] == 2  # FULL
        assert schema_version(journal.db) == SCHEMA_VERSION == 2
    assert path.stat().st_mode & 0o007 == 0
    assert path.parent.is_dir()  # created with its directory


def _v1_file(path: Path) -> None:
    """A journal exactly as the first release wrote it: migration 1 only, with rows in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.conn.isolation_level = None
    db.execute("begin immediate")
    migrate(db, target=1)
    db.execute("commit")
    columns = ("id, seq, kind, mode, state, patron_id, item_id, transaction_date, nb_due_date, return_date, "
               "session_ref, owner, attempts, ils_ok, reason, ils_due_date, title, note, created_at, updated_at, "
               "settled_at, purged_at")
    db.execute(
        f"insert into transactions ({columns}) values "
        "(1, 1, 'checkout', 'offline', 'queued', ?, ?, '2026-03-02T10:15:00', '2026-03-23T23:59:59', null, "
        "'s1', null, 0, null, null, null, null, null, '2026-03-02T09:15:00', '2026-03-02T09:15:00', null, null)",
        [PATRON, BOOKS[0]],
    )
    db.execute(
        f"insert into transactions ({columns}) values "
        "(2, 2, 'checkin', 'online', 'confirmed', null, ?, '2026-03-02T10:16:00', null, null, "
        "'s1', 'kiosk', 1, 1, null, null, 'Moby-Dick', null, '2026-03-02T09:16:00', '2026-03-02T09:16:01', "
        "'2026-03-02T09:16:01', null)",
        [BOOKS[2]],
    )
    db.close()


def test_a_v1_journal_is_migrated_in_place_keeping_its_rows(path: Path) -> None:
    _v1_file(path)
    raw = sqlite_utils.Database(path)
    assert schema_version(raw) == 1
    assert "due_before" not in raw["transactions"].columns_dict
    raw.close()

    with Journal.open(path) as journal:
        assert schema_version(journal.db) == SCHEMA_VERSION
        assert {"due_before", "resolved_by"} <= set(journal.db["transactions"].columns_dict)
        assert {"transactions_queue", "transactions_settled"} <= {i.name for i in journal.db["transactions"].indexes}
        queued, confirmed = journal.transactions()
        assert (queued.state, queued.kind, queued.patron_id, queued.nb_due_date) == (
            State.QUEUED, Kind.CHECKOUT, PATRON, DUE)
        assert (confirmed.state, confirmed.title, confirmed.due_before) == (State.CONFIRMED, "Moby-Dick", None)
        # The migrated file works as a new one: the old queued row is claimed, new rows follow it.
        later = queue_checkout(journal, BOOKS[1])
        assert [r.id for r in journal.claim("sync", 10)] == [1, later]


def test_opening_twice_migrates_once(path: Path) -> None:
    Journal.open(path).close()
    with Journal.open(path) as journal:
        assert journal.db.execute("select count(*) from schema_version").fetchone()[0] == 1
        assert schema_version(journal.db) == SCHEMA_VERSION


def test_a_journal_from_a_newer_kiosk_is_refused(path: Path) -> None:
    Journal.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("update schema_version set version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="v99 is newer than this kiosk understands"):
        Journal.open(path)


def test_a_path_that_cannot_be_created_is_one_typed_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(JournalError, match="cannot open"):
        Journal.open(blocker / "journal.sqlite")


# --- recording before acting ------------------------------------------------------------------------


def test_only_the_owner_of_a_role_may_send_under_it_and_closing_frees_the_role(path: Path) -> None:
    with Journal.open(path) as first, Journal.open(path) as second:
        with pytest.raises(JournalError, match=r"take the owner lock before sending as 'kiosk'"):
            first.begin_online(Kind.CHECKIN, patron_id=None, item_id=BOOKS[0], transaction_date=WHEN, owner="kiosk")
        assert first.own("kiosk") and first.owns("kiosk")
        assert not second.own("kiosk")  # a second kiosk process on the same journal
        first.close()
        assert second.own("kiosk")
        second.begin_online(Kind.CHECKIN, patron_id=None, item_id=BOOKS[0], transaction_date=WHEN, owner="kiosk")
        assert [t.owner for t in second.in_flight()] == ["kiosk"]


def test_an_intent_is_on_disk_before_the_call_returns_and_seen_by_another_process(journal: Journal, path: Path) -> None:
    tx = journal.begin_online(Kind.CHECKOUT, patron_id=PATRON, item_id=BOOKS[0], transaction_date=WHEN,
                              owner="kiosk", session_ref="session-7")
    out = subprocess.run(
        [sys.executable, "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
         "print(c.execute('select state, owner, item_id, session_ref from transactions where id=?',"
         " (int(sys.argv[2]),)).fetchone())", str(path), str(tx.id)],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == f"('sending', 'kiosk', '{BOOKS[0]}', 'session-7')"
    assert journal.in_flight("kiosk") == [tx]
    assert journal.in_flight("sync") == []


def test_offline_transactions_carry_everything_a_replay_needs(journal: Journal) -> None:
    out = journal.queue_offline(Kind.CHECKOUT, patron_id=PATRON, item_id=BOOKS[0], transaction_date=WHEN,
                                nb_due_date=DUE, session_ref="s1")
    back = journal.queue_offline(Kind.CHECKIN, patron_id=None, item_id=BOOKS[1], transaction_date=WHEN)
    renew = journal.queue_offline(Kind.RENEW, patron_id=PATRON, item_id=BOOKS[2], transaction_date=WHEN,
                                  nb_due_date=DUE)
    assert (out.mode, out.state, out.transaction_date, out.nb_due_date, out.return_date) == (
        Mode.OFFLINE, State.QUEUED, WHEN, DUE, None)
    assert back.return_date == WHEN  # the return date defaults to the transaction date
    assert renew.nb_due_date == DUE
    assert [out.seq, back.seq, renew.seq] == sorted([out.seq, back.seq, renew.seq])
    assert journal.backlog() == 3


@pytest.mark.parametrize(
    ("kind", "kwargs", "message"),
    [
        (Kind.CHECKOUT, {"patron_id": PATRON, "item_id": BOOKS[0]}, "needs the due date the patron was given"),
        (Kind.CHECKOUT, {"patron_id": None, "item_id": BOOKS[0], "nb_due_date": DUE}, "patron id is required"),
        (Kind.CHECKOUT, {"patron_id": PATRON, "item_id": "31|2", "nb_due_date": DUE}, "cannot be sent in a SIP2"),
        (Kind.CHECKIN, {"patron_id": None, "item_id": BOOKS[0], "nb_due_date": DUE}, "not a due date"),
        (Kind.RENEW, {"patron_id": PATRON, "item_id": BOOKS[0], "return_date": WHEN}, "not a return date"),
        (Kind.CHECKIN, {"patron_id": None, "item_id": ""}, "item id is required"),
    ],
)
def test_a_transaction_that_could_never_be_replayed_is_refused_when_written(
    journal: Journal, kind: Kind, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        journal.queue_offline(kind, transaction_date=WHEN, **kwargs)
    assert journal.transactions() == []


# --- the state machine ------------------------------------------------------------------------------


def test_online_outcomes_settle_the_intent_once(journal: Journal) -> None:
    tx = journal.begin_online(Kind.CHECKOUT, patron_id=PATRON, item_id=BOOKS[0], transaction_date=WHEN, owner="kiosk")
    journal.confirm(tx.id, Answer(True, due_date="20260323    235959", title="The Hobbit"))
    done = journal.get(tx.id)
    assert (done.state, done.ils_ok, done.ils_due_date, done.settled) == (State.CONFIRMED, True,
                                                                         "20260323    235959", True)
    assert done.settled_at is not None
    with pytest.raises(JournalStateError, match=f"transaction {tx.id} is confirmed"):
        journal.refuse(tx.id, Answer(False, reason="late"))
    refused = journal.begin_online(Kind.RENEW, patron_id=PATRON, item_id=BOOKS[1], transaction_date=WHEN,
                                   owner="kiosk")
    journal.refuse(refused.id, Answer(False, reason="Item has reached the maximum number of renewals"))
    assert journal.get(refused.id).reason == "Item has reached the maximum number of renewals"
    with pytest.raises(JournalStateError, match="no transaction 999"):
        journal.confirm(999, Answer(True))


def test_an_online_intent_the_ilS_never_got_can_join_the_offline_queue_behind_older_ones(journal: Journal) -> None:
    older = queue_checkout(journal, BOOKS[0])
    tx = journal.begin_online(Kind.CHECKOUT, patron_id=PATRON, item_id=BOOKS[1], transaction_date=WHEN, owner="kiosk")
    later = queue_checkout(journal, BOOKS[2])
    moved = journal.queue_instead(tx.id, nb_due_date=DUE)
    assert (moved.mode, moved.state, moved.owner, moved.nb_due_date) == (Mode.OFFLINE, State.QUEUED, None, DUE)
    assert [r.id for r in journal.transactions([State.QUEUED])] == [older, later, tx.id]


def test_a_claim_is_fifo_one_transaction_per_item_and_a_renewal_goes_alone_with_its_pre_image(
    journal: Journal,
) -> None:
    a = queue_checkout(journal, BOOKS[0])
    b = queue_checkout(journal, BOOKS[1])
    again = journal.queue_offline(Kind.CHECKIN, patron_id=None, item_id=BOOKS[0], transaction_date=WHEN).id
    renew = journal.queue_offline(Kind.RENEW, patron_id=PATRON, item_id=BOOKS[3], transaction_date=WHEN,
                                  nb_due_date=DUE).id
    c = queue_checkout(journal, BOOKS[4])

    first = journal.claim("sync", 10)
    assert [r.id for r in first] == [a, b]  # stops before the second transaction on BOOKS[0]
    assert all(r.state is State.SENDING and r.owner == "sync" and r.attempts == 1 for r in first)
    journal.record_replays([ReplayOutcome(a, Answer(True)), ReplayOutcome(b, Answer(False, reason="no"))])
    assert [r.id for r in journal.claim("sync", 10)] == [again]  # a renewal never joins a batch
    journal.record_replays([ReplayOutcome(again, Answer(True))])
    assert journal.claim("sync", 10) == []  # the head is a renewal without its pre-image
    alone = journal.claim("sync", 10, pre_images={renew: "20260310    235959"})
    assert [(r.id, r.due_before) for r in alone] == [(renew, "20260310    235959")]
    journal.release([renew])
    assert journal.queue_head().id == renew  # released: back in its place, not at the end
    assert journal.get(renew).due_before == "20260310    235959"
    assert [r.id for r in journal.claim("sync", 10, pre_images={renew: "x"})] == [renew]
    journal.record_replays([], release=[renew])
    assert journal.get(c).state is State.QUEUED
    assert {journal.get(a).state, journal.get(b).state} == {State.REPLAYED, State.REJECTED}


def test_staff_retry_puts_a_rejection_at_the_end_and_resolve_settles_it(journal: Journal) -> None:
    a = queue_checkout(journal, BOOKS[0])
    b = queue_checkout(journal, BOOKS[1])
    journal.claim("sync", 1)
    journal.record_replays([ReplayOutcome(a, Answer(False, reason="Patron account is blocked"))])
    assert [r.id for r in journal.needs_staff()] == [a]
    again = journal.retry(a)
    assert (again.state, again.reason, again.settled_at) == (State.QUEUED, None, None)
    assert [r.id for r in journal.transactions([State.QUEUED])] == [b, a]
    with pytest.raises(JournalStateError, match="is queued"):
        journal.retry(a)
    done = journal.resolve(a, "lent at the desk")
    assert (done.state, done.note, done.settled) == (State.RESOLVED, "lent at the desk", True)
    online = journal.begin_online(Kind.CHECKIN, patron_id=None, item_id=BOOKS[2], transaction_date=WHEN,
                                  owner="kiosk")
    journal.record_resolution(online.id, applied=None, evidence="17: could not tell")
    with pytest.raises(JournalStateError, match=r"unknown \(online\), not rejected or unknown \(offline\)"):
        journal.retry(online.id)  # an online transaction is never replayed: staff resolve it
    assert journal.resolve(online.id).state is State.RESOLVED


def test_a_resolution_maps_onto_the_mode(journal: Journal) -> None:
    online = journal.begin_online(Kind.CHECKOUT, patron_id=PATRON, item_id=BOOKS[0], transaction_date=WHEN,
                                  owner="kiosk")
    journal.record_resolution(online.id, applied=False, evidence="17: not on loan")
    assert journal.get(online.id).state is State.FAILED
    offline = queue_checkout(journal, BOOKS[1])
    journal.claim("sync", 1)
    journal.record_resolution(offline, applied=False, evidence="17: not on loan")
    assert (journal.get(offline).state, journal.get(offline).resolved_by) == (State.QUEUED, "17: not on loan")
    journal.claim("sync", 1)
    journal.record_resolution(offline, applied=True, evidence="63: among", due_date="20260323    235959")
    assert (journal.get(offline).state, journal.get(offline).ils_due_date) == (State.REPLAYED, "20260323    235959")


# --- privacy ----------------------------------------------------------------------------------------


def test_no_method_takes_a_pin() -> None:
    for name, method in inspect.getmembers(journal_module.Journal, inspect.isfunction):
        params = set(inspect.signature(method).parameters)
        assert not {p for p in params if "pin" in p or "password" in p}, name


def test_the_pin_used_at_the_ils_never_reaches_the_journal_file(tmp_path: Path) -> None:
    pin = "Zq7-pin-4711"
    data = load_sample_data()
    for patron in data["patrons"]:
        if patron["id"] == PATRON:
            patron["pin"] = pin
    path = tmp_path / "journal.sqlite"
    with IlsSimulator() as sim:
        sim.reset(data=data)
        host, port = sim.address
        with SIP2Client(ClientConfig(host=host, port=port, username="demo", timeout=2)) as client, \
                Journal.open(path) as journal:
            assert journal.own("kiosk")
            tx = journal.begin_online(Kind.CHECKOUT, patron_id=PATRON, item_id=BOOKS[0], transaction_date=WHEN,
                                      owner="kiosk")
            answer = client.checkout(PATRON, BOOKS[0], pin=pin)
            assert answer.ok
            journal.confirm(tx.id, Answer(True, due_date=answer.due_date, title=answer.title,
                                          reason="; ".join(answer.screen_messages) or None))
            sim.faults.drop(code="11", when=When.AFTER_APPLY)
            lost = journal.begin_online(Kind.CHECKOUT, patron_id=PATRON, item_id=BOOKS[1], transaction_date=WHEN,
                                        owner="kiosk")
            with pytest.raises(OutcomeUnknown) as caught:
                client.checkout(PATRON, BOOKS[1], pin=pin)
            settled, _ = settle(journal, journal.get(lost.id), client)
            assert settled.state is State.CONFIRMED
            journal.fail(journal.begin_online(Kind.RENEW, patron_id=PATRON, item_id=BOOKS[1], transaction_date=WHEN,
                                              owner="kiosk").id, str(caught.value))
            stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("journal.sqlite"))
    assert PATRON.encode() in stored  # the search does find what is there
    assert pin.encode() not in stored


def test_purge_masks_patron_ids_of_transactions_settled_before_the_window_only(path: Path) -> None:
    now = [datetime(2026, 3, 1, 12, 0, tzinfo=UTC)]
    with Journal.open(path, clock=lambda: now[0]) as journal:
        assert journal.own("kiosk")
        old_ok = journal.begin_online(Kind.CHECKOUT, patron_id=PATRON, item_id=BOOKS[0], transaction_date=WHEN,
                                      owner="kiosk").id
        journal.confirm(old_ok, Answer(True))
        old_rejected = queue_checkout(journal, BOOKS[1], patron=S.PATRON_BLOCKED.id)
        journal.claim("sync", 1)
        journal.record_replays([ReplayOutcome(old_rejected, Answer(False, reason="blocked"))])
        old_queued = queue_checkout(journal, BOOKS[2])
        now[0] += timedelta(days=20)
        recent = journal.begin_online(Kind.RENEW, patron_id=S.PATRON_VALID.id, item_id=BOOKS[3],
                                      transaction_date=WHEN, owner="kiosk").id
        journal.refuse(recent, Answer(False, reason="limit"))
        now[0] += timedelta(days=11)  # old ones settled 31 days ago, the recent one 11

        assert journal.purge(30) == 1
        assert journal.get(old_ok).patron_id == "**********0026"
        assert journal.get(old_ok).purged_at == datetime(2026, 4, 1, 12, 0)
        assert journal.get(old_rejected).patron_id == S.PATRON_BLOCKED.id  # staff still need it
        assert journal.get(old_queued).patron_id == PATRON  # not even sent yet
        assert journal.get(recent).patron_id == S.PATRON_VALID.id
        assert journal.purge(30) == 0  # idempotent
        assert journal.purge(10) == 1
        assert journal.get(recent).patron_id == mask_patron_id(S.PATRON_VALID.id)
        journal.resolve(old_rejected, "handled at the desk")
        assert journal.purge(0) == 1
    assert PATRON.encode() in b"".join(p.read_bytes() for p in path.parent.iterdir())  # the queued one
    conn = sqlite3.connect(path)
    assert conn.execute("select count(*) from transactions where patron_id like '*%'").fetchone()[0] == 3
    conn.close()


def test_mask_keeps_the_last_four_characters_of_a_card_number_only() -> None:
    assert mask_patron_id("21234000000018") == "**********0018"
    assert mask_patron_id("12345") == "*****"


# --- two processes ----------------------------------------------------------------------------------


def test_a_writer_waits_for_the_other_processes_write_lock_and_then_succeeds(journal: Journal, path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None);"
         "c.execute('begin immediate'); print('locked', flush=True); time.sleep(0.4); c.execute('commit')",
         str(path)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    tx = queue_checkout(journal, BOOKS[0])  # blocks until the other process commits
    assert holder.wait(timeout=10) == 0
    assert journal.get(tx).state is State.QUEUED


def test_a_write_lock_held_past_the_busy_timeout_is_a_typed_error_and_nothing_is_half_written(path: Path) -> None:
    with Journal.open(path) as first, Journal.open(path, busy_timeout=0.05) as second:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("begin immediate")
        with pytest.raises(JournalBusy, match="still locked by another process"):
            queue_checkout(second, BOOKS[0])
        conn.execute("rollback")
        conn.close()
        assert first.transactions() == []
        queue_checkout(second, BOOKS[0])
        assert len(first.transactions()) == 1


def test_concurrent_writers_and_claimers_never_share_a_sequence_number_or_a_claim(path: Path) -> None:
    handles = [Journal.open(path) for _ in range(4)]
    claimed: list[list[int]] = [[] for _ in handles]
    errors: list[BaseException] = []

    def writer(j: Journal, offset: int) -> None:
        try:
            for n in range(20):
                queue_checkout(j, f"3123400{offset:02d}{n:05d}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    def claimer(j: Journal, into: list[int]) -> None:
        try:
            for _ in range(40):
                into.extend(r.id for r in j.claim(f"c{id(into) % 1000}", 3))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(handles[0], 1)),
        threading.Thread(target=writer, args=(handles[1], 2)),
        threading.Thread(target=claimer, args=(handles[2], claimed[2])),
        threading.Thread(target=claimer, args=(handles[3], claimed[3])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = handles[0].transactions()
    assert len(rows) == 40
    assert sorted(r.seq for r in rows) == list(range(1, 41))
    taken = claimed[2] + claimed[3]
    assert len(taken) == len(set(taken))  # no transaction claimed twice
    assert {r.id for r in rows if r.state is State.SENDING} == set(taken)
    for j in handles:
        j.close()
