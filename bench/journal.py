"""The journal's cost: durable writes against bare SQLite, and the replay rate against bare SIP2.

1. Write latency. Every circulation transaction waits for one journal write before its SIP2
   request goes out, so its latency is added to what the patron waits for. Measured, interleaved
   one by one in the same directory so load and disk affect both alike:

   * ours: ``Journal.queue_offline`` (offline transaction) and ``Journal.begin_online`` (intent
     of an online one): sqlite-utils, ``BEGIN IMMEDIATE``, WAL, ``synchronous=FULL``;
   * bare: ``INSERT`` of the same columns with the plain ``sqlite3`` module, WAL,
     ``synchronous=FULL``, autocommit (one fsync per insert, as ours).

2. Replay rate. ``kiosk sync`` forwarding N queued transactions to ``kiosk ils-sim`` (its own
   process, as a real ILS is) with 0 and 40 ms added to every answer, against the floor: the same
   requests sent by a bare ``SIP2Client`` loop with no journal at all. Also ``replay_batch = 1``
   (one fsync per transaction claimed), to show what marking a batch in flight with one write buys.

The queue cycles through the sample library's 28 free books (checkouts to one patron, then their
checkins, and again), so every request is a real loan or return at the simulated ILS.

    .venv/bin/python bench/journal.py [--writes 500] [--count 1000] [--slow-count 100] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from hardware_mocks.ils import scenarios as S
from kiosk.sync.journal import Journal, Kind
from kiosk.sync.replay import Replayer, ReplayOptions
from sip2.client import ClientConfig, SIP2Client
from sip2.dialects import get_dialect

PATRON = S.PATRON_CLEAN.id
BOOKS = S.AVAILABLE_BOOKS
WHEN = datetime.now().replace(microsecond=0) - timedelta(hours=1)
DUE = WHEN + timedelta(days=21)

BARE_SCHEMA = """
create table transactions (
    id integer primary key, seq integer not null, kind text not null, mode text not null,
    state text not null, patron_id text, item_id text not null, transaction_date text not null,
    nb_due_date text, return_date text, session_ref text, owner text, attempts integer not null default 0,
    created_at text not null, updated_at text not null
)
"""


# --- 1. write latency -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def write_latency(directory: Path, count: int) -> dict[str, list[float]]:
    journal = Journal.open(directory / "ours.sqlite")
    journal.own("kiosk")
    bare = sqlite3.connect(directory / "bare.sqlite", isolation_level=None)
    bare.execute("pragma journal_mode = wal")
    bare.execute("pragma synchronous = full")
    bare.execute(BARE_SCHEMA)

    def ours_offline(n: int) -> None:
        journal.queue_offline(Kind.CHECKOUT, patron_id=PATRON, item_id=BOOKS[n % len(BOOKS)], transaction_date=WHEN,
                              nb_due_date=DUE, session_ref=f"s{n}")

    def ours_online(n: int) -> None:
        journal.begin_online(Kind.CHECKOUT, patron_id=PATRON, item_id=BOOKS[n % len(BOOKS)], transaction_date=WHEN,
                             owner="kiosk", session_ref=f"s{n}")

    def bare_insert(n: int) -> None:
        now = datetime.now().isoformat(timespec="seconds")
        bare.execute(
            "insert into transactions (seq, kind, mode, state, patron_id, item_id, transaction_date, nb_due_date, "
            "session_ref, created_at, updated_at) values (?, 'checkout', 'offline', 'queued', ?, ?, ?, ?, ?, ?, ?)",
            (n + 1, PATRON, BOOKS[n % len(BOOKS)], WHEN.isoformat(), DUE.isoformat(), f"s{n}", now, now),
        )

    writers: dict[str, Callable[[int], None]] = {
        "ours: queue_offline": ours_offline, "ours: begin_online": ours_online, "bare sqlite3 insert": bare_insert,
    }
    times: dict[str, list[float]] = {name: [] for name in writers}
    for n in range(count + 20):
        for name, write in writers.items():
            start = time.perf_counter()
            write(n)
            if n >= 20:  # warm-up: page cache, WAL file growth
                times[name].append(time.perf_counter() - start)
    journal.close()
    bare.close()
    return times


# --- 2. replay rate ---------------------------------------------------------------------------------


def start_sim(latency: float) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "ils-sim", "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on [\d.]+:(\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the simulated ILS did not start: {line!r}")
    return proc, int(match.group(1))


def workload(count: int) -> list[tuple[Kind, str]]:
    """Checkouts of the free books, then their checkins, round after round."""
    steps: list[tuple[Kind, str]] = []
    while len(steps) < count:
        for kind in (Kind.CHECKOUT, Kind.CHECKIN):
            steps.extend((kind, book) for book in BOOKS)
    return steps[:count]


def client_for(port: int) -> SIP2Client:
    client = SIP2Client(ClientConfig(host="127.0.0.1", port=port, username="demo", heartbeat_interval=3600,
                                     timeout=30))
    client.connect()
    return client


def replay_rate(directory: Path, count: int, latency: float, batch: int) -> float:
    path = directory / f"replay-{count}-{latency}-{batch}-{time.monotonic_ns()}.sqlite"
    with Journal.open(path) as journal:
        journal.own("sync")
        for kind, item in workload(count):
            if kind is Kind.CHECKOUT:
                journal.queue_offline(kind, patron_id=PATRON, item_id=item, transaction_date=WHEN, nb_due_date=DUE)
            else:
                journal.queue_offline(kind, patron_id=None, item_id=item, transaction_date=WHEN)
        sim, port = start_sim(latency)
        client = client_for(port)
        try:
            replayer = Replayer(journal, client, get_dialect("generic"), ReplayOptions(batch=batch))
            start = time.perf_counter()
            stats = replayer.drain()
            elapsed = time.perf_counter() - start
        finally:
            client.close()
            sim.terminate()
            sim.wait(timeout=10)
        if (stats.replayed, stats.rejected, journal.backlog()) != (count, 0, 0):
            raise SystemExit(f"replay did not take everything: {stats.line()}, {journal.backlog()} left")
    return count / elapsed


def floor_rate(count: int, latency: float) -> float:
    sim, port = start_sim(latency)
    client = client_for(port)
    try:
        start = time.perf_counter()
        for kind, item in workload(count):
            if kind is Kind.CHECKOUT:
                ok = client.checkout(PATRON, item, no_block=True, transaction_date=WHEN, nb_due_date=DUE).ok
            else:
                ok = client.checkin(item, no_block=True, transaction_date=WHEN, return_date=WHEN).ok
            if not ok:
                raise SystemExit(f"the floor's {kind} of {item} was refused")
        elapsed = time.perf_counter() - start
    finally:
        client.close()
        sim.terminate()
        sim.wait(timeout=10)
    return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=500, help="durable writes per kind")
    parser.add_argument("--count", type=int, default=1000, help="transactions replayed at 0 ms")
    parser.add_argument("--slow-count", type=int, default=100, help="transactions replayed at 40 ms")
    parser.add_argument("--rounds", type=int, default=3, help="replay rounds at 0 ms (median reported)")
    parser.add_argument("--dir", default=None, help="directory for the SQLite files (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        fs = os.statvfs(directory)
        print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}, "
              f"sqlite {sqlite3.sqlite_version}, files in {directory} ({fs.f_bsize}-byte blocks)")

        times = write_latency(directory, args.writes)
        bare = times["bare sqlite3 insert"]
        print(f"\n1. durable write, {args.writes} each, interleaved (WAL, synchronous=FULL)")
        print(f"{'write':<24} {'p50 ms':>8} {'p99 ms':>8} {'p50 vs bare':>12} {'p99 vs bare':>12}")
        for name, values in times.items():
            p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
            print(f"{name:<24} {p50 * 1e3:>8.2f} {p99 * 1e3:>8.2f} {p50 / percentile(bare, 0.5):>12.2f} "
                  f"{p99 / percentile(bare, 0.99):>12.2f}")

        print(f"\n2. replay to kiosk ils-sim (own process), transactions per second, median of {args.rounds}")
        print(f"{'path':<44} {'0 ms: n':>8} {'per s':>8} {'vs floor':>9}")
        ours = [replay_rate(directory, args.count, 0.0, 32) for _ in range(args.rounds)]
        floor = [floor_rate(args.count, 0.0) for _ in range(args.rounds)]
        single = [replay_rate(directory, args.count, 0.0, 1) for _ in range(args.rounds)]
        f = statistics.median(floor)
        for label, values in (("floor: bare SIP2Client loop, no journal", floor),
                              ("ours: kiosk sync replay, replay_batch = 32", ours),
                              ("ours: replay_batch = 1 (fsync per claim)", single)):
            value = statistics.median(values)
            print(f"{label:<44} {args.count:>8} {value:>8.0f} {value / f:>9.2f}")

        print(f"\n{'path':<44} {'40 ms: n':>8} {'per s':>8} {'vs floor':>9}")
        slow_floor = floor_rate(args.slow_count, 0.04)
        slow_ours = replay_rate(directory, args.slow_count, 0.04, 32)
        print(f"{'floor: bare SIP2Client loop, no journal':<44} {args.slow_count:>8} {slow_floor:>8.1f} {1:>9.2f}")
        print(f"{'ours: kiosk sync replay, replay_batch = 32':<44} {args.slow_count:>8} {slow_ours:>8.1f} "
              f"{slow_ours / slow_floor:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
