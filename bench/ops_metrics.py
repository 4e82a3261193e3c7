"""What the operations parts cost the kiosk: the metrics observer on every runner step, and a scrape.

1. ``KioskMetrics.observe_step`` for a checkout (the step that sends it, then the step with its
   answer): the observer runs on the runner thread, so its cost is added to every step a patron
   waits for. Baseline: the least any metrics library must do for the same facts, one
   prometheus-client ``Counter.inc()`` and one ``Histogram.observe()`` with their label lookups.
2. One scrape of ``/metrics`` over HTTP with the offline queue read from a journal of ``--rows``
   transactions (a journal after a long outage). Baseline: the same HTTP server answering a static
   page of the same size, so the difference is the kiosk's own collecting (journal queries included).

Run: ``.venv/bin/python bench/ops_metrics.py [--steps N] [--scrapes N] [--rows N]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import CollectorRegistry, Counter, Histogram

from kiosk.circulation.commands import CheckOut
from kiosk.circulation.events import LoanAnswered
from kiosk.circulation.model import LoanAnswer
from kiosk.circulation.station import KioskState
from kiosk.ops.metrics import KioskMetrics
from kiosk.ops.server import OpsServer
from kiosk.sync.journal import Journal, Kind


def observer_cost(steps: int) -> tuple[float, float]:
    metrics = KioskMetrics(process=False)
    state = KioskState()
    commands = [(CheckOut(f"c{i}", "21234000000018", "31234000000016", None),) for i in range(steps)]
    answers = [LoanAnswered(f"c{i}", LoanAnswer("31234000000016", ok=True)) for i in range(steps)]
    start = time.perf_counter()
    for command, answer in zip(commands, answers, strict=True):
        metrics.observe_step(answer, state, command)  # the answer of an older one, the new command
    ours = (time.perf_counter() - start) / steps

    registry = CollectorRegistry()
    counter = Counter("c", "c", ["type", "result"], registry=registry)
    histogram = Histogram("h", "h", ["type"], registry=registry)
    start = time.perf_counter()
    for i in range(steps):
        counter.labels("checkout", "ok").inc()
        histogram.labels("checkout").observe(i * 1e-6)
    baseline = (time.perf_counter() - start) / steps
    return ours, baseline


def scrape_cost(scrapes: int, rows: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as directory:
        journal = Journal.open(Path(directory) / "journal.sqlite")
        when = datetime.now().replace(microsecond=0) - timedelta(hours=5)
        for i in range(rows):
            journal.queue_offline(Kind.CHECKIN, patron_id=None, item_id=f"3123400{i:07d}", transaction_date=when)
        metrics = KioskMetrics(journal=journal, process=False)
        with OpsServer("127.0.0.1:0", metrics) as server:
            url = "http://{}:{}/metrics".format(*server.address)
            page = urllib.request.urlopen(url).read()
            start = time.perf_counter()
            for _ in range(scrapes):
                urllib.request.urlopen(url).read()
            ours = (time.perf_counter() - start) / scrapes
        journal.close()

    static = CollectorRegistry()  # the same server class answering a page it does not collect
    static_metrics = KioskMetrics(process=False)
    static_metrics.registry = static
    from kiosk.ops import server as server_module

    original = server_module.make_wsgi_app
    server_module.make_wsgi_app = lambda registry: (lambda environ, start: (start("200 OK", []), [page])[1])
    try:
        with OpsServer("127.0.0.1:0", static_metrics) as server:
            url = "http://{}:{}/metrics".format(*server.address)
            start = time.perf_counter()
            for _ in range(scrapes):
                urllib.request.urlopen(url).read()
            baseline = (time.perf_counter() - start) / scrapes
    finally:
        server_module.make_wsgi_app = original
    return ours, baseline, len(page)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    ours, baseline = observer_cost(args.steps)
    print(f"observe_step (checkout + answer): {ours * 1e6:.1f} µs per step; bare prometheus-client "
          f"inc+observe {baseline * 1e6:.1f} µs; ratio {ours / baseline:.1f}x")
    ours, baseline, size = scrape_cost(args.scrapes, args.rows)
    print(f"/metrics scrape, journal of {args.rows} queued: {ours * 1e3:.2f} ms ({size} bytes); static page "
          f"of the same size from the same server {baseline * 1e3:.2f} ms; ratio {ours / baseline:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
