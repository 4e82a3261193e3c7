"""The returns bin's memory file: what is written is read back after a restart, a SIGKILL mid-write
leaves the last write or the one before (never a mixture, never an unreadable file), an unreadable
file is set aside and never stops the bin, and cleared exceptions leave the file."""

from __future__ import annotations

import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import returns_memory_crash_driver as driver

from kiosk.circulation.events import Pressed
from kiosk.circulation.returns import Remembered, ReturnException, ReturnsState
from kiosk.circulation.station import KioskState, ReturnsStationState
from kiosk.shell.returns_memory import FORMAT_VERSION, ReturnsMemory, memory_path

WAIT = 10.0  # upper bound for a write to land; nothing here measures time
SEED = int(os.environ.get("KIOSK_MEMORY_CRASH_SEED", "1729"))
SIGKILL_TRIALS = int(os.environ.get("KIOSK_MEMORY_SIGKILL_TRIALS", "8"))
DRIVER = Path(driver.__file__)
TITLE = "Zanzibar Unmistakable Title"
REFUSED = ReturnException(4, "31234000000305", "exceptions", "returns.refused", "Item is lost", TITLE)
SOME = Remembered((("holds", 12), ("transit", 3), ("reshelve", 40), ("exceptions", 1)), (REFUSED,), "jammed")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return memory_path(tmp_path / "journal.sqlite")


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    caplog.set_level(logging.WARNING, logger="kiosk.shell.returns_memory")
    yield lambda: [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def reopened(path: Path) -> Remembered:
    with ReturnsMemory.open(path) as memory:
        assert memory.set_aside is None
        return memory.remembered


def written(path: Path, remembered: Remembered) -> None:
    with ReturnsMemory.open(path) as memory:
        memory.remember(remembered)
        assert memory.flush(WAIT)


def test_the_memory_lives_beside_the_journal() -> None:
    assert memory_path("/var/lib/kiosk/journal.sqlite") == Path("/var/lib/kiosk/journal.returns-bin.sqlite")


def test_a_new_memory_is_empty_and_what_is_written_is_there_after_a_restart(path: Path, errors) -> None:
    with ReturnsMemory.open(path) as memory:
        assert memory.remembered == Remembered() and memory.set_aside is None
        memory.remember(SOME)
    assert reopened(path) == SOME
    emptied = Remembered((("holds", 0), *SOME.counts[1:]), (), "")  # bin emptied, list and fault cleared
    written(path, emptied)
    assert reopened(path) == emptied
    assert errors() == []


def test_a_commit_is_forced_to_disk_as_the_journals_are(path: Path) -> None:
    with ReturnsMemory.open(path) as memory:
        memory.remember(SOME)
        assert memory.flush(WAIT)
        conn = memory._conn  # the writer's own connection: synchronous is a per-connection setting
        assert conn is not None
        assert conn.execute("pragma synchronous").fetchone()[0] == 2  # FULL: fsync at every commit
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
        assert conn.execute("pragma secure_delete").fetchone()[0] == 1


def test_the_station_observer_writes_the_returns_bin_and_nothing_else(path: Path) -> None:
    returns = ReturnsState(counts=SOME.counts, exceptions=SOME.exceptions, fault=SOME.fault, routed_total=5)
    with ReturnsMemory.open(path) as memory:
        memory.observe(Pressed("ok"), KioskState(), ())  # a self-check kiosk's state has no bins
        assert memory.flush(WAIT)
        assert reopened_while_open(path) == Remembered()
        memory.observe(Pressed("ok"), ReturnsStationState(returns=returns), ())
    assert reopened(path) == SOME


def reopened_while_open(path: Path) -> Remembered:
    """What another reader sees now (the memory is open elsewhere: WAL lets it read)."""
    conn = sqlite3.connect(path)
    try:
        return Remembered(tuple(conn.execute("select bin, count from bin_counts order by position")))
    finally:
        conn.close()


def file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_cleared_exceptions_leave_the_file_and_its_wal(path: Path) -> None:
    with ReturnsMemory.open(path) as memory:
        memory.remember(SOME)
        assert memory.flush(WAIT)
        assert TITLE.encode() in file_bytes(path)
        memory.remember(Remembered(SOME.counts, (), SOME.fault))  # staff: "Exceptions cleared"
        assert memory.flush(WAIT)
        assert TITLE.encode() not in file_bytes(path) and REFUSED.item_id.encode() not in file_bytes(path)
    assert TITLE.encode() not in file_bytes(path)


def test_a_failing_disk_is_retried_with_the_latest_state_and_logged_once(path: Path, errors) -> None:
    with ReturnsMemory.open(path, retry_seconds=0.02) as memory:
        conn = memory._conn
        assert conn is not None
        conn.execute("pragma query_only = 1")  # every write now fails, as on a disk gone read-only
        memory.remember(SOME)
        assert not memory.flush(0.3)
        assert memory.failed_writes >= 2
        later = Remembered(SOME.counts, (), "")
        memory.remember(later)
        conn.execute("pragma query_only = 0")  # the disk is back
        assert memory.flush(WAIT)
    assert reopened(path) == later
    assert [e for e in errors() if "cannot write" in e] == [e for e in errors()]
    assert len(errors()) == 1 and str(path) in errors()[0]


# --- unreadable files ------------------------------------------------------------------------------


def garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    Path(f"{path}-wal").write_bytes(b"stale write-ahead log of something else" * 50)


def truncated(path: Path) -> None:
    many = tuple(ReturnException(i, f"item-{i}", "exceptions", "returns.refused", "x" * 300) for i in range(200))
    written(path, Remembered(SOME.counts, many))
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size // 2)


def scribbled(path: Path) -> None:
    written(path, SOME)
    size = path.stat().st_size
    assert size > 4096
    with path.open("r+b") as f:  # the card's sectors past the first page gone bad
        f.seek(4096)
        f.write(random.Random(size).randbytes(size - 4096))


def foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("create table notes (text)")
    conn.commit()
    conn.close()


def newer(path: Path) -> None:
    written(path, SOME)
    conn = sqlite3.connect(path)
    conn.execute(f"pragma user_version = {FORMAT_VERSION + 1}")
    conn.close()


def nonsense(path: Path) -> None:
    written(path, SOME)
    conn = sqlite3.connect(path)
    conn.execute("update bin_counts set count = -3 where bin = 'holds'")
    conn.commit()
    conn.close()


def not_a_count(path: Path) -> None:
    written(path, SOME)
    conn = sqlite3.connect(path)
    conn.execute("update bin_counts set count = 'many' where bin = 'holds'")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("spoil", [garbage, truncated, scribbled, foreign, newer, nonsense, not_a_count])
def test_an_unreadable_memory_is_set_aside_with_one_line_and_the_bin_starts_empty(
        path: Path, errors, spoil: Callable[[Path], None]) -> None:
    spoil(path)
    bad = {side: Path(f"{path}{side}").read_bytes() for side in ("", "-wal") if Path(f"{path}{side}").exists()}
    with ReturnsMemory.open(path) as memory:
        assert memory.remembered == Remembered()
        aside = memory.set_aside
        assert aside is not None and aside.parent == path.parent and aside.name.startswith(f"{path.name}.unreadable-")
        # kept for IT exactly as found, its WAL with it (left in place it would be read into the fresh file)
        assert {side: Path(f"{aside}{side}").read_bytes() for side in bad} == bad
        (line,) = errors()
        assert str(path) in line and str(aside) in line
        memory.remember(SOME)  # the fresh memory works
    assert reopened(path) == SOME


def test_a_second_unreadable_file_does_not_overwrite_the_first_one_set_aside(path: Path) -> None:
    def fixed_time():
        from datetime import UTC, datetime
        return datetime(2025, 3, 2, 10, 14, tzinfo=UTC)

    asides = []
    for _ in range(2):
        garbage(path)
        with ReturnsMemory.open(path, clock=fixed_time) as memory:
            asides.append(memory.set_aside)
    assert asides[0] != asides[1] and all(a is not None and a.exists() for a in asides)


def test_where_no_memory_can_be_kept_the_bin_still_runs(tmp_path: Path, errors) -> None:
    (tmp_path / "var").write_text("a file where the directory should be")
    with ReturnsMemory.open(tmp_path / "var" / "journal.returns-bin.sqlite") as memory:
        assert memory.remembered == Remembered()
        memory.remember(SOME)  # dropped, quietly: it was said once at open
        assert memory.flush(WAIT)
    (line,) = errors()
    assert "var/journal.returns-bin.sqlite cannot be kept" in line


# --- SIGKILL mid-write ------------------------------------------------------------------------------


def run_until_killed(path: Path, rng: random.Random) -> int:
    """Start the driver, let it write for a random number of acknowledged writes (sometimes none),
    SIGKILL it; return the last n it said was on disk."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[:1] == ["READY"], ready
        last = int(ready[1])
        for _ in range(rng.choice([0, 1, 3, 10, 30])):
            line = proc.stdout.readline().strip()
            assert line.isdigit(), line
            last = int(line)
        time.sleep(rng.random() * 0.01)  # land anywhere in the write under way
        proc.send_signal(signal.SIGKILL)
        proc.wait(WAIT)
        assert proc.returncode == -signal.SIGKILL
        return last
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_sigkill_mid_write_leaves_the_last_write_or_a_later_one_never_a_mixture(tmp_path: Path, errors) -> None:
    rng = random.Random(SEED)
    print(f"KIOSK_MEMORY_CRASH_SEED={SEED}")
    path = memory_path(tmp_path / "journal.sqlite")
    for trial in range(SIGKILL_TRIALS):
        acknowledged = run_until_killed(path, rng)
        found = reopened(path)  # readable: no error line, nothing set aside
        n = driver.n_of(found)
        assert n >= acknowledged, f"trial {trial}: write {acknowledged} was acknowledged, {n} survived"
        assert found == driver.state(n), f"trial {trial}: a mixture of writes survived"
    assert errors() == []
    assert not list(tmp_path.glob("*.unreadable-*"))
