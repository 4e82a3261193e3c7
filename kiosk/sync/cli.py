"""``kiosk sync`` (the replay process) and ``kiosk queue`` (staff's view of the journal).

Wired into the ``kiosk`` command by kiosk/cli.py. Exit codes: 0 done; 1 the ILS or the journal
failed, or the transaction asked for cannot change that way; 2 configuration problem or another
``kiosk sync`` already running on the same journal.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING

from kiosk.sync.journal import OPEN, Journal, JournalError
from kiosk.sync.report import list_lines, report_csv, report_sections, report_text

if TYPE_CHECKING:
    from kiosk.config import Settings

def _settings(args: argparse.Namespace) -> Settings | None:
    from kiosk.config import ConfigError, load_settings

    try:
        return load_settings(args.config_dir, args.secrets)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return None


def _open(path: str, busy_timeout: float = 5.0) -> Journal | None:
    try:
        return Journal.open(path, busy_timeout=busy_timeout)
    except JournalError as error:
        print(error, file=sys.stderr)
        return None


# -- kiosk sync ----------------------------------------------------------------------------------


def run_sync(args: argparse.Namespace) -> int:
    from kiosk.ils.connection import client_config, dialect
    from kiosk.ops.logging import setup_logging
    from kiosk.ops.watchdog import Watchdog
    from kiosk.sync.replay import SYNC_OWNER, LoopTiming, Replayer, ReplayOptions, run
    from sip2.client import SIP2Client

    settings = _settings(args)
    if settings is None:
        return 2
    setup_logging(settings.logging)
    js = settings.journal
    path = args.journal or js.path
    journal = _open(path, js.busy_timeout_seconds)
    if journal is None:
        return 1
    if not journal.own(SYNC_OWNER):
        print(f"kiosk sync: another kiosk sync is already replaying {journal.path}", file=sys.stderr)
        journal.close()
        return 2
    # systemd (Type=notify, WatchdogSec=): ready once the journal is ours; the loop keeps pinging.
    watchdog = Watchdog.from_environment()
    watchdog.notifier.ready(f"replaying {journal.path}")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    client = SIP2Client(client_config(settings))
    replayer = Replayer(
        journal, client, dialect(settings),
        ReplayOptions(owner=SYNC_OWNER, batch=js.replay_batch, lost_answer_wait=js.lost_answer_wait_seconds),
        stop=stop,
    )
    timing = LoopTiming(retry_min=js.retry_min_seconds, retry_max=js.retry_max_seconds, poll=js.poll_seconds)
    try:
        code = run(replayer, once=args.once, stop=stop, retention_days=js.retention_days, timing=timing,
                   alive=watchdog.feed, wait=watchdog.wait)
        left = journal.backlog()
        print(f"kiosk sync: {replayer.stats.line()}; {left} left in the queue")
        return code
    finally:
        watchdog.notifier.stopping(f"{replayer.stats.line()}")
        client.close()
        journal.close()  # drops the owner lock


# -- kiosk queue ---------------------------------------------------------------------------------


def _queue_journal(args: argparse.Namespace) -> Journal | None:
    if args.journal:
        return _open(args.journal)
    settings = _settings(args)
    if settings is None:
        return None
    return _open(settings.journal.path, settings.journal.busy_timeout_seconds)


def run_queue(args: argparse.Namespace) -> int:
    journal = _queue_journal(args)
    if journal is None:
        return 2
    try:
        return _queue_command(journal, args)
    except JournalError as error:  # JournalStateError included: no such id, or not in that state
        print(f"kiosk queue: {error}", file=sys.stderr)
        return 1
    finally:
        journal.close()


def _queue_command(journal: Journal, args: argparse.Namespace) -> int:
    command = args.queue_command
    if command == "list":
        rows = journal.transactions(None if args.all else OPEN, limit=args.limit)
        if not rows:
            print("nothing in the queue" if not args.all else "the journal is empty")
            return 0
        print("\n".join(list_lines(rows)))
        return 0
    if command == "report":
        sections = report_sections(journal)
        sys.stdout.write(report_csv(sections) if args.csv else report_text(sections))
        return 0
    if command == "retry":
        row = journal.retry(args.id)
        ahead = journal.backlog() - 1
        print(f"transaction {row.id} is queued again ({ahead} ahead of it); kiosk sync replays it")
        return 0
    if command == "resolve":
        row = journal.resolve(args.id, args.note)
        print(f"transaction {row.id} resolved: {row.note}")
        return 0
    raise AssertionError(f"unknown queue command {command!r}")  # argparse only offers the four
