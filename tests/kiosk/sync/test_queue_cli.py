"""``kiosk queue list | report [--csv] | retry ID | resolve ID`` and ``kiosk sync --once``, as staff
and IT run them: through the ``kiosk`` command, with a config directory naming the journal."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hardware_mocks.ils import IlsSimulator
from hardware_mocks.ils import scenarios as S
from kiosk.cli import main
from kiosk.sync.journal import Answer, Journal, Kind, ReplayOutcome, State
from kiosk.sync.owner_lock import OwnerLock

WHEN = datetime.now().replace(microsecond=0) - timedelta(hours=3)
DUE = WHEN + timedelta(days=14)


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    directory = tmp_path / "etc-kiosk"
    directory.mkdir()
    (directory / "kiosk.toml").write_text(f'[journal]\npath = "{tmp_path / "var" / "journal.sqlite"}"\n')
    return directory


@pytest.fixture
def journal(tmp_path: Path, etc: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "var" / "journal.sqlite") as j:
        yield j


def kiosk(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def rejected(journal: Journal, item: str, reason: str) -> int:
    tx = journal.queue_offline(Kind.CHECKOUT, patron_id=S.PATRON_BLOCKED.id, item_id=item,
                               transaction_date=WHEN, nb_due_date=DUE)
    journal.claim("sync", 1)
    journal.record_replays([ReplayOutcome(tx.id, Answer(False, reason=reason))])
    return tx.id


def test_list_shows_what_is_not_settled_and_all_shows_everything(
    capsys: pytest.CaptureFixture[str], etc: Path, journal: Journal
) -> None:
    assert kiosk(capsys, "queue", "list", "--config-dir", str(etc)) == (0, "nothing in the queue\n", "")
    bad = rejected(journal, S.ITEM_DVD, "Patron account is blocked: lost books")
    assert journal.own("kiosk")
    done = journal.begin_online(Kind.CHECKOUT, patron_id=S.PATRON_CLEAN.id, item_id=S.ITEM_AVAILABLE,
                                transaction_date=WHEN, owner="kiosk")
    journal.confirm(done.id, Answer(True))
    queued = journal.queue_offline(Kind.CHECKIN, patron_id=None, item_id=S.ITEM_RENEWABLE, transaction_date=WHEN)
    code, out, _ = kiosk(capsys, "queue", "list", "--config-dir", str(etc))
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["ID", "STATE", "KIND", "MODE", "DATE", "PATRON", "ITEM", "DETAIL"]
    assert [line.split()[:2] for line in lines[1:]] == [[str(bad), "rejected"], [str(queued.id), "queued"]]
    assert lines[1].endswith("Patron account is blocked: lost books")
    code, out, _ = kiosk(capsys, "queue", "list", "--all", "--config-dir", str(etc))
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["rejected", "confirmed", "queued"]


def test_report_text_and_csv_list_the_rejections_for_staff(
    capsys: pytest.CaptureFixture[str], etc: Path, journal: Journal
) -> None:
    bad = rejected(journal, S.ITEM_DVD, "Patron account is blocked: lost books")
    code, out, _ = kiosk(capsys, "queue", "report", "--config-dir", str(etc))
    assert code == 0
    assert out.splitlines()[:3] == [
        "Transactions that need staff: 1",
        f"#{bad} rejected offline checkout of {WHEN:%Y-%m-%d %H:%M}: patron {S.PATRON_BLOCKED.id}, item {S.ITEM_DVD}",
        "    ILS: Patron account is blocked: lost books",
    ]
    code, out, _ = kiosk(capsys, "queue", "report", "--csv", "--journal", str(journal.path))
    rows = out.splitlines()
    assert code == 0 and len(rows) == 2
    assert rows[1].startswith(f"needs staff,{bad},rejected,checkout,offline,")
    assert ",Patron account is blocked: lost books," in rows[1]


def test_retry_and_resolve_move_a_rejection_and_refuse_what_they_cannot_do(
    capsys: pytest.CaptureFixture[str], etc: Path, journal: Journal
) -> None:
    first = rejected(journal, S.ITEM_DVD, "blocked")
    second = rejected(journal, S.ITEM_MAGAZINE, "blocked")
    code, out, _ = kiosk(capsys, "queue", "retry", str(first), "--config-dir", str(etc))
    assert (code, out) == (0, f"transaction {first} is queued again (0 ahead of it); kiosk sync replays it\n")
    assert journal.get(first).state is State.QUEUED
    code, out, err = kiosk(capsys, "queue", "retry", str(first), "--config-dir", str(etc))
    assert (code, out) == (1, "")
    assert err == f"kiosk queue: transaction {first} is queued (offline), not rejected or unknown (offline)\n"
    code, out, _ = kiosk(capsys, "queue", "resolve", str(second), "--note", "lent at the desk",
                         "--config-dir", str(etc))
    assert (code, out) == (0, f"transaction {second} resolved: lent at the desk\n")
    assert journal.get(second).state is State.RESOLVED
    code, _, err = kiosk(capsys, "queue", "resolve", "999", "--config-dir", str(etc))
    assert code == 1 and "no transaction 999" in err


def test_a_broken_config_is_reported_not_guessed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text('[journal]\npath = "relative.sqlite"\n')
    code, _, err = kiosk(capsys, "queue", "list", "--config-dir", str(tmp_path))
    assert code == 2
    assert 'journal.path: expected an absolute path to a file, got "relative.sqlite"' in err


def test_a_retry_window_upside_down_is_one_problem_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text("[journal]\nretry_min_seconds = 120.0\n")
    code, _, err = kiosk(capsys, "sync", "--once", "--config-dir", str(tmp_path))
    assert code == 2
    assert err == (f"{config}: journal.retry_min_seconds: expected at most journal.retry_max_seconds (60), "
                   "got 120\n")


def test_kiosk_sync_once_replays_the_queue_in_its_own_process(tmp_path: Path, etc: Path, journal: Journal) -> None:
    with IlsSimulator() as sim:
        host, port = sim.address
        (etc / "kiosk.toml").write_text(
            f'[sip2]\nhost = "{host}"\nport = {port}\n[journal]\npath = "{journal.path}"\n'
            "lost_answer_wait_seconds = 0.0\n"
        )
        ids = [journal.queue_offline(Kind.CHECKOUT, patron_id=S.PATRON_CLEAN.id, item_id=item,
                                     transaction_date=WHEN, nb_due_date=DUE).id for item in S.AVAILABLE_BOOKS[:3]]
        lock = OwnerLock(journal.path, "sync")
        assert lock.acquire()
        busy = subprocess.run([sys.executable, "-m", "kiosk.cli", "sync", "--once", "--config-dir", str(etc)],
                              capture_output=True, text=True, timeout=60)
        lock.release()
        assert busy.returncode == 2
        assert "another kiosk sync is already replaying" in busy.stderr
        done = subprocess.run([sys.executable, "-m", "kiosk.cli", "sync", "--once", "--config-dir", str(etc)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().endswith("replayed 3, rejected 0, settled in flight 0 (0 sent again, 0 unknown); "
                                            "0 left in the queue")
        assert [journal.get(i).state for i in ids] == [State.REPLAYED] * 3
        assert [sim.library.applied("11", item=item) for item in S.AVAILABLE_BOOKS[:3]] == [1, 1, 1]
        sim.stop()
        journal.queue_offline(Kind.CHECKIN, patron_id=None, item_id=S.AVAILABLE_BOOKS[0], transaction_date=WHEN)
        down = subprocess.run([sys.executable, "-m", "kiosk.cli", "sync", "--once", "--config-dir", str(etc)],
                              capture_output=True, text=True, timeout=60)
        assert down.returncode == 1
        assert "1 left in the queue" in down.stdout
        assert "cannot connect" in down.stderr


def test_kiosk_sync_loops_until_sigterm_and_picks_up_new_work(tmp_path: Path, etc: Path, journal: Journal) -> None:
    with IlsSimulator() as sim:
        host, port = sim.address
        (etc / "kiosk.toml").write_text(
            f'[sip2]\nhost = "{host}"\nport = {port}\n[journal]\npath = "{journal.path}"\npoll_seconds = 0.05\n'
        )
        process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "sync", "--config-dir", str(etc)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            tx = journal.queue_offline(Kind.CHECKOUT, patron_id=S.PATRON_CLEAN.id, item_id=S.ITEM_AVAILABLE,
                                       transaction_date=WHEN, nb_due_date=DUE)
            for _ in range(400):
                if journal.get(tx.id).state is State.REPLAYED:
                    break
                time.sleep(0.025)
            assert process.poll() is None  # still running: it waits for more work
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert journal.get(tx.id).state is State.REPLAYED
        assert out.strip() == "kiosk sync: replayed 1, rejected 0, settled in flight 0 (0 sent again, 0 unknown); " \
                              "0 left in the queue"
