"""The returns bin's memory: its bins' counts, the exceptions and the sorter's fault, kept on disk so a
restart (a power cut, an upgrade, the watchdog) starts from the bins as they physically are, not from
empty bins that then overflow and an exceptions list staff can no longer see.

Why a small SQLite file of its own beside the journal (``journal.sqlite`` ->
``journal.returns-bin.sqlite``, :func:`memory_path`) and not a table in the journal:

* a damaged memory must cost the counts, never the transactions. It is renamed aside and the bin
  starts afresh, which must never happen to the journal (a kiosk that cannot record transactions
  must not take them);
* the journal is shared with ``kiosk sync`` and versioned by migrations that an older ``kiosk sync``
  refuses; the bin's bookkeeping has no business in that contract, nor in sync's write lock;
* beside the journal it lives in the directory the kiosk already writes (and backs up), with no
  setting of its own.

Durability as the journal's: WAL with ``synchronous=FULL`` (a commit is on disk when it returns, power
cut or not), and each write is one transaction that replaces the whole memory, so a SIGKILL leaves
the last write or the one before, never a mixture. Writes run on a thread of their own and the latest
state wins: the runner thread never waits for an SD card's fsync, and a write overtaken by the next
step is superseded by it anyway. Being durable before the next item is routed is not promised; a
clean stop (:meth:`ReturnsMemory.close`) writes what is pending.

Retention: the file holds what the staff screen shows and nothing else, nothing about any patron.
Exceptions staff cleared are deleted; ``secure_delete`` zeroes their bytes in the file and the WAL is
truncated after such a write (its old frames hold them too).

An unreadable file (not SQLite, damaged, written by a newer kiosk, values that make no sense) never
stops the returns bin: one log line names it, it is renamed aside for IT (``<file>.unreadable-<UTC
time>``, with its ``-wal`` and ``-shm``), and the bin starts empty.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from kiosk.circulation.commands import Command
from kiosk.circulation.events import Event
from kiosk.circulation.returns import Remembered, ReturnException

log = logging.getLogger(__name__)

#: The memory file's name: the journal's stem plus this, in the journal's directory.
SUFFIX = ".returns-bin.sqlite"
#: ``pragma user_version`` of the files this module writes; any other version is not trusted.
FORMAT_VERSION = 1
#: After a failed write, how long before the writer tries again (with the latest state).
RETRY_SECONDS = 5.0
#: How long a clean stop waits for the last write.
CLOSE_SECONDS = 10.0
_SIDE_FILES = ("-wal", "-shm")  # SQLite's companions, which belong to the file they sit beside
_EXCEPTION_FIELDS = ("seq", "item_id", "title", "reason", "detail", "bin")
_SQLITE_HEADER = b"SQLite format 3\x00"


class MemoryUnreadable(Exception):
    """The file is not a returns-bin memory this code can trust."""


def memory_path(journal_path: str | os.PathLike[str]) -> Path:
    """Where a returns bin writing to ``journal_path`` keeps its memory: beside the journal."""
    journal = Path(journal_path)
    return journal.with_name(journal.stem + SUFFIX)


# --------------------------------------------------------------------------------------------------
# The file


def _create(db: sqlite_utils.Database) -> None:
    db["bin_counts"].create(  # type: ignore[union-attr]
        {"position": int, "bin": str, "count": int}, pk="position", not_null={"bin", "count"})
    db["exceptions"].create(  # type: ignore[union-attr]
        {"position": int, "seq": int, "item_id": str, "title": str, "reason": str, "detail": str, "bin": str},
        pk="position", not_null=set(_EXCEPTION_FIELDS))
    db["sorter"].create({"id": int, "fault": str}, pk="id", not_null={"fault"})  # type: ignore[union-attr]
    db.execute(f"pragma user_version = {FORMAT_VERSION}")


def _text(value: object, what: str, *, nonempty: bool = False) -> str:
    if not isinstance(value, str) or (nonempty and not value):
        raise MemoryUnreadable(f"{what} is {value!r}, not a text")
    return value


def _number(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MemoryUnreadable(f"{what} is {value!r}, not a count")
    return value


def _read(db: sqlite_utils.Database) -> Remembered | None:
    """The memory in ``db``, checked value by value (a file that is SQLite but not ours, or holds
    nonsense, is as unreadable as one that is not SQLite at all); None for a new, empty file. Reads
    only: a file found unreadable is set aside as it was found."""
    version = db.execute("pragma user_version").fetchone()[0]
    if version == 0 and not db.table_names():
        return None
    if version != FORMAT_VERSION:
        raise MemoryUnreadable(f"format version {version}, this kiosk reads {FORMAT_VERSION}")
    try:
        counts = tuple(
            (_text(r["bin"], "a bin's name", nonempty=True), _number(r["count"], f"the count of {r['bin']!r}"))
            for r in db.query("select bin, count from bin_counts order by position"))
        exceptions = tuple(
            ReturnException(
                seq=_number(r["seq"], "an exception's number"),
                item_id=_text(r["item_id"], "an exception's item"),
                bin=_text(r["bin"], "an exception's bin"),
                reason=_text(r["reason"], "an exception's reason", nonempty=True),
                detail=_text(r["detail"], "an exception's detail"),
                title=_text(r["title"], "an exception's title"),
            )
            for r in db.query(f"select {', '.join(_EXCEPTION_FIELDS)} from exceptions order by position"))
        faults = [r["fault"] for r in db.query("select fault from sorter")]
    except (sqlite3.Error, KeyError) as exc:
        raise MemoryUnreadable(f"not a returns-bin memory: {exc}") from exc
    if len(faults) > 1 or len({b for b, _ in counts}) != len(counts):
        raise MemoryUnreadable("not a returns-bin memory: repeated rows")
    return Remembered(counts, exceptions, _text(faults[0], "the fault") if faults else "")


def _sync_dir(directory: Path) -> None:
    """A new file's name is durable once its directory is: fsync the directory."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_header(path: Path) -> None:
    """Refuse what is not SQLite before SQLite sees it: it would tidy away a -wal beside it, which IT
    should find set aside as it was."""
    with path.open("rb") as f:
        head = f.read(len(_SQLITE_HEADER))
    if head and head != _SQLITE_HEADER:
        raise MemoryUnreadable("not an SQLite file")


def _connect(path: Path, busy_timeout: float) -> tuple[sqlite3.Connection, Remembered]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # The kiosk's user and group only, as the journal; SQLite gives -wal and -shm the same mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o660))
        _sync_dir(path.parent)
    _check_header(path)
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    try:
        check = [row[0] for row in conn.execute("pragma quick_check")]
        if check != ["ok"]:
            raise MemoryUnreadable("damaged: " + "; ".join(str(c) for c in check[:3]))
        db = sqlite_utils.Database(conn, execute_plugins=False)
        remembered = _read(db)
        db.enable_wal()
        if db.journal_mode != "wal":
            raise MemoryUnreadable(f"SQLite refused WAL mode (got {db.journal_mode!r})")
        conn.execute("pragma synchronous = full")
        conn.execute("pragma secure_delete = on")  # cleared exceptions are zeroed, not just unlinked
        if remembered is None:  # a new (or empty) file
            conn.execute("begin immediate")
            try:
                _create(db)
            except BaseException:
                conn.execute("rollback")
                raise
            conn.execute("commit")
    except BaseException:
        conn.close()
        raise
    return conn, remembered or Remembered()


def _set_aside(path: Path, now: datetime) -> Path:
    """Rename ``path`` (and its -wal/-shm, which would otherwise be read into a fresh file) aside."""
    aside = path.with_name(f"{path.name}.unreadable-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}")
    n = 1
    while aside.exists():
        n += 1
        aside = aside.with_name(f"{path.name}.unreadable-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{n}")
    for side in _SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.rename(f"{path}{side}", f"{aside}{side}")
    os.rename(path, aside)
    _sync_dir(path.parent)
    return aside


def _write(conn: sqlite3.Connection, memory: Remembered, *, wipe_wal: bool) -> None:
    """Replace the whole memory with ``memory`` in one transaction (all of it or none of it)."""
    db = sqlite_utils.Database(conn, execute_plugins=False)
    conn.execute("begin immediate")
    try:
        for table in ("bin_counts", "exceptions", "sorter"):
            conn.execute(f"delete from {table}")
        db["bin_counts"].insert_all(  # type: ignore[union-attr]
            {"position": i, "bin": b, "count": n} for i, (b, n) in enumerate(memory.counts))
        db["exceptions"].insert_all(  # type: ignore[union-attr]
            {"position": i, **{f: getattr(e, f) for f in _EXCEPTION_FIELDS}}
            for i, e in enumerate(memory.exceptions))
        conn.execute("insert into sorter (id, fault) values (1, ?)", (memory.fault,))
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("rollback")
        raise
    conn.execute("commit")
    if wipe_wal:
        # Cleared exceptions are still in the WAL's older frames: copy the WAL home and empty it.
        conn.execute("pragma wal_checkpoint(TRUNCATE)")


# --------------------------------------------------------------------------------------------------
# The memory


class ReturnsMemory:
    """One returns bin's memory file, opened by :meth:`open`: :attr:`remembered` is what it held, for
    :class:`~kiosk.circulation.returns.ReturnsBinMachine`; :meth:`observe` (a station's ``on_step``
    observer) keeps it up to date; :meth:`close` writes what is pending and closes the file.

    ``conn`` None: the memory could not be kept at all (the directory is not writable); the bin runs,
    and what it would write is dropped (said once in the log at :meth:`open`).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection | None, remembered: Remembered, *,
                 set_aside: Path | None = None, retry_seconds: float = RETRY_SECONDS) -> None:
        self.path = path
        self.remembered = remembered
        #: where an unreadable file found at open was renamed to (None: there was none)
        self.set_aside = set_aside
        #: writes that failed (each one is retried with the latest state)
        self.failed_writes = 0
        self._conn = conn
        self._retry_seconds = retry_seconds
        self._cond = threading.Condition()
        self._written = remembered  # what the file holds now
        self._wanted = remembered  # what it should hold
        self._writing = False
        self._closing = False
        self._writer: threading.Thread | None = None
        if conn is not None:
            self._writer = threading.Thread(target=self._write_loop, name="returns-memory", daemon=True)
            self._writer.start()

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, busy_timeout: float = 5.0,
             retry_seconds: float = RETRY_SECONDS, clock: Callable[[], datetime] | None = None) -> ReturnsMemory:
        """The memory at ``path`` (created if missing). Never raises for what it finds on disk: an
        unreadable file is set aside and replaced by an empty memory, one error line saying so."""
        path = Path(path)
        now = clock or (lambda: datetime.now(UTC))
        try:
            conn, remembered = _connect(path, busy_timeout)
            return cls(path, conn, remembered, retry_seconds=retry_seconds)
        except (OSError, sqlite3.Error, MemoryUnreadable) as exc:
            problem = exc
        if not os.path.lexists(path):  # nothing there to read: the file cannot even be made
            log.error("returns bin memory %s cannot be kept (%s): bin counts and exceptions will be lost "
                      "at the next restart", path, problem)
            return cls(path, None, Remembered(), retry_seconds=retry_seconds)
        aside: Path | None = None
        try:
            aside = _set_aside(path, now())
            kept = f"kept as {aside} for IT"
        except OSError as exc:
            kept = f"it could not be renamed aside ({exc})"
        log.error("returns bin memory %s is unreadable (%s): the bins start at 0 and the exceptions list empty; "
                  "%s", path, problem, kept)
        try:
            conn, _ = _connect(path, busy_timeout)
        except (OSError, sqlite3.Error, MemoryUnreadable) as exc:
            log.error("returns bin memory %s cannot be written (%s): bin counts and exceptions will be lost "
                      "at the next restart", path, exc)
            return cls(path, None, Remembered(), set_aside=aside, retry_seconds=retry_seconds)
        return cls(path, conn, Remembered(), set_aside=aside, retry_seconds=retry_seconds)

    # -- what the station calls ---------------------------------------------------------------------

    def observe(self, event: Event, state: Any, commands: tuple[Command, ...]) -> None:
        """The station's ``on_step`` observer: remember the returns bin of a ``ReturnsStationState``."""
        returns = getattr(state, "returns", None)
        if returns is not None:
            self.remember(Remembered.of(returns))

    def remember(self, memory: Remembered) -> None:
        """Have ``memory`` written (soon, on the writer thread) unless the file already holds it."""
        with self._cond:
            if memory == self._wanted or self._closing or self._conn is None:
                return
            self._wanted = memory
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until the file holds the latest state remembered; False if it did not in ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: self._conn is None or self._settled(), timeout)

    def close(self) -> None:
        """Write what is pending (up to :data:`CLOSE_SECONDS`), then close the file. Idempotent."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.join(CLOSE_SECONDS)
            if self._writer.is_alive():
                log.error("returns bin memory %s: the last write did not finish in %.0f s", self.path,
                          CLOSE_SECONDS)
                return  # the writer still uses the connection; it is daemonic and dies with the process
        with self._cond:
            conn, self._conn = self._conn, None
            unwritten = not self._settled()
        if unwritten:
            log.error("returns bin memory %s: the last change could not be written", self.path)
        if conn is not None:
            conn.close()

    def __enter__(self) -> ReturnsMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the writer ---------------------------------------------------------------------------------

    def _settled(self) -> bool:
        return not self._writing and self._wanted == self._written

    def _write_loop(self) -> None:
        conn = self._conn
        assert conn is not None
        failing = False
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closing or self._wanted != self._written)
                if self._wanted == self._written:
                    return  # stopping, and nothing is pending
                memory, before = self._wanted, self._written
                self._writing = True
            cleared = bool(set(before.exceptions) - set(memory.exceptions))
            try:
                _write(conn, memory, wipe_wal=cleared)
                error: Exception | None = None
            except (sqlite3.Error, OSError) as exc:
                error = exc
            if error is not None and not failing:
                log.error("returns bin memory %s: cannot write (%s); trying again every %.0f s", self.path, error,
                          self._retry_seconds)
            elif error is None and failing:
                log.warning("returns bin memory %s: written again", self.path)
            failing = error is not None
            with self._cond:
                self._writing = False
                if error is None:
                    self._written = memory
                else:
                    self.failed_writes += 1
                self._cond.notify_all()
                if failing and self._cond.wait_for(lambda: self._closing, self._retry_seconds):
                    return  # stopping after a failure: close() says the change was not written
