"""The transaction journal: every circulation transaction, written down before the ILS is asked.

Why a journal at all (DESIGN §2.5, §2.6): the kiosk may only tell a patron "done" for what the ILS
confirmed or what it durably recorded for later, and after a crash it must know what was in flight
so it can ask the ILS instead of guessing (a resent checkout is a renewal on most ILSs).

Why these storage choices:

* SQLite in WAL mode with ``synchronous=FULL``: a commit is on disk when ``commit`` returns, power
  cut or not, and the kiosk UI (which writes intents) and ``kiosk sync`` (which replays) can read
  while the other writes.
* Every write is one short ``BEGIN IMMEDIATE`` transaction: the write lock is taken up front, so two
  processes never deadlock upgrading a read to a write, and a claim (queued -> sending) is atomic.
  A writer that finds the lock held waits up to the busy timeout, then gets :class:`JournalBusy`.
* No parameter anywhere takes a PIN, and no raw SIP2 frame or request repr is stored (they carry AD).
* Patron ids of settled transactions are masked once the retention window has passed
  (:meth:`Journal.purge`); transactions staff still have to look at keep theirs.
* The schema is versioned (:mod:`kiosk.sync.schema`): opening a file applies the migrations it
  lacks, in order, in one transaction.

States (a transaction moves only along these arrows; anything else is :class:`JournalStateError`)::

    online:  sending -> confirmed | refused | failed | unknown        (failed: never applied)
             sending -> queued (offline)   the ILS was unreachable before the request went out
    offline: queued -> sending -> replayed | rejected | unknown | queued (not sent after all)
    staff:   rejected | unknown (offline) -> queued (retry, at the end of the queue)
             rejected | unknown | queued -> resolved

``sending`` means "the request may be on the wire": after a crash only the ILS can say what
happened (:mod:`kiosk.sync.resolve`). ``unknown`` means the ILS could not say either, so staff must.

Dates the ILS sees (transaction date, nb due date, return date) are stored as given, naive = local
time as in SIP2; the journal's own bookkeeping times (created, updated, settled, purged) are UTC.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlite_utils

from kiosk.sync.owner_lock import OwnerLock
from kiosk.sync.schema import MIGRATIONS, SCHEMA_VERSION, SchemaTooNew, migrate, schema_version

__all__ = [
    "MIGRATIONS", "NEEDS_STAFF", "OPEN", "SCHEMA_VERSION", "SETTLED", "Answer", "Journal", "JournalBusy",
    "JournalError", "JournalStateError", "Kind", "Mode", "ReplayOutcome", "State", "Transaction",
    "mask_patron_id", "migrate", "schema_version",
]


class JournalError(Exception):
    """The journal cannot do what was asked; the message names the file and the reason."""


class JournalBusy(JournalError):
    """The other process held the write lock for longer than the busy timeout."""


class JournalStateError(JournalError):
    """No such transaction, or it is not in a state that allows the change asked for."""


class Kind(StrEnum):
    CHECKOUT = "checkout"
    CHECKIN = "checkin"
    RENEW = "renew"


class Mode(StrEnum):
    ONLINE = "online"  # sent while the patron waits
    OFFLINE = "offline"  # recorded under the offline policy, replayed later by kiosk sync


class State(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    CONFIRMED = "confirmed"
    REFUSED = "refused"
    FAILED = "failed"
    REPLAYED = "replayed"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    RESOLVED = "resolved"


#: Finished for good: nothing will be sent and nobody has to look at it.
SETTLED = frozenset({State.CONFIRMED, State.REFUSED, State.FAILED, State.REPLAYED, State.RESOLVED})
#: Waiting for staff (the exceptions report).
NEEDS_STAFF = frozenset({State.REJECTED, State.UNKNOWN})
#: Not settled, in the order staff read them.
OPEN = (State.SENDING, State.QUEUED, State.UNKNOWN, State.REJECTED)

_FORBIDDEN = re.compile(r"[|\r\n]")


@dataclass(frozen=True, slots=True)
class Transaction:
    """One journal row."""

    id: int
    seq: int  # replay order: FIFO by seq
    kind: Kind
    mode: Mode
    state: State
    patron_id: str | None  # masked once settled and past the retention window
    item_id: str
    transaction_date: datetime
    nb_due_date: datetime | None  # offline checkout / renewal: the due date the patron was given
    return_date: datetime | None  # offline checkin: when the item came back
    session_ref: str | None
    owner: str | None  # who is sending it (a process role, see kiosk.sync.owner_lock)
    attempts: int
    ils_ok: bool | None
    reason: str | None  # the ILS's refusal text, or why the outcome is unknown
    ils_due_date: str | None  # the due date the ILS answered (AH), as it sent it
    title: str | None
    note: str | None  # for staff: what differs from what the patron was told, staff's own note
    due_before: str | None  # renewals: the ILS's due date before the request (for resolution)
    resolved_by: str | None  # how an outcome lost in flight was found out
    created_at: datetime
    updated_at: datetime
    settled_at: datetime | None
    purged_at: datetime | None

    @property
    def settled(self) -> bool:
        return self.state in SETTLED

    @property
    def needs_staff(self) -> bool:
        return self.state in NEEDS_STAFF


@dataclass(frozen=True, slots=True)
class Answer:
    """What the ILS answered to one request, as the journal keeps it (never the raw frame)."""

    ok: bool
    reason: str | None = None
    due_date: str | None = None
    title: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """The ILS's answer to one replayed transaction: ``replayed`` if it took it, else ``rejected``."""

    id: int
    answer: Answer

    @property
    def state(self) -> State:
        return State.REPLAYED if self.answer.ok else State.REJECTED


def mask_patron_id(patron_id: str) -> str:
    """Keep the last 4 characters, as on receipts: enough for staff to match a card in hand."""
    keep = 4 if len(patron_id) > 6 else 0
    return "*" * (len(patron_id) - keep) + patron_id[len(patron_id) - keep :]


# --------------------------------------------------------------------------------------------------
# The journal


def _utc(clock: Callable[[], datetime]) -> str:
    return clock().astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _date_text(value: datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat()


def _date(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _row_to_transaction(row: Mapping[str, Any]) -> Transaction:
    return Transaction(
        id=row["id"],
        seq=row["seq"],
        kind=Kind(row["kind"]),
        mode=Mode(row["mode"]),
        state=State(row["state"]),
        patron_id=row["patron_id"],
        item_id=row["item_id"],
        transaction_date=datetime.fromisoformat(row["transaction_date"]),
        nb_due_date=_date(row["nb_due_date"]),
        return_date=_date(row["return_date"]),
        session_ref=row["session_ref"],
        owner=row["owner"],
        attempts=row["attempts"],
        ils_ok=None if row["ils_ok"] is None else bool(row["ils_ok"]),
        reason=row["reason"],
        ils_due_date=row["ils_due_date"],
        title=row["title"],
        note=row["note"],
        due_before=row["due_before"],
        resolved_by=row["resolved_by"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        settled_at=_date(row["settled_at"]),
        purged_at=_date(row["purged_at"]),
    )


def _check_id(name: str, value: str | None, *, required: bool) -> None:
    """Reject now what could never be replayed: a value SIP2 cannot carry in a field."""
    if value is None or value == "":
        if required:
            raise ValueError(f"{name} is required")
        return
    if not isinstance(value, str) or _FORBIDDEN.search(value):
        raise ValueError(f"{name} {value!r} cannot be sent in a SIP2 field (no |, CR or LF)")


class Journal:
    """One process's handle on the journal file. Thread-safe (one connection behind a lock)."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._conn = conn
        self.path = path
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        self._lock = threading.RLock()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._table = self.db["transactions"]
        self._owned: dict[str, OwnerLock] = {}

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        clock: Callable[[], datetime] | None = None,
    ) -> Journal:
        """Open (creating it and its directory if need be) and migrate the journal at ``path``."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                # Patron ids inside: readable by the kiosk's user and group only. SQLite gives the
                # -wal and -shm files the database file's mode.
                os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o660))
            conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"journal {path}: cannot open: {exc}") from exc
        journal = cls(conn, path, clock=clock)
        try:
            with journal._errors():
                journal.db.enable_wal()
                mode = journal.db.journal_mode
                if mode != "wal":
                    raise JournalError(f"journal {path}: SQLite refused WAL mode (got {mode!r})")
                conn.execute("pragma synchronous = full")
                # Freed and overwritten row space is zeroed, so a masked patron id is gone from
                # the file, not merely unlinked (the purge below relies on it).
                conn.execute("pragma secure_delete = on")
                with journal._write():
                    migrate(journal.db)
        except SchemaTooNew as exc:
            conn.close()
            raise JournalError(f"journal {path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return journal

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            for lock in self._owned.values():
                lock.release()
            self._owned.clear()

    def own(self, role: str) -> bool:
        """Take the owner lock of ``role`` (:mod:`kiosk.sync.owner_lock`) for as long as this journal
        is open; False if a live process holds it. A process must own its role before it sends
        anything: that is what tells ``kiosk sync`` its in-flight transactions are not orphans."""
        if role in self._owned:
            return True
        lock = OwnerLock(self.path, role)
        if not lock.acquire():
            return False
        self._owned[role] = lock
        return True

    def owns(self, role: str) -> bool:
        return role in self._owned

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise JournalBusy(f"journal {self.path}: still locked by another process: {exc}") from exc
            raise JournalError(f"journal {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """One short write transaction, lock taken up front; committed (and fsynced) on exit."""
        with self._lock, self._errors():
            self._conn.execute("begin immediate")
            try:
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("rollback")
                raise
            self._conn.execute("commit")

    def _select(self, where: str = "", params: Sequence[Any] = (), *, order: str = "seq",
                limit: int | None = None) -> list[Transaction]:
        sql = f"select * from transactions {where} order by {order}"
        if limit is not None:
            sql += f" limit {int(limit)}"
        with self._lock, self._errors():
            return [_row_to_transaction(r) for r in list(self.db.query(sql, list(params)))]

    def _one(self, transaction_id: int) -> Transaction:
        rows = self._select("where id = ?", [transaction_id])
        if not rows:
            raise JournalStateError(f"no transaction {transaction_id} in journal {self.path}")
        return rows[0]

    def _next_seq(self) -> int:
        return int(self._conn.execute("select coalesce(max(seq), 0) + 1 from transactions").fetchone()[0])

    def _transition(
        self, transaction_id: int, allowed: Iterable[State], changes: Mapping[str, Any], *,
        mode: Mode | None = None,
    ) -> None:
        """Change one row if it is in an allowed state (inside the caller's write transaction)."""
        allowed = tuple(allowed)
        now = _utc(self._clock)
        values = dict(changes, updated_at=now)
        state = values.get("state")
        if state is not None:
            values["settled_at"] = now if State(state) in SETTLED else None
        assignments = ", ".join(f"{column} = ?" for column in values)
        where = f"id = ? and state in ({', '.join('?' * len(allowed))})"
        params: list[Any] = [*values.values(), transaction_id, *allowed]
        if mode is not None:
            where += " and mode = ?"
            params.append(mode)
        cursor = self._conn.execute(f"update transactions set {assignments} where {where}", params)
        if cursor.rowcount != 1:
            row = self._conn.execute("select state, mode from transactions where id = ?", [transaction_id]).fetchone()
            if row is None:
                raise JournalStateError(f"no transaction {transaction_id} in journal {self.path}")
            wanted = " or ".join(allowed) + (f" ({mode})" if mode else "")
            raise JournalStateError(f"transaction {transaction_id} is {row[0]} ({row[1]}), not {wanted}")

    def _insert(self, record: dict[str, Any]) -> int:
        now = _utc(self._clock)
        record.update(seq=self._next_seq(), created_at=now, updated_at=now)
        table = self._table.insert(record)  # type: ignore[union-attr]
        return int(table.last_pk)

    # -- recording transactions -----------------------------------------------------------------

    def begin_online(
        self,
        kind: Kind,
        *,
        patron_id: str | None,
        item_id: str,
        transaction_date: datetime,
        owner: str,
        session_ref: str | None = None,
        due_before: str | None = None,
    ) -> Transaction:
        """Write the intent of a transaction about to be sent while the patron waits (state ``sending``).

        Call it before the SIP2 request and send only once it returned: the row is on disk. For a
        renewal pass ``due_before`` (:func:`kiosk.sync.resolve.pre_image`), or a lost answer cannot
        be settled by asking the ILS. This journal must :meth:`own` ``owner``.
        """
        kind = Kind(kind)
        if owner not in self._owned:
            raise JournalError(
                f"journal {self.path}: take the owner lock before sending as {owner!r} (journal.own({owner!r}))"
            )
        _check_id("patron id", patron_id, required=kind is not Kind.CHECKIN)
        _check_id("item id", item_id, required=True)
        with self._write():
            new_id = self._insert({
                "kind": kind.value, "mode": Mode.ONLINE.value, "state": State.SENDING.value,
                "patron_id": patron_id or None, "item_id": item_id,
                "transaction_date": _date_text(transaction_date), "session_ref": session_ref,
                "owner": owner, "attempts": 1, "due_before": due_before,
            })
        return self._one(new_id)

    def queue_offline(
        self,
        kind: Kind,
        *,
        patron_id: str | None,
        item_id: str,
        transaction_date: datetime,
        nb_due_date: datetime | None = None,
        return_date: datetime | None = None,
        session_ref: str | None = None,
    ) -> Transaction:
        """Record a transaction done under the offline policy (state ``queued``), for replay.

        A checkout or renewal needs the due date the patron was told (sent as nb due date); a
        checkin's return date defaults to the transaction date.
        """
        kind = Kind(kind)
        fields = self._offline_fields(kind, patron_id, item_id, nb_due_date, return_date, transaction_date)
        with self._write():
            new_id = self._insert({
                "kind": kind.value, "mode": Mode.OFFLINE.value, "state": State.QUEUED.value,
                "patron_id": patron_id or None, "item_id": item_id,
                "transaction_date": _date_text(transaction_date), "session_ref": session_ref, **fields,
            })
        return self._one(new_id)

    @staticmethod
    def _offline_fields(
        kind: Kind, patron_id: str | None, item_id: str, nb_due_date: datetime | None,
        return_date: datetime | None, transaction_date: datetime,
    ) -> dict[str, Any]:
        _check_id("patron id", patron_id, required=kind is not Kind.CHECKIN)
        _check_id("item id", item_id, required=True)
        if kind is Kind.CHECKIN:
            if nb_due_date is not None:
                raise ValueError("a checkin has a return date, not a due date")
            return {"return_date": _date_text(return_date or transaction_date), "nb_due_date": None}
        if return_date is not None:
            raise ValueError(f"a {kind} has a due date, not a return date")
        if nb_due_date is None:
            raise ValueError(f"an offline {kind} needs the due date the patron was given")
        return {"nb_due_date": _date_text(nb_due_date), "return_date": None}

    def queue_instead(
        self, transaction_id: int, *, nb_due_date: datetime | None = None, return_date: datetime | None = None
    ) -> Transaction:
        """An online transaction whose request never left (the ILS was unreachable), taken over by the
        offline policy: it joins the end of the replay queue, with its original transaction date."""
        with self._write():
            row = self._one(transaction_id)
            fields = self._offline_fields(
                row.kind, row.patron_id, row.item_id, nb_due_date, return_date, row.transaction_date
            )
            self._transition(
                transaction_id, [State.SENDING],
                {"state": State.QUEUED.value, "mode": Mode.OFFLINE.value, "owner": None, "attempts": 0,
                 "seq": self._next_seq(), **fields},
                mode=Mode.ONLINE,
            )
        return self._one(transaction_id)

    # -- online outcomes ------------------------------------------------------------------------

    def _answer_fields(self, answer: Answer) -> dict[str, Any]:
        return {"ils_ok": int(answer.ok), "reason": answer.reason, "ils_due_date": answer.due_date,
                "title": answer.title, "note": answer.note}

    def confirm(self, transaction_id: int, answer: Answer) -> None:
        """The ILS confirmed an online transaction."""
        if not answer.ok:
            raise ValueError("confirm() takes the answer of a transaction the ILS accepted")
        with self._write():
            self._transition(transaction_id, [State.SENDING],
                             {"state": State.CONFIRMED.value, **self._answer_fields(answer)}, mode=Mode.ONLINE)

    def refuse(self, transaction_id: int, answer: Answer) -> None:
        """The ILS refused an online transaction (``answer.reason`` says why)."""
        if answer.ok:
            raise ValueError("refuse() takes the answer of a transaction the ILS refused")
        with self._write():
            self._transition(transaction_id, [State.SENDING],
                             {"state": State.REFUSED.value, **self._answer_fields(answer)}, mode=Mode.ONLINE)

    def fail(self, transaction_id: int, reason: str) -> None:
        """An online transaction that certainly did not happen (its request never left)."""
        with self._write():
            self._transition(transaction_id, [State.SENDING], {"state": State.FAILED.value, "reason": reason},
                             mode=Mode.ONLINE)

    # -- replay ---------------------------------------------------------------------------------

    def queue_head(self) -> Transaction | None:
        """The offline transaction kiosk sync must send next, if any."""
        rows = self._select("where mode = ? and state = ?", [Mode.OFFLINE, State.QUEUED], limit=1)
        return rows[0] if rows else None

    def backlog(self) -> int:
        """Offline transactions not yet settled by the ILS (queued or being sent). While there are
        any, new transactions must queue behind them so the ILS sees them in order."""
        with self._lock, self._errors():
            row = self._conn.execute(
                "select count(*) from transactions where mode = ? and state in (?, ?)",
                [Mode.OFFLINE, State.QUEUED, State.SENDING],
            ).fetchone()
        return int(row[0])

    def claim(self, owner: str, limit: int, *, pre_images: Mapping[int, str] | None = None) -> list[Transaction]:
        """Mark the head of the replay queue ``sending`` (one durable write) and return it, FIFO.

        The batch holds at most one transaction per item, so the ILS's state of each item after a
        crash reflects that transaction alone and :mod:`kiosk.sync.resolve` can read it. A renewal
        goes alone and only with its pre-image (the due date before), given in ``pre_images``.
        """
        pre_images = pre_images or {}
        with self._write():
            rows = [
                _row_to_transaction(r) for r in self.db.query(
                    "select * from transactions where mode = ? and state = ? order by seq limit ?",
                    [Mode.OFFLINE, State.QUEUED, max(1, limit)],
                )
            ]
            batch: list[Transaction] = []
            items: set[str] = set()
            for row in rows:
                if row.item_id in items or (row.kind is Kind.RENEW and (batch or row.id not in pre_images)):
                    break
                batch.append(row)
                items.add(row.item_id)
                if row.kind is Kind.RENEW:
                    break
            for row in batch:
                changes: dict[str, Any] = {"state": State.SENDING.value, "owner": owner,
                                           "attempts": row.attempts + 1}
                if row.kind is Kind.RENEW:
                    changes["due_before"] = pre_images[row.id]
                self._transition(row.id, [State.QUEUED], changes, mode=Mode.OFFLINE)
        return [
            dataclasses.replace(row, state=State.SENDING, owner=owner, attempts=row.attempts + 1,
                                due_before=pre_images.get(row.id, row.due_before))
            for row in batch
        ]

    def release(self, transaction_ids: Iterable[int]) -> None:
        """Back to the queue, same place: claimed but certainly not sent."""
        ids = list(transaction_ids)
        if not ids:
            return
        with self._write():
            for transaction_id in ids:
                self._transition(transaction_id, [State.SENDING], {"state": State.QUEUED.value, "owner": None},
                                 mode=Mode.OFFLINE)

    def record_replays(self, outcomes: Sequence[ReplayOutcome], *, release: Iterable[int] = ()) -> None:
        """The ILS's answers to replayed transactions, in one durable write (plus any claimed
        transactions that were not sent after all, back to the queue)."""
        release = list(release)
        if not outcomes and not release:
            return
        with self._write():
            for outcome in outcomes:
                self._transition(outcome.id, [State.SENDING],
                                 {"state": outcome.state.value, **self._answer_fields(outcome.answer)},
                                 mode=Mode.OFFLINE)
            for transaction_id in release:
                self._transition(transaction_id, [State.SENDING], {"state": State.QUEUED.value, "owner": None},
                                 mode=Mode.OFFLINE)

    # -- in flight ------------------------------------------------------------------------------

    def in_flight(self, owner: str | None = None) -> list[Transaction]:
        """Transactions whose request may be on the wire, oldest first (all owners if None)."""
        if owner is None:
            return self._select("where state = ?", [State.SENDING])
        return self._select("where state = ? and owner = ?", [State.SENDING, owner])

    def owners_in_flight(self) -> set[str]:
        with self._lock, self._errors():
            rows = self._conn.execute(
                "select distinct owner from transactions where state = ? and owner is not null", [State.SENDING]
            ).fetchall()
        return {r[0] for r in rows}

    def record_resolution(
        self,
        transaction_id: int,
        *,
        applied: bool | None,
        evidence: str,
        due_date: str | None = None,
        title: str | None = None,
    ) -> Transaction:
        """What the ILS said about a transaction in flight (:func:`kiosk.sync.resolve.resolve`).

        Applied: ``confirmed`` (online) or ``replayed`` (offline). Not applied: ``failed`` (online: the
        patron was not told "done") or back to the queue in its place (offline). ``None``: the ILS
        cannot tell, ``unknown``, for staff.
        """
        with self._write():
            row = self._one(transaction_id)
            changes: dict[str, Any] = {"resolved_by": evidence}
            if applied is None:
                changes.update(state=State.UNKNOWN.value, reason=evidence)
            elif applied:
                state = State.CONFIRMED if row.mode is Mode.ONLINE else State.REPLAYED
                changes.update(state=state.value, ils_ok=1, reason=None,
                               ils_due_date=due_date or row.ils_due_date, title=title or row.title)
            elif row.mode is Mode.ONLINE:
                changes.update(state=State.FAILED.value, reason="not applied (found out after the answer was lost)")
            else:
                changes.update(state=State.QUEUED.value, owner=None)
            self._transition(transaction_id, [State.SENDING], changes)
        return self._one(transaction_id)

    # -- staff ----------------------------------------------------------------------------------

    def get(self, transaction_id: int) -> Transaction:
        return self._one(transaction_id)

    def transactions(self, states: Iterable[State] | None = None, *, limit: int | None = None) -> list[Transaction]:
        """Rows in replay order, optionally only those in ``states``."""
        if states is None:
            return self._select(limit=limit)
        wanted = list(states)
        return self._select(f"where state in ({', '.join('?' * len(wanted))})", wanted, limit=limit)

    def needs_staff(self) -> list[Transaction]:
        return self.transactions(NEEDS_STAFF)

    def last_replayed_at(self) -> datetime | None:
        """When the ILS last took a replayed offline transaction (UTC, naive): the fleet's metrics
        tell a kiosk sync that stopped working from one with nothing to do."""
        with self._lock, self._errors():
            row = self._conn.execute(
                "select max(settled_at) from transactions where state = ?", [State.REPLAYED]
            ).fetchone()
        return _date(row[0]) if row and row[0] else None

    def retry(self, transaction_id: int) -> Transaction:
        """Staff found the reason of a rejection fixed (or checked that an unknown one did not
        happen): replay it again, at the end of the queue."""
        with self._write():
            self._transition(
                transaction_id, [State.REJECTED, State.UNKNOWN],
                {"state": State.QUEUED.value, "owner": None, "seq": self._next_seq(), "reason": None},
                mode=Mode.OFFLINE,
            )
        return self._one(transaction_id)

    def resolve(self, transaction_id: int, note: str | None = None) -> Transaction:
        """Staff settled it by hand (at the ILS's own desk client, or decided nothing is to be done)."""
        with self._write():
            row = self._one(transaction_id)
            text = note.strip() if note and note.strip() else "resolved by staff"
            self._transition(
                transaction_id, [State.REJECTED, State.UNKNOWN, State.QUEUED],
                {"state": State.RESOLVED.value, "owner": None,
                 "note": f"{row.note}; {text}" if row.note else text},
            )
        return self._one(transaction_id)

    # -- privacy --------------------------------------------------------------------------------

    def purge(self, retention_days: int) -> int:
        """Mask the patron ids of transactions settled more than ``retention_days`` ago; return how
        many. Unsettled ones keep theirs: they still have to reach the ILS or staff.

        Masking a column is not enough on disk: the WAL keeps the page images written before, and
        the database file the old pages until a checkpoint copies the new ones over them. So a purge
        that masked anything checkpoints and truncates the WAL; with ``secure_delete`` the ids are
        then gone from the SD card. A checkpoint the other process's open read blocks is left to
        SQLite's next automatic one (and the next purge tries again)."""
        now = self._clock().astimezone(UTC).replace(tzinfo=None)
        cutoff = (now - timedelta(days=retention_days)).isoformat(timespec="seconds")
        settled = sorted(SETTLED)
        with self._write():
            rows = self._conn.execute(
                f"select id, patron_id from transactions where state in ({', '.join('?' * len(settled))}) "
                "and settled_at <= ? and purged_at is null and patron_id is not null",
                [*settled, cutoff],
            ).fetchall()
            stamp = now.isoformat(timespec="seconds")
            self._conn.executemany(
                "update transactions set patron_id = ?, purged_at = ? where id = ?",
                [(mask_patron_id(patron_id), stamp, row_id) for row_id, patron_id in rows],
            )
        if rows:
            with self._lock, self._errors():
                self._conn.execute("pragma wal_checkpoint(truncate)").fetchall()
        return len(rows)
